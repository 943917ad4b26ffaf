#include "controller/store/copy.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <stdexcept>

namespace vnet::store {

const std::vector<std::string>& schema_tables() {
  static const std::vector<std::string> tables = {"tenants",
                                                  "tokens",
                                                  "logical_networks",
                                                  "sites",
                                                  "mac_pools",
                                                  "port_profiles",
                                                  "vm_networks",
                                                  "vm_subnets",
                                                  "ip_pools",
                                                  "hosts",
                                                  "vm_nics",
                                                  "gateways",
                                                  "routes",
                                                  "static_records",
                                                  "ip_allocations",
                                                  "mac_allocations",
                                                  "host_policies",
                                                  "enrollment_tokens",
                                                  "host_certificates",
                                                  "tenant_usage",
                                                  "change_log",
                                                  "secrets"};
  return tables;
}

namespace {
const std::string& known_table(const std::string& table) {
  const auto& all = schema_tables();
  if (std::find(all.begin(), all.end(), table) == all.end())
    throw std::logic_error(fmt::format("{} is not a table of the schema", table));
  return table;
}
}  // namespace

int64_t row_count(Database& db, const std::string& table) {
  auto s = db.prepare(fmt::format("SELECT COUNT(*) FROM {}", known_table(table)));
  s.step();
  return s.column_int(0);
}

void delete_rows(Database& db, const std::string& table) {
  db.exec(fmt::format("DELETE FROM {}", known_table(table)));
}

std::vector<std::pair<std::string, int64_t>> copy_rows(
    Database& from, Database& to, const std::vector<std::string>& tables,
    const std::function<void(const std::string&, int64_t)>& progress) {
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& table : tables) {
    // Creation order where the table has one (object tables' rowid); the
    // allocation tables have none (WITHOUT ROWID).
    std::optional<Statement> rows;
    bool have = false;
    try {
      rows.emplace(from.prepare(fmt::format("SELECT * FROM {} ORDER BY rowid", table)));
      have = rows->step();
    } catch (const StoreError&) {
      rows.emplace(from.prepare(fmt::format("SELECT * FROM {}", table)));
      have = rows->step();
    }
    // Named columns: one the target has beyond them takes its default.
    std::string names, marks;
    for (int i = 0; i < rows->column_count(); ++i) {
      names += (i == 0 ? "" : ", ") + rows->column_name(i);
      marks += i == 0 ? "?" : ", ?";
    }
    int64_t copied = 0;
    if (have) {
      auto insert = to.prepare(fmt::format("INSERT INTO {} ({}) VALUES ({})", table, names, marks));
      for (; have; have = rows->step()) {
        insert.reset();
        for (int i = 0; i < rows->column_count(); ++i) {
          if (rows->column_is_null(i)) {
            insert.bind_null(i + 1);
          } else {
            insert.bind(i + 1, rows->column_text(i));
          }
        }
        insert.run();
        ++copied;
      }
    }
    out.emplace_back(table, copied);
    if (progress) progress(table, copied);
  }
  return out;
}

}  // namespace vnet::store

#include "controller/store/objects.h"

#include <fmt/format.h>

#include <stdexcept>

namespace vnet::store {
namespace {

ObjectRow read_row(Statement& s) {
  return {.rowid = s.column_int(0),
          .id = s.column_text(1),
          .tenant_id = s.column_is_null(2) ? std::string() : s.column_text(2),
          .etag = s.column_text(3),
          .body = s.column_text(4)};
}

std::string identifier(std::string_view name) { return require_identifier(std::string(name)); }

}  // namespace

const std::string& require_identifier(const std::string& name) {
  bool ok = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
  for (char c : name) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  if (!ok) throw std::logic_error(fmt::format("\"{}\" is not a table or column name", name));
  return name;
}

void bind_value(Statement& s, int index, const Value& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) {
    s.bind(index, *i);
  } else if (const auto* t = std::get_if<std::string>(&v)) {
    s.bind(index, std::string_view(*t));
  } else {
    s.bind_null(index);
  }
}

Objects::Objects(Database& db, std::string_view table, bool tenant_owned)
    : db_(db), table_(identifier(table)), tenant_owned_(tenant_owned) {}

std::string Objects::select() const {
  return fmt::format("SELECT rowid, id, {}, etag, body FROM {}",
                     tenant_owned_ ? "tenant_id" : "NULL", table_);
}

std::optional<ObjectRow> Objects::get(std::string_view id) {
  auto s = db_.prepare(select() + " WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_row(s);
}

void Objects::insert(const ObjectRow& row, const Columns& columns) {
  std::string names = "id, etag, body";
  std::string marks = "?, ?, ?";
  for (const auto& [name, _] : columns) {
    names += ", " + require_identifier(name);
    marks += ", ?";
  }
  auto s = db_.prepare(fmt::format("INSERT INTO {} ({}) VALUES ({})", table_, names, marks));
  s.bind(1, row.id).bind(2, row.etag).bind(3, row.body);
  int i = 4;
  for (const auto& [_, value] : columns) bind_value(s, i++, value);
  s.run();
}

void Objects::update(const ObjectRow& row, const Columns& columns) {
  std::string sets = "etag = ?, body = ?";
  for (const auto& [name, _] : columns) sets += ", " + require_identifier(name) + " = ?";
  auto s = db_.prepare(fmt::format("UPDATE {} SET {} WHERE id = ?", table_, sets));
  s.bind(1, row.etag).bind(2, row.body);
  int i = 3;
  for (const auto& [_, value] : columns) bind_value(s, i++, value);
  s.bind(i, row.id);
  s.run();
}

void Objects::remove(std::string_view id) {
  db_.prepare(fmt::format("DELETE FROM {} WHERE id = ?", table_)).bind(1, id).run();
}

std::vector<ObjectRow> Objects::where(const Match& match) {
  std::string sql = select() + " WHERE 1 = 1";
  if (!match.column.empty()) sql += " AND " + require_identifier(match.column) + " = ?";
  if (!match.except_id.empty()) sql += " AND id <> ?";
  sql += " ORDER BY rowid";
  if (match.limit > 0) sql += fmt::format(" LIMIT {}", match.limit);
  auto s = db_.prepare(sql);
  int i = 1;
  if (!match.column.empty()) bind_value(s, i++, match.value);
  if (!match.except_id.empty()) s.bind(i++, match.except_id);
  std::vector<ObjectRow> out;
  while (s.step()) out.push_back(read_row(s));
  return out;
}

int64_t Objects::count() {
  auto s = db_.prepare(fmt::format("SELECT COUNT(*) FROM {}", table_));
  s.step();
  return s.column_int(0);
}

std::map<std::string, int64_t> Objects::count_by(std::string_view column) {
  const std::string c = identifier(column);
  auto s = db_.prepare(
      fmt::format("SELECT {0}, COUNT(*) FROM {1} WHERE {0} IS NOT NULL GROUP BY {0}", c, table_));
  std::map<std::string, int64_t> out;
  while (s.step()) out[s.column_text(0)] = s.column_int(1);
  return out;
}

std::vector<std::string> Objects::distinct(std::string_view column, std::string_view where_column,
                                           const Value& value) {
  auto s = db_.prepare(
      fmt::format("SELECT DISTINCT {0} FROM {1} WHERE {2} = ? AND {0} IS NOT NULL ORDER BY 1",
                  identifier(column), table_, identifier(where_column)));
  bind_value(s, 1, value);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.column_text(0));
  return out;
}

void Objects::scan(const Scan& scan, const std::function<bool(ObjectRow&&)>& visit) {
  std::string sql = select() + " WHERE 1 = 1";
  if (scan.after) sql += scan.descending ? " AND rowid < ?" : " AND rowid > ?";
  for (const auto& [column, _] : scan.equal) sql += " AND " + require_identifier(column) + " = ?";
  sql += scan.descending ? " ORDER BY rowid DESC" : " ORDER BY rowid";
  auto s = db_.prepare(sql);
  int i = 1;
  if (scan.after) s.bind(i++, *scan.after);
  for (const auto& [_, value] : scan.equal) bind_value(s, i++, value);
  while (s.step()) {
    if (!visit(read_row(s))) return;
  }
}

}  // namespace vnet::store

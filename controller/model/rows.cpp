#include "controller/model/rows.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "shared/util/uuid.h"

namespace vnet::model {
namespace {

using nlohmann::json;

// Columns besides id, etag and body: tenant_id, the fields marked column,
// the values the database must keep unique, and the semantics' extras.
store::Columns columns(const Kind& kind, const Row& row) {
  store::Columns out;
  auto value = [](const json& v) -> store::Value {
    if (v.is_null()) return std::monostate{};
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
  };
  if (kind.tenant_owned)
    out.emplace_back("tenant_id", row.tenant_id.empty() ? store::Value() : row.tenant_id);
  for (const auto& f : kind.fields) {
    if (f.column || f.unique_column)
      out.emplace_back(f.name, value(row.fields.value(f.name, json())));
  }
  for (const auto& [name, v] : row.extra_columns) out.emplace_back(name, v);
  return out;
}

store::ObjectRow stored(const Row& row) {
  return {.rowid = 0,
          .id = row.id,
          .tenant_id = row.tenant_id,
          .etag = row.etag,
          .body = row.fields.dump()};
}

}  // namespace

store::Objects objects(store::Database& db, const Kind& kind) {
  return store::Objects(db, kind.table, kind.tenant_owned);
}

Row to_row(store::ObjectRow&& stored) {
  Row row;
  row.id = std::move(stored.id);
  row.tenant_id = std::move(stored.tenant_id);
  row.etag = std::move(stored.etag);
  row.fields = json::parse(stored.body);
  return row;
}

std::optional<Row> load_row(store::Database& db, const Kind& kind, const std::string& id) {
  auto found = objects(db, kind).get(id);
  if (!found) return std::nullopt;
  return to_row(std::move(*found));
}

void insert_row(store::Database& db, const Kind& kind, const Row& row) {
  objects(db, kind).insert(stored(row), columns(kind, row));
}

void update_row(store::Database& db, const Kind& kind, const Row& row) {
  objects(db, kind).update(stored(row), columns(kind, row));
}

void delete_row(store::Database& db, const Kind& kind, const std::string& id) {
  objects(db, kind).remove(id);
}

std::vector<Row> rows_where(store::Database& db, const Kind& kind, store::Objects::Match match) {
  std::vector<Row> out;
  for (auto& r : objects(db, kind).where(match)) out.push_back(to_row(std::move(r)));
  return out;
}

bool visible_to(const Principal& who, const Kind& kind, const Row& row) {
  if (who.is_admin()) return true;
  return kind.tenant_owned && !row.tenant_id.empty() && row.tenant_id == who.tenant_id;
}

std::string new_uuid() {
  Uuid::Bytes random;
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    throw std::runtime_error("OpenSSL's RAND_bytes failed");
  }
  return Uuid::v4_from_random(random).to_string();
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

std::string new_etag() {
  uint8_t random[8];
  if (RAND_bytes(random, sizeof random) != 1)
    throw std::runtime_error("OpenSSL's RAND_bytes failed");
  std::string out;
  for (uint8_t b : random) out += fmt::format("{:02x}", b);
  return out;
}

}  // namespace vnet::model

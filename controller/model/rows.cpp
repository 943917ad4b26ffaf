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
std::vector<std::pair<std::string, json>> columns(const Kind& kind, const Row& row) {
  std::vector<std::pair<std::string, json>> out;
  if (kind.tenant_owned)
    out.emplace_back("tenant_id", row.tenant_id.empty() ? json() : json(row.tenant_id));
  for (const auto& f : kind.fields) {
    if (f.column) out.emplace_back(f.name, row.fields.value(f.name, json()));
  }
  if (kind.collection == "vm-networks") out.emplace_back("rdid", row.fields.at("rdid"));
  if (kind.collection == "vm-subnets") out.emplace_back("vsid", row.fields.at("vsid"));
  for (const auto& [name, value] : row.extra_columns) out.emplace_back(name, value);
  return out;
}

void bind_json(store::Statement& s, int index, const json& v) {
  if (v.is_null()) {
    s.bind_null(index);
  } else if (v.is_number_integer()) {
    s.bind(index, v.get<int64_t>());
  } else if (v.is_string()) {
    s.bind(index, std::string_view(v.get_ref<const std::string&>()));
  } else {
    s.bind(index, std::string_view(v.dump()));
  }
}

}  // namespace

std::optional<Row> load_row(store::Database& db, const Kind& kind, const std::string& id) {
  auto s = db.prepare(fmt::format("SELECT id, {}, etag, body FROM {} WHERE id = ?",
                                  kind.tenant_owned ? "tenant_id" : "''", kind.table));
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  Row row;
  row.id = s.column_text(0);
  row.tenant_id = s.column_text(1);
  row.etag = s.column_text(2);
  row.fields = json::parse(s.column_text(3));
  return row;
}

void insert_row(store::Database& db, const Kind& kind, const Row& row) {
  const auto cols = columns(kind, row);
  std::string names = "id, etag, body";
  std::string marks = "?, ?, ?";
  for (const auto& [name, _] : cols) {
    names += ", " + name;
    marks += ", ?";
  }
  auto s = db.prepare(fmt::format("INSERT INTO {} ({}) VALUES ({})", kind.table, names, marks));
  s.bind(1, row.id).bind(2, row.etag).bind(3, row.fields.dump());
  int i = 4;
  for (const auto& [_, value] : cols) bind_json(s, i++, value);
  s.run();
}

void update_row(store::Database& db, const Kind& kind, const Row& row) {
  const auto cols = columns(kind, row);
  std::string sets = "etag = ?, body = ?";
  for (const auto& [name, _] : cols) sets += ", " + name + " = ?";
  auto s = db.prepare(fmt::format("UPDATE {} SET {} WHERE id = ?", kind.table, sets));
  s.bind(1, row.etag).bind(2, row.fields.dump());
  int i = 3;
  for (const auto& [_, value] : cols) bind_json(s, i++, value);
  s.bind(i, row.id);
  s.run();
}

void delete_row(store::Database& db, const Kind& kind, const std::string& id) {
  db.prepare(fmt::format("DELETE FROM {} WHERE id = ?", kind.table)).bind(1, id).run();
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

#include "controller/store/allocations.h"

#include <fmt/format.h>

#include <stdexcept>

namespace vnet::store {

void Allocations::Taken::operator()(uint64_t first, uint64_t last,
                                    const std::function<bool(uint64_t)>& visit) {
  s_.reset();
  s_.bind(1, scope_).bind(2, static_cast<int64_t>(first)).bind(3, static_cast<int64_t>(last));
  while (s_.step() && visit(static_cast<uint64_t>(s_.column_int(0)))) {
  }
}

Allocations::Taken Allocations::taken(Space space, std::string scope) {
  const char* sql = nullptr;
  switch (space) {
    case Space::kAddresses:
      sql =
          "SELECT address FROM ip_allocations WHERE scope = ?1 AND address BETWEEN ?2 AND ?3 "
          "ORDER BY address";
      break;
    case Space::kMacs:
      sql =
          "SELECT mac FROM mac_allocations WHERE scope = ?1 AND mac BETWEEN ?2 AND ?3 ORDER BY mac";
      break;
    case Space::kVsids:
      // ?1 = ?1 keeps the scope parameter: VSIDs are global.
      sql = "SELECT vsid FROM vm_subnets WHERE ?1 = ?1 AND vsid BETWEEN ?2 AND ?3 ORDER BY vsid";
      break;
  }
  return Taken(db_.prepare(sql), std::move(scope));
}

std::optional<std::string> Allocations::address_owner(std::string_view scope, uint32_t address) {
  auto s = db_.prepare("SELECT owner_id FROM ip_allocations WHERE scope = ? AND address = ?");
  s.bind(1, scope).bind(2, int64_t{address});
  if (!s.step()) return std::nullopt;
  return s.column_text(0);
}

void Allocations::take_address(std::string_view scope, uint32_t address, std::string_view pool_id,
                               std::string_view owner) {
  auto s = db_.prepare(
      "INSERT INTO ip_allocations (scope, address, pool_id, owner_id) VALUES (?, ?, ?, ?)");
  s.bind(1, scope).bind(2, int64_t{address});
  if (pool_id.empty()) {
    s.bind_null(3);
  } else {
    s.bind(3, pool_id);
  }
  s.bind(4, owner).run();
}

std::vector<std::pair<uint32_t, std::string>> Allocations::addresses_of_pool(
    std::string_view pool_id, size_t limit) {
  std::string sql =
      "SELECT address, owner_id FROM ip_allocations WHERE pool_id = ? ORDER BY address";
  if (limit > 0) sql += fmt::format(" LIMIT {}", limit);
  auto s = db_.prepare(sql);
  s.bind(1, pool_id);
  std::vector<std::pair<uint32_t, std::string>> out;
  while (s.step()) out.emplace_back(static_cast<uint32_t>(s.column_int(0)), s.column_text(1));
  return out;
}

void Allocations::free_addresses(std::string_view owner, std::string_view scope_prefix) {
  if (scope_prefix.empty()) {
    db_.prepare("DELETE FROM ip_allocations WHERE owner_id = ?").bind(1, owner).run();
    return;
  }
  if (scope_prefix.find_first_of("%_\\") != std::string_view::npos)
    throw std::logic_error("a scope prefix is plain text");
  db_.prepare("DELETE FROM ip_allocations WHERE owner_id = ? AND scope LIKE ?")
      .bind(1, owner)
      .bind(2, std::string(scope_prefix) + "%")
      .run();
}

std::optional<std::string> Allocations::mac_owner(std::string_view scope, uint64_t mac) {
  auto s = db_.prepare("SELECT owner_id FROM mac_allocations WHERE scope = ? AND mac = ?");
  s.bind(1, scope).bind(2, static_cast<int64_t>(mac));
  if (!s.step()) return std::nullopt;
  return s.column_text(0);
}

void Allocations::take_mac(std::string_view scope, uint64_t mac, std::string_view owner) {
  db_.prepare("INSERT INTO mac_allocations (scope, mac, owner_id) VALUES (?, ?, ?)")
      .bind(1, scope)
      .bind(2, static_cast<int64_t>(mac))
      .bind(3, owner)
      .run();
}

std::vector<std::string> Allocations::mac_owners(std::string_view scope, size_t limit) {
  auto s = db_.prepare(fmt::format(
      "SELECT owner_id FROM mac_allocations WHERE scope = ? ORDER BY mac LIMIT {}", limit));
  s.bind(1, scope);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.column_text(0));
  return out;
}

void Allocations::free_macs(std::string_view owner) {
  db_.prepare("DELETE FROM mac_allocations WHERE owner_id = ?").bind(1, owner).run();
}

std::optional<std::string> Allocations::vsid_holder(int64_t vsid) {
  auto s = db_.prepare("SELECT id FROM vm_subnets WHERE vsid = ?");
  s.bind(1, vsid);
  if (!s.step()) return std::nullopt;
  return s.column_text(0);
}

}  // namespace vnet::store

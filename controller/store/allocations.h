// What the model hands out and the database keeps unique: IPv4 addresses
// (ip_allocations, unique per scope: a VM subnet, or a logical network for
// provider and external addresses), MAC addresses (mac_allocations, unique
// per MAC pool) and VSIDs (the vm_subnets.vsid column). Used inside the
// write transaction, so a value read free is still free when it is taken.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/store/database.h"

namespace vnet::store {

class Allocations {
 public:
  explicit Allocations(Database& db) : db_(db) {}

  enum class Space { kAddresses, kMacs, kVsids };

  // Streams the values of `space` taken in `scope` (ignored for VSIDs, which
  // are global), as alloc::first_free reads them: taken(first, last, visit)
  // calls visit(v) for the taken values in [first, last], ascending, until
  // visit returns false. One prepared statement, run again per call.
  class Taken {
   public:
    void operator()(uint64_t first, uint64_t last, const std::function<bool(uint64_t)>& visit);

   private:
    friend class Allocations;
    Taken(Statement s, std::string scope) : s_(std::move(s)), scope_(std::move(scope)) {}
    Statement s_;
    std::string scope_;
  };
  Taken taken(Space space, std::string scope);

  // Addresses.
  std::optional<std::string> address_owner(std::string_view scope, uint32_t address);
  // `pool_id` empty: an address given outside any pool.
  void take_address(std::string_view scope, uint32_t address, std::string_view pool_id,
                    std::string_view owner);
  // What `pool_id` has handed out: (address, owner), at most `limit` (0: all).
  std::vector<std::pair<uint32_t, std::string>> addresses_of_pool(std::string_view pool_id,
                                                                  size_t limit = 0);
  // Frees the owner's addresses whose scope starts with `scope_prefix` ("ln:"
  // for provider addresses; empty: all of them).
  void free_addresses(std::string_view owner, std::string_view scope_prefix = "");

  // MACs (scope: the MAC pool's id, or "given").
  std::optional<std::string> mac_owner(std::string_view scope, uint64_t mac);
  void take_mac(std::string_view scope, uint64_t mac, std::string_view owner);
  // Owners of MACs taken from `scope`, at most `limit`.
  std::vector<std::string> mac_owners(std::string_view scope, size_t limit);
  void free_macs(std::string_view owner);

  // The VM subnet holding `vsid`, if any.
  std::optional<std::string> vsid_holder(int64_t vsid);

 private:
  Database& db_;
};

}  // namespace vnet::store

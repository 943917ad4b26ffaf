// The part of the network model the policy compiler reads, held in memory
// with the indexes that answer "which hosts does this object concern?".
// Loaded once from the store, then kept current by applying each committed
// change (Service's change feed) in commit order. Not thread-safe: the
// policy engine's thread owns it.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/model/change.h"
#include "controller/model/types.h"
#include "shared/net/ip.h"
#include "shared/net/ipv4.h"
#include "shared/net/mac.h"
#include "shared/net/vsid.h"
#include "shared/policy/host_policy.h"
#include "shared/util/uuid.h"

namespace vnet::store {
class Database;
}

namespace vnet::compiler {

using Id = model::Id;  // the model's UUID text
using IdSet = std::set<Id>;

// The kinds' own structs (controller/model/types.h): the compiler reads
// what the store holds, decoded once, with nothing of its own added but a
// NIC's VM network.
using model::Gateway;
using model::Host;
using model::IpPool;
using model::LogicalNetwork;
using model::PortProfile;
using model::Route;
using model::Site;
using model::VmNetwork;
using model::VmSubnet;
struct VmNic : model::VmNic {
  Id vm_network_id;  // the subnet's, kept for the indexes
};
struct StaticRecord : model::StaticRecord {
  Id vm_network_id;  // its subnet's
};

using Change = model::Change;

class Model {
 public:
  // Reads every object the compiler needs (one read transaction).
  static Model load(store::Database& db);

  // The change log's sequence the model reflects (load: the last in the
  // same snapshot; the engine moves it with each change it applies).
  int64_t log_position = 0;

  // Applies one change. Collections the compiler does not read are ignored.
  void apply(const Change& change);

  // The hosts whose policy may depend on the object, in the current state.
  // The engine asks before and after applying a change and recompiles the
  // union. `all` is set when the object concerns every host.
  IdSet hosts_touched_by(const std::string& collection, const Id& id) const;
  // The VM networks whose fragment (records and routes) may depend on the
  // object, in the current state; asked before and after a change too.
  IdSet networks_touched_by(const std::string& collection, const Id& id) const;
  // The hosts with a NIC or a gateway of the VM network.
  IdSet hosts_of_network(const Id& vm_network_id) const;
  // The VM networks with a NIC or gateway on the host.
  IdSet networks_on_host(const Id& host_id) const;

  std::unordered_map<Id, LogicalNetwork> logical_networks;
  std::unordered_map<Id, Site> sites;
  std::unordered_map<Id, IpPool> ip_pools;
  std::unordered_map<Id, Host> hosts;
  std::unordered_map<Id, VmNetwork> vm_networks;
  std::unordered_map<Id, VmSubnet> vm_subnets;
  std::unordered_map<Id, VmNic> vm_nics;
  std::unordered_map<Id, Gateway> gateways;
  std::unordered_map<Id, Route> routes;
  std::unordered_map<Id, PortProfile> port_profiles;
  std::unordered_map<Id, StaticRecord> static_records;

  // Indexes, maintained by apply().
  std::unordered_map<Id, IdSet> subnets_by_network;
  std::unordered_map<Id, IdSet> nics_by_network;
  std::unordered_map<Id, IdSet> nics_by_host;
  std::unordered_map<Id, IdSet> gateways_by_network;
  std::unordered_map<Id, IdSet> gateways_by_host;
  std::unordered_map<Id, IdSet> gateways_by_pool;
  std::unordered_map<Id, IdSet> routes_by_network;
  std::unordered_map<Id, IdSet> nics_by_profile;
  std::unordered_map<Id, IdSet> static_records_by_network;
  std::unordered_map<Id, IdSet> pools_by_subnet;
  std::unordered_map<Id, IdSet> pools_by_site;
  std::unordered_map<Id, IdSet> hosts_by_site;
  std::unordered_map<Id, IdSet> sites_by_logical_network;
  // Placed NICs and gateways per (VM network, host), both ways: which hosts
  // a network is on and which networks a host has, without walking every
  // NIC of the network (a write asks, under the store's write lock).
  std::unordered_map<Id, std::map<Id, int>> hosts_by_network;
  std::unordered_map<Id, std::map<Id, int>> networks_by_host;

 private:
  // One per collection the compiler reads (model.cpp): its parsing,
  // indexes and what a change to it concerns.
  struct Reader;
  void count_placement(const Id& network, const Id& host, bool add);
};

}  // namespace vnet::compiler

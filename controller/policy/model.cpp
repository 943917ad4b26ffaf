#include "controller/policy/model.h"

#include <fmt/format.h>

#include <algorithm>

#include "controller/store/database.h"
#include "controller/store/objects.h"
#include "controller/store/records.h"

namespace vnet::compiler {
namespace {

using nlohmann::json;

// The store validated everything it holds, so a parse failure here is a
// corrupt database: say which value.
net::Ipv4Address ipv4(const json& j) {
  auto a = net::Ipv4Address::parse(j.get<std::string>());
  if (!a) throw std::runtime_error(fmt::format("stored address {} is invalid", j.dump()));
  return *a;
}
std::optional<net::Ipv4Address> optional_ipv4(const json& f, const char* name) {
  const auto it = f.find(name);
  if (it == f.end() || it->is_null()) return std::nullopt;
  return ipv4(*it);
}
net::IpPrefix prefix(const json& j) {
  auto p = net::IpPrefix::parse(j.get<std::string>());
  if (!p) throw std::runtime_error(fmt::format("stored prefix {} is invalid", j.dump()));
  return *p;
}
std::vector<net::Ipv4Address> ipv4_list(const json& f, const char* name) {
  std::vector<net::Ipv4Address> out;
  if (const auto it = f.find(name); it != f.end())
    for (const auto& a : *it) out.push_back(ipv4(a));
  return out;
}
std::string text(const json& f, const char* name) {
  const auto it = f.find(name);
  return it == f.end() || !it->is_string() ? std::string() : it->get<std::string>();
}

template <class Map>
void set_or_erase(Map& map, const Id& id, const std::optional<typename Map::mapped_type>& value) {
  if (value) {
    map[id] = *value;
  } else {
    map.erase(id);
  }
}

void link(std::unordered_map<Id, IdSet>& index, const Id& key, const Id& id, bool add) {
  if (key.empty()) return;
  if (add) {
    index[key].insert(id);
  } else if (auto it = index.find(key); it != index.end()) {
    it->second.erase(id);
    if (it->second.empty()) index.erase(it);
  }
}

constexpr const char* kCollections[] = {
    "logical-networks", "sites",   "ip-pools", "hosts", "vm-networks",
    "vm-subnets",       "vm-nics", "gateways", "routes"};

std::string table_of(std::string_view collection) {
  std::string t(collection);
  std::replace(t.begin(), t.end(), '-', '_');
  return t;
}

}  // namespace

Model Model::load(store::Database& db) {
  Model model;
  // One read transaction, so every table is read from the same snapshot.
  const store::ReadTransaction snapshot(db);
  model.log_position = store::ChangeLog(db).last();
  // Parents before children: a NIC's network comes from its subnet.
  for (const char* collection : kCollections) {
    store::Objects objects(db, table_of(collection), false);
    objects.scan({}, [&](store::ObjectRow&& row) {
      model.apply({collection, std::move(row.id), json::parse(row.body)});
      return true;
    });
  }
  return model;
}

void Model::apply(const Change& change) {
  log_position = std::max(log_position, change.log_seq);
  const std::string& c = change.collection;
  const Id& id = change.id;
  if (std::find(std::begin(kCollections), std::end(kCollections), c) == std::end(kCollections))
    return;
  index(c, id, false);
  if (!change.fields) {
    logical_networks.erase(id);
    sites.erase(id);
    ip_pools.erase(id);
    hosts.erase(id);
    vm_networks.erase(id);
    vm_subnets.erase(id);
    vm_nics.erase(id);
    gateways.erase(id);
    routes.erase(id);
    return;
  }
  const json& f = *change.fields;
  if (c == "logical-networks") {
    logical_networks[id] = {f.value("flow_entropy", false)};
  } else if (c == "sites") {
    Site s{text(f, "logical_network_id"), {}};
    for (const auto& subnet : f.at("subnets")) s.subnets.push_back(prefix(subnet.at("prefix")));
    sites[id] = std::move(s);
  } else if (c == "ip-pools") {
    IpPool p{text(f, "site_id"), text(f, "vm_subnet_id"), prefix(f.at("subnet")), {}, {}, {}};
    for (const auto& r : f.at("ranges"))
      p.ranges.emplace_back(ipv4(r.at("start")).to_u32(), ipv4(r.at("end")).to_u32());
    p.gateway = optional_ipv4(f, "gateway");
    p.dns = ipv4_list(f, "dns");
    ip_pools[id] = std::move(p);
  } else if (c == "hosts") {
    hosts[id] = {text(f, "site_id"), optional_ipv4(f, "pa"), text(f, "external_interface")};
  } else if (c == "vm-networks") {
    auto rdid = Uuid::parse(text(f, "rdid"));
    if (!rdid) throw std::runtime_error(fmt::format("VM network {} has no valid rdid", id));
    vm_networks[id] = {text(f, "logical_network_id"), *rdid, text(f, "isolation") != "none",
                       text(f, "translation") == "rewrite"};
  } else if (c == "vm-subnets") {
    vm_subnets[id] = {text(f, "vm_network_id"), prefix(f.at("prefix")),
                      net::Vsid::from_24_bits(f.at("vsid").get<uint32_t>())};
  } else if (c == "vm-nics") {
    const Id subnet = text(f, "vm_subnet_id");
    const auto s = vm_subnets.find(subnet);
    auto mac = net::MacAddress::parse(text(f, "mac"));
    if (!mac) throw std::runtime_error(fmt::format("VM NIC {} has no valid mac", id));
    vm_nics[id] = {subnet,
                   s == vm_subnets.end() ? Id() : s->second.vm_network_id,
                   *mac,
                   ipv4(f.at("ip")),
                   text(f, "host_id"),
                   text(f, "interface"),
                   optional_ipv4(f, "pa")};
  } else if (c == "gateways") {
    Gateway g{text(f, "vm_network_id"),        text(f, "host_id"),          text(f, "kind"),
              optional_ipv4(f, "external_ip"), text(f, "external_pool_id"), {}};
    for (const auto& r : f.value("nat_rules", json::array())) {
      g.nat_rules.push_back({*policy::parse_nat_protocol(r.at("protocol").get<std::string>()),
                             r.at("external_port").get<uint16_t>(), ipv4(r.at("internal_ip")),
                             r.at("internal_port").get<uint16_t>()});
    }
    gateways[id] = std::move(g);
  } else if (c == "routes") {
    routes[id] = {text(f, "vm_network_id"), prefix(f.at("prefix")), ipv4(f.at("next_hop")),
                  f.value("metric", 0u)};
  }
  index(c, id, true);
}

void Model::index(const std::string& c, const Id& id, bool add) {
  if (c == "sites") {
    if (auto it = sites.find(id); it != sites.end())
      link(sites_by_logical_network, it->second.logical_network_id, id, add);
  } else if (c == "ip-pools") {
    if (auto it = ip_pools.find(id); it != ip_pools.end()) {
      link(pools_by_subnet, it->second.vm_subnet_id, id, add);
      link(pools_by_site, it->second.site_id, id, add);
    }
  } else if (c == "hosts") {
    if (auto it = hosts.find(id); it != hosts.end())
      link(hosts_by_site, it->second.site_id, id, add);
  } else if (c == "vm-subnets") {
    if (auto it = vm_subnets.find(id); it != vm_subnets.end())
      link(subnets_by_network, it->second.vm_network_id, id, add);
  } else if (c == "vm-nics") {
    if (auto it = vm_nics.find(id); it != vm_nics.end()) {
      link(nics_by_network, it->second.vm_network_id, id, add);
      link(nics_by_host, it->second.host_id, id, add);
      count_placement(it->second.vm_network_id, it->second.host_id, add);
    }
  } else if (c == "gateways") {
    if (auto it = gateways.find(id); it != gateways.end()) {
      link(gateways_by_network, it->second.vm_network_id, id, add);
      link(gateways_by_host, it->second.host_id, id, add);
      link(gateways_by_pool, it->second.external_pool_id, id, add);
      count_placement(it->second.vm_network_id, it->second.host_id, add);
    }
  } else if (c == "routes") {
    if (auto it = routes.find(id); it != routes.end())
      link(routes_by_network, it->second.vm_network_id, id, add);
  }
}

void Model::count_placement(const Id& network, const Id& host, bool add) {
  if (network.empty() || host.empty()) return;
  auto bump = [add](std::unordered_map<Id, std::map<Id, int>>& index, const Id& a, const Id& b) {
    auto& counts = index[a];
    int& n = counts[b];
    n += add ? 1 : -1;
    if (n <= 0) counts.erase(b);
    if (counts.empty()) index.erase(a);
  };
  bump(hosts_by_network, network, host);
  bump(networks_by_host, host, network);
}

IdSet Model::hosts_of_network(const Id& network) const {
  IdSet out;
  if (auto it = hosts_by_network.find(network); it != hosts_by_network.end())
    for (const auto& [host, _] : it->second) out.insert(host);
  return out;
}

IdSet Model::networks_on_host(const Id& host) const {
  IdSet out;
  if (auto it = networks_by_host.find(host); it != networks_by_host.end())
    for (const auto& [network, _] : it->second) out.insert(network);
  return out;
}

IdSet Model::networks_touched_by(const std::string& c, const Id& id) const {
  if (c == "vm-nics") {
    if (auto it = vm_nics.find(id); it != vm_nics.end()) return {it->second.vm_network_id};
  } else if (c == "vm-subnets") {
    if (auto it = vm_subnets.find(id); it != vm_subnets.end()) return {it->second.vm_network_id};
  } else if (c == "vm-networks") {
    return {id};
  } else if (c == "routes") {
    if (auto it = routes.find(id); it != routes.end()) return {it->second.vm_network_id};
  } else if (c == "gateways") {
    if (auto it = gateways.find(id); it != gateways.end()) return {it->second.vm_network_id};
  } else if (c == "hosts") {
    // The host's PA is in the records of every network with a NIC on it,
    // and with its external interface in the gateways it runs.
    return networks_on_host(id);
  } else if (c == "ip-pools") {
    // An external pool's subnet and gateway are in its gateways' policy.
    IdSet out;
    if (auto it = gateways_by_pool.find(id); it != gateways_by_pool.end())
      for (const Id& gw : it->second) out.insert(gateways.at(gw).vm_network_id);
    return out;
  }
  return {};
}

IdSet Model::hosts_touched_by(const std::string& c, const Id& id) const {
  IdSet out;
  auto add_all = [&](const IdSet& s) { out.insert(s.begin(), s.end()); };
  auto add_site = [&](const Id& site) {
    if (auto it = hosts_by_site.find(site); it != hosts_by_site.end()) add_all(it->second);
  };
  if (c == "vm-nics") {
    if (auto it = vm_nics.find(id); it != vm_nics.end()) {
      add_all(hosts_of_network(it->second.vm_network_id));
      if (!it->second.host_id.empty()) out.insert(it->second.host_id);
    }
  } else if (c == "vm-subnets") {
    if (auto it = vm_subnets.find(id); it != vm_subnets.end())
      add_all(hosts_of_network(it->second.vm_network_id));
  } else if (c == "vm-networks") {
    add_all(hosts_of_network(id));
  } else if (c == "routes") {
    if (auto it = routes.find(id); it != routes.end())
      add_all(hosts_of_network(it->second.vm_network_id));
  } else if (c == "gateways") {
    if (auto it = gateways.find(id); it != gateways.end()) {
      add_all(hosts_of_network(it->second.vm_network_id));
      if (!it->second.host_id.empty()) out.insert(it->second.host_id);
    }
  } else if (c == "ip-pools") {
    if (auto it = ip_pools.find(id); it != ip_pools.end()) {
      if (!it->second.site_id.empty()) add_site(it->second.site_id);
      if (auto gws = gateways_by_pool.find(id); gws != gateways_by_pool.end())
        for (const Id& gw : gws->second) add_all(hosts_of_network(gateways.at(gw).vm_network_id));
      if (auto s = vm_subnets.find(it->second.vm_subnet_id); s != vm_subnets.end())
        add_all(hosts_of_network(s->second.vm_network_id));
    }
  } else if (c == "hosts") {
    if (hosts.contains(id)) {
      out.insert(id);
      // Its PA is in the lookup records of every host sharing a VM network.
      for (const Id& network : networks_on_host(id)) add_all(hosts_of_network(network));
    }
  } else if (c == "sites") {
    add_site(id);
  } else if (c == "logical-networks") {
    if (auto it = sites_by_logical_network.find(id); it != sites_by_logical_network.end())
      for (const Id& site : it->second) add_site(site);
  }
  return out;
}

}  // namespace vnet::compiler

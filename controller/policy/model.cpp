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

void link(std::unordered_map<Id, IdSet>& index, const Id& key, const Id& id, bool add) {
  if (key.empty()) return;
  if (add) {
    index[key].insert(id);
  } else if (auto it = index.find(key); it != index.end()) {
    it->second.erase(id);
    if (it->second.empty()) index.erase(it);
  }
}

std::string table_of(std::string_view collection) {
  std::string t(collection);
  std::replace(t.begin(), t.end(), '-', '_');
  return t;
}

}  // namespace

// What the compiler reads of each collection, one entry per collection:
// how its stored fields become the typed struct (model.h), which indexes
// an object feeds, and which VM networks (fragments) and hosts a change to
// it concerns. In load order: parents before children (a NIC's network
// comes from its subnet).
struct Model::Reader {
  const char* collection;
  void (*read)(Model&, const Id&, const json&);
  void (*erase)(Model&, const Id&);
  void (*index)(Model&, const Id&, bool add);
  IdSet (*networks)(const Model&, const Id&);
  IdSet (*hosts)(const Model&, const Id&);

  static const std::vector<Reader>& all();
  static const Reader* of(std::string_view collection);
};

namespace {

void no_index(Model&, const Id&, bool) {}
IdSet none(const Model&, const Id&) { return {}; }

template <class Map>
const typename Map::mapped_type* find(const Map& map, const Id& id) {
  const auto it = map.find(id);
  return it == map.end() ? nullptr : &it->second;
}

IdSet sites_hosts(const Model& m, const Id& site) {
  const auto it = m.hosts_by_site.find(site);
  return it == m.hosts_by_site.end() ? IdSet() : it->second;
}

void add_all(IdSet& out, const IdSet& more) { out.insert(more.begin(), more.end()); }

// A subnet's, NIC's, gateway's or route's VM network (`Map` its map).
template <auto Map>
IdSet its_network(const Model& m, const Id& id) {
  const auto* o = find(m.*Map, id);
  return o == nullptr ? IdSet() : IdSet{o->vm_network_id};
}

// The hosts of that VM network, and the object's own host if it has one.
template <auto Map>
IdSet its_hosts(const Model& m, const Id& id) {
  IdSet out;
  if (const auto* o = find(m.*Map, id)) {
    out = m.hosts_of_network(o->vm_network_id);
    if constexpr (requires { o->host_id; }) {
      if (!o->host_id.empty()) out.insert(o->host_id);
    }
  }
  return out;
}

}  // namespace

const std::vector<Model::Reader>& Model::Reader::all() {
  static const std::vector<Reader> readers = {
      {.collection = "logical-networks",
       .read = [](Model& m, const Id& id,
                  const json& f) { m.logical_networks[id] = {f.value("flow_entropy", false)}; },
       .erase = [](Model& m, const Id& id) { m.logical_networks.erase(id); },
       .index = no_index,
       .networks = none,
       .hosts =
           [](const Model& m, const Id& id) {
             IdSet out;
             if (auto it = m.sites_by_logical_network.find(id);
                 it != m.sites_by_logical_network.end())
               for (const Id& site : it->second) add_all(out, sites_hosts(m, site));
             return out;
           }},
      {.collection = "sites",
       .read =
           [](Model& m, const Id& id, const json& f) {
             Site s{text(f, "logical_network_id"), {}};
             for (const auto& subnet : f.at("subnets"))
               s.subnets.push_back(prefix(subnet.at("prefix")));
             m.sites[id] = std::move(s);
           },
       .erase = [](Model& m, const Id& id) { m.sites.erase(id); },
       .index =
           [](Model& m, const Id& id, bool add) {
             if (const auto* s = find(m.sites, id))
               link(m.sites_by_logical_network, s->logical_network_id, id, add);
           },
       .networks = none,
       .hosts = sites_hosts},
      {.collection = "ip-pools",
       .read =
           [](Model& m, const Id& id, const json& f) {
             IpPool p{
                 text(f, "site_id"), text(f, "vm_subnet_id"), prefix(f.at("subnet")), {}, {}, {}};
             for (const auto& r : f.at("ranges"))
               p.ranges.emplace_back(ipv4(r.at("start")).to_u32(), ipv4(r.at("end")).to_u32());
             p.gateway = optional_ipv4(f, "gateway");
             p.dns = ipv4_list(f, "dns");
             m.ip_pools[id] = std::move(p);
           },
       .erase = [](Model& m, const Id& id) { m.ip_pools.erase(id); },
       .index =
           [](Model& m, const Id& id, bool add) {
             if (const auto* p = find(m.ip_pools, id)) {
               link(m.pools_by_subnet, p->vm_subnet_id, id, add);
               link(m.pools_by_site, p->site_id, id, add);
             }
           },
       // An external pool's subnet and gateway are in its gateways' policy.
       .networks =
           [](const Model& m, const Id& id) {
             IdSet out;
             if (auto it = m.gateways_by_pool.find(id); it != m.gateways_by_pool.end())
               for (const Id& gw : it->second) out.insert(m.gateways.at(gw).vm_network_id);
             return out;
           },
       .hosts =
           [](const Model& m, const Id& id) {
             IdSet out;
             if (const auto* p = find(m.ip_pools, id)) {
               if (!p->site_id.empty()) add_all(out, sites_hosts(m, p->site_id));
               if (auto gws = m.gateways_by_pool.find(id); gws != m.gateways_by_pool.end())
                 for (const Id& gw : gws->second)
                   add_all(out, m.hosts_of_network(m.gateways.at(gw).vm_network_id));
               if (const auto* s = find(m.vm_subnets, p->vm_subnet_id))
                 add_all(out, m.hosts_of_network(s->vm_network_id));
             }
             return out;
           }},
      {.collection = "hosts",
       .read =
           [](Model& m, const Id& id, const json& f) {
             m.hosts[id] = {text(f, "site_id"), optional_ipv4(f, "pa"),
                            text(f, "external_interface")};
           },
       .erase = [](Model& m, const Id& id) { m.hosts.erase(id); },
       .index =
           [](Model& m, const Id& id, bool add) {
             if (const auto* h = find(m.hosts, id)) link(m.hosts_by_site, h->site_id, id, add);
           },
       // The host's PA is in the records of every network with a NIC on it,
       // and with its external interface in the gateways it runs.
       .networks = [](const Model& m, const Id& id) { return m.networks_on_host(id); },
       .hosts =
           [](const Model& m, const Id& id) {
             IdSet out;
             if (m.hosts.contains(id)) {
               out.insert(id);
               // Its PA is in the lookup records of every host sharing a VM network.
               for (const Id& network : m.networks_on_host(id))
                 add_all(out, m.hosts_of_network(network));
             }
             return out;
           }},
      {.collection = "vm-networks",
       .read =
           [](Model& m, const Id& id, const json& f) {
             auto rdid = Uuid::parse(text(f, "rdid"));
             if (!rdid)
               throw std::runtime_error(fmt::format("VM network {} has no valid rdid", id));
             m.vm_networks[id] = {text(f, "logical_network_id"), *rdid,
                                  text(f, "isolation") != "none",
                                  text(f, "translation") == "rewrite"};
           },
       .erase = [](Model& m, const Id& id) { m.vm_networks.erase(id); },
       .index = no_index,
       .networks = [](const Model&, const Id& id) { return IdSet{id}; },
       .hosts = [](const Model& m, const Id& id) { return m.hosts_of_network(id); }},
      {.collection = "vm-subnets",
       .read =
           [](Model& m, const Id& id, const json& f) {
             m.vm_subnets[id] = {text(f, "vm_network_id"), prefix(f.at("prefix")),
                                 net::Vsid::from_24_bits(f.at("vsid").get<uint32_t>())};
           },
       .erase = [](Model& m, const Id& id) { m.vm_subnets.erase(id); },
       .index =
           [](Model& m, const Id& id, bool add) {
             if (const auto* s = find(m.vm_subnets, id))
               link(m.subnets_by_network, s->vm_network_id, id, add);
           },
       .networks = its_network<&Model::vm_subnets>,
       .hosts = its_hosts<&Model::vm_subnets>},
      {.collection = "vm-nics",
       .read =
           [](Model& m, const Id& id, const json& f) {
             const Id subnet = text(f, "vm_subnet_id");
             const auto* s = find(m.vm_subnets, subnet);
             auto mac = net::MacAddress::parse(text(f, "mac"));
             if (!mac) throw std::runtime_error(fmt::format("VM NIC {} has no valid mac", id));
             m.vm_nics[id] = {subnet,
                              s == nullptr ? Id() : s->vm_network_id,
                              *mac,
                              ipv4(f.at("ip")),
                              text(f, "host_id"),
                              text(f, "interface"),
                              optional_ipv4(f, "pa")};
           },
       .erase = [](Model& m, const Id& id) { m.vm_nics.erase(id); },
       .index =
           [](Model& m, const Id& id, bool add) {
             if (const auto* n = find(m.vm_nics, id)) {
               link(m.nics_by_network, n->vm_network_id, id, add);
               link(m.nics_by_host, n->host_id, id, add);
               m.count_placement(n->vm_network_id, n->host_id, add);
             }
           },
       .networks = its_network<&Model::vm_nics>,
       .hosts = its_hosts<&Model::vm_nics>},
      {.collection = "gateways",
       .read =
           [](Model& m, const Id& id, const json& f) {
             Gateway g{
                 text(f, "vm_network_id"),        text(f, "host_id"),          text(f, "kind"),
                 optional_ipv4(f, "external_ip"), text(f, "external_pool_id"), {}};
             for (const auto& r : f.value("nat_rules", json::array())) {
               g.nat_rules.push_back(
                   {*policy::parse_nat_protocol(r.at("protocol").get<std::string>()),
                    r.at("external_port").get<uint16_t>(), ipv4(r.at("internal_ip")),
                    r.at("internal_port").get<uint16_t>()});
             }
             m.gateways[id] = std::move(g);
           },
       .erase = [](Model& m, const Id& id) { m.gateways.erase(id); },
       .index =
           [](Model& m, const Id& id, bool add) {
             if (const auto* g = find(m.gateways, id)) {
               link(m.gateways_by_network, g->vm_network_id, id, add);
               link(m.gateways_by_host, g->host_id, id, add);
               link(m.gateways_by_pool, g->external_pool_id, id, add);
               m.count_placement(g->vm_network_id, g->host_id, add);
             }
           },
       .networks = its_network<&Model::gateways>,
       .hosts = its_hosts<&Model::gateways>},
      {.collection = "routes",
       .read =
           [](Model& m, const Id& id, const json& f) {
             m.routes[id] = {text(f, "vm_network_id"), prefix(f.at("prefix")),
                             ipv4(f.at("next_hop")), f.value("metric", 0u)};
           },
       .erase = [](Model& m, const Id& id) { m.routes.erase(id); },
       .index =
           [](Model& m, const Id& id, bool add) {
             if (const auto* r = find(m.routes, id))
               link(m.routes_by_network, r->vm_network_id, id, add);
           },
       .networks = its_network<&Model::routes>,
       .hosts = its_hosts<&Model::routes>},
  };
  return readers;
}

const Model::Reader* Model::Reader::of(std::string_view collection) {
  for (const auto& r : all()) {
    if (collection == r.collection) return &r;
  }
  return nullptr;  // a collection the compiler does not read (tenants, tokens, MAC pools)
}

Model Model::load(store::Database& db) {
  Model model;
  // One read transaction, so every table is read from the same snapshot.
  const store::ReadTransaction snapshot(db);
  model.log_position = store::ChangeLog(db).last();
  for (const Reader& reader : Reader::all()) {
    store::Objects objects(db, table_of(reader.collection), false);
    objects.scan({}, [&](store::ObjectRow&& row) {
      model.apply({reader.collection, std::move(row.id), json::parse(row.body)});
      return true;
    });
  }
  return model;
}

void Model::apply(const Change& change) {
  log_position = std::max(log_position, change.log_seq);
  const Reader* reader = Reader::of(change.collection);
  if (reader == nullptr) return;
  const Id& id = change.id;
  reader->index(*this, id, false);
  if (change.fields) {
    reader->read(*this, id, *change.fields);
    reader->index(*this, id, true);
  } else {
    reader->erase(*this, id);
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

IdSet Model::networks_touched_by(const std::string& collection, const Id& id) const {
  const Reader* reader = Reader::of(collection);
  return reader == nullptr ? IdSet() : reader->networks(*this, id);
}

IdSet Model::hosts_touched_by(const std::string& collection, const Id& id) const {
  const Reader* reader = Reader::of(collection);
  return reader == nullptr ? IdSet() : reader->hosts(*this, id);
}

}  // namespace vnet::compiler

#include "controller/policy/model.h"

#include <fmt/format.h>

#include <algorithm>

#include "controller/model/codec.h"
#include "controller/store/database.h"
#include "controller/store/objects.h"
#include "controller/store/records.h"

namespace vnet::compiler {
namespace {

using nlohmann::json;

void link(std::unordered_map<Id, IdSet>& index, const Id& key, const Id& id, bool add) {
  if (key.empty()) return;
  if (add) {
    index[key].insert(id);
  } else if (auto it = index.find(key); it != index.end()) {
    it->second.erase(id);
    if (it->second.empty()) index.erase(it);
  }
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

// Members a stored object of the kind always has once written (assigned
// on create): without them the database is corrupt, and the compiler says
// which object rather than compile a policy without them.
template <auto... Members, class S>
S require(S object, const Id& id) {
  const bool complete = (... && (object.*Members).has_value());
  if (!complete)
    throw std::runtime_error(
        fmt::format("stored {} {} lacks a field assigned on create", S::meta.singular, id));
  return object;
}

// Decodes the stored fields into the collection's map (`Map`).
template <auto Map, auto... Required>
void read_into(Model& m, const Id& id, const json& f) {
  using S = typename std::remove_reference_t<decltype(m.*Map)>::mapped_type;
  (m.*Map)[id] = require<Required...>(model::decode<S>(f), id);
}

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
      {.collection = LogicalNetwork::meta.collection,
       .read = read_into<&Model::logical_networks>,
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
      {.collection = Site::meta.collection,
       .read = read_into<&Model::sites>,
       .erase = [](Model& m, const Id& id) { m.sites.erase(id); },
       .index =
           [](Model& m, const Id& id, bool add) {
             if (const auto* s = find(m.sites, id))
               link(m.sites_by_logical_network, s->logical_network_id, id, add);
           },
       .networks = none,
       .hosts = sites_hosts},
      {.collection = IpPool::meta.collection,
       .read = read_into<&Model::ip_pools, &IpPool::subnet>,
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
      {.collection = Host::meta.collection,
       .read = read_into<&Model::hosts>,
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
      {.collection = VmNetwork::meta.collection,
       .read = read_into<&Model::vm_networks, &VmNetwork::rdid>,
       .erase = [](Model& m, const Id& id) { m.vm_networks.erase(id); },
       .index = no_index,
       .networks = [](const Model&, const Id& id) { return IdSet{id}; },
       .hosts = [](const Model& m, const Id& id) { return m.hosts_of_network(id); }},
      {.collection = VmSubnet::meta.collection,
       .read = read_into<&Model::vm_subnets, &VmSubnet::vsid>,
       .erase = [](Model& m, const Id& id) { m.vm_subnets.erase(id); },
       .index =
           [](Model& m, const Id& id, bool add) {
             if (const auto* s = find(m.vm_subnets, id))
               link(m.subnets_by_network, s->vm_network_id, id, add);
           },
       .networks = its_network<&Model::vm_subnets>,
       .hosts = its_hosts<&Model::vm_subnets>},
      {.collection = model::VmNic::meta.collection,
       .read =
           [](Model& m, const Id& id, const json& f) {
             VmNic nic{
                 require<&model::VmNic::mac, &model::VmNic::ip>(model::decode<model::VmNic>(f), id),
                 {}};
             if (const auto* s = find(m.vm_subnets, nic.vm_subnet_id))
               nic.vm_network_id = s->vm_network_id;
             m.vm_nics[id] = std::move(nic);
           },
       .erase = [](Model& m, const Id& id) { m.vm_nics.erase(id); },
       .index =
           [](Model& m, const Id& id, bool add) {
             if (const auto* n = find(m.vm_nics, id)) {
               link(m.nics_by_network, n->vm_network_id, id, add);
               link(m.nics_by_host, n->host_id, id, add);
               link(m.nics_by_profile, n->port_profile_id, id, add);
               m.count_placement(n->vm_network_id, n->host_id, add);
             }
           },
       .networks = its_network<&Model::vm_nics>,
       .hosts = its_hosts<&Model::vm_nics>},
      {.collection = Gateway::meta.collection,
       .read = read_into<&Model::gateways>,
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
      {.collection = Route::meta.collection,
       .read = read_into<&Model::routes>,
       .erase = [](Model& m, const Id& id) { m.routes.erase(id); },
       .index =
           [](Model& m, const Id& id, bool add) {
             if (const auto* r = find(m.routes, id))
               link(m.routes_by_network, r->vm_network_id, id, add);
           },
       .networks = its_network<&Model::routes>,
       .hosts = its_hosts<&Model::routes>},
      // A profile is in the ports of its NICs: their hosts.
      {.collection = PortProfile::meta.collection,
       .read = read_into<&Model::port_profiles>,
       .erase = [](Model& m, const Id& id) { m.port_profiles.erase(id); },
       .index = no_index,
       .networks = none,
       .hosts =
           [](const Model& m, const Id& id) {
             IdSet out;
             if (auto it = m.nics_by_profile.find(id); it != m.nics_by_profile.end()) {
               for (const Id& nic : it->second) {
                 const Id& host = m.vm_nics.at(nic).host_id;
                 if (!host.empty()) out.insert(host);
               }
             }
             return out;
           }},
      {.collection = model::StaticRecord::meta.collection,
       .read =
           [](Model& m, const Id& id, const json& f) {
             StaticRecord r{
                 require<&model::StaticRecord::vsid>(model::decode<model::StaticRecord>(f), id),
                 {}};
             if (const auto* s = find(m.vm_subnets, r.vm_subnet_id))
               r.vm_network_id = s->vm_network_id;
             m.static_records[id] = std::move(r);
           },
       .erase = [](Model& m, const Id& id) { m.static_records.erase(id); },
       .index =
           [](Model& m, const Id& id, bool add) {
             if (const auto* r = find(m.static_records, id))
               link(m.static_records_by_network, r->vm_network_id, id, add);
           },
       .networks = its_network<&Model::static_records>,
       .hosts = its_hosts<&Model::static_records>},
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
    store::Objects objects(db, model::kind(reader.collection).table, false);
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

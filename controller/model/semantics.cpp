// What each kind means beyond its field types (DESIGN.md section 3,
// "Allocation invariants"): references that must exist and be the caller's,
// values that must be unique, and the addresses, MACs, VSIDs and RDIDs that
// the server hands out. Everything here runs inside the write transaction,
// so two requests can never be handed the same value.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <tuple>

#include "controller/alloc/allocators.h"
#include "controller/model/codec.h"
#include "controller/model/rows.h"
#include "controller/store/allocations.h"
#include "controller/store/records.h"
#include "shared/net/ip.h"
#include "shared/net/mac.h"
#include "shared/net/vsid.h"

namespace vnet::model {
namespace {

using nlohmann::json;
using store::Database;

// --- typed access to stored objects (types.h) ---

// An object of kind S with its envelope: what the rules read of the
// objects they look up.
template <class S>
struct Stored : S {
  Id id;
  Id tenant_id;
};

template <class S>
const Kind& kind_of() {
  static const Kind& k = kind(S::meta.collection);
  return k;
}

template <class S>
Stored<S> typed(const Row& row) {
  return {decode<S>(row.fields), row.id, row.tenant_id};
}

template <class S>
std::optional<Stored<S>> load(Database& db, const Id& id) {
  auto row = load_row(db, kind_of<S>(), id);
  if (!row) return std::nullopt;
  return typed<S>(*row);
}

template <class S>
std::vector<Stored<S>> where(Database& db, store::Objects::Match match) {
  std::vector<Stored<S>> out;
  for (const Row& row : rows_where(db, kind_of<S>(), std::move(match)))
    out.push_back(typed<S>(row));
  return out;
}

// The object `id` of kind S named by field `pointer`: it must exist, and a
// tenant may only name its own tenant-owned objects. Either way the answer
// is the same, so ids leak nothing.
template <class S>
Stored<S> require_ref(Database& db, const Principal& who, const Id& id,
                      const std::string& pointer) {
  const Kind& target = kind_of<S>();
  auto row = load_row(db, target, id);
  // A row of a tenant-owned kind without a tenant is the administrator's (a
  // site's IP pool): a tenant may name it by id (a NAT gateway's external
  // pool, docs/api.md) without being able to read it.
  const bool admins = row && row->tenant_id.empty();
  if (!row || (target.tenant_owned && !admins && !visible_to(who, target, *row))) {
    throw invalid(pointer, fmt::format("there is no {} with id {}", target.singular, id));
  }
  return typed<S>(*row);
}

void require_unique_name(Database& db, const Kind& kind, const Id& id, const std::string& name) {
  const auto taken =
      objects(db, kind).where({.column = "name", .value = name, .except_id = id, .limit = 1});
  if (!taken.empty()) {
    throw conflict(fmt::format("a {} named \"{}\" exists already (id {})", kind.singular, name,
                               taken.front().id),
                   {{"/name", "is taken"}});
  }
}

// The reference `field` (of `name`) of a tenant's new object: one of the
// tenant's grants (`grants`, the tenant's field `grants_name`), or its only
// grant when the field is absent. An administrator writing for the tenant
// may name any (it grants them anyway). A name not granted is refused in
// the same words whether or not it exists.
Id granted(Database& db, const Principal& who, const Id& tenant_id, Id& field, const char* name,
           std::vector<Id> Tenant::*grants, const char* grants_name, const std::string& what) {
  const auto tenant = load<Tenant>(db, tenant_id);
  const std::vector<Id> ids = tenant ? (*tenant).*grants : std::vector<Id>();
  const std::string pointer = fmt::format("/{}", name);
  if (field.empty()) {
    if (ids.size() == 1) return field = ids.front();
    if (ids.empty()) {
      throw invalid(pointer, fmt::format("is required: the tenant has no {} granted (an "
                                         "administrator grants them in the tenant's {})",
                                         what, grants_name));
    }
    throw invalid(pointer, fmt::format("is required: the tenant has {} of them granted; name "
                                       "one (whoami lists them)",
                                       ids.size()));
  }
  if (!who.is_admin() && std::find(ids.begin(), ids.end(), field) == ids.end()) {
    throw invalid(pointer, fmt::format("{} {} is not granted to your tenant (whoami lists what "
                                       "is; an administrator grants more)",
                                       what, field));
  }
  return field;
}

// A site pool of a logical network without network virtualization: where
// gateways take external addresses.
void require_external_pool(Database& db, const Stored<IpPool>& pool, const std::string& pointer) {
  if (pool.site_id.empty())
    throw invalid(pointer, "must be an IP pool of a site, not of a VM subnet");
  const auto site = load<Site>(db, pool.site_id);
  const auto ln = site ? load<LogicalNetwork>(db, site->logical_network_id) : std::nullopt;
  if (!ln || ln->network_virtualization) {
    throw invalid(pointer,
                  "must be a pool of a logical network without network virtualization (the "
                  "external network)");
  }
}

// --- allocation ---
//
// AllocationHints (rows.h): where first_free_in starts looking.
// The lowest free value of `ranges` per alloc::first_free, streaming the
// taken ones of `space` in `scope` from the database and starting at the
// pool's lower bound.
std::optional<uint64_t> first_free_in(Database& db, AllocationHints& hints,
                                      store::Allocations::Space space, const std::string& scope,
                                      std::vector<alloc::Range> ranges,
                                      const std::set<uint64_t>& excluded,
                                      const std::string& hint_key) {
  const uint64_t from = hints.count(hint_key) ? hints[hint_key] : 0;
  auto taken = store::Allocations(db).taken(space, scope);
  auto found = alloc::first_free(ranges, excluded, from, taken);
  // Nothing above the bound: look below it too before saying the pool is
  // exhausted (another replica may have freed a value there unseen), so
  // exhaustion is the database's word, never the hint's.
  if (!found && from > 0) found = alloc::first_free(std::move(ranges), excluded, 0, taken);
  if (found) hints[hint_key] = *found + 1;
  return found;
}

// --- addresses ---

std::string owner_of_address(Database& db, const std::string& scope, net::Ipv4Address a) {
  return store::Allocations(db).address_owner(scope, a.to_u32()).value_or("");
}

void record_address(Database& db, const std::string& scope, net::Ipv4Address a,
                    const std::string& pool_id, const std::string& owner,
                    const std::string& pointer) {
  const std::string holder = owner_of_address(db, scope, a);
  if (!holder.empty() && holder != owner) {
    throw conflict(fmt::format("{} is in use by {}", a.to_string(), holder),
                   {{pointer, "is in use"}});
  }
  if (holder == owner) return;
  store::Allocations(db).take_address(scope, a.to_u32(), pool_id, owner);
}

std::vector<alloc::Range> pool_ranges(const IpPool& pool) {
  std::vector<alloc::Range> out;
  for (const auto& r : pool.ranges) out.push_back({r.start.to_u32(), r.end.to_u32()});
  return out;
}

std::string pool_label(const Stored<IpPool>& pool) {
  return pool.name.empty() ? fmt::format("IP pool {}", pool.id)
                           : fmt::format("IP pool \"{}\" ({})", pool.name, pool.id);
}

// The first address of `pool` that is free in `scope`: never its gateway
// nor a reserved address.
std::optional<net::Ipv4Address> allocate_from(Database& db, AllocationHints& hints,
                                              const std::string& scope,
                                              const Stored<IpPool>& pool) {
  std::set<uint64_t> excluded;
  for (const auto& r : pool.reserved) excluded.insert(r.to_u32());
  if (pool.gateway) excluded.insert(pool.gateway->to_u32());
  const auto a = first_free_in(db, hints, store::Allocations::Space::kAddresses, scope,
                               pool_ranges(pool), excluded, scope + "|" + pool.id);
  if (!a) return std::nullopt;
  return net::Ipv4Address::from_u32(static_cast<uint32_t>(*a));
}

std::vector<Stored<IpPool>> pools_where(Database& db, const std::string& column, const Id& value) {
  return where<IpPool>(db, {.column = column, .value = value});
}

// Provider and external addresses are unique within a logical network.
std::string site_scope(Database& db, const Id& site_id) {
  return "ln:" + load<Site>(db, site_id).value().logical_network_id;
}
std::string subnet_scope(const Id& vm_subnet_id) { return "subnet:" + vm_subnet_id; }

// Allocates (or, when given, records) an address for `owner` from `pools`.
net::Ipv4Address take_address(Database& db, AllocationHints& hints, const std::string& scope,
                              const std::vector<Stored<IpPool>>& pools,
                              std::optional<net::Ipv4Address> given, const std::string& owner,
                              const std::string& pointer, const std::string& no_pool_message) {
  if (given) {
    std::string pool_id;
    for (const auto& p : pools) {
      if (p.offers(*given)) pool_id = p.id;
    }
    record_address(db, scope, *given, pool_id, owner, pointer);
    return *given;
  }
  if (pools.empty()) throw conflict(no_pool_message, {{pointer, "no pool to allocate from"}});
  for (const auto& p : pools) {
    if (auto a = allocate_from(db, hints, scope, p)) {
      record_address(db, scope, *a, p.id, owner, pointer);
      return *a;
    }
  }
  std::string names;
  for (const auto& p : pools) names += (names.empty() ? "" : ", ") + pool_label(p);
  throw conflict(fmt::format("{} {} exhausted", names, pools.size() == 1 ? "is" : "are"),
                 {{pointer, "no free address"}});
}

void free_allocations(Database& db, AllocationHints& hints, const std::string& owner) {
  hints.clear();  // something below a bound may become free
  store::Allocations allocations(db);
  allocations.free_addresses(owner);
  allocations.free_macs(owner);
}

// --- per kind: before a write ---
//
// Each takes the object being written as its struct (`f`, written back to
// the row afterwards) and, on replace and patch, the stored one (`before`).

using W = const WriteScope&;

void tenant_of_new_top_level(Database& db, const Principal& who, Row& row) {
  if (who.is_admin()) {
    if (row.tenant_id.empty())
      throw invalid("/tenant_id", "is required when an administrator creates it");
    require_ref<Tenant>(db, who, row.tenant_id, "/tenant_id");
  } else {
    row.tenant_id = who.tenant_id;
  }
}

// A tenant's grants name existing logical networks with network
// virtualization and external site pools.
void tenants(W w, Row& row, Tenant& f, const Tenant*) {
  require_unique_name(w.db, kind_of<Tenant>(), row.id, f.name);
  for (size_t i = 0; i < f.logical_network_ids.size(); ++i) {
    const std::string pointer = fmt::format("/logical_network_ids/{}", i);
    const auto ln = require_ref<LogicalNetwork>(w.db, w.who, f.logical_network_ids[i], pointer);
    if (!ln.network_virtualization) {
      throw invalid(pointer, fmt::format("logical network {} does not allow network "
                                         "virtualization: a tenant's VM networks cannot use it",
                                         ln.id));
    }
  }
  for (size_t i = 0; i < f.external_pool_ids.size(); ++i) {
    const std::string pointer = fmt::format("/external_pool_ids/{}", i);
    require_external_pool(w.db, require_ref<IpPool>(w.db, w.who, f.external_pool_ids[i], pointer),
                          pointer);
  }
  for (size_t i = 0; f.port_profile_ids && i < f.port_profile_ids->size(); ++i) {
    require_ref<PortProfile>(w.db, w.who, (*f.port_profile_ids)[i],
                             fmt::format("/port_profile_ids/{}", i));
  }
  if (!f.default_port_profile_id.empty()) {
    require_ref<PortProfile>(w.db, w.who, f.default_port_profile_id, "/default_port_profile_id");
    const std::vector<Id> granted = granted_port_profiles(f.port_profile_ids);
    if (std::find(granted.begin(), granted.end(), f.default_port_profile_id) == granted.end()) {
      throw invalid("/default_port_profile_id",
                    "must be one of port_profile_ids (the tenant's NICs get it when they name no "
                    "port profile)");
    }
  }
}

void tokens(W w, Row& row, Token& f, const Token* before) {
  if (before != nullptr) return;  // only the name can change
  if (f.role.empty()) f.role = f.tenant_id.empty() ? "admin" : "tenant";
  if (f.role == "tenant" && f.tenant_id.empty())
    throw invalid("/tenant_id", "is required for a tenant's token");
  if (f.role == "admin" && !f.tenant_id.empty())
    throw invalid("/tenant_id", "an admin token has no tenant");
  if (!f.tenant_id.empty()) require_ref<Tenant>(w.db, w.who, f.tenant_id, "/tenant_id");
  // 32 random bytes; only their SHA-256 is stored.
  row.secret = "vnet_" + new_etag() + new_etag() + new_etag() + new_etag();
  row.extra_columns = {{"secret_sha256", sha256_hex(row.secret)}};
}

void logical_networks(W w, Row& row, LogicalNetwork& f, const LogicalNetwork*) {
  require_unique_name(w.db, kind_of<LogicalNetwork>(), row.id, f.name);
}

void sites(W w, Row& row, Site& f, const Site* before) {
  if (before == nullptr)
    require_ref<LogicalNetwork>(w.db, w.who, f.logical_network_id, "/logical_network_id");
  for (size_t i = 0; i < f.subnets.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (f.subnets[i].prefix.overlaps(f.subnets[j].prefix)) {
        throw invalid(fmt::format("/subnets/{}/prefix", i),
                      fmt::format("overlaps {}", f.subnets[j].prefix.to_string()));
      }
    }
  }
  if (before == nullptr) return;
  for (const auto& pool : pools_where(w.db, "site_id", row.id)) {
    const bool kept = std::any_of(f.subnets.begin(), f.subnets.end(),
                                  [&](const SiteSubnet& s) { return s.prefix == pool.subnet; });
    if (!kept) {
      throw conflict(fmt::format("{} uses subnet {}", pool_label(pool),
                                 pool.subnet ? pool.subnet->to_string() : ""),
                     {{"/subnets", "must keep the subnets that IP pools use"}});
    }
  }
}

void mac_pools(W w, Row& row, MacPool& f, const MacPool* before) {
  if (before != nullptr) return;
  const uint64_t start = f.start.to_u64();
  const uint64_t end = f.end.to_u64();
  if (end < start) throw invalid("/end", "comes before start");
  for (const auto& other : where<MacPool>(w.db, {.except_id = row.id})) {
    if (start <= other.end.to_u64() && other.start.to_u64() <= end) {
      throw conflict(fmt::format("the range overlaps MAC pool {}", other.id),
                     {{"/start", "overlaps another pool"}});
    }
  }
}

// Registered with partial_fields: runs even when some fields failed their
// checks (they are absent from `f` then), so one answer names every bad
// field.
void ip_pools(W w, Row& row, IpPool& f, const IpPool* before) {
  const bool on_site = !f.site_id.empty();
  const bool on_vm_subnet = !f.vm_subnet_id.empty();
  if (on_site == on_vm_subnet) {
    throw bad_request(
        "an IP pool belongs to a VM subnet (vm_subnet_id) or, for an administrator, "
        "to a site's subnet (site_id and subnet)",
        {{"/vm_subnet_id", on_site ? "cannot go with site_id" : "is required"}});
  }
  if (on_site) {
    const auto site = require_ref<Site>(w.db, w.who, f.site_id, "/site_id");
    if (!f.subnet) throw invalid("/subnet", "is required with site_id");
    const bool found = std::any_of(site.subnets.begin(), site.subnets.end(),
                                   [&](const SiteSubnet& s) { return s.prefix == *f.subnet; });
    if (!found) throw invalid("/subnet", fmt::format("is not a subnet of site {}", site.id));
    row.tenant_id.clear();
  } else {
    const auto subnet = require_ref<VmSubnet>(w.db, w.who, f.vm_subnet_id, "/vm_subnet_id");
    if (f.subnet && *f.subnet != subnet.prefix)
      throw invalid("/subnet", "is the VM subnet's prefix; leave it out");
    f.subnet = subnet.prefix;
    row.tenant_id = subnet.tenant_id;
    // The subnet's first address, as DESIGN.md says and HNV does.
    if (!f.gateway) f.gateway = subnet.prefix.first().v4().offset(1);
  }
  const net::IpPrefix subnet = *f.subnet;
  auto inside = [&](net::Ipv4Address a) { return subnet.contains(net::IpAddress(a)); };
  // Every address outside the subnet at once.
  std::vector<FieldError> outside;
  const std::string message = fmt::format("is outside {}", subnet.to_string());
  for (size_t i = 0; i < f.ranges.size(); ++i) {
    if (!inside(f.ranges[i].start))
      outside.push_back({fmt::format("/ranges/{}/start", i), message});
    if (!inside(f.ranges[i].end)) outside.push_back({fmt::format("/ranges/{}/end", i), message});
  }
  for (size_t i = 0; i < f.reserved.size(); ++i) {
    if (!inside(f.reserved[i])) outside.push_back({fmt::format("/reserved/{}", i), message});
  }
  if (f.gateway && !inside(*f.gateway)) outside.push_back({"/gateway", message});
  if (!outside.empty()) throw invalid_fields(std::move(outside));
  // Pools never overlap: within a VM subnet (and so within its VM network,
  // whose subnets do not overlap), or within a site.
  for (const auto& other : pools_where(w.db, on_site ? "site_id" : "vm_subnet_id",
                                       on_site ? f.site_id : f.vm_subnet_id)) {
    if (other.id == row.id || other.subnet != f.subnet) continue;
    for (const auto& a : f.ranges) {
      for (const auto& b : other.ranges) {
        if (a.start <= b.end && b.start <= a.end) {
          throw conflict(fmt::format("the ranges overlap {}", pool_label(other)),
                         {{"/ranges", "overlap another pool"}});
        }
      }
    }
  }
  if (before != nullptr) {
    // Addresses already handed out from this pool must stay inside it.
    for (const auto& [address, owner] : store::Allocations(w.db).addresses_of_pool(row.id)) {
      const auto a = net::Ipv4Address::from_u32(address);
      if (!f.offers(a)) {
        throw conflict(
            fmt::format("{} is in use by {} and would fall outside the pool", a.to_string(), owner),
            {{"/ranges", "must keep the addresses in use"}});
      }
    }
  }
}

void hosts(W w, Row& row, Host& f, const Host* before) {
  require_unique_name(w.db, kind_of<Host>(), row.id, f.name);
  if (before != nullptr) {
    if (f.external_interface.empty() && !before->external_interface.empty()) {
      std::string list;
      for (const auto& g : objects(w.db, kind_of<Gateway>())
                               .where({.column = "host_id", .value = row.id, .limit = 5}))
        list += (list.empty() ? "" : ", ") + g.id;
      if (!list.empty()) {
        throw conflict(fmt::format("host {} runs gateways {}: move them first", row.id, list),
                       {{"/external_interface", "is in use by gateways"}});
      }
    }
    return;
  }
  const auto site = require_ref<Site>(w.db, w.who, f.site_id, "/site_id");
  if (f.pa) {
    const bool inside =
        std::any_of(site.subnets.begin(), site.subnets.end(),
                    [&](const SiteSubnet& s) { return s.prefix.contains(net::IpAddress(*f.pa)); });
    if (!inside) throw invalid("/pa", fmt::format("is not in a subnet of site {}", site.id));
  }
  f.pa = take_address(w.db, w.hints, site_scope(w.db, site.id),
                      pools_where(w.db, "site_id", site.id), f.pa, row.id, "/pa",
                      fmt::format("site {} has no IP pool for provider addresses: give "
                                  "pa, or create an IP pool on the site",
                                  site.id));
}

// docs/api.md: a VM network's name is unique within its tenant (vnetctl
// names networks by it).
void require_unique_network_name(Database& db, const Id& tenant_id, const Id& id,
                                 const std::string& name) {
  // Portable SQL (migrations/README.md): the names are compared here; a
  // tenant holds at most its quota of VM networks.
  for (const auto& other :
       where<VmNetwork>(db, {.column = "tenant_id", .value = tenant_id, .except_id = id})) {
    if (other.name != name) continue;
    throw conflict(
        fmt::format("the tenant has a VM network named \"{}\" already (id {})", name, other.id),
        {{"/name", "is taken"}});
  }
}

void vm_networks(W w, Row& row, VmNetwork& f, const VmNetwork* before) {
  if (before != nullptr) {
    if (f.name != before->name) require_unique_network_name(w.db, row.tenant_id, row.id, f.name);
    return;
  }
  tenant_of_new_top_level(w.db, w.who, row);
  require_unique_network_name(w.db, row.tenant_id, row.id, f.name);
  granted(w.db, w.who, row.tenant_id, f.logical_network_id, "logical_network_id",
          &Tenant::logical_network_ids, "logical_network_ids", "logical network");
  const auto ln =
      require_ref<LogicalNetwork>(w.db, w.who, f.logical_network_id, "/logical_network_id");
  if (!ln.network_virtualization) {
    throw invalid("/logical_network_id",
                  fmt::format("logical network {} does not allow network virtualization", ln.id));
  }
  f.rdid = Uuid::parse(new_uuid()).value();
}

void vm_subnets(W w, Row& row, VmSubnet& f, const VmSubnet* before) {
  if (before != nullptr) return;
  const auto network = require_ref<VmNetwork>(w.db, w.who, f.vm_network_id, "/vm_network_id");
  row.tenant_id = network.tenant_id;
  for (const auto& other :
       where<VmSubnet>(w.db, {.column = "vm_network_id", .value = network.id})) {
    if (other.prefix.overlaps(f.prefix)) {
      throw invalid("/prefix",
                    fmt::format("overlaps {} of VM subnet {}", other.prefix.to_string(), other.id));
    }
  }
  if (f.vsid) {
    if (const auto holder = store::Allocations(w.db).vsid_holder(f.vsid->value())) {
      throw conflict(fmt::format("VSID {} is in use by VM subnet {}", f.vsid->value(), *holder),
                     {{"/vsid", "is in use"}});
    }
    return;
  }
  const auto vsid =
      first_free_in(w.db, w.hints, store::Allocations::Space::kVsids, "",
                    {{net::Vsid::kFirstAllocatable, net::Vsid::kLastAllocatable}}, {}, "vsid");
  if (!vsid) throw conflict("every VSID from 4096 to 16777214 is in use");
  f.vsid = net::Vsid::from_24_bits(static_cast<uint32_t>(*vsid));
}

// A NIC of a VM network that uses IP rewrite owns a PA while it is placed:
// from the site pool whose subnet holds its host's PA, so the underlay
// delivers it to that host. It keeps its PA while it stays in that pool's
// subnet, and gets a new one when it moves elsewhere or loses its placement.
void assign_rewrite_pa(Database& db, AllocationHints& hints, const Id& id, VmNic& f) {
  const auto old = f.pa;
  const auto subnet = load<VmSubnet>(db, f.vm_subnet_id);
  const auto network = subnet ? load<VmNetwork>(db, subnet->vm_network_id) : std::nullopt;
  const bool wants = network && network->rewrite() && !f.host_id.empty();
  std::optional<Stored<IpPool>> pool;
  std::string scope;
  if (wants) {
    const auto host = load<Host>(db, f.host_id).value();
    const auto host_pa = host.pa.value();
    scope = site_scope(db, host.site_id);
    for (auto& p : pools_where(db, "site_id", host.site_id)) {
      if (p.subnet && p.subnet->contains(net::IpAddress(host_pa))) {
        pool = std::move(p);
        break;
      }
    }
    if (!pool) {
      throw conflict(fmt::format("host {} has no site IP pool on the subnet of its PA {}: a NIC "
                                 "of a rewrite VM network needs a PA from it",
                                 host.id, host_pa.to_string()),
                     {{"/host_id", "no IP pool for rewrite PAs on the host's subnet"}});
    }
    if (old && pool->offers(*old) && owner_of_address(db, scope, *old) == id) {
      return;  // placed in the same subnet: the PA stays
    }
  }
  if (old) {
    hints.clear();
    store::Allocations(db).free_addresses(id, "ln:");
    f.pa.reset();
  }
  if (wants) f.pa = take_address(db, hints, scope, {*pool}, std::nullopt, id, "/host_id", "");
}

// --- MACs ---

std::vector<Stored<MacPool>> mac_pools_default_first(Database& db) {
  auto pools = where<MacPool>(db, {});
  std::stable_partition(pools.begin(), pools.end(),
                        [](const auto& pool) { return pool.id == kDefaultMacPoolId; });
  return pools;
}

void record_mac(Database& db, const std::string& scope, uint64_t mac, const Id& owner) {
  store::Allocations allocations(db);
  if (const auto holder = allocations.mac_owner(scope, mac)) {
    throw conflict(
        fmt::format("MAC {} is in use by {}", net::MacAddress::from_u64(mac).to_string(), *holder),
        {{"/mac", "is in use"}});
  }
  allocations.take_mac(scope, mac, owner);
}

// A MAC given by the client (a NIC's, a static record's): unicast, and
// unique within the MAC pool it falls in (or among the given ones).
void take_given_mac(Database& db, const std::vector<Stored<MacPool>>& pools, const Id& owner,
                    net::MacAddress mac) {
  if (!mac.is_unicast() || mac.is_zero()) throw invalid("/mac", "must be a unicast MAC address");
  std::string scope = "given";
  for (const auto& pool : pools) {
    if (pool.start <= mac && mac <= pool.end) scope = pool.id;
  }
  record_mac(db, scope, mac.to_u64(), owner);
}

// --- appliances: routes whose next hop is a VM NIC (issue 19) ---

// Whether a NIC with `profile` may send from every address of `prefix`: what
// an appliance forwards for a route through it carries those sources, and
// the agent drops sources its port profile does not allow.
bool profile_allows(const std::optional<Stored<PortProfile>>& profile,
                    const net::IpPrefix& prefix) {
  if (!profile) return false;
  return std::any_of(profile->allowed_addresses.begin(), profile->allowed_addresses.end(),
                     [&](const net::IpPrefix& allowed) {
                       return allowed.length() <= prefix.length() &&
                              allowed.contains(prefix.address());
                     });
}

std::optional<Stored<PortProfile>> profile_of(Database& db, const VmNic& nic) {
  if (nic.port_profile_id.empty()) return std::nullopt;
  return load<PortProfile>(db, nic.port_profile_id);
}

std::string profile_label(const std::optional<Stored<PortProfile>>& profile) {
  return profile ? fmt::format("its port profile \"{}\" ({})", profile->name, profile->id)
                 : std::string("it has no port profile, so it");
}

// The routes of `network` through `ca`.
std::vector<Stored<Route>> routes_through(Database& db, const Id& network, net::Ipv4Address ca) {
  std::vector<Stored<Route>> out;
  for (auto& route : where<Route>(db, {.column = "vm_network_id", .value = network})) {
    if (route.next_hop == ca) out.push_back(std::move(route));
  }
  return out;
}

// The first route of `network` through the NIC (its CA is the next hop)
// whose prefix `profile` does not allow as a source.
std::optional<Stored<Route>> route_not_allowed(Database& db, const Id& network, const VmNic& nic,
                                               const std::optional<Stored<PortProfile>>& profile) {
  if (!nic.ip) return std::nullopt;
  for (auto& route : routes_through(db, network, *nic.ip)) {
    if (!profile_allows(profile, route.prefix)) return std::move(route);
  }
  return std::nullopt;
}

// A NIC (new, or with a new profile) whose CA is the next hop of routes:
// its profile must allow each route's prefix as a source.
void require_routes_allowed(Database& db, const Id& nic_id, const VmNic& nic, const Id& network) {
  const auto profile = profile_of(db, nic);
  if (const auto route = route_not_allowed(db, network, nic, profile)) {
    throw conflict(
        fmt::format(
            "route {} sends {} through {}, and {} does not allow sources in {} (VM NIC {}): "
            "give the NIC a port profile whose allowed_addresses hold {}",
            route->id, route->prefix.to_string(), nic.ip->to_string(), profile_label(profile),
            route->prefix.to_string(), nic_id, route->prefix.to_string()),
        {{"/port_profile_id", "does not allow what routes through the NIC carry"}});
  }
}

// What a tenant may do with its NIC's port profile: name one granted to it
// (Tenant::port_profile_ids), or none, which is the tenant's default
// profile when it has one. A profile an administrator gave the NIC that is
// not granted stays: leaving it out keeps it, another is 403. So a limit
// the administrator set is the tenant's to keep.
void tenants_profile_choice(Database& db, const Id& tenant_id, VmNic& f, const VmNic* before) {
  const auto tenant = load<Tenant>(db, tenant_id);
  const std::vector<Id> grants =
      tenant ? granted_port_profiles(tenant->port_profile_ids) : std::vector<Id>();
  const auto granted = [&](const Id& id) {
    return std::find(grants.begin(), grants.end(), id) != grants.end();
  };
  Id& chosen = f.port_profile_id;
  const Id old = before ? before->port_profile_id : Id();
  if (before != nullptr && chosen == old) return;
  if (!old.empty() && !granted(old)) {
    if (chosen.empty()) {
      chosen = old;
      return;
    }
    throw forbidden(fmt::format("/port_profile_id: an administrator gave this NIC port profile {}, "
                                "which is not granted to your tenant: only an administrator "
                                "changes it",
                                old),
                    {{"/port_profile_id", "only an administrator may change it"}});
  }
  if (chosen.empty()) {
    if (tenant) chosen = tenant->default_port_profile_id;
    return;
  }
  if (!granted(chosen)) {
    throw invalid("/port_profile_id",
                  fmt::format("port profile {} is not granted to your tenant (whoami lists what "
                              "is; an administrator grants more)",
                              chosen));
  }
}

void vm_nics(W w, Row& row, VmNic& f, const VmNic* before) {
  if (!f.host_id.empty()) {
    const auto host = require_ref<Host>(w.db, w.who, f.host_id, "/host_id");
    // The external interface belongs to the host's gateways (XDP in
    // external mode): a VM port there would take the external network.
    if (!f.interface.empty() && f.interface == host.external_interface) {
      throw invalid("/interface", fmt::format("{} is the external interface of host {}: a VM NIC "
                                              "needs its own interface",
                                              f.interface, host.id));
    }
  }
  if (!f.interface.empty() && f.host_id.empty()) throw invalid("/interface", "needs host_id");
  if (!w.who.is_admin()) tenants_profile_choice(w.db, w.who.tenant_id, f, before);
  if (!f.port_profile_id.empty())
    require_ref<PortProfile>(w.db, w.who, f.port_profile_id, "/port_profile_id");
  if (before != nullptr) {
    if (f.port_profile_id != before->port_profile_id) {
      const auto subnet = load<VmSubnet>(w.db, f.vm_subnet_id);
      if (subnet) require_routes_allowed(w.db, row.id, f, subnet->vm_network_id);
    }
    return assign_rewrite_pa(w.db, w.hints, row.id, f);
  }
  const auto subnet = require_ref<VmSubnet>(w.db, w.who, f.vm_subnet_id, "/vm_subnet_id");
  row.tenant_id = subnet.tenant_id;
  const auto pools = pools_where(w.db, "vm_subnet_id", subnet.id);
  // A new NIC that names no profile gets its tenant's default, whoever
  // creates it (a compute orchestrator with an administrator's token too).
  if (f.port_profile_id.empty()) {
    if (const auto tenant = load<Tenant>(w.db, row.tenant_id))
      f.port_profile_id = tenant->default_port_profile_id;
  }

  // The MAC: given (unique within the pool it falls in), or the first free
  // one of the MAC pools, the default pool first.
  const auto mac_pools = mac_pools_default_first(w.db);
  if (f.mac) {
    take_given_mac(w.db, mac_pools, row.id, *f.mac);
  } else {
    for (const auto& pool : mac_pools) {
      if (auto mac =
              first_free_in(w.db, w.hints, store::Allocations::Space::kMacs, pool.id,
                            {{pool.start.to_u64(), pool.end.to_u64()}}, {}, "mac|" + pool.id)) {
        record_mac(w.db, pool.id, *mac, row.id);
        f.mac = net::MacAddress::from_u64(*mac);
        break;
      }
    }
    if (!f.mac) throw conflict("every MAC pool is exhausted", {{"/mac", "no free MAC address"}});
  }

  // The IP: given (inside the subnet, not its network, broadcast or gateway
  // address), or the first free address of the subnet's pools.
  const net::IpPrefix& prefix = subnet.prefix;
  if (f.ip) {
    const net::IpAddress a(*f.ip);
    if (!prefix.contains(a)) throw invalid("/ip", fmt::format("is outside {}", prefix.to_string()));
    if (prefix.length() <= 30 && (a == prefix.first() || a == prefix.last())) {
      throw invalid("/ip",
                    fmt::format("is the network or broadcast address of {}", prefix.to_string()));
    }
    for (const auto& p : pools) {
      if (p.gateway == f.ip) throw invalid("/ip", "is the VM subnet's gateway");
    }
  }
  f.ip = take_address(
      w.db, w.hints, subnet_scope(subnet.id), pools, f.ip, row.id, "/ip",
      fmt::format("VM subnet {} has no IP pool: give ip, or create an IP pool for the subnet",
                  subnet.id));
  require_routes_allowed(w.db, row.id, f, subnet.vm_network_id);
  assign_rewrite_pa(w.db, w.hints, row.id, f);
}

// A gateway host: a host with an external interface (DESIGN.md section 4).
bool is_gateway_host(const Host& host) { return !host.external_interface.empty(); }

// The prefixes of a VM network's subnets.
std::vector<net::IpPrefix> network_prefixes(Database& db, const Id& network) {
  std::vector<net::IpPrefix> out;
  for (const auto& subnet : where<VmSubnet>(db, {.column = "vm_network_id", .value = network}))
    out.push_back(subnet.prefix);
  return out;
}

// Whether a forwarding gateway of `network` could run on `host` beside the
// forwarding gateways there: inbound, they are told apart by destination
// alone, so their prefixes must not overlap (the policy guard refuses it;
// placement avoids it).
bool forwarding_fits(Database& db, const Id& host, const Id& network) {
  const auto mine = network_prefixes(db, network);
  for (const auto& gateway : where<Gateway>(db, {.column = "host_id", .value = host})) {
    if (!gateway.forwarding() || gateway.vm_network_id == network) continue;
    for (const auto& theirs : network_prefixes(db, gateway.vm_network_id)) {
      for (const auto& p : mine) {
        if (p.overlaps(theirs)) return false;
      }
    }
  }
  return true;
}

// Where a new gateway runs: the gateway host with the fewest gateways (then
// the first by name) among those whose site shares the external pool's
// site's host group (any gateway host when that host group is empty), as
// SCVMM scopes a logical network's site to host groups. "" when none.
Id place_gateway(Database& db, const IpPool& pool, const Gateway& gateway) {
  const auto pool_site = load<Site>(db, pool.site_id);
  const std::string group = pool_site ? pool_site->host_group : std::string();
  auto load_of = objects(db, kind_of<Gateway>()).count_by("host_id");
  std::map<Id, std::string> group_of_site;
  std::tuple<long long, std::string, Id> best{-1, "", ""};  // load, name, id
  for (const auto& host : where<Host>(db, {})) {
    if (!is_gateway_host(host)) continue;
    if (!group.empty()) {
      if (!group_of_site.contains(host.site_id)) {
        const auto site = load<Site>(db, host.site_id);
        group_of_site[host.site_id] = site ? site->host_group : std::string();
      }
      if (group_of_site[host.site_id] != group) continue;
    }
    if (gateway.forwarding() && !forwarding_fits(db, host.id, gateway.vm_network_id)) continue;
    const std::tuple<long long, std::string, Id> candidate{load_of[host.id], host.name, host.id};
    if (std::get<0>(best) < 0 || candidate < best) best = candidate;
  }
  return std::get<2>(best);
}

void gateways(W w, Row& row, Gateway& f, const Gateway* before) {
  const auto network = require_ref<VmNetwork>(w.db, w.who, f.vm_network_id, "/vm_network_id");
  if (before == nullptr) {
    row.tenant_id = network.tenant_id;
    if (network.rewrite()) {
      throw invalid("/vm_network_id",
                    "is a VM network with translation \"rewrite\": gateways carry NVGRE, so "
                    "they serve VM networks with translation \"encap\"");
    }
    // One gateway per VM network: it is where everything that leaves the
    // network goes (as in SCVMM).
    const auto other =
        objects(w.db, kind_of<Gateway>())
            .where(
                {.column = "vm_network_id", .value = network.id, .except_id = row.id, .limit = 1});
    if (!other.empty()) {
      throw conflict(
          fmt::format("VM network {} has a gateway already ({})", network.id, other.front().id),
          {{"/vm_network_id", "has a gateway already"}});
    }
  }
  // NAT rules forward to CAs of the VM network.
  if (!f.nat_rules.empty() && f.kind != "nat")
    throw invalid("/nat_rules", "are for NAT gateways only");
  if (!f.nat_rules.empty()) {
    const auto prefixes = network_prefixes(w.db, network.id);
    std::vector<FieldError> outside;
    for (size_t i = 0; i < f.nat_rules.size(); ++i) {
      const net::IpAddress a(f.nat_rules[i].internal_ip);
      if (std::none_of(prefixes.begin(), prefixes.end(),
                       [&](const net::IpPrefix& p) { return p.contains(a); })) {
        outside.push_back({fmt::format("/nat_rules/{}/internal_ip", i),
                           "is in none of the VM network's subnets"});
      }
    }
    if (!outside.empty()) throw invalid_fields(std::move(outside));
  }
  if (!f.host_id.empty()) {
    const auto host = require_ref<Host>(w.db, w.who, f.host_id, "/host_id");
    if (!is_gateway_host(host)) {
      throw invalid("/host_id", fmt::format("host {} has no external_interface: it is not a "
                                            "gateway host",
                                            host.id));
    }
  }
  if (before != nullptr) return;
  granted(w.db, w.who, row.tenant_id, f.external_pool_id, "external_pool_id",
          &Tenant::external_pool_ids, "external_pool_ids", "external pool");
  const auto pool = require_ref<IpPool>(w.db, w.who, f.external_pool_id, "/external_pool_id");
  require_external_pool(w.db, pool, "/external_pool_id");
  if (f.host_id.empty()) f.host_id = place_gateway(w.db, pool, f);
  f.external_ip = take_address(w.db, w.hints, site_scope(w.db, pool.site_id), {pool}, std::nullopt,
                               row.id, "/external_pool_id", "");
}

void routes(W w, Row& row, Route& f, const Route* before) {
  if (before == nullptr) {
    const auto network = require_ref<VmNetwork>(w.db, w.who, f.vm_network_id, "/vm_network_id");
    row.tenant_id = network.tenant_id;
  }
  // Through an appliance VM (the next hop is one of the network's NICs): it
  // forwards what the route carries, so its port profile must allow those
  // sources, or the agent would drop what it forwards as spoofed.
  if (!f.next_hop.is_unspecified()) {
    for (const auto& subnet :
         where<VmSubnet>(w.db, {.column = "vm_network_id", .value = f.vm_network_id})) {
      if (!subnet.prefix.contains(net::IpAddress(f.next_hop))) continue;
      const Id owner = owner_of_address(w.db, subnet_scope(subnet.id), f.next_hop);
      const auto nic = owner.empty() ? std::nullopt : load<VmNic>(w.db, owner);
      if (!nic) break;  // a static record's, or nobody's yet
      const auto profile = profile_of(w.db, *nic);
      if (!profile_allows(profile, f.prefix)) {
        throw invalid("/next_hop",
                      fmt::format("is VM NIC {}, and {} does not allow sources in {}: give the "
                                  "NIC a port profile whose allowed_addresses hold {}",
                                  nic->id, profile_label(profile), f.prefix.to_string(),
                                  f.prefix.to_string()));
      }
    }
  }
  for (const auto& other : where<Route>(
           w.db, {.column = "vm_network_id", .value = f.vm_network_id, .except_id = row.id})) {
    if (other.prefix == f.prefix) {
      throw conflict(fmt::format("route {} has the same prefix", other.id),
                     {{"/prefix", "has a route already"}});
    }
  }
}

void port_profiles(W w, Row& row, PortProfile& f, const PortProfile* before) {
  if (before == nullptr || f.name != before->name)
    require_unique_name(w.db, kind_of<PortProfile>(), row.id, f.name);
  if (f.bandwidth_min_mbps && f.bandwidth_max_mbps && *f.bandwidth_min_mbps > *f.bandwidth_max_mbps)
    throw invalid("/bandwidth_min_mbps", "must not exceed bandwidth_max_mbps");
  if (before == nullptr || f.allowed_addresses == before->allowed_addresses) return;
  // Narrowed under appliances: every route through a NIC of this profile
  // must stay allowed.
  const std::optional<Stored<PortProfile>> after = Stored<PortProfile>{f, row.id, ""};
  for (const auto& nic : where<VmNic>(w.db, {.column = "port_profile_id", .value = row.id})) {
    const auto subnet = load<VmSubnet>(w.db, nic.vm_subnet_id);
    if (!subnet) continue;
    if (const auto route = route_not_allowed(w.db, subnet->vm_network_id, nic, after)) {
      throw conflict(
          fmt::format("route {} sends {} through VM NIC {} ({}), which has this "
                      "profile: allowed_addresses must keep holding {}",
                      route->id, route->prefix.to_string(), nic.id, nic.ip->to_string(),
                      route->prefix.to_string()),
          {{"/allowed_addresses", "no longer allows what routes through its NICs carry"}});
    }
  }
}

void static_records(W w, Row& row, StaticRecord& f, const StaticRecord* before) {
  if (f.pa.is_unspecified() || f.pa.is_broadcast() || f.pa.is_multicast())
    throw invalid("/pa", "must be a unicast IPv4 address");
  // Its MAC is taken as a NIC's is: no NIC or other record can have it (the
  // hosts look records up by (VSID, MAC) too).
  if (before == nullptr || f.mac != before->mac) {
    if (before != nullptr) store::Allocations(w.db).free_macs(row.id);
    take_given_mac(w.db, mac_pools_default_first(w.db), row.id, f.mac);
  }
  if (before != nullptr) return;
  const auto holder = store::Allocations(w.db).vsid_holder(f.vsid->value());
  const auto subnet = holder ? load<VmSubnet>(w.db, *holder) : std::nullopt;
  if (!subnet) throw invalid("/vsid", fmt::format("no VM subnet has VSID {}", f.vsid->value()));
  const auto network = load<VmNetwork>(w.db, subnet->vm_network_id).value();
  if (!network.hnv() || network.rewrite()) {
    throw invalid("/vsid", fmt::format("is VM subnet {}'s, of a VM network without NVGRE "
                                       "(isolation \"none\" or translation \"rewrite\"): a static "
                                       "record is an NVGRE endpoint",
                                       subnet->id));
  }
  const net::IpAddress ca(f.ca);
  if (!subnet->prefix.contains(ca))
    throw invalid("/ca", fmt::format("is outside {}, the prefix of VSID {}",
                                     subnet->prefix.to_string(), f.vsid->value()));
  if (subnet->prefix.length() <= 30 &&
      (ca == subnet->prefix.first() || ca == subnet->prefix.last()))
    throw invalid("/ca", fmt::format("is the network or broadcast address of {}",
                                     subnet->prefix.to_string()));
  // The CA is the record's in its subnet: no NIC can be given it, and a
  // NIC's is refused here.
  take_address(w.db, w.hints, subnet_scope(subnet->id),
               pools_where(w.db, "vm_subnet_id", subnet->id), f.ca, row.id, "/ca", "");
  f.vm_subnet_id = subnet->id;
}

// The registered before_write of kind S: the row's fields as S for
// `Rule`, written back after it.
template <class S, void (*Rule)(W, Row&, S&, const S*)>
void typed_write(W w, Row& row, const Row* before) {
  S object = decode<S>(row.fields);
  std::optional<S> old;
  if (before != nullptr) old = decode<S>(before->fields);
  Rule(w, row, object, old ? &*old : nullptr);
  encode_into(object, row.fields);
}

// --- what a delete must respect, and what a read computes ---

// A tenant's objects name it in their tenant_id.
void tenant_held_by(Database& db, const Row& row, std::vector<std::string>& users) {
  for (const Kind& other : kinds()) {
    if (!other.tenant_owned) continue;
    for (const auto& user :
         objects(db, other).where({.column = "tenant_id", .value = row.id, .limit = 5}))
      users.push_back(fmt::format("{} {}", other.collection, user.id));
  }
}

void ip_pool_held_by(Database& db, const Row& row, std::vector<std::string>& users) {
  for (const auto& [_, owner] : store::Allocations(db).addresses_of_pool(row.id, 5))
    users.push_back(fmt::format("the address of {}", owner));
}

// A tenant's default port profile (one of its grants, which the built-ins
// are implicitly).
void port_profile_held_by(Database& db, const Row& row, std::vector<std::string>& users) {
  for (const auto& tenant : rows_where(db, kind_of<Tenant>(), {})) {
    if (users.size() >= 5) break;
    if (tenant.fields.value("default_port_profile_id", "") == row.id)
      users.push_back(fmt::format("tenants {} (its default port profile)", tenant.id));
  }
}

void mac_pool_held_by(Database& db, const Row& row, std::vector<std::string>& users) {
  for (const auto& owner : store::Allocations(db).mac_owners(row.id, 5))
    users.push_back(fmt::format("the address of {}", owner));
}

void token_before_delete(Database& db, const Row& row) {
  if (decode<Token>(row.fields).role == "admin" && store::Tokens(db).admins() <= 1)
    throw conflict("it is the last admin token: create another one first");
}

json not_connected() {
  return {{"status", "pending"},
          {"detail", json::array({{{"code", "host_not_connected"},
                                   {"message", "no agent has connected for this host"}}})}};
}

// Realization state, from the southbound side when there is one (an
// offline tool has none: nothing is connected).
void host_computed(Database&, json& object, const RealizationView* view) {
  if (view != nullptr) {
    const json state = view->host_state(object.at("id"));
    for (const auto& [key, value] : state.items()) object[key] = value;
    return;
  }
  object["connected"] = false;
  object["last_seen"] = nullptr;
  object["desired_generation"] = 0;
  object["realized_generation"] = 0;
  object["configuration_state"] = not_connected();
}

void nic_computed(Database&, json& object, const RealizationView* view) {
  if (view != nullptr) {
    object["configuration_state"] = view->nic_state(object.at("id"), decode<VmNic>(object));
    return;
  }
  object["configuration_state"] =
      object.contains("host_id")
          ? not_connected()
          : json{{"status", "pending"},
                 {"detail",
                  json::array({{{"code", "not_placed"},
                                {"message", "the NIC has no host_id and interface yet"}}})}};
}

void gateway_computed(Database& db, json& object, const RealizationView* view) {
  // What the physical network routes to external_ip: the VM network's
  // subnets (forwarding; a NAT gateway advertises only its address).
  json prefixes = json::array();
  const auto gateway = decode<Gateway>(object);
  if (gateway.forwarding()) {
    for (const auto& prefix : network_prefixes(db, gateway.vm_network_id))
      prefixes.push_back(prefix.to_string());
  }
  object["advertised_prefixes"] = std::move(prefixes);
  object["configuration_state"] =
      view != nullptr ? view->gateway_state(object.at("id"), gateway) : not_connected();
}

// A NIC bound to its host's uplink would have the agent attach a VM port's
// XDP program there and cut the host off (the agent refuses it too, with
// interface_reserved, for the hosts the controller has not heard from).
void nic_placement(const RealizationView& view, const json& fields) {
  const auto nic = decode<VmNic>(fields);
  if (nic.host_id.empty() || nic.interface.empty()) return;
  const std::string uplink = view.uplink(nic.host_id);
  if (!uplink.empty() && nic.interface == uplink) {
    throw invalid("/interface",
                  fmt::format("{} is the uplink of host {}: a VM NIC needs its own interface",
                              uplink, nic.host_id));
  }
}

// --- one registration per kind ---

template <class S>
std::pair<const std::string, Rules> registration(Rules rules) {
  return {S::meta.collection, rules};
}

const std::map<std::string, Rules, std::less<>>& registry() {
  static const std::map<std::string, Rules, std::less<>> all = {
      registration<Tenant>(
          {.before_write = typed_write<Tenant, tenants>, .held_by = tenant_held_by}),
      registration<Token>(
          {.before_write = typed_write<Token, tokens>, .before_delete = token_before_delete}),
      registration<LogicalNetwork>({.before_write = typed_write<LogicalNetwork, logical_networks>}),
      registration<Site>({.before_write = typed_write<Site, sites>}),
      registration<IpPool>({.before_write = typed_write<IpPool, ip_pools>,
                            .held_by = ip_pool_held_by,
                            .partial_fields = true}),
      registration<MacPool>(
          {.before_write = typed_write<MacPool, mac_pools>, .held_by = mac_pool_held_by}),
      registration<Host>({.before_write = typed_write<Host, hosts>, .computed = host_computed}),
      registration<VmNetwork>({.before_write = typed_write<VmNetwork, vm_networks>}),
      registration<VmSubnet>({.before_write = typed_write<VmSubnet, vm_subnets>}),
      registration<VmNic>({.before_write = typed_write<VmNic, vm_nics>,
                           .computed = nic_computed,
                           .check_placement = nic_placement}),
      registration<Gateway>(
          {.before_write = typed_write<Gateway, gateways>, .computed = gateway_computed}),
      registration<Route>({.before_write = typed_write<Route, routes>}),
      registration<PortProfile>({.before_write = typed_write<PortProfile, port_profiles>,
                                 .held_by = port_profile_held_by}),
      registration<StaticRecord>({.before_write = typed_write<StaticRecord, static_records>}),
  };
  return all;
}

}  // namespace

const Rules& rules_of(const Kind& kind) {
  // Every kind has its registration: checked once, at the first use.
  static const std::map<const Kind*, const Rules*> by_kind = [] {
    std::map<const Kind*, const Rules*> out;
    for (const Kind& k : kinds()) {
      const auto it = registry().find(k.collection);
      if (it == registry().end())
        throw std::logic_error("the kind " + k.collection + " has no rules in semantics.cpp");
      out[&k] = &it->second;
    }
    if (out.size() != registry().size())
      throw std::logic_error("semantics.cpp registers rules for a kind that does not exist");
    return out;
  }();
  return *by_kind.at(&kind);
}

void grant_what_tenants_use(Database& db) {
  const Kind& tenants_kind = kind_of<Tenant>();
  std::vector<Row> upgraded;
  for (auto& tenant : rows_where(db, tenants_kind, {})) {
    if (tenant.fields.contains("logical_network_ids")) continue;
    tenant.fields["logical_network_ids"] =
        objects(db, kind_of<VmNetwork>()).distinct("logical_network_id", "tenant_id", tenant.id);
    tenant.fields["external_pool_ids"] =
        objects(db, kind_of<Gateway>()).distinct("external_pool_id", "tenant_id", tenant.id);
    tenant.etag = new_etag();
    upgraded.push_back(std::move(tenant));
  }
  for (const Row& row : upgraded) update_row(db, tenants_kind, row);
}

void before_write(Database& db, AllocationHints& hints, const Kind& kind, const Principal& who,
                  Row& row, const Row* before) {
  if (const auto f = rules_of(kind).before_write) f({db, hints, who}, row, before);
}

void before_delete(Database& db, AllocationHints& hints, const Kind& kind, const Row& row) {
  // Whatever refers to the object keeps it alive: name the users.
  std::vector<std::string> users;
  for (const Kind& other : kinds()) {
    for (const auto& f : other.fields) {
      if (!f.column || f.ref != kind.collection) continue;
      for (const auto& user :
           objects(db, other).where({.column = f.name, .value = row.id, .limit = 5}))
        users.push_back(fmt::format("{} {}", other.collection, user.id));
    }
  }
  // A tenant's grants (a JSON list in its body).
  if (!kind.granted_in.empty()) {
    // Read in C++, not with SQLite's JSON functions: the SQL stays portable
    // (migrations/README.md). Deleting a logical network or a pool is rare.
    for (const auto& tenant : rows_where(db, kind_of<Tenant>(), {})) {
      if (users.size() >= 5) break;
      const json ids = tenant.fields.value(kind.granted_in, json::array());
      if (std::find(ids.begin(), ids.end(), json(row.id)) != ids.end())
        users.push_back(fmt::format("tenants {} (granted)", tenant.id));
    }
  }
  const Rules& rules = rules_of(kind);
  if (rules.held_by) rules.held_by(db, row, users);
  if (!users.empty()) {
    std::string list;
    for (const auto& u : users) list += (list.empty() ? "" : ", ") + u;
    throw conflict(fmt::format("{} {} is in use by {}", kind.singular, row.id, list));
  }
  if (rules.before_delete) rules.before_delete(db, row);
  free_allocations(db, hints, row.id);
}

void check_placement(const RealizationView* view, const Kind& kind, const json& fields) {
  if (const auto f = rules_of(kind).check_placement; f != nullptr && view != nullptr)
    f(*view, fields);
}

void add_computed(Database& db, const Kind& kind, json& object, const RealizationView* view) {
  if (const auto f = rules_of(kind).computed) f(db, object, view);
}

}  // namespace vnet::model

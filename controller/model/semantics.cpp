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

std::string text(const json& fields, const char* name) {
  const auto it = fields.find(name);
  return it != fields.end() && it->is_string() ? it->get<std::string>() : std::string();
}
net::Ipv4Address ipv4(const std::string& s) { return net::Ipv4Address::parse(s).value(); }
net::IpPrefix prefix(const std::string& s) { return net::IpPrefix::parse(s).value(); }
uint64_t mac_value(const std::string& s) { return net::MacAddress::parse(s).value().to_u64(); }

// The object `id` of `collection` named by field `pointer`: it must exist,
// and a tenant may only name its own tenant-owned objects. Either way the
// answer is the same, so ids leak nothing.
Row require_ref(Database& db, const Principal& who, const std::string& collection,
                const std::string& id, const std::string& pointer) {
  const Kind& target = kind(collection);
  auto row = load_row(db, target, id);
  // A row of a tenant-owned kind without a tenant is the administrator's (a
  // site's IP pool): a tenant may name it by id (a NAT gateway's external
  // pool, docs/api.md) without being able to read it.
  const bool admins = row && row->tenant_id.empty();
  if (!row || (target.tenant_owned && !admins && !visible_to(who, target, *row))) {
    throw invalid(pointer, fmt::format("there is no {} with id {}", target.singular, id));
  }
  return *row;
}

void require_unique_name(Database& db, const Kind& kind, const Row& row) {
  const auto taken = objects(db, kind).where(
      {.column = "name", .value = text(row.fields, "name"), .except_id = row.id, .limit = 1});
  if (!taken.empty()) {
    throw conflict(fmt::format("a {} named \"{}\" exists already (id {})", kind.singular,
                               text(row.fields, "name"), taken.front().id),
                   {{"/name", "is taken"}});
  }
}

// The ids a tenant was granted in `grants` (logical_network_ids,
// external_pool_ids).
std::vector<std::string> grants_of(Database& db, const std::string& tenant_id,
                                   const std::string& grants) {
  std::vector<std::string> out;
  if (auto t = load_row(db, kind("tenants"), tenant_id); t && t->fields.contains(grants)) {
    for (const auto& id : t->fields.at(grants)) out.push_back(id.get<std::string>());
  }
  return out;
}

// The object field `field` of a tenant's new object names: one of the
// tenant's grants, or its only grant when the field is absent. An
// administrator writing for the tenant may name any (it grants them anyway).
// A name not granted is refused in the same words whether or not it exists.
std::string granted(Database& db, const Principal& who, const std::string& tenant_id, json& fields,
                    const std::string& field, const std::string& grants, const std::string& what) {
  const auto ids = grants_of(db, tenant_id, grants);
  const std::string pointer = "/" + field;
  if (!fields.contains(field) || fields.at(field).is_null()) {
    if (ids.size() == 1) {
      fields[field] = ids.front();
      return ids.front();
    }
    if (ids.empty()) {
      throw invalid(pointer, fmt::format("is required: the tenant has no {} granted (an "
                                         "administrator grants them in the tenant's {})",
                                         what, grants));
    }
    throw invalid(pointer, fmt::format("is required: the tenant has {} of them granted; name "
                                       "one (whoami lists them)",
                                       ids.size()));
  }
  const std::string id = text(fields, field.c_str());
  if (!who.is_admin() && std::find(ids.begin(), ids.end(), id) == ids.end()) {
    throw invalid(pointer, fmt::format("{} {} is not granted to your tenant (whoami lists what "
                                       "is; an administrator grants more)",
                                       what, id));
  }
  return id;
}

// A site pool of a logical network without network virtualization: where
// gateways take external addresses.
void require_external_pool(Database& db, const Row& pool, const std::string& pointer) {
  if (!pool.fields.contains("site_id"))
    throw invalid(pointer, "must be an IP pool of a site, not of a VM subnet");
  const auto site = load_row(db, kind("sites"), text(pool.fields, "site_id"));
  const auto ln =
      site ? load_row(db, kind("logical-networks"), text(site->fields, "logical_network_id"))
           : std::nullopt;
  if (!ln || ln->fields.value("network_virtualization", true)) {
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

std::vector<alloc::Range> pool_ranges(const json& pool) {
  std::vector<alloc::Range> out;
  for (const auto& r : pool.at("ranges")) {
    out.push_back({ipv4(r.at("start").get<std::string>()).to_u32(),
                   ipv4(r.at("end").get<std::string>()).to_u32()});
  }
  return out;
}

bool pool_offers(const json& pool, net::Ipv4Address a) {
  for (const auto& r : pool_ranges(pool)) {
    if (a.to_u32() >= r.first && a.to_u32() <= r.last) return true;
  }
  return false;
}

std::string pool_label(const Row& pool) {
  const std::string name = text(pool.fields, "name");
  return name.empty() ? fmt::format("IP pool {}", pool.id)
                      : fmt::format("IP pool \"{}\" ({})", name, pool.id);
}

// The first address of `pool` that is free in `scope`: never its gateway
// nor a reserved address.
std::optional<net::Ipv4Address> allocate_from(Database& db, AllocationHints& hints,
                                              const std::string& scope, const Row& pool) {
  std::set<uint64_t> excluded;
  for (const auto& r : pool.fields.value("reserved", json::array())) {
    excluded.insert(ipv4(r.get<std::string>()).to_u32());
  }
  if (const std::string gw = text(pool.fields, "gateway"); !gw.empty())
    excluded.insert(ipv4(gw).to_u32());
  const auto a = first_free_in(db, hints, store::Allocations::Space::kAddresses, scope,
                               pool_ranges(pool.fields), excluded, scope + "|" + pool.id);
  if (!a) return std::nullopt;
  return net::Ipv4Address::from_u32(static_cast<uint32_t>(*a));
}

std::vector<Row> pools_where(Database& db, const std::string& column, const std::string& value) {
  return rows_where(db, kind("ip-pools"), {.column = column, .value = value});
}

// Provider and external addresses are unique within a logical network.
std::string site_scope(Database& db, const std::string& site_id) {
  auto site = load_row(db, kind("sites"), site_id);
  return "ln:" + text(site->fields, "logical_network_id");
}
std::string subnet_scope(const std::string& vm_subnet_id) { return "subnet:" + vm_subnet_id; }

// Allocates (or, when given, records) an address for `owner` from `pools`.
net::Ipv4Address take_address(Database& db, AllocationHints& hints, const std::string& scope,
                              const std::vector<Row>& pools, const std::string& given,
                              const std::string& owner, const std::string& pointer,
                              const std::string& no_pool_message) {
  if (!given.empty()) {
    const auto a = ipv4(given);
    std::string pool_id;
    for (const auto& p : pools) {
      if (pool_offers(p.fields, a)) pool_id = p.id;
    }
    record_address(db, scope, a, pool_id, owner, pointer);
    return a;
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

// --- per kind ---

void tenant_of_new_top_level(Database& db, const Principal& who, Row& row) {
  if (who.is_admin()) {
    if (row.tenant_id.empty())
      throw invalid("/tenant_id", "is required when an administrator creates it");
    require_ref(db, who, "tenants", row.tenant_id, "/tenant_id");
  } else {
    row.tenant_id = who.tenant_id;
  }
}

// A tenant's grants name existing logical networks with network
// virtualization and external site pools.
void tenants(Database& db, const Principal& who, Row& row) {
  require_unique_name(db, kind("tenants"), row);
  const json& lns = row.fields.value("logical_network_ids", json::array());
  for (size_t i = 0; i < lns.size(); ++i) {
    const std::string pointer = fmt::format("/logical_network_ids/{}", i);
    const Row ln = require_ref(db, who, "logical-networks", lns[i].get<std::string>(), pointer);
    if (!ln.fields.value("network_virtualization", false)) {
      throw invalid(pointer, fmt::format("logical network {} does not allow network "
                                         "virtualization: a tenant's VM networks cannot use it",
                                         ln.id));
    }
  }
  const json& pools = row.fields.value("external_pool_ids", json::array());
  for (size_t i = 0; i < pools.size(); ++i) {
    const std::string pointer = fmt::format("/external_pool_ids/{}", i);
    require_external_pool(
        db, require_ref(db, who, "ip-pools", pools[i].get<std::string>(), pointer), pointer);
  }
}

void tokens(Database& db, const Principal& who, Row& row, const Row* before) {
  if (before != nullptr) return;  // only the name can change
  const std::string tenant_id = text(row.fields, "tenant_id");
  std::string role = text(row.fields, "role");
  if (role.empty()) role = tenant_id.empty() ? "admin" : "tenant";
  if (role == "tenant" && tenant_id.empty())
    throw invalid("/tenant_id", "is required for a tenant's token");
  if (role == "admin" && !tenant_id.empty())
    throw invalid("/tenant_id", "an admin token has no tenant");
  if (!tenant_id.empty()) require_ref(db, who, "tenants", tenant_id, "/tenant_id");
  row.fields["role"] = role;
  // 32 random bytes; only their SHA-256 is stored.
  row.secret = "vnet_" + new_etag() + new_etag() + new_etag() + new_etag();
  row.extra_columns = {{"secret_sha256", sha256_hex(row.secret)}};
}

void sites(Database& db, const Principal& who, Row& row, const Row* before) {
  if (before == nullptr)
    require_ref(db, who, "logical-networks", text(row.fields, "logical_network_id"),
                "/logical_network_id");
  const auto& subnets = row.fields.at("subnets");
  for (size_t i = 0; i < subnets.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (prefix(subnets[i].at("prefix")).overlaps(prefix(subnets[j].at("prefix")))) {
        throw invalid(fmt::format("/subnets/{}/prefix", i),
                      fmt::format("overlaps {}", subnets[j].at("prefix").get<std::string>()));
      }
    }
  }
  if (before != nullptr) {
    for (const auto& pool : pools_where(db, "site_id", row.id)) {
      bool kept = false;
      for (const auto& s : subnets) kept = kept || s.at("prefix") == pool.fields.at("subnet");
      if (!kept) {
        throw conflict(
            fmt::format("{} uses subnet {}", pool_label(pool), text(pool.fields, "subnet")),
            {{"/subnets", "must keep the subnets that IP pools use"}});
      }
    }
  }
}

void mac_pools(Database& db, Row& row, const Row* before) {
  if (before != nullptr) return;
  const uint64_t start = mac_value(text(row.fields, "start"));
  const uint64_t end = mac_value(text(row.fields, "end"));
  if (end < start) throw invalid("/end", "comes before start");
  for (const auto& other : rows_where(db, kind("mac-pools"), {.except_id = row.id})) {
    if (start <= mac_value(text(other.fields, "end")) &&
        mac_value(text(other.fields, "start")) <= end) {
      throw conflict(fmt::format("the range overlaps MAC pool {}", other.id),
                     {{"/start", "overlaps another pool"}});
    }
  }
}

void ip_pools(Database& db, const Principal& who, Row& row, const Row* before) {
  json& f = row.fields;
  const bool on_site = f.contains("site_id");
  const bool on_vm_subnet = f.contains("vm_subnet_id");
  if (on_site == on_vm_subnet) {
    throw bad_request(
        "an IP pool belongs to a VM subnet (vm_subnet_id) or, for an administrator, "
        "to a site's subnet (site_id and subnet)",
        {{on_site ? "/vm_subnet_id" : "/vm_subnet_id",
          on_site ? "cannot go with site_id" : "is required"}});
  }
  if (on_site) {
    const Row site = require_ref(db, who, "sites", text(f, "site_id"), "/site_id");
    if (!f.contains("subnet")) throw invalid("/subnet", "is required with site_id");
    bool found = false;
    for (const auto& s : site.fields.at("subnets"))
      found = found || s.at("prefix") == f.at("subnet");
    if (!found) throw invalid("/subnet", fmt::format("is not a subnet of site {}", site.id));
    row.tenant_id.clear();
  } else {
    const Row subnet = require_ref(db, who, "vm-subnets", text(f, "vm_subnet_id"), "/vm_subnet_id");
    if (f.contains("subnet") && f.at("subnet") != subnet.fields.at("prefix")) {
      throw invalid("/subnet", "is the VM subnet's prefix; leave it out");
    }
    f["subnet"] = subnet.fields.at("prefix");
    row.tenant_id = subnet.tenant_id;
    if (!f.contains("gateway")) {
      // The subnet's first address, as DESIGN.md says and HNV does.
      f["gateway"] = prefix(text(f, "subnet")).first().v4().offset(1)->to_string();
    }
  }
  const net::IpPrefix subnet = prefix(text(f, "subnet"));
  auto inside = [&](const std::string& a) { return subnet.contains(net::IpAddress(ipv4(a))); };
  // Every address outside the subnet at once.
  std::vector<FieldError> outside;
  const std::string message = fmt::format("is outside {}", subnet.to_string());
  if (f.contains("ranges")) {
    for (size_t i = 0; i < f.at("ranges").size(); ++i) {
      const auto& r = f.at("ranges")[i];
      for (const char* end : {"start", "end"}) {
        if (!inside(r.at(end))) outside.push_back({fmt::format("/ranges/{}/{}", i, end), message});
      }
    }
  }
  if (f.contains("reserved")) {
    for (size_t i = 0; i < f.at("reserved").size(); ++i) {
      if (!inside(f.at("reserved")[i]))
        outside.push_back({fmt::format("/reserved/{}", i), message});
    }
  }
  if (f.contains("gateway") && !inside(f.at("gateway"))) outside.push_back({"/gateway", message});
  if (!outside.empty()) throw invalid_fields(std::move(outside));
  // Pools never overlap: within a VM subnet (and so within its VM network,
  // whose subnets do not overlap), or within a site.
  const auto ranges = pool_ranges(f);
  for (const auto& other : pools_where(db, on_site ? "site_id" : "vm_subnet_id",
                                       text(f, on_site ? "site_id" : "vm_subnet_id"))) {
    if (other.id == row.id || other.fields.at("subnet") != f.at("subnet")) continue;
    for (const auto& a : ranges) {
      for (const auto& b : pool_ranges(other.fields)) {
        if (a.first <= b.last && b.first <= a.last) {
          throw conflict(fmt::format("the ranges overlap {}", pool_label(other)),
                         {{"/ranges", "overlap another pool"}});
        }
      }
    }
  }
  if (before != nullptr) {
    // Addresses already handed out from this pool must stay inside it.
    for (const auto& [address, owner] : store::Allocations(db).addresses_of_pool(row.id)) {
      const auto a = net::Ipv4Address::from_u32(address);
      if (!pool_offers(f, a)) {
        throw conflict(
            fmt::format("{} is in use by {} and would fall outside the pool", a.to_string(), owner),
            {{"/ranges", "must keep the addresses in use"}});
      }
    }
  }
}

void hosts(Database& db, AllocationHints& hints, const Principal& who, Row& row,
           const Row* before) {
  require_unique_name(db, kind("hosts"), row);
  if (before != nullptr) {
    if (text(row.fields, "external_interface").empty() &&
        !text(before->fields, "external_interface").empty()) {
      std::string list;
      for (const auto& g :
           objects(db, kind("gateways")).where({.column = "host_id", .value = row.id, .limit = 5}))
        list += (list.empty() ? "" : ", ") + g.id;
      if (!list.empty()) {
        throw conflict(fmt::format("host {} runs gateways {}: move them first", row.id, list),
                       {{"/external_interface", "is in use by gateways"}});
      }
    }
    return;
  }
  const Row site = require_ref(db, who, "sites", text(row.fields, "site_id"), "/site_id");
  const std::string given = text(row.fields, "pa");
  if (!given.empty()) {
    bool inside = false;
    for (const auto& s : site.fields.at("subnets"))
      inside = inside || prefix(s.at("prefix")).contains(net::IpAddress(ipv4(given)));
    if (!inside) throw invalid("/pa", fmt::format("is not in a subnet of site {}", site.id));
  }
  const auto pa = take_address(db, hints, site_scope(db, site.id),
                               pools_where(db, "site_id", site.id), given, row.id, "/pa",
                               fmt::format("site {} has no IP pool for provider addresses: give "
                                           "pa, or create an IP pool on the site",
                                           site.id));
  row.fields["pa"] = pa.to_string();
}

// docs/api.md: a VM network's name is unique within its tenant (vnetctl
// names networks by it).
void require_unique_network_name(Database& db, const Row& row) {
  // Portable SQL (migrations/README.md): the names are compared here; a
  // tenant holds at most its quota of VM networks.
  const std::string name = text(row.fields, "name");
  for (const auto& other :
       rows_where(db, kind("vm-networks"),
                  {.column = "tenant_id", .value = row.tenant_id, .except_id = row.id})) {
    if (text(other.fields, "name") != name) continue;
    throw conflict(
        fmt::format("the tenant has a VM network named \"{}\" already (id {})", name, other.id),
        {{"/name", "is taken"}});
  }
}

void vm_networks(Database& db, const Principal& who, Row& row, const Row* before) {
  if (before != nullptr) {
    if (text(row.fields, "name") != text(before->fields, "name")) {
      Row probe = row;
      probe.tenant_id = before->tenant_id;
      require_unique_network_name(db, probe);
    }
    return;
  }
  tenant_of_new_top_level(db, who, row);
  require_unique_network_name(db, row);
  const std::string ln_id = granted(db, who, row.tenant_id, row.fields, "logical_network_id",
                                    "logical_network_ids", "logical network");
  const Row ln = require_ref(db, who, "logical-networks", ln_id, "/logical_network_id");
  if (!ln.fields.value("network_virtualization", false)) {
    throw invalid("/logical_network_id",
                  fmt::format("logical network {} does not allow network virtualization", ln.id));
  }
  row.fields["rdid"] = new_uuid();
}

void vm_subnets(Database& db, AllocationHints& hints, const Principal& who, Row& row,
                const Row* before) {
  if (before != nullptr) return;
  const Row network =
      require_ref(db, who, "vm-networks", text(row.fields, "vm_network_id"), "/vm_network_id");
  row.tenant_id = network.tenant_id;
  const auto p = prefix(text(row.fields, "prefix"));
  for (const auto& other :
       rows_where(db, kind("vm-subnets"), {.column = "vm_network_id", .value = network.id})) {
    const std::string theirs = other.fields.at("prefix");
    if (prefix(theirs).overlaps(p)) {
      throw invalid("/prefix", fmt::format("overlaps {} of VM subnet {}", theirs, other.id));
    }
  }
  if (row.fields.contains("vsid")) {
    const int64_t vsid = row.fields.at("vsid").get<int64_t>();
    if (const auto holder = store::Allocations(db).vsid_holder(vsid)) {
      throw conflict(fmt::format("VSID {} is in use by VM subnet {}", vsid, *holder),
                     {{"/vsid", "is in use"}});
    }
    return;
  }
  const auto vsid =
      first_free_in(db, hints, store::Allocations::Space::kVsids, "",
                    {{net::Vsid::kFirstAllocatable, net::Vsid::kLastAllocatable}}, {}, "vsid");
  if (!vsid) throw conflict("every VSID from 4096 to 16777214 is in use");
  row.fields["vsid"] = *vsid;
}

// A NIC of a VM network that uses IP rewrite owns a PA while it is placed:
// from the site pool whose subnet holds its host's PA, so the underlay
// delivers it to that host. It keeps its PA while it stays in that pool's
// subnet, and gets a new one when it moves elsewhere or loses its placement.
void assign_rewrite_pa(Database& db, AllocationHints& hints, Row& row) {
  json& f = row.fields;
  const std::string old = text(f, "pa");
  const auto subnet = load_row(db, kind("vm-subnets"), text(f, "vm_subnet_id"));
  const auto network =
      subnet ? load_row(db, kind("vm-networks"), text(subnet->fields, "vm_network_id"))
             : std::nullopt;
  const bool wants =
      network && text(network->fields, "translation") == "rewrite" && !text(f, "host_id").empty();
  std::optional<Row> pool;
  std::string scope;
  if (wants) {
    const auto host = load_row(db, kind("hosts"), text(f, "host_id"));
    const auto host_pa = ipv4(text(host->fields, "pa"));
    scope = site_scope(db, text(host->fields, "site_id"));
    for (auto& p : pools_where(db, "site_id", text(host->fields, "site_id"))) {
      if (p.fields.contains("subnet") &&
          prefix(text(p.fields, "subnet")).contains(net::IpAddress(host_pa))) {
        pool = std::move(p);
        break;
      }
    }
    if (!pool) {
      throw conflict(fmt::format("host {} has no site IP pool on the subnet of its PA {}: a NIC "
                                 "of a rewrite VM network needs a PA from it",
                                 host->id, host_pa.to_string()),
                     {{"/host_id", "no IP pool for rewrite PAs on the host's subnet"}});
    }
    if (!old.empty() && pool_offers(pool->fields, ipv4(old)) &&
        owner_of_address(db, scope, ipv4(old)) == row.id) {
      return;  // placed in the same subnet: the PA stays
    }
  }
  if (!old.empty()) {
    hints.clear();
    store::Allocations(db).free_addresses(row.id, "ln:");
    f.erase("pa");
  }
  if (wants)
    f["pa"] = take_address(db, hints, scope, {*pool}, "", row.id, "/host_id", "").to_string();
}

void vm_nics(Database& db, AllocationHints& hints, const Principal& who, Row& row,
             const Row* before) {
  json& f = row.fields;
  if (f.contains("host_id")) {
    const Row host = require_ref(db, who, "hosts", text(f, "host_id"), "/host_id");
    // The external interface belongs to the host's gateways (XDP in
    // external mode): a VM port there would take the external network.
    if (!text(f, "interface").empty() &&
        text(f, "interface") == text(host.fields, "external_interface")) {
      throw invalid("/interface", fmt::format("{} is the external interface of host {}: a VM NIC "
                                              "needs its own interface",
                                              text(f, "interface"), host.id));
    }
  }
  if (f.contains("interface") && !f.contains("host_id"))
    throw invalid("/interface", "needs host_id");
  if (before != nullptr) return assign_rewrite_pa(db, hints, row);
  const Row subnet = require_ref(db, who, "vm-subnets", text(f, "vm_subnet_id"), "/vm_subnet_id");
  row.tenant_id = subnet.tenant_id;
  const auto pools = pools_where(db, "vm_subnet_id", subnet.id);

  // The MAC: given (unique within the pool it falls in), or the first free
  // one of the MAC pools, the default pool first.
  std::vector<std::pair<std::string, json>> mac_pools;
  for (auto& pool : rows_where(db, kind("mac-pools"), {})) {
    mac_pools.emplace_back(pool.id, std::move(pool.fields));
  }
  std::stable_partition(mac_pools.begin(), mac_pools.end(),
                        [](const auto& pool) { return pool.first == kDefaultMacPoolId; });
  store::Allocations allocations(db);
  auto record_mac = [&](const std::string& scope, uint64_t mac) {
    if (const auto holder = allocations.mac_owner(scope, mac)) {
      throw conflict(fmt::format("MAC {} is in use by {}",
                                 net::MacAddress::from_u64(mac).to_string(), *holder),
                     {{"/mac", "is in use"}});
    }
    allocations.take_mac(scope, mac, row.id);
  };
  if (f.contains("mac")) {
    const auto mac = net::MacAddress::parse(text(f, "mac")).value();
    if (!mac.is_unicast() || mac.is_zero()) throw invalid("/mac", "must be a unicast MAC address");
    std::string scope = "given";
    for (const auto& [id, pool] : mac_pools) {
      if (mac.to_u64() >= mac_value(text(pool, "start")) &&
          mac.to_u64() <= mac_value(text(pool, "end")))
        scope = id;
    }
    record_mac(scope, mac.to_u64());
  } else {
    bool done = false;
    for (const auto& [id, pool] : mac_pools) {
      if (auto mac = first_free_in(db, hints, store::Allocations::Space::kMacs, id,
                                   {{mac_value(text(pool, "start")), mac_value(text(pool, "end"))}},
                                   {}, "mac|" + id)) {
        record_mac(id, *mac);
        f["mac"] = net::MacAddress::from_u64(*mac).to_string();
        done = true;
        break;
      }
    }
    if (!done) throw conflict("every MAC pool is exhausted", {{"/mac", "no free MAC address"}});
  }

  // The IP: given (inside the subnet, not its network, broadcast or gateway
  // address), or the first free address of the subnet's pools.
  const auto subnet_prefix = prefix(text(subnet.fields, "prefix"));
  const std::string given = text(f, "ip");
  if (!given.empty()) {
    const auto a = ipv4(given);
    if (!subnet_prefix.contains(net::IpAddress(a)))
      throw invalid("/ip", fmt::format("is outside {}", subnet_prefix.to_string()));
    if (subnet_prefix.length() <= 30 &&
        (net::IpAddress(a) == subnet_prefix.first() || net::IpAddress(a) == subnet_prefix.last())) {
      throw invalid("/ip", fmt::format("is the network or broadcast address of {}",
                                       subnet_prefix.to_string()));
    }
    for (const auto& p : pools) {
      if (text(p.fields, "gateway") == given) throw invalid("/ip", "is the VM subnet's gateway");
    }
  }
  const auto ip = take_address(
      db, hints, subnet_scope(subnet.id), pools, given, row.id, "/ip",
      fmt::format("VM subnet {} has no IP pool: give ip, or create an IP pool for the subnet",
                  subnet.id));
  f["ip"] = ip.to_string();
  assign_rewrite_pa(db, hints, row);
}

// A gateway host: a host with an external interface (DESIGN.md section 4).
bool is_gateway_host(const Row& host) { return !text(host.fields, "external_interface").empty(); }

// Where a new gateway runs: the gateway host with the fewest gateways (then
// the first by name) among those whose site shares the external pool's
// site's host group (any gateway host when that host group is empty), as
// SCVMM scopes a logical network's site to host groups. "" when none.
// The prefixes of a VM network's subnets.
std::vector<net::IpPrefix> network_prefixes(Database& db, const std::string& network) {
  std::vector<net::IpPrefix> out;
  for (const auto& subnet :
       rows_where(db, kind("vm-subnets"), {.column = "vm_network_id", .value = network}))
    out.push_back(prefix(subnet.fields.at("prefix")));
  return out;
}

// Whether a forwarding gateway of `network` could run on `host` beside the
// forwarding gateways there: inbound, they are told apart by destination
// alone, so their prefixes must not overlap (the policy guard refuses it;
// placement avoids it).
bool forwarding_fits(Database& db, const std::string& host, const std::string& network) {
  const auto mine = network_prefixes(db, network);
  for (const auto& gateway :
       rows_where(db, kind("gateways"), {.column = "host_id", .value = host})) {
    const std::string theirs_network = text(gateway.fields, "vm_network_id");
    if (text(gateway.fields, "kind") != "forwarding" || theirs_network == network) continue;
    for (const auto& theirs : network_prefixes(db, theirs_network)) {
      for (const auto& p : mine) {
        if (p.overlaps(theirs)) return false;
      }
    }
  }
  return true;
}

std::string place_gateway(Database& db, const Row& pool, const Row& gateway) {
  const bool forwarding = text(gateway.fields, "kind") == "forwarding";
  const auto pool_site = load_row(db, kind("sites"), text(pool.fields, "site_id"));
  const std::string group = pool_site ? text(pool_site->fields, "host_group") : std::string();
  auto load = objects(db, kind("gateways")).count_by("host_id");
  std::map<std::string, std::string> group_of_site;
  std::tuple<long long, std::string, std::string> best{-1, "", ""};  // load, name, id
  for (const auto& host : rows_where(db, kind("hosts"), {})) {
    const json& body = host.fields;
    if (text(body, "external_interface").empty()) continue;
    const std::string site = text(body, "site_id");
    if (!group.empty()) {
      if (!group_of_site.contains(site)) {
        const auto row = load_row(db, kind("sites"), site);
        group_of_site[site] = row ? text(row->fields, "host_group") : std::string();
      }
      if (group_of_site[site] != group) continue;
    }
    if (forwarding && !forwarding_fits(db, host.id, text(gateway.fields, "vm_network_id")))
      continue;
    const std::tuple<long long, std::string, std::string> candidate{load[host.id],
                                                                    text(body, "name"), host.id};
    if (std::get<0>(best) < 0 || candidate < best) best = candidate;
  }
  return std::get<2>(best);
}

void gateways(Database& db, AllocationHints& hints, const Principal& who, Row& row,
              const Row* before) {
  json& f = row.fields;
  const Row network =
      require_ref(db, who, "vm-networks", text(f, "vm_network_id"), "/vm_network_id");
  if (before == nullptr) {
    row.tenant_id = network.tenant_id;
    if (text(network.fields, "translation") == "rewrite") {
      throw invalid("/vm_network_id",
                    "is a VM network with translation \"rewrite\": gateways carry NVGRE, so "
                    "they serve VM networks with translation \"encap\"");
    }
    // One gateway per VM network: it is where everything that leaves the
    // network goes (as in SCVMM).
    const auto other =
        objects(db, kind("gateways"))
            .where(
                {.column = "vm_network_id", .value = network.id, .except_id = row.id, .limit = 1});
    if (!other.empty()) {
      throw conflict(
          fmt::format("VM network {} has a gateway already ({})", network.id, other.front().id),
          {{"/vm_network_id", "has a gateway already"}});
    }
  }
  // NAT rules forward to CAs of the VM network.
  const auto& rules = f.value("nat_rules", json::array());
  if (!rules.empty() && text(f, "kind") != "nat")
    throw invalid("/nat_rules", "are for NAT gateways only");
  if (!rules.empty()) {
    const auto prefixes = network_prefixes(db, network.id);
    std::vector<FieldError> outside;
    for (size_t i = 0; i < rules.size(); ++i) {
      const auto a = net::IpAddress(ipv4(rules[i].at("internal_ip")));
      if (std::none_of(prefixes.begin(), prefixes.end(),
                       [&](const net::IpPrefix& p) { return p.contains(a); })) {
        outside.push_back({fmt::format("/nat_rules/{}/internal_ip", i),
                           "is in none of the VM network's subnets"});
      }
    }
    if (!outside.empty()) throw invalid_fields(std::move(outside));
  }
  if (f.contains("host_id")) {
    const Row host = require_ref(db, who, "hosts", text(f, "host_id"), "/host_id");
    if (!is_gateway_host(host)) {
      throw invalid("/host_id", fmt::format("host {} has no external_interface: it is not a "
                                            "gateway host",
                                            host.id));
    }
  }
  if (before != nullptr) return;
  const std::string pool_id =
      granted(db, who, row.tenant_id, f, "external_pool_id", "external_pool_ids", "external pool");
  const Row pool = require_ref(db, who, "ip-pools", pool_id, "/external_pool_id");
  require_external_pool(db, pool, "/external_pool_id");
  if (!f.contains("host_id")) {
    if (const std::string host = place_gateway(db, pool, row); !host.empty()) f["host_id"] = host;
  }
  const auto ip = take_address(db, hints, site_scope(db, text(pool.fields, "site_id")), {pool}, "",
                               row.id, "/external_pool_id", "");
  f["external_ip"] = ip.to_string();
}

void routes(Database& db, const Principal& who, Row& row, const Row* before) {
  if (before == nullptr) {
    const Row network =
        require_ref(db, who, "vm-networks", text(row.fields, "vm_network_id"), "/vm_network_id");
    row.tenant_id = network.tenant_id;
  }
  for (const auto& other : rows_where(db, kind("routes"),
                                      {.column = "vm_network_id",
                                      .value = text(row.fields, "vm_network_id"),
                                      .except_id = row.id})) {
    if (other.fields.at("prefix") == row.fields.at("prefix")) {
      throw conflict(fmt::format("route {} has the same prefix", other.id),
                     {{"/prefix", "has a route already"}});
    }
  }
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

void mac_pool_held_by(Database& db, const Row& row, std::vector<std::string>& users) {
  for (const auto& owner : store::Allocations(db).mac_owners(row.id, 5))
    users.push_back(fmt::format("the address of {}", owner));
}

void token_before_delete(Database& db, const Row& row) {
  if (text(row.fields, "role") == "admin" && store::Tokens(db).admins() <= 1)
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
    object["configuration_state"] = view->nic_state(object.at("id"), object);
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
  if (text(object, "kind") == "forwarding") {
    for (const auto& subnet :
         rows_where(db, kind("vm-subnets"),
                    {.column = "vm_network_id", .value = text(object, "vm_network_id")}))
      prefixes.push_back(subnet.fields.at("prefix"));
  }
  object["advertised_prefixes"] = std::move(prefixes);
  object["configuration_state"] =
      view != nullptr ? view->gateway_state(object.at("id"), object) : not_connected();
}

// A NIC bound to its host's uplink would have the agent attach a VM port's
// XDP program there and cut the host off (the agent refuses it too, with
// interface_reserved, for the hosts the controller has not heard from).
void nic_placement(const RealizationView& view, const json& fields) {
  if (!fields.contains("host_id") || !fields.contains("interface") ||
      !fields["host_id"].is_string() || !fields["interface"].is_string())
    return;
  const std::string uplink = view.uplink(fields["host_id"].get<std::string>());
  if (!uplink.empty() && fields["interface"] == uplink) {
    throw invalid("/interface",
                  fmt::format("{} is the uplink of host {}: a VM NIC needs its own interface",
                              uplink, fields["host_id"].get<std::string>()));
  }
}

// --- one registration per kind ---

using W = const WriteScope&;

const std::map<std::string, Rules, std::less<>>& registry() {
  static const std::map<std::string, Rules, std::less<>> all = {
      {"tenants",
       {.before_write = [](W w, Row& row, const Row*) { tenants(w.db, w.who, row); },
        .held_by = tenant_held_by}},
      {"tokens",
       {.before_write = [](W w, Row& row, const Row* before) { tokens(w.db, w.who, row, before); },
        .before_delete = token_before_delete}},
      {"logical-networks",
       {.before_write =
            [](W w, Row& row, const Row*) {
              require_unique_name(w.db, kind("logical-networks"), row);
            }}},
      {"sites",
       {.before_write = [](W w, Row& row, const Row* before) { sites(w.db, w.who, row, before); }}},
      {"ip-pools",
       {.before_write = [](W w, Row& row,
                           const Row* before) { ip_pools(w.db, w.who, row, before); },
        .held_by = ip_pool_held_by,
        // ip_pools() reads every optional field through contains().
        .partial_fields = true}},
      {"mac-pools",
       {.before_write = [](W w, Row& row, const Row* before) { mac_pools(w.db, row, before); },
        .held_by = mac_pool_held_by}},
      {"hosts",
       {.before_write = [](W w, Row& row,
                           const Row* before) { hosts(w.db, w.hints, w.who, row, before); },
        .computed = host_computed}},
      {"vm-networks",
       {.before_write = [](W w, Row& row,
                           const Row* before) { vm_networks(w.db, w.who, row, before); }}},
      {"vm-subnets",
       {.before_write = [](W w, Row& row,
                           const Row* before) { vm_subnets(w.db, w.hints, w.who, row, before); }}},
      {"vm-nics",
       {.before_write = [](W w, Row& row,
                           const Row* before) { vm_nics(w.db, w.hints, w.who, row, before); },
        .computed = nic_computed,
        .check_placement = nic_placement}},
      {"gateways",
       {.before_write = [](W w, Row& row,
                           const Row* before) { gateways(w.db, w.hints, w.who, row, before); },
        .computed = gateway_computed}},
      {"routes",
       {.before_write = [](W w, Row& row,
                           const Row* before) { routes(w.db, w.who, row, before); }}},
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
  const Kind& tenants_kind = kind("tenants");
  std::vector<Row> upgraded;
  for (auto& tenant : rows_where(db, tenants_kind, {})) {
    if (tenant.fields.contains("logical_network_ids")) continue;
    tenant.fields["logical_network_ids"] =
        objects(db, kind("vm-networks")).distinct("logical_network_id", "tenant_id", tenant.id);
    tenant.fields["external_pool_ids"] =
        objects(db, kind("gateways")).distinct("external_pool_id", "tenant_id", tenant.id);
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
    for (const auto& tenant : rows_where(db, model::kind("tenants"), {})) {
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

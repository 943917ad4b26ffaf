#include "controller/model/kinds.h"

#include <stdexcept>

namespace vnet::model {
namespace {

using A = Access;
using T = FieldType;

Field name_field(bool column = false) {
  return {.name = "name", .type = T::kString, .required = true, .column = column};
}
Field ref(std::string name, std::string collection, Access access = A::kImmutable,
          bool required = true) {
  return {.name = std::move(name),
          .type = T::kUuid,
          .access = access,
          .required = required,
          .column = true,
          .ref = std::move(collection)};
}

Field quota(std::string name) {
  return {.name = std::move(name), .type = T::kInteger, .min = 0, .max = 10000000};
}

std::vector<Kind> build() {
  return {
      {"tenants",
       "tenants",
       "tenant",
       false,
       true,
       {name_field(true),
        // What the administrator grants the tenant (issue 16): the logical
        // networks its VM networks may use and the site pools its gateways
        // may take external addresses from. whoami lists them by name.
        {.name = "logical_network_ids",
         .type = T::kUuidList,
         .ref = "logical-networks",
         .default_json = "[]"},
        {.name = "external_pool_ids",
         .type = T::kUuidList,
         .ref = "ip-pools",
         .default_json = "[]"},
        // Per-tenant quotas (issue 14); absent: the controller's default
        // (--default-quota). One tenant must not exhaust VSIDs, MACs or a
        // shared external pool.
        quota("quota_vm_networks"),
        quota("quota_vm_subnets"),
        quota("quota_vm_nics"),
        quota("quota_gateways"),
        quota("quota_routes")}},
      {"tokens",
       "tokens",
       "token",
       false,
       true,
       {name_field(),
        {.name = "role",
         .type = T::kEnum,
         .access = A::kImmutable,
         .column = true,
         .choices = {"admin", "tenant"}},
        ref("tenant_id", "tenants", A::kImmutable, false)}},
      {"logical-networks",
       "logical_networks",
       "logical network",
       false,
       true,
       {name_field(true),
        {.name = "network_virtualization", .type = T::kBool, .default_json = "true"},
        {.name = "flow_entropy", .type = T::kBool, .default_json = "false"}},
       /*has_state=*/false,
       /*granted_in=*/"logical_network_ids"},
      {"sites",
       "sites",
       "site",
       false,
       true,
       {ref("logical_network_id", "logical-networks"),
        name_field(),
        {.name = "subnets", .type = T::kSubnets, .required = true},
        {.name = "host_group", .type = T::kString, .default_json = "\"\""}}},
      {"ip-pools",
       "ip_pools",
       "IP pool",
       true,
       false,
       {{.name = "name", .type = T::kString, .default_json = "\"\""},
        {.name = "site_id",
         .type = T::kUuid,
         .access = A::kImmutable,
         .admin_only = true,
         .column = true,
         .ref = "sites"},
        {.name = "subnet", .type = T::kIpv4Prefix, .access = A::kImmutable, .admin_only = true},
        ref("vm_subnet_id", "vm-subnets", A::kImmutable, false),
        {.name = "ranges", .type = T::kRanges, .required = true},
        {.name = "reserved", .type = T::kIpv4List, .default_json = "[]"},
        {.name = "gateway", .type = T::kIpv4},
        {.name = "dns", .type = T::kIpv4List, .default_json = "[]"}},
       /*has_state=*/false,
       /*granted_in=*/"external_pool_ids"},
      {"mac-pools",
       "mac_pools",
       "MAC pool",
       false,
       true,
       {{.name = "name", .type = T::kString, .default_json = "\"\""},
        {.name = "start", .type = T::kMac, .access = A::kImmutable, .required = true},
        {.name = "end", .type = T::kMac, .access = A::kImmutable, .required = true}}},
      {"hosts",
       "hosts",
       "host",
       false,
       true,
       {name_field(true),
        ref("site_id", "sites"),
        {.name = "pa", .type = T::kIpv4, .access = A::kAssigned},
        // A gateway host's interface on an external network (DESIGN.md
        // section 4, "Gateways"): the controller places gateways on hosts
        // that have one.
        {.name = "external_interface", .type = T::kInterface}},
       /*has_state=*/true},
      {"vm-networks",
       "vm_networks",
       "VM network",
       true,
       false,
       {name_field(),
        // Absent: the tenant's one granted logical network.
        ref("logical_network_id", "logical-networks", A::kImmutable, false),
        {.name = "isolation",
         .type = T::kEnum,
         .access = A::kImmutable,
         .choices = {"hnv", "none"},
         .default_json = "\"hnv\""},
        {.name = "translation",
         .type = T::kEnum,
         .access = A::kImmutable,
         .choices = {"encap", "rewrite"},
         .default_json = "\"encap\""},
        {.name = "rdid", .type = T::kUuid, .access = A::kReadOnly, .unique_column = true}}},
      {"vm-subnets",
       "vm_subnets",
       "VM subnet",
       true,
       false,
       {ref("vm_network_id", "vm-networks"),
        name_field(),
        {.name = "prefix", .type = T::kIpv4Prefix, .access = A::kImmutable, .required = true},
        {.name = "vsid",
         .type = T::kInteger,
         .access = A::kAssigned,
         .admin_only = true,
         .unique_column = true,
         .min = 4096,
         .max = 16777214}}},
      {"vm-nics",
       "vm_nics",
       "VM NIC",
       true,
       false,
       {ref("vm_subnet_id", "vm-subnets"),
        {.name = "vm_name", .type = T::kString, .required = true},
        {.name = "mac", .type = T::kMac, .access = A::kAssigned},
        {.name = "ip", .type = T::kIpv4, .access = A::kAssigned},
        {.name = "host_id", .type = T::kUuid, .admin_only = true, .column = true, .ref = "hosts"},
        {.name = "interface", .type = T::kInterface, .admin_only = true},
        // The NIC's own provider address while it is placed, in a VM network
        // with translation "rewrite" (DESIGN.md section 4, IP rewrite).
        {.name = "pa", .type = T::kIpv4, .access = A::kReadOnly}},
       /*has_state=*/true},
      {"gateways",
       "gateways",
       "gateway",
       true,
       false,
       {name_field(),
        ref("vm_network_id", "vm-networks"),
        {.name = "kind",
         .type = T::kEnum,
         .access = A::kImmutable,
         .required = true,
         .choices = {"nat", "forwarding"}},
        // Where the gateway runs is the operator's choice, as NIC placement
        // is: a tenant naming a host could stall it (issue 14). Absent, the
        // controller places it on the gateway host with the fewest gateways.
        {.name = "host_id", .type = T::kUuid, .admin_only = true, .column = true, .ref = "hosts"},
        // Absent: the tenant's one granted external pool.
        {.name = "external_pool_id",
         .type = T::kUuid,
         .access = A::kImmutable,
         .column = true,
         .ref = "ip-pools"},
        {.name = "nat_rules", .type = T::kNatRules, .default_json = "[]"},
        // advertised_prefixes and configuration_state are computed when
        // read (rows.cpp, add_computed).
        {.name = "external_ip", .type = T::kIpv4, .access = A::kReadOnly}},
       /*has_state=*/true},
      {"routes",
       "routes",
       "route",
       true,
       false,
       {ref("vm_network_id", "vm-networks"),
        {.name = "prefix", .type = T::kIpv4Prefix, .required = true},
        {.name = "next_hop", .type = T::kIpv4, .required = true},
        {.name = "metric", .type = T::kInteger, .min = 0, .max = 65535, .default_json = "0"}}},
  };
}

}  // namespace

long long QuotaDefaults::of(std::string_view collection) const {
  if (collection == "vm-networks") return vm_networks;
  if (collection == "vm-subnets") return vm_subnets;
  if (collection == "vm-nics") return vm_nics;
  if (collection == "gateways") return gateways;
  if (collection == "routes") return routes;
  return -1;
}

std::string QuotaDefaults::set(std::string_view assignment) {
  const size_t eq = assignment.find('=');
  const std::string_view name = assignment.substr(0, eq);
  long long* target = name == "vm-networks"  ? &vm_networks
                      : name == "vm-subnets" ? &vm_subnets
                      : name == "vm-nics"    ? &vm_nics
                      : name == "gateways"   ? &gateways
                      : name == "routes"     ? &routes
                                             : nullptr;
  if (eq == std::string_view::npos || target == nullptr) {
    return "give COLLECTION=N with COLLECTION one of vm-networks, vm-subnets, vm-nics, "
           "gateways, routes";
  }
  const std::string value(assignment.substr(eq + 1));
  try {
    size_t used = 0;
    const long long n = std::stoll(value, &used);
    if (used != value.size() || n < 0) throw std::invalid_argument(value);
    *target = n;
  } catch (const std::exception&) {
    return "the quota must be a number from 0 up";
  }
  return "";
}

const Field* Kind::field(std::string_view name) const {
  for (const auto& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const std::vector<Kind>& kinds() {
  static const std::vector<Kind> all = [] {
    std::vector<Kind> built = build();
    // When the object was created (RFC 3339, UTC), stamped by the server;
    // absent on objects from before issue 16.
    for (auto& k : built)
      k.fields.push_back({.name = "created_at", .type = T::kString, .access = A::kReadOnly});
    return built;
  }();
  return all;
}

const Kind* find_kind(std::string_view collection) {
  for (const auto& k : kinds()) {
    if (k.collection == collection) return &k;
  }
  return nullptr;
}

const Kind& kind(std::string_view collection) {
  const Kind* k = find_kind(collection);
  if (k == nullptr) throw std::logic_error("unknown collection " + std::string(collection));
  return *k;
}

}  // namespace vnet::model

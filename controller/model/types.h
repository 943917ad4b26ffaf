// One typed home per collection of DESIGN.md section 3: a struct per kind
// whose members are the stored fields, in C++ types, and whose describe()
// names each member once with what the API knows of it (type, access,
// default, reference). Everything else is derived from that one list:
//   - the Kind tables (kinds.cpp) that drive validation, filters, vnetctl's
//     flags and the OpenAPI document,
//   - reading and writing the stored JSON (codec.h: decode, encode),
//   - what the policy compiler holds (policy/model.h uses these structs).
// A kind's rules (what it means beyond its fields) are registered once in
// semantics.cpp. A new field is a member and a describe() line here, and a
// migration when it is a column.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "controller/model/kinds.h"
#include "shared/net/ip.h"
#include "shared/net/ipv4.h"
#include "shared/net/mac.h"
#include "shared/net/vsid.h"
#include "shared/policy/host_policy.h"
#include "shared/util/uuid.h"

namespace vnet::model {

using Id = std::string;  // an object's UUID text; "" when a reference is absent

// A field as describe() gives it: Field (kinds.h) without allocations, so
// that decoding an object builds no strings for its description.
struct Spec {
  const char* name;
  FieldType type;
  Access access = Access::kWritable;
  bool required = false;
  bool admin_only = false;
  bool column = false;
  bool unique_column = false;
  const char* ref = "";
  const char* choices = "";  // kEnum: "a,b"
  long long min = 0;
  long long max = 0;
  const char* default_json = "";
};

// The collection-level half of a Kind (kinds.h).
struct KindSpec {
  const char* collection;
  const char* table;
  const char* singular;
  bool tenant_owned;
  bool admin_only;
  bool has_state = false;
  const char* granted_in = "";
  bool tenants_read = false;  // admin_only, but tenants may read it
};

namespace spec {
constexpr Spec name(bool column = false) {
  return {.name = "name", .type = FieldType::kString, .required = true, .column = column};
}
constexpr Spec ref(const char* name, const char* collection, Access access = Access::kImmutable,
                   bool required = true) {
  return {.name = name,
          .type = FieldType::kUuid,
          .access = access,
          .required = required,
          .column = true,
          .ref = collection};
}
constexpr Spec quota(const char* name) {
  return {.name = name, .type = FieldType::kInteger, .min = 0, .max = 10000000};
}
}  // namespace spec

// Parts of fields.
struct SiteSubnet {
  net::IpPrefix prefix;
  int64_t vlan = 0;
  bool operator==(const SiteSubnet&) const = default;
};
struct AddressRange {
  net::Ipv4Address start;
  net::Ipv4Address end;
  bool contains(net::Ipv4Address a) const { return start <= a && a <= end; }
  bool operator==(const AddressRange&) const = default;
};
using NatRule = policy::NatRule;

struct Tenant {
  static constexpr KindSpec meta{"tenants", "tenants", "tenant", false, true};
  std::string name;
  // What the administrator grants the tenant (issue 16): the logical
  // networks its VM networks may use and the site pools its gateways may
  // take external addresses from. whoami lists them by name.
  std::vector<Id> logical_network_ids;
  std::vector<Id> external_pool_ids;
  // The port profiles the tenant's VM NICs may name (issue 19); absent on
  // a write: the built-in profiles that exist. A NIC that names none gets
  // `default_port_profile_id`, one of them, when there is one. An
  // administrator may give a NIC any profile; a tenant cannot change that.
  std::optional<std::vector<Id>> port_profile_ids;
  Id default_port_profile_id;
  // Per-tenant quotas (issue 14); absent: the controller's default
  // (--default-quota). One tenant must not exhaust VSIDs, MACs or a shared
  // external pool.
  std::optional<int64_t> quota_vm_networks;
  std::optional<int64_t> quota_vm_subnets;
  std::optional<int64_t> quota_vm_nics;
  std::optional<int64_t> quota_gateways;
  std::optional<int64_t> quota_routes;

  template <class V>
  static void describe(V& v) {
    using T = FieldType;
    v(&Tenant::name, spec::name(true));
    v(&Tenant::logical_network_ids, {.name = "logical_network_ids",
                                     .type = T::kUuidList,
                                     .ref = "logical-networks",
                                     .default_json = "[]"});
    v(&Tenant::external_pool_ids,
      {.name = "external_pool_ids", .type = T::kUuidList, .ref = "ip-pools", .default_json = "[]"});
    v(&Tenant::port_profile_ids,
      {.name = "port_profile_ids", .type = T::kUuidList, .ref = "port-profiles"});
    // Not a column: it must be one of port_profile_ids, whose grant keeps
    // the profile from being deleted.
    v(&Tenant::default_port_profile_id,
      {.name = "default_port_profile_id", .type = T::kUuid, .ref = "port-profiles"});
    v(&Tenant::quota_vm_networks, spec::quota("quota_vm_networks"));
    v(&Tenant::quota_vm_subnets, spec::quota("quota_vm_subnets"));
    v(&Tenant::quota_vm_nics, spec::quota("quota_vm_nics"));
    v(&Tenant::quota_gateways, spec::quota("quota_gateways"));
    v(&Tenant::quota_routes, spec::quota("quota_routes"));
  }
};

struct Token {
  static constexpr KindSpec meta{"tokens", "tokens", "token", false, true};
  std::string name;
  std::string role;  // "admin" or "tenant"; absent on create: from tenant_id
  Id tenant_id;      // a tenant's token

  template <class V>
  static void describe(V& v) {
    v(&Token::name, {.name = "name", .type = FieldType::kString, .required = true});
    v(&Token::role, {.name = "role",
                     .type = FieldType::kEnum,
                     .access = Access::kImmutable,
                     .column = true,
                     .choices = "admin,tenant"});
    v(&Token::tenant_id, spec::ref("tenant_id", "tenants", Access::kImmutable, false));
  }
};

struct LogicalNetwork {
  static constexpr KindSpec meta{
      "logical-networks",   "logical_networks", "logical network", false, true, false,
      "logical_network_ids"};
  std::string name;
  bool network_virtualization = true;
  bool flow_entropy = false;

  template <class V>
  static void describe(V& v) {
    v(&LogicalNetwork::name, spec::name(true));
    v(&LogicalNetwork::network_virtualization,
      {.name = "network_virtualization", .type = FieldType::kBool, .default_json = "true"});
    v(&LogicalNetwork::flow_entropy,
      {.name = "flow_entropy", .type = FieldType::kBool, .default_json = "false"});
  }
};

struct Site {
  static constexpr KindSpec meta{"sites", "sites", "site", false, true};
  Id logical_network_id;
  std::string name;
  std::vector<SiteSubnet> subnets;
  std::string host_group;  // gateways of a pool of this site go to hosts of the same group

  template <class V>
  static void describe(V& v) {
    v(&Site::logical_network_id, spec::ref("logical_network_id", "logical-networks"));
    v(&Site::name, spec::name());
    v(&Site::subnets, {.name = "subnets", .type = FieldType::kSubnets, .required = true});
    v(&Site::host_group,
      {.name = "host_group", .type = FieldType::kString, .default_json = "\"\""});
  }
};

// A site's pool (provider and external addresses; the administrator's) or a
// VM subnet's (customer addresses; the tenant's).
struct IpPool {
  static constexpr KindSpec meta{"ip-pools", "ip_pools", "IP pool",          true,
                                 false,      false,      "external_pool_ids"};
  std::string name;
  Id site_id;
  std::optional<net::IpPrefix> subnet;  // a site pool's; a VM subnet's pool: the subnet's prefix
  Id vm_subnet_id;
  std::vector<AddressRange> ranges;
  std::vector<net::Ipv4Address> reserved;
  std::optional<net::Ipv4Address> gateway;
  std::vector<net::Ipv4Address> dns;

  bool offers(net::Ipv4Address a) const {
    for (const auto& r : ranges)
      if (r.contains(a)) return true;
    return false;
  }

  template <class V>
  static void describe(V& v) {
    using T = FieldType;
    v(&IpPool::name, {.name = "name", .type = T::kString, .default_json = "\"\""});
    v(&IpPool::site_id, {.name = "site_id",
                         .type = T::kUuid,
                         .access = Access::kImmutable,
                         .admin_only = true,
                         .column = true,
                         .ref = "sites"});
    v(&IpPool::subnet,
      {.name = "subnet", .type = T::kIpv4Prefix, .access = Access::kImmutable, .admin_only = true});
    v(&IpPool::vm_subnet_id, spec::ref("vm_subnet_id", "vm-subnets", Access::kImmutable, false));
    v(&IpPool::ranges, {.name = "ranges", .type = T::kRanges, .required = true});
    v(&IpPool::reserved, {.name = "reserved", .type = T::kIpv4List, .default_json = "[]"});
    v(&IpPool::gateway, {.name = "gateway", .type = T::kIpv4});
    v(&IpPool::dns, {.name = "dns", .type = T::kIpv4List, .default_json = "[]"});
  }
};

struct MacPool {
  static constexpr KindSpec meta{"mac-pools", "mac_pools", "MAC pool", false, true};
  std::string name;
  net::MacAddress start;
  net::MacAddress end;

  template <class V>
  static void describe(V& v) {
    using T = FieldType;
    v(&MacPool::name, {.name = "name", .type = T::kString, .default_json = "\"\""});
    v(&MacPool::start,
      {.name = "start", .type = T::kMac, .access = Access::kImmutable, .required = true});
    v(&MacPool::end,
      {.name = "end", .type = T::kMac, .access = Access::kImmutable, .required = true});
  }
};

struct Host {
  static constexpr KindSpec meta{"hosts", "hosts", "host", false, true, /*has_state=*/true};
  std::string name;
  Id site_id;
  std::optional<net::Ipv4Address> pa;
  // A gateway host's interface on an external network (DESIGN.md section
  // 4, "Gateways"): the controller places gateways on hosts that have one.
  std::string external_interface;
  // The uplink's MTU as the host's agent last reported it (issue 18): its
  // ports get uplink MTU - 42. Absent until an agent has said.
  std::optional<int64_t> uplink_mtu;
  // The external interface's MTU, as a gateway host's agent last reported
  // it (the gateways' DF limit on the external side). Absent otherwise.
  std::optional<int64_t> external_mtu;

  template <class V>
  static void describe(V& v) {
    v(&Host::name, spec::name(true));
    v(&Host::site_id, spec::ref("site_id", "sites"));
    v(&Host::pa, {.name = "pa", .type = FieldType::kIpv4, .access = Access::kAssigned});
    v(&Host::external_interface, {.name = "external_interface", .type = FieldType::kInterface});
    v(&Host::uplink_mtu, {.name = "uplink_mtu",
                          .type = FieldType::kInteger,
                          .access = Access::kReadOnly,
                          .min = 68,
                          .max = 65535});
    v(&Host::external_mtu, {.name = "external_mtu",
                            .type = FieldType::kInteger,
                            .access = Access::kReadOnly,
                            .min = 68,
                            .max = 65535});
  }
};

struct VmNetwork {
  static constexpr KindSpec meta{"vm-networks", "vm_networks", "VM network", true, false};
  std::string name;
  Id logical_network_id;    // absent on create: the tenant's one granted logical network
  std::string isolation;    // "hnv" or "none" (not virtualized)
  std::string translation;  // "encap" or "rewrite"
  std::optional<Uuid> rdid;
  // At most this MTU for the network's VMs (issue 18); absent: each host's
  // uplink MTU - 42.
  std::optional<int64_t> mtu;

  bool hnv() const { return isolation != "none"; }
  bool rewrite() const { return translation == "rewrite"; }

  template <class V>
  static void describe(V& v) {
    using T = FieldType;
    v(&VmNetwork::name, spec::name());
    v(&VmNetwork::logical_network_id,
      spec::ref("logical_network_id", "logical-networks", Access::kImmutable, false));
    v(&VmNetwork::isolation, {.name = "isolation",
                              .type = T::kEnum,
                              .access = Access::kImmutable,
                              .choices = "hnv,none",
                              .default_json = "\"hnv\""});
    v(&VmNetwork::translation, {.name = "translation",
                                .type = T::kEnum,
                                .access = Access::kImmutable,
                                .choices = "encap,rewrite",
                                .default_json = "\"encap\""});
    v(&VmNetwork::rdid,
      {.name = "rdid", .type = T::kUuid, .access = Access::kReadOnly, .unique_column = true});
    v(&VmNetwork::mtu, {.name = "mtu", .type = T::kInteger, .min = 576, .max = 65493});
  }
};

struct VmSubnet {
  static constexpr KindSpec meta{"vm-subnets", "vm_subnets", "VM subnet", true, false};
  Id vm_network_id;
  std::string name;
  net::IpPrefix prefix;
  std::optional<net::Vsid> vsid;  // assigned on create

  template <class V>
  static void describe(V& v) {
    using T = FieldType;
    v(&VmSubnet::vm_network_id, spec::ref("vm_network_id", "vm-networks"));
    v(&VmSubnet::name, spec::name());
    v(&VmSubnet::prefix,
      {.name = "prefix", .type = T::kIpv4Prefix, .access = Access::kImmutable, .required = true});
    v(&VmSubnet::vsid, {.name = "vsid",
                        .type = T::kInteger,
                        .access = Access::kAssigned,
                        .admin_only = true,
                        .unique_column = true,
                        .min = 4096,
                        .max = 16777214});
  }
};

struct VmNic {
  static constexpr KindSpec meta{"vm-nics", "vm_nics", "VM NIC", true, false, /*has_state=*/true};
  Id vm_subnet_id;
  std::string vm_name;
  std::optional<net::MacAddress> mac;  // assigned on create
  std::optional<net::Ipv4Address> ip;  // assigned on create
  Id host_id;                          // "" while not placed
  std::string interface;
  // The NIC's own provider address while it is placed, in a VM network with
  // translation "rewrite" (DESIGN.md section 4, IP rewrite).
  std::optional<net::Ipv4Address> pa;
  // The port profile whose settings the NIC's port follows (issue 19);
  // absent: none, the strict defaults (its own MAC and CA only, both
  // guards on, no bandwidth limit).
  Id port_profile_id;

  template <class V>
  static void describe(V& v) {
    using T = FieldType;
    v(&VmNic::vm_subnet_id, spec::ref("vm_subnet_id", "vm-subnets"));
    v(&VmNic::vm_name, {.name = "vm_name", .type = T::kString, .required = true});
    v(&VmNic::mac, {.name = "mac", .type = T::kMac, .access = Access::kAssigned});
    v(&VmNic::ip, {.name = "ip", .type = T::kIpv4, .access = Access::kAssigned});
    v(&VmNic::host_id,
      {.name = "host_id", .type = T::kUuid, .admin_only = true, .column = true, .ref = "hosts"});
    v(&VmNic::interface, {.name = "interface", .type = T::kInterface, .admin_only = true});
    v(&VmNic::pa, {.name = "pa", .type = T::kIpv4, .access = Access::kReadOnly});
    v(&VmNic::port_profile_id,
      spec::ref("port_profile_id", "port-profiles", Access::kWritable, false));
  }
};

struct Gateway {
  static constexpr KindSpec meta{"gateways",        "gateways", "gateway", true, false,
                                 /*has_state=*/true};
  std::string name;
  Id vm_network_id;
  std::string kind;  // "nat" or "forwarding"
  // Where the gateway runs is the operator's choice, as NIC placement is: a
  // tenant naming a host could stall it (issue 14). Absent, the controller
  // places it on the gateway host with the fewest gateways.
  Id host_id;
  Id external_pool_id;  // absent on create: the tenant's one granted external pool
  std::vector<NatRule> nat_rules;
  // advertised_prefixes and configuration_state are computed when read
  // (semantics.cpp, gateway_computed).
  std::optional<net::Ipv4Address> external_ip;

  bool forwarding() const { return kind == "forwarding"; }

  template <class V>
  static void describe(V& v) {
    using T = FieldType;
    v(&Gateway::name, spec::name());
    v(&Gateway::vm_network_id, spec::ref("vm_network_id", "vm-networks"));
    v(&Gateway::kind, {.name = "kind",
                       .type = T::kEnum,
                       .access = Access::kImmutable,
                       .required = true,
                       .choices = "nat,forwarding"});
    v(&Gateway::host_id,
      {.name = "host_id", .type = T::kUuid, .admin_only = true, .column = true, .ref = "hosts"});
    v(&Gateway::external_pool_id, {.name = "external_pool_id",
                                   .type = T::kUuid,
                                   .access = Access::kImmutable,
                                   .column = true,
                                   .ref = "ip-pools"});
    v(&Gateway::nat_rules, {.name = "nat_rules", .type = T::kNatRules, .default_json = "[]"});
    v(&Gateway::external_ip,
      {.name = "external_ip", .type = T::kIpv4, .access = Access::kReadOnly});
  }
};

struct Route {
  static constexpr KindSpec meta{"routes", "routes", "route", true, false};
  Id vm_network_id;
  net::IpPrefix prefix;
  net::Ipv4Address next_hop;
  int64_t metric = 0;

  template <class V>
  static void describe(V& v) {
    using T = FieldType;
    v(&Route::vm_network_id, spec::ref("vm_network_id", "vm-networks"));
    v(&Route::prefix, {.name = "prefix", .type = T::kIpv4Prefix, .required = true});
    v(&Route::next_hop, {.name = "next_hop", .type = T::kIpv4, .required = true});
    v(&Route::metric,
      {.name = "metric", .type = T::kInteger, .min = 0, .max = 65535, .default_json = "0"});
  }
};

// The built-in port profiles' well-known ids (migrations/0008): what a
// tenant without port_profile_ids may name.
inline constexpr std::array<const char*, 4> kBuiltinPortProfiles = {
    "00000000-0000-4000-8000-00000000f001", "00000000-0000-4000-8000-00000000f002",
    "00000000-0000-4000-8000-00000000f003", "00000000-0000-4000-8000-00000000f004"};

// The port profiles a tenant's NICs may name: its port_profile_ids, or
// when it has none (absent, not empty) the built-in ones.
inline std::vector<Id> granted_port_profiles(const std::optional<std::vector<Id>>& ids) {
  return ids ? *ids : std::vector<Id>(kBuiltinPortProfiles.begin(), kBuiltinPortProfiles.end());
}

// Per-port security and bandwidth settings (SCVMM's virtual port profile,
// Network Controller's portSettings; issue 19): the administrator's, read
// by tenants, named by VM NICs. migrations/0008_port_profiles.sql creates
// the built-in ones.
struct PortProfile {
  static constexpr KindSpec meta{.collection = "port-profiles",
                                 .table = "port_profiles",
                                 .singular = "port profile",
                                 .tenant_owned = false,
                                 .admin_only = true,
                                 .granted_in = "port_profile_ids",
                                 .tenants_read = true};
  std::string name;
  std::string description;
  bool allow_mac_spoofing = false;
  std::vector<net::IpPrefix> allowed_addresses;  // sources besides the NIC's CA
  bool dhcp_guard = true;                        // drop DHCP server messages from the VM
  bool router_guard = true;  // drop ICMP router advertisements and redirects from the VM
  std::optional<int64_t> bandwidth_max_mbps;  // absent: no limit
  std::optional<int64_t> bandwidth_min_mbps;  // absent: no reservation
  int64_t weight = 1;                         // share of a congested uplink

  template <class V>
  static void describe(V& v) {
    using T = FieldType;
    v(&PortProfile::name, spec::name(true));
    v(&PortProfile::description,
      {.name = "description", .type = T::kString, .default_json = "\"\""});
    v(&PortProfile::allow_mac_spoofing,
      {.name = "allow_mac_spoofing", .type = T::kBool, .default_json = "false"});
    v(&PortProfile::allowed_addresses,
      {.name = "allowed_addresses", .type = T::kIpv4PrefixList, .default_json = "[]"});
    v(&PortProfile::dhcp_guard, {.name = "dhcp_guard", .type = T::kBool, .default_json = "true"});
    v(&PortProfile::router_guard,
      {.name = "router_guard", .type = T::kBool, .default_json = "true"});
    v(&PortProfile::bandwidth_max_mbps,
      {.name = "bandwidth_max_mbps", .type = T::kInteger, .min = 1, .max = 400000});
    v(&PortProfile::bandwidth_min_mbps,
      {.name = "bandwidth_min_mbps", .type = T::kInteger, .min = 1, .max = 400000});
    v(&PortProfile::weight,
      {.name = "weight", .type = T::kInteger, .min = 1, .max = 100, .default_json = "1"});
  }
};

// A lookup record for an endpoint that is not a VM (a physical server or
// appliance that speaks NVGRE at `pa`), as New-NetVirtualizationLookupRecord
// makes one: every host of the VSID's VM network can reach it.
struct StaticRecord {
  static constexpr KindSpec meta{"static-records", "static_records", "static record", false, true};
  std::optional<net::Vsid> vsid;
  net::Ipv4Address ca;
  net::MacAddress mac;
  net::Ipv4Address pa;
  Id vm_subnet_id;  // the VSID's subnet, found on create

  template <class V>
  static void describe(V& v) {
    using T = FieldType;
    v(&StaticRecord::vsid, {.name = "vsid",
                            .type = T::kInteger,
                            .access = Access::kImmutable,
                            .required = true,
                            .min = 4096,
                            .max = 16777214});
    v(&StaticRecord::ca,
      {.name = "ca", .type = T::kIpv4, .access = Access::kImmutable, .required = true});
    v(&StaticRecord::mac, {.name = "mac", .type = T::kMac, .required = true});
    v(&StaticRecord::pa, {.name = "pa", .type = T::kIpv4, .required = true});
    v(&StaticRecord::vm_subnet_id, {.name = "vm_subnet_id",
                                    .type = T::kUuid,
                                    .access = Access::kReadOnly,
                                    .column = true,
                                    .ref = "vm-subnets"});
  }
};

// Every kind, in the order of kinds() (and of the OpenAPI document).
using AllKinds = std::tuple<Tenant, Token, LogicalNetwork, Site, IpPool, MacPool, Host, VmNetwork,
                            VmSubnet, VmNic, Gateway, Route, PortProfile, StaticRecord>;

}  // namespace vnet::model

// The collections of DESIGN.md section 3, described as data: each field's
// type, who may set it and when, and which are stored as columns. The
// service, the router, the filters, the "in use by" check and the OpenAPI
// document are all driven by these tables, so a field is described once.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vnet::model {

enum class FieldType {
  kString,  // free text, 1-255 bytes
  kBool,
  kInteger,  // within [min, max]
  kEnum,     // one of `choices`
  kUuid,     // a reference to an object of `ref`
  kIpv4,
  kIpv4Prefix,  // strict: host bits clear
  kMac,
  kIpv4List,        // array of IPv4 addresses
  kSubnets,         // array of {prefix, vlan}
  kRanges,          // array of {start, end} IPv4 addresses
  kInterface,       // a Linux interface name
  kNatRules,        // array of {protocol, external_port, internal_ip, internal_port}
  kUuidList,        // array of references to objects of `ref` (a tenant's grants)
  kIpv4PrefixList,  // array of strict IPv4 prefixes (a port profile's allowed addresses)
};

enum class Access {
  kWritable,   // the client sets it on create and may change it
  kImmutable,  // the client sets it on create only
  kAssigned,   // the server assigns it; only an admin may give it (VSID, PA ...)
  kReadOnly,   // the server's alone
};

struct Field {
  std::string name;
  FieldType type;
  Access access = Access::kWritable;
  bool required = false;       // on create
  bool admin_only = false;     // a tenant may not set it (403)
  bool column = false;         // mirrored in a column of the same name (filters, references)
  bool unique_column = false;  // mirrored in a column the database keeps unique (not a filter)
  std::string ref{};           // collection referenced, for kUuid
  std::vector<std::string> choices{};
  long long min = 0;
  long long max = 0;
  std::string default_json{};  // JSON text of the default, "" for none
};

struct Kind {
  std::string collection;  // path segment: "vm-networks"
  std::string table;       // SQL table: "vm_networks"
  std::string singular;    // in messages: "VM network"
  bool tenant_owned;       // rows carry tenant_id; tenants see their own
  bool admin_only;         // tenants may not touch the collection at all
  std::vector<Field> fields;
  // GET shows a configuration_state (realization) and lists filter on it.
  bool has_state = false;
  // The tenants' field that lists the objects of this kind a tenant was
  // granted (issue 16), "" when none.
  std::string granted_in{};
  // An admin_only collection that tenants may read (GET) all the same:
  // what they choose from, such as port profiles.
  bool tenants_read = false;
  // What the kind means beyond its fields (checks and allocations before a
  // write, refusals before a delete, what GET computes) is its Rules,
  // registered per kind in semantics.cpp (rows.h: rules_of).

  const Field* field(std::string_view name) const;
};

const std::vector<Kind>& kinds();
const Kind* find_kind(std::string_view collection);
const Kind& kind(std::string_view collection);  // for names known to exist

// The quotas a tenant has: the tenant's field `quota_<table>` when set, else
// the controller's default. Collections without a quota are not listed.
struct QuotaDefaults {
  long long vm_networks = 100;
  long long vm_subnets = 1000;
  long long vm_nics = 10000;
  long long gateways = 20;
  long long routes = 1000;
  // The default for a collection ("vm-nics"), or -1 when it has none.
  long long of(std::string_view collection) const;
  // "vm-nics=50000": sets one; returns an error sentence otherwise.
  std::string set(std::string_view assignment);
};

// The well-known id of the default MAC pool (migrations/0001_initial.sql).
inline constexpr std::string_view kDefaultMacPoolId = "00000000-0000-4000-8000-00000000ac00";

}  // namespace vnet::model

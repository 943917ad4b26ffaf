#include "controller/model/kinds.h"

#include <fmt/format.h>

#include <stdexcept>
#include <tuple>

#include "controller/model/types.h"

namespace vnet::model {
namespace {

template <class T>
struct Fits {
  static bool of(FieldType) { return false; }
};
template <>
struct Fits<std::string> {
  static bool of(FieldType t) {
    return t == FieldType::kString || t == FieldType::kEnum || t == FieldType::kUuid ||
           t == FieldType::kInterface;
  }
};
template <FieldType Type>
struct Exactly {
  static bool of(FieldType t) { return t == Type; }
};
template <>
struct Fits<bool> : Exactly<FieldType::kBool> {};
template <>
struct Fits<int64_t> : Exactly<FieldType::kInteger> {};
template <>
struct Fits<net::Vsid> : Exactly<FieldType::kInteger> {};
template <>
struct Fits<net::Ipv4Address> : Exactly<FieldType::kIpv4> {};
template <>
struct Fits<net::IpPrefix> : Exactly<FieldType::kIpv4Prefix> {};
template <>
struct Fits<net::MacAddress> : Exactly<FieldType::kMac> {};
template <>
struct Fits<Uuid> : Exactly<FieldType::kUuid> {};
template <>
struct Fits<std::vector<net::Ipv4Address>> : Exactly<FieldType::kIpv4List> {};
template <>
struct Fits<std::vector<net::IpPrefix>> : Exactly<FieldType::kIpv4PrefixList> {};
template <>
struct Fits<std::vector<SiteSubnet>> : Exactly<FieldType::kSubnets> {};
template <>
struct Fits<std::vector<AddressRange>> : Exactly<FieldType::kRanges> {};
template <>
struct Fits<std::vector<NatRule>> : Exactly<FieldType::kNatRules> {};
template <>
struct Fits<std::vector<std::string>> : Exactly<FieldType::kUuidList> {};
template <class T>
struct Fits<std::optional<T>> : Fits<T> {};

template <class S, class M>
M member_type(M S::*);

Field field_of(const Spec& s) {
  Field f{.name = s.name,
          .type = s.type,
          .access = s.access,
          .required = s.required,
          .admin_only = s.admin_only,
          .column = s.column,
          .unique_column = s.unique_column,
          .ref = s.ref,
          .min = s.min,
          .max = s.max,
          .default_json = s.default_json};
  for (std::string_view rest = s.choices; !rest.empty();) {
    const size_t comma = rest.find(',');
    f.choices.emplace_back(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return f;
}

// The Kind of struct S: its collection-level facts and one Field per
// member it describes, each checked against the member's C++ type.
template <class S>
Kind kind_of() {
  Kind k{.collection = S::meta.collection,
         .table = S::meta.table,
         .singular = S::meta.singular,
         .tenant_owned = S::meta.tenant_owned,
         .admin_only = S::meta.admin_only,
         .fields = {},
         .has_state = S::meta.has_state,
         .granted_in = S::meta.granted_in,
         .tenants_read = S::meta.tenants_read};
  auto member = [&](auto pointer, const Spec& spec) {
    using M = decltype(member_type(pointer));
    if (!Fits<M>::of(spec.type)) {
      throw std::logic_error(
          fmt::format("types.h: the member of {}'s field {} cannot hold its type",
                      S::meta.collection, spec.name));
    }
    k.fields.push_back(field_of(spec));
  };
  S::describe(member);
  return k;
}

std::vector<Kind> build() {
  return std::apply([](auto... kind) { return std::vector<Kind>{kind_of<decltype(kind)>()...}; },
                    AllKinds{});
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
    for (auto& k : built) {
      k.fields.push_back(
          {.name = "created_at", .type = FieldType::kString, .access = Access::kReadOnly});
    }
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

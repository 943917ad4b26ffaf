#include "shared/policy/json.h"

#include <fmt/format.h>

#include <concepts>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "shared/policy/delta.h"
#include "shared/policy/encoding.h"
#include "shared/util/json_text.h"

namespace vnet::policy {
namespace {

using nlohmann::json;

// --- reading ---

// Thrown inside this file only; from_json() turns it into a PolicyError.
struct ReadError {
  PolicyError error;
};

// One JSON object being read, with its JSON Pointer for error messages.
class Reader {
 public:
  Reader(const json& object, std::string path) : object_(object), path_(std::move(path)) {
    if (!object_.is_object()) fail(path_, "must be an object");
  }

  const json& field(const char* name) const {
    const auto it = object_.find(name);
    if (it == object_.end()) fail(at(name), "is required");
    return *it;
  }
  std::string at(std::string_view name) const { return fmt::format("{}/{}", path_, name); }

  std::string string(const char* name) const {
    const json& v = field(name);
    if (!v.is_string()) fail(at(name), "must be a string");
    return v.get<std::string>();
  }
  uint64_t unsigned_number(const char* name, uint64_t max) const {
    const json& v = field(name);
    // JSON text gives non-negative numbers as unsigned; a json built in code
    // may hold them signed.
    if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0)) {
      fail(at(name), "must be a non-negative integer");
    }
    const uint64_t value = v.get<uint64_t>();
    if (value > max) fail(at(name), fmt::format("must be at most {}", max));
    return value;
  }
  bool boolean(const char* name) const {
    const json& v = field(name);
    if (!v.is_boolean()) fail(at(name), "must be true or false");
    return v.get<bool>();
  }
  template <class Parse>
  auto text(const char* name, Parse parse) const {
    auto parsed = parse(string(name));
    if (!parsed) fail(at(name), parsed.error());
    return *parsed;
  }
  net::Ipv4Address ipv4(const char* name) const { return text(name, net::Ipv4Address::parse); }
  net::MacAddress mac(const char* name) const { return text(name, net::MacAddress::parse); }
  Uuid uuid(const char* name) const { return text(name, Uuid::parse); }
  net::IpPrefix ipv4_prefix(const char* name) const {
    const auto prefix = text(name, net::IpPrefix::parse);
    if (!prefix.is_v4()) fail(at(name), "must be an IPv4 prefix");
    return prefix;
  }
  net::Vsid vsid(const char* name) const {
    return net::Vsid::from_24_bits(static_cast<uint32_t>(unsigned_number(name, net::Vsid::kMax)));
  }

  // An optional array: absent means empty. Calls read(element, path) for each.
  template <class T, class Read>
  std::vector<T> array(const char* name, Read read) const {
    std::vector<T> out;
    const auto it = object_.find(name);
    if (it == object_.end()) return out;
    if (!it->is_array()) fail(at(name), "must be an array");
    out.reserve(it->size());
    for (size_t i = 0; i < it->size(); ++i) {
      out.push_back(read((*it)[i], fmt::format("{}/{}", at(name), i)));
    }
    return out;
  }

  [[noreturn]] static void fail(std::string path, std::string message) {
    throw ReadError{PolicyError{std::move(path), std::move(message)}};
  }

 private:
  const json& object_;
  std::string path_;
};

ProviderRoute read_provider_route(const json& j, const std::string& path) {
  Reader r(j, path);
  return {r.ipv4_prefix("prefix"), r.ipv4("next_hop")};
}

Provider read_provider(const json& j, const std::string& path) {
  Reader r(j, path);
  Provider p;
  p.pa = r.ipv4("pa");
  p.prefix_len = static_cast<uint8_t>(r.unsigned_number("prefix_len", 32));
  p.routes = r.array<ProviderRoute>("routes", read_provider_route);
  p.flow_entropy = r.boolean("flow_entropy");
  return p;
}

net::Ipv4Address read_address(const json& j, const std::string& path) {
  if (!j.is_string()) Reader::fail(path, "must be a string");
  auto a = net::Ipv4Address::parse(j.get<std::string>());
  if (!a) Reader::fail(path, a.error());
  return *a;
}

net::IpPrefix read_prefix(const json& j, const std::string& path);

// Optional (DESIGN.md's ports[] has no profile; docs/southbound.md):
// absent, the defaults of a NIC without a profile.
PortSettings read_port_settings(const json& j, const std::string& path) {
  Reader r(j, path);
  PortSettings s;
  s.name = r.string("name");
  if (s.name.size() > 255) Reader::fail(r.at("name"), "must be at most 255 bytes long");
  s.allow_mac_spoofing = r.boolean("allow_mac_spoofing");
  s.allowed_addresses = r.array<net::IpPrefix>("allowed_addresses", read_prefix);
  s.dhcp_guard = r.boolean("dhcp_guard");
  s.router_guard = r.boolean("router_guard");
  s.bandwidth_max_mbps = static_cast<uint32_t>(r.unsigned_number("bandwidth_max_mbps", 400000));
  s.bandwidth_min_mbps = static_cast<uint32_t>(r.unsigned_number("bandwidth_min_mbps", 400000));
  s.weight = static_cast<uint32_t>(r.unsigned_number("weight", 100));
  return s;
}

Port read_port(const json& j, const std::string& path) {
  Reader r(j, path);
  Port p;
  p.nic_id = r.uuid("nic_id");
  p.interface = r.string("interface");
  p.mac = r.mac("mac");
  p.ca = r.ipv4("ca");
  p.prefix_len = static_cast<uint8_t>(r.unsigned_number("prefix_len", 32));
  p.gateway = r.ipv4("gateway");
  p.dns = r.array<net::Ipv4Address>("dns", read_address);
  p.vsid = r.vsid("vsid");
  p.rdid = r.uuid("rdid");
  p.mtu = static_cast<uint16_t>(r.unsigned_number("mtu", 0xffff));
  if (j.contains("profile")) p.profile = read_port_settings(r.field("profile"), r.at("profile"));
  return p;
}

LookupRecord read_lookup_record(const json& j, const std::string& path) {
  Reader r(j, path);
  LookupRecord rec;
  rec.vsid = r.vsid("vsid");
  rec.ca = r.ipv4("ca");
  rec.mac = r.mac("mac");
  rec.pa = r.ipv4("pa");
  const auto rule = parse_lookup_rule(r.string("rule"));
  if (!rule) Reader::fail(r.at("rule"), "must be \"encap\" or \"rewrite\"");
  rec.rule = *rule;
  return rec;
}

CustomerRoute read_customer_route(const json& j, const std::string& path) {
  Reader r(j, path);
  CustomerRoute route;
  route.rdid = r.uuid("rdid");
  route.vsid = r.vsid("vsid");
  route.prefix = r.ipv4_prefix("prefix");
  route.next_hop = r.ipv4("next_hop");
  route.metric = static_cast<uint32_t>(r.unsigned_number("metric", UINT32_MAX));
  return route;
}

RewritePa read_rewrite_pa(const json& j, const std::string& path) {
  Reader r(j, path);
  return {r.uuid("nic_id"), r.ipv4("ca"), r.ipv4("pa")};
}

NatRule read_nat_rule(const json& j, const std::string& path) {
  Reader r(j, path);
  NatRule rule;
  const auto protocol = parse_nat_protocol(r.string("protocol"));
  if (!protocol) Reader::fail(r.at("protocol"), "must be \"tcp\" or \"udp\"");
  rule.protocol = *protocol;
  rule.external_port = static_cast<uint16_t>(r.unsigned_number("external_port", 65535));
  rule.internal_ip = r.ipv4("internal_ip");
  rule.internal_port = static_cast<uint16_t>(r.unsigned_number("internal_port", 65535));
  return rule;
}

net::IpPrefix read_prefix(const json& j, const std::string& path) {
  if (!j.is_string()) Reader::fail(path, "must be a string");
  const auto prefix = net::IpPrefix::parse(j.get<std::string>());
  if (!prefix) Reader::fail(path, prefix.error());
  if (!prefix->is_v4()) Reader::fail(path, "must be an IPv4 prefix");
  return *prefix;
}

GatewayPolicy read_gateway(const json& j, const std::string& path) {
  Reader r(j, path);
  GatewayPolicy g;
  g.gateway_id = r.uuid("gateway_id");
  g.rdid = r.uuid("rdid");
  const auto kind = parse_gateway_kind(r.string("kind"));
  if (!kind) Reader::fail(r.at("kind"), "must be \"nat\" or \"forwarding\"");
  g.kind = *kind;
  g.external_ip = r.ipv4("external_ip");
  g.pa = r.ipv4("pa");
  g.interface = r.string("interface");
  g.prefix_len = static_cast<uint8_t>(r.unsigned_number("prefix_len", 32));
  g.next_hop = r.ipv4("next_hop");
  g.nat_rules = r.array<NatRule>("nat_rules", read_nat_rule);
  g.advertised_prefixes = r.array<net::IpPrefix>("advertised_prefixes", read_prefix);
  return g;
}

}  // namespace

namespace {

// --- writing ---
// describe() (encoding.h) names the fields in DESIGN.md's order; J =
// ordered_json keeps that order in text, which people read (GET
// /hosts/{id}/policy, the agent's file).

template <class J>
J scalar(const std::string& v) {
  return J(v);
}
template <class J>
J scalar(bool v) {
  return J(v);
}
template <class J, std::unsigned_integral T>
J scalar(T v) {
  return J(v);
}
template <class J>
J scalar(net::Vsid v) {
  return J(v.value());
}
template <class J>
J scalar(const Uuid& v) {
  return J(v.to_string());
}
template <class J>
J scalar(const net::MacAddress& v) {
  return J(v.to_string());
}
template <class J>
J scalar(net::Ipv4Address v) {
  return J(v.to_string());
}
template <class J>
J scalar(const net::IpPrefix& v) {
  return J(v.to_string());
}
template <class J, class E>
requires std::is_enum_v<E> J scalar(E v) { return J(std::string(to_string(v))); }

template <class J>
class JsonWriter {
 public:
  template <class T>
  void operator()(const char* name, const T& value) {
    out_[name] = scalar<J>(value);
  }
  template <class T>
  void version(const char* name, const T& value) {
    out_[name] = scalar<J>(value);
  }
  template <class T>
  void object(const char* name, const T& value) {
    out_[name] = write(value);
  }
  template <class T>
  void list(const char* name, const std::vector<T>& items) {
    J array = J::array();
    for (const auto& item : items) array.push_back(write(item));
    out_[name] = std::move(array);
  }

  template <class T>
  static J write(const T& value) {
    if constexpr (Described<T>) {
      JsonWriter w;
      describe(w, value);
      return std::move(w.out_);
    } else {
      return scalar<J>(value);
    }
  }

 private:
  J out_ = J::object();
};

template <class J, class T>
J elements(const std::vector<T>& items) {
  J out = J::array();
  for (const auto& item : items) out.push_back(JsonWriter<J>::write(item));
  return out;
}

template <class J>
J build(const HostPolicy& p) {
  return JsonWriter<J>::write(p);
}

template <class T>
json section_json(const DeltaSection<T>& s) {
  return json{{"set", elements<json>(s.set)}, {"remove", elements<json>(s.remove)}};
}

template <class T, class Read>
DeltaSection<T> read_section(const Reader& parent, const json& j, const char* name, Read read) {
  DeltaSection<T> s;
  const auto it = j.find(name);
  if (it == j.end()) return s;
  Reader r(*it, parent.at(name));
  s.set = r.array<T>("set", read);
  s.remove = r.array<T>("remove", read);
  return s;
}

}  // namespace

json to_json(const HostPolicy& policy) { return build<json>(policy); }

std::string to_json_text(const HostPolicy& policy, int indent) {
  return build<nlohmann::ordered_json>(policy).dump(indent);
}

Expected<HostPolicy, PolicyError> from_json(const json& j) {
  HostPolicy p;
  try {
    Reader r(j, "");
    p.host_id = r.uuid("host_id");
    p.generation = r.unsigned_number("generation", UINT64_MAX);
    p.provider = read_provider(r.field("provider"), r.at("provider"));
    p.ports = r.array<Port>("ports", read_port);
    p.lookup_records = r.array<LookupRecord>("lookup_records", read_lookup_record);
    p.customer_routes = r.array<CustomerRoute>("customer_routes", read_customer_route);
    p.rewrite_pas = r.array<RewritePa>("rewrite_pas", read_rewrite_pa);
    p.gateways = r.array<GatewayPolicy>("gateways", read_gateway);
  } catch (const ReadError& e) {
    return Unexpected(e.error);
  }
  if (auto error = validate(p)) return Unexpected(*error);
  return p;
}

Expected<HostPolicy, PolicyError> from_json_text(std::string_view text) {
  if (json_depth(text) > kMaxJsonDepth) {
    return Unexpected(
        PolicyError{"", fmt::format("the policy nests deeper than {} levels", kMaxJsonDepth)});
  }
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    // parse_error names the byte offset and what was expected there;
    // out_of_range (a number such as 1e999) is also malformed input.
    return Unexpected(PolicyError{"", fmt::format("the policy is not valid JSON: {}", e.what())});
  }
  return from_json(j);
}

json to_json(const PolicyDelta& d) {
  json out{{"host_id", d.host_id.to_string()}, {"from", d.from}, {"generation", d.generation}};
  if (d.provider) out["provider"] = JsonWriter<json>::write(*d.provider);
  out["ports"] = section_json(d.ports);
  out["lookup_records"] = section_json(d.lookup_records);
  out["customer_routes"] = section_json(d.customer_routes);
  out["rewrite_pas"] = section_json(d.rewrite_pas);
  out["gateways"] = section_json(d.gateways);
  return out;
}

Expected<PolicyDelta, PolicyError> delta_from_json(const json& j) {
  PolicyDelta d;
  try {
    Reader r(j, "");
    d.host_id = r.uuid("host_id");
    d.from = r.unsigned_number("from", UINT64_MAX);
    d.generation = r.unsigned_number("generation", UINT64_MAX);
    if (d.generation <= d.from) Reader::fail("/generation", "must be greater than from");
    if (j.contains("provider")) d.provider = read_provider(j.at("provider"), "/provider");
    d.ports = read_section<Port>(r, j, "ports", read_port);
    d.lookup_records = read_section<LookupRecord>(r, j, "lookup_records", read_lookup_record);
    d.customer_routes = read_section<CustomerRoute>(r, j, "customer_routes", read_customer_route);
    d.rewrite_pas = read_section<RewritePa>(r, j, "rewrite_pas", read_rewrite_pa);
    d.gateways = read_section<GatewayPolicy>(r, j, "gateways", read_gateway);
  } catch (const ReadError& e) {
    return Unexpected(e.error);
  }
  return d;
}

}  // namespace vnet::policy

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "shared/policy/host_policy.h"

namespace vnet::policy {
namespace {

constexpr uint16_t kMinMtu = 68;  // RFC 791: every IPv4 host must take 68 bytes
constexpr uint16_t kMaxPortMtu = 0xffff - 42;

std::string at(std::string_view array, size_t i, std::string_view field) {
  return fmt::format("/{}/{}/{}", array, i, field);
}

// Linux interface names: 1 to 15 bytes, no '/', no white space, not "." or "..".
bool valid_interface_name(std::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (char c : name) {
    if (c == '/' || c == ':' || c <= ' ' || c == 0x7f) return false;
  }
  return true;
}

std::optional<PolicyError> vsid_error(net::Vsid vsid, std::string path) {
  if (!vsid.is_reserved()) return std::nullopt;
  return PolicyError{
      std::move(path),
      fmt::format("VSID {} is reserved (RFC 7637: 0-4095 and 16777215)", vsid.value())};
}

// The smallest index i such that key(j) == key(i) for some j < i, or n.
template <class Key>
size_t first_repeat(size_t n, Key key) {
  using K = decltype(key(0));
  std::vector<std::pair<K, size_t>> keys;
  keys.reserve(n);
  for (size_t i = 0; i < n; ++i) keys.emplace_back(key(i), i);
  std::sort(keys.begin(), keys.end());
  size_t first = n;
  for (size_t i = 1; i < keys.size(); ++i) {
    // Sorted by (key, index): the second of a run is its earliest repeat.
    if (keys[i].first == keys[i - 1].first && (i < 2 || keys[i - 2].first != keys[i].first))
      first = std::min(first, keys[i].second);
  }
  return first;
}

}  // namespace

std::string_view to_string(LookupRule rule) {
  return rule == LookupRule::kEncap ? "encap" : "rewrite";
}
std::optional<LookupRule> parse_lookup_rule(std::string_view text) {
  if (text == "encap") return LookupRule::kEncap;
  if (text == "rewrite") return LookupRule::kRewrite;
  return std::nullopt;
}
std::string_view to_string(GatewayKind kind) {
  return kind == GatewayKind::kNat ? "nat" : "forwarding";
}
std::string_view to_string(NatProtocol protocol) {
  return protocol == NatProtocol::kTcp ? "tcp" : "udp";
}
std::optional<NatProtocol> parse_nat_protocol(std::string_view text) {
  if (text == "tcp") return NatProtocol::kTcp;
  if (text == "udp") return NatProtocol::kUdp;
  return std::nullopt;
}
std::optional<GatewayKind> parse_gateway_kind(std::string_view text) {
  if (text == "nat") return GatewayKind::kNat;
  if (text == "forwarding") return GatewayKind::kForwarding;
  return std::nullopt;
}

namespace {

// A port's profile: bounded (the engine checks each source against the
// allowed prefixes), weights and rates within what the API accepts.
std::optional<PolicyError> settings_error(const PortSettings& s, const std::string& path) {
  if (s.allowed_addresses.size() > kMaxAllowedAddresses) {
    return PolicyError{path + "/allowed_addresses",
                       fmt::format("must hold at most {} prefixes", kMaxAllowedAddresses)};
  }
  for (size_t i = 0; i < s.allowed_addresses.size(); ++i) {
    if (!s.allowed_addresses[i].is_v4())
      return PolicyError{fmt::format("{}/allowed_addresses/{}", path, i), "must be IPv4"};
  }
  if (s.weight < 1 || s.weight > 100) return PolicyError{path + "/weight", "must be from 1 to 100"};
  if (s.bandwidth_min_mbps != 0 && s.bandwidth_max_mbps != 0 &&
      s.bandwidth_min_mbps > s.bandwidth_max_mbps) {
    return PolicyError{path + "/bandwidth_min_mbps", "must not exceed bandwidth_max_mbps"};
  }
  return std::nullopt;
}

}  // namespace

std::optional<PolicyError> validate(const HostPolicy& p) {
  if (p.host_id.is_nil()) return PolicyError{"/host_id", "must not be the nil UUID"};
  if (p.provider.pa.is_unspecified()) return PolicyError{"/provider/pa", "must not be 0.0.0.0"};
  if (p.provider.prefix_len < 1 || p.provider.prefix_len > 32) {
    return PolicyError{"/provider/prefix_len", "must be from 1 to 32"};
  }

  std::set<Uuid> nic_ids;
  std::set<std::string> interfaces;
  for (size_t i = 0; i < p.ports.size(); ++i) {
    const Port& port = p.ports[i];
    if (!nic_ids.insert(port.nic_id).second) {
      return PolicyError{at("ports", i, "nic_id"), "appears in another port too"};
    }
    if (!valid_interface_name(port.interface)) {
      return PolicyError{
          at("ports", i, "interface"),
          fmt::format("\"{}\" is not a Linux interface name (1-15 bytes, no '/', ':' "
                      "or white space)",
                      port.interface)};
    }
    if (!interfaces.insert(port.interface).second) {
      return PolicyError{at("ports", i, "interface"),
                         fmt::format("\"{}\" is bound to another port too", port.interface)};
    }
    if (!port.mac.is_unicast() || port.mac.is_zero()) {
      return PolicyError{at("ports", i, "mac"), "must be a unicast MAC address"};
    }
    if (port.ca.is_unspecified()) return PolicyError{at("ports", i, "ca"), "must not be 0.0.0.0"};
    if (port.prefix_len < 1 || port.prefix_len > 32) {
      return PolicyError{at("ports", i, "prefix_len"), "must be from 1 to 32"};
    }
    const auto subnet = net::IpPrefix::containing(port.ca, port.prefix_len);
    if (!port.gateway.is_unspecified() &&
        (port.gateway == port.ca || !subnet.contains(net::IpAddress(port.gateway)))) {
      return PolicyError{at("ports", i, "gateway"),
                         fmt::format("{} is not another address of {}", port.gateway.to_string(),
                                     subnet.to_string())};
    }
    if (auto e = vsid_error(port.vsid, at("ports", i, "vsid"))) return e;
    if (port.rdid.is_nil()) return PolicyError{at("ports", i, "rdid"), "must not be the nil UUID"};
    if (port.mtu < kMinMtu || port.mtu > kMaxPortMtu) {
      return PolicyError{at("ports", i, "mtu"),
                         fmt::format("must be from {} to {}", kMinMtu, kMaxPortMtu)};
    }
    if (auto e = settings_error(port.profile, at("ports", i, "profile"))) return e;
  }

  // One record per (VSID, CA) and per (VSID, MAC): the tables look up by both.
  // Found by sorting keys (a host holds thousands of records and the
  // controller validates every policy it compiles): the first record, in
  // order, whose key an earlier record has.
  const size_t n_records = p.lookup_records.size();
  const size_t dup_ca = first_repeat(n_records, [&](size_t i) {
    const LookupRecord& r = p.lookup_records[i];
    return std::pair<uint64_t, uint64_t>(r.vsid.value(), r.ca.to_u32());
  });
  const size_t dup_mac = first_repeat(n_records, [&](size_t i) {
    const LookupRecord& r = p.lookup_records[i];
    return std::pair<uint64_t, uint64_t>(r.vsid.value(), r.mac.to_u64());
  });
  for (size_t i = 0; i < n_records; ++i) {
    const LookupRecord& rec = p.lookup_records[i];
    if (auto e = vsid_error(rec.vsid, at("lookup_records", i, "vsid"))) return e;
    if (!rec.mac.is_unicast() || rec.mac.is_zero()) {
      return PolicyError{at("lookup_records", i, "mac"), "must be a unicast MAC address"};
    }
    if (rec.pa.is_unspecified()) {
      return PolicyError{at("lookup_records", i, "pa"), "must not be 0.0.0.0"};
    }
    if (i == dup_ca) {
      return PolicyError{
          at("lookup_records", i, "ca"),
          fmt::format("VSID {} has another record for {}", rec.vsid.value(), rec.ca.to_string())};
    }
    if (i == dup_mac) {
      return PolicyError{
          at("lookup_records", i, "mac"),
          fmt::format("VSID {} has another record for {}", rec.vsid.value(), rec.mac.to_string())};
    }
  }

  std::set<std::tuple<RoutingDomainId, net::Vsid, net::IpPrefix>> routes;
  for (size_t i = 0; i < p.customer_routes.size(); ++i) {
    const CustomerRoute& r = p.customer_routes[i];
    if (r.rdid.is_nil()) {
      return PolicyError{at("customer_routes", i, "rdid"), "must not be the nil UUID"};
    }
    if (auto e = vsid_error(r.vsid, at("customer_routes", i, "vsid"))) return e;
    if (!routes.emplace(r.rdid, r.vsid, r.prefix).second) {
      return PolicyError{
          at("customer_routes", i, "prefix"),
          fmt::format("{} appears twice for VSID {}", r.prefix.to_string(), r.vsid.value())};
    }
  }

  std::set<net::Ipv4Address> rewrite_pas;
  for (size_t i = 0; i < p.rewrite_pas.size(); ++i) {
    const RewritePa& r = p.rewrite_pas[i];
    if (r.pa.is_unspecified())
      return PolicyError{at("rewrite_pas", i, "pa"), "must not be 0.0.0.0"};
    if (!rewrite_pas.insert(r.pa).second) {
      return PolicyError{at("rewrite_pas", i, "pa"),
                         fmt::format("{} is the rewrite PA of another NIC too", r.pa.to_string())};
    }
  }

  std::set<net::Ipv4Address> external_ips;
  std::set<RoutingDomainId> gateway_domains;
  for (size_t i = 0; i < p.gateways.size(); ++i) {
    if (auto error = validate_gateway(p.gateways[i], i)) return error;
    const GatewayPolicy& g = p.gateways[i];
    if (!external_ips.insert(g.external_ip).second) {
      return PolicyError{
          at("gateways", i, "external_ip"),
          fmt::format("{} is another gateway's external address too", g.external_ip.to_string())};
    }
    if (!gateway_domains.insert(g.rdid).second) {
      return PolicyError{at("gateways", i, "rdid"), "has another gateway too (one per VM network)"};
    }
  }
  // Forwarding gateways run here take inbound packets by destination alone:
  // two with overlapping prefixes could not tell their tenants apart.
  for (size_t i = 0; i < p.gateways.size(); ++i) {
    const GatewayPolicy& a = p.gateways[i];
    if (a.kind != GatewayKind::kForwarding || a.pa != p.provider.pa) continue;
    for (size_t j = 0; j < i; ++j) {
      const GatewayPolicy& b = p.gateways[j];
      if (b.kind != GatewayKind::kForwarding || b.pa != p.provider.pa) continue;
      for (size_t x = 0; x < a.advertised_prefixes.size(); ++x) {
        for (const net::IpPrefix& other : b.advertised_prefixes) {
          if (!a.advertised_prefixes[x].overlaps(other)) continue;
          return PolicyError{fmt::format("/gateways/{}/advertised_prefixes/{}", i, x),
                             fmt::format("{} overlaps {} of forwarding gateway {} on the same host",
                                         a.advertised_prefixes[x].to_string(), other.to_string(),
                                         b.gateway_id.to_string())};
        }
      }
    }
  }
  return std::nullopt;
}

std::optional<PolicyError> validate_gateway(const GatewayPolicy& g, size_t i) {
  if (g.gateway_id.is_nil()) return PolicyError{at("gateways", i, "gateway_id"), "must not be nil"};
  if (g.external_ip.is_unspecified() || g.external_ip.is_multicast() ||
      g.external_ip.is_broadcast()) {
    return PolicyError{at("gateways", i, "external_ip"), "must be a unicast address"};
  }
  if (g.pa.is_unspecified()) return PolicyError{at("gateways", i, "pa"), "must not be 0.0.0.0"};
  if (!valid_interface_name(g.interface)) {
    return PolicyError{at("gateways", i, "interface"),
                       fmt::format("\"{}\" is not a Linux interface name", g.interface)};
  }
  if (g.prefix_len < 1 || g.prefix_len > 32) {
    return PolicyError{at("gateways", i, "prefix_len"), "must be from 1 to 32"};
  }
  const auto subnet = net::IpPrefix::containing(net::IpAddress(g.external_ip), g.prefix_len);
  if (!g.next_hop.is_unspecified() &&
      (g.next_hop == g.external_ip || !subnet.contains(net::IpAddress(g.next_hop)))) {
    return PolicyError{
        at("gateways", i, "next_hop"),
        fmt::format("{} is not another address of {}", g.next_hop.to_string(), subnet.to_string())};
  }
  if (g.kind != GatewayKind::kNat && !g.nat_rules.empty()) {
    return PolicyError{fmt::format("/gateways/{}/nat_rules", i), "are for NAT gateways only"};
  }
  for (size_t r = 0; r < g.nat_rules.size(); ++r) {
    const NatRule& rule = g.nat_rules[r];
    const std::string base = fmt::format("/gateways/{}/nat_rules/{}", i, r);
    if (rule.external_port == 0) return PolicyError{base + "/external_port", "must not be 0"};
    if (rule.internal_port == 0) return PolicyError{base + "/internal_port", "must not be 0"};
    if (rule.internal_ip.is_unspecified())
      return PolicyError{base + "/internal_ip", "must not be 0.0.0.0"};
  }
  const size_t repeat = first_repeat(g.nat_rules.size(), [&](size_t r) {
    return std::pair(g.nat_rules[r].protocol, g.nat_rules[r].external_port);
  });
  if (repeat < g.nat_rules.size()) {
    return PolicyError{fmt::format("/gateways/{}/nat_rules/{}/external_port", i, repeat),
                       "is claimed by another rule of the same protocol"};
  }
  for (size_t a = 0; a < g.advertised_prefixes.size(); ++a) {
    if (!g.advertised_prefixes[a].is_v4()) {
      return PolicyError{fmt::format("/gateways/{}/advertised_prefixes/{}", i, a),
                         "must be an IPv4 prefix"};
    }
  }
  return std::nullopt;
}

}  // namespace vnet::policy

#include "agent/tables/tables.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace vnet::agent::dataplane {
namespace {

uint32_t netmask_of(uint8_t length) { return length == 0 ? 0 : ~uint32_t{0} << (32 - length); }

// A port's profile as the pipeline reads it, and in words for people.
void apply_profile(const policy::PortSettings& s, PortEntry& port) {
  port.allow_mac_spoofing = s.allow_mac_spoofing;
  port.dhcp_guard = s.dhcp_guard;
  port.router_guard = s.router_guard;
  port.bandwidth_max_mbps = s.bandwidth_max_mbps;
  port.bandwidth_min_mbps = s.bandwidth_min_mbps;
  port.weight = s.weight;
  std::string allowed;
  for (const net::IpPrefix& prefix : s.allowed_addresses) {
    if (!prefix.is_v4() || port.allowed_sources.size() == policy::kMaxAllowedAddresses) continue;
    const uint32_t mask = netmask_of(prefix.length());
    port.allowed_sources.push_back({prefix.address().v4().to_u32() & mask, mask});
    allowed += (allowed.empty() ? "" : ", ") + prefix.to_string();
  }
  std::string& out = port.profile_summary;
  out = s.name.empty() ? "no port profile" : fmt::format("port profile \"{}\"", s.name);
  out +=
      allowed.empty() ? ": sources its CA only" : fmt::format(": sources its CA and {}", allowed);
  if (s.allow_mac_spoofing) out += ", any source MAC";
  out += s.dhcp_guard ? ", DHCP guard" : ", no DHCP guard";
  out += s.router_guard ? ", router guard" : ", no router guard";
  if (s.bandwidth_max_mbps != 0) out += fmt::format(", at most {} Mbit/s", s.bandwidth_max_mbps);
  if (s.bandwidth_min_mbps != 0) out += fmt::format(", at least {} Mbit/s", s.bandwidth_min_mbps);
  if (s.weight != 1) out += fmt::format(", weight {}", s.weight);
}

}  // namespace

std::shared_ptr<const Tables> Tables::build(const policy::HostPolicy& policy,
                                            const HostFacts& facts) {
  auto t = std::make_shared<Tables>();
  t->generation = policy.generation;
  t->pa = policy.provider.pa;
  t->uplink_mac = facts.uplink_mac;
  t->uplink_mtu = facts.uplink_mtu;
  t->flow_entropy = policy.provider.flow_entropy;

  // Routing domains, in the order the routes name them.
  std::map<policy::RoutingDomainId, uint32_t> domain_index;
  auto domain = [&](const policy::RoutingDomainId& rdid) {
    auto [it, added] = domain_index.emplace(rdid, static_cast<uint32_t>(t->domains.size()));
    if (added) t->domains.push_back(RoutingDomain{.rdid = rdid, .routes = {}});
    return it->second;
  };
  t->domain_of_vsid_.reserve(policy.customer_routes.size() + policy.ports.size());
  for (const policy::CustomerRoute& route : policy.customer_routes) {
    if (!route.prefix.is_v4()) continue;
    const uint32_t d = domain(route.rdid);
    const uint32_t mask = netmask_of(route.prefix.length());
    t->domains[d].routes.push_back(
        RouteEntry{.network = route.prefix.address().v4().to_u32() & mask,
                   .netmask = mask,
                   .length = route.prefix.length(),
                   .vsid = route.vsid,
                   .next_hop = route.next_hop,
                   .metric = route.metric});
    t->domain_of_vsid_.insert(route.vsid.value(), d);
  }
  for (RoutingDomain& d : t->domains) {
    // Longest prefix, then lowest metric, then on-link before a next hop:
    // a subnet's own route (metric 0) is never taken over by a tenant's
    // route of the same prefix, whatever order the policy lists them in.
    std::stable_sort(d.routes.begin(), d.routes.end(),
                     [](const RouteEntry& a, const RouteEntry& b) {
                       if (a.length != b.length) return a.length > b.length;
                       if (a.metric != b.metric) return a.metric < b.metric;
                       return a.next_hop.is_unspecified() && !b.next_hop.is_unspecified();
                     });
  }

  // Ports.
  std::unordered_map<Uuid, net::Ipv4Address> rewrite_pa_of_nic;
  for (const policy::RewritePa& r : policy.rewrite_pas) rewrite_pa_of_nic[r.nic_id] = r.pa;
  t->port_by_mac_.reserve(policy.ports.size());
  t->local_vsids_.reserve(policy.ports.size());
  t->port_by_rewrite_pa_.reserve(policy.rewrite_pas.size());
  for (const policy::Port& p : policy.ports) {
    if (t->ports.size() >= kNoPort) {
      t->warnings.push_back("more than 65534 ports: the rest are left out");
      break;
    }
    PortEntry port;
    port.interface = p.interface;
    port.nic_id = p.nic_id;
    port.mac = p.mac;
    port.mac_key = p.mac.to_u64();
    port.ca = p.ca;
    port.netmask = netmask_of(p.prefix_len);
    port.network = p.ca.to_u32() & port.netmask;
    port.gateway = p.gateway;
    port.dhcp_server =
        p.gateway.is_unspecified() ? net::Ipv4Address::from_u32(port.network + 1) : p.gateway;
    for (const net::Ipv4Address& dns : p.dns) {
      if (port.dns_count == port.dns.size()) break;
      port.dns[port.dns_count++] = dns;
    }
    port.vsid = p.vsid;
    port.rdid = domain(p.rdid);
    // What the VM is told (DHCP option 26) and held to: the controller's MTU,
    // or less when this host's uplink cannot carry it with the 42 NVGRE bytes.
    port.mtu = static_cast<uint16_t>(std::min<int>(p.mtu, facts.uplink_mtu - 42));
    if (auto it = rewrite_pa_of_nic.find(p.nic_id); it != rewrite_pa_of_nic.end()) {
      port.rewrite_pa = it->second;
    }
    apply_profile(p.profile, port);
    const auto index = static_cast<uint32_t>(t->ports.size());
    if (t->port_by_mac_.find(port.mac_key)) {
      t->warnings.push_back("port " + p.interface + ": MAC " + p.mac.to_string() +
                            " is another port's too; left out");
      continue;
    }
    t->port_by_mac_.insert(port.mac_key, index);
    t->local_vsids_.insert(port.vsid.value(), index);
    if (!t->domain_of_vsid_.find(port.vsid.value()))
      t->domain_of_vsid_.insert(port.vsid.value(), port.rdid);
    if (!port.rewrite_pa.is_unspecified())
      t->port_by_rewrite_pa_.insert(port.rewrite_pa.to_u32(), index);
    t->ports.push_back(std::move(port));
  }

  // Lookup records, with the local port or the tunnel to their PA.
  std::unordered_map<net::Ipv4Address, uint32_t> tunnel_of_pa;
  // The tunnel to a PA, made once: outer headers prepared, the next hop's
  // MAC when the host layer knows it (the VSID is stored per packet).
  auto tunnel_to = [&](net::Ipv4Address remote) {
    auto [it, added] = tunnel_of_pa.emplace(remote, static_cast<uint32_t>(t->tunnels.size()));
    if (added) {
      Tunnel tunnel;
      tunnel.pa = remote;
      if (auto mac = facts.next_hop_macs.find(remote); mac != facts.next_hop_macs.end()) {
        tunnel.next_hop_mac = mac->second;
        tunnel.resolved = true;
      } else {
        t->unresolved_pas.push_back(remote);
      }
      tunnel.encapsulator = packet::NvgreEncapsulator(packet::NvgreTunnel{
          .src_mac = facts.uplink_mac,
          .dst_mac = tunnel.next_hop_mac,
          .src_pa = t->pa,
          .dst_pa = remote,
          .vsid = net::Vsid{},
          .flow_id = 0,
          .ttl = 64,
      });
      t->tunnels.push_back(tunnel);
    }
    return it->second;
  };
  t->records.reserve(policy.lookup_records.size());
  t->by_vsid_mac_.reserve(policy.lookup_records.size());
  for (const policy::LookupRecord& r : policy.lookup_records) {
    RecordEntry record{.vsid = r.vsid, .ca = r.ca, .mac = r.mac, .pa = r.pa, .rule = r.rule};
    const uint16_t port = t->port_by_mac(r.mac.to_u64());
    if (port != kNoPort && t->ports[port].vsid == r.vsid && t->ports[port].ca == r.ca) {
      record.local_port = port;
    } else if (r.pa != t->pa || r.rule == policy::LookupRule::kRewrite) {
      record.tunnel = tunnel_to(r.pa);
    } else {
      // Our own PA but no port: the NIC is placed here and its interface
      // has not appeared yet. Nothing to forward to.
    }
    const uint32_t index = t->records.insert(record);
    if (index == kNone) {
      t->warnings.push_back(
          "more lookup records than the table was sized for: the rest are "
          "left out");
      break;
    }
    t->by_vsid_mac_.insert(vsid_mac_key(r.vsid, r.mac), index);
    if (const uint32_t d = t->domain_of(r.vsid); d != kNone && r.pa != t->pa) {
      t->source_pas_.insert(domain_pa_key(d, r.pa), 1);
    }
    if (r.rule == policy::LookupRule::kRewrite && record.local_port == kNoPort) {
      t->rewrite_by_pa_.insert(r.pa.to_u32(), index);
    }
  }

  // Gateways: the one of each routing domain, run here or reached through
  // NVGRE to its host's PA (which may then send for the domain's VSIDs).
  t->external_mac = facts.external_mac;
  t->external_mtu = facts.external_mtu;
  for (const policy::GatewayPolicy& g : policy.gateways) {
    GatewayEntry gw;
    gw.gateway_id = g.gateway_id;
    gw.domain = domain(g.rdid);
    gw.kind = g.kind;
    gw.external_ip = g.external_ip;
    gw.pa = g.pa;
    gw.local = g.pa == t->pa;
    gw.nat_rules = g.nat_rules;
    const auto index = static_cast<uint32_t>(t->gateways.size());
    if (t->domains[gw.domain].gateway != kNone) {
      t->warnings.push_back("gateway " + g.gateway_id.to_string() +
                            ": its routing domain has another gateway; left out");
      continue;
    }
    if (gw.local) {
      if (t->gateway_by_external_ip_.find(g.external_ip.to_u32())) {
        t->warnings.push_back("gateway " + g.gateway_id.to_string() + ": external address " +
                              g.external_ip.to_string() + " is another gateway's; left out");
        continue;
      }
      gw.external_netmask = netmask_of(g.prefix_len);
      gw.external_network = g.external_ip.to_u32() & gw.external_netmask;
      gw.next_hop = g.next_hop;
      if (auto mac = facts.external_next_hop_macs.find(g.next_hop);
          mac != facts.external_next_hop_macs.end()) {
        gw.next_hop_mac = mac->second;
        gw.next_hop_resolved = true;
      } else if (!g.next_hop.is_unspecified() &&
                 std::find(t->unresolved_external.begin(), t->unresolved_external.end(),
                           g.next_hop) == t->unresolved_external.end()) {
        t->unresolved_external.push_back(g.next_hop);
      }
      for (const net::IpPrefix& prefix : g.advertised_prefixes) {
        if (!prefix.is_v4()) continue;
        const uint32_t mask = netmask_of(prefix.length());
        gw.prefixes.push_back(RouteEntry{.network = prefix.address().v4().to_u32() & mask,
                                         .netmask = mask,
                                         .length = prefix.length(),
                                         .vsid = net::Vsid{},
                                         .next_hop = net::Ipv4Address(),
                                         .metric = 0});
      }
      t->gateway_by_external_ip_.insert(g.external_ip.to_u32(), index);
      if (g.kind == policy::GatewayKind::kForwarding) t->local_forwarding_.push_back(index);
    } else {
      gw.tunnel = tunnel_to(g.pa);
      t->source_pas_.insert(domain_pa_key(gw.domain, g.pa), 1);
    }
    t->domains[gw.domain].gateway = index;
    t->gateways.push_back(std::move(gw));
  }
  return t;
}

std::vector<net::Ipv4Address> Tables::external_addresses() const {
  std::vector<net::Ipv4Address> out;
  for (const GatewayEntry& g : gateways) {
    if (g.local) out.push_back(g.external_ip);
  }
  return out;
}

uint16_t Tables::port_by_interface(std::string_view interface) const {
  for (size_t i = 0; i < ports.size(); ++i) {
    if (ports[i].interface == interface) return static_cast<uint16_t>(i);
  }
  return kNoPort;
}

size_t Tables::memory_bytes() const {
  return records.bytes() + by_vsid_mac_.bytes() + source_pas_.bytes() + rewrite_by_pa_.bytes() +
         port_by_rewrite_pa_.bytes() + port_by_mac_.bytes() + local_vsids_.bytes() +
         domain_of_vsid_.bytes() + gateway_by_external_ip_.bytes() +
         tunnels.size() * sizeof(Tunnel);
}

std::vector<net::Ipv4Address> Tables::rewrite_pas() const {
  std::vector<net::Ipv4Address> pas;
  for (const PortEntry& port : ports) {
    if (!port.rewrite_pa.is_unspecified()) pas.push_back(port.rewrite_pa);
  }
  return pas;
}

}  // namespace vnet::agent::dataplane

// The forwarding tables of one host, compiled from its HostPolicy and what
// the host layer knows about the underlay (uplink MAC and MTU, next-hop MACs).
// Immutable once built: the engine reads them without locks and the control
// thread replaces the whole set between batches (DESIGN.md section 4).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/tables/flat_map.h"
#include "agent/tables/keys.h"
#include "agent/tables/record_table.h"
#include "shared/net/ipv4.h"
#include "shared/net/mac.h"
#include "shared/net/vsid.h"
#include "shared/packet/nvgre.h"
#include "shared/policy/host_policy.h"

namespace vnet::agent::dataplane {

// The MAC the virtual router answers with for every subnet's gateway address
// and uses as the source of routed frames (in the vendor range of vnet's
// default MAC pool, outside the pool itself).
inline constexpr net::MacAddress kRouterMac = net::MacAddress::from_u64(0x001dd8000001ull);
inline constexpr uint32_t kDhcpLeaseSeconds = 86400;

// An IPv4 prefix as the look-ups compare it (host order).
struct Ipv4Prefix {
  uint32_t network = 0;
  uint32_t netmask = 0;
};

// A VM NIC on this host, as the pipeline needs it.
struct PortEntry {
  std::string interface;
  Uuid nic_id;
  net::MacAddress mac;
  uint64_t mac_key = 0;  // mac.to_u64(), compared per packet
  net::Ipv4Address ca;
  uint32_t netmask = 0;          // host order
  uint32_t network = 0;          // ca & netmask
  net::Ipv4Address gateway;      // 0.0.0.0: none
  net::Ipv4Address dhcp_server;  // the gateway, or the subnet's first address
  std::array<net::Ipv4Address, 4> dns{};
  uint8_t dns_count = 0;
  net::Vsid vsid;
  uint32_t rdid = 0;            // index into Tables::domains
  uint16_t mtu = 1458;          // what DHCP tells the VM: uplink MTU - 42
  net::Ipv4Address rewrite_pa;  // its own PA in a rewrite VM network, else 0.0.0.0
  // Its port profile (issue 19): what it may send besides its own MAC and
  // CA, the guards, and the most it may send (0: no limit).
  bool allow_mac_spoofing = false;
  bool dhcp_guard = true;
  bool router_guard = true;
  std::vector<Ipv4Prefix> allowed_sources;  // at most policy::kMaxAllowedAddresses
  uint32_t bandwidth_max_mbps = 0;
  uint32_t bandwidth_min_mbps = 0;
  uint32_t weight = 1;
  std::string profile_summary;  // for the trace and `show ports`

  // Whether the VM may send from `source` (Ethernet source, ARP sender): its
  // own, or with MAC spoofing allowed any unicast one (never a multicast
  // or zero MAC, which would poison the neighbours' tables).
  bool allows_mac(net::MacAddress source) const {
    return source.to_u64() == mac_key ||
           (allow_mac_spoofing && !source.is_multicast() && !source.is_zero());
  }
  // Whether the VM may send from `source`: its CA, or an allowed prefix.
  bool allows_source(net::Ipv4Address source) const {
    if (source == ca) return true;
    for (const Ipv4Prefix& p : allowed_sources) {
      if ((source.to_u32() & p.netmask) == p.network) return true;
    }
    return false;
  }
};

// Outer headers towards one PA, prepared once; the VSID and FlowID are
// stored per packet.
struct Tunnel {
  net::Ipv4Address pa;
  net::MacAddress next_hop_mac;
  bool resolved = false;  // false: the underlay neighbour is not known yet
  packet::NvgreEncapsulator encapsulator{packet::NvgreTunnel{}};
};

struct RouteEntry {
  uint32_t network = 0;  // host order
  uint32_t netmask = 0;
  uint8_t length = 0;
  net::Vsid vsid;
  net::Ipv4Address next_hop;  // 0.0.0.0: on-link in vsid
  uint32_t metric = 0;
};

// One RDID's customer routes, longest prefix first, then lowest metric, then on-link: the
// first that contains the destination wins; what matches none goes to the
// domain's gateway, when it has one.
struct RoutingDomain {
  policy::RoutingDomainId rdid;
  std::vector<RouteEntry> routes;
  uint32_t gateway = 0xffffffff;  // index into Tables::gateways, or kNone
};

// A routing domain's gateway (DESIGN.md section 4, "Gateways"): run here
// when `local`, else reached through `tunnel` (NVGRE to its host's PA).
struct GatewayEntry {
  Uuid gateway_id;
  uint32_t domain = 0;
  policy::GatewayKind kind = policy::GatewayKind::kNat;
  net::Ipv4Address external_ip;
  net::Ipv4Address pa;
  bool local = false;
  uint32_t tunnel = 0xffffffff;  // when remote
  // When local: the external subnet, and the next hop's MAC (from the
  // kernel's neighbour table on the external interface).
  uint32_t external_network = 0;  // host order
  uint32_t external_netmask = 0;
  net::Ipv4Address next_hop;
  net::MacAddress next_hop_mac;
  bool next_hop_resolved = false;
  std::vector<policy::NatRule> nat_rules;
  std::vector<RouteEntry> prefixes;  // advertised (forwarding): what comes in
};

// What the host layer knows that the policy does not.
struct HostFacts {
  net::MacAddress uplink_mac;
  uint16_t uplink_mtu = 1500;
  // The underlay next hop's MAC for each PA that has one already.
  std::unordered_map<net::Ipv4Address, net::MacAddress> next_hop_macs;
  // The external interface of a gateway host, and its next hops' MACs.
  net::MacAddress external_mac;
  uint16_t external_mtu = 1500;
  std::unordered_map<net::Ipv4Address, net::MacAddress> external_next_hop_macs;
};

class Tables {
 public:
  // Compiles `policy`; never fails on a policy that validate() accepts
  // (anything inconsistent is left out and named in `warnings`).
  static std::shared_ptr<const Tables> build(const policy::HostPolicy& policy,
                                             const HostFacts& facts);

  uint64_t generation = 0;
  net::Ipv4Address pa;
  net::MacAddress uplink_mac;
  uint16_t uplink_mtu = 1500;
  bool flow_entropy = false;
  std::vector<PortEntry> ports;
  RecordTable records;  // by (VSID, CA), each record in its hash slot
  std::vector<Tunnel> tunnels;
  std::vector<RoutingDomain> domains;
  std::vector<GatewayEntry> gateways;
  net::MacAddress external_mac;
  uint16_t external_mtu = 1500;
  // PAs whose next-hop MAC was missing: the host layer resolves them and
  // builds the tables again.
  std::vector<net::Ipv4Address> unresolved_pas;
  // External next hops of local gateways without a MAC yet.
  std::vector<net::Ipv4Address> unresolved_external;
  std::vector<std::string> warnings;

  // Look-ups, all O(1) but the routes.
  const RecordEntry* record_by_ca(net::Vsid vsid, net::Ipv4Address ca) const {
    return records.find(vsid, ca);
  }
  // Cache hints for record_by_ca(), for a batch: first the record's slot,
  // then (once the slot has arrived) the tunnel it names.
  void prefetch_slot(net::Vsid vsid, net::Ipv4Address ca) const { records.prefetch(vsid, ca); }
  void prefetch_record(net::Vsid vsid, net::Ipv4Address ca) const {
    if (const RecordEntry* r = records.find(vsid, ca); r != nullptr && r->tunnel != kNone) {
      const auto* tunnel = reinterpret_cast<const char*>(&tunnels[r->tunnel]);
      __builtin_prefetch(tunnel);
      __builtin_prefetch(tunnel + 64);
    }
  }
  const RecordEntry* record_by_mac(net::Vsid vsid, uint64_t mac) const {
    return at(by_vsid_mac_.find(vsid_mac_key(vsid, mac)));
  }
  // Whether `pa` holds a lookup record of the routing domain (an index into
  // domains): the only PAs that may send NVGRE for the domain's VSIDs.
  bool is_source_pa(uint32_t domain, net::Ipv4Address source) const {
    return domain != kNone && source_pas_.find(domain_pa_key(domain, source)).has_value();
  }
  // A remote NIC of a rewrite VM network by its PA.
  const RecordEntry* rewrite_record_by_pa(net::Ipv4Address peer_pa) const {
    return at(rewrite_by_pa_.find(peer_pa.to_u32()));
  }
  // The local port that owns a rewrite PA.
  uint16_t port_by_rewrite_pa(net::Ipv4Address rewrite_pa) const {
    const auto found = port_by_rewrite_pa_.find(rewrite_pa.to_u32());
    return found ? static_cast<uint16_t>(*found) : kNoPort;
  }
  uint16_t port_by_mac(uint64_t mac) const {
    const auto found = port_by_mac_.find(mac);
    return found ? static_cast<uint16_t>(*found) : kNoPort;
  }
  bool has_local_vsid(net::Vsid vsid) const { return local_vsids_.find(vsid.value()).has_value(); }
  // The RDID index a VSID belongs to, or kNone.
  uint32_t domain_of(net::Vsid vsid) const {
    return domain_of_vsid_.find(vsid.value()).value_or(kNone);
  }
  uint16_t port_by_interface(std::string_view interface) const;
  const RouteEntry* route(uint32_t domain, net::Ipv4Address dst) const {
    for (const RouteEntry& r : domains[domain].routes) {
      if ((dst.to_u32() & r.netmask) == r.network) return &r;
    }
    return nullptr;
  }
  // The gateway of a routing domain (an index into domains), or nullptr.
  const GatewayEntry* gateway_of(uint32_t domain) const {
    return domain < domains.size() && domains[domain].gateway != kNone
               ? &gateways[domains[domain].gateway]
               : nullptr;
  }
  // A gateway this host runs, by its external address.
  const GatewayEntry* local_gateway(net::Ipv4Address external_ip) const {
    const auto found = gateway_by_external_ip_.find(external_ip.to_u32());
    return found ? &gateways[*found] : nullptr;
  }
  // A forwarding gateway run here whose advertised prefixes hold `dst`.
  const GatewayEntry* forwarding_gateway_for(net::Ipv4Address dst) const {
    for (const uint32_t g : local_forwarding_) {
      for (const RouteEntry& p : gateways[g].prefixes) {
        if ((dst.to_u32() & p.netmask) == p.network) return &gateways[g];
      }
    }
    return nullptr;
  }
  // The external addresses of the gateways run here.
  std::vector<net::Ipv4Address> external_addresses() const;
  bool has_rewrite_pas() const { return port_by_rewrite_pa_.size() != 0; }
  std::vector<net::Ipv4Address> rewrite_pas() const;
  // What the look-up structures take (hash slots and records; the ports',
  // tunnels' and gateways' arrays are small beside them).
  size_t memory_bytes() const;

 private:
  const RecordEntry* at(std::optional<uint32_t> index) const {
    return index ? &records.at(*index) : nullptr;
  }
  FlatMap<VsidMacKey> by_vsid_mac_;  // vsid_mac_key -> the record's slot in `records`
  FlatMap<uint64_t> source_pas_;     // domain_pa_key -> 1
  FlatMap<> rewrite_by_pa_;
  FlatMap<> port_by_rewrite_pa_;
  FlatMap<> port_by_mac_;
  FlatMap<> local_vsids_;
  FlatMap<> domain_of_vsid_;
  FlatMap<> gateway_by_external_ip_;        // local gateways
  std::vector<uint32_t> local_forwarding_;  // local forwarding gateways
};

}  // namespace vnet::agent::dataplane

// Gateways (DESIGN.md section 4): NAT and forwarding between a routing
// domain and the external network of a gateway host. What leaves a VM
// network reaches here through to_gateway(); what comes from the external
// interface through from_external(). The NAT table is the pipeline's only
// mutable state (nat.h), given in the Context with the time.
#include <algorithm>
#include <array>
#include <cstring>

#include "agent/dataplane/steps.h"
#include "shared/packet/checksum.h"
#include "shared/packet/icmp.h"
#include "shared/packet/nvgre.h"

namespace vnet::agent::dataplane {
namespace detail {
namespace {

using net::Ipv4Address;
using packet::load_be16;
using packet::store_be16;

constexpr uint8_t kIcmpParameterProblem = 12;

// The part of a TCP, UDP or ICMP echo packet that NAT reads: ports (or the
// echo identifier as the "local" port, 0 as the remote one) and TCP flags.
struct Transport {
  bool ok = false;
  uint16_t src = 0;
  uint16_t dst = 0;
  uint8_t tcp_flags = 0;
};

Transport transport_of(const packet::MutableIpv4View& ip, bool echo_request) {
  const std::span<uint8_t> l4 = ip.payload();
  switch (ip.protocol()) {
    case packet::ip_protocol::kTcp:
      if (l4.size() < packet::kTcpMinHeaderLen) return {};
      return {true, load_be16(l4.data()), load_be16(l4.data() + 2), l4[13]};
    case packet::ip_protocol::kUdp:
      if (l4.size() < packet::kUdpHeaderLen) return {};
      return {true, load_be16(l4.data()), load_be16(l4.data() + 2), 0};
    case packet::ip_protocol::kIcmp: {
      if (l4.size() < packet::kIcmpHeaderLen) return {};
      const uint8_t type = l4[0];
      if (type != (echo_request ? packet::icmp_type::kEchoRequest : packet::icmp_type::kEchoReply))
        return {};
      // The identifier is the flow's port on the VM's side (and the
      // external one, once translated); the remote has none.
      const uint16_t id = load_be16(l4.data() + 4);
      return echo_request ? Transport{true, id, 0, 0} : Transport{true, 0, id, 0};
    }
    default: return {};
  }
}

// Changes the source (or destination) address and port of a TCP, UDP or
// ICMP echo packet, keeping every checksum right without reading the
// payload (RFC 1624). For ICMP the "port" is the echo identifier.
void translate(const packet::MutableIpv4View& ip, bool source, Ipv4Address address, uint16_t port) {
  const uint32_t old_address = (source ? ip.src() : ip.dst()).to_u32();
  if (source) {
    ip.set_src(address);
  } else {
    ip.set_dst(address);
  }
  const std::span<uint8_t> l4 = ip.payload();
  uint8_t* port_field = nullptr;
  uint8_t* sum_field = nullptr;
  bool pseudo_header = true;
  bool udp = false;
  switch (ip.protocol()) {
    case packet::ip_protocol::kTcp:
      port_field = l4.data() + (source ? 0 : 2);
      sum_field = l4.data() + 16;
      break;
    case packet::ip_protocol::kUdp:
      port_field = l4.data() + (source ? 0 : 2);
      sum_field = load_be16(l4.data() + 6) != 0 ? l4.data() + 6 : nullptr;  // 0: none
      udp = true;
      break;
    default:  // ICMP echo: the identifier; no pseudo-header
      port_field = l4.data() + 4;
      sum_field = l4.data() + 2;
      pseudo_header = false;
      break;
  }
  const uint16_t old_port = load_be16(port_field);
  store_be16(port_field, port);
  if (sum_field == nullptr) return;
  uint16_t sum = load_be16(sum_field);
  if (pseudo_header) sum = net::checksum_update32(sum, old_address, address.to_u32());
  sum = net::checksum_update16(sum, old_port, port);
  store_be16(sum_field, udp ? packet::udp_wire_checksum(sum) : sum);
}

// An ICMP error about the packet in `frame` (IPv4 after an Ethernet header)
// written over it: from `from` to the packet's source, quoting its header
// and first 8 bytes (RFC 792). The Ethernet header stays where it is.
packet::MutableIpv4View write_icmp_error(Frame& frame, const packet::MutableIpv4View& ip,
                                         uint8_t type, uint8_t code, uint32_t rest,
                                         Ipv4Address from) {
  std::array<uint8_t, packet::kIpv4MinHeaderLen + 8> quote{};
  const size_t quote_len = std::min(quote.size(), ip.packet().size());
  std::memcpy(quote.data(), ip.packet().data(), quote_len);
  const Ipv4Address to = ip.src();
  const std::span<uint8_t> out = frame.bytes();
  constexpr size_t kIcmpAt = packet::kEthernetHeaderLen + packet::kIpv4MinHeaderLen;
  std::memcpy(out.data() + kIcmpAt + packet::kIcmpHeaderLen, quote.data(), quote_len);
  packet::IcmpHeader{.type = type, .code = code, .rest = rest}.write(out.subspan(kIcmpAt),
                                                                     quote_len);
  packet::Ipv4Header{.src = from,
                     .dst = to,
                     .protocol = packet::ip_protocol::kIcmp,
                     .ttl = 64,
                     .dont_fragment = false}
      .write(out.subspan(packet::kEthernetHeaderLen), packet::kIcmpHeaderLen + quote_len);
  frame.length = static_cast<uint32_t>(kIcmpAt + packet::kIcmpHeaderLen + quote_len);
  return *packet::MutableIpv4View::parse(frame.bytes().subspan(packet::kEthernetHeaderLen));
}

// To the VM that owns `ca` in `vsid`: a local port, or NVGRE to its host.
Verdict deliver_to_vm(const Tables& t, net::Vsid vsid, Ipv4Address ca, Frame& frame,
                      const packet::MutableEthernetView& eth, const packet::MutableIpv4View& ip,
                      Reason reason) {
  const RecordEntry* record = t.record_by_ca(vsid, ca);
  if (record == nullptr) return drop(Reason::kNoLookupRecord);
  eth.set_dst(record->mac);
  eth.set_src(kRouterMac);
  if (record->local_port != kNoPort) {
    if (t.ports[record->local_port].vsid != vsid) return drop(Reason::kVsidMismatch);
    return send(record->local_port, reason);
  }
  // Gateways carry NVGRE to the VM's host; IP rewrite networks have no
  // gateway (the controller refuses one).
  if (record->tunnel == kNone || record->rule != policy::LookupRule::kEncap)
    return drop(Reason::kNoLookupRecord);
  return encapsulate_to(t, record->tunnel, vsid, frame, ip, reason);
}

// Out of the external interface, to the gateway's next hop.
Verdict to_external(const Tables& t, const GatewayEntry& gw, const packet::MutableEthernetView& eth,
                    Reason reason) {
  if (!gw.next_hop_resolved) return drop(Reason::kNoExternalNeighbor);
  eth.set_dst(gw.next_hop_mac);
  eth.set_src(t.external_mac);
  return send(kExternal, reason);
}

// From outside towards a VM: what the tunnel can carry (the 42 NVGRE bytes
// on the uplink), else "fragmentation needed" back to the sender.
std::optional<Verdict> too_big_for_tunnel(const Tables& t, const GatewayEntry& gw, Frame& frame,
                                          const packet::MutableEthernetView& eth,
                                          const packet::MutableIpv4View& ip) {
  const uint16_t mtu = static_cast<uint16_t>(t.uplink_mtu - packet::kNvgreOverhead);
  if (ip.total_length() <= mtu) return std::nullopt;
  if (!ip.dont_fragment()) return drop(Reason::kTooBig);
  write_icmp_error(frame, ip, packet::icmp_type::kDestinationUnreachable,
                   packet::kIcmpCodeFragmentationNeeded, mtu, gw.external_ip);
  return to_external(t, gw, eth, Reason::kIcmpFragNeededOut);
}

Verdict gateway_out(const Tables& t, Context& ctx, const GatewayEntry& gw, net::Vsid vsid,
                    Frame& frame) {
  const auto eth = packet::MutableEthernetView::parse(frame.bytes());
  if (!eth) return drop(Reason::kTruncated);
  if (eth->has_vlan_tag()) return drop(Reason::kVlanTagged);
  if (eth->ether_type() != packet::ether_type::kIpv4) return drop(Reason::kNotIpv4);
  const auto ip = packet::MutableIpv4View::parse(eth->payload());
  if (!ip) return parse_drop(ip.error());
  if (ip->header_length() != packet::kIpv4MinHeaderLen) return drop(Reason::kIpOptions);
  if (!ip->checksum_ok()) return drop(Reason::kBadIpHeader);
  if (ip->is_fragment()) return drop(Reason::kIpFragment);
  // Only what the VM network does not route itself leaves it, and only from
  // one of its VMs (the sending host checked the port; this checks the host).
  if (t.route(gw.domain, ip->dst()) != nullptr) return drop(Reason::kNotExternal);
  if (t.record_by_ca(vsid, ip->src()) == nullptr) return drop(Reason::kSpoofedIp);
  if (ip->ttl() <= 1) return drop(Reason::kTtlExpired);
  if (ip->total_length() > t.external_mtu) {
    if (!ip->dont_fragment()) return drop(Reason::kTooBig);
    const auto icmp =
        write_icmp_error(frame, *ip, packet::icmp_type::kDestinationUnreachable,
                         packet::kIcmpCodeFragmentationNeeded, t.external_mtu, gw.external_ip);
    return deliver_to_vm(t, vsid, icmp.dst(), frame, *eth, icmp, Reason::kIcmpFragNeeded);
  }
  if (!gw.next_hop_resolved) return drop(Reason::kNoExternalNeighbor);
  if (gw.kind == policy::GatewayKind::kNat) {
    if (ctx.nat == nullptr) return drop(Reason::kNoGatewayState);
    const Transport l4 = transport_of(*ip, true);
    if (!l4.ok) return drop(Reason::kNatProtocol);
    const auto result = ctx.nat->outbound(gw.external_ip, ip->protocol(), ip->src(), l4.src,
                                          ip->dst(), l4.dst, vsid, ctx.now);
    if (result.flow == nullptr) {
      return drop(result.error == NatTable::Error::kPortsExhausted ? Reason::kNatPortsExhausted
                  : result.error == NatTable::Error::kTableFull    ? Reason::kNatTableFull
                                                                   : Reason::kNoGatewayState);
    }
    ctx.nat->seen(*result.flow, l4.tcp_flags, true, ctx.now);
    translate(*ip, true, gw.external_ip, result.flow->external_port);
  }
  ip->set_ttl(static_cast<uint8_t>(ip->ttl() - 1));
  return to_external(
      t, gw, *eth, gw.kind == policy::GatewayKind::kNat ? Reason::kNatOut : Reason::kForwardedOut);
}

// An ICMP error from outside about a translated flow: the quoted packet is
// the one the gateway sent (from the external address and port); it is
// turned back into the VM's, and the error sent to the VM.
Verdict nat_icmp_error_in(const Tables& t, Context& ctx, const GatewayEntry& gw, Frame& frame,
                          const packet::MutableEthernetView& eth,
                          const packet::MutableIpv4View& ip) {
  const std::span<uint8_t> icmp = ip.payload();
  if (icmp.size() < packet::kIcmpHeaderLen + packet::kIpv4MinHeaderLen + 8)
    return drop(Reason::kTruncated);
  uint8_t* q = icmp.data() + packet::kIcmpHeaderLen;
  if (q[0] != 0x45) return drop(Reason::kNatUnsolicited);  // IPv4 without options only
  if (Ipv4Address::from_bytes(q + 12) != gw.external_ip) {
    ctx.nat->count_unsolicited(gw.external_ip);
    return drop(Reason::kNatUnsolicited);
  }
  const uint8_t protocol = q[9];
  const Ipv4Address remote = Ipv4Address::from_bytes(q + 16);
  uint8_t* ql4 = q + packet::kIpv4MinHeaderLen;
  const size_t ql4_len = icmp.size() - packet::kIcmpHeaderLen - packet::kIpv4MinHeaderLen;
  NatFlow* flow = nullptr;
  uint8_t* port_field = nullptr;
  if (protocol == packet::ip_protocol::kTcp || protocol == packet::ip_protocol::kUdp) {
    flow = ctx.nat->inbound(gw.external_ip, protocol, load_be16(ql4), remote, load_be16(ql4 + 2),
                            ctx.now);
    port_field = ql4;
  } else if (protocol == packet::ip_protocol::kIcmp && ql4[0] == packet::icmp_type::kEchoRequest) {
    flow = ctx.nat->inbound(gw.external_ip, protocol, load_be16(ql4 + 4), remote, 0, ctx.now);
    port_field = ql4 + 4;
  }
  if (flow == nullptr) {
    ctx.nat->count_unsolicited(gw.external_ip);
    return drop(Reason::kNatUnsolicited);
  }
  const Ipv4Address ca = Ipv4Address::from_u32(flow->ca);
  // The quoted header: source address (and its checksum), source port, and
  // the quoted transport checksum when it is there.
  const uint32_t old_address = gw.external_ip.to_u32();
  const uint16_t old_port = load_be16(port_field);
  ca.to_bytes(q + 12);
  store_be16(q + 10, net::checksum_update32(load_be16(q + 10), old_address, ca.to_u32()));
  store_be16(port_field, flow->ca_port);
  auto fix = [&](size_t at, bool pseudo, bool udp) {
    if (ql4_len < at + 2) return;
    uint16_t sum = load_be16(ql4 + at);
    if (udp && sum == 0) return;
    if (pseudo) sum = net::checksum_update32(sum, old_address, ca.to_u32());
    sum = net::checksum_update16(sum, old_port, flow->ca_port);
    store_be16(ql4 + at, udp ? packet::udp_wire_checksum(sum) : sum);
  };
  if (protocol == packet::ip_protocol::kTcp) fix(16, true, false);
  if (protocol == packet::ip_protocol::kUdp) fix(6, true, true);
  if (protocol == packet::ip_protocol::kIcmp) fix(2, false, false);
  // The error itself: to the VM, its checksum over the changed quote.
  ip.set_dst(ca);
  ip.set_ttl(static_cast<uint8_t>(ip.ttl() - 1));
  store_be16(icmp.data() + 2, 0);
  store_be16(icmp.data() + 2, net::internet_checksum(icmp));
  return deliver_to_vm(t, flow->vsid, ca, frame, eth, ip, Reason::kNatIcmpError);
}

Verdict nat_in(const Tables& t, Context& ctx, const GatewayEntry& gw, Frame& frame,
               const packet::MutableEthernetView& eth, const packet::MutableIpv4View& ip) {
  if (ctx.nat == nullptr) return drop(Reason::kNoGatewayState);
  if (ip.protocol() == packet::ip_protocol::kIcmp && ip.payload().size() >= 1) {
    const uint8_t type = ip.payload()[0];
    if (type == packet::icmp_type::kDestinationUnreachable ||
        type == packet::icmp_type::kTimeExceeded || type == kIcmpParameterProblem) {
      return nat_icmp_error_in(t, ctx, gw, frame, eth, ip);
    }
  }
  const Transport l4 = transport_of(ip, false);
  if (!l4.ok) {
    ctx.nat->count_unsolicited(gw.external_ip);
    return drop(Reason::kNatUnsolicited);
  }
  NatFlow* flow =
      ctx.nat->inbound(gw.external_ip, ip.protocol(), l4.dst, ip.src(), l4.src, ctx.now);
  if (flow == nullptr && ip.protocol() != packet::ip_protocol::kIcmp) {
    // Port forwarding: a NAT rule opens the flow.
    const auto rule =
        std::find_if(gw.nat_rules.begin(), gw.nat_rules.end(), [&](const policy::NatRule& r) {
          return static_cast<uint8_t>(r.protocol) == ip.protocol() && r.external_port == l4.dst;
        });
    if (rule != gw.nat_rules.end()) {
      const RouteEntry* route = t.route(gw.domain, rule->internal_ip);
      if (route == nullptr || !route->next_hop.is_unspecified())
        return drop(Reason::kNoLookupRecord);
      const auto opened =
          ctx.nat->open_for_rule(gw.external_ip, ip.protocol(), l4.dst, rule->internal_ip,
                                 rule->internal_port, ip.src(), l4.src, route->vsid, ctx.now);
      if (opened.error == NatTable::Error::kTableFull) return drop(Reason::kNatTableFull);
      flow = opened.flow;
    }
  }
  if (flow == nullptr) {
    ctx.nat->count_unsolicited(gw.external_ip);
    return drop(Reason::kNatUnsolicited);
  }
  if (ip.ttl() <= 1) return drop(Reason::kTtlExpired);
  if (auto refused = too_big_for_tunnel(t, gw, frame, eth, ip)) return *refused;
  ctx.nat->seen(*flow, l4.tcp_flags, false, ctx.now);
  const Ipv4Address ca = Ipv4Address::from_u32(flow->ca);
  translate(ip, false, ca, flow->ca_port);
  ip.set_ttl(static_cast<uint8_t>(ip.ttl() - 1));
  return deliver_to_vm(t, flow->vsid, ca, frame, eth, ip, Reason::kNatIn);
}

// A forwarding gateway: inbound only to the VM network's own subnets.
Verdict forwarding_in(const Tables& t, const GatewayEntry& gw, Frame& frame,
                      const packet::MutableEthernetView& eth, const packet::MutableIpv4View& ip) {
  const RouteEntry* route = t.route(gw.domain, ip.dst());
  if (route == nullptr || !route->next_hop.is_unspecified())
    return drop(Reason::kForwardingUnknown);
  if (ip.ttl() <= 1) return drop(Reason::kTtlExpired);
  if (auto refused = too_big_for_tunnel(t, gw, frame, eth, ip)) return *refused;
  ip.set_ttl(static_cast<uint8_t>(ip.ttl() - 1));
  return deliver_to_vm(t, route->vsid, ip.dst(), frame, eth, ip, Reason::kForwardedIn);
}

}  // namespace

Verdict to_gateway(const Tables& t, Context& ctx, const GatewayEntry& gw, net::Vsid vsid,
                   Frame& frame) {
  if (gw.local) return gateway_out(t, ctx, gw, vsid, frame);
  const auto eth = packet::MutableEthernetView::parse(frame.bytes());
  const auto ip = packet::MutableIpv4View::parse(eth->payload());
  // The gateway host takes frames for the virtual router's MAC.
  eth->set_dst(kRouterMac);
  return encapsulate_to(t, gw.tunnel, vsid, frame, *ip, Reason::kToGateway);
}

Verdict gateway_from_tunnel(const Tables& t, Context& ctx, const GatewayEntry& gw, net::Vsid vsid,
                            Frame& frame) {
  return gateway_out(t, ctx, gw, vsid, frame);
}

}  // namespace detail

Verdict from_external(const Tables& t, Context& ctx, Frame& frame) {
  using detail::drop;
  const auto eth = packet::MutableEthernetView::parse(frame.bytes());
  if (!eth) return drop(Reason::kTruncated);
  if (eth->has_vlan_tag()) return drop(Reason::kVlanTagged);
  if (eth->ether_type() != packet::ether_type::kIpv4) return drop(Reason::kNotForUs);
  const auto ip = packet::MutableIpv4View::parse(eth->payload());
  if (!ip) return detail::parse_drop(ip.error());
  if (!ip->checksum_ok()) return drop(Reason::kBadIpHeader);
  if (ip->header_length() != packet::kIpv4MinHeaderLen) return drop(Reason::kIpOptions);
  if (ip->is_fragment()) return drop(Reason::kIpFragment);
  if (const GatewayEntry* gw = t.local_gateway(ip->dst())) {
    if (gw->kind != policy::GatewayKind::kNat) return drop(Reason::kForwardingUnknown);
    return detail::nat_in(t, ctx, *gw, frame, *eth, *ip);
  }
  if (const GatewayEntry* gw = t.forwarding_gateway_for(ip->dst()))
    return detail::forwarding_in(t, *gw, frame, *eth, *ip);
  return drop(Reason::kNotForUs);
}

}  // namespace vnet::agent::dataplane

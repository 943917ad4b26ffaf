#include "agent/dataplane/pipeline.h"

#include "agent/dataplane/steps.h"

#include <algorithm>
#include <cstring>

#include "shared/packet/arp.h"
#include "shared/packet/checksum.h"
#include "shared/packet/dhcp.h"
#include "shared/packet/ethernet.h"
#include "shared/packet/gre.h"
#include "shared/packet/icmp.h"
#include "shared/packet/ipv4.h"
#include "shared/packet/nvgre.h"
#include "shared/packet/udp.h"

namespace vnet::agent::dataplane {
namespace {

using detail::drop;
using detail::parse_drop;
using detail::send;
using net::Ipv4Address;
using packet::load_be16;
using packet::store_be16;

constexpr uint8_t kIcmpRedirect = 5;             // RFC 792
constexpr uint8_t kIcmpRouterAdvertisement = 9;  // RFC 1256

// Changes source and destination of an IPv4 packet and keeps the IPv4 and
// the TCP or UDP checksum right without reading the payload (RFC 1624).
void rewrite_addresses(const packet::MutableIpv4View& ip, Ipv4Address src, Ipv4Address dst) {
  const uint32_t old_src = ip.src().to_u32();
  const uint32_t old_dst = ip.dst().to_u32();
  ip.set_src(src);
  ip.set_dst(dst);
  const std::span<uint8_t> l4 = ip.payload();
  uint8_t* field = nullptr;
  bool udp = false;
  if (ip.protocol() == packet::ip_protocol::kTcp && l4.size() >= packet::kTcpMinHeaderLen) {
    field = l4.data() + 16;
  } else if (ip.protocol() == packet::ip_protocol::kUdp && l4.size() >= packet::kUdpHeaderLen &&
             load_be16(l4.data() + 6) != 0) {  // 0: the sender computed none
    field = l4.data() + 6;
    udp = true;
  }
  if (field == nullptr) return;
  uint16_t sum = net::checksum_update32(load_be16(field), old_src, src.to_u32());
  sum = net::checksum_update32(sum, old_dst, dst.to_u32());
  store_be16(field, udp ? packet::udp_wire_checksum(sum) : sum);
}

// An ARP reply over the request: `answer_mac` has `answer_ip`.
Verdict reply_arp(Frame& frame, const packet::ArpView& request, net::MacAddress answer_mac,
                  uint16_t out, Reason reason) {
  const packet::ArpMessage reply{.operation = packet::arp_op::kReply,
                                 .sender_mac = answer_mac,
                                 .sender_ip = request.target_ip(),
                                 .target_mac = request.sender_mac(),
                                 .target_ip = request.sender_ip()};
  const std::span<uint8_t> out_bytes = frame.bytes();
  packet::EthernetHeader{request.sender_mac(), answer_mac, packet::ether_type::kArp}.write(
      out_bytes);
  reply.write(out_bytes.subspan(packet::kEthernetHeaderLen));
  frame.length = packet::kEthernetHeaderLen + packet::kArpIpv4Len;
  return send(out, reason);
}

Verdict arp_from_port(const Tables& t, const PortEntry& port, uint16_t index, Frame& frame,
                      std::span<const uint8_t> payload) {
  const auto arp = packet::ArpView::parse(payload);
  if (!arp) return parse_drop(arp.error());
  if (!port.allows_mac(arp->sender_mac())) return drop(Reason::kSpoofedMac);
  // 0.0.0.0 is a probe (RFC 5227): the VM asks whether an address is taken.
  if (!port.allows_source(arp->sender_ip()) && !arp->sender_ip().is_unspecified()) {
    return drop(Reason::kSpoofedIp);
  }
  if (!arp->is_request()) return drop(Reason::kArpNotRequest);
  const Ipv4Address target = arp->target_ip();
  if (target == port.ca) return drop(Reason::kArpOwnAddress);
  if (target == port.gateway && !target.is_unspecified()) {
    return reply_arp(frame, *arp, kRouterMac, index, Reason::kArpReply);
  }
  const RecordEntry* record = t.record_by_ca(port.vsid, target);
  if (record == nullptr) return drop(Reason::kArpUnknown);
  return reply_arp(frame, *arp, record->mac, index, Reason::kArpReply);
}

// DHCP (RFC 2131 section 4.3): the port's address is the only one a VM can
// get, so the server is a function of the port.
Verdict dhcp_from_port(const PortEntry& port, uint16_t index, Frame& frame,
                       std::span<const uint8_t> udp_payload) {
  const auto request = packet::DhcpView::parse(udp_payload);
  if (!request || request->op() != packet::dhcp_op::kBootRequest) {
    return drop(Reason::kDhcpMalformed);
  }
  const auto type = request->message_type();
  if (!type) return drop(Reason::kDhcpMalformed);
  if (request->client_mac() != port.mac) return drop(Reason::kSpoofedMac);

  packet::DhcpMessageType reply_type;
  Reason reason;
  if (*type == packet::DhcpMessageType::kDiscover) {
    reply_type = packet::DhcpMessageType::kOffer;
    reason = Reason::kDhcpOffer;
  } else if (*type == packet::DhcpMessageType::kRequest) {
    if (const auto server = request->server_id(); server && *server != port.dhcp_server) {
      return drop(Reason::kDhcpIgnored);  // the client chose another server's offer
    }
    const auto requested = request->requested_address();
    const bool wrong = (requested && *requested != port.ca) ||
                       (!request->ciaddr().is_unspecified() && request->ciaddr() != port.ca);
    reply_type = wrong ? packet::DhcpMessageType::kNak : packet::DhcpMessageType::kAck;
    reason = wrong ? Reason::kDhcpNak : Reason::kDhcpAck;
  } else {
    return drop(Reason::kDhcpIgnored);
  }

  const uint32_t xid = request->xid();
  const uint16_t flags = request->flags();
  const bool nak = reply_type == packet::DhcpMessageType::kNak;
  const bool broadcast = nak || (flags & 0x8000) != 0;

  constexpr size_t kHeaders =
      packet::kEthernetHeaderLen + packet::kIpv4MinHeaderLen + packet::kUdpHeaderLen;
  const std::span<uint8_t> out = frame.buffer.subspan(frame.offset);
  if (out.size() < kHeaders) return drop(Reason::kNoFrame);
  packet::DhcpWriter writer(out.subspan(kHeaders));
  writer.begin({.op = packet::dhcp_op::kBootReply,
                .xid = xid,
                .flags = flags,
                .yiaddr = nak ? Ipv4Address() : port.ca,
                .siaddr = Ipv4Address(),
                .chaddr = port.mac});
  writer.message_type(reply_type);
  writer.address(packet::dhcp_option::kServerId, port.dhcp_server);
  if (!nak) {
    writer.u32(packet::dhcp_option::kLeaseTime, kDhcpLeaseSeconds);
    writer.address(packet::dhcp_option::kSubnetMask, Ipv4Address::from_u32(port.netmask));
    if (!port.gateway.is_unspecified()) writer.address(packet::dhcp_option::kRouter, port.gateway);
    if (port.dns_count > 0) {
      writer.addresses(packet::dhcp_option::kDnsServers,
                       std::span(port.dns.data(), port.dns_count));
    }
    writer.u16(packet::dhcp_option::kInterfaceMtu, port.mtu);
  }
  const size_t dhcp_len = writer.finish();
  if (dhcp_len == 0) return drop(Reason::kNoFrame);

  const Ipv4Address dst = broadcast ? Ipv4Address::from_u32(0xffffffff) : port.ca;
  const size_t udp_at = packet::kEthernetHeaderLen + packet::kIpv4MinHeaderLen;
  packet::UdpHeader{packet::kDhcpServerPort, packet::kDhcpClientPort}.write(
      out.subspan(udp_at), dhcp_len, port.dhcp_server, dst);
  packet::Ipv4Header{.src = port.dhcp_server,
                     .dst = dst,
                     .protocol = packet::ip_protocol::kUdp,
                     .ttl = 64,
                     .dont_fragment = false}
      .write(out.subspan(packet::kEthernetHeaderLen), packet::kUdpHeaderLen + dhcp_len);
  packet::EthernetHeader{broadcast ? net::MacAddress::broadcast() : port.mac, kRouterMac,
                         packet::ether_type::kIpv4}
      .write(out);
  frame.length = static_cast<uint32_t>(kHeaders + dhcp_len);
  return send(index, reason);
}

// A VM pinging its gateway address gets the answer from the virtual router.
Verdict echo_gateway(const PortEntry& port, uint16_t index, Frame& frame,
                     const packet::MutableIpv4View& ip) {
  const std::span<uint8_t> icmp = ip.payload();
  if (ip.protocol() != packet::ip_protocol::kIcmp || icmp.size() < packet::kIcmpHeaderLen ||
      icmp[0] != packet::icmp_type::kEchoRequest) {
    return drop(Reason::kNoLookupRecord);
  }
  const uint16_t old_word = load_be16(icmp.data());
  icmp[0] = packet::icmp_type::kEchoReply;
  store_be16(icmp.data() + 2,
             net::checksum_update16(load_be16(icmp.data() + 2), old_word, load_be16(icmp.data())));
  ip.set_dst(port.ca);
  ip.set_src(port.gateway);
  ip.set_ttl(64);
  const auto eth = packet::MutableEthernetView::parse(frame.bytes());
  eth->set_dst(port.mac);
  eth->set_src(kRouterMac);
  return send(index, Reason::kIcmpEchoReply);
}

// "Fragmentation needed" (RFC 1191) from the virtual router to the sender
// of the packet that did not fit, quoting its IP header and first 8 bytes,
// back through the port it came from. The sender is the packet's source,
// which is the port's CA unless the VM forwards (an appliance whose profile
// allows other sources): that VM then routes the message on to the source,
// as any router on the path would. Addressed to the appliance itself, the
// message reached no one (Linux updates a path MTU for its own sockets, not
// for what it forwards), and TCP through it stalled after the handshake.
Verdict fragmentation_needed(const PortEntry& port, uint16_t index, Frame& frame,
                             const packet::MutableIpv4View& ip, uint16_t mtu) {
  const net::Ipv4Address sender = ip.src();  // read before the frame is written over
  std::array<uint8_t, packet::kIpv4MinHeaderLen + 8> quote{};
  const size_t quote_len = std::min(quote.size(), ip.packet().size());
  std::memcpy(quote.data(), ip.packet().data(), quote_len);
  const std::span<uint8_t> out = frame.bytes();
  constexpr size_t kIcmpAt = packet::kEthernetHeaderLen + packet::kIpv4MinHeaderLen;
  std::memcpy(out.data() + kIcmpAt + packet::kIcmpHeaderLen, quote.data(), quote_len);
  packet::IcmpHeader{.type = packet::icmp_type::kDestinationUnreachable,
                     .code = packet::kIcmpCodeFragmentationNeeded,
                     .rest = mtu}
      .write(out.subspan(kIcmpAt), quote_len);
  packet::Ipv4Header{.src = port.dhcp_server,
                     .dst = sender,
                     .protocol = packet::ip_protocol::kIcmp,
                     .ttl = 64,
                     .dont_fragment = false}
      .write(out.subspan(packet::kEthernetHeaderLen), packet::kIcmpHeaderLen + quote_len);
  packet::EthernetHeader{port.mac, kRouterMac, packet::ether_type::kIpv4}.write(out);
  frame.length = static_cast<uint32_t>(kIcmpAt + packet::kIcmpHeaderLen + quote_len);
  return send(index, Reason::kIcmpFragNeeded);
}

Verdict encapsulate(const Tables& t, const RecordEntry& record, Frame& frame,
                    const packet::MutableIpv4View& ip, Reason reason) {
  return detail::encapsulate_to(t, record.tunnel, record.vsid, frame, ip, reason);
}

Verdict rewrite_out(const Tables& t, const PortEntry& port, const RecordEntry& record, Frame& frame,
                    const packet::MutableIpv4View& ip) {
  if (port.rewrite_pa.is_unspecified()) return drop(Reason::kNoRewritePa);
  const Tunnel& tunnel = t.tunnels[record.tunnel];
  if (!tunnel.resolved) return drop(Reason::kNoUnderlayNeighbor);
  rewrite_addresses(ip, port.rewrite_pa, record.pa);
  const auto eth = packet::MutableEthernetView::parse(frame.bytes());
  eth->set_dst(tunnel.next_hop_mac);
  eth->set_src(t.uplink_mac);
  return send(kUplink, Reason::kRewritten);
}

// The port profile's guards (issue 19): a VM is no DHCP server (UDP from
// port 67) and no router (ICMP router advertisement, type 9, or redirect,
// type 5) unless its profile says so. kDeliveredLocal: not guarded.
Reason guarded(const PortEntry& port, const packet::MutableIpv4View& ip) {
  const std::span<const uint8_t> l4 = ip.payload();
  if (port.dhcp_guard && ip.protocol() == packet::ip_protocol::kUdp &&
      l4.size() >= packet::kUdpHeaderLen && load_be16(l4.data()) == packet::kDhcpServerPort) {
    return Reason::kDhcpGuard;
  }
  if (port.router_guard && ip.protocol() == packet::ip_protocol::kIcmp && !l4.empty() &&
      (l4[0] == kIcmpRedirect || l4[0] == kIcmpRouterAdvertisement)) {
    return Reason::kRouterGuard;
  }
  return Reason::kDeliveredLocal;
}

Verdict ipv4_from_port(const Tables& t, Context& ctx, const PortEntry& port, uint16_t index,
                       Frame& frame, const packet::MutableEthernetView& eth) {
  const auto ip = packet::MutableIpv4View::parse(eth.payload());
  if (!ip) return parse_drop(ip.error());
  if (ip->header_length() != packet::kIpv4MinHeaderLen) return drop(Reason::kIpOptions);
  if (!ip->checksum_ok()) return drop(Reason::kBadIpHeader);

  // DHCP comes from 0.0.0.0 before the VM has an address.
  if (ip->protocol() == packet::ip_protocol::kUdp && !ip->is_fragment()) {
    const auto udp = packet::UdpView::parse(ip->payload());
    if (udp && udp->dst_port() == packet::kDhcpServerPort &&
        udp->src_port() == packet::kDhcpClientPort) {
      return dhcp_from_port(port, index, frame, udp->payload());
    }
  }
  const Ipv4Address dst = ip->dst();
  if (!port.allows_source(ip->src())) return drop(Reason::kSpoofedIp);
  if (ip->is_fragment()) return drop(Reason::kIpFragment);
  if (const Reason guard = guarded(port, *ip); guard != Reason::kDeliveredLocal) return drop(guard);
  if (dst.is_broadcast() || dst.is_multicast() || eth.dst().is_multicast()) {
    return drop(Reason::kBroadcast);
  }
  if (dst == port.gateway && !dst.is_unspecified()) return echo_gateway(port, index, frame, *ip);

  const RecordEntry* record = nullptr;
  bool routed = false;
  if ((dst.to_u32() & port.netmask) == port.network) {
    record = t.record_by_ca(port.vsid, dst);
  } else {
    const RouteEntry* route = t.route(port.rdid, dst);
    if (route == nullptr) {
      // Nothing of the VM network: its gateway's, if it has one.
      const GatewayEntry* gateway = t.gateway_of(port.rdid);
      if (gateway == nullptr) return drop(Reason::kNoRoute);
      if (ip->total_length() > port.mtu) {
        if (!ip->dont_fragment()) return drop(Reason::kTooBig);
        return fragmentation_needed(port, index, frame, *ip, port.mtu);
      }
      return detail::to_gateway(t, ctx, *gateway, port.vsid, frame);
    }
    const Ipv4Address target = route->next_hop.is_unspecified() ? dst : route->next_hop;
    record = t.record_by_ca(route->vsid, target);
    routed = true;
  }
  if (record == nullptr) return drop(Reason::kNoLookupRecord);

  if (routed) {
    if (ip->ttl() <= 1) return drop(Reason::kTtlExpired);
    ip->set_ttl(static_cast<uint8_t>(ip->ttl() - 1));
    eth.set_src(kRouterMac);
  }
  // The frame carries the record's MAC, never one the VM chose: the next
  // host's port ACL looks the destination up by (VSID, MAC), so a MAC of
  // another tenant's VM must not leave this host under this VSID.
  eth.set_dst(record->mac);
  if (record->local_port != kNoPort) {
    return send(record->local_port, routed ? Reason::kRoutedLocal : Reason::kDeliveredLocal);
  }
  if (record->tunnel == kNone) return drop(Reason::kNoLookupRecord);

  // What the uplink can carry: NVGRE adds 42 bytes, IP rewrite nothing.
  const bool rewrite = record->rule == policy::LookupRule::kRewrite;
  const uint16_t mtu =
      rewrite ? t.uplink_mtu : port.mtu;  // port.mtu <= uplink MTU - 42 (tables.cpp)
  if (ip->total_length() > mtu) {
    if (!ip->dont_fragment()) return drop(Reason::kTooBig);
    return fragmentation_needed(port, index, frame, *ip, mtu);
  }
  if (rewrite) return rewrite_out(t, port, *record, frame, *ip);
  return encapsulate(t, *record, frame, *ip,
                     routed ? Reason::kRoutedEncapsulated : Reason::kEncapsulated);
}

// A plain GRE endpoint (Open vSwitch's gre port, a Linux gretap) floods a
// VM's ARP request into the tunnel; vnet never floods, so the host that has
// the target answers it, back through the tunnel it came from: the inner
// reply in place of the request, the outer addresses swapped.
Verdict arp_from_tunnel(const Tables& t, Frame& frame, const packet::MutableIpv4View& outer,
                        const packet::BasicGreView<uint8_t>& gre, net::Vsid vsid) {
  const std::span<uint8_t> inner = gre.payload();
  const auto arp = packet::ArpView::parse(inner.subspan(packet::kEthernetHeaderLen));
  if (!arp) return parse_drop(arp.error());
  if (!arp->is_request()) return drop(Reason::kInnerNotUnicast);
  const RecordEntry* record = t.record_by_ca(vsid, arp->target_ip());
  if (record == nullptr || record->local_port == kNoPort) return drop(Reason::kArpUnknown);
  if (outer.header_length() != packet::kIpv4MinHeaderLen ||
      gre.header_length() != packet::kNvgreHeaderLen) {
    return drop(Reason::kIpOptions);
  }
  const packet::ArpMessage reply{.operation = packet::arp_op::kReply,
                                 .sender_mac = record->mac,
                                 .sender_ip = arp->target_ip(),
                                 .target_mac = arp->sender_mac(),
                                 .target_ip = arp->sender_ip()};
  packet::EthernetHeader{arp->sender_mac(), record->mac, packet::ether_type::kArp}.write(inner);
  reply.write(inner.subspan(packet::kEthernetHeaderLen));
  const size_t outer_eth = static_cast<size_t>(outer.packet().data() - frame.bytes().data());
  const size_t inner_len = packet::kEthernetHeaderLen + packet::kArpIpv4Len;
  const auto eth = packet::MutableEthernetView::parse(frame.bytes());
  const net::MacAddress back = eth->src();
  eth->set_src(t.uplink_mac);
  eth->set_dst(back);
  packet::Ipv4Header{.src = t.pa,
                     .dst = outer.src(),
                     .protocol = packet::ip_protocol::kGre,
                     .ttl = 64,
                     .dont_fragment = true}
      .write(outer.packet(), packet::kNvgreHeaderLen + inner_len);
  frame.length = static_cast<uint32_t>(outer_eth + packet::kIpv4MinHeaderLen +
                                       packet::kNvgreHeaderLen + inner_len);
  return send(kUplink, Reason::kArpReplyTunnel);
}

Verdict nvgre_from_uplink(const Tables& t, Context& ctx, Frame& frame,
                          const packet::MutableIpv4View& outer) {
  if (outer.is_fragment()) return drop(Reason::kIpFragment);
  const auto gre = packet::BasicGreView<uint8_t>::parse(outer.payload());
  if (!gre) {
    return drop(gre.error() == packet::ParseError::kTruncated ? Reason::kTruncated
                                                              : Reason::kGreBadHeader);
  }
  // RFC 7637 section 3.2: only K, version 0, Transparent Ethernet Bridging.
  if (gre->flags_and_version() != packet::kNvgreFlags ||
      gre->protocol() != packet::ether_type::kTransparentEthernetBridging) {
    return drop(Reason::kGreBadHeader);
  }
  const std::span<uint8_t> inner = gre->payload();
  if (inner.size() < packet::kEthernetHeaderLen) return drop(Reason::kTruncated);
  const net::Vsid vsid = net::vsid_of_key(*gre->key());
  const uint16_t inner_type = load_be16(inner.data() + 12);
  if (inner_type == packet::ether_type::kVlan || inner_type == packet::ether_type::kQinQ) {
    return drop(Reason::kInnerVlan);
  }
  const net::MacAddress dst = net::MacAddress::from_bytes(inner.data());
  const uint32_t domain = t.domain_of(vsid);
  // For the virtual router of a domain whose gateway runs here.
  const GatewayEntry* gateway = dst == kRouterMac ? t.gateway_of(domain) : nullptr;
  if (gateway != nullptr && !gateway->local) gateway = nullptr;
  if (!t.has_local_vsid(vsid) && gateway == nullptr) return drop(Reason::kUnknownVsid);
  // Only a PA that holds a record of the VSID's routing domain may send for
  // it: anyone else on the underlay could otherwise inject into a tenant.
  if (!t.is_source_pa(domain, outer.src())) return drop(Reason::kUnknownSourcePa);
  if (gateway != nullptr) {
    frame.offset += static_cast<uint32_t>(inner.data() - frame.bytes().data());
    frame.length = static_cast<uint32_t>(inner.size());
    return detail::gateway_from_tunnel(t, ctx, *gateway, vsid, frame);
  }
  if (dst.is_multicast()) {
    if (inner_type == packet::ether_type::kArp) return arp_from_tunnel(t, frame, outer, *gre, vsid);
    return drop(Reason::kInnerNotUnicast);
  }
  // The port ACL of HNV: the destination must be a local port of this VSID.
  const RecordEntry* record = t.record_by_mac(vsid, dst.to_u64());
  if (record == nullptr || record->local_port == kNoPort) {
    return drop(t.port_by_mac(dst.to_u64()) != kNoPort ? Reason::kVsidMismatch
                                                       : Reason::kUnknownDestination);
  }
  // Checked again on what the look-up found, so that no key encoding can
  // ever hand one VSID's frame to another VSID's port.
  if (record->vsid != vsid || t.ports[record->local_port].vsid != vsid) {
    return drop(Reason::kVsidMismatch);
  }
  frame.offset += static_cast<uint32_t>(inner.data() - frame.bytes().data());
  frame.length = static_cast<uint32_t>(inner.size());
  return send(record->local_port, Reason::kDecapsulated);
}

Verdict rewrite_from_uplink(const Tables& t, const packet::MutableEthernetView& eth,
                            const packet::MutableIpv4View& ip, uint16_t index) {
  if (eth.has_vlan_tag()) return drop(Reason::kVlanTagged);
  if (ip.header_length() != packet::kIpv4MinHeaderLen) return drop(Reason::kIpOptions);
  if (ip.is_fragment()) return drop(Reason::kIpFragment);
  const PortEntry& port = t.ports[index];
  const RecordEntry* peer = t.rewrite_record_by_pa(ip.src());
  if (peer == nullptr || t.domain_of(peer->vsid) != port.rdid) {
    return drop(Reason::kRewriteUnknownPeer);
  }
  rewrite_addresses(ip, peer->ca, port.ca);
  eth.set_dst(port.mac);
  eth.set_src(peer->vsid == port.vsid ? peer->mac : kRouterMac);
  return send(index, Reason::kRestored);
}

}  // namespace

Verdict from_port(const Tables& t, uint16_t index, Frame& frame) {
  Context none;
  return from_port(t, none, index, frame);
}

Verdict from_uplink(const Tables& t, Frame& frame) {
  Context none;
  return from_uplink(t, none, frame);
}

Verdict from_port(const Tables& t, Context& ctx, uint16_t index, Frame& frame) {
  if (index >= t.ports.size()) return drop(Reason::kPortUnbound);
  const PortEntry& port = t.ports[index];
  const auto eth = packet::MutableEthernetView::parse(frame.bytes());
  if (!eth) return drop(Reason::kTruncated);
  if (!port.allows_mac(eth->src())) return drop(Reason::kSpoofedMac);
  // The profile's maximum, or the port's share of a congested uplink:
  // whatever the VM sends counts.
  const uint32_t share =
      index < ctx.shares.size() ? ctx.shares[index].load(std::memory_order_relaxed) : 0;
  if (const uint32_t rate = policed_rate(port.bandwidth_max_mbps, share);
      rate != 0 && index < ctx.meters.size() &&
      !ctx.meters[index].admit(rate, ctx.now, frame.length)) {
    return drop(rate == port.bandwidth_max_mbps ? Reason::kBandwidthLimited : Reason::kUplinkShare);
  }
  if (eth->has_vlan_tag()) return drop(Reason::kVlanTagged);
  switch (eth->ether_type()) {
    case packet::ether_type::kArp: return arp_from_port(t, port, index, frame, eth->payload());
    case packet::ether_type::kIpv4: return ipv4_from_port(t, ctx, port, index, frame, *eth);
    default: return drop(Reason::kNotIpv4);
  }
}

Verdict from_uplink(const Tables& t, Context& ctx, Frame& frame) {
  const auto eth = packet::MutableEthernetView::parse(frame.bytes());
  if (!eth) return drop(Reason::kTruncated);
  if (eth->ether_type() == packet::ether_type::kArp) {
    const auto arp = packet::ArpView::parse(eth->payload());
    if (!arp) return parse_drop(arp.error());
    if (!arp->is_request() || t.port_by_rewrite_pa(arp->target_ip()) == kNoPort) {
      return drop(Reason::kNotForUs);
    }
    return reply_arp(frame, *arp, t.uplink_mac, kUplink, Reason::kArpReplyUplink);
  }
  if (eth->ether_type() != packet::ether_type::kIpv4) return drop(Reason::kNotForUs);
  const auto ip = packet::MutableIpv4View::parse(eth->payload());
  if (!ip) return parse_drop(ip.error());
  if (!ip->checksum_ok()) return drop(Reason::kBadIpHeader);
  if (ip->protocol() == packet::ip_protocol::kGre) {
    if (ip->dst() != t.pa) return drop(Reason::kNotOurPa);
    return nvgre_from_uplink(t, ctx, frame, *ip);
  }
  const uint16_t port = t.port_by_rewrite_pa(ip->dst());
  if (port == kNoPort) return drop(Reason::kNotForUs);
  return rewrite_from_uplink(t, *eth, *ip, port);
}

void prefetch_from_port(const Tables& t, uint16_t index, const Frame& frame, int stage) {
  if (index >= t.ports.size() || frame.length < packet::kEthernetHeaderLen + 20) return;
  const uint8_t* p = frame.buffer.data() + frame.offset;
  if (packet::load_be16(p + 12) != packet::ether_type::kIpv4) return;
  const PortEntry& port = t.ports[index];
  const auto dst = Ipv4Address::from_bytes(p + packet::kEthernetHeaderLen + 16);
  if ((dst.to_u32() & port.netmask) != port.network) return;
  if (stage == 0) {
    t.prefetch_slot(port.vsid, dst);
    // The line the outer headers will be written to (the frame's headroom).
    if (frame.offset >= packet::kNvgreOverhead) __builtin_prefetch(p - packet::kNvgreOverhead, 1);
  } else {
    t.prefetch_record(port.vsid, dst);
  }
}

Verdict detail::encapsulate_to(const Tables& t, uint32_t tunnel_index, net::Vsid vsid, Frame& frame,
                               const packet::MutableIpv4View& ip, Reason reason) {
  const Tunnel& tunnel = t.tunnels[tunnel_index];
  if (!tunnel.resolved) return drop(Reason::kNoUnderlayNeighbor);
  const uint8_t flow_id = t.flow_entropy ? flow_id_of(ip.packet()) : 0;
  const std::span<uint8_t> out =
      tunnel.encapsulator.encapsulate(frame.buffer, frame.offset, frame.length, flow_id);
  if (out.empty()) return drop(Reason::kNoFrame);
  // The tunnel's template is per PA; the key is this packet's (RFC 7637
  // section 3.2: VSID << 8 | FlowID).
  packet::store_be32(out.data() + packet::kNvgreOverhead - 4, net::nvgre_key(vsid, flow_id));
  frame.offset -= static_cast<uint32_t>(packet::kNvgreOverhead);
  frame.length += static_cast<uint32_t>(packet::kNvgreOverhead);
  return send(kUplink, reason);
}

bool share_uplink(uint32_t capacity_mbps, std::span<const PortDemand> demands,
                  std::span<uint32_t> rates) {
  const size_t n = std::min(demands.size(), rates.size());
  std::fill(rates.begin(), rates.end(), 0u);
  if (capacity_mbps == 0 || n == 0) return false;
  // What each port wants: what it sent and a quarter more (a TCP sender held
  // at its share sends about its share, and must look like it wants more),
  // up to its maximum. An idle port wants nothing (its share is still its
  // level, to grow into): 1 Mbit/s for each took 2-3 of a 120 Mbit/s
  // uplink from the senders in the lab.
  std::vector<double> want(n);
  double wanted = 0;
  for (size_t i = 0; i < n; ++i) {
    const PortDemand& d = demands[i];
    want[i] = double(d.offered_mbps) * 1.25;
    if (d.max_mbps != 0) want[i] = std::min<double>(want[i], d.max_mbps);
    wanted += want[i];
  }
  const double capacity = capacity_mbps;
  if (wanted <= capacity) return false;
  // The minimums (of what is wanted) first; more than the uplink: scaled.
  double reserved = 0;
  for (size_t i = 0; i < n; ++i) reserved += std::min<double>(demands[i].min_mbps, want[i]);
  // Rounded, not truncated: a share of 39.9999 is 40 (the level is found
  // from below).
  auto mbps = [](double v) { return static_cast<uint32_t>(std::clamp(v + 0.5, 1.0, 4e9)); };
  if (reserved >= capacity) {
    for (size_t i = 0; i < n; ++i)
      rates[i] = mbps(std::min<double>(demands[i].min_mbps, want[i]) * capacity / reserved);
    return true;
  }
  // The level: port i takes min(want, max(min, weight x level)), which
  // grows with the level; find the level at which they fill the capacity.
  auto taken = [&](double level) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i) {
      sum += std::min(want[i],
                      std::max<double>(demands[i].min_mbps,
                                       double(std::max<uint32_t>(1, demands[i].weight)) * level));
    }
    return sum;
  };
  double low = 0, high = capacity;  // weight >= 1: at `capacity` everyone has its want
  for (int k = 0; k < 60 && high - low > 1e-3; ++k) {
    const double mid = (low + high) / 2;
    (taken(mid) < capacity ? low : high) = mid;
  }
  for (size_t i = 0; i < n; ++i) {
    const PortDemand& d = demands[i];
    double rate = std::max<double>(d.min_mbps, double(std::max<uint32_t>(1, d.weight)) * low);
    if (d.max_mbps != 0) rate = std::min<double>(rate, d.max_mbps);
    rates[i] = mbps(rate);
  }
  return true;
}

std::vector<PortMeter> carry_meters(const Tables* from, std::span<const PortMeter> old,
                                    const Tables& to) {
  std::vector<PortMeter> out(to.ports.size());
  if (from == nullptr) return out;
  for (size_t i = 0; i < from->ports.size() && i < old.size(); ++i) {
    const PortEntry& port = from->ports[i];
    const uint16_t now_at = to.port_by_mac(port.mac_key);
    if (now_at != kNoPort && to.ports[now_at].nic_id == port.nic_id) out[now_at] = old[i];
  }
  return out;
}

uint8_t flow_id_of(std::span<const uint8_t> ip) {
  if (ip.size() < packet::kIpv4MinHeaderLen) return 0;
  uint64_t h = packet::load_be32(ip.data() + 12);
  h = h << 32 | packet::load_be32(ip.data() + 16);
  h ^= uint64_t{ip[9]} << 56;
  const size_t header_len = size_t{ip[0] & 0x0fu} * 4;
  if ((ip[9] == packet::ip_protocol::kTcp || ip[9] == packet::ip_protocol::kUdp) &&
      ip.size() >= header_len + 4) {
    h ^= uint64_t{packet::load_be32(ip.data() + header_len)} * 0xff51afd7ed558ccdull;
  }
  h *= 0x9e3779b97f4a7c15ull;
  return static_cast<uint8_t>(h >> 56);
}

}  // namespace vnet::agent::dataplane

#include "shared/testing/packet_builder.h"

#include "shared/net/checksum.h"
#include "shared/packet/bytes.h"
#include "shared/packet/checksum.h"
#include "shared/packet/constants.h"
#include "shared/packet/icmp.h"
#include "shared/packet/ipv6.h"
#include "shared/packet/tcp.h"

namespace vnet::testing {

using namespace vnet::packet;

PacketBuilder& PacketBuilder::eth(net::MacAddress src, net::MacAddress dst,
                                  std::optional<uint16_t> ether_type) {
  layers_.push_back(Eth{src, dst, ether_type});
  return *this;
}
PacketBuilder& PacketBuilder::vlan(uint16_t vlan_id, uint8_t priority) {
  layers_.push_back(Vlan{static_cast<uint16_t>(priority << 13 | (vlan_id & 0x0fff))});
  return *this;
}
PacketBuilder& PacketBuilder::arp(const ArpMessage& message) {
  layers_.push_back(Arp{message});
  return *this;
}
PacketBuilder& PacketBuilder::ipv4(net::Ipv4Address src, net::Ipv4Address dst, Ipv4Fields fields) {
  layers_.push_back(Ip4{src, dst, std::move(fields)});
  return *this;
}
PacketBuilder& PacketBuilder::ipv6(net::Ipv6Address src, net::Ipv6Address dst, uint8_t hop_limit) {
  layers_.push_back(Ip6{src, dst, hop_limit});
  return *this;
}
PacketBuilder& PacketBuilder::udp(uint16_t src_port, uint16_t dst_port, bool zero_checksum) {
  layers_.push_back(Udp{src_port, dst_port, zero_checksum});
  return *this;
}
PacketBuilder& PacketBuilder::tcp(uint16_t src_port, uint16_t dst_port, TcpFields fields) {
  layers_.push_back(Tcp{src_port, dst_port, std::move(fields)});
  return *this;
}
PacketBuilder& PacketBuilder::icmp(uint8_t type, uint8_t code, uint32_t rest) {
  layers_.push_back(Icmp{type, code, rest});
  return *this;
}
PacketBuilder& PacketBuilder::icmp_echo_request(uint16_t id, uint16_t sequence) {
  return icmp(icmp_type::kEchoRequest, 0, uint32_t{id} << 16 | sequence);
}
PacketBuilder& PacketBuilder::gre(std::optional<uint32_t> key, uint16_t protocol,
                                  std::optional<uint16_t> raw_flags) {
  layers_.push_back(Gre{key, protocol, raw_flags});
  return *this;
}
PacketBuilder& PacketBuilder::nvgre(const NvgreTunnel& tunnel) {
  eth(tunnel.src_mac, tunnel.dst_mac);
  ipv4(tunnel.src_pa, tunnel.dst_pa, {.ttl = tunnel.ttl});
  return gre(net::nvgre_key(tunnel.vsid, tunnel.flow_id));
}
PacketBuilder& PacketBuilder::payload(std::string_view text) {
  layers_.push_back(Raw{Bytes(text.begin(), text.end())});
  return *this;
}
PacketBuilder& PacketBuilder::payload(const Bytes& bytes) {
  layers_.push_back(Raw{bytes});
  return *this;
}

uint16_t PacketBuilder::ether_type_of(size_t i) const {
  if (i >= layers_.size()) return 0;
  const Layer& l = layers_[i];
  if (std::holds_alternative<Vlan>(l)) return ether_type::kVlan;
  if (std::holds_alternative<Arp>(l)) return ether_type::kArp;
  if (std::holds_alternative<Ip4>(l)) return ether_type::kIpv4;
  if (std::holds_alternative<Ip6>(l)) return ether_type::kIpv6;
  if (std::holds_alternative<Eth>(l)) return ether_type::kTransparentEthernetBridging;
  return 0;
}

uint8_t PacketBuilder::ip_protocol_of(size_t i) const {
  if (i >= layers_.size()) return 0xff;
  const Layer& l = layers_[i];
  if (std::holds_alternative<Udp>(l)) return ip_protocol::kUdp;
  if (std::holds_alternative<Tcp>(l)) return ip_protocol::kTcp;
  if (std::holds_alternative<Icmp>(l)) return ip_protocol::kIcmp;
  if (std::holds_alternative<Gre>(l)) return ip_protocol::kGre;
  return 0xff;  // reserved: a test that wants another sets it explicitly
}

const PacketBuilder::Ip4* PacketBuilder::enclosing_ipv4(size_t i) const {
  for (size_t j = i; j-- > 0;) {
    if (const auto* ip = std::get_if<Ip4>(&layers_[j])) return ip;
  }
  return nullptr;
}

Bytes PacketBuilder::build() const {
  // Serialise from the innermost layer outwards, prepending each header to
  // the bytes of everything inside it.
  Bytes inner;
  for (size_t i = layers_.size(); i-- > 0;) {
    Bytes header;
    const Layer& layer = layers_[i];
    if (const auto* raw = std::get_if<Raw>(&layer)) {
      header = raw->bytes;
    } else if (const auto* e = std::get_if<Eth>(&layer)) {
      header.resize(kEthernetHeaderLen);
      EthernetHeader{e->dst, e->src, e->ether_type.value_or(ether_type_of(i + 1))}.write(header);
    } else if (const auto* v = std::get_if<Vlan>(&layer)) {
      header.resize(kVlanTagLen);
      store_be16(header.data(), v->tci);
      store_be16(header.data() + 2, ether_type_of(i + 1));
    } else if (const auto* a = std::get_if<Arp>(&layer)) {
      header.resize(ArpMessage::kSize);
      a->message.write(header);
    } else if (const auto* ip = std::get_if<Ip4>(&layer)) {
      const auto& f = ip->fields;
      const size_t header_len = kIpv4MinHeaderLen + f.options.size();
      header.resize(header_len);
      uint8_t* p = header.data();
      p[0] = static_cast<uint8_t>(0x40 | header_len / 4);
      p[1] = f.tos;
      store_be16(p + 2, f.total_length.value_or(static_cast<uint16_t>(header_len + inner.size())));
      store_be16(p + 4, f.identification);
      store_be16(p + 6, static_cast<uint16_t>((f.dont_fragment ? kIpv4FlagDontFragment : 0) |
                                              (f.more_fragments ? kIpv4FlagMoreFragments : 0) |
                                              (f.fragment_offset & kIpv4FragmentOffsetMask)));
      p[8] = f.ttl;
      p[9] = f.protocol.value_or(ip_protocol_of(i + 1));
      ip->src.to_bytes(p + 12);
      ip->dst.to_bytes(p + 16);
      std::copy(f.options.begin(), f.options.end(), header.begin() + kIpv4MinHeaderLen);
      uint16_t checksum = net::internet_checksum(header);
      if (f.bad_checksum) checksum ^= 0x5555;
      store_be16(p + 10, checksum);
    } else if (const auto* ip6 = std::get_if<Ip6>(&layer)) {
      header.resize(kIpv6HeaderLen);
      Ipv6Header{.src = ip6->src,
                 .dst = ip6->dst,
                 .next_header = ip_protocol_of(i + 1),
                 .hop_limit = ip6->hop_limit}
          .write(header, inner.size());
    } else if (const auto* u = std::get_if<Udp>(&layer)) {
      header.resize(kUdpHeaderLen);
      store_be16(header.data(), u->src_port);
      store_be16(header.data() + 2, u->dst_port);
      store_be16(header.data() + 4, static_cast<uint16_t>(kUdpHeaderLen + inner.size()));
      const Ip4* ip4 = enclosing_ipv4(i);
      if (!u->zero_checksum && ip4 != nullptr) {
        Bytes datagram = header;
        datagram.insert(datagram.end(), inner.begin(), inner.end());
        store_be16(header.data() + 6, udp_wire_checksum(ipv4_transport_checksum(
                                          ip4->src, ip4->dst, ip_protocol::kUdp, datagram)));
      }
    } else if (const auto* t = std::get_if<Tcp>(&layer)) {
      const auto& f = t->fields;
      header.resize(kTcpMinHeaderLen + f.options.size());
      uint8_t* p = header.data();
      store_be16(p, t->src_port);
      store_be16(p + 2, t->dst_port);
      store_be32(p + 4, f.sequence);
      store_be32(p + 8, f.acknowledgement);
      p[12] = static_cast<uint8_t>(header.size() / 4 << 4);
      p[13] = f.flags;
      store_be16(p + 14, f.window);
      std::copy(f.options.begin(), f.options.end(), header.begin() + kTcpMinHeaderLen);
      if (const Ip4* ip4 = enclosing_ipv4(i)) {
        Bytes segment = header;
        segment.insert(segment.end(), inner.begin(), inner.end());
        store_be16(p + 16, ipv4_transport_checksum(ip4->src, ip4->dst, ip_protocol::kTcp, segment));
      }
    } else if (const auto* c = std::get_if<Icmp>(&layer)) {
      header.resize(kIcmpHeaderLen);
      header[0] = c->type;
      header[1] = c->code;
      store_be32(header.data() + 4, c->rest);
      Bytes message = header;
      message.insert(message.end(), inner.begin(), inner.end());
      store_be16(header.data() + 2, net::internet_checksum(message));
    } else if (const auto* g = std::get_if<Gre>(&layer)) {
      header.resize(kGreBaseHeaderLen + (g->key ? 4 : 0));
      store_be16(header.data(), g->raw_flags.value_or(g->key ? gre_flag::kKey : 0));
      store_be16(header.data() + 2, g->protocol);
      if (g->key) store_be32(header.data() + 4, *g->key);
    }
    header.insert(header.end(), inner.begin(), inner.end());
    inner = std::move(header);
  }
  return inner;
}

Bytes dhcp_client_frame(net::MacAddress client, DhcpMessageType type, uint32_t xid,
                        std::optional<net::Ipv4Address> requested) {
  Bytes message(576);
  DhcpWriter writer(message);
  writer.begin({.op = dhcp_op::kBootRequest, .xid = xid, .flags = 0x8000, .chaddr = client})
      .message_type(type);
  if (requested) writer.address(dhcp_option::kRequestedAddress, *requested);
  const uint8_t wanted[] = {dhcp_option::kSubnetMask, dhcp_option::kRouter,
                            dhcp_option::kDnsServers, dhcp_option::kInterfaceMtu};
  writer.option(dhcp_option::kParameterRequestList, wanted);
  message.resize(writer.finish());
  return PacketBuilder()
      .eth(client, net::MacAddress::broadcast())
      .ipv4(net::Ipv4Address(), net::Ipv4Address::from_u32(0xffffffff), {.dont_fragment = false})
      .udp(kDhcpClientPort, kDhcpServerPort)
      .payload(message)
      .build();
}

}  // namespace vnet::testing

// Builds whole frames for tests, layer by layer from the outside in, in the
// manner of Katran's PacketBuilder: lengths, EtherTypes, protocol numbers and
// checksums are filled in by build(), unless a test overrides them to make a
// malformed packet on purpose.
//
//   auto frame = PacketBuilder()
//                    .eth(kVmMac, kRouterMac)
//                    .ipv4(Ipv4("10.0.0.5"), Ipv4("10.0.0.7"))
//                    .udp(1234, 80)
//                    .payload("hello")
//                    .build();
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "shared/net/ipv4.h"
#include "shared/net/ipv6.h"
#include "shared/net/mac.h"
#include "shared/net/vsid.h"
#include "shared/packet/arp.h"
#include "shared/packet/dhcp.h"
#include "shared/packet/nvgre.h"
#include "shared/packet/tcp.h"

namespace vnet::testing {

using Bytes = std::vector<uint8_t>;

// Fields of a layer that tests override to make unusual packets.
struct Ipv4Fields {
  uint8_t ttl = 64;
  bool dont_fragment = true;
  bool more_fragments = false;
  uint16_t fragment_offset = 0;
  uint8_t tos = 0;
  uint16_t identification = 0;
  Bytes options{};                    // padded by the caller to a multiple of 4
  std::optional<uint8_t> protocol{};  // default: from the next layer
  std::optional<uint16_t> total_length{};
  bool bad_checksum = false;
};
struct TcpFields {
  uint32_t sequence = 1;
  uint32_t acknowledgement = 0;
  uint8_t flags = packet::tcp_flag::kAck;
  uint16_t window = 65535;
  Bytes options{};  // padded by the caller to a multiple of 4
};

class PacketBuilder {
 public:
  // Ethernet; the EtherType comes from the next layer unless given.
  PacketBuilder& eth(net::MacAddress src, net::MacAddress dst,
                     std::optional<uint16_t> ether_type = std::nullopt);
  PacketBuilder& vlan(uint16_t vlan_id, uint8_t priority = 0);
  PacketBuilder& arp(const packet::ArpMessage& message);
  PacketBuilder& ipv4(net::Ipv4Address src, net::Ipv4Address dst, Ipv4Fields fields = Ipv4Fields());
  PacketBuilder& ipv6(net::Ipv6Address src, net::Ipv6Address dst, uint8_t hop_limit = 64);
  PacketBuilder& udp(uint16_t src_port, uint16_t dst_port, bool zero_checksum = false);
  PacketBuilder& tcp(uint16_t src_port, uint16_t dst_port, TcpFields fields = TcpFields());
  PacketBuilder& icmp(uint8_t type, uint8_t code, uint32_t rest = 0);
  PacketBuilder& icmp_echo_request(uint16_t id, uint16_t sequence);
  // GRE with only the key (NVGRE's form) or any flags for malformed cases.
  PacketBuilder& gre(std::optional<uint32_t> key,
                     uint16_t protocol = packet::ether_type::kTransparentEthernetBridging,
                     std::optional<uint16_t> raw_flags = std::nullopt);
  // Outer Ethernet, IPv4 (DF, TTL from the tunnel) and GRE key for an NVGRE
  // tunnel; follow with the inner frame as payload().
  PacketBuilder& nvgre(const packet::NvgreTunnel& tunnel);
  PacketBuilder& payload(std::string_view text);
  PacketBuilder& payload(const Bytes& bytes);

  Bytes build() const;

 private:
  struct Eth {
    net::MacAddress src, dst;
    std::optional<uint16_t> ether_type;
  };
  struct Vlan {
    uint16_t tci;
  };
  struct Arp {
    packet::ArpMessage message;
  };
  struct Ip4 {
    net::Ipv4Address src, dst;
    Ipv4Fields fields;
  };
  struct Ip6 {
    net::Ipv6Address src, dst;
    uint8_t hop_limit;
  };
  struct Udp {
    uint16_t src_port, dst_port;
    bool zero_checksum;
  };
  struct Tcp {
    uint16_t src_port, dst_port;
    TcpFields fields;
  };
  struct Icmp {
    uint8_t type, code;
    uint32_t rest;
  };
  struct Gre {
    std::optional<uint32_t> key;
    uint16_t protocol;
    std::optional<uint16_t> raw_flags;
  };
  struct Raw {
    Bytes bytes;
  };
  using Layer = std::variant<Eth, Vlan, Arp, Ip4, Ip6, Udp, Tcp, Icmp, Gre, Raw>;

  // The EtherType or IP protocol that announces layer i to the layer before.
  uint16_t ether_type_of(size_t i) const;
  uint8_t ip_protocol_of(size_t i) const;
  const Ip4* enclosing_ipv4(size_t i) const;

  std::vector<Layer> layers_;
};

// A DHCP client message (DISCOVER, REQUEST) as a VM sends it: broadcast
// Ethernet and IPv4, UDP 68 -> 67.
Bytes dhcp_client_frame(net::MacAddress client, packet::DhcpMessageType type, uint32_t xid,
                        std::optional<net::Ipv4Address> requested = std::nullopt);

}  // namespace vnet::testing

// Protocol numbers and header sizes, defined once for all of vnet.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vnet::packet {

namespace ether_type {
inline constexpr uint16_t kIpv4 = 0x0800;
inline constexpr uint16_t kArp = 0x0806;
inline constexpr uint16_t kVlan = 0x8100;  // IEEE 802.1Q
inline constexpr uint16_t kQinQ = 0x88a8;  // IEEE 802.1ad service tag
inline constexpr uint16_t kIpv6 = 0x86dd;
// Transparent Ethernet Bridging: the GRE protocol type of NVGRE (RFC 7637 3.2).
inline constexpr uint16_t kTransparentEthernetBridging = 0x6558;
}  // namespace ether_type

namespace ip_protocol {
inline constexpr uint8_t kIcmp = 1;
inline constexpr uint8_t kTcp = 6;
inline constexpr uint8_t kUdp = 17;
inline constexpr uint8_t kGre = 47;
inline constexpr uint8_t kIcmpv6 = 58;
}  // namespace ip_protocol

inline constexpr size_t kEthernetHeaderLen = 14;
inline constexpr size_t kVlanTagLen = 4;
inline constexpr size_t kArpIpv4Len = 28;
inline constexpr size_t kIpv4MinHeaderLen = 20;
inline constexpr size_t kIpv4MaxHeaderLen = 60;
inline constexpr size_t kIpv6HeaderLen = 40;
inline constexpr size_t kIcmpHeaderLen = 8;
inline constexpr size_t kUdpHeaderLen = 8;
inline constexpr size_t kTcpMinHeaderLen = 20;
inline constexpr size_t kGreBaseHeaderLen = 4;
inline constexpr size_t kNvgreHeaderLen = 8;  // GRE with the key field only
// What NVGRE adds in front of the inner Ethernet frame: outer Ethernet without
// a tag, outer IPv4 without options, GRE with key (DESIGN.md section 4).
inline constexpr size_t kNvgreOverhead = kEthernetHeaderLen + kIpv4MinHeaderLen + kNvgreHeaderLen;
static_assert(kNvgreOverhead == 42);

inline constexpr uint16_t kDhcpServerPort = 67;
inline constexpr uint16_t kDhcpClientPort = 68;

}  // namespace vnet::packet

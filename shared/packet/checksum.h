// Transport checksums over IPv4 (RFC 768, RFC 793): the pseudo-header of
// source, destination, zero, protocol and length, then the segment.
#pragma once

#include <span>

#include "shared/net/checksum.h"
#include "shared/net/ipv4.h"
#include "shared/packet/constants.h"

namespace vnet::packet {

constexpr uint64_t ipv4_pseudo_header_sum(net::Ipv4Address src, net::Ipv4Address dst,
                                          uint8_t protocol, size_t length) {
  const uint32_t s = src.to_u32();
  const uint32_t d = dst.to_u32();
  return uint64_t{s >> 16} + (s & 0xffff) + (d >> 16) + (d & 0xffff) + protocol + length;
}

// Over a segment whose checksum field is zero: the value to store. Over a
// segment that holds its checksum: 0 when it is correct.
constexpr uint16_t ipv4_transport_checksum(net::Ipv4Address src, net::Ipv4Address dst,
                                           uint8_t protocol, std::span<const uint8_t> segment) {
  return net::checksum_finish(
      net::checksum_add(segment, ipv4_pseudo_header_sum(src, dst, protocol, segment.size())));
}

// UDP transmits a computed 0 as 0xFFFF, since 0 means "no checksum" (RFC 768).
constexpr uint16_t udp_wire_checksum(uint16_t computed) {
  return computed == 0 ? 0xffff : computed;
}

}  // namespace vnet::packet

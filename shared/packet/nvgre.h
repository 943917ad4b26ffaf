// NVGRE (RFC 7637): an Ethernet frame in GRE over IPv4 with only the K bit set
// (flags word 0x2000), protocol 0x6558, key = VSID << 8 | FlowID.
#pragma once

#include <array>
#include <cstring>
#include <span>

#include "shared/net/ipv4.h"
#include "shared/net/mac.h"
#include "shared/net/vsid.h"
#include "shared/packet/ethernet.h"
#include "shared/packet/gre.h"
#include "shared/packet/ipv4.h"

namespace vnet::packet {

inline constexpr uint16_t kNvgreFlags = gre_flag::kKey;

// A whole NVGRE frame as it arrives on the uplink: outer Ethernet (a tag is
// tolerated, the underlay may use one), outer IPv4 carrying GRE, not a
// fragment, GRE exactly as RFC 7637 section 3.2 has it, and the inner frame.
template <PacketByte Byte>
class BasicNvgreFrame {
 public:
  static Parsed<BasicNvgreFrame> parse(std::span<Byte> frame) {
    auto eth = BasicEthernetView<Byte>::parse(frame);
    if (!eth) return Unexpected(eth.error());
    if (eth->ether_type() != ether_type::kIpv4) return Unexpected(ParseError::kUnsupported);
    auto ip = BasicIpv4View<Byte>::parse(eth->payload());
    if (!ip) return Unexpected(ip.error());
    if (ip->protocol() != ip_protocol::kGre || ip->is_fragment()) {
      return Unexpected(ParseError::kUnsupported);
    }
    auto gre = BasicGreView<Byte>::parse(ip->payload());
    if (!gre) return Unexpected(gre.error());
    if (gre->flags_and_version() != kNvgreFlags ||
        gre->protocol() != ether_type::kTransparentEthernetBridging) {
      return Unexpected(ParseError::kUnsupported);
    }
    const auto inner = gre->payload();
    if (inner.size() < kEthernetHeaderLen) return Unexpected(ParseError::kTruncated);
    return BasicNvgreFrame(*eth, *ip, *gre->key(), inner);
  }

  const BasicEthernetView<Byte>& outer_ethernet() const { return eth_; }
  const BasicIpv4View<Byte>& outer_ipv4() const { return ip_; }
  uint32_t key() const { return key_; }
  net::Vsid vsid() const { return net::vsid_of_key(key_); }
  uint8_t flow_id() const { return net::flow_id_of_key(key_); }
  // The inner Ethernet frame: decapsulation is taking this span.
  std::span<Byte> inner() const { return inner_; }

 private:
  BasicNvgreFrame(BasicEthernetView<Byte> eth, BasicIpv4View<Byte> ip, uint32_t key,
                  std::span<Byte> inner)
      : eth_(eth), ip_(ip), key_(key), inner_(inner) {}
  BasicEthernetView<Byte> eth_;
  BasicIpv4View<Byte> ip_;
  uint32_t key_;
  std::span<Byte> inner_;
};

using NvgreFrame = BasicNvgreFrame<const uint8_t>;
using MutableNvgreFrame = BasicNvgreFrame<uint8_t>;

// The outer headers of one tunnel: who sends, to whom, in which VSID.
struct NvgreTunnel {
  net::MacAddress src_mac{};  // our uplink
  net::MacAddress dst_mac{};  // the underlay next hop towards dst_pa
  net::Ipv4Address src_pa{};
  net::Ipv4Address dst_pa{};
  net::Vsid vsid{};
  uint8_t flow_id = 0;
  uint8_t ttl = 64;
};

// The outer headers of one tunnel, prepared once (when the agent builds its
// tables) so that encapsulating a packet is a 42-byte copy, the Total Length,
// the checksum finished from a precomputed sum, and the FlowID byte.
class NvgreEncapsulator {
 public:
  explicit NvgreEncapsulator(const NvgreTunnel& tunnel) {
    EthernetHeader{tunnel.dst_mac, tunnel.src_mac, ether_type::kIpv4}.write(header_);
    const Ipv4Header ip{.src = tunnel.src_pa,
                        .dst = tunnel.dst_pa,
                        .protocol = ip_protocol::kGre,
                        .ttl = tunnel.ttl,
                        .dont_fragment = true};  // RFC 7637 section 4: never fragment
    ip.write(std::span(header_).subspan(kEthernetHeaderLen), 0);
    uint8_t* gre = header_.data() + kEthernetHeaderLen + kIpv4MinHeaderLen;
    store_be16(gre, kNvgreFlags);
    store_be16(gre + 2, ether_type::kTransparentEthernetBridging);
    store_be32(gre + 4, net::nvgre_key(tunnel.vsid, tunnel.flow_id));
    // The IPv4 header's sum without Total Length and checksum: per packet,
    // adding the length and folding is all that is left (RFC 1071).
    const auto ip_header =
        std::span<const uint8_t>(header_).subspan(kEthernetHeaderLen, kIpv4MinHeaderLen);
    partial_sum_ = net::checksum_add(ip_header.first(2));
    partial_sum_ = net::checksum_add(ip_header.subspan(4, 6), partial_sum_);
    partial_sum_ = net::checksum_add(ip_header.subspan(12, 8), partial_sum_);
  }

  // Writes the outer headers into the 42 bytes just before the inner frame,
  // which starts `headroom` bytes into `buffer` and is `inner_len` long, so
  // the inner frame does not move. Returns the whole encapsulated frame, or an
  // empty span when the headroom is under 42 bytes, the buffer ends before
  // the frame does, or the result would exceed 65535 bytes.
  std::span<uint8_t> encapsulate(std::span<uint8_t> buffer, size_t headroom, size_t inner_len,
                                 uint8_t flow_id) const {
    constexpr size_t kIpOverhead = kIpv4MinHeaderLen + kNvgreHeaderLen;
    if (headroom < kNvgreOverhead || buffer.size() < headroom ||
        buffer.size() - headroom < inner_len || inner_len > 0xffff - kIpOverhead) {
      return {};
    }
    uint8_t* out = buffer.data() + headroom - kNvgreOverhead;
    std::memcpy(out, header_.data(), kNvgreOverhead);
    const auto total_len = static_cast<uint16_t>(kIpOverhead + inner_len);
    uint8_t* ip = out + kEthernetHeaderLen;
    store_be16(ip + 2, total_len);
    store_be16(ip + 10, net::checksum_finish(partial_sum_ + total_len));
    out[kNvgreOverhead - 1] = flow_id;
    return {out, kNvgreOverhead + inner_len};
  }

 private:
  std::array<uint8_t, kNvgreOverhead> header_{};
  uint64_t partial_sum_ = 0;
};

// One-off encapsulation, for tests and tools; the data path keeps an
// NvgreEncapsulator per tunnel instead.
inline std::span<uint8_t> encapsulate_nvgre(std::span<uint8_t> buffer, size_t headroom,
                                            size_t inner_len, const NvgreTunnel& tunnel) {
  return NvgreEncapsulator(tunnel).encapsulate(buffer, headroom, inner_len, tunnel.flow_id);
}

}  // namespace vnet::packet

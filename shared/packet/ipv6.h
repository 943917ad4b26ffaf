// The IPv6 fixed header (RFC 8200 section 3). Extension headers are left to
// the caller: next_header() names the first one.
#pragma once

#include <span>

#include "shared/net/ipv6.h"
#include "shared/packet/bytes.h"
#include "shared/packet/constants.h"
#include "shared/packet/error.h"

namespace vnet::packet {

template <PacketByte Byte>
class BasicIpv6View {
 public:
  static Parsed<BasicIpv6View> parse(std::span<Byte> data) {
    if (data.size() < kIpv6HeaderLen) return Unexpected(ParseError::kTruncated);
    if (data[0] >> 4 != 6) return Unexpected(ParseError::kBadVersion);
    const size_t payload_len = load_be16(data.data() + 4);
    if (data.size() < kIpv6HeaderLen + payload_len) return Unexpected(ParseError::kTruncated);
    return BasicIpv6View(data.first(kIpv6HeaderLen + payload_len));
  }

  uint8_t traffic_class() const { return static_cast<uint8_t>(load_be16(data_.data()) >> 4); }
  uint32_t flow_label() const { return load_be32(data_.data()) & 0xfffff; }
  uint16_t payload_length() const { return load_be16(data_.data() + 4); }
  uint8_t next_header() const { return data_[6]; }
  uint8_t hop_limit() const { return data_[7]; }
  net::Ipv6Address src() const { return net::Ipv6Address::from_bytes(data_.data() + 8); }
  net::Ipv6Address dst() const { return net::Ipv6Address::from_bytes(data_.data() + 24); }
  std::span<Byte> payload() const { return data_.subspan(kIpv6HeaderLen); }

 private:
  explicit BasicIpv6View(std::span<Byte> data) : data_(data) {}
  std::span<Byte> data_;
};

using Ipv6View = BasicIpv6View<const uint8_t>;

struct Ipv6Header {
  net::Ipv6Address src{};
  net::Ipv6Address dst{};
  uint8_t next_header = ip_protocol::kUdp;
  uint8_t hop_limit = 64;
  uint8_t traffic_class = 0;
  uint32_t flow_label = 0;

  static constexpr size_t kSize = kIpv6HeaderLen;
  size_t write(std::span<uint8_t> out, size_t payload_len) const {
    if (out.size() < kSize || payload_len > 0xffff) return 0;
    uint8_t* p = out.data();
    store_be32(p, uint32_t{6} << 28 | uint32_t{traffic_class} << 20 | (flow_label & 0xfffff));
    store_be16(p + 4, static_cast<uint16_t>(payload_len));
    p[6] = next_header;
    p[7] = hop_limit;
    for (size_t i = 0; i < 16; ++i) {
      p[8 + i] = src.bytes()[i];
      p[24 + i] = dst.bytes()[i];
    }
    return kSize;
  }
};

}  // namespace vnet::packet

// ICMP for IPv4 (RFC 792), with the "fragmentation needed" form of RFC 1191.
#pragma once

#include <span>

#include "shared/net/checksum.h"
#include "shared/packet/bytes.h"
#include "shared/packet/constants.h"
#include "shared/packet/error.h"

namespace vnet::packet {

namespace icmp_type {
inline constexpr uint8_t kEchoReply = 0;
inline constexpr uint8_t kDestinationUnreachable = 3;
inline constexpr uint8_t kEchoRequest = 8;
inline constexpr uint8_t kTimeExceeded = 11;
}  // namespace icmp_type
inline constexpr uint8_t kIcmpCodeFragmentationNeeded = 4;

template <PacketByte Byte>
class BasicIcmpView {
 public:
  static Parsed<BasicIcmpView> parse(std::span<Byte> data) {
    if (data.size() < kIcmpHeaderLen) return Unexpected(ParseError::kTruncated);
    return BasicIcmpView(data);
  }

  uint8_t type() const { return data_[0]; }
  uint8_t code() const { return data_[1]; }
  uint16_t checksum() const { return load_be16(data_.data() + 2); }
  // Echo: identifier and sequence number.
  uint16_t identifier() const { return load_be16(data_.data() + 4); }
  uint16_t sequence() const { return load_be16(data_.data() + 6); }
  // Fragmentation needed: the next-hop MTU (RFC 1191 section 4).
  uint16_t next_hop_mtu() const { return load_be16(data_.data() + 6); }
  std::span<Byte> body() const { return data_.subspan(kIcmpHeaderLen); }
  std::span<Byte> bytes() const { return data_; }
  bool checksum_ok() const { return net::internet_checksum(data_) == 0; }

 private:
  explicit BasicIcmpView(std::span<Byte> data) : data_(data) {}
  std::span<Byte> data_;
};

using IcmpView = BasicIcmpView<const uint8_t>;

struct IcmpHeader {
  uint8_t type = icmp_type::kEchoRequest;
  uint8_t code = 0;
  uint32_t rest = 0;  // identifier|sequence, or the next-hop MTU in the low 16 bits

  static constexpr size_t kSize = kIcmpHeaderLen;
  // Writes the header in front of `body_len` bytes already at out[8...] and
  // computes the checksum over both.
  size_t write(std::span<uint8_t> out, size_t body_len) const {
    if (out.size() < kSize + body_len) return 0;
    uint8_t* p = out.data();
    p[0] = type;
    p[1] = code;
    store_be16(p + 2, 0);
    store_be32(p + 4, rest);
    store_be16(p + 2, net::internet_checksum(out.first(kSize + body_len)));
    return kSize;
  }
};

}  // namespace vnet::packet

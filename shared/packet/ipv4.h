// IPv4 headers (RFC 791), options included. The payload ends at Total
// Length, so Ethernet padding after it is not part of it.
#pragma once

#include <span>

#include "shared/net/checksum.h"
#include "shared/net/ipv4.h"
#include "shared/packet/bytes.h"
#include "shared/packet/constants.h"
#include "shared/packet/error.h"

namespace vnet::packet {

inline constexpr uint16_t kIpv4FlagDontFragment = 0x4000;
inline constexpr uint16_t kIpv4FlagMoreFragments = 0x2000;
inline constexpr uint16_t kIpv4FragmentOffsetMask = 0x1fff;

template <PacketByte Byte>
class BasicIpv4View {
 public:
  static Parsed<BasicIpv4View> parse(std::span<Byte> data) {
    if (data.size() < kIpv4MinHeaderLen) return Unexpected(ParseError::kTruncated);
    if (data[0] >> 4 != 4) return Unexpected(ParseError::kBadVersion);
    const size_t header_len = size_t{data[0] & 0x0fu} * 4;
    if (header_len < kIpv4MinHeaderLen) return Unexpected(ParseError::kBadHeaderLength);
    if (data.size() < header_len) return Unexpected(ParseError::kTruncated);
    const size_t total_len = load_be16(data.data() + 2);
    if (total_len < header_len) return Unexpected(ParseError::kBadLength);
    if (data.size() < total_len) return Unexpected(ParseError::kTruncated);
    return BasicIpv4View(data.first(total_len), header_len);
  }

  size_t header_length() const { return header_len_; }
  uint8_t tos() const { return data_[1]; }
  uint8_t dscp() const { return data_[1] >> 2; }
  uint16_t total_length() const { return load_be16(data_.data() + 2); }
  uint16_t identification() const { return load_be16(data_.data() + 4); }
  bool dont_fragment() const { return (load_be16(data_.data() + 6) & kIpv4FlagDontFragment) != 0; }
  bool more_fragments() const {
    return (load_be16(data_.data() + 6) & kIpv4FlagMoreFragments) != 0;
  }
  uint16_t fragment_offset() const { return load_be16(data_.data() + 6) & kIpv4FragmentOffsetMask; }
  bool is_fragment() const { return more_fragments() || fragment_offset() != 0; }
  uint8_t ttl() const { return data_[8]; }
  uint8_t protocol() const { return data_[9]; }
  uint16_t checksum() const { return load_be16(data_.data() + 10); }
  net::Ipv4Address src() const { return net::Ipv4Address::from_bytes(data_.data() + 12); }
  net::Ipv4Address dst() const { return net::Ipv4Address::from_bytes(data_.data() + 16); }
  std::span<Byte> options() const {
    return data_.subspan(kIpv4MinHeaderLen, header_len_ - kIpv4MinHeaderLen);
  }
  std::span<Byte> header() const { return data_.first(header_len_); }
  std::span<Byte> payload() const { return data_.subspan(header_len_); }
  // Header and payload, up to Total Length.
  std::span<Byte> packet() const { return data_; }

  bool checksum_ok() const { return net::internet_checksum(header()) == 0; }
  // The header checksum as it should be, whatever the field holds now.
  uint16_t compute_checksum() const {
    uint64_t sum = net::checksum_add(data_.first(10));
    sum = net::checksum_add(data_.subspan(12, header_len_ - 12), sum);
    return net::checksum_finish(sum);
  }

  void set_checksum(uint16_t value) const requires Writable<Byte> {
    store_be16(data_.data() + 10, value);
  }
  void update_checksum() const requires Writable<Byte> { set_checksum(compute_checksum()); }
  // Address and TTL changes keep the header checksum right (RFC 1624).
  void set_src(net::Ipv4Address a) const requires Writable<Byte> {
    set_checksum(net::checksum_update32(checksum(), src().to_u32(), a.to_u32()));
    a.to_bytes(data_.data() + 12);
  }
  void set_dst(net::Ipv4Address a) const requires Writable<Byte> {
    set_checksum(net::checksum_update32(checksum(), dst().to_u32(), a.to_u32()));
    a.to_bytes(data_.data() + 16);
  }
  // TTL shares a 16-bit word with Protocol.
  void set_ttl(uint8_t ttl) const requires Writable<Byte> {
    const uint16_t old_word = load_be16(data_.data() + 8);
    data_[8] = ttl;
    set_checksum(net::checksum_update16(checksum(), old_word, load_be16(data_.data() + 8)));
  }

 private:
  BasicIpv4View(std::span<Byte> data, size_t header_len) : data_(data), header_len_(header_len) {}
  std::span<Byte> data_;
  size_t header_len_;
};

using Ipv4View = BasicIpv4View<const uint8_t>;
using MutableIpv4View = BasicIpv4View<uint8_t>;

// A header without options; write() fills in Total Length and the checksum.
struct Ipv4Header {
  net::Ipv4Address src{};
  net::Ipv4Address dst{};
  uint8_t protocol = ip_protocol::kUdp;
  uint8_t ttl = 64;
  uint8_t tos = 0;
  uint16_t identification = 0;
  bool dont_fragment = true;

  static constexpr size_t kSize = kIpv4MinHeaderLen;
  // Returns 0 when `out` is too small or the packet would exceed 65535 bytes.
  size_t write(std::span<uint8_t> out, size_t payload_len) const {
    if (out.size() < kSize || payload_len > 0xffff - kSize) return 0;
    uint8_t* p = out.data();
    p[0] = 0x45;
    p[1] = tos;
    store_be16(p + 2, static_cast<uint16_t>(kSize + payload_len));
    store_be16(p + 4, identification);
    store_be16(p + 6, dont_fragment ? kIpv4FlagDontFragment : 0);
    p[8] = ttl;
    p[9] = protocol;
    store_be16(p + 10, 0);
    src.to_bytes(p + 12);
    dst.to_bytes(p + 16);
    store_be16(p + 10, net::internet_checksum(out.first(kSize)));
    return kSize;
  }
};

}  // namespace vnet::packet

// GRE (RFC 2784) with the key and sequence number extensions (RFC 2890).
#pragma once

#include <optional>
#include <span>

#include "shared/packet/bytes.h"
#include "shared/packet/constants.h"
#include "shared/packet/error.h"

namespace vnet::packet {

namespace gre_flag {
inline constexpr uint16_t kChecksum = 0x8000;  // C, bit 0
inline constexpr uint16_t kKey = 0x2000;       // K, bit 2 (RFC 2890)
inline constexpr uint16_t kSequence = 0x1000;  // S, bit 3 (RFC 2890)
// Reserved0 bits 1, 4 and 5 (RFC 1701's routing, strict source route and
// recursion MSB): RFC 2784 section 2.3 says to discard packets that set them.
inline constexpr uint16_t kMustBeZero = 0x4c00;
inline constexpr uint16_t kVersionMask = 0x0007;
}  // namespace gre_flag

template <PacketByte Byte>
class BasicGreView {
 public:
  static Parsed<BasicGreView> parse(std::span<Byte> data) {
    if (data.size() < kGreBaseHeaderLen) return Unexpected(ParseError::kTruncated);
    const uint16_t flags = load_be16(data.data());
    if ((flags & gre_flag::kVersionMask) != 0) return Unexpected(ParseError::kBadVersion);
    if ((flags & gre_flag::kMustBeZero) != 0) return Unexpected(ParseError::kBadFlags);
    const size_t header_len = kGreBaseHeaderLen + ((flags & gre_flag::kChecksum) ? 4 : 0) +
                              ((flags & gre_flag::kKey) ? 4 : 0) +
                              ((flags & gre_flag::kSequence) ? 4 : 0);
    if (data.size() < header_len) return Unexpected(ParseError::kTruncated);
    return BasicGreView(data, header_len);
  }

  uint16_t flags_and_version() const { return load_be16(data_.data()); }
  bool has_checksum() const { return (flags_and_version() & gre_flag::kChecksum) != 0; }
  bool has_key() const { return (flags_and_version() & gre_flag::kKey) != 0; }
  bool has_sequence() const { return (flags_and_version() & gre_flag::kSequence) != 0; }
  uint16_t protocol() const { return load_be16(data_.data() + 2); }
  std::optional<uint16_t> checksum() const {
    if (!has_checksum()) return std::nullopt;
    return load_be16(data_.data() + 4);
  }
  std::optional<uint32_t> key() const {
    if (!has_key()) return std::nullopt;
    return load_be32(data_.data() + (has_checksum() ? 8 : 4));
  }
  std::optional<uint32_t> sequence() const {
    if (!has_sequence()) return std::nullopt;
    return load_be32(data_.data() + header_len_ - 4);
  }
  size_t header_length() const { return header_len_; }
  std::span<Byte> payload() const { return data_.subspan(header_len_); }

 private:
  BasicGreView(std::span<Byte> data, size_t header_len) : data_(data), header_len_(header_len) {}
  std::span<Byte> data_;
  size_t header_len_;
};

using GreView = BasicGreView<const uint8_t>;

// Writes a GRE header without checksum; key and sequence when given.
struct GreHeader {
  uint16_t protocol = ether_type::kTransparentEthernetBridging;
  std::optional<uint32_t> key;
  std::optional<uint32_t> sequence;

  size_t size() const { return kGreBaseHeaderLen + (key ? 4 : 0) + (sequence ? 4 : 0); }
  size_t write(std::span<uint8_t> out) const {
    if (out.size() < size()) return 0;
    uint8_t* p = out.data();
    store_be16(p, static_cast<uint16_t>((key ? gre_flag::kKey : 0) |
                                        (sequence ? gre_flag::kSequence : 0)));
    store_be16(p + 2, protocol);
    size_t at = kGreBaseHeaderLen;
    if (key) store_be32(p + at, *key), at += 4;
    if (sequence) store_be32(p + at, *sequence), at += 4;
    return at;
  }
};

}  // namespace vnet::packet

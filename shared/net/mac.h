// Ethernet MAC addresses (EUI-48).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "shared/util/expected.h"

namespace vnet::net {

class MacAddress {
 public:
  using Bytes = std::array<uint8_t, 6>;

  constexpr MacAddress() = default;
  explicit constexpr MacAddress(const Bytes& bytes) : bytes_(bytes) {}
  static constexpr MacAddress from_bytes(const uint8_t* b) {
    return MacAddress(Bytes{b[0], b[1], b[2], b[3], b[4], b[5]});
  }
  static constexpr MacAddress from_u64(uint64_t v) {
    return MacAddress(Bytes{static_cast<uint8_t>(v >> 40), static_cast<uint8_t>(v >> 32),
                            static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                            static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)});
  }
  static constexpr MacAddress broadcast() { return from_u64(0xffffffffffffull); }
  // Accepts 00:1D:D8:B7:1C:00, 00-1D-D8-B7-1C-00 (Windows) and 001DD8B71C00
  // (SCVMM), either case.
  static Expected<MacAddress, std::string> parse(std::string_view text);

  constexpr const Bytes& bytes() const { return bytes_; }
  constexpr void to_bytes(uint8_t* out) const {
    for (size_t i = 0; i < bytes_.size(); ++i) out[i] = bytes_[i];
  }
  constexpr uint64_t to_u64() const {
    uint64_t v = 0;
    for (uint8_t b : bytes_) v = v << 8 | b;
    return v;
  }
  // Upper case with colons, as DESIGN.md writes them: 00:1D:D8:B7:1C:00.
  std::string to_string() const;

  constexpr bool is_zero() const { return to_u64() == 0; }
  constexpr bool is_broadcast() const { return to_u64() == 0xffffffffffffull; }
  // The I/G bit: group (multicast or broadcast) addresses.
  constexpr bool is_multicast() const { return (bytes_[0] & 0x01) != 0; }
  constexpr bool is_unicast() const { return !is_multicast(); }
  constexpr bool is_locally_administered() const { return (bytes_[0] & 0x02) != 0; }

  // The address n steps away, or nullopt outside the 48-bit space.
  constexpr std::optional<MacAddress> offset(int64_t n) const {
    const int64_t result = static_cast<int64_t>(to_u64()) + n;
    if (result < 0 || result > int64_t{0xffffffffffff}) return std::nullopt;
    return from_u64(static_cast<uint64_t>(result));
  }
  static constexpr int64_t distance(MacAddress from, MacAddress to) {
    return static_cast<int64_t>(to.to_u64()) - static_cast<int64_t>(from.to_u64());
  }

  constexpr auto operator<=>(const MacAddress&) const = default;

 private:
  Bytes bytes_{};
};

}  // namespace vnet::net

template <>
struct std::hash<vnet::net::MacAddress> {
  size_t operator()(const vnet::net::MacAddress& m) const noexcept {
    return std::hash<uint64_t>{}(m.to_u64());
  }
};

// IPv4 addresses: parsed from and formatted as dotted quads, compared,
// hashed, and stepped through for address pools.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "shared/util/expected.h"

namespace vnet::net {

class Ipv4Address {
 public:
  constexpr Ipv4Address() = default;

  // From a host-order integer: from_u32(0x0a000001) is 10.0.0.1.
  static constexpr Ipv4Address from_u32(uint32_t host_order) { return Ipv4Address(host_order); }
  // From 4 bytes in network order, as they appear in a header.
  static constexpr Ipv4Address from_bytes(const uint8_t* bytes) {
    return Ipv4Address(uint32_t{bytes[0]} << 24 | uint32_t{bytes[1]} << 16 |
                       uint32_t{bytes[2]} << 8 | uint32_t{bytes[3]});
  }
  // Strict dotted quad: four decimal octets 0..255 without leading zeros
  // (which other tools read as octal). Error: "\"10.300.0.1\" is not an IPv4 address".
  static Expected<Ipv4Address, std::string> parse(std::string_view text);

  constexpr uint32_t to_u32() const { return value_; }
  constexpr void to_bytes(uint8_t* out) const {
    out[0] = static_cast<uint8_t>(value_ >> 24);
    out[1] = static_cast<uint8_t>(value_ >> 16);
    out[2] = static_cast<uint8_t>(value_ >> 8);
    out[3] = static_cast<uint8_t>(value_);
  }
  std::string to_string() const;

  constexpr bool is_unspecified() const { return value_ == 0; }
  constexpr bool is_broadcast() const { return value_ == 0xffffffffu; }
  constexpr bool is_multicast() const { return (value_ >> 28) == 0xe; }
  constexpr bool is_loopback() const { return (value_ >> 24) == 127; }

  // The address n steps away, or nullopt past 0.0.0.0 or 255.255.255.255.
  constexpr std::optional<Ipv4Address> offset(int64_t n) const {
    const int64_t result = int64_t{value_} + n;
    if (result < 0 || result > int64_t{0xffffffff}) return std::nullopt;
    return Ipv4Address(static_cast<uint32_t>(result));
  }
  // How many steps from `from` to `to` (negative when `to` comes first).
  static constexpr int64_t distance(Ipv4Address from, Ipv4Address to) {
    return int64_t{to.value_} - int64_t{from.value_};
  }

  constexpr auto operator<=>(const Ipv4Address&) const = default;

 private:
  explicit constexpr Ipv4Address(uint32_t value) : value_(value) {}
  uint32_t value_ = 0;
};

}  // namespace vnet::net

template <>
struct std::hash<vnet::net::Ipv4Address> {
  size_t operator()(const vnet::net::Ipv4Address& a) const noexcept {
    return std::hash<uint32_t>{}(a.to_u32());
  }
};

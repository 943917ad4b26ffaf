// IPv6 addresses: parsed (RFC 4291 text forms) and formatted (RFC 5952),
// compared, hashed, and stepped through for address pools.
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

class Ipv6Address {
 public:
  using Bytes = std::array<uint8_t, 16>;

  constexpr Ipv6Address() = default;
  explicit constexpr Ipv6Address(const Bytes& bytes) : bytes_(bytes) {}
  static constexpr Ipv6Address from_bytes(const uint8_t* bytes) {
    Bytes b{};
    for (size_t i = 0; i < b.size(); ++i) b[i] = bytes[i];
    return Ipv6Address(b);
  }
  static Expected<Ipv6Address, std::string> parse(std::string_view text);

  constexpr const Bytes& bytes() const { return bytes_; }
  std::string to_string() const;

  constexpr bool is_unspecified() const { return *this == Ipv6Address(); }
  constexpr bool is_multicast() const { return bytes_[0] == 0xff; }

  // The address n steps away, or nullopt past :: or ffff:...:ffff.
  std::optional<Ipv6Address> offset(int64_t n) const;

  constexpr auto operator<=>(const Ipv6Address&) const = default;

 private:
  Bytes bytes_{};
};

}  // namespace vnet::net

template <>
struct std::hash<vnet::net::Ipv6Address> {
  size_t operator()(const vnet::net::Ipv6Address& a) const noexcept {
    size_t h = 1469598103934665603ull;  // FNV-1a
    for (uint8_t b : a.bytes()) h = (h ^ b) * 1099511628211ull;
    return h;
  }
};

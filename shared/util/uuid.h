// UUIDs (RFC 9562) as vnet's object ids and routing domain ids (RDIDs, which
// Windows shows as GUIDs in braces).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "shared/util/expected.h"

namespace vnet {

class Uuid {
 public:
  using Bytes = std::array<uint8_t, 16>;

  constexpr Uuid() = default;  // the nil UUID
  explicit constexpr Uuid(const Bytes& bytes) : bytes_(bytes) {}
  // A version 4 UUID from 16 random bytes (sets the version and variant bits).
  static Uuid v4_from_random(Bytes random);
  // 8-4-4-4-12 hex digits, either case, optionally in braces as Windows
  // writes GUIDs: "{11111111-2222-3333-4444-000000000000}".
  static Expected<Uuid, std::string> parse(std::string_view text);

  constexpr const Bytes& bytes() const { return bytes_; }
  constexpr bool is_nil() const { return *this == Uuid(); }
  // Lower case, no braces.
  std::string to_string() const;

  constexpr auto operator<=>(const Uuid&) const = default;

 private:
  Bytes bytes_{};
};

}  // namespace vnet

template <>
struct std::hash<vnet::Uuid> {
  size_t operator()(const vnet::Uuid& u) const noexcept {
    size_t h = 1469598103934665603ull;
    for (uint8_t b : u.bytes()) h = (h ^ b) * 1099511628211ull;
    return h;
  }
};

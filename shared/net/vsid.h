// Virtual subnet IDs (RFC 7637 section 3.2): 24 bits. 0x000000-0x000FFF are
// reserved for future use and 0xFFFFFF is reserved for vendor-specific
// NVE-to-NVE communication; vnet allocates from 0x001000 to 0xFFFFFE.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "shared/util/expected.h"

namespace vnet::net {

class Vsid {
 public:
  static constexpr uint32_t kMax = 0xffffff;
  static constexpr uint32_t kFirstAllocatable = 0x001000;
  static constexpr uint32_t kLastAllocatable = 0xfffffe;

  constexpr Vsid() = default;
  // Any 24-bit value, reserved ones included (they appear on the wire);
  // values over 24 bits are an error.
  static Expected<Vsid, std::string> make(uint64_t value);
  // Decimal, or hexadecimal with 0x.
  static Expected<Vsid, std::string> parse(std::string_view text);
  // For values known to fit, e.g. a GRE key shifted right by 8.
  static constexpr Vsid from_24_bits(uint32_t value) { return Vsid(value & kMax); }

  constexpr uint32_t value() const { return value_; }
  std::string to_string() const { return std::to_string(value_); }

  constexpr bool is_reserved() const { return value_ < kFirstAllocatable || value_ == kMax; }
  constexpr bool is_allocatable() const { return !is_reserved(); }

  constexpr auto operator<=>(const Vsid&) const = default;

 private:
  explicit constexpr Vsid(uint32_t value) : value_(value) {}
  uint32_t value_ = 0;
};

// The 32-bit NVGRE key: VSID in the upper 24 bits, FlowID in the lower 8
// (RFC 7637 section 3.2).
constexpr uint32_t nvgre_key(Vsid vsid, uint8_t flow_id) { return vsid.value() << 8 | flow_id; }
constexpr Vsid vsid_of_key(uint32_t key) { return Vsid::from_24_bits(key >> 8); }
constexpr uint8_t flow_id_of_key(uint32_t key) { return static_cast<uint8_t>(key); }

}  // namespace vnet::net

template <>
struct std::hash<vnet::net::Vsid> {
  size_t operator()(const vnet::net::Vsid& v) const noexcept {
    return std::hash<uint32_t>{}(v.value());
  }
};

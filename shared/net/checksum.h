// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
// Protocol-specific helpers (IPv4 header, TCP/UDP pseudo-header) are in
// shared/packet/checksum.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

namespace vnet::net {

// One's-complement sum of big-endian 16-bit words, not yet folded, added to
// `sum`. An odd final byte is padded with zero (RFC 1071 section 4.1), so
// every chunk but the last of a chained computation must have even length.
constexpr uint64_t checksum_add(std::span<const uint8_t> data, uint64_t sum = 0) {
  size_t i = 0;
  if (!std::is_constant_evaluated()) {
    // 32 bits at a time: a sum of big-endian 32-bit words folds to the same
    // 16-bit one's-complement sum (2^16 = 1 modulo 2^16 - 1, RFC 1071 2(B)).
    for (; i + 4 <= data.size(); i += 4) {
      uint32_t word;
      std::memcpy(&word, data.data() + i, 4);
      sum += __builtin_bswap32(word);
    }
  }
  for (; i + 1 < data.size(); i += 2) sum += uint32_t{data[i]} << 8 | data[i + 1];
  if (i < data.size()) sum += uint32_t{data[i]} << 8;
  return sum;
}

// Folds the carries into 16 bits and complements: the value that goes into a
// checksum field. Over data that holds a correct checksum it yields 0.
constexpr uint16_t checksum_finish(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

constexpr uint16_t internet_checksum(std::span<const uint8_t> data) {
  return checksum_finish(checksum_add(data));
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 16-bit field changing from
// old_value to new_value. Unlike eqn. 2 it never yields 0xFFFF for -0.
constexpr uint16_t checksum_update16(uint16_t checksum, uint16_t old_value, uint16_t new_value) {
  uint64_t sum = uint16_t(~checksum);
  sum += uint16_t(~old_value);
  sum += new_value;
  return checksum_finish(sum);
}

// The same for a 32-bit field (an IPv4 address), as two 16-bit words.
constexpr uint16_t checksum_update32(uint16_t checksum, uint32_t old_value, uint32_t new_value) {
  uint64_t sum = uint16_t(~checksum);
  sum += uint16_t(~(old_value >> 16)) + uint16_t(~old_value & 0xffff);
  sum += (new_value >> 16) + (new_value & 0xffff);
  return checksum_finish(sum);
}

}  // namespace vnet::net

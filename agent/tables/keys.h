// The composite keys of a host's lookup tables, each built by one named
// helper that keeps every bit of what it packs. A key written inline once
// (`vsid << 48 | mac`) kept 16 of the VSID's 24 bits and let a frame cross
// from one tenant's VSID to another's equal modulo 2^16: the widths are
// asserted here, and tests use values that differ only in their high bits.
#pragma once

#include <cstdint>

#include "shared/net/ipv4.h"
#include "shared/net/mac.h"
#include "shared/net/vsid.h"

namespace vnet::agent::dataplane {

inline constexpr unsigned kVsidBits = 24;  // RFC 7637 section 3.2
inline constexpr unsigned kIpv4Bits = 32;
inline constexpr unsigned kMacBits = 48;
inline constexpr unsigned kDomainIndexBits = 32;
static_assert(net::Vsid::kMax == (uint32_t{1} << kVsidBits) - 1);

// (VSID, CA) -> lookup record: 24 + 32 bits fit in one word.
static_assert(kVsidBits + kIpv4Bits <= 64);
constexpr uint64_t vsid_ca_key(net::Vsid vsid, net::Ipv4Address ca) {
  return uint64_t{vsid.value()} << kIpv4Bits | ca.to_u32();
}

// (VSID, MAC) -> lookup record: 24 + 48 bits do not fit in one word, so the
// key is three 32-bit fields, compared whole (12 bytes: with FlatMap's
// 4-byte value a slot stays 16 bytes, four to a cache line).
struct VsidMacKey {
  uint32_t mac_high = 0;  // the MAC's first 16 bits
  uint32_t mac_low = 0;   // its last 32 bits
  uint32_t vsid = 0;      // the 24-bit VSID
  bool operator==(const VsidMacKey&) const = default;
};
static_assert(kMacBits - 32 <= 32 && kVsidBits <= 32 && sizeof(VsidMacKey) == 12);
constexpr VsidMacKey vsid_mac_key(net::Vsid vsid, uint64_t mac48) {
  return VsidMacKey{.mac_high = static_cast<uint32_t>(mac48 >> 32),
                    .mac_low = static_cast<uint32_t>(mac48),
                    .vsid = vsid.value()};
}
constexpr VsidMacKey vsid_mac_key(net::Vsid vsid, net::MacAddress mac) {
  return vsid_mac_key(vsid, mac.to_u64());
}

// (routing domain index, PA) -> "this PA holds a record or a gateway of the
// domain": who may send NVGRE for the domain's VSIDs.
static_assert(kDomainIndexBits + kIpv4Bits <= 64);
constexpr uint64_t domain_pa_key(uint32_t domain_index, net::Ipv4Address pa) {
  return uint64_t{domain_index} << kIpv4Bits | pa.to_u32();
}

// What FlatMap hashes: the key folded to 64 bits (equal keys, equal words;
// collisions are resolved by comparing whole keys).
constexpr uint64_t hash_word(uint64_t key) { return key; }
constexpr uint64_t hash_word(const VsidMacKey& key) {
  return (uint64_t{key.mac_high} << 32 | key.mac_low) ^
         (uint64_t{key.vsid} * 0xc2b2ae3d27d4eb4full);
}

}  // namespace vnet::agent::dataplane

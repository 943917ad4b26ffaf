#include "shared/net/checksum.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace vnet::net {
namespace {

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (one's
  // complement), so the checksum is ~ddf2 = 220d.
  const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(internet_checksum(data), 0x220d);
}

TEST(Checksum, KnownIpv4Header) {
  // A header from Wikipedia's IPv4 checksum example, checksum b861.
  uint8_t header[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                      0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(internet_checksum(header), 0xb861);
  header[10] = 0xb8;
  header[11] = 0x61;
  EXPECT_EQ(internet_checksum(header), 0);  // verifies
}

TEST(Checksum, OddLengthPadsWithZero) {
  const uint8_t odd[] = {0x12, 0x34, 0x56};
  const uint8_t even[] = {0x12, 0x34, 0x56, 0x00};
  EXPECT_EQ(internet_checksum(odd), internet_checksum(even));
  EXPECT_EQ(internet_checksum(std::span<const uint8_t>()), 0xffff);
}

TEST(Checksum, IncrementalUpdateMatchesFullRecomputation) {
  // RFC 1624: for random data and random field changes, eqn. 3 gives exactly
  // what a full recomputation gives.
  std::mt19937 rng(1624);
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> data(20 + rng() % 40 * 2);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    const size_t at = 2 * (rng() % (data.size() / 2 - 1));
    data[at] = data[at + 1] = 0;  // the checksum field, somewhere else
    const size_t checksum_at = at == 0 ? 2 : 0;
    data[checksum_at] = data[checksum_at + 1] = 0;
    const uint16_t before = internet_checksum(data);
    data[checksum_at] = static_cast<uint8_t>(before >> 8);
    data[checksum_at + 1] = static_cast<uint8_t>(before);

    const size_t field = at;
    const uint16_t old_value = static_cast<uint16_t>(data[field] << 8 | data[field + 1]);
    const uint16_t new_value = static_cast<uint16_t>(rng());
    data[field] = static_cast<uint8_t>(new_value >> 8);
    data[field + 1] = static_cast<uint8_t>(new_value);
    const uint16_t updated = checksum_update16(before, old_value, new_value);
    data[checksum_at] = static_cast<uint8_t>(updated >> 8);
    data[checksum_at + 1] = static_cast<uint8_t>(updated);
    ASSERT_EQ(internet_checksum(data), 0) << "round " << round;
  }
}

TEST(Checksum, IncrementalUpdateOf32BitFields) {
  uint8_t header[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                      0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  // Source 192.168.0.1 -> 10.0.0.5 (an IP rewrite).
  const uint16_t updated = checksum_update32(0xb861, 0xc0a80001, 0x0a000005);
  header[12] = 10, header[13] = 0, header[14] = 0, header[15] = 5;
  header[10] = static_cast<uint8_t>(updated >> 8);
  header[11] = static_cast<uint8_t>(updated);
  EXPECT_EQ(internet_checksum(header), 0);
}

TEST(Checksum, Rfc1624NegativeZeroCase) {
  // RFC 1624 section 4: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285. Full
  // recomputation and eqn. 3 give 0x0000; RFC 1141's eqn. 2 gave 0xFFFF.
  EXPECT_EQ(checksum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
}

}  // namespace
}  // namespace vnet::net

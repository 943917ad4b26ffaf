// The tables' composite keys keep every bit: values that differ only in the
// high bits of the VSID, CA, MAC or PA are different keys, in the helpers
// and in the maps built from them.
#include "agent/tables/keys.h"

#include <gtest/gtest.h>

#include "agent/tables/flat_map.h"
#include "agent/tables/tables.h"
#include "shared/testing/fixtures.h"

namespace vnet::agent::dataplane {
namespace {

using testing::ipv4;
using testing::mac;

net::Vsid V(uint32_t v) { return net::Vsid::from_24_bits(v); }

TEST(KeysTest, VsidsEqualInTheirLowBitsAreDifferentKeys) {
  const auto m = mac("00:1D:D8:B7:1C:05");
  for (uint32_t high : {1u << 8, 1u << 16, 1u << 23}) {
    SCOPED_TRACE(high);
    EXPECT_NE(vsid_mac_key(V(5001), m), vsid_mac_key(V(5001 + high), m));
    EXPECT_NE(vsid_ca_key(V(5001), ipv4("10.0.0.5")),
              vsid_ca_key(V(5001 + high), ipv4("10.0.0.5")));
  }
  EXPECT_NE(vsid_mac_key(V(5001), mac("00:1D:D8:B7:1C:05")),
            vsid_mac_key(V(5001), mac("80:1D:D8:B7:1C:05")));
  EXPECT_NE(vsid_ca_key(V(0xffffff), ipv4("0.0.0.1")), vsid_ca_key(V(0x7fffff), ipv4("0.0.0.1")));
  EXPECT_NE(domain_pa_key(1, ipv4("192.168.1.10")),
            domain_pa_key(1u << 31 | 1, ipv4("192.168.1.10")));
}

TEST(KeysTest, FlatMapTellsKeysApartThatShareAHashSlotPattern) {
  FlatMap<VsidMacKey> map;
  const auto m = mac("00:1D:D8:B7:1C:05");
  map.insert(vsid_mac_key(V(5001), m), 1);
  map.insert(vsid_mac_key(V(5001 + (1u << 16)), m), 2);
  map.insert(vsid_mac_key(V(5001 + (1u << 8)), m), 3);
  EXPECT_EQ(map.find(vsid_mac_key(V(5001), m)), 1u);
  EXPECT_EQ(map.find(vsid_mac_key(V(5001 + (1u << 16)), m)), 2u);
  EXPECT_EQ(map.find(vsid_mac_key(V(5001 + (1u << 8)), m)), 3u);
  EXPECT_FALSE(map.find(vsid_mac_key(V(5001 + (1u << 23)), m)).has_value());
  EXPECT_EQ(map.size(), 3u);
}

// The tables built from records of VSIDs 5001 and 70537 with one MAC answer
// each VSID with its own record.
TEST(KeysTest, TablesLookUpRecordsByTheWholeVsid) {
  policy::HostPolicy p;
  p.host_id = testing::uuid(1);
  p.provider.pa = ipv4("192.168.1.10");
  const auto m = mac("00:1D:D8:B7:1C:05");
  p.lookup_records.push_back(
      {V(5001), ipv4("10.0.0.5"), m, ipv4("192.168.2.20"), policy::LookupRule::kEncap});
  p.lookup_records.push_back({V(5001 + (1u << 16)), ipv4("10.0.0.6"), m, ipv4("192.168.3.30"),
                              policy::LookupRule::kEncap});
  const auto t = Tables::build(p, HostFacts{});
  const RecordEntry* a = t->record_by_mac(V(5001), m.to_u64());
  const RecordEntry* b = t->record_by_mac(V(5001 + (1u << 16)), m.to_u64());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->pa, ipv4("192.168.2.20"));
  EXPECT_EQ(b->pa, ipv4("192.168.3.30"));
  EXPECT_EQ(t->record_by_mac(V(5001 + (1u << 8)), m.to_u64()), nullptr);
}

}  // namespace
}  // namespace vnet::agent::dataplane

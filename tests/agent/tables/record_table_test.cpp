// The lookup records stored in their hash slots (issue 18), and the huge-
// page arrays under the tables.
#include "agent/tables/record_table.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "agent/tables/huge_array.h"
#include "agent/tables/tables.h"
#include "shared/testing/fixtures.h"

namespace vnet::agent::dataplane {
namespace {

using testing::ipv4;
using testing::mac;

net::Vsid V(uint32_t v) { return net::Vsid::from_24_bits(v); }

RecordEntry record(uint32_t vsid, uint32_t i) {
  return {.vsid = V(vsid),
          .ca = net::Ipv4Address::from_u32(0x0a000000u + i),
          .mac = net::MacAddress::from_u64(0x001dd8000000ull + i),
          .pa = net::Ipv4Address::from_u32(0xc0a80000u + i % 100),
          .rule = policy::LookupRule::kEncap,
          .local_port = kNoPort,
          .tunnel = i % 100};
}

TEST(RecordTable, EveryRecordIsFoundInItsSlotAndNothingElseIs) {
  RecordTable table;
  constexpr uint32_t kRecords = 20000;
  table.reserve(kRecords);
  std::vector<uint32_t> slots;
  for (uint32_t i = 0; i < kRecords; ++i) slots.push_back(table.insert(record(5001, i)));
  EXPECT_EQ(table.size(), kRecords);
  for (uint32_t i = 0; i < kRecords; ++i) {
    const RecordEntry* found = table.find(V(5001), net::Ipv4Address::from_u32(0x0a000000u + i));
    ASSERT_NE(found, nullptr) << i;
    EXPECT_EQ(found->mac, net::MacAddress::from_u64(0x001dd8000000ull + i));
    EXPECT_EQ(found->tunnel, i % 100);
    // The slot insert() gave is where the record stays.
    EXPECT_EQ(&table.at(slots[i]), found);
  }
  // The same CA in a VSID that differs only in high bits is another key.
  for (uint32_t high : {1u << 8, 1u << 16, 1u << 23}) {
    EXPECT_EQ(table.find(V(5001 + high), ipv4("10.0.0.5")), nullptr) << high;
  }
  EXPECT_EQ(table.find(V(5001), net::Ipv4Address::from_u32(0x0a000000u + kRecords)), nullptr);
  size_t visited = 0;
  table.for_each([&](const RecordEntry&) { ++visited; });
  EXPECT_EQ(visited, kRecords);
}

// One CA in eight VSIDs, in a table of 16 slots: their probe chains run
// into each other, and each look-up still answers its own VSID.
TEST(RecordTable, OneCaInManyVsidsIsManyRecords) {
  RecordTable table;
  table.reserve(8);
  const uint32_t vsids[] = {
      5001, 5001 + (1u << 8), 5001 + (1u << 16), 5001 + (1u << 23), 4096, 0xfffffe, 70000, 123456};
  for (uint32_t i = 0; i < 8; ++i) {
    RecordEntry r = record(vsids[i], 5);
    r.tunnel = i;
    ASSERT_NE(table.insert(r), kNone);
  }
  for (uint32_t i = 0; i < 8; ++i) {
    const RecordEntry* found = table.find(V(vsids[i]), record(0, 5).ca);
    ASSERT_NE(found, nullptr) << vsids[i];
    EXPECT_EQ(found->vsid, V(vsids[i]));
    EXPECT_EQ(found->tunnel, i);
  }
  EXPECT_EQ(table.find(V(5002), record(0, 5).ca), nullptr);
}

TEST(RecordTable, ARecordWithTheSameKeyReplacesTheOldInItsSlot) {
  RecordTable table;
  table.reserve(4);
  const uint32_t first = table.insert(record(5001, 7));
  RecordEntry again = record(5001, 7);
  again.pa = ipv4("192.168.9.9");
  EXPECT_EQ(table.insert(again), first);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.find(V(5001), record(5001, 7).ca)->pa, ipv4("192.168.9.9"));
}

// The table never grows by itself (the other maps hold its slots): past
// half of what it was sized for it refuses, and a look-up of a key that is
// not there still ends.
TEST(RecordTable, ItRefusesRecordsPastHalfItsSlotsAndLookUpsStillEnd) {
  RecordTable table;
  table.reserve(8);  // 16 slots
  uint32_t refused = 0;
  for (uint32_t i = 0; i < 12; ++i) refused += table.insert(record(5001, i)) == kNone;
  EXPECT_EQ(table.size(), 8u);
  EXPECT_EQ(refused, 4u);
  EXPECT_EQ(table.find(V(5001), ipv4("10.9.9.9")), nullptr);
}

TEST(RecordTable, TablesBuiltFromAPolicyFindRecordsByCaAndByMac) {
  policy::HostPolicy p;
  p.host_id = testing::uuid(1);
  p.provider.pa = ipv4("192.168.1.10");
  for (uint32_t i = 0; i < 1000; ++i) {
    const RecordEntry r = record(5001 + i % 3, i);
    p.lookup_records.push_back({r.vsid, r.ca, r.mac, r.pa, policy::LookupRule::kEncap});
  }
  const auto t = Tables::build(p, HostFacts{});
  EXPECT_TRUE(t->warnings.empty());
  for (uint32_t i = 0; i < 1000; ++i) {
    const RecordEntry r = record(5001 + i % 3, i);
    const RecordEntry* by_ca = t->record_by_ca(r.vsid, r.ca);
    ASSERT_NE(by_ca, nullptr) << i;
    EXPECT_EQ(t->record_by_mac(r.vsid, r.mac.to_u64()), by_ca);
    EXPECT_EQ(by_ca->pa, r.pa);
    EXPECT_NE(by_ca->tunnel, kNone);
    EXPECT_EQ(t->tunnels[by_ca->tunnel].pa, r.pa);
  }
  EXPECT_GT(t->memory_bytes(), 1000u * 32);
}

TEST(HugeArray, LargeArraysAreHugePageAlignedZeroedAndMovable) {
  HugeArray<uint64_t> big(kHugePageBytes / sizeof(uint64_t) + 1);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big.data()) % kHugePageBytes, 0u);
  for (const uint64_t v : big) ASSERT_EQ(v, 0u);
  big[big.size() - 1] = 42;
  HugeArray<uint64_t> moved = std::move(big);
  EXPECT_EQ(moved[moved.size() - 1], 42u);
  EXPECT_EQ(big.size(), 0u);
  HugeArray<uint64_t> small(3);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small.data()) % 64, 0u);
}

}  // namespace
}  // namespace vnet::agent::dataplane

// What the engine threads share (agent/xsk/handoff.h): the ring that hands a
// frame to another thread and the depot of free frames.
#include "agent/xsk/handoff.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

namespace vnet::agent::xsk {
namespace {

TEST(HandoffRing, NothingIsSeenBeforeItIsPublishedAndAFullRingRefuses) {
  HandoffRing ring(6);  // rounded up to 8
  EXPECT_EQ(ring.capacity(), 8u);
  for (uint64_t i = 0; i < 8; ++i) EXPECT_TRUE(ring.push({i, 60, 1, false, 1}));
  EXPECT_FALSE(ring.push({8, 60, 1, false, 1}));  // full: the caller drops and counts it
  EXPECT_TRUE(ring.empty());               // nothing published yet
  std::vector<uint64_t> got;
  EXPECT_EQ(ring.drain(64, [&](const Handoff& h) { got.push_back(h.addr); }), 0u);
  EXPECT_TRUE(ring.publish());
  EXPECT_FALSE(ring.publish());  // nothing new
  EXPECT_EQ(ring.drain(3, [&](const Handoff& h) { got.push_back(h.addr); }), 3u);
  EXPECT_TRUE(ring.push({8, 60, 1, false, 1}));  // room again once the consumer took some
  ring.publish();
  EXPECT_EQ(ring.drain(64, [&](const Handoff& h) { got.push_back(h.addr); }), 6u);
  EXPECT_EQ(got, (std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_TRUE(ring.empty());
}

TEST(HandoffRing, APacketOfSeveralEntriesIsNeverDrainedInPart) {
  // Packets of 1 and 3 entries (a jumbo frame in three UMEM frames): a
  // drain of at most 2 goes on to the end of the packet it is in.
  HandoffRing ring(16);
  EXPECT_EQ(ring.room(), 16u);
  ring.push({1, 60, 1, false, 1});
  ring.push({2, 4096, 1, true, 1});
  ring.push({3, 4096, 1, true, 1});
  ring.push({4, 822, 1, false, 1});
  ring.push({5, 60, 1, false, 1});
  EXPECT_EQ(ring.room(), 11u);
  ring.publish();
  std::vector<uint64_t> got;
  EXPECT_EQ(ring.drain(2, [&](const Handoff& h) { got.push_back(h.addr); }), 4u);
  EXPECT_EQ(got, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(ring.drain(2, [&](const Handoff& h) { got.push_back(h.addr); }), 1u);
  EXPECT_EQ(ring.room(), 16u);
}

TEST(HandoffRing, TwoThreadsSeeEveryEntryOnceInOrder) {
  // The producer pushes a million entries in bursts, retrying when full;
  // the consumer must see 0, 1, 2, ... with length and socket intact.
  constexpr uint64_t kEntries = 1'000'000;
  HandoffRing ring(512);
  std::thread producer([&] {
    uint64_t next = 0;
    while (next < kEntries) {
      for (int burst = 0; burst < 64 && next < kEntries; ++burst) {
        if (!ring.push({next, static_cast<uint32_t>(next % 1500), static_cast<uint16_t>(next),
                        false, static_cast<uint32_t>(next * 3)}))
          break;
        ++next;
      }
      ring.publish();
    }
  });
  uint64_t expected = 0;
  bool intact = true;
  while (expected < kEntries) {
    ring.drain(100, [&](const Handoff& h) {
      intact &= h.addr == expected && h.length == expected % 1500 &&
                h.socket == static_cast<uint16_t>(expected) &&
                h.serial == static_cast<uint32_t>(expected * 3);
      ++expected;
    });
  }
  producer.join();
  EXPECT_TRUE(intact);
  EXPECT_EQ(expected, kEntries);
  EXPECT_TRUE(ring.empty());
}

TEST(FrameCache, FramesMoveBetweenThreadsThroughTheDepotAndNoneIsLostOrDoubled) {
  // Thread A takes frames and passes them (as a ring would) to thread B,
  // which frees them into its own cache: the depot must carry them back to
  // A. After 100 rounds of the whole pool every frame is free exactly once.
  constexpr uint64_t kFrames = 4096;
  FrameDepot depot;
  for (uint64_t i = 0; i < kFrames; ++i) depot.put(i * 4096);
  HandoffRing a_to_b(1024);
  std::atomic<bool> done{false};
  std::vector<uint64_t> b_saw;
  FrameCache b(depot);
  std::thread consumer([&] {
    while (!done.load() || !a_to_b.empty()) {
      a_to_b.drain(256, [&](const Handoff& h) { b.put(h.addr); });
    }
    b.flush();
  });
  FrameCache a(depot);
  uint64_t passed = 0, starved = 0;
  while (passed < 100 * kFrames) {
    uint64_t frame;
    if (!a.take(frame)) {  // all in flight or in B's cache: B gives them back
      ++starved;
      std::this_thread::yield();
      continue;
    }
    while (!a_to_b.push({frame, 0, 0, false, 0})) a_to_b.publish();
    ++passed;
    if (passed % 64 == 0) a_to_b.publish();
  }
  a_to_b.publish();
  done = true;
  consumer.join();
  a.flush();
  EXPECT_EQ(depot.size(), kFrames);
  std::vector<uint64_t> all;
  depot.take(all, kFrames);
  std::set<uint64_t> distinct(all.begin(), all.end());
  EXPECT_EQ(distinct.size(), kFrames);
  EXPECT_EQ(*distinct.rbegin(), (kFrames - 1) * 4096);
}

TEST(FrameCache, TakesFromTheDepotAndGivesBackInBatches) {
  FrameDepot depot;
  for (uint64_t i = 0; i < 2000; ++i) depot.put(i);
  FrameCache cache(depot);
  uint64_t frame;
  ASSERT_TRUE(cache.take(frame));
  EXPECT_EQ(cache.size(), FrameCache::kBatch - 1);  // one batch came
  EXPECT_EQ(depot.size(), 2000 - FrameCache::kBatch);
  for (uint64_t i = 0; i < 3 * FrameCache::kBatch; ++i) cache.put(10000 + i);
  // Past three batches it keeps one and gives two back.
  EXPECT_LT(cache.size(), 3 * FrameCache::kBatch);
  EXPECT_EQ(cache.size() + depot.size(), 2000 - 1 + 3 * FrameCache::kBatch);
  // An empty depot and cache: no frame, not a wait.
  FrameDepot empty;
  FrameCache none(empty);
  EXPECT_FALSE(none.take(frame));
}

}  // namespace
}  // namespace vnet::agent::xsk

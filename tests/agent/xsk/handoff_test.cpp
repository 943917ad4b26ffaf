// What the engine threads share (agent/xsk/handoff.h): the ring that hands a
// frame to another thread and the depot of free frames; and how a packet
// in several frames is gathered and scattered (agent/xsk/multi_frame.h).
#include "agent/xsk/handoff.h"

#include "agent/xsk/multi_frame.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
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
  EXPECT_TRUE(ring.empty());                      // nothing published yet
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

TEST(MultiFrame, AJumboPacketIsGatheredWholeAndScatteredBackIntoItsOwnFrames) {
  // A 9,014-byte frame as the kernel hands it over: three frames of 4,096,
  // each with 3,840 bytes after the 256 of headroom (the last 1,334).
  constexpr uint32_t kFrame = 4096;
  std::vector<uint8_t> umem(8 * kFrame, 0);
  const std::vector<xdp_desc> pieces = {{5 * kFrame + 256, 3840, XDP_PKT_CONTD},
                                        {2 * kFrame + 256, 3840, XDP_PKT_CONTD},
                                        {7 * kFrame + 256, 1334, 0}};
  uint32_t n = 0;
  for (const xdp_desc& d : pieces)
    for (uint32_t i = 0; i < d.len; ++i) umem[d.addr + i] = static_cast<uint8_t>(n++ * 7);
  std::vector<uint8_t> linear(16384);
  ASSERT_EQ(gather(pieces, umem.data(), linear), 9014u);
  for (uint32_t i = 0; i < 9014; ++i) ASSERT_EQ(linear[i], static_cast<uint8_t>(i * 7)) << i;
  // Too small a buffer: nothing, not a part.
  std::vector<uint8_t> small(9000);
  EXPECT_EQ(gather(pieces, umem.data(), small), 0u);

  // 42 bytes more (NVGRE) leave in the same frames, 4,096 bytes each from
  // the start of the frame: three descriptors, chained, in the pieces' order.
  std::vector<uint8_t> out_bytes(9056);
  for (size_t i = 0; i < out_bytes.size(); ++i) out_bytes[i] = static_cast<uint8_t>(i * 13);
  std::array<xdp_desc, 8> leave{};
  ASSERT_EQ(scatter(out_bytes, pieces, umem.data(), kFrame, leave), 3u);
  EXPECT_EQ(leave[0].addr, 5 * kFrame);
  EXPECT_EQ(leave[1].addr, 2 * kFrame);
  EXPECT_EQ(leave[2].addr, 7 * kFrame);
  EXPECT_EQ(leave[0].len + leave[1].len + leave[2].len, 9056u);
  EXPECT_EQ(leave[0].options & XDP_PKT_CONTD, uint32_t{XDP_PKT_CONTD});
  EXPECT_EQ(leave[1].options & XDP_PKT_CONTD, uint32_t{XDP_PKT_CONTD});
  EXPECT_EQ(leave[2].options, 0u);
  size_t at = 0;
  for (uint32_t j = 0; j < 3; ++j)
    for (uint32_t i = 0; i < leave[j].len; ++i, ++at)
      ASSERT_EQ(umem[leave[j].addr + i], static_cast<uint8_t>(at * 13)) << at;
  // A small answer (an ICMP error) takes one frame; the others are freed.
  EXPECT_EQ(scatter(std::span(out_bytes).first(590), pieces, umem.data(), kFrame, leave), 1u);
  EXPECT_EQ(leave[0].options, 0u);
  // More than the frames hold: refused, nothing half written counts.
  std::vector<uint8_t> huge(3 * kFrame + 1);
  EXPECT_EQ(scatter(huge, pieces, umem.data(), kFrame, leave), 0u);
}

}  // namespace
}  // namespace vnet::agent::xsk

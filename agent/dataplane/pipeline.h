// The packet pipeline: frame bytes and tables in, a verdict out. Pure: no
// syscalls, no allocation, no locks, no exceptions; the engine (agent/xsk)
// and the tests drive the same functions (DESIGN.md section 4).
//
// A frame lives in a buffer with headroom in front of it (a UMEM frame), so
// encapsulation writes the 42 outer bytes before the packet and moves
// `offset` back, and decapsulation moves it forward: the payload never moves.
// Answers (ARP, DHCP, ICMP) are written over the request in the same buffer.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "agent/dataplane/nat.h"
#include "agent/dataplane/reason.h"
#include "agent/tables/tables.h"

namespace vnet::agent::dataplane {

inline constexpr uint16_t kUplink = 0xfffe;
inline constexpr uint16_t kExternal = 0xfffd;  // a gateway host's external interface

struct Frame {
  std::span<uint8_t> buffer;  // the whole buffer, headroom included
  uint32_t offset = 0;        // where the frame starts in it
  uint32_t length = 0;
  std::span<uint8_t> bytes() const { return buffer.subspan(offset, length); }
};

// Where a frame leaves.
enum class Exit : uint8_t { kDropped, kToPort, kToUplink, kToExternal };

struct Verdict {
  Reason reason;
  uint16_t out = kNoPort;  // a port index, kUplink, kExternal, or kNoPort when dropped
  bool dropped() const { return out == kNoPort; }
  Exit exit() const {
    return out == kNoPort     ? Exit::kDropped
           : out == kUplink   ? Exit::kToUplink
           : out == kExternal ? Exit::kToExternal
                              : Exit::kToPort;
  }
};

// A port's token bucket for its profile's bandwidth_max_mbps (issue 19):
// the credit is in millibits, so that one nanosecond at 1 Mbit/s is one
// unit and the refill is an integer product. It starts full.
struct PortMeter {
  uint64_t credit = 0;  // millibits
  uint64_t last = 0;    // `now` of the last refill
  bool started = false;

  // The burst a port may send at once: 60 ms at its rate, and at least two
  // jumbo frames (a bucket smaller than a packet would never pass it). The
  // credit that accrues while the engine thread is off the CPU overflows a
  // small bucket while the VM's packets wait in the socket's ring: in the
  // two-core lab 4 ms held a VM to 65% of its rate; 20 ms was enough on a
  // quiet machine, but with a browser test beside it a VM got 81% of its
  // share (73 of 90 Mbit/s); 60 ms gave 98% (88).
  static constexpr uint64_t kBurstNs = 60'000'000;
  static uint64_t burst(uint32_t mbps) {
    return std::max<uint64_t>(uint64_t{mbps} * kBurstNs, uint64_t{2} * 9238 * 8 * 1000);
  }
  // Whether `bytes` may go at `now` (nanoseconds); takes their credit if so.
  bool admit(uint32_t mbps, uint64_t now, uint32_t bytes) {
    const uint64_t cap = burst(mbps);
    if (!started) {
      started = true;
      credit = cap;
      last = now;
    } else if (now > last) {
      const uint64_t elapsed = std::min<uint64_t>(now - last, 1'000'000'000);
      credit = std::min(cap, credit + elapsed * mbps);
      last = now;
    }
    const uint64_t cost = uint64_t{bytes} * 8 * 1000;
    if (credit < cost) return false;
    credit -= cost;
    return true;
  }
};

// What a port wants of a congested uplink and what its profile gives it.
struct PortDemand {
  uint32_t offered_mbps = 0;  // what the VM sent in the last interval
  uint32_t min_mbps = 0;      // its profile's bandwidth_min_mbps (0: none)
  uint32_t max_mbps = 0;      // its profile's bandwidth_max_mbps (0: none)
  uint32_t weight = 1;
};

// Weighted sharing of an uplink of `capacity_mbps` (issue 19): when what
// the ports want (their offered rate with headroom, up to their maximum)
// exceeds it, each port's rate is its weight times a common level, but at
// least its minimum and at most its maximum, the level chosen so that the
// rates of the ports that want more than theirs, and the wants of the
// others, fill the capacity (max-min fair by weight). When the minimums
// alone exceed it they are scaled down together. Writes each port's rate
// in Mbit/s to `rates` (0: not limited by sharing) and answers whether the
// uplink was congested. A port that sends less than its share is policed
// at its share, not at what it sent, so it can grow into it.
bool share_uplink(uint32_t capacity_mbps, std::span<const PortDemand> demands,
                  std::span<uint32_t> rates);

// The rate a port is policed at: its maximum, or its share of a congested
// uplink when that is lower (0: neither).
inline uint32_t policed_rate(uint32_t max_mbps, uint32_t share_mbps) {
  if (share_mbps == 0) return max_mbps;
  return max_mbps == 0 ? share_mbps : std::min(max_mbps, share_mbps);
}

// The buckets of the ports of `from` (one per port, `old`) for the ports of
// `to`: a port that is in both (the same NIC and MAC) keeps its bucket, a
// new one starts full. So a policy change elsewhere on the host (they come
// often) never refills a limited port's bucket.
std::vector<PortMeter> carry_meters(const Tables* from, std::span<const PortMeter> old,
                                    const Tables& to);

// What the pipeline may read and write besides the tables: the engine
// thread's NAT table, its ports' token buckets, and the time (nanoseconds
// of a monotonic clock), given, never read, so that the pipeline stays a
// function of its inputs.
struct Context {
  NatTable* nat = nullptr;  // null: gateway traffic is dropped (no_gateway_state)
  uint64_t now = 0;
  // One per port of the tables, by port index: the thread that polls a port
  // is the only one to meter it. Empty: no port is limited (tests and the
  // trace, which send one packet).
  std::span<PortMeter> meters{};
  // Each port's share of a congested uplink (share_uplink), by port index,
  // set by whichever engine thread shares the uplink; 0 or absent: none.
  std::span<const std::atomic<uint32_t>> shares{};
};

// A frame a VM sent into `port` (an index into tables.ports).
Verdict from_port(const Tables& tables, Context& context, uint16_t port, Frame& frame);
// A frame the XDP program redirected from the uplink.
Verdict from_uplink(const Tables& tables, Context& context, Frame& frame);
// A frame the XDP program redirected from a gateway host's external
// interface: to a gateway's external address or a forwarding gateway's
// prefixes.
Verdict from_external(const Tables& tables, Context& context, Frame& frame);

// Without gateway state (hosts and tests that run no gateway).
Verdict from_port(const Tables& tables, uint16_t port, Frame& frame);
Verdict from_uplink(const Tables& tables, Frame& frame);

// Cache hints for a batch (they change nothing): call stage 0 for every
// frame of the batch, then stage 1 for every frame, then from_port() for
// each, so that the look-ups of 64 frames wait for memory together rather
// than one after the other. Only the common case (IPv4 to the port's own
// subnet) is hinted.
void prefetch_from_port(const Tables& tables, uint16_t port, const Frame& frame, int stage);

// The NVGRE FlowID for an inner IPv4 packet when flow entropy is on: a hash
// of addresses, protocol and ports, so one flow keeps one underlay path.
uint8_t flow_id_of(std::span<const uint8_t> inner_ipv4);

}  // namespace vnet::agent::dataplane

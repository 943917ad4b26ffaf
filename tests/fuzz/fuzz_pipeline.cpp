// libFuzzer target for the whole packet pipeline: the first input byte picks
// where the frame enters (a port of the fixture policy, or the uplink), the
// rest is the frame. The frame sits in a buffer with AF_XDP's headroom, as in
// the engine; the sanitizers see any write outside it, and every verdict must
// name a port that exists or the uplink.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "agent/dataplane/pipeline.h"
#include "tests/agent/dataplane/pipeline_fixtures.h"

namespace {

using namespace vnet::agent::dataplane;

const Tables& tables() {
  static const auto built = [] {
    const auto policy = vnet::testing::dataplane::pipeline_policy();
    HostFacts facts;
    facts.uplink_mac = vnet::testing::dataplane::uplink_mac();
    for (const auto& r : policy.lookup_records) {
      facts.next_hop_macs[r.pa] = vnet::testing::dataplane::underlay_router_mac();
    }
    return Tables::build(policy, facts);
  }();
  return *built;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 4096 - 256) return 0;
  const Tables& t = tables();
  std::vector<uint8_t> buffer(4096);
  std::memcpy(buffer.data() + 256, data + 1, size - 1);
  Frame frame{buffer, 256, static_cast<uint32_t>(size - 1)};
  const uint8_t in = data[0];
  const Verdict v =
      in == 0xff || in >= t.ports.size() ? from_uplink(t, frame) : from_port(t, in, frame);
  if (!v.dropped() && v.out != kUplink && v.out >= t.ports.size()) std::abort();
  if (!v.dropped() && (frame.offset + frame.length > buffer.size() || frame.length < 14))
    std::abort();
  if (v.dropped() != is_drop(v.reason)) std::abort();
  return 0;
}

// libFuzzer target for the whole packet pipeline: the first input byte picks
// where the frame enters (a port of the fixture policy, or the uplink; 0xfe
// and 0xfd: the uplink and the external interface of the fixtures' gateway
// host, with a NAT table that lives across inputs and a clock the second
// byte advances), the rest is the frame. The frame sits in a buffer with AF_XDP's headroom, as in
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

const Tables& gateway_tables() {
  static const auto built = [] {
    namespace fx = vnet::testing::dataplane;
    const auto policy = fx::gateway_host_policy();
    HostFacts facts;
    facts.uplink_mac = fx::gateway_uplink_mac();
    for (const auto& r : policy.lookup_records)
      facts.next_hop_macs[r.pa] = fx::underlay_router_mac();
    facts.external_mac = fx::external_mac();
    facts.external_mtu = 1400;  // smaller than the tunnel's, so both MTU checks are reached
    for (const auto& g : policy.gateways)
      facts.external_next_hop_macs[g.next_hop] = fx::next_hop_mac();
    return Tables::build(policy, facts);
  }();
  return *built;
}

// Small, so that the fuzzer fills it and reaches the refusals.
NatTable& nat() {
  static NatTable table(NatOptions{.capacity = 16, .port_min = 60000, .port_max = 60007});
  return table;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size > 4096 - 256) return 0;
  const uint8_t in = data[0];
  const bool gateway_host = in == 0xfe || in == 0xfd;
  const Tables& t = gateway_host ? gateway_tables() : tables();
  if (gateway_host) {
    static bool synced = false;
    if (!synced) {
      std::vector<NatTable::Gateway> gateways;
      for (const auto& g : t.gateways) {
        if (g.local && g.kind == vnet::policy::GatewayKind::kNat)
          gateways.push_back({g.external_ip, {{6, 8080}}});
      }
      nat().sync(gateways);
      synced = true;
    }
  }
  static uint64_t now = 0;
  now += uint64_t{data[1]} * 1'000'000'000;  // up to 255 s per input: timeouts happen
  Context context{&nat(), now};
  std::vector<uint8_t> buffer(4096);
  std::memcpy(buffer.data() + 256, data + 2, size - 2);
  Frame frame{buffer, 256, static_cast<uint32_t>(size - 2)};
  const Verdict v = in == 0xfd             ? from_external(t, context, frame)
                    : gateway_host         ? from_uplink(t, context, frame)
                    : in >= t.ports.size() ? from_uplink(t, context, frame)
                                           : from_port(t, context, in, frame);
  if (!v.dropped() && v.out != kUplink && v.out != kExternal && v.out >= t.ports.size())
    std::abort();
  if (v.out == kExternal && !gateway_host) std::abort();
  if (nat().size() > nat().capacity()) std::abort();
  if (!v.dropped() && (frame.offset + frame.length > buffer.size() || frame.length < 14))
    std::abort();
  if (v.dropped() != is_drop(v.reason)) std::abort();
  return 0;
}

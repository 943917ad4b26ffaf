// The pipeline's fixture table (Katran's habit): description, where the frame
// enters, the frame, and what must come out, with the verdict's reason. The
// pure pipeline test runs every row; the same rows can drive the real engine.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/dataplane/reason.h"
#include "shared/policy/host_policy.h"
#include "shared/testing/packet_builder.h"

namespace vnet::testing::dataplane {

inline constexpr std::string_view kUplink = "uplink";

struct Fixture {
  std::string description;
  std::string in;  // a port's interface, or kUplink
  Bytes frame;
  agent::dataplane::Reason reason;
  std::string out;                // a port's interface, kUplink, or "" when dropped
  std::optional<Bytes> expected;  // the frame that must come out, byte for byte
};

// Host 1 of seed scenario 2, plus what the rules need: a second Blue subnet
// (VSID 5002, 10.0.1.0/24, routed to 5001), a Green VM network that uses IP
// rewrite (VSID 7001, 10.1.0.0/24, PAs 192.168.1.50 here and 192.168.2.70
// on host 2). Interfaces: vnet-blue5, vnet-red5, vnet-blue15, vnet-green5.
policy::HostPolicy pipeline_policy();
net::MacAddress uplink_mac();
net::MacAddress underlay_router_mac();

std::vector<Fixture> pipeline_fixtures();

// Gateways (tests/agent/dataplane/gateway_test.cpp). The gateway host (PA
// 192.168.3.30, no VMs) runs Blue's and Red's NAT gateways (203.0.113.100
// and .101; Blue forwards TCP 8080 to 10.0.0.5:80) and Green's forwarding
// gateway (203.0.113.102, Green is 10.1.0.0/24 with VSID 7001 and 10.1.0.5
// on host 1); its external interface faces 203.0.113.0/24, next hop .1.
// The VM host is host 1 of seed scenario 2 with Green 5, sending to them.
policy::HostPolicy gateway_host_policy();
policy::HostPolicy vm_host_with_gateways_policy();
net::MacAddress gateway_uplink_mac();
net::MacAddress external_mac();
net::MacAddress next_hop_mac();

}  // namespace vnet::testing::dataplane

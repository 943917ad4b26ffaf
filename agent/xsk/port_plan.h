// Which VM ports to bind and release, as a pure function of the policy's
// ports, the sockets bound now and what the host says of each interface:
// the part of the host reconcile that decides, so that it is tested as a
// table (afxdp_dataplane.cpp only gathers the facts and carries the plan
// out with sockets).
//
// A port whose interface is missing is `interface_missing`; one bound to the
// uplink, the management interface (the one the kernel routes to the
// controller), the external interface of the gateways run here, or a
// loopback interface is `interface_reserved`, never bound:
// a VM port's XDP program there would cut the host off.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "shared/policy/host_policy.h"
#include "shared/proto/southbound.h"

namespace vnet::agent::xsk {

struct InterfaceFacts {
  int ifindex = 0;
  bool loopback = false;
};

struct HostInterfaces {
  // What the host has, by interface name (absent: no such interface).
  std::map<std::string, InterfaceFacts> by_name;
  int uplink_ifindex = 0;
  int management_ifindex = 0;  // 0: unknown
  int external_ifindex = 0;    // a gateway host's external interface; 0: none
};

struct PortPlan {
  std::vector<std::string> release;               // sockets to close first
  std::vector<std::pair<std::string, int>> bind;  // interface, ifindex
  std::vector<proto::Problem> problems;           // per NIC
};

// `bound`: interface -> ifindex of the sockets open now.
PortPlan plan_ports(const std::vector<policy::Port>& ports, const std::map<std::string, int>& bound,
                    const HostInterfaces& host);

}  // namespace vnet::agent::xsk

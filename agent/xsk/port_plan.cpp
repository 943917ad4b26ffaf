#include "agent/xsk/port_plan.h"

#include <fmt/format.h>

#include <set>

namespace vnet::agent::xsk {

PortPlan plan_ports(const std::vector<policy::Port>& ports, const std::map<std::string, int>& bound,
                    const HostInterfaces& host) {
  PortPlan plan;
  std::set<std::string> wanted;
  for (const policy::Port& port : ports) {
    const std::string nic = port.nic_id.to_string();
    const auto it = host.by_name.find(port.interface);
    if (it == host.by_name.end()) {
      plan.problems.push_back(
          {"interface_missing", "interface " + port.interface + " is not on this host", nic, ""});
      continue;
    }
    const InterfaceFacts& info = it->second;
    const char* role = info.ifindex == host.uplink_ifindex ? "uplink"
                       : host.management_ifindex != 0 && info.ifindex == host.management_ifindex
                           ? "management interface"
                       : host.external_ifindex != 0 && info.ifindex == host.external_ifindex
                           ? "external interface (its gateways')"
                       : info.loopback ? "loopback interface"
                                       : nullptr;
    if (role != nullptr) {
      plan.problems.push_back(
          {"interface_reserved",
           fmt::format("interface {} is the host's {}: a VM port there would cut the host off; "
                       "place the NIC on the VM's own interface",
                       port.interface, role),
           nic, ""});
      continue;
    }
    wanted.insert(port.interface);
    const auto b = bound.find(port.interface);
    if (b != bound.end() && b->second == info.ifindex) continue;  // bound already
    // Deleted and created again between two looks: a new interface.
    if (b != bound.end()) plan.release.push_back(port.interface);
    plan.bind.emplace_back(port.interface, info.ifindex);
  }
  for (const auto& [name, ifindex] : bound) {
    if (!wanted.contains(name)) plan.release.push_back(name);
  }
  return plan;
}

}  // namespace vnet::agent::xsk

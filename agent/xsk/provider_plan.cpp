#include "agent/xsk/provider_plan.h"

#include <algorithm>

namespace vnet::agent::xsk {

ProviderPlan plan_provider(const policy::Provider& wanted, const ProviderState& installed) {
  ProviderPlan plan;
  if (wanted.pa != installed.configured_pa) {
    plan.remove_pa = installed.added_pa;
    if (!wanted.pa.is_unspecified()) plan.add_pa = std::pair(wanted.pa, wanted.prefix_len);
    plan.program_pa = wanted.pa;
  }
  auto has = [](const std::vector<policy::ProviderRoute>& list, const policy::ProviderRoute& r) {
    return std::find(list.begin(), list.end(), r) != list.end();
  };
  for (const policy::ProviderRoute& route : wanted.routes) {
    if (route.prefix.is_v4() && !has(installed.added_routes, route))
      plan.add_routes.push_back(route);
    // The underlay gateways carry every remote PA: have their MACs before
    // the first record needs them (a NIC moving here would wait otherwise).
    plan.resolve.push_back(route.next_hop);
  }
  for (const policy::ProviderRoute& route : installed.added_routes) {
    if (!has(wanted.routes, route)) plan.remove_routes.push_back(route);
  }
  return plan;
}

}  // namespace vnet::agent::xsk

// What the host reconcile does about the provider address and the underlay
// routes, as a pure function of the policy's provider and what this agent
// added to the host before (it removes only what it added): the rest of
// the host reconcile's decisions beside port_plan.h, tested as a table.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "shared/policy/host_policy.h"

namespace vnet::agent::xsk {

struct ProviderState {
  net::Ipv4Address configured_pa;                                // what the uplink program was told
  std::optional<std::pair<net::Ipv4Address, uint8_t>> added_pa;  // added by this agent
  std::vector<policy::ProviderRoute> added_routes;               // added by this agent
};

struct ProviderPlan {
  std::optional<std::pair<net::Ipv4Address, uint8_t>> remove_pa;  // then forget it
  std::optional<std::pair<net::Ipv4Address, uint8_t>> add_pa;     // remember it if added
  std::optional<net::Ipv4Address> program_pa;                     // tell the XDP program
  std::vector<policy::ProviderRoute> add_routes;                  // remember those added
  std::vector<policy::ProviderRoute> remove_routes;               // then forget them
  std::vector<net::Ipv4Address> resolve;  // next hops whose MACs to have ready
};

ProviderPlan plan_provider(const policy::Provider& wanted, const ProviderState& installed);

}  // namespace vnet::agent::xsk

// The host reconcile's decisions about the PA and the underlay routes, as
// a table (provider_plan.h): the agent adds what the policy asks and
// removes only what it added itself.
#include "agent/xsk/provider_plan.h"

#include <gtest/gtest.h>

#include "shared/testing/fixtures.h"

namespace vnet::agent::xsk {
namespace {

using testing::ipv4;
using testing::prefix;

policy::ProviderRoute route(const char* p, const char* via) { return {prefix(p), ipv4(via)}; }

TEST(ProviderPlan, FirstPolicyAddsThePaAndTheRoutes) {
  const policy::Provider wanted{.pa = ipv4("192.168.1.10"),
                                .prefix_len = 24,
                                .routes = {route("0.0.0.0/0", "192.168.1.1")},
                                .flow_entropy = false};
  const ProviderPlan plan = plan_provider(wanted, {});
  EXPECT_FALSE(plan.remove_pa.has_value());
  EXPECT_EQ(plan.add_pa, std::pair(ipv4("192.168.1.10"), uint8_t{24}));
  EXPECT_EQ(plan.program_pa, ipv4("192.168.1.10"));
  EXPECT_EQ(plan.add_routes, wanted.routes);
  EXPECT_TRUE(plan.remove_routes.empty());
  EXPECT_EQ(plan.resolve, std::vector{ipv4("192.168.1.1")});
}

TEST(ProviderPlan, NothingChangedNothingToDoButKeepingTheGatewayResolved) {
  const policy::Provider wanted{.pa = ipv4("192.168.1.10"),
                                .prefix_len = 24,
                                .routes = {route("0.0.0.0/0", "192.168.1.1")},
                                .flow_entropy = false};
  const ProviderState installed{.configured_pa = ipv4("192.168.1.10"),
                                .added_pa = std::pair(ipv4("192.168.1.10"), uint8_t{24}),
                                .added_routes = wanted.routes};
  const ProviderPlan plan = plan_provider(wanted, installed);
  EXPECT_FALSE(plan.remove_pa || plan.add_pa || plan.program_pa);
  EXPECT_TRUE(plan.add_routes.empty());
  EXPECT_TRUE(plan.remove_routes.empty());
  EXPECT_EQ(plan.resolve.size(), 1u);
}

TEST(ProviderPlan, ANewPaReplacesOnlyTheOneThisAgentAdded) {
  const policy::Provider wanted{
      .pa = ipv4("192.168.2.20"), .prefix_len = 24, .routes = {}, .flow_entropy = false};
  // The old PA was there before the agent (it did not add it): not removed.
  ProviderPlan plan = plan_provider(wanted, {.configured_pa = ipv4("192.168.1.10"),
                                             .added_pa = std::nullopt,
                                             .added_routes = {}});
  EXPECT_FALSE(plan.remove_pa.has_value());
  EXPECT_EQ(plan.add_pa, std::pair(ipv4("192.168.2.20"), uint8_t{24}));
  plan = plan_provider(wanted, {.configured_pa = ipv4("192.168.1.10"),
                                .added_pa = std::pair(ipv4("192.168.1.10"), uint8_t{24}),
                                .added_routes = {}});
  EXPECT_EQ(plan.remove_pa, std::pair(ipv4("192.168.1.10"), uint8_t{24}));
  // A policy without PA: the added one goes, nothing is added.
  plan = plan_provider(policy::Provider{},
                       {.configured_pa = ipv4("192.168.2.20"),
                        .added_pa = std::pair(ipv4("192.168.2.20"), uint8_t{24}),
                        .added_routes = {}});
  EXPECT_TRUE(plan.remove_pa.has_value());
  EXPECT_FALSE(plan.add_pa.has_value());
  EXPECT_EQ(plan.program_pa, net::Ipv4Address());
}

TEST(ProviderPlan, RoutesThatLeftThePolicyAreRemovedIfTheAgentAddedThem) {
  const policy::Provider wanted{.pa = ipv4("192.168.1.10"),
                                .prefix_len = 24,
                                .routes = {route("10.0.0.0/8", "192.168.1.2")},
                                .flow_entropy = false};
  const ProviderPlan plan =
      plan_provider(wanted, {.configured_pa = ipv4("192.168.1.10"),
                             .added_pa = std::nullopt,
                             .added_routes = {route("0.0.0.0/0", "192.168.1.1")}});
  EXPECT_EQ(plan.add_routes, wanted.routes);
  EXPECT_EQ(plan.remove_routes, std::vector{route("0.0.0.0/0", "192.168.1.1")});
}

}  // namespace
}  // namespace vnet::agent::xsk

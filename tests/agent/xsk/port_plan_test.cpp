// The host reconcile's port decisions as a table (port_plan.h): which
// sockets to bind and release, and what to report, for each state of the
// host's interfaces.
#include "agent/xsk/port_plan.h"

#include <gtest/gtest.h>

#include "shared/testing/fixtures.h"

namespace vnet::agent::xsk {
namespace {

policy::Port port(const std::string& interface, uint64_t nic) {
  policy::Port p;
  p.nic_id = testing::uuid(nic);
  p.interface = interface;
  return p;
}

struct Row {
  std::string description;
  std::vector<policy::Port> ports;
  std::map<std::string, int> bound;
  HostInterfaces host;
  std::vector<std::string> release;
  std::vector<std::pair<std::string, int>> bind;
  std::vector<std::string> codes;  // per problem, in order
};

TEST(PortPlan, Table) {
  const HostInterfaces base{.by_name = {{"uplink", {2, false}},
                                        {"mgmt0", {3, false}},
                                        {"lo", {1, true}},
                                        {"b5", {10, false}},
                                        {"b7", {11, false}}},
                            .uplink_ifindex = 2,
                            .management_ifindex = 3,
                            .external_ifindex = 0};
  const std::vector<Row> rows = {
      {"a new port whose interface is there is bound",
       {port("b5", 1)},
       {},
       base,
       {},
       {{"b5", 10}},
       {}},
      {"a bound port stays bound", {port("b5", 1)}, {{"b5", 10}}, base, {}, {}, {}},
      {"an interface created again is released and bound anew",
       {port("b5", 1)},
       {{"b5", 9}},
       base,
       {"b5"},
       {{"b5", 10}},
       {}},
      {"a port that left the policy is released", {}, {{"b5", 10}}, base, {"b5"}, {}, {}},
      {"a missing interface is reported and its socket released",
       {port("b9", 1)},
       {{"b9", 12}},
       base,
       {"b9"},
       {},
       {"interface_missing"}},
      {"the uplink is never a VM port",
       {port("uplink", 1)},
       {},
       base,
       {},
       {},
       {"interface_reserved"}},
      {"nor the management interface",
       {port("mgmt0", 1)},
       {},
       base,
       {},
       {},
       {"interface_reserved"}},
      {"nor loopback", {port("lo", 1)}, {}, base, {}, {}, {"interface_reserved"}},
      {"nor the external interface of the gateways run here",
       {port("ext0", 1)},
       {},
       HostInterfaces{.by_name = {{"ext0", {20, false}}},
                      .uplink_ifindex = 2,
                      .management_ifindex = 3,
                      .external_ifindex = 20},
       {},
       {},
       {"interface_reserved"}},
      {"an unknown management interface reserves nothing more",
       {port("mgmt0", 1)},
       {},
       HostInterfaces{.by_name = base.by_name,
                      .uplink_ifindex = 2,
                      .management_ifindex = 0,
                      .external_ifindex = 0},
       {},
       {{"mgmt0", 3}},
       {}},
      {"the others are served beside a refused one",
       {port("uplink", 1), port("b7", 2)},
       {},
       base,
       {},
       {{"b7", 11}},
       {"interface_reserved"}},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.description);
    const PortPlan plan = plan_ports(row.ports, row.bound, row.host);
    EXPECT_EQ(plan.release, row.release);
    EXPECT_EQ(plan.bind, row.bind);
    std::vector<std::string> codes;
    for (const auto& p : plan.problems) codes.push_back(p.code);
    EXPECT_EQ(codes, row.codes);
    for (const auto& p : plan.problems) {
      EXPECT_FALSE(p.nic_id.empty());
      EXPECT_FALSE(p.message.empty());
    }
  }
}

TEST(PortPlan, AReservedInterfaceSaysWhichRoleItHas) {
  const HostInterfaces host{.by_name = {{"eth0", {2, false}}},
                            .uplink_ifindex = 2,
                            .management_ifindex = 0,
                            .external_ifindex = 0};
  const PortPlan plan = plan_ports({port("eth0", 7)}, {}, host);
  ASSERT_EQ(plan.problems.size(), 1u);
  EXPECT_NE(plan.problems[0].message.find("eth0 is the host's uplink"), std::string::npos);
  EXPECT_EQ(plan.problems[0].nic_id, testing::uuid(7).to_string());
}

}  // namespace
}  // namespace vnet::agent::xsk

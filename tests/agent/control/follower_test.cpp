// The agent's side of the southbound protocol as a table: held policy and a
// message in, what to install, send and when to ask again out.
#include "agent/control/follower.h"

#include <gtest/gtest.h>

#include "shared/policy/json.h"
#include "shared/testing/fixtures.h"

namespace vnet::agent {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

class FollowerTest : public ::testing::Test {
 protected:
  policy::HostPolicy good = testing::seed_host1_policy();
  Follower follower{good.host_id.to_string(), milliseconds(1000), milliseconds(60000)};

  json snapshot(const policy::HostPolicy& p) { return proto::snapshot(p); }
  policy::HostPolicy bad() {
    policy::HostPolicy p = good;
    p.generation = 9;
    p.gateways.push_back({.gateway_id = testing::uuid(0x77),
                          .rdid = p.ports[0].rdid,
                          .kind = policy::GatewayKind::kForwarding,
                          .external_ip = {}});  // 0.0.0.0: refused by validate()
    return p;
  }
};

TEST_F(FollowerTest, AValidSnapshotIsInstalledAndNothingElseHappens) {
  good.generation = 3;
  const FollowerStep step = follower.on_message(snapshot(good), nullptr, {}, 0.5);
  ASSERT_TRUE(step.install.has_value());
  EXPECT_EQ(step.install->generation, 3u);
  EXPECT_TRUE(step.send.empty());
  EXPECT_FALSE(step.resync_after.has_value());
}

TEST_F(FollowerTest, ARefusedPolicyIsReportedAndAskedForAgainWithCappedExponentialBackoff) {
  good.generation = 3;
  const std::vector<proto::Problem> held_problems = {{"interface_missing", "gone", "nic-1", ""}};
  std::vector<int64_t> delays;
  for (int i = 0; i < 9; ++i) {
    const FollowerStep step = follower.on_message(snapshot(bad()), &good, held_problems, 1.0);
    EXPECT_FALSE(step.install.has_value());
    ASSERT_EQ(step.send.size(), 1u);
    // An ack of the generation held, with the validator's message.
    const json& ack = step.send[0];
    EXPECT_EQ(ack.at("type"), "ack");
    EXPECT_EQ(ack.at("generation"), 3);
    const auto problems = proto::problems_of(ack);
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_EQ(problems[0].code, "interface_missing");
    EXPECT_EQ(problems[1].code, "policy_apply_failed");
    EXPECT_NE(problems[1].message.find("/gateways/0/external_ip"), std::string::npos)
        << problems[1].message;
    ASSERT_TRUE(step.resync_after.has_value());
    delays.push_back(step.resync_after->count());
  }
  EXPECT_EQ(delays,
            (std::vector<int64_t>{1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000}));
  // Jitter picks within [backoff/2, backoff]; a good policy starts over.
  EXPECT_EQ(follower.on_message(snapshot(bad()), &good, {}, 0.0).resync_after->count(), 30000);
  EXPECT_TRUE(follower.on_message(snapshot(good), &good, {}, 0.0).install.has_value());
  EXPECT_EQ(follower.refused_in_a_row(), 0u);
  EXPECT_EQ(follower.on_message(snapshot(bad()), &good, {}, 0.0).resync_after->count(), 500);
}

TEST_F(FollowerTest, MessagesThatAreNotPoliciesAreAnsweredOrIgnored) {
  auto step = follower.on_message(proto::ping(), nullptr, {}, 0);
  ASSERT_EQ(step.send.size(), 1u);
  EXPECT_EQ(step.send[0].at("type"), "pong");
  step = follower.on_message(json{{"type", "surprise"}}, nullptr, {}, 0);
  EXPECT_EQ(step.ignored, "surprise");
  EXPECT_TRUE(step.send.empty());
  step = follower.on_message(json(5), nullptr, {}, 0);
  EXPECT_FALSE(step.install.has_value());
  EXPECT_FALSE(step.resync_after.has_value());
  // A delta with nothing to apply it to, another host's snapshot: refused.
  step = follower.on_message(json{{"type", "delta"}, {"from", 1}, {"to", 2}}, nullptr, {}, 0);
  EXPECT_TRUE(step.resync_after.has_value());
  policy::HostPolicy other = good;
  other.host_id = testing::uuid(0x999);
  step = follower.on_message(snapshot(other), nullptr, {}, 0);
  EXPECT_NE(step.rejected.find("/policy/host_id"), std::string::npos) << step.rejected;
}

}  // namespace
}  // namespace vnet::agent

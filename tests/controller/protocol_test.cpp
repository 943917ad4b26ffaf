// The controller's side of the southbound protocol as a table (protocol.h):
// what a well-behaved agent does, and what a hostile one may not.
#include "controller/southbound/protocol.h"

#include <gtest/gtest.h>

#include "shared/proto/southbound.h"

namespace vnet::southbound {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kHost = "00000000-0000-4000-8000-000000000101";

struct Row {
  std::string description;
  bool registered;  // the state before
  json message;
  std::string close;  // the close code, "" when the session goes on
  std::string type;   // the metrics label
};

TEST(SouthboundProtocol, MessagesAndTheirAnswers) {
  const std::vector<Row> rows = {
      {"hello first", false, proto::hello(kHost, 0), "", "hello"},
      {"hello with the uplink", false, proto::hello(kHost, 3, "eth0"), "", "hello"},
      {"an ack before hello", false, proto::ack(1, {}), "wrong_order", "ack"},
      {"hello for another host", false, proto::hello("00000000-0000-4000-8000-000000000102", 0),
       "wrong_host", "hello"},
      {"hello whose host_id is a number", false,
       json{{"type", "hello"}, {"host_id", 5}, {"generation", 0}}, "wrong_host", "hello"},
      {"hello whose generation is text", false,
       json{{"type", "hello"}, {"host_id", kHost}, {"generation", "7"}}, "wrong_host", "hello"},
      {"hello whose uplink is no interface name", false,
       json{{"type", "hello"},
            {"host_id", kHost},
            {"generation", uint64_t{0}},
            {"uplink", std::string(40, 'x')}},
       "wrong_host", "hello"},
      {"hello with the uplink's MTU", false, proto::hello(kHost, 3, "eth0", 9000), "", "hello"},
      {"hello whose uplink_mtu is below IPv4's minimum", false,
       json{{"type", "hello"},
            {"host_id", kHost},
            {"generation", uint64_t{0}},
            {"uplink_mtu", uint64_t{67}}},
       "wrong_host", "hello"},
      {"hello whose uplink_mtu is text", false,
       json{{"type", "hello"},
            {"host_id", kHost},
            {"generation", uint64_t{0}},
            {"uplink_mtu", "1500"}},
       "wrong_host", "hello"},
      {"hello whose uplink_mtu is over 65535", false,
       json{{"type", "hello"},
            {"host_id", kHost},
            {"generation", uint64_t{0}},
            {"uplink_mtu", uint64_t{70000}}},
       "wrong_host", "hello"},
      {"hello with the external interface's MTU", false, proto::hello(kHost, 3, "eth0", 9000, 1500),
       "", "hello"},
      {"hello whose external_mtu is below IPv4's minimum", false,
       json{{"type", "hello"},
            {"host_id", kHost},
            {"generation", uint64_t{0}},
            {"external_mtu", uint64_t{0}}},
       "wrong_host", "hello"},
      {"hello whose external_mtu is text", false,
       json{{"type", "hello"},
            {"host_id", kHost},
            {"generation", uint64_t{0}},
            {"external_mtu", "1500"}},
       "wrong_host", "hello"},
      {"not an object", true, json::array({1, 2}), "bad_frame", "other"},
      {"type is a number", true, json{{"type", 3}}, "bad_frame", "other"},
      {"null (not JSON, or too deep)", true, json(), "bad_frame", "other"},
      {"an unknown type", true, json{{"type", "reboot"}}, "unknown_type", "other"},
      {"an ack of a generation not sent", true, proto::ack(99, {}), "bad_ack", "ack"},
      {"an ack whose generation is text", true, json{{"type", "ack"}, {"generation", "2"}},
       "bad_ack", "ack"},
      {"an ack whose nic_id is a number", true,
       json{{"type", "ack"},
            {"generation", uint64_t{2}},
            {"problems", {{{"code", "x"}, {"nic_id", 5}}}}},
       "bad_frame", "ack"},
      {"an ack whose problems are an object", true,
       json{{"type", "ack"}, {"generation", uint64_t{2}}, {"problems", {{"code", "x"}}}},
       "bad_frame", "ack"},
      {"a good ack", true, proto::ack(2, {{"interface_missing", "gone", "nic", ""}}), "", "ack"},
      {"stats", true, proto::stats(json::object()), "", "stats"},
      {"renew without a CSR", true, json{{"type", "renew"}}, "bad_frame", "renew"},
      {"renew with a CSR over 16 KiB", true, proto::renew(std::string(20000, 'x')), "bad_frame",
       "renew"},
      {"renew before hello", false, proto::renew("csr"), "wrong_order", "renew"},
      {"pong", true, proto::pong(), "", "pong"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.description);
    SessionState s{.host = kHost, .registered = row.registered, .sent = 2, .hold_until = {}};
    const SessionStep step = on_agent_message(s, row.message, Clock::now(), 0);
    EXPECT_EQ(step.close ? step.close->first : "", row.close);
    EXPECT_EQ(step.type, row.type);
    if (row.close.empty() && !row.registered) {
      EXPECT_TRUE(s.registered);
    }
  }
}

TEST(SouthboundProtocol, HelloRegistersAndSaysWhatTheAgentHolds) {
  SessionState s{.host = kHost, .registered = false, .sent = 0, .hold_until = {}};
  const SessionStep step =
      on_agent_message(s, proto::hello(kHost, 7, "uplink", 1542), Clock::now(), 0);
  EXPECT_TRUE(step.registered);
  EXPECT_EQ(step.uplink, "uplink");
  EXPECT_EQ(step.uplink_mtu, 1542);
  // A later hello of the session says the uplink's MTU changed.
  const SessionStep again = on_agent_message(s, proto::hello(kHost, 7, "uplink", 9000),
                                             Clock::now() + std::chrono::seconds(5), 0);
  EXPECT_FALSE(again.registered);
  EXPECT_EQ(again.uplink_mtu, 9000);
  // The same MTU again is no change: nothing to record.
  const SessionStep same = on_agent_message(s, proto::hello(kHost, 7, "uplink", 9000),
                                            Clock::now() + std::chrono::seconds(10), 0);
  EXPECT_EQ(same.uplink_mtu, 0);
  EXPECT_EQ(same.external_mtu, 0);
  // A gateway host's external interface: said once, then only changes.
  const SessionStep gateway = on_agent_message(s, proto::hello(kHost, 7, "uplink", 9000, 1500),
                                               Clock::now() + std::chrono::seconds(15), 0);
  EXPECT_EQ(gateway.uplink_mtu, 0);
  EXPECT_EQ(gateway.external_mtu, 1500);
  const SessionStep unchanged = on_agent_message(s, proto::hello(kHost, 7, "uplink", 9000, 1500),
                                                 Clock::now() + std::chrono::seconds(20), 0);
  EXPECT_EQ(unchanged.external_mtu, 0);
  EXPECT_EQ(s.sent, 7u);
  EXPECT_TRUE(step.wake);
}

TEST(SouthboundProtocol, AckProblemsReachTheRealizationWithTheirNics) {
  SessionState s{.host = kHost, .registered = true, .sent = 4, .hold_until = {}};
  const SessionStep step = on_agent_message(
      s,
      proto::ack(
          4, {{"interface_missing", "no b5", "nic-1", ""}, {"policy_apply_failed", "x", "", ""}}),
      Clock::now(), 0);
  ASSERT_TRUE(step.ack.has_value());
  EXPECT_EQ(step.ack->first, 4u);
  ASSERT_EQ(step.ack->second.size(), 2u);
  EXPECT_EQ(step.ack->second[0].nic_id, "nic-1");
  EXPECT_EQ(step.ack->second[1].code, "policy_apply_failed");
}

// 28,500 hellos in 5 s once forced as many snapshots: now one a second.
TEST(SouthboundProtocol, AHelloFloodIsAnsweredAtMostOnceASecond) {
  SessionState s{.host = kHost, .registered = true, .sent = 5, .hold_until = {}};
  const Clock::time_point t0 = Clock::now();
  size_t throttled = 0;
  for (int i = 0; i < 1000; ++i) {
    const SessionStep step =
        on_agent_message(s, proto::hello(kHost, 0), t0 + std::chrono::milliseconds(i), 0);
    EXPECT_FALSE(step.close.has_value());
    if (step.throttled == "hello") ++throttled;
  }
  EXPECT_EQ(throttled, 999u);
  // Resends are held until then: the writer sends at most one per interval.
  EXPECT_GE(s.hold_until, t0 + 1000 * kResyncInterval);
  EXPECT_EQ(s.sent, 0u);  // what the agent holds, for when the hold ends
}

TEST(SouthboundProtocol, OneCertificateRenewalPerSession) {
  SessionState s{.host = kHost, .registered = true, .sent = 1, .hold_until = {}};
  SessionStep step = on_agent_message(s, proto::renew("CSR"), Clock::now(), 0);
  EXPECT_EQ(step.renew_csr, "CSR");
  EXPECT_FALSE(step.close.has_value());
  step = on_agent_message(s, proto::renew("CSR2"), Clock::now(), 0);
  EXPECT_EQ(step.renew_csr, "");
  EXPECT_EQ(step.throttled, "renew");
}

TEST(SouthboundProtocol, PongsBeyondTheBoundAreDroppedAndCounted) {
  SessionState s{.host = kHost, .registered = true, .sent = 1, .hold_until = {}};
  size_t queued = 0;
  size_t dropped = 0;
  for (int i = 0; i < 10000; ++i) {  // an agent that never reads its socket
    const SessionStep step = on_agent_message(s, proto::ping(), Clock::now(), queued);
    if (step.pong) ++queued;
    if (step.throttled == "ping") ++dropped;
  }
  EXPECT_EQ(queued, kMaxQueuedPongs);
  EXPECT_EQ(dropped, 10000 - kMaxQueuedPongs);
}

}  // namespace
}  // namespace vnet::southbound

// The southbound channel end to end, in one process: a real controller (REST
// API, policy engine, TLS WebSocket server) on free ports, real agents
// (agent/control) on threads, and a raw TLS/WebSocket client for what a
// well-behaved agent never sends.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <random>
#include <thread>

#include "agent/control/agent.h"
#include "controller/model/service.h"
#include "controller/policy/compiler.h"
#include "controller/policy/engine.h"
#include "controller/policy/model.h"
#include "controller/southbound/enrollment.h"
#include "controller/store/sqlite.h"
#include "controller/store/store.h"
#include "shared/policy/json.h"
#include "shared/proto/southbound.h"
#include "shared/tls/x509.h"
#include "shared/util/file.h"
#include "shared/util/time.h"
#include "tests/controller/api_fixture.h"

namespace vnet::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using nlohmann::json;
using namespace std::chrono_literals;

// Polls `f` until it holds or `limit` passes.
template <class F>
bool eventually(F f, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

// An agent on a thread, stopped and joined at the end.
class AgentThread {
 public:
  AgentThread(agent::AgentOptions o) {
    o.backoff_initial = 50ms;
    o.backoff_max = 200ms;
    agent_ = std::make_unique<agent::Agent>(std::move(o), std::make_unique<agent::NoDataplane>());
    thread_ = std::thread([this] { exit_code_ = agent_->run(); });
  }
  ~AgentThread() { stop(); }
  void stop() {
    if (!thread_.joinable()) return;
    agent_->stop();
    thread_.join();
  }
  // Waits for run() to return by itself (a refused enrollment).
  std::optional<int> exit_code(std::chrono::milliseconds limit = 10s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!finished() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(10ms);
    if (!finished()) return std::nullopt;
    thread_.join();
    return exit_code_.load();
  }

 private:
  bool finished() const { return exit_code_.load() >= 0; }
  std::unique_ptr<agent::Agent> agent_;
  std::thread thread_;
  std::atomic<int> exit_code_{-1};
};

class SouthboundTest : public ::testing::Test {
 protected:
  TempDir dir;
  std::unique_ptr<Controller> ctl = std::make_unique<Controller>(dir.path() / "controller");
  std::string site;

  void SetUp() override {
    const json ln = ctl->create("logical-networks", {{"name", "dc"}});
    site = ctl->create("sites", {{"logical_network_id", ln["id"]},
                                 {"name", "s1"},
                                 {"subnets", {{{"prefix", "192.168.1.0/24"}}}}})["id"];
  }

  // A new host, known to the engine (the southbound server refuses a host
  // the engine has not compiled yet: 403 "does not exist", once in CI).
  std::string host(const std::string& name, const std::string& pa) {
    const std::string id =
        ctl->create("hosts", {{"name", name}, {"site_id", site}, {"pa", pa}})["id"];
    ctl->app().engine().flush();
    return id;
  }
  json enrollment(const std::string& host_id) {
    auto r = ctl->call("POST", "/api/v1/hosts/" + host_id + "/enrollment");
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json();
  }
  json host_state(const std::string& host_id) {
    return ctl->call("GET", "/api/v1/hosts/" + host_id).json();
  }
  bool realized(const std::string& host_id) {
    const json h = host_state(host_id);
    return h["connected"] == true && h["realized_generation"] == h["desired_generation"] &&
           h["desired_generation"].get<uint64_t>() > 0;
  }
  agent::AgentOptions agent_options(const std::string& host_id, const json& e,
                                    const std::string& state) {
    agent::AgentOptions o;
    o.controller = fmt::format("127.0.0.1:{}", ctl->southbound_port());
    o.host_id = host_id;
    o.enrollment_token = e.value("token", "");
    o.ca_sha256 = e.value("ca_sha256", "");
    o.state_dir = dir.path() / state;
    return o;
  }
  std::string metrics() { return ctl->call("GET", "/metrics").body; }
};

// --- a raw client, for what agents never do ---------------------------------

struct RawClient {
  asio::io_context io;
  ssl::context ctx{ssl::context::tls_client};
  std::unique_ptr<websocket::stream<beast::ssl_stream<tcp::socket>>> ws;

  // Optionally with a client certificate.
  explicit RawClient(const std::string& key = "", const std::string& cert = "") {
    ctx.set_verify_mode(ssl::verify_none);
    if (!cert.empty()) {
      ctx.use_certificate_chain(asio::buffer(cert));
      ctx.use_private_key(asio::buffer(key), ssl::context::pem);
    }
  }
  beast::ssl_stream<tcp::socket> connect(uint16_t port) {
    beast::ssl_stream<tcp::socket> s(io, ctx);
    s.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    s.handshake(ssl::stream_base::client);
    return s;
  }
  // POST /enroll; returns (status, body).
  std::pair<int, json> enroll(uint16_t port, const json& body) {
    auto s = connect(port);
    http::request<http::string_body> req{http::verb::post, "/enroll", 11};
    req.set(http::field::host, "vnet-controller");
    req.body() = body.dump();
    req.prepare_payload();
    http::write(s, req);
    beast::flat_buffer b;
    http::response<http::string_body> res;
    http::read(s, b, res);
    return {res.result_int(), json::parse(res.body(), nullptr, false)};
  }
  // Opens the agent WebSocket; returns the HTTP status of the upgrade (101
  // when it worked), or 0 when TLS itself failed.
  int open(uint16_t port) {
    try {
      ws = std::make_unique<websocket::stream<beast::ssl_stream<tcp::socket>>>(connect(port));
      websocket::response_type res;
      beast::error_code ec;
      ws->handshake(res, "vnet-controller", "/agent", ec);
      // No HTTP answer at all (TLS failed after the client's handshake): 0.
      return ec && res.find(http::field::content_type) == res.end() ? 0 : res.result_int();
    } catch (const std::exception&) {
      return 0;
    }
  }
  void send(const std::string& text) { ws->write(asio::buffer(text)); }
  // The next message, or "" when the controller closed the session.
  std::string receive() {
    beast::flat_buffer b;
    beast::error_code ec;
    ws->read(b, ec);
    return ec ? "" : beast::buffers_to_string(b.data());
  }
};

// A key and certificate for `host_id` through the real enrollment.
std::pair<std::string, std::string> enrolled_identity(uint16_t port, const std::string& host_id,
                                                      const std::string& token) {
  RawClient c;
  const std::string key = tls::generate_key();
  auto [status, body] =
      c.enroll(port, {{"host_id", host_id}, {"token", token}, {"csr", tls::make_csr(key, "x")}});
  EXPECT_EQ(status, 200) << body.dump();
  return {key, body.value("certificate", "")};
}

// --- tests -----------------------------------------------------------------

TEST_F(SouthboundTest, AnAgentEnrollsConnectsAndRealizesItsPolicy) {
  const std::string h = host("h1", "192.168.1.10");
  const json e = enrollment(h);
  // The command is the exact agent command line for this host.
  const std::string command = e["command"];
  EXPECT_NE(command.find(fmt::format("--controller 127.0.0.1:{}", ctl->southbound_port())),
            std::string::npos)
      << command;
  EXPECT_NE(command.find("--host-id " + h), std::string::npos);
  // The token reaches the agent through a file, never its command line.
  EXPECT_NE(command.find("printf '%s\\n' " + e["token"].get<std::string>() +
                         " > /var/lib/vnet-agent/enrollment.token"),
            std::string::npos)
      << command;
  EXPECT_NE(command.find("vnet-agent --controller"), std::string::npos);
  EXPECT_EQ(
      command.substr(command.find("vnet-agent --controller")).find(e["token"].get<std::string>()),
      std::string::npos)
      << command;
  EXPECT_NE(command.find("--enrollment-token-file /var/lib/vnet-agent/enrollment.token"),
            std::string::npos);
  EXPECT_EQ(e["ca_sha256"], tls::certificate_sha256(read_file(dir.path() / "controller/ca.crt")));
  EXPECT_EQ(e["expires_at"].get<std::string>().size(), 20u);
  EXPECT_EQ(host_state(h)["connected"], false);

  AgentThread agent(agent_options(h, e, "a1"));
  ASSERT_TRUE(eventually([&] { return realized(h); })) << host_state(h).dump();
  const json state = host_state(h);
  EXPECT_EQ(state["configuration_state"]["status"], "success");
  EXPECT_TRUE(state["last_seen"].is_string());

  // The key stays private; the policy on disk is the controller's.
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "a1/agent.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(tls::common_name(read_file(dir.path() / "a1/agent.crt")), h);
  const auto on_disk = policy::from_json_text(read_file(dir.path() / "a1/policy.json"));
  ASSERT_TRUE(on_disk);
  EXPECT_EQ(json::parse(ctl->call("GET", "/api/v1/hosts/" + h + "/policy").body),
            policy::to_json(*on_disk));
}

// Issue 14 end to end: a tenant's change that would have stalled the host
// (its pool's gateway onto its own NIC's address) is refused, and another
// tenant's change on the same host is realized as usual.
TEST_F(SouthboundTest, ATenantsBadChangeIsRefusedAndTheHostRealizesTheNextTenants) {
  const std::string h = host("h1", "192.168.1.10");
  AgentThread agent(agent_options(h, enrollment(h), "a1"));
  ASSERT_TRUE(eventually([&] { return realized(h); }));
  const json ln = ctl->call("GET", "/api/v1/logical-networks").json()["items"][0];
  struct Tenant {
    json subnet, pool;
    std::string token;
  };
  auto tenant = [&](const std::string& name) {
    const json t = ctl->create("tenants", {{"name", name}, {"logical_network_ids", {ln["id"]}}});
    Tenant out;
    out.token = ctl->create("tokens", {{"name", name}, {"tenant_id", t["id"]}})["token"];
    const json net =
        ctl->create("vm-networks", {{"name", "n"}, {"logical_network_id", ln["id"]}}, out.token);
    out.subnet = ctl->create(
        "vm-subnets", {{"vm_network_id", net["id"]}, {"name", "s"}, {"prefix", "10.0.0.0/24"}},
        out.token);
    out.pool = ctl->create("ip-pools",
                           {{"vm_subnet_id", out.subnet["id"]},
                            {"ranges", {{{"start", "10.0.0.10"}, {"end", "10.0.0.20"}}}}},
                           out.token);
    return out;
  };
  const Tenant mallory = tenant("mallory");
  const Tenant alice = tenant("alice");
  const json nic = ctl->create("vm-nics", {{"vm_subnet_id", mallory.subnet["id"]},
                                           {"vm_name", "m"},
                                           {"host_id", h},
                                           {"interface", "vnet-m"}});
  ASSERT_TRUE(eventually([&] { return realized(h); }));
  const auto bad = ctl->call("PATCH", "/api/v1/ip-pools/" + mallory.pool["id"].get<std::string>(),
                             {{"gateway", nic["ip"]}}, mallory.token);
  EXPECT_EQ(bad.status, 409) << bad.body;
  const auto good = ctl->call("POST", "/api/v1/vm-nics?wait=realized&timeout=10",
                              {{"vm_subnet_id", alice.subnet["id"]},
                               {"vm_name", "a"},
                               {"host_id", h},
                               {"interface", "vnet-a"}});
  ASSERT_EQ(good.status, 201) << good.body;
  EXPECT_EQ(good.headers.at("vnet-realization"), "realized");
  EXPECT_EQ(good.json()["configuration_state"]["status"], "success") << good.body;
  const json state = host_state(h);
  EXPECT_EQ(state["configuration_state"]["status"], "success") << state.dump();
  EXPECT_EQ(state["realized_generation"], state["desired_generation"]);
}

// A clean shutdown in every state: a write waiting for an agent that never
// acks is answered "pending" at once, and the controller stops without
// waiting out the grace period.
TEST_F(SouthboundTest, ShutdownAnswersWaitingWritesAtOnce) {
  const std::string h = host("h1", "192.168.1.10");
  const uint16_t port = ctl->southbound_port();
  auto [key, cert] = enrolled_identity(port, h, enrollment(h)["token"]);
  RawClient silent(key, cert);  // registers, then never acks
  ASSERT_EQ(silent.open(port), 101);
  silent.send(proto::hello(h, 0).dump());
  ASSERT_TRUE(eventually([&] { return host_state(h)["connected"] == true; }));
  const json tenant = ctl->create("tenants", {{"name", "t"}});
  const json ln = ctl->call("GET", "/api/v1/logical-networks").json()["items"][0];
  const json net =
      ctl->create("vm-networks",
                  {{"tenant_id", tenant["id"]}, {"name", "n"}, {"logical_network_id", ln["id"]}});
  const json subnet = ctl->create(
      "vm-subnets", {{"vm_network_id", net["id"]}, {"name", "s"}, {"prefix", "10.0.0.0/24"}});
  HttpResult answer;
  std::thread writer([&] {
    answer = ctl->call("POST", "/api/v1/vm-nics?wait=realized&timeout=120",
                       {{"vm_subnet_id", subnet["id"]},
                        {"vm_name", "vm"},
                        {"ip", "10.0.0.5"},
                        {"host_id", h},
                        {"interface", "vnet-vm"}});
  });
  // The NIC is committed and the write is waiting for the silent agent.
  ASSERT_TRUE(
      eventually([&] { return ctl->call("GET", "/api/v1/vm-nics").json()["items"].size() == 1; }));
  std::this_thread::sleep_for(200ms);  // the write's answer is now deferred
  const auto started = std::chrono::steady_clock::now();
  ctl->stop();
  const auto took = std::chrono::steady_clock::now() - started;
  writer.join();
  EXPECT_LT(took, 2s);
  EXPECT_EQ(answer.status, 201) << answer.body;
  EXPECT_EQ(answer.headers["vnet-realization"], "pending");
}

// The engine's worker tells the southbound server about each compiled host:
// a controller destroyed while it compiles must end the worker before the
// server (a late compile once reached a destroyed server, caught by UBSan).
TEST_F(SouthboundTest, DestroyedWhileCompilingCallsNothingDestroyed) {
  const model::Principal admin{model::Role::kAdmin, "", ""};
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < 20; ++i) {
      ctl->service().create(admin, model::kind("hosts"),
                            {{"name", fmt::format("h{}-{}", round, i)},
                             {"site_id", site},
                             {"pa", fmt::format("192.168.1.{}", 20 * (round % 2) + i + 10)}});
    }
    ctl.reset();  // with up to 20 hosts still being compiled
    ctl = std::make_unique<Controller>(dir.path() / "controller");
    if (round % 2 == 1) {
      // Start the next round on an empty site again.
      const json hosts = ctl->call("GET", "/api/v1/hosts?limit=1000").json();
      for (const json& h : hosts["items"])
        ASSERT_EQ(ctl->call("DELETE", "/api/v1/hosts/" + h["id"].get<std::string>()).status, 204);
    }
  }
  EXPECT_EQ(ctl->call("GET", "/api/v1/hosts").json()["items"].size(), 0u);
}

TEST_F(SouthboundTest, ChangesArriveAsDeltasAndWaitRealizedReturnsOnceAcked) {
  const std::string h = host("h1", "192.168.1.10");
  AgentThread agent(agent_options(h, enrollment(h), "a1"));
  ASSERT_TRUE(eventually([&] { return realized(h); }));
  const uint64_t before = host_state(h)["realized_generation"];

  const json tenant = ctl->create("tenants", {{"name", "t"}});
  const json ln = ctl->call("GET", "/api/v1/logical-networks").json()["items"][0];
  const json net = ctl->create(
      "vm-networks",
      {{"tenant_id", tenant["id"]}, {"name", "blue"}, {"logical_network_id", ln["id"]}});
  const json subnet = ctl->create(
      "vm-subnets", {{"vm_network_id", net["id"]}, {"name", "s"}, {"prefix", "10.0.0.0/24"}});
  EXPECT_EQ(host_state(h)["desired_generation"], before);  // nothing on the host yet
  const auto r = ctl->call("POST", "/api/v1/vm-nics?wait=realized&timeout=10",
                           {{"vm_subnet_id", subnet["id"]},
                            {"vm_name", "vm1"},
                            {"ip", "10.0.0.5"},
                            {"host_id", h},
                            {"interface", "vnet-vm1"}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.headers.at("vnet-realization"), "realized");
  EXPECT_EQ(r.json()["configuration_state"]["status"], "success") << r.body;
  const json state = host_state(h);
  EXPECT_EQ(state["realized_generation"], before + 1);
  EXPECT_EQ(state["desired_generation"], before + 1);
  const auto on_disk = policy::from_json_text(read_file(dir.path() / "a1/policy.json"));
  ASSERT_TRUE(on_disk);
  ASSERT_EQ(on_disk->ports.size(), 1u);
  EXPECT_EQ(on_disk->ports[0].interface, "vnet-vm1");
  EXPECT_NE(metrics().find("vnet_southbound_messages_total{direction=\"out\",type=\"delta\"} 1"),
            std::string::npos)
      << metrics();

  // An idempotent PUT changes nothing and waits for nothing.
  const json nic = r.json();
  const auto again =
      ctl->call("PATCH", "/api/v1/vm-nics/" + nic["id"].get<std::string>() + "?wait=realized",
                {{"vm_name", "vm1"}}, "", {{"content-type", "application/merge-patch+json"}});
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.headers.at("vnet-realization"), "realized");
  EXPECT_EQ(host_state(h)["desired_generation"], before + 1);

  // A bad wait is refused before anything is written.
  EXPECT_EQ(
      ctl->call("DELETE", "/api/v1/vm-nics/" + nic["id"].get<std::string>() + "?wait=maybe").status,
      400);
}

// Realization that tells the truth (issue 16): "realized" only when every
// host the change concerns applied it; a host without its agent answers
// "pending" at once (waiting changes nothing) with host_not_connected on
// the NIC; a NIC its agent reports failing answers "failed" with the code.
TEST_F(SouthboundTest, WaitRealizedSaysPendingForAnAbsentAgentAndFailedForAFailingNic) {
  const std::string absent = host("h1", "192.168.1.10");
  const std::string h = host("h2", "192.168.1.20");
  const json tenant = ctl->create("tenants", {{"name", "t"}});
  const json ln = ctl->call("GET", "/api/v1/logical-networks").json()["items"][0];
  const json net =
      ctl->create("vm-networks",
                  {{"tenant_id", tenant["id"]}, {"name", "n"}, {"logical_network_id", ln["id"]}});
  const json subnet = ctl->create(
      "vm-subnets", {{"vm_network_id", net["id"]}, {"name", "s"}, {"prefix", "10.0.0.0/24"}});
  const auto started = std::chrono::steady_clock::now();
  auto r = ctl->call("POST", "/api/v1/vm-nics?wait=realized&timeout=20",
                     {{"vm_subnet_id", subnet["id"]},
                      {"vm_name", "vm0"},
                      {"ip", "10.0.0.4"},
                      {"host_id", absent},
                      {"interface", "vnet-vm0"}});
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s) << "waited for an absent agent";
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.headers["vnet-realization"], "pending");
  EXPECT_EQ(r.json()["configuration_state"]["detail"][0]["code"], "host_not_connected") << r.body;

  // (In another VM network: one with a NIC on the absent host concerns it
  // too, and would be "pending" for that reason.)
  const json net2 =
      ctl->create("vm-networks",
                  {{"tenant_id", tenant["id"]}, {"name", "n2"}, {"logical_network_id", ln["id"]}});
  const json subnet2 = ctl->create(
      "vm-subnets", {{"vm_network_id", net2["id"]}, {"name", "s2"}, {"prefix", "10.0.0.0/24"}});
  // An agent that acks every generation, reporting the new NIC's interface missing.
  const uint16_t port = ctl->southbound_port();
  auto [key, cert] = enrolled_identity(port, h, enrollment(h)["token"]);
  RawClient agent(key, cert);
  ASSERT_EQ(agent.open(port), 101);
  agent.send(proto::hello(h, 0).dump());
  ASSERT_TRUE(eventually([&] { return host_state(h)["connected"] == true; }));
  HttpResult answer;
  std::thread writer([&] {
    answer = ctl->call("POST", "/api/v1/vm-nics?wait=realized&timeout=20",
                       {{"vm_subnet_id", subnet2["id"]},
                        {"vm_name", "vm1"},
                        {"ip", "10.0.0.5"},
                        {"host_id", h},
                        {"interface", "vnet-vm1"}});
  });
  std::string nic_id;
  for (int i = 0; i < 20 && nic_id.empty(); ++i) {
    const json m = json::parse(agent.receive(), nullptr, false);
    if (!m.is_object()) break;
    const json& p = m.value("type", "") == "snapshot" ? m["policy"] : m;
    const uint64_t generation = p.value("generation", uint64_t{0});
    std::vector<proto::Problem> problems;
    const json ports = m.value("type", "") == "snapshot" ? p.value("ports", json::array())
                                                         : m["ports"].value("set", json::array());
    for (const auto& port_entry : ports) {
      nic_id = port_entry["nic_id"];
      problems.push_back(
          {"interface_missing", "interface vnet-vm1 is not on this host", nic_id, ""});
    }
    if (m.value("type", "") == "snapshot" || m.value("type", "") == "delta")
      agent.send(proto::ack(generation, problems).dump());
  }
  writer.join();
  ASSERT_FALSE(nic_id.empty());
  ASSERT_EQ(answer.status, 201) << answer.body;
  EXPECT_EQ(answer.headers["vnet-realization"], "failed");
  EXPECT_EQ(answer.json()["configuration_state"]["detail"][0]["code"], "interface_missing")
      << answer.body;
}

// Issue 18: the uplink MTU an agent's hello reports is the host's
// uplink_mtu, and the host's ports are compiled with uplink MTU - 42.
TEST_F(SouthboundTest, TheUplinkMtuAnAgentReportsGivesItsPortsThatMtuLessNvgre) {
  const std::string h = host("h1", "192.168.1.10");
  const json tenant = ctl->create("tenants", {{"name", "t1"}});
  const json ln = ctl->create("logical-networks", {{"name", "virt"}});
  const json net =
      ctl->create("vm-networks",
                  {{"tenant_id", tenant["id"]}, {"name", "n1"}, {"logical_network_id", ln["id"]}});
  const json subnet = ctl->create(
      "vm-subnets", {{"vm_network_id", net["id"]}, {"name", "s1"}, {"prefix", "10.0.0.0/24"}});
  ctl->create("vm-nics", {{"vm_subnet_id", subnet["id"]},
                          {"vm_name", "vm1"},
                          {"ip", "10.0.0.5"},
                          {"host_id", h},
                          {"interface", "vnet-vm1"}});
  EXPECT_FALSE(host_state(h).contains("uplink_mtu"));
  const uint16_t port = ctl->southbound_port();
  auto [key, cert] = enrolled_identity(port, h, enrollment(h)["token"]);
  RawClient agent(key, cert);
  ASSERT_EQ(agent.open(port), 101);
  agent.send(proto::hello(h, 0, "eth0", 1542).dump());
  ASSERT_TRUE(eventually([&] { return host_state(h).value("uplink_mtu", 0) == 1542; }))
      << host_state(h).dump();
  // The policy it is sent (a snapshot, then a delta once the MTU is in):
  // its port's MTU ends at 1500.
  int mtu = 0;
  for (int i = 0; i < 10 && mtu != 1500; ++i) {
    const json m = json::parse(agent.receive(), nullptr, false);
    if (!m.is_object()) break;
    const json ports = m.value("type", "") == "snapshot"
                           ? m["policy"].value("ports", json::array())
                           : m.value("ports", json::object()).value("set", json::array());
    for (const auto& p : ports) mtu = p.value("mtu", 0);
    const json& g = m.value("type", "") == "snapshot" ? m["policy"] : m;
    if (g.contains("generation")) agent.send(proto::ack(g["generation"], {}).dump());
  }
  EXPECT_EQ(mtu, 1500);
  // A tenant cannot set it: it is the agent's word.
  EXPECT_EQ(ctl->call("PATCH", "/api/v1/hosts/" + h, {{"uplink_mtu", 9000}}).status, 400);
  // A gateway host's agent reports its external interface's MTU too; the
  // uplink's stays as it was.
  EXPECT_FALSE(host_state(h).contains("external_mtu"));
  agent.send(proto::hello(h, 0, "eth0", 0, 1400).dump());
  ASSERT_TRUE(eventually([&] { return host_state(h).value("external_mtu", 0) == 1400; }))
      << host_state(h).dump();
  EXPECT_EQ(host_state(h).value("uplink_mtu", 0), 1542);
  EXPECT_EQ(ctl->call("PATCH", "/api/v1/hosts/" + h, {{"external_mtu", 9000}}).status, 400);
}

TEST_F(SouthboundTest, AWaitForADisconnectedHostDoesNotBlock) {
  const std::string h = host("h1", "192.168.1.10");
  const auto r =
      ctl->call("PATCH", "/api/v1/hosts/" + h + "?wait=realized&timeout=5", {{"name", "renamed"}},
                "", {{"content-type", "application/merge-patch+json"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.at("vnet-realization"), "realized");  // no connected host is affected
}

TEST_F(SouthboundTest, ATokenWorksOnceAndExpires) {
  const std::string h = host("h1", "192.168.1.10");
  const json e = enrollment(h);
  {
    AgentThread first(agent_options(h, e, "a1"));
    ASSERT_TRUE(eventually([&] { return realized(h); }));
  }
  // Reused: refused, and the agent says so and exits 1.
  AgentThread reuse(agent_options(h, e, "a2"));
  EXPECT_EQ(reuse.exit_code(), 1);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "a2/agent.crt"));

  // Expired.
  const json e2 = enrollment(h);
  {
    auto db = store::open_database(test_store_url(dir.path() / "controller"));
    db->exec("UPDATE enrollment_tokens SET expires_at = 1 WHERE used_at IS NULL");
  }
  RawClient c;
  auto [status, body] = c.enroll(
      ctl->southbound_port(),
      {{"host_id", h}, {"token", e2["token"]}, {"csr", tls::make_csr(tls::generate_key(), "x")}});
  EXPECT_EQ(status, 401);
  EXPECT_NE(body["detail"].get<std::string>().find("expired"), std::string::npos) << body;
  // A token of another host, and a malformed request.
  const std::string other = host("h2", "192.168.1.20");
  const json e3 = enrollment(other);
  std::tie(status, body) = c.enroll(
      ctl->southbound_port(),
      {{"host_id", h}, {"token", e3["token"]}, {"csr", tls::make_csr(tls::generate_key(), "x")}});
  EXPECT_EQ(status, 401);
  std::tie(status, body) = c.enroll(ctl->southbound_port(), {{"host_id", h}});
  EXPECT_EQ(status, 400);
  EXPECT_NE(metrics().find("vnet_southbound_enrollments_total{result=\"refused\"}"),
            std::string::npos);
}

// Data from before the guard can give a host an invalid policy. At start
// the engine holds it back: the host shows policy_invalid, its agent is
// still accepted (not refused as an unknown host), and gets its policy as
// soon as a repair makes it valid.
TEST(SouthboundStart, AHostWhosePolicyIsInvalidAtStartIsHeldBackNotRefused) {
  TempDir dir;
  std::string h;
  std::string nic;
  {
    store::Store store(test_store_url(dir.path()));
    model::Service service(store);  // no guard: as an older release wrote it
    const model::Principal admin{model::Role::kAdmin, "", ""};
    auto create = [&](const char* kind, const json& body) {
      return service.create(admin, model::kind(kind), body).object["id"].get<std::string>();
    };
    const std::string ln = create("logical-networks", {{"name", "dc"}});
    const std::string site = create(
        "sites",
        {{"logical_network_id", ln}, {"name", "s"}, {"subnets", {{{"prefix", "192.168.1.0/24"}}}}});
    h = create("hosts", {{"name", "h1"}, {"site_id", site}, {"pa", "192.168.1.10"}});
    const std::string tenant = create("tenants", {{"name", "t"}});
    const std::string net =
        create("vm-networks", {{"name", "n"}, {"tenant_id", tenant}, {"logical_network_id", ln}});
    const std::string sub =
        create("vm-subnets", {{"vm_network_id", net}, {"name", "s"}, {"prefix", "10.0.0.0/24"}});
    nic = create("vm-nics", {{"vm_subnet_id", sub},
                             {"vm_name", "gw"},
                             {"ip", "10.0.0.1"},  // the subnet's gateway: invalid port
                             {"host_id", h},
                             {"interface", "vnet-gw"}});
  }
  Controller ctl(dir.path());
  const json state = ctl.call("GET", "/api/v1/hosts/" + h).json();
  EXPECT_EQ(state["configuration_state"]["status"], "failure") << state.dump();
  EXPECT_NE(state.dump().find("policy_invalid"), std::string::npos) << state.dump();
  const json e = ctl.call("POST", "/api/v1/hosts/" + h + "/enrollment").json();
  auto [key, cert] = enrolled_identity(ctl.southbound_port(), h, e["token"]);
  RawClient agent(key, cert);
  ASSERT_EQ(agent.open(ctl.southbound_port()), 101);
  agent.send(proto::hello(h, 0).dump());
  ASSERT_TRUE(eventually(
      [&] { return ctl.call("GET", "/api/v1/hosts/" + h).json()["connected"] == true; }));
  // The repair: the NIC leaves the host. The policy is valid and sent.
  ASSERT_EQ(
      ctl.call("PATCH", "/api/v1/vm-nics/" + nic, {{"host_id", nullptr}, {"interface", nullptr}})
          .status,
      200);
  const json snapshot = json::parse(agent.receive(), nullptr, false);
  EXPECT_EQ(snapshot.value("type", ""), "snapshot") << snapshot.dump();
  EXPECT_TRUE(eventually([&] {
    return ctl.call("GET", "/api/v1/hosts/" + h).json().dump().find("policy_invalid") ==
           std::string::npos;
  }));
}

// Expiry by an injected clock: no sleeping, no editing the database.
TEST(Enrollment, TokensExpireAndCertificatesLapseOnTheInjectedClock) {
  TempDir dir;
  store::Store store(test_store_url(dir.path()));
  model::Service service(store);
  const model::Principal admin{model::Role::kAdmin, "", ""};
  const std::string ln =
      service.create(admin, model::kind("logical-networks"), {{"name", "dc"}}).object["id"];
  const std::string site = service
                               .create(admin, model::kind("sites"),
                                       {{"logical_network_id", ln},
                                        {"name", "s"},
                                        {"subnets", {{{"prefix", "192.168.1.0/24"}}}}})
                               .object["id"];
  const std::string h = service
                            .create(admin, model::kind("hosts"),
                                    {{"name", "h1"}, {"site_id", site}, {"pa", "192.168.1.10"}})
                            .object["id"];
  southbound::CertificateAuthority ca(dir.path());
  int64_t now = 1'000'000;
  southbound::Enrollment enrollment(store, ca, [&] { return now; });
  std::vector<std::pair<std::string, std::optional<int64_t>>> told;
  enrollment.set_observer([&](const std::string& host, std::optional<int64_t> not_after) {
    told.emplace_back(host, not_after);
  });
  const auto csr = [] { return tls::make_csr(tls::generate_key(), "x"); };

  const auto late = enrollment.create(h, std::chrono::seconds(60));
  EXPECT_EQ(late.expires_at, now + 60);
  now += 61;
  try {
    enrollment.redeem(h, late.token, csr());
    ADD_FAILURE() << "an expired token was redeemed";
  } catch (const southbound::EnrollError& e) {
    EXPECT_EQ(e.status, 401);
    EXPECT_NE(std::string(e.what()).find("expired"), std::string::npos);
  }
  const auto token = enrollment.create(h, std::chrono::seconds(60));
  now += 59;
  const auto cert = enrollment.redeem(h, token.token, csr());
  EXPECT_TRUE(enrollment.is_current(h, cert.serial));
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].second, cert.not_after);
  // Renewal replaces the serial; a lapsed certificate is no longer current
  // and cannot be renewed.
  const auto renewed = enrollment.renew(h, csr());
  EXPECT_FALSE(enrollment.is_current(h, cert.serial));
  EXPECT_TRUE(enrollment.is_current(h, renewed.serial));
  now = renewed.not_after + 1;
  EXPECT_FALSE(enrollment.is_current(h, renewed.serial));
  EXPECT_THROW(enrollment.renew(h, csr()), southbound::EnrollError);
  EXPECT_TRUE(enrollment.revoke(h));
  EXPECT_EQ(told.back(), std::pair(h, std::optional<int64_t>()));
}

TEST_F(SouthboundTest, AWrongCaHashStopsTheAgentBeforeItSendsTheToken) {
  const std::string h = host("h1", "192.168.1.10");
  json e = enrollment(h);
  json wrong = e;
  wrong["ca_sha256"] = std::string(64, 'a');
  AgentThread bad(agent_options(h, wrong, "a1"));
  EXPECT_EQ(bad.exit_code(), 1);
  // The token was never presented, so it still works.
  AgentThread good(agent_options(h, e, "a2"));
  EXPECT_TRUE(eventually([&] { return realized(h); }));
}

TEST_F(SouthboundTest, MutualTlsRefusesNoCertificateAnotherCaAndRevokedHosts) {
  const std::string h = host("h1", "192.168.1.10");
  const uint16_t port = ctl->southbound_port();
  // No client certificate.
  EXPECT_EQ(RawClient().open(port), 401);
  // A certificate for the right CN from another CA: the handshake or the
  // upgrade fails, never a session.
  const std::string other_ca_key = tls::generate_key();
  const std::string other_ca = tls::self_signed_ca(other_ca_key, "evil", 24h).certificate_pem;
  const std::string key = tls::generate_key();
  const std::string forged =
      tls::issue(other_ca_key, other_ca, key, h, tls::Usage::kClient, 24h).certificate_pem;
  EXPECT_EQ(RawClient(key, forged).open(port), 0);
  // The client may see the handshake fail before the server has counted it.
  EXPECT_TRUE(eventually([&] {
    return metrics().find("vnet_southbound_refused_total{reason=\"tls_handshake\"} 1") !=
           std::string::npos;
  })) << metrics();
  // Host A's certificate cannot speak for host B.
  const std::string b = host("h2", "192.168.1.20");
  auto [akey, acert] = enrolled_identity(port, h, enrollment(h)["token"]);
  RawClient a(akey, acert);
  ASSERT_EQ(a.open(port), 101);
  a.send(proto::hello(b, 0).dump());
  EXPECT_EQ(a.receive(), "");  // closed: wrong_host
  EXPECT_TRUE(eventually([&] {
    return metrics().find("vnet_southbound_sessions_closed_total{reason=\"wrong_host\"} 1") !=
           std::string::npos;
  }));

  // Revoked: the live session ends at once, and the certificate is refused.
  AgentThread agent(agent_options(h, enrollment(h), "a1"));
  ASSERT_TRUE(eventually([&] { return realized(h); }));
  // The agent re-enrolled with a new certificate: the raw client's is superseded.
  EXPECT_EQ(RawClient(akey, acert).open(port), 403);
  ASSERT_EQ(ctl->call("DELETE", "/api/v1/hosts/" + h + "/enrollment").status, 204);
  EXPECT_TRUE(eventually([&] { return host_state(h)["connected"] == false; }));
  EXPECT_NE(metrics().find("vnet_southbound_sessions_closed_total{reason=\"revoked\"} 1"),
            std::string::npos);
  // And stays out, retrying with its old certificate.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(host_state(h)["connected"], false);
  EXPECT_NE(metrics().find("vnet_southbound_refused_total{reason=\"certificate\"}"),
            std::string::npos);
  EXPECT_EQ(ctl->call("DELETE", "/api/v1/hosts/" + h + "/enrollment").status, 404);
}

TEST_F(SouthboundTest, BadFramesCloseOnlyTheirSessionWithAReason) {
  const std::string h = host("h1", "192.168.1.10");
  const std::string good = host("h2", "192.168.1.20");
  AgentThread agent(agent_options(good, enrollment(good), "a2"));
  ASSERT_TRUE(eventually([&] { return realized(good); }));
  const uint16_t port = ctl->southbound_port();

  struct Case {
    std::string reason;
    std::vector<std::string> messages;
  };
  std::vector<Case> cases = {
      {"wrong_order", {proto::ack(1, {}).dump()}},
      {"bad_frame", {"this is not JSON"}},
      {"bad_frame", {proto::hello(h, 0).dump(), "[1,2,3]"}},
      {"unknown_type", {proto::hello(h, 0).dump(), R"({"type":"reboot"})"}},
      {"bad_ack", {proto::hello(h, 0).dump(), proto::ack(999, {}).dump()}},
      {"oversized", {proto::hello(h, 0).dump(), std::string(2 << 20, 'x')}},
  };
  for (const auto& c : cases) {
    auto [key, cert] = enrolled_identity(port, h, enrollment(h)["token"]);
    RawClient raw(key, cert);
    ASSERT_EQ(raw.open(port), 101) << c.reason;
    for (const auto& m : c.messages) {
      try {
        raw.send(m);
      } catch (const std::exception&) {  // the controller may close mid-write
      }
    }
    // Everything until the close; then nothing.
    for (int i = 0; i < 4 && !raw.receive().empty(); ++i) {
    }
  }
  EXPECT_TRUE(eventually([&] {
    const std::string m = metrics();
    return m.find("reason=\"wrong_order\"} 1") != std::string::npos &&
           m.find("reason=\"bad_frame\"} 2") != std::string::npos &&
           m.find("reason=\"unknown_type\"} 1") != std::string::npos &&
           m.find("reason=\"bad_ack\"} 1") != std::string::npos &&
           m.find("reason=\"oversized\"} 1") != std::string::npos;
  })) << metrics();
  // The well-behaved agent never noticed.
  EXPECT_TRUE(realized(good));
  EXPECT_EQ(host_state(good)["connected"], true);
}

// A certified agent that sends fields of the wrong type ends only its own
// session, through the same cleanup as any other end: the host shows
// disconnected (a nic_id number once threw out of the session, which left
// the host connected forever).
TEST_F(SouthboundTest, AFieldOfTheWrongTypeEndsTheSessionAndTheHostShowsDisconnected) {
  const std::string h = host("h1", "192.168.1.10");
  const uint16_t port = ctl->southbound_port();
  const std::vector<std::string> bad = {
      json{{"type", "ack"}, {"generation", 1}, {"problems", {{{"code", "x"}, {"nic_id", 5}}}}}
          .dump(),
      json{{"type", "hello"}, {"host_id", 5}, {"generation", 0}}.dump(),
      json{{"type", "ack"}, {"generation", "1"}}.dump(),
  };
  for (const std::string& message : bad) {
    SCOPED_TRACE(message);
    auto [key, cert] = enrolled_identity(port, h, enrollment(h)["token"]);
    RawClient raw(key, cert);
    ASSERT_EQ(raw.open(port), 101);
    raw.send(proto::hello(h, 0).dump());
    ASSERT_TRUE(eventually([&] { return host_state(h)["connected"] == true; }));
    ASSERT_FALSE(raw.receive().empty());  // the snapshot
    raw.send(message);
    EXPECT_EQ(raw.receive(), "");  // closed (the client answers the close frame)
    ASSERT_TRUE(eventually([&] { return host_state(h)["connected"] == false; }))
        << host_state(h).dump();
  }
  EXPECT_EQ(ctl->call("GET", "/healthz").status, 200);
}

// 28,500 hellos in 5 s once meant 28,500 snapshots on the one southbound
// thread: now a resend is answered at most once a second.
TEST_F(SouthboundTest, AHelloFloodGetsAtMostOneSnapshotASecond) {
  const std::string h = host("h1", "192.168.1.10");
  const uint16_t port = ctl->southbound_port();
  auto [key, cert] = enrolled_identity(port, h, enrollment(h)["token"]);
  RawClient raw(key, cert);
  ASSERT_EQ(raw.open(port), 101);
  raw.send(proto::hello(h, 0).dump());
  ASSERT_FALSE(raw.receive().empty());  // the first snapshot
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 2000; ++i) raw.send(proto::hello(h, 0).dump());
  std::this_thread::sleep_for(1500ms);
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::string m = metrics();
  const auto value = [&](const std::string& series) -> long {
    const size_t at = m.find(series);
    return at == std::string::npos ? 0 : std::stol(m.substr(at + series.size() + 1));
  };
  const long snapshots =
      value("vnet_southbound_messages_total{direction=\"out\",type=\"snapshot\"}");
  EXPECT_GE(snapshots, 1);
  EXPECT_LE(snapshots, 2 + static_cast<long>(seconds)) << m;
  EXPECT_GE(value("vnet_southbound_throttled_total{type=\"hello\"}"), 1900) << m;
}

// Host certificates last a year: an agent renews its own over the mutual
// TLS session before it expires, without a new token, and the renewed one
// is the only one accepted from then on.
TEST_F(SouthboundTest, AnAgentRenewsItsCertificateOverItsSession) {
  const std::string h = host("h1", "192.168.1.10");
  auto options = agent_options(h, enrollment(h), "a1");
  const auto cert_file = options.state_dir / "agent.crt";
  {
    AgentThread agent(options);  // renew_before a month: a new certificate is kept
    ASSERT_TRUE(eventually([&] { return realized(h); }));
  }
  const std::string first = read_file(cert_file);
  const std::string first_key = read_file(options.state_dir / "agent.key");
  const json enrolled = host_state(h);
  ASSERT_TRUE(enrolled["cert_expires_at"].is_string()) << enrolled.dump();
  const auto first_expiry =
      std::chrono::duration_cast<std::chrono::seconds>(tls::not_after(first).time_since_epoch());
  EXPECT_EQ(enrolled["cert_expires_at"], rfc3339_from_unix(first_expiry.count()));

  options.renew_before = std::chrono::hours(24 * 400);  // due now
  {
    AgentThread agent(options);
    ASSERT_TRUE(eventually([&] { return tls::serial(read_file(cert_file)) != tls::serial(first); }))
        << host_state(h).dump();
  }
  const std::string second = read_file(cert_file);
  EXPECT_EQ(tls::common_name(second), h);
  EXPECT_TRUE(eventually([&] {
    return metrics().find("direction=\"out\",type=\"certificate\"} 1") != std::string::npos;
  })) << metrics();
  // The new certificate is accepted, the old one no longer.
  options.renew_before = std::chrono::hours(1);
  {
    AgentThread agent(options);
    EXPECT_TRUE(eventually([&] { return realized(h); })) << host_state(h).dump();
  }
  RawClient stale(first_key, first);
  EXPECT_EQ(stale.open(ctl->southbound_port()), 403) << "the superseded certificate still works";
}

TEST_F(SouthboundTest, ADeletedHostsSessionEnds) {
  const std::string h = host("h1", "192.168.1.10");
  AgentThread agent(agent_options(h, enrollment(h), "a1"));
  ASSERT_TRUE(eventually([&] { return realized(h); }));
  ASSERT_EQ(ctl->call("DELETE", "/api/v1/hosts/" + h).status, 204);
  EXPECT_TRUE(eventually([&] {
    return metrics().find("vnet_southbound_sessions_closed_total{reason=\"host_deleted\"} 1") !=
           std::string::npos;
  })) << metrics();
}

// --controller A,B,C: a replica that is down is skipped: the dead address
// is put where each agent looks first.
TEST_F(SouthboundTest, AnAgentGivenSeveralControllersSkipsOneThatIsDown) {
  const uint16_t closed = [] {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
  }();
  const std::string live = fmt::format("127.0.0.1:{}", ctl->southbound_port());
  const std::string dead = fmt::format("127.0.0.1:{}", closed);
  const std::string h1 = host("h1", "192.168.1.10");
  const std::string h2 = host("h2", "192.168.1.20");
  auto dead_first = [&](const std::string& h) {
    return agent::first_controller(h, 2) == 0 ? dead + "," + live : live + "," + dead;
  };
  auto o1 = agent_options(h1, enrollment(h1), "a1");
  o1.controller = dead_first(h1);
  auto o2 = agent_options(h2, enrollment(h2), "a2");
  o2.controller = dead + "," + dead + "," + live;  // two down
  if (agent::first_controller(h2, 3) == 2) o2.controller = live + "," + dead + "," + dead;
  AgentThread first(o1), second(o2);
  EXPECT_TRUE(eventually([&] { return realized(h1) && realized(h2); })) << host_state(h1).dump();
  // An empty entry is refused at start with the form expected.
  auto bad = agent_options(h1, json::object(), "a3");
  bad.controller = live + ",," + dead;
  try {
    agent::Agent refused(bad, std::make_unique<agent::NoDataplane>());
    ADD_FAILURE() << "an empty address was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("has an empty address: ADDR:PORT[,ADDR:PORT...]"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(SouthboundTest, AgentsResyncAfterAControllerRestartWithoutANewGeneration) {
  const std::string h = host("h1", "192.168.1.10");
  AgentThread agent(agent_options(h, enrollment(h), "a1"));
  ASSERT_TRUE(eventually([&] { return realized(h); }));
  const uint64_t generation = host_state(h)["desired_generation"];
  const uint16_t port = ctl->southbound_port();
  ctl.reset();  // the controller goes away; the agent keeps its policy
  ctl = std::make_unique<Controller>(dir.path() / "controller", port);
  // Same generation (the content did not change), connected again, and the
  // agent was not sent the policy again.
  EXPECT_TRUE(eventually([&] { return realized(h); }, 15s)) << host_state(h).dump();
  EXPECT_EQ(host_state(h)["desired_generation"], generation);
  EXPECT_EQ(metrics().find("type=\"snapshot\""), std::string::npos) << metrics();
}

// The engine keeps one model in memory and recompiles only the hosts each
// change concerns (policy/model.cpp's readers say which). After every one
// of 120 random changes, what it holds for each host is what a compile from
// the database would give.
TEST_F(SouthboundTest, EveryIncrementalPolicyEqualsACompileFromTheDatabase) {
  std::vector<std::string> hosts;
  for (int i = 0; i < 4; ++i)
    hosts.push_back(host(fmt::format("h{}", i), fmt::format("192.168.1.{}", 10 + i)));
  const json tenant = ctl->create("tenants", {{"name", "t"}});
  const json ln = ctl->call("GET", "/api/v1/logical-networks").json()["items"][0];
  std::vector<std::string> networks, subnets, pools, nics, routes;
  auto add_subnet = [&](const std::string& network, int n) {
    const json sub = ctl->create("vm-subnets", {{"vm_network_id", network},
                                                {"name", fmt::format("s{}", n)},
                                                {"prefix", fmt::format("10.{}.0.0/24", n)}});
    subnets.push_back(sub["id"]);
    pools.push_back(ctl->create("ip-pools", {{"vm_subnet_id", sub["id"]},
                                             {"ranges",
                                              {{{"start", fmt::format("10.{}.0.10", n)},
                                                {"end", fmt::format("10.{}.0.200", n)}}}}})["id"]);
  };
  for (int n = 0; n < 2; ++n) {
    networks.push_back(ctl->create("vm-networks", {{"tenant_id", tenant["id"]},
                                                   {"name", fmt::format("n{}", n)},
                                                   {"logical_network_id", ln["id"]}})["id"]);
    add_subnet(networks.back(), n);
  }
  store::Store db(test_store_url(dir.path() / "controller"));
  std::mt19937 rng(7);
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  auto patch = [&](const std::string& what, const json& body) {
    const auto r = ctl->call("PATCH", "/api/v1/" + what, body, "",
                             {{"content-type", "application/merge-patch+json"}});
    ASSERT_EQ(r.status, 200) << what << " " << r.body;
  };
  int next = 2;
  for (int step = 0; step < 120; ++step) {
    const int kind = static_cast<int>(rng() % 8);
    std::string did;
    if (kind <= 2 || nics.empty()) {
      const json nic = ctl->create("vm-nics", {{"vm_subnet_id", pick(subnets)},
                                               {"vm_name", fmt::format("v{}", step)},
                                               {"host_id", pick(hosts)},
                                               {"interface", fmt::format("tap{}", step)}});
      nics.push_back(nic["id"]);
      did = "a NIC created";
    } else if (kind == 3) {
      patch("vm-nics/" + pick(nics), {{"host_id", pick(hosts)}});
      did = "a NIC moved";
    } else if (kind == 4) {
      const size_t i = rng() % nics.size();
      ASSERT_EQ(ctl->call("DELETE", "/api/v1/vm-nics/" + nics[i]).status, 204);
      nics.erase(nics.begin() + static_cast<long>(i));
      did = "a NIC deleted";
    } else if (kind == 5) {
      patch("ip-pools/" + pick(pools), {{"dns", {fmt::format("10.9.9.{}", rng() % 200 + 1)}}});
      did = "a pool's DNS changed";
    } else if (kind == 6 && routes.size() < 10) {
      const json r = ctl->create("routes", {{"vm_network_id", pick(networks)},
                                            {"prefix", fmt::format("172.16.{}.0/24", step)},
                                            {"next_hop", "10.0.0.1"}});
      routes.push_back(r["id"]);
      did = "a route created";
    } else if (next < 6) {
      add_subnet(pick(networks), next++);
      did = "a subnet added";
    } else {
      patch("hosts/" + pick(hosts), {{"name", fmt::format("renamed{}", step)}});
      did = "a host renamed";
    }
    ctl->app().engine().flush();
    const auto model = db.read([](store::Database& d) { return compiler::Model::load(d); });
    for (const auto& h : hosts) {
      const auto held = ctl->app().engine().policy(h);
      ASSERT_TRUE(held) << h;
      ASSERT_EQ(compiler::content_hash(held->policy),
                compiler::content_hash(compiler::compile(model, h)))
          << "host " << h << " after step " << step << " (" << did << ")";
    }
  }
}

// The engine recompiles only the hosts a change concerns and bumps a
// generation only when the content changed.
TEST_F(SouthboundTest, OnlyTheConcernedHostsGetANewGeneration) {
  const std::string h1 = host("h1", "192.168.1.10");
  const std::string h2 = host("h2", "192.168.1.20");
  const std::string h3 = host("h3", "192.168.1.30");
  const json tenant = ctl->create("tenants", {{"name", "t"}});
  const json ln = ctl->call("GET", "/api/v1/logical-networks").json()["items"][0];
  auto network = [&](const std::string& name, const std::string& prefix) {
    const json n = ctl->create(
        "vm-networks",
        {{"tenant_id", tenant["id"]}, {"name", name}, {"logical_network_id", ln["id"]}});
    return ctl->create("vm-subnets",
                       {{"vm_network_id", n["id"]}, {"name", name}, {"prefix", prefix}});
  };
  const json blue = network("blue", "10.0.0.0/24");
  const json red = network("red", "10.0.0.0/24");
  int n = 10;
  auto nic = [&](const json& subnet, const std::string& host_id, const std::string& ifname) {
    return ctl->create("vm-nics", {{"vm_subnet_id", subnet["id"]},
                                   {"vm_name", ifname},
                                   {"ip", fmt::format("10.0.0.{}", n++)},
                                   {"host_id", host_id},
                                   {"interface", ifname}});
  };
  nic(blue, h1, "b1");
  const json b2 = nic(blue, h2, "b2");
  nic(red, h3, "r3");
  auto generations = [&] {
    ctl->app().engine().flush();
    std::vector<uint64_t> g;
    for (const auto& h : {h1, h2, h3}) g.push_back(host_state(h)["desired_generation"]);
    return g;
  };
  const auto before = generations();
  // A Blue NIC moves from h2 to h1: Blue's hosts change, Red's h3 does not.
  ASSERT_EQ(ctl->call("PATCH", "/api/v1/vm-nics/" + b2["id"].get<std::string>(),
                      {{"host_id", h1}, {"interface", "b2"}}, "",
                      {{"content-type", "application/merge-patch+json"}})
                .status,
            200);
  auto after = generations();
  EXPECT_EQ(after[0], before[0] + 1);
  EXPECT_EQ(after[1], before[1] + 1);
  EXPECT_EQ(after[2], before[2]);
  // Renaming the VM network changes nothing any host holds.
  ASSERT_EQ(ctl->call("PATCH", "/api/v1/vm-networks/" + blue["vm_network_id"].get<std::string>(),
                      {{"name", "blue2"}}, "", {{"content-type", "application/merge-patch+json"}})
                .status,
            200);
  EXPECT_EQ(generations(), after);
  // The last change recompiled h1 and h2 (Blue's hosts), not h3.
  const auto stats = ctl->app().engine().stats();
  EXPECT_EQ(stats.full_recompiles, 0u);
  EXPECT_LE(stats.hosts_recompiled, 12u) << stats.hosts_recompiled;
  // The generations survive a restart unchanged.
  ctl.reset();
  ctl = std::make_unique<Controller>(dir.path() / "controller");
  EXPECT_EQ(generations(), after);
}

// A start numbers many hosts at once (more than 64: host_policies read in
// one statement): every generation is the stored one when the content did
// not change.
TEST_F(SouthboundTest, TheGenerationsOfManyHostsSurviveARestart) {
  std::vector<std::string> hosts;
  for (int i = 0; i < 70; ++i)
    hosts.push_back(ctl->create("hosts", {{"name", fmt::format("h{}", i)},
                                          {"site_id", site},
                                          {"pa", fmt::format("192.168.1.{}", 10 + i)}})["id"]);
  // Some hosts past their first generation, so "the stored one" is not 1.
  const json tenant = ctl->create("tenants", {{"name", "t"}});
  const json ln = ctl->call("GET", "/api/v1/logical-networks").json()["items"][0];
  const json net =
      ctl->create("vm-networks",
                  {{"tenant_id", tenant["id"]}, {"name", "n"}, {"logical_network_id", ln["id"]}});
  const json sub = ctl->create(
      "vm-subnets", {{"vm_network_id", net["id"]}, {"name", "s"}, {"prefix", "10.0.0.0/24"}});
  for (int i = 0; i < 5; ++i) {
    ctl->create("vm-nics", {{"vm_subnet_id", sub["id"]},
                            {"vm_name", fmt::format("v{}", i)},
                            {"ip", fmt::format("10.0.0.{}", 10 + i)},
                            {"host_id", hosts[static_cast<size_t>(i) * 7]},
                            {"interface", fmt::format("tap{}", i)}});
  }
  auto generations = [&] {
    ctl->app().engine().flush();
    std::vector<uint64_t> g;
    for (const auto& h : hosts) g.push_back(ctl->app().realization().status(h).desired);
    return g;
  };
  const auto before = generations();
  ASSERT_GT(*std::max_element(before.begin(), before.end()), 1u);
  ASSERT_EQ(std::count(before.begin(), before.end(), 0u), 0);
  ctl.reset();
  ctl = std::make_unique<Controller>(dir.path() / "controller");
  EXPECT_EQ(generations(), before);
}

}  // namespace
}  // namespace vnet::testing

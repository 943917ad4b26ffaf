// Several controller replicas on one PostgreSQL database (DESIGN.md section
// 3, "Store"; docs/store.md), each a whole controller in this process with
// its own data directory and ports. Registered only as postgresql.* tests.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "agent/control/agent.h"
#include "controller/app/controller.h"
#include "controller/policy/engine.h"
#include "controller/store/copy.h"
#include "controller/store/postgresql.h"
#include "controller/store/records.h"
#include "controller/store/store.h"
#include "shared/tls/seal.h"
#include "shared/util/file.h"
#include "tests/controller/api_fixture.h"

namespace vnet::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

template <class F>
bool eventually(F&& f, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

// An agent (no data plane) on a thread of its own, stopped at the end.
agent::AgentOptions agent_options(const std::string& controllers, const std::string& host,
                                  const json& enrollment, const std::filesystem::path& state) {
  agent::AgentOptions o;
  o.controller = controllers;
  o.host_id = host;
  o.enrollment_token = enrollment["token"];
  o.ca_sha256 = enrollment["ca_sha256"];
  o.state_dir = state;
  o.backoff_initial = 50ms;
  o.backoff_max = 200ms;
  return o;
}
class RunningAgent {
 public:
  explicit RunningAgent(const agent::AgentOptions& o)
      : agent_(o, std::make_unique<agent::NoDataplane>()), thread_([this] { agent_.run(); }) {}
  ~RunningAgent() {
    agent_.stop();
    thread_.join();
  }

 private:
  agent::Agent agent_;
  std::thread thread_;
};

class Replicas : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing_postgresql()) GTEST_SKIP() << "replicas need PostgreSQL (VNET_TEST_POSTGRESQL)";
    url = test_store_url(dir.path() / "a");
    a = std::make_unique<Controller>(dir.path() / "a", 0, url);
    // The operator's step: every replica gets the first one's store key.
    b = std::make_unique<Controller>(dir.path() / "b", 0, url, dir.path() / "a" / "store.key");
  }

  // A tenant with a VM subnet whose pool has `size` addresses from
  // 10.0.0.10, and a host; created through `via`.
  struct Net {
    std::string tenant, token, subnet, pool, host;
  };
  Net network(Controller& via, int size) {
    Net n;
    const json ln = via.create("logical-networks", {{"name", "dc"}});
    const json site = via.create("sites", {{"logical_network_id", ln["id"]},
                                           {"name", "s1"},
                                           {"subnets", {{{"prefix", "192.168.1.0/24"}}}}});
    n.host = via.create("hosts", {{"name", "h1"}, {"site_id", site["id"]}, {"pa", "192.168.1.10"}})
                 .at("id");
    n.tenant =
        via.create("tenants", {{"name", "contoso"}, {"logical_network_ids", {ln["id"]}}}).at("id");
    n.token = via.create("tokens", {{"name", "t"}, {"tenant_id", n.tenant}}).at("token");
    const json net =
        via.create("vm-networks", {{"name", "n"}, {"logical_network_id", ln["id"]}}, n.token);
    n.subnet = via.create("vm-subnets",
                          {{"vm_network_id", net["id"]}, {"name", "s"}, {"prefix", "10.0.0.0/24"}},
                          n.token)
                   .at("id");
    n.pool = via.create("ip-pools",
                        {{"vm_subnet_id", n.subnet},
                         {"ranges",
                          {{{"start", "10.0.0.10"}, {"end", fmt::format("10.0.0.{}", 9 + size)}}}}},
                        n.token)
                 .at("id");
    return n;
  }

  TempDir dir;
  std::string url;
  std::unique_ptr<Controller> a, b;
};

TEST_F(Replicas, AWriteThroughOneIsReadThroughTheOther) {
  const json t = a->create("tenants", {{"name", "contoso"}});
  const auto got = b->call("GET", "/api/v1/tenants/" + t["id"].get<std::string>());
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.json()["name"], "contoso");
  EXPECT_EQ(got.json()["etag"], t["etag"]);
  // Changed through B, read through A; a stale etag is refused by either.
  const auto patched =
      b->call("PATCH", "/api/v1/tenants/" + t["id"].get<std::string>(), {{"name", "contoso-b"}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  const json seen = a->call("GET", "/api/v1/tenants/" + t["id"].get<std::string>()).json();
  EXPECT_EQ(seen["name"], "contoso-b");
  EXPECT_EQ(a->call("PATCH", "/api/v1/tenants/" + t["id"].get<std::string>(), {{"name", "stale"}},
                    "", {{"If-Match", t["etag"].get<std::string>()}})
                .status,
            412);
  // Lists agree.
  EXPECT_EQ(a->call("GET", "/api/v1/tenants").json()["items"].size(),
            b->call("GET", "/api/v1/tenants").json()["items"].size());
}

// 100 creates at once, half through each replica, into a pool of 60: every
// address handed out once, exactly 60 created and 40 refused with 409.
TEST_F(Replicas, ConcurrentNicCreatesOverTwoReplicasGetDistinctAddressesAndExactExhaustion) {
  const Net n = network(*a, 60);
  std::mutex m;
  std::vector<std::string> ips, macs;
  std::atomic<int> created = 0, exhausted = 0, other = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 10; ++t) {
    threads.emplace_back([&, t] {
      Controller& via = t % 2 == 0 ? *a : *b;
      for (int i = 0; i < 10; ++i) {
        const auto r = via.call(
            "POST", "/api/v1/vm-nics",
            {{"vm_subnet_id", n.subnet}, {"vm_name", fmt::format("vm{}-{}", t, i)}}, n.token);
        if (r.status == 201) {
          ++created;
          std::lock_guard lock(m);
          ips.push_back(r.json()["ip"]);
          macs.push_back(r.json()["mac"]);
        } else if (r.status == 409) {
          ++exhausted;
        } else {
          ++other;
          ADD_FAILURE() << r.status << " " << r.body;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created, 60);
  EXPECT_EQ(exhausted, 40);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(std::set<std::string>(ips.begin(), ips.end()).size(), ips.size());
  EXPECT_EQ(std::set<std::string>(macs.begin(), macs.end()).size(), macs.size());
  // Both replicas count the tenant's NICs alike.
  EXPECT_EQ(b->call("GET", "/api/v1/vm-nics?limit=1000").json()["items"].size(), 60u);
}

// A replica's allocation hint never makes a pool look exhausted: an address
// freed through the other replica is handed out again through this one.
TEST_F(Replicas, AnAddressFreedThroughOneIsReusedThroughTheOther) {
  const Net n = network(*a, 4);
  std::vector<json> nics;
  for (int i = 0; i < 4; ++i)
    nics.push_back(a->create("vm-nics", {{"vm_subnet_id", n.subnet}, {"vm_name", "v"}}, n.token));
  ASSERT_EQ(b->call("DELETE", "/api/v1/vm-nics/" + nics[1]["id"].get<std::string>()).status, 204);
  const auto again =
      a->call("POST", "/api/v1/vm-nics", {{"vm_subnet_id", n.subnet}, {"vm_name", "y"}}, n.token);
  ASSERT_EQ(again.status, 201) << again.body;
  EXPECT_EQ(again.json()["ip"], nics[1]["ip"]);
  EXPECT_EQ(
      a->call("POST", "/api/v1/vm-nics", {{"vm_subnet_id", n.subnet}, {"vm_name", "x"}}, n.token)
          .status,
      409);
}

// A change committed through one replica is compiled by the other (which
// serves its own agents), with the same generation on both.
TEST_F(Replicas, AChangeThroughOneReachesTheOthersPolicyWithTheSameGeneration) {
  const Net n = network(*a, 10);
  const json nic =
      a->create("vm-nics", {{"vm_subnet_id", n.subnet},
                            {"vm_name", "web"},
                            {"host_id", n.host},
                            {"interface", "vnet-web"}});  // placement: the administrator's
  auto has_nic = [&](Controller& c) {
    const auto p = c.app().engine().policy(n.host);
    std::string mac = nic["mac"];
    std::transform(mac.begin(), mac.end(), mac.begin(), ::tolower);
    std::string got = p && p->policy.ports.size() == 1 ? p->policy.ports[0].mac.to_string() : "";
    std::transform(got.begin(), got.end(), got.begin(), ::tolower);
    return got == mac;
  };
  ASSERT_TRUE(eventually([&] { return has_nic(*a); }));
  ASSERT_TRUE(eventually([&] { return has_nic(*b); }));
  EXPECT_EQ(a->app().engine().policy(n.host)->policy.generation,
            b->app().engine().policy(n.host)->policy.generation);
  // And back: removed through B, gone from A's policy.
  ASSERT_EQ(b->call("DELETE", "/api/v1/vm-nics/" + nic["id"].get<std::string>()).status, 204);
  ASSERT_TRUE(eventually([&] {
    const auto p = a->app().engine().policy(n.host);
    return p && p->policy.ports.empty();
  }));
  ASSERT_TRUE(eventually([&] {
    const auto p = b->app().engine().policy(n.host);
    return p && p->policy.ports.empty();
  }));
  EXPECT_EQ(a->app().engine().policy(n.host)->policy.generation,
            b->app().engine().policy(n.host)->policy.generation);
  // The desired generation on GET /hosts is the same through either.
  EXPECT_TRUE(eventually([&] {
    return a->call("GET", "/api/v1/hosts/" + n.host).json()["desired_generation"] ==
           b->call("GET", "/api/v1/hosts/" + n.host).json()["desired_generation"];
  }));
}

// Writes through both at once, each replica's engine batching them its own
// way: the host ends with the same content under the same generation on
// both. A check under concurrency that passed without the generation rule
// too; the rule itself is forced in the next test.
TEST_F(Replicas, ManyChangesThroughBothEndWithTheSameGenerationOnBoth) {
  const Net n = network(*a, 100);
  std::vector<std::thread> writers;
  for (Controller* via : {a.get(), b.get()}) {
    writers.emplace_back([&, via] {
      for (int i = 0; i < 15; ++i) {
        via->create("vm-nics",
                    {{"vm_subnet_id", n.subnet},
                     {"vm_name", fmt::format("vm{}", i)},
                     {"host_id", n.host},
                     {"interface", fmt::format("vnet-{}-{}", via == a.get() ? 'a' : 'b', i)}});
      }
    });
  }
  for (auto& w : writers) w.join();
  auto ports = [&](Controller& c) {
    c.app().engine().flush();
    const auto p = c.app().engine().policy(n.host);
    return p ? p->policy.ports.size() : 0;
  };
  ASSERT_TRUE(eventually([&] { return ports(*a) == 30 && ports(*b) == 30; }))
      << ports(*a) << " " << ports(*b);
  const auto pa = a->app().engine().policy(n.host);
  const auto pb = b->app().engine().policy(n.host);
  EXPECT_EQ(compiler::content_hash(pa->policy), compiler::content_hash(pb->policy));
  EXPECT_EQ(pa->policy.generation, pb->policy.generation);
}

// The rule behind it, made to happen: when the stored content was compiled
// from a newer model than a replica's (log_seq past its position), that
// replica publishes nothing for the host and writes nothing; once it has
// caught up (here: the row says so) it numbers its content.
TEST_F(Replicas, AReplicaBehindTheDatabaseDoesNotNumberItsOlderContent) {
  const Net n = network(*a, 10);
  a->app().engine().flush();
  b->app().engine().flush();
  const uint64_t g = a->app().engine().policy(n.host)->policy.generation;
  auto db = store::open_database(url);
  db->prepare("UPDATE host_policies SET log_seq = 1000000000 WHERE host_id = ?")
      .bind(1, n.host)
      .run();
  a->create("vm-nics", {{"vm_subnet_id", n.subnet},
                        {"vm_name", "web"},
                        {"host_id", n.host},
                        {"interface", "vnet-web"}});
  std::this_thread::sleep_for(200ms);  // b follows within a notification's time
  a->app().engine().flush();
  b->app().engine().flush();
  for (Controller* c : {a.get(), b.get()}) {
    const auto p = c->app().engine().policy(n.host);
    EXPECT_EQ(p->policy.generation, g);
    EXPECT_TRUE(p->policy.ports.empty());
  }
  auto row = db->prepare("SELECT generation FROM host_policies WHERE host_id = ?");
  row.bind(1, n.host);
  ASSERT_TRUE(row.step());
  EXPECT_EQ(row.column_int(0), static_cast<int64_t>(g));
  // Caught up: the next batch (any change) numbers the held content.
  db->prepare("UPDATE host_policies SET log_seq = 0 WHERE host_id = ?").bind(1, n.host).run();
  a->create("tenants", {{"name", "fabrikam"}});
  EXPECT_TRUE(eventually([&] {
    const auto pa = a->app().engine().policy(n.host);
    const auto pb = b->app().engine().policy(n.host);
    return pa->policy.ports.size() == 1 && pb->policy.ports.size() == 1 &&
           pa->policy.generation == g + 1 && pb->policy.generation == g + 1;
  }));
}

// One CA for all: an agent enrolled with a token made through A, connecting
// to B, is accepted there (the same CA, the token in the database) and
// realizes what is committed through A.
TEST_F(Replicas, EveryReplicaHasTheSameCaAndServesAnAgentEnrolledThroughAnother) {
  EXPECT_EQ(read_file(dir.path() / "a" / "ca.crt"), read_file(dir.path() / "b" / "ca.crt"));
  EXPECT_EQ(read_file(dir.path() / "a" / "store.key").size(), 32u);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "b" / "store.key"))
      << "the second replica was given the first's key (SetUp copies it)";
  const Net n = network(*a, 10);
  const auto e = a->call("POST", "/api/v1/hosts/" + n.host + "/enrollment");
  ASSERT_EQ(e.status, 201) << e.body;
  RunningAgent agent(agent_options(fmt::format("127.0.0.1:{}", b->southbound_port()), n.host,
                                   e.json(), dir.path() / "agent"));
  const json nic = a->create("vm-nics", {{"vm_subnet_id", n.subnet},
                                         {"vm_name", "web"},
                                         {"host_id", n.host},
                                         {"interface", "vnet-web"}});
  auto realized_on_b = [&] {
    const json h = b->call("GET", "/api/v1/hosts/" + n.host).json();
    return h["connected"] == true && h["realized_generation"] == h["desired_generation"] &&
           h["desired_generation"].get<uint64_t>() > 0;
  };
  EXPECT_TRUE(eventually(realized_on_b)) << b->call("GET", "/api/v1/hosts/" + n.host).body;
  // The session is B's; A shows the same (host_status), and a write through
  // A waits for, and sees, the agent's ack through B.
  auto same_on_a = [&] {
    const json ha = a->call("GET", "/api/v1/hosts/" + n.host).json();
    const json hb = b->call("GET", "/api/v1/hosts/" + n.host).json();
    return ha["connected"] == true && ha["realized_generation"] == hb["realized_generation"] &&
           ha["desired_generation"] == hb["desired_generation"] &&
           ha["configuration_state"] == hb["configuration_state"];
  };
  EXPECT_TRUE(eventually(same_on_a)) << a->call("GET", "/api/v1/hosts/" + n.host).body;
  const auto waited = a->call("POST", "/api/v1/vm-nics?wait=realized&timeout=10",
                              {{"vm_subnet_id", n.subnet},
                               {"vm_name", "db"},
                               {"host_id", n.host},
                               {"interface", "vnet-db"}});
  EXPECT_EQ(waited.status, 201) << waited.body;
  EXPECT_EQ(waited.headers.count("vnet-realization") ? waited.headers.at("vnet-realization") : "",
            "realized")
      << waited.body;
  const auto policy = read_file(dir.path() / "agent" / "policy.json");
  std::string mac = nic["mac"];
  std::transform(mac.begin(), mac.end(), mac.begin(), ::tolower);
  std::string lower = policy;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  EXPECT_NE(lower.find(mac), std::string::npos) << policy;
}

// --controller A,B: when the agent's replica stops, it moves to the other,
// which sends only what changed (its generation is the same content's), and
// every change made meanwhile through the survivor is realized.
TEST_F(Replicas, AnAgentMovesToAnotherReplicaWhenItsReplicaStops) {
  const Net n = network(*a, 50);
  const auto e = a->call("POST", "/api/v1/hosts/" + n.host + "/enrollment");
  ASSERT_EQ(e.status, 201) << e.body;
  RunningAgent agent(agent_options(
      fmt::format("127.0.0.1:{},127.0.0.1:{}", a->southbound_port(), b->southbound_port()), n.host,
      e.json(), dir.path() / "agent"));
  // The replica holding the session (GET /hosts shows it connected through
  // both).
  auto session_on = [&](Controller& c) { return c.app().realization().status(n.host).local; };
  ASSERT_TRUE(eventually([&] { return session_on(*a) || session_on(*b); }));
  const bool on_a = session_on(*a);
  std::unique_ptr<Controller>& lost = on_a ? a : b;
  std::unique_ptr<Controller>& survivor = on_a ? b : a;
  for (int i = 0; i < 3; ++i) {
    survivor->create("vm-nics", {{"vm_subnet_id", n.subnet},
                                 {"vm_name", fmt::format("before{}", i)},
                                 {"host_id", n.host},
                                 {"interface", fmt::format("vnet-b{}", i)}});
  }
  lost.reset();                  // its sessions end with it
  for (int i = 0; i < 5; ++i) {  // a stream of changes while the agent moves
    survivor->create("vm-nics", {{"vm_subnet_id", n.subnet},
                                 {"vm_name", fmt::format("during{}", i)},
                                 {"host_id", n.host},
                                 {"interface", fmt::format("vnet-d{}", i)}});
  }
  survivor->app().engine().flush();  // desired_generation covers every create
  auto realized = [&] {
    const json h = survivor->call("GET", "/api/v1/hosts/" + n.host).json();
    return session_on(*survivor) && h["realized_generation"] == h["desired_generation"];
  };
  ASSERT_TRUE(eventually(realized)) << survivor->call("GET", "/api/v1/hosts/" + n.host).body;
  const auto policy = survivor->app().engine().policy(n.host);
  EXPECT_EQ(policy->policy.ports.size(), 8u);
  const json held = json::parse(read_file(dir.path() / "agent" / "policy.json"));
  EXPECT_EQ(held["generation"], policy->policy.generation);
  EXPECT_EQ(held["ports"].size(), 8u);
}

// migrate-store: a single controller's SQLite database, whole, into a new
// PostgreSQL database, with its CA: every row arrives, the old tokens work,
// and the host's agent, enrolled with the single controller, is served by a
// replica without enrolling again. Copying into it again is refused.
// A status announcement names the hosts whose rows changed, so the other
// replicas read only those; one naming none, or a new listening connection,
// means every row.
TEST(StatusAnnouncements, NameTheirHostsOrAskForEveryRow) {
  TempDir dir;
  const std::string url = test_store_url(dir.path());
  store::Store writer(url);
  store::Store listener(url);
  // The first wait connects and LISTENs: everything must be read once.
  EXPECT_EQ(listener.wait_for_changes(10ms),
            store::Store::kChangesAnnounced | store::Store::kStatusAnnounced);
  EXPECT_FALSE(listener.take_announced_hosts());
  auto announce = [&](const std::string& payload) {
    writer.write([&](store::Database& db) { store::announce(db, payload); });
  };
  announce("status:h1,h2");
  announce("status:h3");
  int announced = 0;
  ASSERT_TRUE(eventually([&] {
    announced |= listener.wait_for_changes(100ms);
    return (announced & store::Store::kStatusAnnounced) != 0;
  }));
  std::set<std::string> hosts;
  ASSERT_TRUE(eventually([&] {
    if (auto named = listener.take_announced_hosts()) hosts.insert(named->begin(), named->end());
    listener.wait_for_changes(20ms);
    return hosts.size() == 3;
  }));
  EXPECT_EQ(hosts, (std::set<std::string>{"h1", "h2", "h3"}));
  announce("status");
  announce("status:h4");
  bool all = false;
  ASSERT_TRUE(eventually([&] {
    listener.wait_for_changes(100ms);
    all = all || !listener.take_announced_hosts().has_value();
    return all;
  }));
  // At most kMaxAnnouncedHosts names are held; past them, every row. One
  // NOTIFY each (under PostgreSQL's 8,000-byte payload), read one at a time.
  // What the steps above announced may still be arriving: read it all first.
  while (listener.wait_for_changes(200ms) != 0) listener.take_announced_hosts();
  auto named_hosts = [&](size_t n) -> std::optional<std::set<std::string>> {
    std::string payload = "status";
    for (size_t i = 0; i < n; ++i) payload += fmt::format("{}h{}", i == 0 ? ":" : ",", i);
    announce(payload);
    std::optional<std::set<std::string>> named;
    EXPECT_TRUE(eventually([&] {
      if ((listener.wait_for_changes(100ms) & store::Store::kStatusAnnounced) == 0) return false;
      named = listener.take_announced_hosts();
      return true;
    }));
    return named;
  };
  const auto at_bound = named_hosts(store::Store::kMaxAnnouncedHosts);
  ASSERT_TRUE(at_bound);
  EXPECT_EQ(at_bound->size(), store::Store::kMaxAnnouncedHosts);
  EXPECT_FALSE(named_hosts(store::Store::kMaxAnnouncedHosts + 1));
  // A change (a sequence number) is not a status announcement.
  announce("42");
  ASSERT_TRUE(eventually(
      [&] { return (listener.wait_for_changes(100ms) & store::Store::kChangesAnnounced) != 0; }));
}

TEST(MigrateStore, ASingleControllersDatabaseMovesWholeWithItsCa) {
  if (!testing_postgresql()) GTEST_SKIP() << "needs PostgreSQL (VNET_TEST_POSTGRESQL)";
  TempDir dir;
  const auto single_dir = dir.path() / "single";
  const std::string sqlite = "sqlite:" + (single_dir / "vnet.db").string();
  auto single = std::make_unique<Controller>(single_dir, 0, sqlite);
  const std::string old_admin = single->admin_token();
  const json ln = single->create("logical-networks", {{"name", "dc"}});
  const json site = single->create("sites", {{"logical_network_id", ln["id"]},
                                             {"name", "s1"},
                                             {"subnets", {{{"prefix", "192.168.1.0/24"}}}}});
  const std::string h =
      single->create("hosts", {{"name", "h1"}, {"site_id", site["id"]}, {"pa", "192.168.1.10"}})
          .at("id");
  const std::string tenant =
      single->create("tenants", {{"name", "contoso"}, {"logical_network_ids", {ln["id"]}}})
          .at("id");
  const json net = single->create(
      "vm-networks", {{"name", "n"}, {"tenant_id", tenant}, {"logical_network_id", ln["id"]}});
  const json subnet = single->create(
      "vm-subnets", {{"vm_network_id", net["id"]}, {"name", "s"}, {"prefix", "10.0.0.0/24"}});
  single->create("ip-pools", {{"vm_subnet_id", subnet["id"]},
                              {"ranges", {{{"start", "10.0.0.10"}, {"end", "10.0.0.20"}}}}});
  for (int i = 0; i < 3; ++i) {
    single->create("vm-nics", {{"vm_subnet_id", subnet["id"]},
                               {"vm_name", fmt::format("vm{}", i)},
                               {"host_id", h},
                               {"interface", fmt::format("vnet-{}", i)}});
  }
  const auto e = single->call("POST", "/api/v1/hosts/" + h + "/enrollment");
  ASSERT_EQ(e.status, 201) << e.body;
  auto o = agent_options(fmt::format("127.0.0.1:{}", single->southbound_port()), h, e.json(),
                         dir.path() / "agent");
  {
    RunningAgent agent(o);
    EXPECT_TRUE(eventually([&] {
      const json s = single->call("GET", "/api/v1/hosts/" + h).json();
      return s["connected"] == true && s["realized_generation"] == s["desired_generation"];
    }));
  }
  const json nics_before = single->call("GET", "/api/v1/vm-nics").json()["items"];
  single.reset();

  const std::string url = test_store_url(dir.path() / "pg");
  EXPECT_EQ(app::migrate_store(sqlite, url, "", ""), 0);
  // Every table, row for row.
  auto from = store::open_database(sqlite);
  auto to = store::open_database(url);
  for (const auto& table : store::schema_tables()) {
    auto count = [&](store::Database& db) {
      auto s = db.prepare(fmt::format("SELECT COUNT(*) FROM {}", table));
      s.step();
      return s.column_int(0);
    };
    const int64_t expected = table == "secrets" ? 2 : count(*from);  // the CA went in
    EXPECT_EQ(count(*to), expected) << table;
  }
  EXPECT_EQ(app::migrate_store(sqlite, url, "", ""), 1);  // not into a database with data

  Controller replica(dir.path() / "r1", 0, url, single_dir / "store.key");
  EXPECT_EQ(read_file(dir.path() / "r1" / "ca.crt"), read_file(single_dir / "ca.crt"));
  const auto nics = replica.call("GET", "/api/v1/vm-nics", nullptr, old_admin);
  ASSERT_EQ(nics.status, 200) << nics.body;
  EXPECT_EQ(nics.json()["items"], nics_before);
  // The agent, with its old certificate, is served by the replica.
  o.controller = fmt::format("127.0.0.1:{}", replica.southbound_port());
  RunningAgent agent(o);
  replica.create("vm-nics", {{"vm_subnet_id", subnet["id"]},
                             {"vm_name", "after"},
                             {"host_id", h},
                             {"interface", "vnet-after"}});
  replica.app().engine().flush();
  EXPECT_TRUE(eventually([&] {
    const json s = replica.call("GET", "/api/v1/hosts/" + h).json();
    return s["connected"] == true && s["realized_generation"] == s["desired_generation"];
  })) << replica.call("GET", "/api/v1/hosts/" + h).body;
  const json held = json::parse(read_file(dir.path() / "agent" / "policy.json"));
  EXPECT_EQ(held["ports"].size(), 4u);
}

// PostgreSQL restarted in the middle of a stream of writes through two
// replicas (on a server of this test's own: the suite's is shared): the
// writes that meet the outage get 503 with Retry-After, every 201 is in the
// database afterwards, and both replicas recover by themselves (writes work
// again, and a change through one reaches the other's policy).
TEST(StoreOutage, PostgresqlRestartedUnderLoadLosesNoAcknowledgedWrite) {
  if (!testing_postgresql()) GTEST_SKIP() << "needs PostgreSQL (VNET_TEST_POSTGRESQL)";
  TempDir dir;
  const std::string state = (dir.path() / "pg.json").string();
  auto script = [&](const std::string& verb) {
    return std::system(
        fmt::format("/usr/bin/python3 {} {} {} >/dev/null", VNET_POSTGRESQL_SCRIPT, verb, state)
            .c_str());
  };
  ASSERT_EQ(script("start"), 0);
  struct Stop {
    std::function<int(const std::string&)> f;
    ~Stop() { f("stop"); }
  } stop{script};
  const std::string url = json::parse(read_file(state)).at("url").get<std::string>();
  Controller a(dir.path() / "a", 0, url);
  Controller b(dir.path() / "b", 0, url, dir.path() / "a" / "store.key");
  const json ln = a.create("logical-networks", {{"name", "dc"}});
  const json site = a.create("sites", {{"logical_network_id", ln["id"]},
                                       {"name", "s1"},
                                       {"subnets", {{{"prefix", "192.168.1.0/24"}}}}});
  const std::string host =
      a.create("hosts", {{"name", "h1"}, {"site_id", site["id"]}, {"pa", "192.168.1.10"}}).at("id");
  const std::string tenant =
      a.create("tenants", {{"name", "t"}, {"logical_network_ids", {ln["id"]}}}).at("id");
  const json net = a.create(
      "vm-networks", {{"name", "n"}, {"tenant_id", tenant}, {"logical_network_id", ln["id"]}});
  const json subnet = a.create(
      "vm-subnets", {{"vm_network_id", net["id"]}, {"name", "s"}, {"prefix", "10.0.0.0/16"}});
  a.create("ip-pools", {{"vm_subnet_id", subnet["id"]},
                        {"ranges", {{{"start", "10.0.0.10"}, {"end", "10.0.200.0"}}}}});

  std::mutex m;
  std::vector<std::string> acknowledged;
  std::map<int, int> statuses;
  std::atomic<bool> done = false;
  std::vector<std::thread> writers;
  for (Controller* via : {&a, &b}) {
    writers.emplace_back([&, via] {
      for (int i = 0; !done; ++i) {
        HttpResult r;
        try {
          r = via->call("POST", "/api/v1/vm-nics",
                        {{"vm_subnet_id", subnet["id"]}, {"vm_name", fmt::format("vm{}", i)}});
        } catch (const std::exception&) {
          continue;
        }
        std::lock_guard lock(m);
        ++statuses[r.status];
        if (r.status == 201) acknowledged.push_back(r.json()["id"]);
        if (r.status == 503) {
          EXPECT_EQ(r.headers.count("retry-after"), 1u);
          // Where the database is stays in the controller's log.
          EXPECT_EQ(r.body.find("postgresql"), std::string::npos) << r.body;
        }
      }
    });
  }
  std::this_thread::sleep_for(500ms);
  ASSERT_EQ(script("restart"), 0);
  std::this_thread::sleep_for(1500ms);  // writes go on after the restart
  done = true;
  for (auto& w : writers) w.join();
  for (const auto& [status, n] : statuses) {
    EXPECT_TRUE(status == 201 || status == 503) << n << " answers " << status;
    fmt::print("{} answers {}\n", n, status);
  }
  // Every acknowledged NIC is there.
  std::set<std::string> stored;
  auto db = store::open_database(url);
  auto s = db->prepare("SELECT id FROM vm_nics");
  while (s.step()) stored.insert(s.column_text(0));
  for (const auto& id : acknowledged) EXPECT_TRUE(stored.contains(id)) << id;
  EXPECT_GT(acknowledged.size(), 10u);
  // Both recover: a write through each, and a change through B reaches A's
  // policy (A's follower listens again).
  const json nic = b.create("vm-nics", {{"vm_subnet_id", subnet["id"]},
                                        {"vm_name", "after"},
                                        {"host_id", host},
                                        {"interface", "vnet-after"}});
  EXPECT_EQ(a.call("POST", "/api/v1/tenants", {{"name", "after"}}).status, 201);
  EXPECT_TRUE(eventually([&] {
    const auto p = a.app().engine().policy(host);
    return p && p->policy.ports.size() == 1;
  })) << "A did not follow B after the restart";
}

TEST(ReplicaStart, AReplicaWithoutTheStoreKeyOrWithAnotherRefusesToStartAndSaysWhy) {
  if (!testing_postgresql()) GTEST_SKIP() << "replicas need PostgreSQL (VNET_TEST_POSTGRESQL)";
  TempDir dir;
  const std::string url = test_store_url(dir.path() / "a");
  Controller first(dir.path() / "a", 0, url);
  try {
    Controller none(dir.path() / "none", 0, url);
    ADD_FAILURE() << "started without the store key";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("store.key does not exist"), std::string::npos)
        << e.what();
  }
  std::filesystem::create_directories(dir.path() / "other");
  write_file_atomically(dir.path() / "other" / "store.key", tls::random_key(), 0600);
  try {
    Controller other(dir.path() / "other", 0, url);
    ADD_FAILURE() << "started with another store key";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("is not the key the database's CA key is sealed with"),
              std::string::npos)
        << e.what();
  }
  write_file_atomically(dir.path() / "other" / "store.key", "sixteen bytes!!!", 0600);
  try {
    Controller short_key(dir.path() / "other", 0, url);
    ADD_FAILURE() << "started with a 16-byte store key";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("holds 16 bytes, not 32"), std::string::npos) << e.what();
  }
  // The database's CA key is not in the clear.
  auto db = store::open_database(url);
  auto s = db->prepare("SELECT value FROM secrets WHERE name = 'ca.key'");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.column_text(0).rfind("v1:", 0), 0u);
  EXPECT_EQ(s.column_text(0).find("PRIVATE KEY"), std::string::npos);
}

// Three replicas started at once on an empty schema: the migrations are
// applied once and the first admin token is made by exactly one of them.
TEST(ReplicaStart, ThreeAtOnceMigrateOnceAndOneWritesTheFirstAdminToken) {
  if (!testing_postgresql()) GTEST_SKIP() << "replicas need PostgreSQL (VNET_TEST_POSTGRESQL)";
  TempDir dir;
  const std::string url = test_store_url(dir.path() / "r0");
  std::vector<std::unique_ptr<Controller>> replicas(3);
  std::vector<std::thread> starts;
  for (int i = 0; i < 3; ++i) {
    starts.emplace_back([&, i] {
      replicas[i] = std::make_unique<Controller>(dir.path() / fmt::format("r{}", i), 0, url,
                                                 dir.path() / "store.key");
    });
  }
  for (auto& t : starts) t.join();
  int first = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(replicas[i]);
    if (replicas[i]->app().first_admin_token()) ++first;
    EXPECT_EQ(std::filesystem::exists(dir.path() / fmt::format("r{}", i) / "admin.token"),
              replicas[i]->app().first_admin_token().has_value());
  }
  EXPECT_EQ(first, 1);
  auto db = store::open_database(url);
  auto s = db->prepare("SELECT version, COUNT(*) FROM schema_migrations GROUP BY version");
  int versions = 0;
  while (s.step()) {
    ++versions;
    EXPECT_EQ(s.column_int(1), 1) << "version " << s.column_int(0);
  }
  EXPECT_GE(versions, 4);
  auto admins = db->prepare("SELECT COUNT(*) FROM tokens WHERE role = 'admin'");
  admins.step();
  EXPECT_EQ(admins.column_int(0), 1 + 2);  // the first, and one per later replica (the fixture's)
}

}  // namespace
}  // namespace vnet::testing

// The southbound simulator of issue 4: a real controller in this process
// (store, engine, TLS WebSocket server, REST API) and N agent sessions opened
// from this same process with real TLS, real enrollment and the real
// protocol. It builds a model of H hosts and M NICs and measures:
//   - the full compile of every host (at controller start), next to the time
//     to load the model from SQLite in the same run (the baseline);
//   - the controller's memory (RSS growth from the empty process to the
//     started controller with every policy compiled);
//   - the time from a REST change (a NIC moving host, PATCH ?wait=realized)
//     to the ack of every affected agent, next to the same PATCH without
//     waiting (the baseline).
//
//   build/main/tests/bench/southbound_bench --hosts 1000 --nics 50000 --moves 200
//
// With --replicas R --store postgresql://... (docs/store.md), R controllers
// share the database, agent k connects to replica k mod R, and the moves are
// written through replica 0 and wait for the acks of agents on every replica.
// --failover 1 then stops the last replica and measures how long its agents
// take to be realized through the others.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <thread>

#include "controller/app/controller.h"
#include "controller/model/kinds.h"
#include "controller/model/service.h"
#include "controller/policy/engine.h"
#include "controller/policy/model.h"
#include "controller/store/store.h"
#include "shared/asio/tls_ops.h"
#include "shared/proto/southbound.h"
#include "shared/tls/x509.h"
#include "tests/controller/api_fixture.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string key;
  long value = 0;
  while (in >> key) {
    if (key == "VmRSS:") {
      in >> value;
      return value;
    }
  }
  return 0;
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

struct Identity {
  std::string host_id;
  std::string key;
  std::string cert;
};

// One simulated agent: enrolled key and certificate, a session that acks
// every snapshot and delta it receives. Like a real agent it retries a
// connection that fails (1,000 agents connecting at once can outrun the
// controller's 10 s handshake timeout); `retries` counts those.
asio::awaitable<bool> session(const Identity& id, uint16_t port, std::atomic<int>& connected,
                              uint64_t& generation);

// `ports`: the replicas, `first` the agent's own. When an established
// session ends (its replica died), the agent goes to the next replica after
// [250, 500] ms, as vnet-agent does (backoff_initial 500 ms, full jitter).
asio::awaitable<void> agent(Identity id, std::vector<uint16_t> ports, size_t first,
                            std::atomic<int>& connected, std::atomic<int>& retries) {
  auto ex = co_await asio::this_coro::executor;
  std::mt19937 rng(std::hash<std::string>{}(id.host_id));
  size_t current = first % ports.size();
  uint64_t generation = 0;  // the last acked: a resync without a snapshot when nothing changed
  for (int attempt = 0; attempt < 20;) {
    if (co_await session(id, ports[current], connected, generation)) {
      current = (current + 1) % ports.size();
      attempt = 0;
      asio::steady_timer t(ex, std::chrono::milliseconds(250 + rng() % 251));
      co_await t.async_wait(kTuple);
      continue;
    }
    ++attempt;
    ++retries;
    asio::steady_timer t(ex, std::chrono::milliseconds(250 + rng() % 750));
    co_await t.async_wait(kTuple);
  }
}

// false: the session could not be established; true: it ended after.
asio::awaitable<bool> session(const Identity& id, uint16_t port, std::atomic<int>& connected,
                              uint64_t& generation) {
  auto ex = co_await asio::this_coro::executor;
  ssl::context ctx{ssl::context::tls_client};
  ctx.set_verify_mode(ssl::verify_none);
  ctx.use_certificate_chain(asio::buffer(id.cert));
  ctx.use_private_key(asio::buffer(id.key), ssl::context::pem);
  vnet::tls_ops::TlsWebSocket ws(ex, ctx);
  auto [cec] = co_await beast::get_lowest_layer(ws).async_connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), kTuple);
  if (cec) co_return false;
  beast::get_lowest_layer(ws).socket().set_option(tcp::no_delay(true));
  if (co_await vnet::tls_ops::handshake(ws.next_layer(), ssl::stream_base::client)) co_return false;
  ws.read_message_max(vnet::proto::kMaxControllerMessage);
  websocket::response_type upgrade;
  if (co_await vnet::tls_ops::handshake(ws, upgrade, "vnet-controller", "/agent")) co_return false;
  std::string hello = vnet::proto::hello(id.host_id, generation).dump();
  co_await vnet::tls_ops::write(ws, asio::buffer(hello));
  if (generation > 0) {  // what it holds, acked again, as vnet-agent does after its hello
    std::string held = vnet::proto::ack(generation, {}).dump();
    co_await vnet::tls_ops::write(ws, asio::buffer(held));
  }
  ++connected;
  beast::flat_buffer buffer;
  for (;;) {
    buffer.clear();
    if (co_await vnet::tls_ops::read(ws, buffer)) {
      --connected;
      co_return true;
    }
    // The generation is all an ack needs; a real agent also applies.
    const json m = json::parse(beast::buffers_to_string(buffer.data()));
    generation = m["type"] == "snapshot" ? m["policy"]["generation"].get<uint64_t>()
                                         : m.value("generation", generation);
    std::string ack = vnet::proto::ack(generation, {}).dump();
    co_await vnet::tls_ops::write(ws, asio::buffer(ack));
  }
}

Identity enroll(uint16_t api, uint16_t southbound, const std::string& admin,
                const std::string& host_id) {
  const auto e =
      vnet::testing::http(api, "POST", "/api/v1/hosts/" + host_id + "/enrollment", "", admin)
          .json();
  asio::io_context io;
  ssl::context ctx{ssl::context::tls_client};
  ctx.set_verify_mode(ssl::verify_none);
  beast::ssl_stream<tcp::socket> s(io, ctx);
  s.next_layer().connect({asio::ip::make_address("127.0.0.1"), southbound});
  s.handshake(ssl::stream_base::client);
  Identity id{host_id, vnet::tls::generate_key(), ""};
  http::request<http::string_body> req{http::verb::post, "/enroll", 11};
  req.set(http::field::host, "vnet-controller");
  req.body() = json{{"host_id", host_id},
                    {"token", e["token"]},
                    {"csr", vnet::tls::make_csr(id.key, host_id)}}
                   .dump();
  req.prepare_payload();
  http::write(s, req);
  beast::flat_buffer b;
  http::response<http::string_body> res;
  http::read(s, b, res);
  id.cert = json::parse(res.body())["certificate"];
  return id;
}

// One tenant holds every object of the benchmark: no quota stops it.
vnet::app::Options bench_options(const std::filesystem::path& dir, const std::string& store,
                                 const std::filesystem::path& store_key) {
  vnet::app::Options o;
  o.data_dir = dir.string();
  o.store = store.empty() ? "sqlite:" : store;
  o.store_key = store_key.string();
  o.listen = "127.0.0.1:0";
  o.southbound = "127.0.0.1:0";
  o.log_level = "warn";
  o.api_threads = 2;
  for (const char* q : {"vm-networks=10000000", "vm-subnets=10000000", "vm-nics=10000000"})
    o.quotas.set(q);
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  int hosts = 1000;
  int nics = 50000;
  int moves = 200;
  int networks = 0;  // default: one per 100 NICs
  int replica_count = 1;
  bool failover = false;
  std::string store;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (a == "--hosts") hosts = v;
    if (a == "--nics") nics = v;
    if (a == "--moves") moves = v;
    if (a == "--networks") networks = v;
    if (a == "--replicas") replica_count = std::max(1, v);
    if (a == "--store") store = argv[i + 1];
    if (a == "--failover") failover = v != 0;
  }
  vnet::testing::TempDir dir;
  // "test": a schema of its own on the test suite's PostgreSQL
  // (VNET_TEST_POSTGRESQL, tests/support/postgresql.py), as ctest runs it.
  if (store == "test") store = vnet::testing::test_store_url(dir.path());
  if (replica_count > 1 && store.rfind("postgres", 0) != 0) {
    fmt::print(stderr, "southbound_bench: --replicas needs --store postgresql://...\n");
    return 2;
  }
  if (networks == 0) networks = std::max(1, nics / 100);
  spdlog::set_level(spdlog::level::warn);
  const long rss_empty = rss_kib();

  // 1. The model, written through the service (the same code as REST,
  //    without HTTP), on a first controller.
  std::vector<std::string> host_ids;
  std::vector<std::string> nic_ids;
  auto t = Clock::now();
  const auto key = dir.path() / "store.key";
  auto options = [&](int r) {
    return bench_options(dir.path() / fmt::format("r{}", r), store, key);
  };
  {
    vnet::app::Controller c(options(0));
    auto& s = c.service();
    const vnet::model::Principal admin{vnet::model::Role::kAdmin, "", ""};
    auto create = [&](const char* kind, const json& body) {
      return s.create(admin, vnet::model::kind(kind), body).object["id"].get<std::string>();
    };
    const std::string ln = create("logical-networks", {{"name", "dc"}});
    const std::string site = create(
        "sites",
        {{"logical_network_id", ln}, {"name", "s"}, {"subnets", {{{"prefix", "10.128.0.0/16"}}}}});
    create("ip-pools", {{"site_id", site},
                        {"subnet", "10.128.0.0/16"},
                        {"ranges", {{{"start", "10.128.0.10"}, {"end", "10.128.255.250"}}}},
                        {"gateway", "10.128.0.1"}});
    for (int h = 0; h < hosts; ++h)
      host_ids.push_back(create("hosts", {{"name", fmt::format("host{}", h)}, {"site_id", site}}));
    const std::string tenant = create("tenants", {{"name", "t"}});
    std::vector<std::string> subnets;
    for (int n = 0; n < networks; ++n) {
      const std::string net = create(
          "vm-networks",
          {{"tenant_id", tenant}, {"name", fmt::format("net{}", n)}, {"logical_network_id", ln}});
      const std::string sub =
          create("vm-subnets", {{"vm_network_id", net}, {"name", "s"}, {"prefix", "10.0.0.0/16"}});
      create("ip-pools", {{"vm_subnet_id", sub},
                          {"ranges", {{{"start", "10.0.1.1"}, {"end", "10.0.250.250"}}}}});
      subnets.push_back(sub);
    }
    // NICs spread: NIC k of network n on host (n * 7 + k * 13) % hosts.
    for (int i = 0; i < nics; ++i) {
      const int n = i % networks;
      const int k = i / networks;
      nic_ids.push_back(create("vm-nics", {{"vm_subnet_id", subnets[n]},
                                           {"vm_name", fmt::format("vm{}", i)},
                                           {"host_id", host_ids[(n * 7 + k * 13) % hosts]},
                                           {"interface", fmt::format("tap{}", i)}}));
    }
  }
  const double build_s = std::chrono::duration<double>(Clock::now() - t).count();

  // 2. Baseline: loading the model from the database, in this run.
  t = Clock::now();
  {
    vnet::store::Store db(store.empty() ? (dir.path() / "r0" / "vnet.db").string() : store);
    const auto m = db.read([](vnet::store::Database& d) { return vnet::compiler::Model::load(d); });
    if (m.vm_nics.size() != static_cast<size_t>(nics)) std::abort();
  }
  const double load_ms = ms(Clock::now() - t);

  // 3. The controllers as they start: load, compile every host, reconcile.
  const long rss_before = rss_kib();
  std::vector<std::unique_ptr<vnet::app::Controller>> replicas;
  double compile_s = 0;
  for (int r = 0; r < replica_count; ++r) {
    replicas.push_back(std::make_unique<vnet::app::Controller>(options(r)));
    compile_s = std::max(compile_s, replicas.back()->engine().stats().full_compile_seconds);
  }
  vnet::app::Controller& ctl = *replicas[0];
  const long rss_after = rss_kib();
  std::vector<std::thread> apis;
  for (auto& c : replicas) apis.emplace_back([&c] { c->run(); });
  auto stop_all = [&] {
    for (auto& c : replicas) {
      if (c) c->stop();
    }
    for (auto& a : apis) {
      if (a.joinable()) a.join();
    }
  };
  const std::string admin = [&] {
    const vnet::model::Principal a{vnet::model::Role::kAdmin, "", ""};
    return ctl.service()
        .create(a, vnet::model::kind("tokens"), {{"name", "bench"}})
        .object["token"]
        .get<std::string>();
  }();
  auto replica_of = [&](size_t k) -> vnet::app::Controller& {
    return *replicas[k % replicas.size()];
  };

  // 4. Enroll and connect every agent (agent k through replica k mod R).
  t = Clock::now();
  std::vector<Identity> ids;
  for (size_t k = 0; k < host_ids.size(); ++k) {
    ids.push_back(
        enroll(replica_of(k).api_port(), replica_of(k).southbound_port(), admin, host_ids[k]));
  }
  const double enroll_s = std::chrono::duration<double>(Clock::now() - t).count();
  asio::io_context agents_io;
  std::atomic<int> connected{0};
  std::atomic<int> retries{0};
  std::vector<uint16_t> southbound_ports;
  for (auto& c : replicas) southbound_ports.push_back(c->southbound_port());
  for (size_t k = 0; k < ids.size(); ++k) {
    asio::co_spawn(agents_io, agent(ids[k], southbound_ports, k, connected, retries),
                   asio::detached);
  }
  std::thread agents([&] { agents_io.run(); });
  t = Clock::now();
  auto all_realized = [&] {
    for (size_t k = 0; k < host_ids.size(); ++k) {
      const auto s = replica_of(k).realization().status(host_ids[k]);
      if (!s.connected || s.realized < s.desired) return false;
    }
    return true;
  };
  while (!all_realized() && Clock::now() - t < std::chrono::seconds(180))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double connect_s = std::chrono::duration<double>(Clock::now() - t).count();
  if (!all_realized()) {
    int c = 0;
    int r = 0;
    for (size_t k = 0; k < host_ids.size(); ++k) {
      const auto st = replica_of(k).realization().status(host_ids[k]);
      c += st.connected ? 1 : 0;
      r += st.connected && st.realized >= st.desired ? 1 : 0;
    }
    fmt::print(stderr,
               "southbound_bench: after {:.0f} s, {} of {} agents connected, {} realized; "
               "the simulator opened {}\n",
               connect_s, c, hosts, r, connected.load());
    stop_all();
    agents_io.stop();
    agents.join();
    return 1;
  }

  // 5. NIC moves: with ?wait=realized (until every affected agent acked),
  //    and without (the write alone, the baseline), alternating.
  std::mt19937 rng(42);
  std::vector<double> waited;
  std::vector<double> plain;
  int not_realized = 0;
  for (int i = 0; i < moves; ++i) {
    const std::string nic = nic_ids[rng() % nic_ids.size()];
    const std::string to = host_ids[rng() % host_ids.size()];
    const bool wait = i % 2 == 0;
    const auto start = Clock::now();
    const auto r = vnet::testing::http(
        ctl.api_port(), "PATCH",
        "/api/v1/vm-nics/" + nic + (wait ? "?wait=realized&timeout=30" : ""),
        json{{"host_id", to}}.dump(), admin, {{"content-type", "application/merge-patch+json"}});
    const double elapsed = ms(Clock::now() - start);
    if (r.status != 200) {
      fmt::print(stderr, "southbound_bench: PATCH answered {}: {}\n", r.status, r.body);
      return 1;
    }
    if (wait) {
      waited.push_back(elapsed);
      if (r.headers.count("vnet-realization") == 0 ||
          r.headers.at("vnet-realization") != "realized")
        ++not_realized;
    } else {
      plain.push_back(elapsed);
      ctl.engine().flush();
    }
  }
  const auto stats = ctl.engine().stats();

  // 6. Failover (--failover 1, R > 1): the last replica stops (its sessions
  //    end as a killed process's do); each of its agents counts as
  //    failed over once another replica holds its session and it acked the
  //    desired generation there.
  std::vector<double> failed_over;
  size_t orphans = 0;
  if (failover && replicas.size() > 1) {
    const size_t dead = replicas.size() - 1;
    std::vector<size_t> moving;
    for (size_t k = 0; k < host_ids.size(); ++k) {
      if (k % replicas.size() == dead) moving.push_back(k);
    }
    const auto start = Clock::now();
    replicas[dead]->stop();
    apis[dead].join();
    replicas[dead].reset();  // its sockets close, as a killed process's do
    std::vector<double> at(moving.size(), -1);
    size_t left = moving.size();
    while (left > 0 && Clock::now() - start < std::chrono::seconds(60)) {
      for (size_t i = 0; i < moving.size(); ++i) {
        if (at[i] >= 0) continue;
        for (size_t r = 0; r < dead; ++r) {
          const auto st = replicas[r]->realization().status(host_ids[moving[i]]);
          if (st.local && st.connected && st.desired > 0 && st.realized >= st.desired) {
            at[i] = ms(Clock::now() - start);
            --left;
            break;
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    for (double v : at) {
      if (v >= 0) failed_over.push_back(v);
    }
    orphans = left;
  }

  fmt::print(
      "southbound_bench: {} hosts, {} NICs in {} VM networks, {} agents connected, {} "
      "controller(s) on {}\n",
      hosts, nics, networks, connected.load(), replica_count,
      store.empty() ? "SQLite" : "PostgreSQL");
  fmt::print(
      "  model built through the service in {:.1f} s; enrollment of {} agents {:.1f} s; "
      "connect + snapshot + ack of all {:.2f} s ({} connection retries)\n",
      build_s, hosts, enroll_s, connect_s, retries.load());
  fmt::print(
      "  full compile of every host   {:8.1f} ms   ({:.2f}x loading the model from the "
      "database: {:.1f} ms; the slowest replica)\n",
      compile_s * 1000, compile_s * 1000 / load_ms, load_ms);
  fmt::print(
      "  controller memory            {:8.1f} MiB  (RSS growth at start per controller; process "
      "before any controller: {:.1f} MiB)\n",
      static_cast<double>(rss_after - rss_before) / 1024 / replica_count,
      static_cast<double>(rss_empty) / 1024);
  fmt::print(
      "  NIC move to all acks (n={})  p50 {:6.2f} ms  p99 {:6.2f} ms  max {:6.2f} ms  "
      "({:.2f}x the write alone: p50 {:.2f} ms)\n",
      waited.size(), percentile(waited, 0.5), percentile(waited, 0.99), percentile(waited, 1.0),
      percentile(waited, 0.5) / percentile(plain, 0.5), percentile(plain, 0.5));
  fmt::print(
      "  hosts recompiled per change  {:.1f} (of {}); moves not realized in time: {}\n",
      static_cast<double>(stats.hosts_recompiled) / std::max(1.0, static_cast<double>(moves)),
      hosts, not_realized);
  if (failover && replicas.size() > 1) {
    fmt::print(
        "  failover of {} agents        p50 {:6.0f} ms  p99 {:6.0f} ms  all {:6.0f} ms  "
        "({:.2f}x connecting every agent at start: {:.0f} ms); not moved in 60 s: {}\n",
        failed_over.size() + orphans, percentile(failed_over, 0.5), percentile(failed_over, 0.99),
        percentile(failed_over, 1.0), percentile(failed_over, 1.0) / (connect_s * 1000),
        connect_s * 1000, orphans);
  }
  stop_all();
  agents_io.stop();
  agents.join();
  return not_realized == 0 && orphans == 0 ? 0 : 1;
}

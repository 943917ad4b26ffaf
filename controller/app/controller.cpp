#include "controller/app/controller.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/dataplane/trace.h"
#include "controller/api/router.h"
#include "controller/api/server.h"
#include "controller/app/https.h"
#include "controller/app/status_exchange.h"
#include "controller/model/service.h"
#include "controller/policy/compiler.h"
#include "controller/policy/engine.h"
#include "controller/policy/guard.h"
#include "controller/policy/realization.h"
#include "controller/southbound/ca.h"
#include "controller/southbound/enrollment.h"
#include "controller/southbound/server.h"
#include "controller/store/copy.h"
#include "controller/store/objects.h"
#include "controller/store/postgresql.h"
#include "controller/store/records.h"
#include "controller/store/store.h"
#include "shared/log/log.h"
#include "shared/policy/json.h"
#include "shared/tls/seal.h"
#include "shared/util/file.h"
#include "shared/util/systemd.h"
#include "shared/util/time.h"

namespace vnet::app {
namespace {

// Writes the first admin token where only root can read it.
void write_secret_file(const std::filesystem::path& path, const std::string& secret) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    throw std::runtime_error(
        fmt::format("cannot write {}: {}", path.string(), std::strerror(errno)));
  const std::string line = secret + "\n";
  const bool ok = ::fchmod(fd, 0600) == 0 &&
                  ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok)
    throw std::runtime_error(
        fmt::format("cannot write {}: {}", path.string(), std::strerror(errno)));
}

void require_writable_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("--data-dir {}: cannot create it: {} (choose a writable directory)",
                    dir.string(), ec.message()));
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    throw std::runtime_error(
        fmt::format("--data-dir {}: not writable: {} (choose a writable directory)", dir.string(),
                    std::strerror(errno)));
  }
  // Every tenant's configuration, the token hashes and the CA key live here:
  // the controller's alone (also for a directory made by an older release).
  if (::chmod(dir.c_str(), 0700) != 0) {
    spdlog::warn("data_dir_mode_unchanged dir={} error={}", log::quote(dir.string()),
                 log::quote(std::strerror(errno)));
  }
}

// vnet.db and its WAL and shared-memory files: 0600. SQLite gives the -wal
// and -shm files the database file's mode, so this holds for new ones too.
void restrict_database_files(const std::filesystem::path& db) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::string path = db.string() + suffix;
    if (::chmod(path.c_str(), 0600) != 0 && errno != ENOENT) {
      spdlog::warn("database_mode_unchanged file={} error={}", log::quote(path),
                   log::quote(std::strerror(errno)));
    }
  }
}

// The router's view of the agents' side.
class AgentsBridge : public api::Agents {
 public:
  AgentsBridge(compiler::Engine& engine, compiler::Realization& realization,
               southbound::Enrollment& enrollment, southbound::Server& server,
               const southbound::CertificateAuthority& ca, HostPort southbound)
      : engine_(engine),
        realization_(realization),
        enrollment_(enrollment),
        server_(server),
        ca_(ca),
        southbound_(std::move(southbound)) {}

  std::optional<std::string> policy(const std::string& host_id) override {
    const auto c = engine_.policy(host_id);
    if (!c) return std::nullopt;
    return vnet::policy::to_json_text(c->policy, 2);
  }

  nlohmann::json enroll(const std::string& host_id, const std::string& request_host) override {
    const auto token = enrollment_.create(host_id, kEnrollmentLifetime);
    // The address agents use: the listener's own unless it is a wildcard,
    // else the name the admin used to reach this API.
    std::string address = southbound_.host;
    if (address == "0.0.0.0" || address == "::") {
      address = request_host;
      if (!address.empty() && address.front() == '[') {
        address = address.substr(0, address.find(']') + 1);
      } else if (address.find(':') != std::string::npos) {
        address = address.substr(0, address.find(':'));
      }
      if (address.empty()) address = "CONTROLLER";
    } else if (address.find(':') != std::string::npos) {
      address = "[" + address + "]";
    }
    // The token goes through a file (printf is a shell builtin), never on
    // the agent's command line, where every local user would see it in ps.
    const std::string command = fmt::format(
        "umask 077 && mkdir -p /var/lib/vnet-agent && printf '%s\\n' {} > "
        "/var/lib/vnet-agent/enrollment.token && vnet-agent --controller {}:{} --host-id {} "
        "--enrollment-token-file /var/lib/vnet-agent/enrollment.token --ca-sha256 {} "
        "--state-dir /var/lib/vnet-agent",
        token.token, address, server_.port(), host_id, ca_.ca_sha256());
    spdlog::info("enrollment_token_created host={} expires_at={}", host_id,
                 rfc3339_from_unix(token.expires_at));
    return {{"token", token.token},
            {"ca_sha256", ca_.ca_sha256()},
            {"expires_at", rfc3339_from_unix(token.expires_at)},
            {"command", command}};
  }

  bool revoke(const std::string& host_id) override {
    const bool had = enrollment_.revoke(host_id);
    server_.close_host(host_id, "revoked", "the host's certificate was revoked");
    spdlog::info("host_revoked host={} had_certificate={}", host_id, had);
    return had;
  }

  nlohmann::json trace(const nlohmann::json& nic,
                       const std::map<std::string, std::string>& query) override {
    trace::Input in;
    in.nic_id = *Uuid::parse(nic.at("id").get<std::string>());
    const auto to = net::Ipv4Address::parse(query.at("to"));
    if (!to) throw model::invalid("?to", to.error());
    in.to = *to;
    if (const auto it = query.find("src"); it != query.end()) {
      const auto src = net::Ipv4Address::parse(it->second);
      if (!src) throw model::invalid("?src", src.error());
      in.from = *src;
    }
    const std::string protocol = query.contains("protocol") ? query.at("protocol") : "icmp";
    if (protocol != "icmp" && protocol != "tcp" && protocol != "udp")
      throw model::invalid("?protocol", "must be icmp, tcp or udp");
    in.protocol = protocol == "tcp"   ? trace::Protocol::kTcp
                  : protocol == "udp" ? trace::Protocol::kUdp
                                      : trace::Protocol::kIcmp;
    if (const auto it = query.find("port"); it != query.end()) {
      if (in.protocol == trace::Protocol::kIcmp)
        throw model::invalid("?port", "goes with protocol tcp or udp");
      const std::string& p = it->second;
      if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(p) < 1 || std::stoi(p) > 65535)
        throw model::invalid("?port", "must be a port from 1 to 65535");
      in.port = static_cast<uint16_t>(std::stoi(p));
    } else if (in.protocol != trace::Protocol::kIcmp) {
      throw model::invalid("?port", "is required with protocol tcp or udp");
    }
    trace::Policies policies;
    for (const auto& c : engine_.policies()) {
      // Each Compiled owns its policy; the trace holds them while it runs.
      policies.push_back(std::shared_ptr<const vnet::policy::HostPolicy>(c, &c->policy));
    }
    const trace::Result r = trace::run(in, policies, &trace_cache_);
    nlohmann::json hops = nlohmann::json::array();
    for (const auto& h : r.hops) {
      hops.push_back({{"host_id", h.host_id.empty() ? nlohmann::json() : nlohmann::json(h.host_id)},
                      {"step", h.step},
                      {"detail", h.detail}});
    }
    return {{"verdict", r.verdict},
            {"reason", r.reason},
            {"to_nic_id", r.to_nic_id.empty() ? nlohmann::json() : nlohmann::json(r.to_nic_id)},
            {"hops", std::move(hops)}};
  }

  std::string metrics() override {
    const auto s = engine_.stats();
    std::string out = server_.metrics();
    out += "# HELP vnet_hosts_connected Hosts whose agent is connected.\n";
    out += "# TYPE vnet_hosts_connected gauge\n";
    out += fmt::format("vnet_hosts_connected {}\n", realization_.connected_count());
    out +=
        "# HELP vnet_problems What hosts report as not realized, by code (a gateway refusing "
        "new flows: nat_table_full, nat_ports_exhausted).\n";
    out += "# TYPE vnet_problems gauge\n";
    for (const auto& [code, n] : realization_.problem_counts())
      out += fmt::format("vnet_problems{{code=\"{}\"}} {}\n", code, n);
    out += "# HELP vnet_policy_full_compile_seconds The last full compile of every host.\n";
    out += "# TYPE vnet_policy_full_compile_seconds gauge\n";
    out += fmt::format("vnet_policy_full_compile_seconds {:.6f}\n", s.full_compile_seconds);
    out += "# HELP vnet_policy_hosts_recompiled_total Host compiles after changes.\n";
    out += "# TYPE vnet_policy_hosts_recompiled_total counter\n";
    out += fmt::format("vnet_policy_hosts_recompiled_total {}\n", s.hosts_recompiled);
    out += "# HELP vnet_policy_generations_total Generations bumped after changes.\n";
    out += "# TYPE vnet_policy_generations_total counter\n";
    out += fmt::format("vnet_policy_generations_total {}\n", s.generations_bumped);
    out += "# HELP vnet_policy_full_recompiles_total Fallbacks to a full recompile.\n";
    out += "# TYPE vnet_policy_full_recompiles_total counter\n";
    out += fmt::format("vnet_policy_full_recompiles_total {}\n", s.full_recompiles);
    return out;
  }

  uint64_t when_realized(uint64_t sequence, std::function<void()> done) override {
    return realization_.when_realized(sequence, std::move(done));
  }
  void cancel_wait(uint64_t handle) override { realization_.cancel(handle); }
  bool realized(uint64_t sequence) override { return realization_.realized(sequence); }

 private:
  static constexpr std::chrono::hours kEnrollmentLifetime{24};
  compiler::Engine& engine_;
  compiler::Realization& realization_;
  southbound::Enrollment& enrollment_;
  southbound::Server& server_;
  // Tables of recent policies: a trace does not rebuild them (issue 16's
  // debt: 743 ms a trace for a million records).
  trace::TableCache trace_cache_;
  const southbound::CertificateAuthority& ca_;
  HostPort southbound_;
};

}  // namespace

std::string default_web_dir() { return VNET_WEB_DIR; }

HostPort parse_host_port(const std::string& text, const std::string& option) {
  const size_t colon = text.rfind(':');
  std::string host = colon == std::string::npos ? "" : text.substr(0, colon);
  const std::string port = colon == std::string::npos ? "" : text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const bool digits = !port.empty() && port.size() <= 5 &&
                      port.find_first_not_of("0123456789") == std::string::npos;
  if (host.empty() || !digits || std::stoul(port) > 65535) {
    throw std::invalid_argument(
        fmt::format("{} \"{}\" is not ADDR:PORT, e.g. 127.0.0.1:8080", option, text));
  }
  return {host, static_cast<uint16_t>(std::stoul(port))};
}

// What agents report of their uplink's MTU, written through the service on
// a thread of its own, so the southbound thread never waits for the
// database: at most one report per host waits (the latest), so the queue
// is bounded by the hosts that exist.
class LinkMtus {
 public:
  // host, uplink MTU, external MTU (0: not reported).
  using Record = std::function<void(const std::string&, uint16_t, uint16_t)>;
  void start(Record record) {
    thread_ = std::thread([this, record = std::move(record)] {
      std::unique_lock lock(mutex_);
      while (true) {
        wake_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
        if (stopping_) return;
        auto [host, mtus] = *pending_.begin();
        pending_.erase(pending_.begin());
        lock.unlock();
        record(host, mtus.first, mtus.second);
        lock.lock();
      }
    });
  }
  // The latest report per host: a field not reported keeps what is pending.
  void report(const std::string& host, uint16_t uplink, uint16_t external) {
    {
      std::lock_guard lock(mutex_);
      auto& pending = pending_[host];
      if (uplink != 0) pending.first = uplink;
      if (external != 0) pending.second = external;
    }
    wake_.notify_one();
  }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }
  ~LinkMtus() { stop(); }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, std::pair<uint16_t, uint16_t>> pending_;
  bool stopping_ = false;
  std::thread thread_;
};

struct Controller::Impl {
  explicit Impl(const Options& o)
      : options(o),
        listen(parse_host_port(o.listen, "--listen")),
        southbound_at(parse_host_port(o.southbound, "--southbound")),
        dir((require_writable_dir(o.data_dir), std::filesystem::path(o.data_dir))),
        store(store_url(o)),
        service(store),
        engine(store, realization),
        ca(dir, store,
           o.store_key.empty() ? dir / "store.key" : std::filesystem::path(o.store_key)),
        enrollment(store, ca),
        southbound({.address = southbound_at.host,
                    .port = southbound_at.port,
                    .max_connections = o.max_agent_connections},
                   engine, realization, ca, enrollment),
        agents(engine, realization, enrollment, southbound, ca, southbound_at),
        web(o.web_dir.empty() ? default_web_dir() : o.web_dir),
        router(service, metrics, &agents, &web) {
    if (store.engine() == store::Engine::kSqlite) restrict_database_files(store_url(o));
    if (!web.installed()) {
      spdlog::warn("console_missing web_dir={} detail={}", log::quote(web.root().string()),
                   log::quote("no index.html there; / answers 404 (see --web-dir)"));
    }
    if (auto secret = service.bootstrap_admin_token()) {
      write_secret_file(dir / "admin.token", *secret);
      first_admin_token = secret;
      spdlog::info("first_start admin_token_file={} database={}",
                   log::quote((dir / "admin.token").string()), log::quote(store.name()));
    }
    engine.set_listener([this](const std::string& host, auto compiled) {
      if (compiled) {
        southbound.policy_changed(host);
      } else {
        southbound.close_host(host, "host_deleted", "the host was deleted");
      }
    });
    // GET /hosts shows when each host's certificate expires.
    for (const auto& [host, not_after] : enrollment.certificates())
      realization.set_certificate(host, not_after);
    enrollment.set_observer([this](const std::string& host, std::optional<int64_t> not_after) {
      realization.set_certificate(host, not_after);
    });
    engine.start();
    // Every write is checked against the agents' own validator before it
    // commits (compiler/guard.h).
    guard = std::make_unique<compiler::PolicyGuard>(
        store.read([](store::Database& db) { return compiler::Model::load(db); }));
    service.set_guard(
        {.check =
             [this](const std::vector<model::Change>& changes) {
               if (auto refusal = guard->check(changes)) {
                 throw model::conflict(fmt::format(
                     "the change would give host {} a policy its agent must refuse ({}); "
                     "nothing was changed",
                     refusal->host_id, refusal->error.to_string()));
               }
             },
         .on_end = [this](bool committed) { committed ? guard->commit() : guard->rollback(); },
         .follow =
             [this](const std::vector<model::Change>& changes) {
               if (std::any_of(changes.begin(), changes.end(), [](const model::Change& c) {
                     return c.collection == model::kResyncAll;
                   })) {
                 guard = std::make_unique<compiler::PolicyGuard>(
                     store.read([](store::Database& db) { return compiler::Model::load(db); }));
               } else {
                 guard->follow(changes);
               }
             }});
    service.set_change_sink(
        [this](std::vector<model::Change> changes) { return engine.submit(std::move(changes)); });
    service.set_realization(&realization);
    service.set_quota_defaults(o.quotas);
    api = std::make_unique<api::Server>(
        api::ServerOptions{.address = listen.host,
                           .port = listen.port,
                           .threads = o.api_threads,
                           .max_connections = o.max_connections},
        [this](const api::Request& request) {
          const auto started = std::chrono::steady_clock::now();
          api::Response response = router.handle(request);
          metrics.observe(
              request.method, response.route, response.status,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
          return response;
        });
    https = std::make_unique<ApiCertificates>(*api, ca, dir, listen.host, o.https);
    southbound.on_link_mtus([this](const std::string& host, uint16_t uplink, uint16_t external) {
      link_mtus.report(host, uplink, external);
    });
    link_mtus.start([this](const std::string& host, uint16_t uplink, uint16_t external) {
      try {
        service.record_link_mtus(host, uplink, external);
      } catch (const std::exception& e) {
        spdlog::warn("link_mtus_not_recorded host={} uplink_mtu={} external_mtu={} error={}", host,
                     uplink, external, log::quote(e.what()));
      }
    });
    southbound.start();
    // Several replicas on PostgreSQL: what the others commit reaches this
    // one's engine (and so its agents) within a notification's time; a
    // missed one is caught by the next wait's timeout.
    if (store.engine() == store::Engine::kPostgresql) {
      status = std::make_unique<StatusExchange>(store, realization);
      follower = std::thread([this] {
        while (!stopping_follower) {
          // A timeout (0) reads both: a notification may have been missed.
          int announced = store.wait_for_changes(std::chrono::seconds(1));
          if (stopping_follower) break;
          // The hosts a status announcement named: only their rows are read.
          auto hosts = store.take_announced_hosts();
          if (announced == 0) {
            announced = store::Store::kChangesAnnounced | store::Store::kStatusAnnounced;
            hosts.reset();
          }
          try {
            if (announced & store::Store::kChangesAnnounced) service.follow_changes();
            if (announced & store::Store::kStatusAnnounced)
              status->refresh(hosts ? &*hosts : nullptr);
          } catch (const std::exception& e) {
            spdlog::warn("change_follow_failed error={}", log::quote(e.what()));
          }
        }
      });
    }
  }

  void stop_follower() {
    stopping_follower = true;
    store.wake();
    if (follower.joinable()) follower.join();
  }

  Options options;
  HostPort listen;
  HostPort southbound_at;
  std::filesystem::path dir;
  store::Store store;
  model::Service service;
  compiler::Realization realization;
  compiler::Engine engine;
  std::unique_ptr<compiler::PolicyGuard> guard;
  southbound::CertificateAuthority ca;
  southbound::Enrollment enrollment;
  southbound::Server southbound;
  AgentsBridge agents;
  api::Metrics metrics;
  api::StaticFiles web;
  api::Router router;
  std::unique_ptr<api::Server> api;
  std::unique_ptr<ApiCertificates> https;
  std::optional<std::string> first_admin_token;
  std::atomic<bool> stopping_follower = false;
  LinkMtus link_mtus;
  std::unique_ptr<StatusExchange> status;  // PostgreSQL only
  std::thread follower;
};

Controller::Controller(const Options& options) : impl_(std::make_unique<Impl>(options)) {}

Controller::~Controller() {
  impl_->stop_follower();
  impl_->link_mtus.stop();
  // Nothing may call into the service once the engine is gone.
  impl_->service.set_change_sink(nullptr);
  impl_->service.set_guard({});
  impl_->service.set_realization(nullptr);
  // The engine's worker calls the southbound server: it ends first, or a
  // late compile posts to a server being destroyed.
  impl_->engine.stop();
  impl_->southbound.stop();
  // No session is left to publish through it.
  impl_->status.reset();
}

uint16_t Controller::api_port() const { return impl_->api->port(); }
uint16_t Controller::southbound_port() const { return impl_->southbound.port(); }
bool Controller::api_https() const { return impl_->https->https(); }
const std::optional<std::string>& Controller::first_admin_token() const {
  return impl_->first_admin_token;
}
model::Service& Controller::service() { return impl_->service; }
compiler::Engine& Controller::engine() { return impl_->engine; }
compiler::Realization& Controller::realization() { return impl_->realization; }
void Controller::run() { impl_->api->run(); }
void Controller::stop() { impl_->api->stop(std::chrono::seconds(5)); }
void Controller::stop_on_signals() { impl_->api->stop_on_signals(); }

int run(const Options& options) {
  // Whatever the controller creates (database, keys, tokens) is its own.
  ::umask(0077);
  if (auto error = log::init("controller", options.log_level)) {
    fmt::print(stderr, "vnet-controller: {}\n", *error);
    return 1;
  }
  try {
    Controller controller(options);
    controller.stop_on_signals();
    const std::string api_host = parse_host_port(options.listen, "--listen").host;
    spdlog::info("listening api={}://{}:{} southbound={}:{} data_dir={}",
                 controller.api_https() ? "https" : "http",
                 api_host.find(':') == std::string::npos ? api_host : "[" + api_host + "]",
                 controller.api_port(), parse_host_port(options.southbound, "--southbound").host,
                 controller.southbound_port(), log::quote(options.data_dir));
    systemd::ready(fmt::format("serving the API on port {}, agents on port {}",
                               controller.api_port(), controller.southbound_port()));
    controller.run();
    systemd::stopping();
    spdlog::info("stopped");
    return 0;
  } catch (const std::exception& e) {
    spdlog::error("startup_failed error={}", log::quote(e.what()));
    fmt::print(stderr, "vnet-controller: {}\n", e.what());
    return 1;
  }
}

std::string store_url(const Options& options) {
  const std::string& url = options.store;
  if (store::is_postgresql_url(url)) return url;
  if (url == "sqlite:" || url.empty())
    return (std::filesystem::path(options.data_dir) / "vnet.db").string();
  if (url.rfind("sqlite:", 0) == 0) return url.substr(7);
  throw std::invalid_argument(fmt::format(
      "--store \"{}\" is neither sqlite:[PATH] nor a PostgreSQL URI postgresql://...", url));
}

int migrate_store(const std::string& from, const std::string& to, std::string data_dir,
                  std::string store_key) {
  try {
    if (from.rfind("sqlite:", 0) != 0 || from.size() <= 7)
      throw std::invalid_argument(fmt::format("--from \"{}\" is not sqlite:PATH", from));
    if (!store::is_postgresql_url(to))
      throw std::invalid_argument(fmt::format("--to \"{}\" is not a PostgreSQL URI", to));
    const std::filesystem::path file = from.substr(7);
    if (!std::filesystem::exists(file))
      throw std::invalid_argument(fmt::format("--from {}: no such file", file.string()));
    if (data_dir.empty()) data_dir = file.parent_path().string();
    if (store_key.empty()) store_key = (std::filesystem::path(data_dir) / "store.key").string();
    store::Store source(from);  // brought to this binary's schema first
    store::Store target(to);
    const auto ca_key = std::filesystem::path(data_dir) / "ca.key";
    const auto ca_cert = std::filesystem::path(data_dir) / "ca.crt";
    const auto started = std::chrono::steady_clock::now();
    int64_t total = 0;
    source.read([&](store::Database& src) {
      const store::ReadTransaction snapshot(src);
      target.write([&](store::Database& dst) {
        // A new database: only what the migrations put there (the default
        // MAC pool and the built-in port profiles, which the copy brings
        // again, as the source has them now).
        for (const auto& table : store::schema_tables()) {
          const int64_t n = store::row_count(dst, table);
          const int64_t initial = table == "mac_pools" ? 1 : table == "port_profiles" ? 4 : 0;
          if (n > initial) {
            throw std::runtime_error(fmt::format(
                "--to {}: the database holds data already ({} rows in {}); migrate into a new "
                "database, before any controller has started on it",
                store::redact_url(to), n, table));
          }
        }
        store::delete_rows(dst, "mac_pools");
        store::delete_rows(dst, "port_profiles");
        const auto copied = store::copy_rows(src, dst, store::schema_tables(),
                                             [&](const std::string& table, int64_t rows) {
                                               total += rows;
                                               fmt::print("copied {:>8} rows of {}\n", rows, table);
                                             });
        if (std::filesystem::exists(ca_key) && std::filesystem::exists(ca_cert)) {
          std::string key;
          if (std::filesystem::exists(store_key)) {
            key = read_file(store_key);
          } else {
            key = tls::random_key();
            write_file_atomically(store_key, key, 0600);
            fmt::print("wrote the store key to {}: copy it to every controller (--store-key)\n",
                       store_key);
          }
          if (key.size() != tls::kSealKeyBytes)
            throw std::runtime_error(fmt::format("--store-key {}: not 32 bytes", store_key));
          store::Secrets secrets(dst);
          secrets.put("ca.crt", read_file(ca_cert));
          secrets.put("ca.key", tls::seal(key, read_file(ca_key), "vnet ca.key"));
          fmt::print("copied the CA of {} (sealed with the store key)\n", data_dir);
        } else {
          fmt::print(stderr,
                     "vnet-controller: no ca.key/ca.crt in {} (--data-dir): the replicas will "
                     "make a new CA and every host must enroll again\n",
                     data_dir);
        }
      });
    });
    fmt::print("migrated {} rows from {} to {} in {:.1f} s\n", total, file.string(),
               store::redact_url(to),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "vnet-controller: migrate-store: {} (nothing was copied)\n", e.what());
    return 1;
  }
}

int print_policy(const Options& options, const std::string& host) {
  try {
    const std::string url = store_url(options);
    if (!store::is_postgresql_url(url) && !std::filesystem::exists(url)) {
      fmt::print(stderr, "vnet-controller: {} does not exist (is --data-dir right?)\n", url);
      return 1;
    }
    store::Store store(url);
    std::string id;
    std::optional<std::pair<uint64_t, std::string>> stored;
    store.read([&](store::Database& d) {
      store::Objects hosts(d, "hosts", false);
      if (hosts.get(host)) {
        id = host;
      } else if (auto named = hosts.where({.column = "name", .value = host, .limit = 1});
                 !named.empty()) {
        id = named.front().id;
      }
      if (auto numbered = store::HostPolicies(d).get(id))
        stored = {numbered->generation, numbered->sha256};
    });
    if (id.empty()) {
      fmt::print(stderr, "vnet-controller: no host with id or name \"{}\" in {}\n", host,
                 store.name());
      return 1;
    }
    const auto model = store.read([](store::Database& d) { return compiler::Model::load(d); });
    auto p = compiler::compile(model, id);
    // The generation the running controller gives this content.
    if (stored) {
      p.generation =
          stored->second == compiler::content_hash(p) ? stored->first : stored->first + 1;
    } else {
      p.generation = 1;
    }
    fmt::print("{}\n", vnet::policy::to_json_text(p, 2));
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "vnet-controller: {}\n", e.what());
    return 1;
  }
}

}  // namespace vnet::app

// vnet-controller as a process: what an operator sees at start, at SIGTERM,
// and after kill -9 in the middle of a burst of writes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>

#include <atomic>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "tests/controller/api_fixture.h"

extern char** environ;

namespace vnet::testing {
namespace {

using nlohmann::json;

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The controller binary with its stderr in a file.
class Process {
 public:
  Process(std::vector<std::string> args, std::filesystem::path log,
          std::string binary = VNET_CONTROLLER_BINARY)
      : log_(std::move(log)) {
    // Tests run in parallel: a controller gets a free southbound port unless
    // the test names one.
    if (binary == VNET_CONTROLLER_BINARY &&
        std::find(args.begin(), args.end(), "--southbound") == args.end()) {
      args.insert(args.end(), {"--southbound", "127.0.0.1:0"});
    }
    // Under PostgreSQL (VNET_TEST_POSTGRESQL), the data directory's own
    // schema there.
    const auto data_dir = std::find(args.begin(), args.end(), "--data-dir");
    if (binary == VNET_CONTROLLER_BINARY && testing_postgresql() && data_dir != args.end() &&
        data_dir + 1 != args.end() &&
        std::find(args.begin(), args.end(), "--store") == args.end()) {
      const std::string url = test_store_url(*(data_dir + 1));
      args.insert(args.end(), {"--store", url});
    }
    args.insert(args.begin(), binary);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Process() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      wait();
    }
  }
  // The exit status, or -signal.
  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }
  void signal(int s) { kill(pid_, s); }
  std::string log() const { return read_file(log_); }
  // Whether `needle` shows up in the log within 5 s (lines about a request
  // are written after its response, so they can trail the client).
  bool logged(const std::string& needle) const {
    for (int i = 0; i < 500; ++i) {
      if (log().find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  // Waits for the "listening" line and returns the API port (or, with
  // `what` = "southbound", the southbound port).
  uint16_t port(const std::string& what = "api") {
    const std::string listening = "msg=listening api=http://127.0.0.1:";
    const std::string key = what + (what == "api" ? "=http://127.0.0.1:" : "=127.0.0.1:");
    for (int i = 0; i < 500; ++i) {
      const std::string text = log();
      if (const size_t at = text.find(listening); at != std::string::npos) {
        const size_t k = text.find(key, at);
        return static_cast<uint16_t>(std::stoi(text.substr(k + key.size())));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "the controller did not start: " << log();
    return 0;
  }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
};

TEST(Process, RefusesAnUnusableDataDirectoryInOneLine) {
  TempDir dir;
  std::ofstream(dir.path() / "file") << "x";
  Process p({"--data-dir", (dir.path() / "file" / "data").string(), "--listen", "127.0.0.1:0"},
            dir.path() / "log");
  EXPECT_EQ(p.wait(), 1);
  const std::string log = p.log();
  EXPECT_NE(log.find("vnet-controller: --data-dir"), std::string::npos) << log;
  EXPECT_NE(log.find("choose a writable directory"), std::string::npos) << log;
}

TEST(Process, RefusesAPortInUse) {
  TempDir dir;
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(s, 1), 0);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string taken = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  Process p({"--data-dir", (dir.path() / "data").string(), "--listen", taken}, dir.path() / "log");
  EXPECT_EQ(p.wait(), 1);
  EXPECT_NE(p.log().find("vnet-controller: cannot listen on " + taken + ": Address already in use"),
            std::string::npos)
      << p.log();
  close(s);
}

TEST(Process, RefusesABadListenAddress) {
  TempDir dir;
  Process p({"--data-dir", (dir.path() / "data").string(), "--listen", "localhost"},
            dir.path() / "log");
  EXPECT_EQ(p.wait(), 1);
  EXPECT_NE(p.log().find("--listen \"localhost\" is not ADDR:PORT"), std::string::npos) << p.log();
}

// --store: anything but sqlite:[PATH] or a PostgreSQL URI is refused, and a
// PostgreSQL that cannot be reached stops the start with its address, never
// its password.
TEST(Process, AStoreThatIsNotOneOrCannotBeReachedStopsTheStartWithTheReason) {
  TempDir dir;
  Process other({"--data-dir", (dir.path() / "a").string(), "--listen", "127.0.0.1:0", "--store",
                 "mysql://vnet@db/vnet"},
                dir.path() / "a.log");
  EXPECT_EQ(other.wait(), 1);
  EXPECT_NE(other.log().find("--store \"mysql://vnet@db/vnet\" is neither sqlite:[PATH] nor a "
                             "PostgreSQL URI"),
            std::string::npos)
      << other.log();
  const uint16_t closed = [] {
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t n = sizeof a;
    ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &n);
    ::close(s);
    return ntohs(a.sin_port);
  }();
  Process away({"--data-dir", (dir.path() / "b").string(), "--listen", "127.0.0.1:0", "--store",
                fmt::format("postgresql://vnet:s3cret@127.0.0.1:{}/vnet", closed)},
               dir.path() / "b.log");
  EXPECT_EQ(away.wait(), 1);
  const std::string log = away.log();
  EXPECT_NE(log.find(fmt::format(
                "cannot connect to PostgreSQL at postgresql://vnet:***@127.0.0.1:{}", closed)),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("s3cret"), std::string::npos) << log;
}

TEST(Process, FirstStartWritesTheAdminTokenAndSigtermExitsCleanly) {
  TempDir dir;
  const auto data = dir.path() / "data";
  Process p({"--data-dir", data.string(), "--listen", "127.0.0.1:0"}, dir.path() / "log");
  const uint16_t port = p.port();
  ASSERT_NE(port, 0);
  const auto token_file = data / "admin.token";
  ASSERT_TRUE(std::filesystem::exists(token_file));
  EXPECT_EQ(std::filesystem::status(token_file).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::string token = read_file(token_file);
  token.erase(token.find_last_not_of('\n') + 1);
  EXPECT_EQ(http(port, "POST", "/api/v1/tenants", "{\"name\":\"contoso\"}", token).status, 201);
  EXPECT_TRUE(p.logged("msg=first_start admin_token_file="));
  EXPECT_TRUE(p.logged("msg=request id=")) << p.log();
  EXPECT_TRUE(p.logged("method=POST path=/api/v1/tenants status=201 duration_ms=")) << p.log();
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(), 0);
  EXPECT_TRUE(p.logged("msg=stopped"));

  // A second start finds its database and writes no new token.
  Process again({"--data-dir", data.string(), "--listen", "127.0.0.1:0"}, dir.path() / "log2");
  const uint16_t port2 = again.port();
  EXPECT_EQ(http(port2, "GET", "/api/v1/tenants", "", token).json().at("items").size(), 1u);
  EXPECT_EQ(again.log().find("first_start"), std::string::npos);
}

// A client connection that only connects (and stays open until destroyed).
class IdleConnection {
 public:
  explicit IdleConnection(uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~IdleConnection() { close(fd_); }
  bool connected() const { return connected_; }

 private:
  int fd_;
  bool connected_ = false;
};

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Out of file descriptors (EMFILE): the accept loop backs off instead of
// spinning, logs a line per ten seconds with the count it left out, and
// serves again once descriptors are free.
TEST(Process, OutOfDescriptorsTheAcceptLoopBacksOffAndRecovers) {
#if defined(__SANITIZE_ADDRESS__)
  // The sanitizers' runtime opens files to check a virtual call (UBSan's
  // vptr check reads /proc/self/maps): with every descriptor taken it
  // reports the controller's own error_category as invalid and aborts. The
  // main build runs this test.
  GTEST_SKIP() << "needs free descriptors for the sanitizer runtime; the main build runs it";
#endif
  TempDir dir;
  Process p({"--nofile=64", VNET_CONTROLLER_BINARY, "--data-dir", (dir.path() / "d").string(),
             "--listen", "127.0.0.1:0", "--southbound", "127.0.0.1:0"},
            dir.path() / "log", "/usr/bin/prlimit");
  const uint16_t port = p.port();
  ASSERT_NE(port, 0);
  {
    std::vector<std::unique_ptr<IdleConnection>> hold;
    for (int i = 0; i < 200; ++i) hold.push_back(std::make_unique<IdleConnection>(port));
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const std::string log = p.log();
    EXPECT_GE(count_of(log, "msg=accept_failed"), 1u) << log.substr(0, 2000);
    EXPECT_LE(count_of(log, "msg=accept_failed"), 2u) << log.substr(0, 2000);
    EXPECT_LT(log.size(), 20000u);
  }
  // The held connections are gone: the controller serves again.
  bool serving = false;
  for (int i = 0; i < 1000 && !serving; ++i) {
    try {
      serving = http(port, "GET", "/healthz").status == 200;
    } catch (const std::exception&) {  // reset while descriptors are still short
    }
    if (!serving) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(serving);
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(), 0);
}

// --max-connections: the next connection waits until one ends.
TEST(Process, AtTheConnectionLimitNewClientsWaitForAFreeSlot) {
  TempDir dir;
  Process p({"--data-dir", (dir.path() / "d").string(), "--listen", "127.0.0.1:0",
             "--max-connections", "4"},
            dir.path() / "log");
  const uint16_t port = p.port();
  auto idle = std::make_unique<std::vector<std::unique_ptr<IdleConnection>>>();
  for (int i = 0; i < 4; ++i) idle->push_back(std::make_unique<IdleConnection>(port));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::atomic<int> status{0};
  std::thread client([&] { status = http(port, "GET", "/healthz").status; });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(status.load(), 0);  // waiting in the backlog
  idle.reset();
  client.join();
  EXPECT_EQ(status.load(), 200);
  EXPECT_TRUE(p.logged("msg=connections_at_limit limit=4"));
}

// A request that once threw while its error was written (bytes that are
// not UTF-8) leaked the in-flight count, and SIGTERM then waited 10 s.
TEST(Process, SigtermAfterHostileRequestsStopsAtOnce) {
  TempDir dir;
  Process p({"--data-dir", (dir.path() / "d").string(), "--listen", "127.0.0.1:0"},
            dir.path() / "log");
  const uint16_t port = p.port();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(http(port, "GET", "/api/v1/tenants/\xff\xfe").status, 400);
    EXPECT_EQ(http(port, "GET", "/api/v1/tenants?name=%ff").status, 400);
  }
  const auto started = std::chrono::steady_clock::now();
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_EQ(p.log().find("requests_abandoned"), std::string::npos) << p.log();
}

// kill -9 while clients write: every write the controller acknowledged is
// there after a restart, and no address was handed out twice.
TEST(Process, KillDashNineDuringABurstLosesNoAcknowledgedWrite) {
  TempDir dir;
  const auto data = dir.path() / "data";
  std::string subnet;
  std::string token;
  std::set<std::pair<std::string, std::string>> acknowledged;  // (nic id, ip)
  {
    Process p({"--data-dir", data.string(), "--listen", "127.0.0.1:0"}, dir.path() / "log");
    const uint16_t port = p.port();
    token = read_file(data / "admin.token");
    token.erase(token.find_last_not_of('\n') + 1);
    auto post = [&](const std::string& c, const json& body) {
      return http(port, "POST", "/api/v1/" + c, body.dump(), token).json();
    };
    const std::string tenant = post("tenants", {{"name", "contoso"}}).at("id");
    const std::string ln = post("logical-networks", {{"name", "dc"}}).at("id");
    const std::string net =
        post("vm-networks", {{"name", "AAA"}, {"tenant_id", tenant}, {"logical_network_id", ln}})
            .at("id");
    subnet = post("vm-subnets", {{"vm_network_id", net}, {"name", "s"}, {"prefix", "10.0.0.0/16"}})
                 .at("id");
    post("ip-pools",
         {{"vm_subnet_id", subnet}, {"ranges", {{{"start", "10.0.0.10"}, {"end", "10.0.200.0"}}}}});

    std::mutex mutex;
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t) {
      writers.emplace_back([&] {
        while (!stop) {
          try {
            const auto r = http(port, "POST", "/api/v1/vm-nics",
                                json{{"vm_subnet_id", subnet}, {"vm_name", "v"}}.dump(), token);
            if (r.status == 201) {
              std::lock_guard lock(mutex);
              acknowledged.emplace(r.json().at("id"), r.json().at("ip"));
            }
          } catch (const std::exception&) {
            return;  // the controller is gone
          }
        }
      });
    }
    while (true) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      std::lock_guard lock(mutex);
      if (acknowledged.size() >= 200) break;
    }
    p.signal(SIGKILL);
    EXPECT_EQ(p.wait(), -SIGKILL);
    stop = true;
    for (auto& w : writers) w.join();
  }
  ASSERT_GE(acknowledged.size(), 200u);
  Controller again(data);
  std::set<std::string> ips;
  std::map<std::string, std::string> stored;
  std::string next;
  do {
    const auto r =
        again.call("GET", "/api/v1/vm-nics?limit=1000" + (next.empty() ? "" : "&cursor=" + next));
    const json page = r.json();
    for (const auto& nic : page.at("items")) {
      stored[nic.at("id")] = nic.at("ip");
      EXPECT_TRUE(ips.insert(nic.at("ip")).second) << "address handed out twice: " << nic.at("ip");
    }
    next = page.at("next").is_null() ? "" : page.at("next").get<std::string>();
  } while (!next.empty());
  for (const auto& [id, ip] : acknowledged) {
    ASSERT_TRUE(stored.count(id)) << "acknowledged NIC " << id << " lost";
    EXPECT_EQ(stored[id], ip);
  }
  // The allocation table matches the NICs exactly.
  const int64_t allocations = again.service().counts().at("vm-nics");
  EXPECT_EQ(allocations, static_cast<int64_t>(stored.size()));
}

TEST(Server, IdleAndSlowClientsAreDisconnected) {
  api::Server server(
      {.address = "127.0.0.1", .port = 0, .threads = 1, .idle_timeout = std::chrono::seconds(1)},
      [](const api::Request&) { return api::Response{}; });
  std::thread t([&] { server.run(); });
  auto connect_to = [&] {
    const int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(server.port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    timeval tv{5, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return s;
  };
  for (const char* partial : {"", "GET /healthz HTTP/1.1\r\nHost: x\r\n"}) {
    const int s = connect_to();
    if (*partial != '\0') {
      ASSERT_GT(send(s, partial, strlen(partial), 0), 0);
    }
    const auto started = std::chrono::steady_clock::now();
    char buffer[64];
    const ssize_t n = recv(s, buffer, sizeof buffer, 0);  // 0: closed by the server
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    EXPECT_EQ(n, 0) << "partial=\"" << partial << "\"";
    EXPECT_LT(waited, 3.0);
    close(s);
  }
  server.stop(std::chrono::milliseconds(100));
  t.join();
}

// stdout of a command (vnet-agent show ..., vnet-controller policy ...).
std::string output_of(const std::string& command) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

template <class F>
bool eventually(F f, int tenths = 100) {
  for (int i = 0; i < tenths * 10; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return f();
}

// Two replicas on PostgreSQL as processes; the agent's replica is killed
// with kill -9 in the middle of a stream of changes made through the other:
// the agent moves to the survivor (--controller A,B) and every change is
// realized there, the last generation being the survivor's.
TEST(Process, AnAgentsReplicaKilledWithKill9MovesItsAgentToTheOther) {
  if (!testing_postgresql()) GTEST_SKIP() << "replicas need PostgreSQL (VNET_TEST_POSTGRESQL)";
  TempDir dir;
  const std::string url = test_store_url(dir.path() / "c1");
  const std::string key = (dir.path() / "store.key").string();
  std::vector<std::unique_ptr<Process>> replicas;
  std::vector<uint16_t> api, sb;
  for (const char* name : {"c1", "c2"}) {
    replicas.push_back(std::make_unique<Process>(
        std::vector<std::string>{"--data-dir", (dir.path() / name).string(), "--listen",
                                 "127.0.0.1:0", "--store", url, "--store-key", key},
        dir.path() / (std::string(name) + ".log")));
    api.push_back(replicas.back()->port());
    sb.push_back(replicas.back()->port("southbound"));
  }
  const std::string token = [&] {
    std::string t = read_file(dir.path() / "c1/admin.token");
    return t.substr(0, t.find('\n'));
  }();
  auto call = [&](size_t r, const std::string& method, const std::string& path,
                  const json& body = nullptr) {
    return http(api[r], method, "/api/v1/" + path, body.is_null() ? "" : body.dump(), token);
  };
  const json ln = call(0, "POST", "logical-networks", {{"name", "dc"}}).json();
  const json site = call(1, "POST", "sites",
                         {{"logical_network_id", ln["id"]},
                          {"name", "s"},
                          {"subnets", {{{"prefix", "192.168.1.0/24"}}}}})
                        .json();
  const std::string h =
      call(0, "POST", "hosts", {{"name", "h1"}, {"site_id", site["id"]}, {"pa", "192.168.1.10"}})
          .json()["id"];
  const json tenant = call(1, "POST", "tenants", {{"name", "t"}}).json();
  const json net =
      call(0, "POST", "vm-networks",
           {{"tenant_id", tenant["id"]}, {"name", "blue"}, {"logical_network_id", ln["id"]}})
          .json();
  const json subnet = call(1, "POST", "vm-subnets",
                           {{"vm_network_id", net["id"]}, {"name", "s"}, {"prefix", "10.0.0.0/24"}})
                          .json();
  ASSERT_EQ(call(0, "POST", "ip-pools",
                 {{"vm_subnet_id", subnet["id"]},
                  {"ranges", {{{"start", "10.0.0.10"}, {"end", "10.0.0.100"}}}}})
                .status,
            201);
  const json e = call(0, "POST", "hosts/" + h + "/enrollment").json();
  const std::string state = (dir.path() / "agent").string();
  Process agent({"--controller", fmt::format("127.0.0.1:{},127.0.0.1:{}", sb[0], sb[1]),
                 "--host-id", h, "--enrollment-token", e["token"], "--ca-sha256", e["ca_sha256"],
                 "--state-dir", state, "--dataplane", "none"},
                dir.path() / "agent.log", VNET_AGENT_BINARY);
  auto connected_to = [&](size_t r) {
    return call(r, "GET", "hosts/" + h).json()["connected"] == true;
  };
  ASSERT_TRUE(eventually([&] { return connected_to(0) || connected_to(1); })) << agent.log();
  // Which replica holds the session: the agent's log says (GET /hosts shows
  // the host connected through both).
  ASSERT_TRUE(agent.logged("msg=connected controller=")) << agent.log();
  const size_t lost = agent.log().find(fmt::format("msg=connected controller=127.0.0.1:{}",
                                                   sb[0])) != std::string::npos
                          ? 0
                          : 1;
  const size_t survivor = 1 - lost;
  int created = 0;
  std::thread stream([&] {
    for (int i = 0; i < 20; ++i) {
      const auto r = call(survivor, "POST", "vm-nics",
                          {{"vm_subnet_id", subnet["id"]},
                           {"vm_name", fmt::format("vm{}", i)},
                           {"host_id", h},
                           {"interface", fmt::format("vnet-{}", i)}});
      if (r.status == 201) {
        ++created;
      } else {
        ADD_FAILURE() << r.status << " " << r.body;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  replicas[lost]->signal(SIGKILL);
  EXPECT_EQ(replicas[lost]->wait(), -SIGKILL);
  stream.join();
  EXPECT_EQ(created, 20);
  // Every change compiled (20 ports), connected, acked, and on the agent's disk.
  auto realized = [&] {
    const json s = call(survivor, "GET", "hosts/" + h).json();
    const json policy = call(survivor, "GET", "hosts/" + h + "/policy").json();
    if (!policy.contains("ports") || policy["ports"].size() != 20) return false;
    const json held = json::parse(read_file(dir.path() / "agent/policy.json"), nullptr, false);
    return s["connected"] == true && s["realized_generation"] == policy["generation"] &&
           s["desired_generation"] == policy["generation"] && held.is_object() &&
           held["generation"] == policy["generation"] && held["ports"].size() == 20;
  };
  ASSERT_TRUE(eventually(realized)) << agent.log();
  const std::string log = agent.log();
  EXPECT_EQ(log.find("policy_rejected"), std::string::npos) << log;
  EXPECT_NE(log.find("controller_next"), std::string::npos) << log;
}

// DESIGN.md: "a host keeps forwarding with its last policy while the
// controller is away" -- the agent restarts from policy.json with no
// controller, then catches up when the controller is back.
TEST(Process, AnAgentRestartsFromItsPolicyFileWhileTheControllerIsDown) {
  TempDir dir;
  const std::string data = (dir.path() / "c").string();
  auto controller = std::make_unique<Process>(
      std::vector<std::string>{"--data-dir", data, "--listen", "127.0.0.1:0", "--southbound",
                               "127.0.0.1:0"},
      dir.path() / "c1.log");
  const uint16_t api = controller->port();
  const uint16_t sb = controller->port("southbound");
  const std::string token = [&] {
    std::string t = read_file(dir.path() / "c/admin.token");
    return t.substr(0, t.find('\n'));
  }();
  auto call = [&](const std::string& method, const std::string& path, const json& body = nullptr) {
    return http(api, method, "/api/v1/" + path, body.is_null() ? "" : body.dump(), token);
  };
  const json ln = call("POST", "logical-networks", {{"name", "dc"}}).json();
  const json site = call("POST", "sites",
                         {{"logical_network_id", ln["id"]},
                          {"name", "s"},
                          {"subnets", {{{"prefix", "192.168.1.0/24"}}}}})
                        .json();
  const std::string h =
      call("POST", "hosts", {{"name", "h1"}, {"site_id", site["id"]}, {"pa", "192.168.1.10"}})
          .json()["id"];
  const json tenant = call("POST", "tenants", {{"name", "t"}}).json();
  const json net =
      call("POST", "vm-networks",
           {{"tenant_id", tenant["id"]}, {"name", "blue"}, {"logical_network_id", ln["id"]}})
          .json();
  const json subnet = call("POST", "vm-subnets",
                           {{"vm_network_id", net["id"]}, {"name", "s"}, {"prefix", "10.0.0.0/24"}})
                          .json();
  ASSERT_EQ(call("POST", "vm-nics",
                 {{"vm_subnet_id", subnet["id"]},
                  {"vm_name", "vm1"},
                  {"ip", "10.0.0.5"},
                  {"mac", "00:1D:D8:B7:1C:05"},
                  {"host_id", h},
                  {"interface", "vnet-vm1"}})
                .status,
            201);
  const json e = call("POST", "hosts/" + h + "/enrollment").json();
  const std::string state = (dir.path() / "a").string();
  const std::vector<std::string> first = {"--controller",       fmt::format("127.0.0.1:{}", sb),
                                          "--host-id",          h,
                                          "--enrollment-token", e["token"],
                                          "--ca-sha256",        e["ca_sha256"],
                                          "--state-dir",        state,
                                          "--dataplane",        "none"};
  auto agent = std::make_unique<Process>(first, dir.path() / "a1.log", VNET_AGENT_BINARY);
  auto realized = [&] {
    const json s = call("GET", "hosts/" + h).json();
    return s["connected"] == true && s["realized_generation"] == s["desired_generation"];
  };
  ASSERT_TRUE(eventually(realized)) << agent->log();

  const std::string show =
      fmt::format("{} show lookup-records --state-dir {}", VNET_AGENT_BINARY, state);
  const std::string records = output_of(show);
  EXPECT_NE(records.find("VirtualSubnetID  CustomerAddress  ProviderAddress  MACAddress"),
            std::string::npos)
      << records;
  EXPECT_NE(records.find("10.0.0.5         192.168.1.10     00:1D:D8:B7:1C:05  encap"),
            std::string::npos)
      << records;
  const json routes = json::parse(output_of(
      fmt::format("{} show customer-routes -o json --state-dir {}", VNET_AGENT_BINARY, state)));
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0]["prefix"], "10.0.0.0/24");

  // The offline compiler prints what the API shows.
  const std::string offline =
      output_of(fmt::format("{} policy --data-dir {} {} h1", VNET_CONTROLLER_BINARY, data,
                            testing_postgresql() ? "--store '" + test_store_url(data) + "'" : ""));
  EXPECT_EQ(json::parse(offline), call("GET", "hosts/" + h + "/policy").json()) << offline;

  // Controller down, agent restarted: it starts from policy.json.
  controller->signal(SIGTERM);
  EXPECT_EQ(controller->wait(), 0);
  agent->signal(SIGTERM);
  EXPECT_EQ(agent->wait(), 0);
  agent = std::make_unique<Process>(
      std::vector<std::string>{"--controller", fmt::format("127.0.0.1:{}", sb), "--host-id", h,
                               "--state-dir", state, "--dataplane", "none"},
      dir.path() / "a2.log", VNET_AGENT_BINARY);
  EXPECT_TRUE(agent->logged("msg=started_from_disk generation=")) << agent->log();
  EXPECT_TRUE(eventually([&] { return output_of(show).find("10.0.0.5") != std::string::npos; }));
  EXPECT_TRUE(agent->logged("msg=disconnected")) << agent->log();
  const json status = json::parse(
      output_of(fmt::format("{} show status -o json --state-dir {}", VNET_AGENT_BINARY, state)));
  EXPECT_EQ(status["connected"], false);
  EXPECT_NE(status["last_error"].get<std::string>().find("Connection refused"), std::string::npos)
      << status;

  // The controller comes back on its port: the agent reconnects by itself.
  controller = std::make_unique<Process>(
      std::vector<std::string>{"--data-dir", data, "--listen", fmt::format("127.0.0.1:{}", api),
                               "--southbound", fmt::format("127.0.0.1:{}", sb)},
      dir.path() / "c2.log");
  controller->port();
  EXPECT_TRUE(eventually(realized, 400)) << agent->log();
  agent->signal(SIGTERM);
  EXPECT_EQ(agent->wait(), 0);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "a/agent.sock"));
  // Without a certificate and without a token, the agent says what to do.
  const std::string refused = output_of(
      fmt::format("{} --controller 127.0.0.1:{} --host-id {} --dataplane none --state-dir {}",
                  VNET_AGENT_BINARY, sb, h, (dir.path() / "empty").string()));
  EXPECT_NE(refused.find("holds no certificate yet: enroll with --enrollment-token"),
            std::string::npos)
      << refused;
  // The AF_XDP engine (the default) names a missing uplink, or a missing --uplink.
  const std::string no_uplink =
      output_of(fmt::format("{} --controller 127.0.0.1:{} --host-id {} --uplink nosuch0 "
                            "--state-dir {}",
                            VNET_AGENT_BINARY, sb, h, (dir.path() / "empty").string()));
  EXPECT_NE(no_uplink.find("--uplink nosuch0: no such interface"), std::string::npos) << no_uplink;
  const std::string no_flag =
      output_of(fmt::format("{} --controller 127.0.0.1:{} --host-id {} --state-dir {}",
                            VNET_AGENT_BINARY, sb, h, (dir.path() / "empty").string()));
  EXPECT_NE(no_flag.find("--dataplane afxdp needs --uplink"), std::string::npos) << no_flag;
}

}  // namespace
}  // namespace vnet::testing

// The southbound listener (DESIGN.md section 3, docs/southbound.md): TLS 1.3
// on one port for both enrollment (POST /enroll, no client certificate yet)
// and the agent channel (WebSocket at /agent, client certificate required:
// its CN is the host id and its serial must be the host's current one).
// One thread runs every session; the policy engine wakes a host's session
// when its policy changes. Beast stays in server.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace vnet::store {
class Store;
}
namespace vnet::compiler {
class Engine;
class Realization;
}  // namespace vnet::compiler

namespace vnet::southbound {

class CertificateAuthority;
class Enrollment;

struct ServerOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 6641;  // 0: any free port (tests)
  // TLS handshake plus the agent's hello, and silence before a session is
  // considered dead (Beast pings an idle peer halfway through).
  std::chrono::seconds handshake_timeout{10};
  std::chrono::seconds idle_timeout{30};
  // Connections at once (agents and enrollments); more wait in the kernel's
  // backlog (--max-agent-connections).
  size_t max_connections = 16384;
};

class Server {
 public:
  // Binds at once; throws std::runtime_error with one line if it cannot.
  Server(ServerOptions options, compiler::Engine& engine, compiler::Realization& realization,
         const CertificateAuthority& ca, Enrollment& enrollment);
  ~Server();

  uint16_t port() const;
  void start();  // serves on its own thread
  void stop();

  // From the policy engine's thread: the host's policy changed.
  void policy_changed(const std::string& host);
  // Ends the host's session now (revoked, deleted), with a reason code.
  void close_host(const std::string& host, const std::string& code, const std::string& message);
  // Prometheus text lines for GET /metrics.
  std::string metrics() const;
  // Called on the server's thread when an agent's hello reports a new MTU
  // of its uplink or external interface (host, uplink MTU, external MTU;
  // 0: unchanged); it must be quick (the controller queues it). Set
  // before start().
  void on_link_mtus(std::function<void(const std::string&, uint16_t, uint16_t)> observer);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vnet::southbound

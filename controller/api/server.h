// The HTTP/1.1 listener of the REST API: Boost.Beast over Asio coroutines,
// kept out of this header (pimpl) so users do not compile Beast.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "controller/api/http.h"

namespace vnet::api {

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (tests)
  int threads = 2;
  // A client that sends nothing for this long, or takes longer than this to
  // send a request, is disconnected.
  std::chrono::seconds idle_timeout{30};
  // Connections served at once; more wait in the kernel's backlog until one
  // ends (--max-connections).
  size_t max_connections = 1024;
};

class Server {
 public:
  using Handler = std::function<Response(const Request&)>;

  // Binds at once; throws std::runtime_error with one clear line when the
  // address is taken or invalid.
  Server(ServerOptions options, Handler handler);
  ~Server();

  uint16_t port() const;
  // Serves HTTPS (TLS 1.2+) from now on with this certificate chain (PEM,
  // the server's certificate first) and key; called again, connections
  // opened after it get the new certificate (renewal). Throws
  // std::runtime_error saying what is wrong with them.
  void use_certificate(const std::string& chain_pem, const std::string& key_pem);
  bool tls() const;
  // Serves on the calling thread and `threads - 1` more until stop().
  void run();
  // Stops accepting, lets requests in flight finish (up to `grace`), then
  // makes run() return. Safe from any thread or a signal handler's strand.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // Stops on SIGTERM or SIGINT.
  void stop_on_signals();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vnet::api

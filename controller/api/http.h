// Requests and responses as the router sees them: plain values, no sockets,
// so handlers are tested without a server (Beast's handle_request pattern).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace vnet::api {

inline constexpr size_t kMaxBodyBytes = 1 << 20;  // 1 MiB: larger bodies get 413

struct Request {
  std::string method;                          // "GET"
  std::string target;                          // "/api/v1/vm-nics?limit=10"
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string request_id;

  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct Response;

// A response that waits before it is sent (?wait=realized): the server
// subscribes, waits until called back or `timeout`, then sends finish(done).
struct Deferred {
  std::chrono::milliseconds timeout{0};
  // Registers `wake` (which may run at once, on any thread); returns a
  // handle for cancel.
  std::function<uint64_t(std::function<void()> wake)> subscribe;
  std::function<void(uint64_t)> cancel;
  std::function<Response(bool done)> finish;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string route = "unknown";  // the route template, for metrics and logs
  std::shared_ptr<Deferred> deferred{};
};

}  // namespace vnet::api

// Requests and responses as the router sees them: plain values, no sockets,
// so handlers are tested without a server (Beast's handle_request pattern).
#pragma once

#include <map>
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

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string route = "unknown";  // the route template, for metrics and logs
};

}  // namespace vnet::api

// REST API v1 of DESIGN.md section 3 as a pure function from Request to
// Response: routing, authentication, content checks, and the mapping of
// model Problems to RFC 9457 problem documents.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "controller/api/http.h"
#include "controller/api/metrics.h"
#include "controller/api/static_files.h"
#include "controller/model/service.h"

namespace vnet::api {

// What the router asks of the policy and southbound side (implemented by
// the application; absent in tests of the router alone, where those routes
// answer 503).
class Agents {
 public:
  virtual ~Agents() = default;
  // The host's compiled policy as JSON text; nullopt for an unknown host.
  virtual std::optional<std::string> policy(const std::string& host_id) = 0;
  // A one-time enrollment token: {token, ca_sha256, expires_at, command}.
  // `request_host` is the Host header, for the agent's --controller.
  virtual nlohmann::json enroll(const std::string& host_id, const std::string& request_host) = 0;
  // Revokes the host's certificate and closes its session; false if it had none.
  virtual bool revoke(const std::string& host_id) = 0;
  // GET /trace: the path of a packet from the NIC (its stored fields) to
  // `to` (controller/trace/trace.h), as the REST answer's JSON. `query`
  // holds the parsed protocol, port and src; throws a Problem for bad ones.
  virtual nlohmann::json trace(const nlohmann::json& nic,
                               const std::map<std::string, std::string>& query) = 0;
  // Prometheus text appended to /metrics.
  virtual std::string metrics() = 0;
  // Change `sequence` realized on every affected connected host: calls
  // `done` then (maybe at once, on any thread); returns a handle.
  virtual uint64_t when_realized(uint64_t sequence, std::function<void()> done) = 0;
  virtual void cancel_wait(uint64_t handle) = 0;
  virtual bool realized(uint64_t sequence) = 0;
};

class Router {
 public:
  // `web`: the console's files, served for GET and HEAD outside /api/v1/
  // (absent in tests of the API alone).
  Router(model::Service& service, Metrics& metrics, Agents* agents = nullptr,
         const StaticFiles* web = nullptr)
      : service_(service), metrics_(metrics), agents_(agents), web_(web) {}

  Response handle(const Request& request);

  // Every route the router answers, as OpenAPI path templates with methods:
  // the OpenAPI document is built from this list, and a test compares them.
  static std::vector<std::pair<std::string, std::vector<std::string>>> routes();
  static nlohmann::json openapi();
  // The template of routes() that `path` matches; "console" for any other
  // path outside /api/v1/, "unmatched" inside it (the metrics' route label).
  static std::string route_of(const std::string& path);

 private:
  Response dispatch(const Request& request, const std::string& path, const std::string& query);
  nlohmann::json whoami(const model::Principal& who);
  Response host_action(const Request& request, const std::string& host_id,
                       const std::string& action);
  // Makes a write's response wait for realization (?wait=realized) of the
  // changes the write was given `sequence` for (model::Written).
  void defer_until_realized(Response& response, std::chrono::milliseconds timeout,
                            const model::Principal& who, const model::Kind& kind,
                            const std::string& id, bool deleted, uint64_t sequence);

  // Whether the token may run another trace now: a token bucket per token
  // (a burst of kTraceBurst, then kTracesPerSecond), so that one tenant
  // cannot keep the controller busy compiling tables.
  bool allow_trace(const std::string& token_id);

  model::Service& service_;
  Metrics& metrics_;
  Agents* agents_;
  const StaticFiles* web_;
  std::mutex trace_mutex_;
  std::map<std::string, std::pair<double, std::chrono::steady_clock::time_point>> trace_budget_;

 public:
  static constexpr double kTraceBurst = 10;
  static constexpr double kTracesPerSecond = 5;
};

// A problem document response (used by the server for errors it meets
// before the router, such as a body over 1 MiB).
Response problem_response(int status, const std::string& title, const std::string& detail,
                          const std::string& request_id);

}  // namespace vnet::api

// REST API v1 of DESIGN.md section 3 as a pure function from Request to
// Response: routing, authentication, content checks, and the mapping of
// model Problems to RFC 9457 problem documents.
#pragma once

#include <nlohmann/json.hpp>

#include "controller/api/http.h"
#include "controller/api/metrics.h"
#include "controller/model/service.h"

namespace vnet::api {

class Router {
 public:
  Router(model::Service& service, Metrics& metrics) : service_(service), metrics_(metrics) {}

  Response handle(const Request& request);

  // Every route the router answers, as OpenAPI path templates with methods:
  // the OpenAPI document is built from this list, and a test compares them.
  static std::vector<std::pair<std::string, std::vector<std::string>>> routes();
  static nlohmann::json openapi();

 private:
  Response dispatch(const Request& request, const std::string& path, const std::string& query);

  model::Service& service_;
  Metrics& metrics_;
};

// A problem document response (used by the server for errors it meets
// before the router, such as a body over 1 MiB).
Response problem_response(int status, const std::string& title, const std::string& detail,
                          const std::string& request_id);

}  // namespace vnet::api

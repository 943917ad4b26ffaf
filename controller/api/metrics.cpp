#include "controller/api/metrics.h"

#include <fmt/format.h>

#include <array>

namespace vnet::api {

namespace {

// The methods a label may name; any other is "other", so a client cannot
// add labels by inventing methods.
const std::string& method_label(const std::string& method) {
  static const std::array<std::string, 8> known = {"GET",   "HEAD",   "POST",    "PUT",
                                                   "PATCH", "DELETE", "OPTIONS", "other"};
  for (const auto& m : known) {
    if (m == method) return m;
  }
  return known.back();
}

// Prometheus text format 0.0.4: a label value escapes \, " and newline.
std::string escape(const std::string& value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

void Metrics::observe(const std::string& method, const std::string& route, int status,
                      double seconds) {
  std::lock_guard lock(mutex_);
  ++requests_[{method_label(method), route, status}];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++buckets_[i];
  }
  ++count_;
  sum_ += seconds;
}

std::string Metrics::render(const std::map<std::string, int64_t>& objects) const {
  std::lock_guard lock(mutex_);
  std::string out =
      "# HELP vnet_http_requests_total HTTP requests by method, route and status.\n"
      "# TYPE vnet_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    const auto& [method, route, status] = key;
    out += fmt::format("vnet_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}\"}} {}\n",
                       escape(method), escape(route), status, n);
  }
  out +=
      "# HELP vnet_http_request_duration_seconds Time from a request's last byte to its response.\n"
      "# TYPE vnet_http_request_duration_seconds histogram\n";
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    out += fmt::format("vnet_http_request_duration_seconds_bucket{{le=\"{}\"}} {}\n", kBuckets[i],
                       buckets_[i]);
  }
  out += fmt::format("vnet_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", count_);
  out += fmt::format("vnet_http_request_duration_seconds_sum {}\n", sum_);
  out += fmt::format("vnet_http_request_duration_seconds_count {}\n", count_);
  out +=
      "# HELP vnet_objects Objects in the network model by kind.\n"
      "# TYPE vnet_objects gauge\n";
  for (const auto& [kind, n] : objects)
    out += fmt::format("vnet_objects{{kind=\"{}\"}} {}\n", escape(kind), n);
  return out;
}

}  // namespace vnet::api

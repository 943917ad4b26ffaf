#include "controller/api/metrics.h"

#include <fmt/format.h>

namespace vnet::api {

void Metrics::observe(const std::string& method, const std::string& route, int status,
                      double seconds) {
  std::lock_guard lock(mutex_);
  ++requests_[{method, route, status}];
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
                       method, route, status, n);
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
    out += fmt::format("vnet_objects{{kind=\"{}\"}} {}\n", kind, n);
  return out;
}

}  // namespace vnet::api

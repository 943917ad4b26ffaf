// Counters and a latency histogram for GET /metrics (Prometheus text
// exposition format 0.0.4). Thread-safe; cheap enough per request.
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace vnet::api {

class Metrics {
 public:
  void observe(const std::string& method, const std::string& route, int status, double seconds);
  // `objects`: counts by collection, read from the store at scrape time.
  std::string render(const std::map<std::string, int64_t>& objects) const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;
  std::array<uint64_t, kBuckets.size()> buckets_{};
  uint64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace vnet::api

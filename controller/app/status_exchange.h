// Several controller replicas on PostgreSQL: what each replica's agent
// sessions say (connected, realized generation, problems, last seen) goes
// to the host_status table, and every replica shows the others' rows, so
// GET /hosts/{id} and ?wait=realized answer the same through any replica
// (DESIGN.md section 3, "Store"; docs/store.md).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace vnet::store {
class Store;
}
namespace vnet::compiler {
class Realization;
}

namespace vnet::app {

class StatusExchange {
 public:
  // A connected row not refreshed for this long is a replica that died.
  static constexpr std::chrono::seconds kStale{15};
  static constexpr std::chrono::seconds kHeartbeat{5};

  // Publishes `realization`'s local sessions (it becomes its publisher) from
  // a thread of its own, at most every 50 ms.
  StatusExchange(store::Store& store, compiler::Realization& realization);
  ~StatusExchange();
  StatusExchange(const StatusExchange&) = delete;
  StatusExchange& operator=(const StatusExchange&) = delete;

  // Reads the other replicas' rows into the realization (the follower
  // thread calls it when a replica announces a status change, and every
  // second). Each replica's announcements are at most every 50 ms.
  void refresh();
  const std::string& replica() const { return replica_; }

 private:
  void mark(const std::string& host);
  void run();
  void publish(const std::set<std::string>& hosts);

  store::Store& store_;
  compiler::Realization& realization_;
  const std::string replica_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::set<std::string> dirty_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vnet::app

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
  // A round of at least this many hosts waits 50 ms before the next.
  static constexpr size_t kBurst = 64;

  // Publishes `realization`'s local sessions (it becomes its publisher) from
  // a thread of its own: a round as soon as something changed, and after a
  // round of kBurst hosts or more, the next 50 ms later.
  StatusExchange(store::Store& store, compiler::Realization& realization);
  ~StatusExchange();
  StatusExchange(const StatusExchange&) = delete;
  StatusExchange& operator=(const StatusExchange&) = delete;

  // Reads the other replicas' rows into the realization (the follower
  // thread calls it when a replica announces a status change, and every
  // second for all of them).
  // `hosts`: only theirs (what an announcement named); null: every row.
  void refresh(const std::set<std::string>* hosts = nullptr);
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

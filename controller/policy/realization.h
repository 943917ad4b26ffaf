// Whether the model has reached the hosts: per host the generation the
// controller wants (desired) and the one the agent acked (realized), whether
// its agent is connected, when it was last heard from, and the problems it
// reported. The policy engine writes desired generations, southbound
// sessions write the rest, and the API reads it (GET /hosts, ?wait=realized).
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "controller/model/change.h"

namespace vnet::compiler {

// A problem an agent reports with its ack, e.g. {interface_missing, nic id}.
struct AgentProblem {
  std::string code;
  std::string message;
  std::string nic_id;      // "" when it concerns the host
  std::string gateway_id;  // a gateway's problem (nat_table_full ...)
};

struct HostStatus {
  bool connected = false;
  std::optional<std::chrono::system_clock::time_point> last_seen;
  uint64_t desired = 0;
  uint64_t realized = 0;
  std::vector<AgentProblem> problems;
  // The controller's own: the compiled policy failed validation and was
  // not sent (the host keeps its last good policy).
  std::optional<AgentProblem> compile_problem;
  // The uplink interface its agent reported in its last hello ("" unknown).
  std::string uplink;
  // When the host's certificate expires (Unix seconds); none: not enrolled.
  std::optional<int64_t> cert_expires_at;
  // The session is this replica's (the others' come from the database).
  bool local = false;
};

class Realization : public model::RealizationView {
 public:
  using Callback = std::function<void()>;

  // The policy engine: after a batch of changes up to sequence `sequence`,
  // the hosts whose policy changed and their new generations.
  void batch_done(uint64_t sequence, const std::map<std::string, uint64_t>& desired);
  // The desired generations at start, before any session.
  void set_desired(const std::string& host, uint64_t generation);
  void host_removed(const std::string& host);
  // The policy engine: the host's newest compiled policy is invalid and was
  // held back (nullopt: it is valid again).
  void set_compile_problem(const std::string& host, std::optional<AgentProblem> problem);
  // Enrollment: the host's certificate expiry (nullopt: revoked).
  void set_certificate(const std::string& host, std::optional<int64_t> not_after);

  // Southbound sessions.
  void connected(const std::string& host, const std::string& uplink = "");
  void disconnected(const std::string& host);
  void seen(const std::string& host);
  void acked(const std::string& host, uint64_t generation, std::vector<AgentProblem> problems);

  // Several replicas: `publish(host)` after each change a local session
  // makes (the app writes it to the database for the others), and what the
  // others' sessions say, merged in for hosts without a session here.
  void set_publisher(std::function<void(const std::string& host)> publish);
  struct Remote {
    bool connected = false;
    std::optional<std::chrono::system_clock::time_point> last_seen;
    uint64_t realized = 0;
    std::vector<AgentProblem> problems;
    std::string uplink;
  };
  // One lock for all of them, and the waiters looked at once.
  void merge_remote(const std::vector<std::pair<std::string, Remote>>& remotes);

  HostStatus status(const std::string& host) const;
  uint64_t connected_count() const;
  // What agents report now, by problem code, for /metrics: codes outside
  // the known set count as "other" (an agent cannot grow the label set).
  std::map<std::string, uint64_t> problem_counts() const;

  // Calls `done` once change `sequence` is settled: realized (every host it
  // concerns acked the generation it produced), or blocked (the connected
  // hosts acked, and a host it concerns has no agent connected: waiting
  // longer changes nothing). Returns an id for cancel().
  uint64_t when_realized(uint64_t sequence, Callback done);
  void cancel(uint64_t waiter);
  // Whether change `sequence` is realized now on every host it concerns.
  bool realized(uint64_t sequence) const;

  // model::RealizationView
  nlohmann::json host_state(const std::string& host_id) const override;
  nlohmann::json nic_state(const std::string& nic_id, const model::VmNic& nic) const override;
  nlohmann::json gateway_state(const std::string& gateway_id,
                               const model::Gateway& gateway) const override;
  std::string uplink(const std::string& host_id) const override;

 private:
  struct Batch {
    uint64_t sequence;  // the last change of the batch
    std::map<std::string, uint64_t> desired;
  };
  struct Waiter {
    uint64_t sequence;
    Callback done;
  };
  enum class Settled : uint8_t { kWaiting, kRealized, kBlocked };
  Settled settled_locked(uint64_t sequence) const;
  // Takes the waiters that are now satisfied; the caller calls them unlocked.
  std::vector<Callback> take_ready_locked();
  void run(std::vector<Callback> ready);

  void published(const std::string& host) const {
    if (publish_) publish_(host);
  }
  std::function<void(const std::string&)> publish_;
  mutable std::mutex mutex_;
  std::map<std::string, HostStatus> hosts_;
  std::deque<Batch> batches_;  // recent batches, oldest first
  uint64_t processed_ = 0;     // changes up to here are compiled
  std::map<uint64_t, Waiter> waiters_;
  uint64_t next_waiter_ = 1;
};

}  // namespace vnet::compiler

// Keeps every host's compiled policy current. At start it loads the model,
// compiles every host and reconciles generations with the database (a
// generation changes only when the content did, also across restarts). Then
// a worker thread takes committed changes in order, in batches, recompiles
// only the hosts whose policy can differ, bumps their generation when the
// content changed, keeps the delta from the previous generation, records
// the new generations in the store and tells the listener (the southbound
// server) and the realization tracker.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "controller/model/change.h"
#include "controller/policy/compiler.h"
#include "controller/policy/model.h"
#include "controller/policy/realization.h"
#include "shared/policy/delta.h"
#include "shared/policy/host_policy.h"

namespace vnet::store {
class Store;
}

namespace vnet::compiler {

// SHA-256 of the policy's content (everything but the generation): equal
// hashes, equal content.
std::string content_hash(const policy::HostPolicy& policy);

// One host's current policy, immutable once published.
struct Compiled {
  policy::HostPolicy policy;                 // with its generation
  std::optional<policy::PolicyDelta> delta;  // from generation - 1, when known
};

struct EngineStats {
  double full_compile_seconds = 0;  // the last full compile (at start)
  uint64_t hosts_recompiled = 0;    // since start, incremental
  uint64_t generations_bumped = 0;
  uint64_t batches = 0;
  uint64_t full_recompiles = 0;
};

class Engine {
 public:
  // Called on the worker thread for each host whose policy changed, and
  // with nullptr when the host was deleted.
  using Listener = std::function<void(const std::string& host, std::shared_ptr<const Compiled>)>;

  Engine(store::Store& store, Realization& realization);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void set_listener(Listener listener);
  // Loads, compiles everything, reconciles generations, starts the worker.
  void start();

  // The Service's change sink: queues the changes, returns their sequence.
  uint64_t submit(std::vector<model::Change> changes);

  // The host's current policy; nullptr for an unknown host, or for one whose
  // only policy so far was invalid and held back.
  std::shared_ptr<const Compiled> policy(const std::string& host) const;
  // Every host's current policy (a snapshot of the pointers).
  std::vector<std::shared_ptr<const Compiled>> policies() const;
  // Whether the host exists for the engine (with a policy, or held back).
  bool knows(const std::string& host) const;
  // Blocks until every change submitted so far is compiled (tests, shutdown).
  void flush();
  // Ends the worker: the listener is not called after this returns.
  void stop();
  EngineStats stats() const;

 private:
  void run();
  void process(std::vector<model::Change> changes, uint64_t last_sequence);
  // Loads the model again and recompiles every host (a failed batch, or a
  // replica that fell behind the change log).
  void reload_all(uint64_t last_sequence);
  // A deleted host: its policy goes, its session is told.
  void drop_host(const std::string& host);
  // Compiles `hosts`, bumps and stores what changed; returns new generations.
  std::map<std::string, uint64_t> recompile(const IdSet& hosts);
  // The generation of each host's new content (hash), in one write: the
  // stored one when the stored content is this content (numbered already,
  // by this replica before a restart or by another), else one more than both
  // the stored one and `floors` (the host's generation in this replica).
  // Counts the rows written in `written`. A host whose stored content was
  // compiled from a newer model than this one (log_seq) gets no number.
  std::map<std::string, uint64_t> assign_generations(
      const std::map<std::string, std::string>& hashes,
      const std::map<std::string, uint64_t>& floors, size_t* written = nullptr);

  store::Store& store_;
  Realization& realization_;
  Listener listener_;
  Model model_;  // the worker's alone after start()
  // compile_network() per VM network, dropped when a change touches it.
  std::unordered_map<std::string, Fragment> fragments_;
  // validate_fragment() of each cached fragment, computed with it.
  std::unordered_map<std::string, std::optional<policy::PolicyError>> fragment_errors_;
  const Fragment& fragment(const std::string& network);
  // The host's compiled policy's first error: its own parts, then the
  // fragments of its networks (each validated once, when compiled).
  std::optional<policy::PolicyError> invalid(const std::string& host,
                                             const policy::HostPolicy& policy);
  // Validates; when invalid, logs, shows policy_invalid and returns true.
  bool held_back(const std::string& host, const policy::HostPolicy& policy);
  // compile() with the cached fragments.
  policy::HostPolicy compile_host(const std::string& host);

  mutable std::mutex policies_mutex_;
  std::unordered_map<std::string, std::shared_ptr<const Compiled>> policies_;
  std::set<std::string> held_back_;  // hosts whose newest policy is invalid
  // Hosts whose new content was not numbered: the database holds content
  // compiled from a newer model (another replica's); the worker's alone.
  IdSet behind_;
  // A full reload failed: the next batch is a full reload (worker's alone).
  bool reload_pending_ = false;

  mutable std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::condition_variable idle_cv_;
  std::vector<model::Change> queue_;
  uint64_t submitted_ = 0;  // sequence of the last change queued
  uint64_t done_ = 0;       // sequence of the last change compiled
  bool stopping_ = false;
  EngineStats stats_;
  std::thread worker_;
};

}  // namespace vnet::compiler

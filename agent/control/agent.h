// vnet-agent's control side (DESIGN.md section 3): enrolls with the
// controller once, then keeps a mutual-TLS WebSocket to it, applies
// snapshots and deltas, hands each policy to the data plane, writes it to
// disk and acks its generation; reconnects with capped exponential backoff
// and jitter; serves the local admin socket. One thread; Beast stays in
// agent.cpp.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/control/dataplane.h"

namespace vnet::agent {

struct AgentOptions {
  // ADDR:PORT of the southbound listener, or several replicas' separated by
  // commas: one at a time, the next one after a failure.
  std::string controller;
  std::string host_id;
  std::string enrollment_token;  // first start only
  std::string ca_sha256;         // first start only
  std::filesystem::path state_dir = "/var/lib/vnet-agent";
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30000};
  // After a policy it refused, the agent asks for a snapshot again after
  // this, doubling up to the maximum (follower.h).
  std::chrono::milliseconds policy_backoff_initial{1000};
  std::chrono::milliseconds policy_backoff_max{60000};
  std::chrono::seconds stats_interval{30};
  // The agent asks the controller for a new certificate over its session
  // once the one it holds expires within this (host certificates last a
  // year), and looks again every renew_check_interval.
  std::chrono::hours renew_before{24 * 30};
  std::chrono::seconds renew_check_interval{3600};
};

// Which of `count` --controller addresses a host's agent tries first: spread
// by host id (so replicas share the agents), the same after a restart.
size_t first_controller(const std::string& host_id, size_t count);

class Agent {
 public:
  // Checks the options and the state directory, and starts the data plane
  // from the last policy on disk. Throws std::runtime_error with a sentence.
  Agent(AgentOptions options, std::unique_ptr<Dataplane> dataplane);
  ~Agent();

  // Runs until stop() or a signal (after stop_on_signals()); returns the exit
  // code: 0, or 1 when the controller refused the enrollment.
  int run();
  void stop();
  void stop_on_signals();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vnet::agent

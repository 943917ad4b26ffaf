// The agent's side of the southbound protocol as a pure function: the policy
// it holds and one message from the controller in, what to do out (a policy
// to install and ack, messages to send, when to ask for a snapshot again).
// No sockets, no clock, no randomness: the session in agent.cpp is a thin
// shell that feeds it and carries out its steps, and tests drive it as a
// table.
//
// A policy the agent cannot apply (it fails to parse or validate, or a delta
// does not fit what is held) is never retried at once: the agent keeps the
// policy it holds, tells the controller why (an ack of the held generation
// with `policy_apply_failed` and the validator's message) and asks for a
// fresh snapshot only after a capped exponential backoff with jitter, so a
// controller that keeps sending a bad policy cannot make the two spin.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "shared/policy/host_policy.h"
#include "shared/proto/southbound.h"

namespace vnet::agent {

struct FollowerStep {
  // A policy to hand to the data plane; the shell acks its generation with
  // the problems the data plane reports.
  std::optional<policy::HostPolicy> install;
  // Messages to send now, in order.
  std::vector<nlohmann::json> send;
  // Send a hello (asking for a snapshot) after this delay.
  std::optional<std::chrono::milliseconds> resync_after;
  // The policy was refused: the validator's message, for the log.
  std::string rejected;
  // An unknown message type (already cut to 40 bytes), for the log.
  std::string ignored;
  // A renewed certificate and the CA it comes from (PEM), to check against
  // the pinned CA and store with the key the renewal was asked for with.
  std::optional<std::pair<std::string, std::string>> certificate;
};

class Follower {
 public:
  Follower(std::string host_id, std::chrono::milliseconds backoff_initial,
           std::chrono::milliseconds backoff_max);

  // `held` is the policy installed now (nullptr: none), `problems` what the
  // data plane reported for it, and `jitter` a number in [0, 1) that picks
  // the delay within [backoff/2, backoff].
  FollowerStep on_message(const nlohmann::json& message, const policy::HostPolicy* held,
                          const std::vector<proto::Problem>& problems, double jitter);
  // How many policies in a row were refused (0 after one is installed).
  unsigned refused_in_a_row() const { return refused_; }

 private:
  std::string host_id_;
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  unsigned refused_ = 0;
};

}  // namespace vnet::agent

// The controller's side of the southbound protocol as a pure function: one
// session's state and one message from its agent in, what to do out. No
// sockets, no clock (`now` is an argument), no queues (their length is):
// the session loop in server.cpp is a thin shell that carries the steps
// out, and tests drive this as a table, hostile agents included.
//
// What an agent may not do to the controller, decided here:
//  - send anything before hello, or name another host (the session ends);
//  - send fields of the wrong type (the session ends, never the process);
//  - force a snapshot per hello: a hello after the first is answered at
//    most once per kResyncInterval (later ones only update what it holds);
//  - grow a queue: pongs beyond kMaxQueuedPongs are dropped and counted;
//  - have more than one certificate signed per session.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "controller/policy/realization.h"

namespace vnet::southbound {

inline constexpr size_t kMaxQueuedPongs = 8;
inline constexpr std::chrono::milliseconds kResyncInterval{1000};

struct SessionState {
  std::string host;         // the certificate's host id
  bool registered = false;  // hello accepted: policies may flow
  uint64_t sent = 0;        // the generation the agent has or is being sent
  // Resends that a hello asks for wait until then.
  std::chrono::steady_clock::time_point hold_until{};
  bool renewed = false;       // one certificate renewal per session
  uint16_t uplink_mtu = 0;    // what the session's hellos said of it (0: nothing yet)
  uint16_t external_mtu = 0;  // and of a gateway host's external interface
};

struct SessionStep {
  std::string type;  // the message type for metrics: a known one or "other"
  // End the session with this code and message.
  std::optional<std::pair<std::string, std::string>> close;
  bool registered = false;    // it registered now: take the host's slot
  std::string uplink;         // what its hello said of the host's uplink
  uint16_t uplink_mtu = 0;    // its MTU, when this hello changed it (0: unchanged or not said)
  uint16_t external_mtu = 0;  // the external interface's, likewise
  bool seen = false;          // a message of a registered session
  // An ack to record: generation and problems.
  std::optional<std::pair<uint64_t, std::vector<compiler::AgentProblem>>> ack;
  bool pong = false;      // queue a pong
  bool wake = false;      // the writer should look again
  std::string throttled;  // "hello", "ping" or "renew", when one was held back
  std::string renew_csr;  // sign this CSR for the host and send the certificate
};

// Applies `message` to `state`; `queued_pongs` is the pong queue's length.
SessionStep on_agent_message(SessionState& state, const nlohmann::json& message,
                             std::chrono::steady_clock::time_point now, size_t queued_pongs);

}  // namespace vnet::southbound

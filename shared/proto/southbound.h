// The southbound channel's messages (DESIGN.md section 3, docs/southbound.md):
// JSON text frames over a WebSocket on TLS 1.3. Every message is an object
// with a "type"; the builders here are the one place their fields are named,
// for the controller and the agent alike.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "shared/policy/delta.h"
#include "shared/policy/host_policy.h"

namespace vnet::proto {

// The WebSocket path of the agent channel, and the enrollment request's.
inline constexpr std::string_view kAgentPath = "/agent";
inline constexpr std::string_view kEnrollPath = "/enroll";
// The controller's certificate names itself so; agents check that name.
inline constexpr std::string_view kControllerName = "vnet-controller";
// What the controller reads from an agent (acks, stats), and what an agent
// reads from the controller (a whole policy of a large host).
inline constexpr size_t kMaxAgentMessage = 1 << 20;
inline constexpr size_t kMaxControllerMessage = 256 << 20;

struct Problem {
  std::string code;
  std::string message;
  std::string nic_id;      // "" for the host as a whole
  std::string gateway_id;  // a gateway's problem (nat_table_full, nat_ports_exhausted)
};

// agent -> controller
// `uplink` (optional): the host's uplink interface, which the controller
// then refuses as a VM NIC's interface. `uplink_mtu` (optional, 0: not
// sent): its MTU, from which the controller compiles the ports' MTU.
// `external_mtu` (optional, 0: not sent): a gateway host's external
// interface's MTU, shown on the host.
nlohmann::json hello(std::string_view host_id, uint64_t generation, std::string_view uplink = {},
                     uint16_t uplink_mtu = 0, uint16_t external_mtu = 0);
nlohmann::json ack(uint64_t generation, const std::vector<Problem>& problems);
nlohmann::json stats(const nlohmann::json& counters);
// A renewal of the host's certificate over the session (no new token):
// the agent sends a CSR for a new key, the controller answers with the
// certificate, which becomes the host's only accepted one.
inline constexpr size_t kMaxCsrBytes = 16 * 1024;
nlohmann::json renew(std::string_view csr_pem);
// controller -> agent
nlohmann::json certificate(std::string_view certificate_pem, std::string_view ca_pem);
nlohmann::json snapshot(const policy::HostPolicy& policy);
nlohmann::json delta(const policy::PolicyDelta& delta);
// either way
nlohmann::json ping();
nlohmann::json pong();

// At most this many problems in one ack (one per port of a large host).
inline constexpr size_t kMaxProblems = 65536;
// Reads an ack's problems; throws std::invalid_argument naming the field.
std::vector<Problem> problems_of(const nlohmann::json& ack);

}  // namespace vnet::proto

#include "controller/southbound/protocol.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "shared/proto/southbound.h"

namespace vnet::southbound {

using nlohmann::json;

namespace {

bool is_string(const json& m, const char* field) {
  return m.contains(field) && m[field].is_string();
}

// hello: {host_id: this certificate's host, generation: unsigned, uplink?: an interface name,
//         uplink_mtu?: 68 to 65535, external_mtu?: 68 to 65535}
std::optional<std::string> hello_error(const SessionState& s, const json& m) {
  if (!is_string(m, "host_id") || m["host_id"].get<std::string>() != s.host)
    return "hello must name this certificate's host";
  if (!m.contains("generation") || !m["generation"].is_number_unsigned())
    return "hello must carry the generation the agent holds";
  if (m.contains("uplink") &&
      (!m["uplink"].is_string() || m["uplink"].get<std::string>().size() > 15))
    return "hello's uplink must be an interface name";
  for (const char* field : {"uplink_mtu", "external_mtu"}) {
    if (m.contains(field) && (!m[field].is_number_unsigned() || m[field].get<uint64_t>() < 68 ||
                              m[field].get<uint64_t>() > 65535))
      return fmt::format("hello's {} must be an MTU from 68 to 65535", field);
  }
  return std::nullopt;
}

// The uplink MTU a (valid) hello reports when it differs from what the
// session said before, else 0: a repeated hello costs the store nothing.
uint16_t mtu_change(uint16_t& said, const json& m, const char* field) {
  const auto mtu = m.value(field, uint16_t{0});
  if (mtu == 0 || mtu == said) return 0;
  said = mtu;
  return mtu;
}

void mtu_changes(SessionState& s, SessionStep& step, const json& m) {
  step.uplink_mtu = mtu_change(s.uplink_mtu, m, "uplink_mtu");
  step.external_mtu = mtu_change(s.external_mtu, m, "external_mtu");
}

}  // namespace

SessionStep on_agent_message(SessionState& s, const json& m,
                             std::chrono::steady_clock::time_point now, size_t queued_pongs) {
  SessionStep step;
  auto close = [&](std::string code, std::string message) {
    step.close = std::pair(std::move(code), std::move(message));
    return step;
  };
  if (!m.is_object() || !is_string(m, "type")) {
    step.type = "other";
    return close("bad_frame", "a message must be a JSON object with a \"type\"");
  }
  static const std::set<std::string> known = {"hello",    "ack",   "stats", "ping",       "pong",
                                              "snapshot", "delta", "renew", "certificate"};
  const std::string type = m["type"];
  step.type = known.contains(type) ? type : "other";

  if (!s.registered) {
    if (type != "hello")
      return close("wrong_order", fmt::format("expected hello first, got {}", type.substr(0, 40)));
    if (auto error = hello_error(s, m)) return close("wrong_host", *error);
    s.registered = true;
    s.sent = m["generation"];
    step.registered = true;
    step.uplink = m.value("uplink", std::string());
    mtu_changes(s, step, m);
    step.wake = true;
    return step;
  }

  step.seen = true;
  if (type == "ack") {
    if (!m.contains("generation") || !m["generation"].is_number_unsigned() ||
        m["generation"].get<uint64_t>() > s.sent) {
      return close("bad_ack", "an ack names a generation that was not sent");
    }
    std::vector<compiler::AgentProblem> problems;
    try {
      for (const auto& p : proto::problems_of(m))
        problems.push_back({p.code, p.message, p.nic_id, p.gateway_id});
    } catch (const std::invalid_argument& e) {
      return close("bad_frame", e.what());
    }
    step.ack = std::pair(m["generation"].get<uint64_t>(), std::move(problems));
  } else if (type == "hello") {
    // The agent lost its place (a policy it could not apply): resend what
    // it lacks, but not more often than once per kResyncInterval.
    if (auto error = hello_error(s, m)) return close("wrong_host", *error);
    // Its uplink's MTU changed (the agent says so with a hello).
    mtu_changes(s, step, m);
    if (now < s.hold_until) step.throttled = "hello";
    s.hold_until = std::max(now, s.hold_until) + kResyncInterval;
    s.sent = m["generation"];
    step.wake = true;
  } else if (type == "ping") {
    if (queued_pongs < kMaxQueuedPongs) {
      step.pong = true;
      step.wake = true;
    } else {
      step.throttled = "ping";
    }
  } else if (type == "renew") {
    if (!is_string(m, "csr") || m["csr"].get<std::string>().size() > proto::kMaxCsrBytes)
      return close("bad_frame", "renew needs a CSR (PEM, at most 16 KiB)");
    if (s.renewed) {
      step.throttled = "renew";  // once per session is enough
    } else {
      s.renewed = true;
      step.renew_csr = m["csr"];
    }
  } else if (type == "pong" || type == "stats") {
    // last_seen is all they change.
  } else {
    return close("unknown_type", fmt::format("unknown message type {}", type.substr(0, 40)));
  }
  return step;
}

}  // namespace vnet::southbound

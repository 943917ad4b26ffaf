#include "agent/control/follower.h"

#include <algorithm>

#include "shared/policy/delta.h"
#include "shared/policy/json.h"

namespace vnet::agent {

using nlohmann::json;

Follower::Follower(std::string host_id, std::chrono::milliseconds backoff_initial,
                   std::chrono::milliseconds backoff_max)
    : host_id_(std::move(host_id)), initial_(backoff_initial), max_(backoff_max) {}

FollowerStep Follower::on_message(const json& m, const policy::HostPolicy* held,
                                  const std::vector<proto::Problem>& problems, double jitter) {
  FollowerStep step;
  const std::string type = m.is_object() && m.contains("type") && m["type"].is_string()
                               ? m["type"].get<std::string>()
                               : "";
  if (type == "ping") {
    step.send.push_back(proto::pong());
    return step;
  }
  if (type == "pong") return step;
  if (type == "certificate") {
    if (m.contains("certificate") && m["certificate"].is_string() && m.contains("ca_certificate") &&
        m["ca_certificate"].is_string()) {
      step.certificate =
          std::pair(m["certificate"].get<std::string>(), m["ca_certificate"].get<std::string>());
    } else {
      step.ignored = "certificate without certificate and ca_certificate";
    }
    return step;
  }
  if (type != "snapshot" && type != "delta") {
    step.ignored = type.substr(0, 40);
    return step;
  }

  Expected<policy::HostPolicy, policy::PolicyError> next =
      Unexpected(policy::PolicyError{"", "no policy"});
  if (type == "snapshot") {
    next = m.contains("policy") ? policy::from_json(m["policy"])
                                : Unexpected(policy::PolicyError{"/policy", "is required"});
    if (next && next->host_id.to_string() != host_id_)
      next = Unexpected(policy::PolicyError{"/policy/host_id", "is another host"});
  } else if (held == nullptr) {
    next = Unexpected(policy::PolicyError{"", "a delta, but no policy to apply it to"});
  } else {
    auto d = policy::delta_from_json(m);
    next = d ? policy::apply(*held, *d) : Unexpected(d.error());
  }
  if (next) {
    refused_ = 0;
    step.install = std::move(*next);
    return step;
  }

  // Refused: keep what is held, say why, and ask again later.
  step.rejected = next.error().to_string();
  std::vector<proto::Problem> reported = problems;
  reported.push_back({"policy_apply_failed",
                      "the agent refused the controller's " + type + ": " + step.rejected, "", ""});
  step.send.push_back(proto::ack(held != nullptr ? held->generation : 0, reported));
  // Capped exponential backoff: initial, 2x, 4x ... max; then a point in
  // [backoff/2, backoff] so that many hosts do not ask at the same moment.
  auto backoff = initial_;
  for (unsigned i = 0; i < refused_ && backoff < max_; ++i) backoff *= 2;
  backoff = std::min(backoff, max_);
  const double j = std::clamp(jitter, 0.0, 1.0);
  step.resync_after = std::chrono::milliseconds(
      backoff.count() / 2 + static_cast<int64_t>(j * static_cast<double>(backoff.count() / 2)));
  ++refused_;
  return step;
}

}  // namespace vnet::agent

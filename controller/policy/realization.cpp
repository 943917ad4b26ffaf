#include "controller/policy/realization.h"

#include <set>

#include <fmt/format.h>

#include "shared/util/time.h"

namespace vnet::compiler {
namespace {

using nlohmann::json;
constexpr size_t kBatchHistory = 4096;

json problem(std::string_view code, std::string_view message) {
  return json{{"code", code}, {"message", message}};
}

}  // namespace

void Realization::batch_done(uint64_t sequence, const std::map<std::string, uint64_t>& desired) {
  std::vector<Callback> ready;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [host, generation] : desired) hosts_[host].desired = generation;
    batches_.push_back({sequence, desired});
    if (batches_.size() > kBatchHistory) batches_.pop_front();
    processed_ = std::max(processed_, sequence);
    ready = take_ready_locked();
  }
  run(std::move(ready));
}

void Realization::set_desired(const std::string& host, uint64_t generation) {
  std::lock_guard lock(mutex_);
  hosts_[host].desired = generation;
}

void Realization::host_removed(const std::string& host) {
  std::vector<Callback> ready;
  {
    std::lock_guard lock(mutex_);
    hosts_.erase(host);
    ready = take_ready_locked();
  }
  run(std::move(ready));
}

void Realization::connected(const std::string& host, const std::string& uplink) {
  {
    std::lock_guard lock(mutex_);
    HostStatus& s = hosts_[host];
    s.connected = true;
    s.local = true;
    s.uplink = uplink;
    s.last_seen = std::chrono::system_clock::now();
  }
  published(host);
}

void Realization::disconnected(const std::string& host) {
  std::vector<Callback> ready;
  {
    std::lock_guard lock(mutex_);
    if (auto it = hosts_.find(host); it != hosts_.end()) {
      it->second.connected = false;
      it->second.local = false;
    }
    ready = take_ready_locked();
  }
  published(host);
  run(std::move(ready));
}

void Realization::set_publisher(std::function<void(const std::string& host)> publish) {
  publish_ = std::move(publish);
}

void Realization::merge_remote(const std::vector<std::pair<std::string, Remote>>& remotes) {
  std::vector<Callback> ready;
  {
    std::lock_guard lock(mutex_);
    bool merged = false;
    for (const auto& [host, remote] : remotes) {
      const auto it = hosts_.find(host);
      if (it == hosts_.end() || it->second.local) continue;  // unknown here, or our own session
      HostStatus& s = it->second;
      s.connected = remote.connected;
      s.last_seen = remote.last_seen;
      s.realized = remote.realized;
      s.problems = remote.problems;
      s.uplink = remote.uplink;
      merged = true;
    }
    if (merged) ready = take_ready_locked();
  }
  run(std::move(ready));
}

void Realization::set_compile_problem(const std::string& host,
                                      std::optional<AgentProblem> problem) {
  std::lock_guard lock(mutex_);
  hosts_[host].compile_problem = std::move(problem);
}

void Realization::set_certificate(const std::string& host, std::optional<int64_t> not_after) {
  std::lock_guard lock(mutex_);
  hosts_[host].cert_expires_at = not_after;
}

void Realization::seen(const std::string& host) {
  std::lock_guard lock(mutex_);
  hosts_[host].last_seen = std::chrono::system_clock::now();
}

void Realization::acked(const std::string& host, uint64_t generation,
                        std::vector<AgentProblem> problems) {
  std::vector<Callback> ready;
  {
    std::lock_guard lock(mutex_);
    HostStatus& s = hosts_[host];
    s.realized = generation;
    s.problems = std::move(problems);
    s.last_seen = std::chrono::system_clock::now();
    ready = take_ready_locked();
  }
  published(host);
  run(std::move(ready));
}

HostStatus Realization::status(const std::string& host) const {
  std::lock_guard lock(mutex_);
  const auto it = hosts_.find(host);
  return it == hosts_.end() ? HostStatus{} : it->second;
}

uint64_t Realization::connected_count() const {
  std::lock_guard lock(mutex_);
  uint64_t n = 0;
  for (const auto& [_, s] : hosts_) n += s.connected ? 1 : 0;
  return n;
}

Realization::Settled Realization::settled_locked(uint64_t sequence) const {
  if (sequence == 0) return Settled::kRealized;
  if (sequence > processed_) return Settled::kWaiting;
  // The batch that carried the change; older than the history means long
  // ago, and counts as realized as far as any waiter is concerned.
  for (auto it = batches_.rbegin(); it != batches_.rend(); ++it) {
    const bool carried = it->sequence >= sequence &&
                         (std::next(it) == batches_.rend() || std::next(it)->sequence < sequence);
    if (!carried) continue;
    bool behind = false;
    bool blocked = false;
    for (const auto& [host, generation] : it->desired) {
      const auto h = hosts_.find(host);
      if (h == hosts_.end() || !h->second.connected) {
        blocked = true;  // it cannot apply the change until its agent connects
      } else if (h->second.realized < generation) {
        behind = true;
      }
    }
    return behind ? Settled::kWaiting : blocked ? Settled::kBlocked : Settled::kRealized;
  }
  return Settled::kRealized;
}

bool Realization::realized(uint64_t sequence) const {
  std::lock_guard lock(mutex_);
  return settled_locked(sequence) == Settled::kRealized;
}

uint64_t Realization::when_realized(uint64_t sequence, Callback done) {
  {
    std::lock_guard lock(mutex_);
    if (settled_locked(sequence) == Settled::kWaiting) {
      const uint64_t id = next_waiter_++;
      waiters_.emplace(id, Waiter{sequence, std::move(done)});
      return id;
    }
  }
  done();
  return 0;
}

void Realization::cancel(uint64_t waiter) {
  std::lock_guard lock(mutex_);
  waiters_.erase(waiter);
}

std::vector<Realization::Callback> Realization::take_ready_locked() {
  std::vector<Callback> ready;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (settled_locked(it->second.sequence) != Settled::kWaiting) {
      ready.push_back(std::move(it->second.done));
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
  return ready;
}

void Realization::run(std::vector<Callback> ready) {
  for (auto& f : ready) f();
}

json Realization::host_state(const std::string& host_id) const {
  const HostStatus s = status(host_id);
  json detail = json::array();
  if (!s.connected) {
    detail.push_back(problem("host_not_connected", "no agent is connected for this host"));
  } else if (s.realized < s.desired) {
    detail.push_back(problem(
        "policy_pending", fmt::format("the agent has generation {} of {}", s.realized, s.desired)));
  }
  for (const auto& p : s.problems) {
    if (p.nic_id.empty()) detail.push_back(problem(p.code, p.message));
  }
  if (s.compile_problem)
    detail.push_back(problem(s.compile_problem->code, s.compile_problem->message));
  const bool failed =
      s.compile_problem || std::any_of(s.problems.begin(), s.problems.end(),
                                       [](const AgentProblem& p) { return p.nic_id.empty(); });
  const char* status = failed ? "failure" : detail.empty() ? "success" : "pending";
  return json{
      {"connected", s.connected},
      {"last_seen", s.last_seen ? json(rfc3339(*s.last_seen)) : json()},
      {"cert_expires_at", s.cert_expires_at ? json(rfc3339_from_unix(*s.cert_expires_at)) : json()},
      {"desired_generation", s.desired},
      {"realized_generation", s.realized},
      {"configuration_state", {{"status", status}, {"detail", std::move(detail)}}}};
}

std::string Realization::uplink(const std::string& host_id) const { return status(host_id).uplink; }

namespace {

json state_of(const char* status, json detail) {
  return json{{"status", status}, {"detail", std::move(detail)}};
}

// An object placed on a host with status `s`: failure with the host's
// problems about it (`mine` picks them), else pending while the host has no
// agent or has not applied its newest generation, else success.
template <class Mine>
json placed_state(const HostStatus& s, const char* what, Mine mine) {
  json failures = json::array();
  for (const auto& p : s.problems) {
    if (mine(p)) failures.push_back(problem(p.code, p.message));
  }
  if (!failures.empty()) return state_of("failure", std::move(failures));
  if (!s.connected) {
    return state_of(
        "pending",
        json::array({problem("host_not_connected",
                             fmt::format("no agent is connected for the {}'s host", what))}));
  }
  if (s.realized < s.desired) {
    return state_of("pending",
                    json::array({problem("policy_pending",
                                         fmt::format("the host's agent has generation {} of {}",
                                                     s.realized, s.desired))}));
  }
  return state_of("success", json::array());
}

}  // namespace

json Realization::nic_state(const std::string& nic_id, const model::VmNic& nic) const {
  if (nic.host_id.empty() || nic.interface.empty()) {
    return state_of(
        "pending",
        json::array({problem("not_placed", "the NIC has no host_id and interface yet")}));
  }
  return placed_state(status(nic.host_id), "NIC",
                      [&](const AgentProblem& p) { return p.nic_id == nic_id; });
}

std::map<std::string, uint64_t> Realization::problem_counts() const {
  static const std::set<std::string> kKnown = {
      "interface_missing",          "interface_reserved", "policy_apply_failed", "policy_invalid",
      "external_interface_missing", "nat_table_full",     "nat_ports_exhausted"};
  std::lock_guard lock(mutex_);
  std::map<std::string, uint64_t> out;
  for (const std::string& code : kKnown) out[code] = 0;
  for (const auto& [host, s] : hosts_) {
    for (const auto& p : s.problems) ++out[kKnown.contains(p.code) ? p.code : "other"];
    if (s.compile_problem) ++out["policy_invalid"];
  }
  return out;
}

json Realization::gateway_state(const std::string& gateway_id,
                                const model::Gateway& gateway) const {
  if (gateway.host_id.empty()) {
    return state_of(
        "pending",
        json::array({problem("not_placed",
                             "no gateway host could take it (a host with an external_interface, "
                             "in the external pool's host group; for a forwarding gateway, one "
                             "whose forwarding gateways' prefixes do not overlap this VM "
                             "network's): an administrator adds one and sets the gateway's "
                             "host_id")}));
  }
  return placed_state(status(gateway.host_id), "gateway",
                      [&](const AgentProblem& p) { return p.gateway_id == gateway_id; });
}

}  // namespace vnet::compiler

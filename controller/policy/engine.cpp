#include "controller/policy/engine.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <concepts>
#include <type_traits>

#include "controller/model/rows.h"
#include "controller/policy/compiler.h"
#include "controller/store/records.h"
#include "controller/store/store.h"
#include "shared/log/log.h"
#include "shared/policy/encoding.h"
#include "shared/policy/json.h"

namespace vnet::compiler {
namespace {

// The policy's content as bytes for hashing: every field of the encoding
// (shared/policy/encoding.h's describe(), which the JSON encoding walks
// too), in its order, lists count-prefixed, strings length-prefixed, the
// generation left out. Much cheaper than hashing the JSON text for hosts
// with thousands of records (this runs for every recompiled host).
class ContentBytes {
 public:
  template <class T>
  void operator()(const char*, const T& value) {
    put(value);
  }
  template <class T>
  void version(const char*, const T&) {}  // the generation is not content
  template <class T>
  void object(const char*, const T& value) {
    policy::describe(*this, value);
  }
  template <class T>
  void list(const char*, const std::vector<T>& items) {
    raw(static_cast<uint32_t>(items.size()));
    for (const auto& item : items) {
      if constexpr (policy::Described<T>) {
        policy::describe(*this, item);
      } else {
        put(item);
      }
    }
  }

  void reserve(size_t n) { out_.reserve(n); }
  const std::string& str() const { return out_; }

 private:
  template <class T>
  void raw(const T& v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void put(const std::string& s) {
    raw(static_cast<uint32_t>(s.size()));
    out_ += s;
  }
  void put(bool v) { raw(static_cast<uint8_t>(v)); }
  template <std::unsigned_integral T>
  void put(T v) {
    raw(v);
  }
  template <class E>
  requires std::is_enum_v<E>
  void put(E v) { raw(static_cast<std::underlying_type_t<E>>(v)); }
  void put(net::Vsid v) { raw(v.value()); }
  void put(const Uuid& u) { out_.append(reinterpret_cast<const char*>(u.bytes().data()), 16); }
  void put(const net::MacAddress& m) {
    out_.append(reinterpret_cast<const char*>(m.bytes().data()), m.bytes().size());
  }
  void put(net::Ipv4Address a) { raw(a.to_u32()); }
  void put(const net::IpPrefix& p) {
    raw(p.first().v4().to_u32());
    raw(p.length());
  }

  std::string out_;
};

}  // namespace

std::string content_hash(const policy::HostPolicy& p) {
  ContentBytes b;
  b.reserve(64 + p.lookup_records.size() * 24 + p.customer_routes.size() * 32 +
            p.ports.size() * 96);
  policy::describe(b, p);
  return model::sha256_hex(b.str());
}

Engine::Engine(store::Store& store, Realization& realization)
    : store_(store), realization_(realization) {}

Engine::~Engine() { stop(); }

void Engine::stop() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

const Fragment& Engine::fragment(const std::string& network) {
  auto it = fragments_.find(network);
  if (it == fragments_.end()) {
    it = fragments_.emplace(network, compile_network(model_, network)).first;
    fragment_errors_[network] = validate_fragment(it->second);
  }
  return it->second;
}

std::optional<policy::PolicyError> Engine::invalid(const std::string& host,
                                                   const policy::HostPolicy& p) {
  if (auto error = validate_own_parts(p)) return error;
  for (const auto& network : model_.networks_on_host(host)) {
    fragment(network);  // compiled (and validated) by compile_host already
    if (const auto& error = fragment_errors_[network]) {
      return policy::PolicyError{"", fmt::format("VM network {}: {}", network, error->to_string())};
    }
  }
  return std::nullopt;
}

// Never publish what the agent must refuse: it would keep its last policy
// and ask again. The guard refuses the writes that would do this; this
// catches what it cannot see (data from before it). A held-back host is
// still known (its agent may connect and is sent nothing until the policy
// is valid) and shows policy_invalid.
bool Engine::held_back(const std::string& host, const policy::HostPolicy& p) {
  const auto error = invalid(host, p);
  {
    std::lock_guard lock(policies_mutex_);
    if (error) {
      held_back_.insert(host);
    } else {
      held_back_.erase(host);
    }
  }
  if (!error) {
    realization_.set_compile_problem(host, std::nullopt);
    return false;
  }
  spdlog::error("policy_invalid host={} error={} action=held_back", host,
                log::quote(error->to_string()));
  realization_.set_compile_problem(
      host, AgentProblem{"policy_invalid",
                         "the compiled policy is invalid and was not sent: " + error->to_string(),
                         "", ""});
  return true;
}

bool Engine::knows(const std::string& host) const {
  std::lock_guard lock(policies_mutex_);
  return policies_.contains(host) || held_back_.contains(host);
}

policy::HostPolicy Engine::compile_host(const std::string& host) {
  return compile(model_, host, [this](const Id& n) -> const Fragment& { return fragment(n); });
}

void Engine::set_listener(Listener listener) { listener_ = std::move(listener); }

void Engine::start() {
  const auto started = std::chrono::steady_clock::now();
  model_ = store_.read([](store::Database& db) { return Model::load(db); });
  std::map<std::string, std::string> hashes;
  std::vector<std::pair<std::string, std::shared_ptr<Compiled>>> compiled_hosts;
  for (const auto& [host, _] : model_.hosts) {
    auto compiled = std::make_shared<Compiled>();
    compiled->policy = compile_host(host);
    if (held_back(host, compiled->policy)) continue;  // the agent keeps what it has on disk
    hashes[host] = content_hash(compiled->policy);
    compiled_hosts.emplace_back(host, std::move(compiled));
  }
  // The stored generation when the content is the stored one, else the next.
  size_t bumped = 0;
  const auto generations = assign_generations(hashes, {}, &bumped);
  for (auto& [host, compiled] : compiled_hosts) {
    const auto numbered = generations.find(host);
    if (numbered == generations.end()) {  // another replica is ahead: the next batch
      behind_.insert(host);
      continue;
    }
    compiled->policy.generation = numbered->second;
    realization_.set_desired(host, compiled->policy.generation);
    std::lock_guard lock(policies_mutex_);
    policies_[host] = std::move(compiled);
  }
  stats_.full_compile_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  spdlog::info("policy_compiled hosts={} nics={} changed={} seconds={:.3f}", model_.hosts.size(),
               model_.vm_nics.size(), bumped, stats_.full_compile_seconds);
  worker_ = std::thread([this] { run(); });
}

uint64_t Engine::submit(std::vector<model::Change> changes) {
  uint64_t sequence;
  {
    std::lock_guard lock(queue_mutex_);
    for (auto& c : changes) queue_.push_back(std::move(c));
    sequence = ++submitted_;
  }
  queue_cv_.notify_one();
  return sequence;
}

std::shared_ptr<const Compiled> Engine::policy(const std::string& host) const {
  std::lock_guard lock(policies_mutex_);
  const auto it = policies_.find(host);
  return it == policies_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const Compiled>> Engine::policies() const {
  std::lock_guard lock(policies_mutex_);
  std::vector<std::shared_ptr<const Compiled>> out;
  out.reserve(policies_.size());
  for (const auto& [host, compiled] : policies_) out.push_back(compiled);
  return out;
}

void Engine::flush() {
  std::unique_lock lock(queue_mutex_);
  idle_cv_.wait(lock, [&] { return done_ >= submitted_ || stopping_; });
}

EngineStats Engine::stats() const {
  std::lock_guard lock(queue_mutex_);
  return stats_;
}

void Engine::run() {
  for (;;) {
    std::vector<model::Change> batch;
    uint64_t last = 0;
    {
      std::unique_lock lock(queue_mutex_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      batch.swap(queue_);
      last = submitted_;
    }
    try {
      if (reload_pending_) {
        // The last full reload failed (the database was away): this batch's
        // changes are in what is loaded now.
        reload_all(last);
      } else {
        process(std::move(batch), last);
      }
    } catch (const std::exception& e) {
      // The model and the database disagree: recompile everything from the
      // store rather than serve a policy that may be wrong.
      spdlog::error("policy_batch_failed error={} action=full_recompile", log::quote(e.what()));
      reload_all(last);
    }
    {
      std::lock_guard lock(queue_mutex_);
      done_ = last;
      stats_.batches++;
    }
    idle_cv_.notify_all();
  }
}

void Engine::reload_all(uint64_t last_sequence) {
  try {
    model_ = store_.read([](store::Database& db) { return Model::load(db); });
    fragments_.clear();
    fragment_errors_.clear();
    IdSet all;
    for (const auto& [host, _] : model_.hosts) all.insert(host);
    // Hosts gone from the database while this replica was not following.
    std::vector<std::string> gone;
    {
      std::lock_guard lock(policies_mutex_);
      for (const auto& [host, _] : policies_)
        if (!model_.hosts.contains(host)) gone.push_back(host);
    }
    for (const auto& host : gone) drop_host(host);
    realization_.batch_done(last_sequence, recompile(all));
    reload_pending_ = false;
  } catch (const std::exception& again) {
    // Keep the last good policies; the next batch loads everything again.
    spdlog::error("policy_full_recompile_failed error={}", log::quote(again.what()));
    reload_pending_ = true;
  }
  std::lock_guard lock(queue_mutex_);
  stats_.full_recompiles++;
}

void Engine::process(std::vector<model::Change> changes, uint64_t last_sequence) {
  if (std::any_of(changes.begin(), changes.end(),
                  [](const model::Change& c) { return c.collection == model::kResyncAll; })) {
    spdlog::warn("policy_resync reason={}",
                 log::quote("the change log no longer reaches back to this replica's position"));
    reload_all(last_sequence);
    return;
  }
  IdSet touched;
  std::vector<std::string> removed_hosts;
  for (const auto& change : changes) {
    for (const auto& h : model_.hosts_touched_by(change.collection, change.id)) touched.insert(h);
    for (const auto& n : model_.networks_touched_by(change.collection, change.id))
      fragments_.erase(n);  // and its error, recomputed with it
    model_.apply(change);
    for (const auto& h : model_.hosts_touched_by(change.collection, change.id)) touched.insert(h);
    for (const auto& n : model_.networks_touched_by(change.collection, change.id))
      fragments_.erase(n);  // and its error, recomputed with it
    if (change.collection == "hosts" && !change.fields) removed_hosts.push_back(change.id);
  }
  for (const auto& host : removed_hosts) {
    touched.erase(host);
    drop_host(host);
  }
  realization_.batch_done(last_sequence, recompile(touched));
}

void Engine::drop_host(const std::string& host) {
  {
    std::lock_guard lock(policies_mutex_);
    policies_.erase(host);
    held_back_.erase(host);
  }
  behind_.erase(host);
  realization_.host_removed(host);
  if (listener_) listener_(host, nullptr);
}

std::map<std::string, uint64_t> Engine::recompile(const IdSet& touched) {
  // Hosts whose content was not numbered because the database held a newer
  // one (behind_) are compiled again with every batch until it is.
  IdSet hosts = touched;
  hosts.insert(behind_.begin(), behind_.end());
  std::map<std::string, std::string> hashes;
  std::map<std::string, uint64_t> floors;
  std::vector<std::tuple<std::string, std::shared_ptr<Compiled>, std::shared_ptr<const Compiled>>>
      changed;
  for (const auto& host : hosts) {
    if (!model_.hosts.contains(host)) continue;
    auto compiled = std::make_shared<Compiled>();
    compiled->policy = compile_host(host);
    if (held_back(host, compiled->policy)) continue;  // the previous one stays
    auto previous = policy(host);
    if (previous && policy::same_content(previous->policy, compiled->policy)) continue;
    hashes[host] = content_hash(compiled->policy);
    floors[host] = previous ? previous->policy.generation : 0;
    changed.emplace_back(host, std::move(compiled), std::move(previous));
  }
  // Numbered and stored before anyone is told, so a restart never reuses a
  // generation number for different content, and every replica gives one
  // content the same number.
  const auto generations = assign_generations(hashes, floors);
  std::vector<std::pair<std::string, std::shared_ptr<const Compiled>>> published;
  for (const auto& host : hosts) behind_.erase(host);
  for (auto& [host, compiled, previous] : changed) {
    const auto numbered = generations.find(host);
    if (numbered == generations.end()) {  // this replica is behind: not yet
      behind_.insert(host);
      continue;
    }
    compiled->policy.generation = numbered->second;
    // A delta only from the generation just before (another replica may
    // have numbered contents this one never saw).
    if (previous && previous->policy.generation + 1 == compiled->policy.generation)
      compiled->delta = policy::diff(previous->policy, compiled->policy);
    published.emplace_back(host, std::move(compiled));
  }
  for (auto& [host, compiled] : published) {
    {
      std::lock_guard lock(policies_mutex_);
      policies_[host] = compiled;
    }
    if (listener_) listener_(host, compiled);
  }
  std::lock_guard lock(queue_mutex_);
  stats_.hosts_recompiled += hosts.size();
  stats_.generations_bumped += generations.size();
  return generations;
}

std::map<std::string, uint64_t> Engine::assign_generations(
    const std::map<std::string, std::string>& hashes, const std::map<std::string, uint64_t>& floors,
    size_t* written) {
  std::map<std::string, uint64_t> out;
  if (hashes.empty()) return out;
  store_.write([&](store::Database& db) {
    // A host deleted meanwhile is skipped by put().
    store::HostPolicies policies(db);
    // Many hosts (a full compile): every row in one statement, not one each.
    std::optional<std::map<std::string, store::HostPolicies::Numbered>> all;
    if (hashes.size() > 64) all = policies.all();
    auto stored_of = [&](const std::string& host) -> std::optional<store::HostPolicies::Numbered> {
      if (!all) return policies.get(host);
      const auto it = all->find(host);
      if (it == all->end()) return std::nullopt;
      return it->second;
    };
    for (const auto& [host, hash] : hashes) {
      uint64_t stored = 0;
      if (const auto numbered = stored_of(host)) {
        stored = numbered->generation;
        if (numbered->sha256 == hash) {  // numbered already (by another replica)
          out[host] = stored;
          continue;
        }
        // Compiled by another replica from a newer model: this content is
        // older than what the hosts may have; left unnumbered (behind_).
        if (numbered->log_seq > model_.log_position) continue;
      }
      const auto floor = floors.find(host);
      out[host] = std::max(stored, floor == floors.end() ? 0 : floor->second) + 1;
      policies.put(host, {.generation = out[host], .sha256 = hash, .log_seq = model_.log_position});
      if (written != nullptr) ++*written;
    }
  });
  return out;
}

}  // namespace vnet::compiler

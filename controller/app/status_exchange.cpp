#include "controller/app/status_exchange.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "controller/model/rows.h"
#include "controller/policy/realization.h"
#include "controller/store/records.h"
#include "controller/store/store.h"
#include "shared/log/log.h"

namespace vnet::app {
namespace {

using nlohmann::json;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

StatusExchange::StatusExchange(store::Store& store, compiler::Realization& realization)
    : store_(store), realization_(realization), replica_(model::new_uuid()) {
  realization_.set_publisher([this](const std::string& host) { mark(host); });
  thread_ = std::thread([this] { run(); });
}

StatusExchange::~StatusExchange() {
  realization_.set_publisher(nullptr);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void StatusExchange::mark(const std::string& host) {
  {
    std::lock_guard lock(mutex_);
    dirty_.insert(host);
  }
  wake_.notify_all();
}

void StatusExchange::run() {
  auto next_heartbeat = std::chrono::steady_clock::now() + kHeartbeat;
  for (;;) {
    std::set<std::string> hosts;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, next_heartbeat, [&] { return stopping_ || !dirty_.empty(); });
      if (stopping_) return;
      hosts.swap(dirty_);
    }
    try {
      if (!hosts.empty()) publish(hosts);
      if (std::chrono::steady_clock::now() >= next_heartbeat) {
        next_heartbeat = std::chrono::steady_clock::now() + kHeartbeat;
        store_.exclusive([&](store::Database& db) {
          store::HostStatusTable(db).heartbeat(replica_, unix_now());
        });
      }
    } catch (const std::exception& e) {
      spdlog::warn("host_status_publish_failed error={}", log::quote(e.what()));
      std::lock_guard lock(mutex_);
      dirty_.insert(hosts.begin(), hosts.end());  // again with the next round
    }
    // A burst of acks (a change to many hosts) is coalesced into rounds of
    // at most one per 50 ms; a few acks go out at once, since a write
    // through another replica may be waiting for them (?wait=realized).
    if (hosts.size() >= kBurst) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void StatusExchange::publish(const std::set<std::string>& hosts) {
  store_.exclusive([&](store::Database& db) {
    // A session here takes the row over; anything else changes only a row
    // this replica owns (a late "disconnected" never ends another's session).
    std::vector<store::HostStatusTable::Status> rows;
    for (const auto& host : hosts) {
      const compiler::HostStatus s = realization_.status(host);
      if (!s.local && s.connected) continue;  // another replica's session: not ours to write
      json problems = json::array();
      for (const auto& p : s.problems) {
        problems.push_back({{"code", p.code},
                            {"message", p.message},
                            {"nic_id", p.nic_id},
                            {"gateway_id", p.gateway_id}});
      }
      std::optional<int64_t> last_seen;
      if (s.last_seen) {
        last_seen =
            std::chrono::duration_cast<std::chrono::milliseconds>(s.last_seen->time_since_epoch())
                .count();
      }
      rows.push_back({.host_id = host,
                      .replica = replica_,
                      .connected = s.local && s.connected,
                      .realized = s.realized,
                      .last_seen_ms = last_seen,
                      .uplink = s.uplink,
                      .problems = problems.dump(),
                      .updated_at = unix_now()});
    }
    if (rows.empty()) return;  // nothing of ours: no announcement for others to read
    store::HostStatusTable(db).publish(rows);
    // A few hosts are named, so the others read only their rows.
    std::string payload = "status";
    if (rows.size() < kBurst) {
      for (size_t i = 0; i < rows.size(); ++i) payload += (i == 0 ? ":" : ",") + rows[i].host_id;
    }
    store::announce(db, payload);
  });
}

void StatusExchange::refresh(const std::set<std::string>* hosts) {
  const int64_t stale_before = unix_now() - kStale.count();
  store_.read([&](store::Database& db) {
    std::vector<std::pair<std::string, compiler::Realization::Remote>> remotes;
    for (auto& row : store::HostStatusTable(db).others(replica_, hosts)) {
      compiler::Realization::Remote r;
      r.connected = row.connected && row.updated_at >= stale_before;
      r.realized = row.realized;
      if (row.last_seen_ms) {
        r.last_seen =
            std::chrono::system_clock::time_point(std::chrono::milliseconds(*row.last_seen_ms));
      }
      r.uplink = std::move(row.uplink);
      const json problems = json::parse(row.problems, nullptr, false);
      if (problems.is_array()) {
        for (const auto& p : problems) {
          r.problems.push_back({p.value("code", ""), p.value("message", ""), p.value("nic_id", ""),
                                p.value("gateway_id", "")});
        }
      }
      remotes.emplace_back(std::move(row.host_id), std::move(r));
    }
    realization_.merge_remote(remotes);
  });
}

}  // namespace vnet::app

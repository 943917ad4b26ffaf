#include "controller/app/status_exchange.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "controller/model/rows.h"
#include "controller/policy/realization.h"
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
          db.prepare("UPDATE host_status SET updated_at = ? WHERE replica = ? AND connected = 1")
              .bind(1, unix_now())
              .bind(2, replica_)
              .run();
        });
      }
    } catch (const std::exception& e) {
      spdlog::warn("host_status_publish_failed error={}", log::quote(e.what()));
      std::lock_guard lock(mutex_);
      dirty_.insert(hosts.begin(), hosts.end());  // again with the next round
    }
    // Coalesces a burst of acks into one round.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void StatusExchange::publish(const std::set<std::string>& hosts) {
  store_.exclusive([&](store::Database& db) {
    // A session here takes the row over; anything else changes only a row
    // this replica owns (a late "disconnected" never ends another's session).
    auto upsert = db.prepare(
        "INSERT INTO host_status (host_id, replica, connected, realized, last_seen, uplink, "
        "problems, updated_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 "
        "WHERE EXISTS (SELECT 1 FROM hosts WHERE id = ?1) "
        "ON CONFLICT (host_id) DO UPDATE SET replica = excluded.replica, "
        "connected = excluded.connected, realized = excluded.realized, "
        "last_seen = excluded.last_seen, uplink = excluded.uplink, problems = excluded.problems, "
        "updated_at = excluded.updated_at "
        "WHERE host_status.replica = excluded.replica OR excluded.connected = 1");
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
      upsert.reset();
      upsert.bind(1, host)
          .bind(2, replica_)
          .bind(3, int64_t{s.local && s.connected ? 1 : 0})
          .bind(4, static_cast<int64_t>(s.realized));
      if (s.last_seen) {
        upsert.bind(5, static_cast<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                s.last_seen->time_since_epoch())
                                                .count()));
      } else {
        upsert.bind_null(5);
      }
      upsert.bind(6, s.uplink).bind(7, problems.dump()).bind(8, unix_now()).run();
    }
    db.exec("SELECT pg_notify('vnet_changes', 'status')");
  });
}

void StatusExchange::refresh() {
  const int64_t stale_before = unix_now() - kStale.count();
  store_.read([&](store::Database& db) {
    auto s = db.prepare(
        "SELECT host_id, connected, realized, last_seen, uplink, problems, updated_at "
        "FROM host_status WHERE replica <> ?");
    s.bind(1, replica_);
    while (s.step()) {
      compiler::Realization::Remote r;
      r.connected = s.column_int(1) == 1 && s.column_int(6) >= stale_before;
      r.realized = static_cast<uint64_t>(s.column_int(2));
      if (!s.column_is_null(3)) {
        r.last_seen =
            std::chrono::system_clock::time_point(std::chrono::milliseconds(s.column_int(3)));
      }
      r.uplink = s.column_text(4);
      const json problems = json::parse(s.column_text(5), nullptr, false);
      if (problems.is_array()) {
        for (const auto& p : problems) {
          r.problems.push_back({p.value("code", ""), p.value("message", ""), p.value("nic_id", ""),
                                p.value("gateway_id", "")});
        }
      }
      realization_.merge_remote(s.column_text(0), r);
    }
  });
}

}  // namespace vnet::app

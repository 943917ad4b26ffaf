#include "controller/store/store.h"

#include "controller/store/migrations.h"
#include "controller/store/postgresql.h"
#include "controller/store/sqlite.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <utility>

namespace vnet::store {

Store::Store(const std::string& url)
    : url_(url), name_(redact_url(url)), writer_(open_database(url)) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  migrate(*writer_);
  if (writer_->engine() != Engine::kSqlite) return;
  writer_->exec("PRAGMA wal_autocheckpoint=0");
  checkpointer_ = std::thread([this] {
    auto owned = open_database(url_);
    Database& db = *owned;
    std::unique_lock lock(checkpoint_mutex_);
    while (!checkpoint_wake_.wait_for(lock, std::chrono::milliseconds(200),
                                      [this] { return stopping_; })) {
      try {
        // PASSIVE: copies what it can without waiting for readers or the writer.
        db.exec("PRAGMA wal_checkpoint(PASSIVE)");
      } catch (const StoreError&) {
        // Busy now: the next round catches up.
      }
    }
    try {
      db.exec("PRAGMA wal_checkpoint(TRUNCATE)");  // leave a small WAL behind on a clean stop
    } catch (const StoreError&) {
    }
  });
}

int Store::wait_for_changes(std::chrono::milliseconds timeout) {
  constexpr int kBoth = kChangesAnnounced | kStatusAnnounced;
  static_assert(PostgresDatabase::kChanges == kChangesAnnounced &&
                PostgresDatabase::kStatus == kStatusAnnounced);
  std::vector<pollfd> fds = {{wake_fd_, POLLIN, 0}};
  auto* pg = dynamic_cast<PostgresDatabase*>(listener_.get());
  if (writer_->engine() == Engine::kPostgresql) {
    try {
      if (pg == nullptr) {
        listener_ = open_database(url_);
        pg = static_cast<PostgresDatabase*>(listener_.get());
        pg->exec("LISTEN vnet_changes");
        announced_all_ = true;
        return kBoth;  // what was committed before LISTEN must be read
      }
      if (const int kinds = take(*pg)) return kinds;
      fds.push_back({pg->socket(), POLLIN, 0});
    } catch (const StoreError&) {
      listener_.reset();  // the next call connects again
      std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(500)));
      return 0;
    }
  }
  const int n = ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
  if (n > 0 && (fds[0].revents & POLLIN) != 0) {
    uint64_t drained = 0;
    [[maybe_unused]] const auto ignored = ::read(wake_fd_, &drained, sizeof drained);
  }
  if (n > 0 && fds.size() > 1 && fds[1].revents != 0) {
    try {
      return take(*pg);
    } catch (const StoreError&) {
      listener_.reset();
      announced_all_ = true;
      return kBoth;
    }
  }
  return 0;
}

int Store::take(PostgresDatabase& pg) {
  std::vector<std::string> payloads;
  const int kinds = pg.take_notifications(&payloads);
  for (const auto& p : payloads) {
    if (p == "status") announced_all_ = true;
    if (!p.starts_with("status:")) continue;
    std::string_view ids = std::string_view(p).substr(7);
    while (!ids.empty()) {
      const size_t comma = ids.find(',');
      announced_hosts_.emplace(ids.substr(0, comma));
      ids = comma == std::string_view::npos ? std::string_view() : ids.substr(comma + 1);
    }
  }
  // Bounded: past this many, reading every row is as cheap.
  if (announced_hosts_.size() > kMaxAnnouncedHosts) {
    announced_hosts_.clear();
    announced_all_ = true;
  }
  return kinds;
}

std::optional<std::set<std::string>> Store::take_announced_hosts() {
  std::set<std::string> hosts;
  hosts.swap(announced_hosts_);
  if (std::exchange(announced_all_, false)) return std::nullopt;
  return hosts;
}

void Store::wake() {
  const uint64_t one = 1;
  [[maybe_unused]] const auto ignored = ::write(wake_fd_, &one, sizeof one);
}

Store::~Store() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
  {
    std::lock_guard lock(checkpoint_mutex_);
    stopping_ = true;
  }
  checkpoint_wake_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
}

Store::Lease::Lease(Store& s) : store(s) {
  {
    std::lock_guard lock(store.readers_mutex_);
    if (!store.readers_.empty()) {
      db = std::move(store.readers_.back());
      store.readers_.pop_back();
    }
  }
  if (!db) {
    db = open_database(store.url_);
  } else {
    db->reconnect_if_lost();  // a connection that cannot is dropped with the throw
  }
}

Store::Lease::~Lease() {
  std::lock_guard lock(store.readers_mutex_);
  store.readers_.push_back(std::move(db));
}

}  // namespace vnet::store

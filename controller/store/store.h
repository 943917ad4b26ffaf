// The controller's store: one database (SQLite in WAL mode, or PostgreSQL
// shared by several replicas) with one writer connection (writes are
// serialised, each in one transaction, and under PostgreSQL also with every
// other replica's) and a small pool of reader connections beside it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "controller/store/database.h"

namespace vnet::store {

class PostgresDatabase;

class Store {
 public:
  // Opens `url` (open_database(): a SQLite path or "sqlite:PATH", or a
  // PostgreSQL URI), creating a SQLite file if needed, and applies pending
  // migrations.
  explicit Store(const std::string& url);
  ~Store();

  // Runs f(Database&) inside BEGIN IMMEDIATE ... COMMIT on the writer
  // connection; rolls back if f throws.
  template <class F>
  auto write(F&& f) {
    std::lock_guard lock(write_mutex_);
    writer_->reconnect_if_lost();
    Transaction tx(*writer_);
    RollbackHook hook{on_rollback_};
    if (after_begin_) after_begin_(*writer_);
    if constexpr (std::is_void_v<decltype(f(*writer_))>) {
      f(*writer_);
      if (before_commit_) before_commit_(*writer_);
      tx.commit();
      if (on_commit_) on_commit_();
    } else {
      auto result = f(*writer_);
      if (before_commit_) before_commit_(*writer_);
      tx.commit();
      if (on_commit_) on_commit_();
      return result;
    }
  }

  // Runs f(Database&) on the writer connection under the write lock, outside
  // any transaction: what follows other replicas' commits reads there, so
  // that nothing this process commits falls between its read and its use.
  template <class F>
  auto exclusive(F&& f) {
    std::lock_guard lock(write_mutex_);
    writer_->reconnect_if_lost();
    return f(*writer_);
  }

  // PostgreSQL: waits until a commit of any replica is announced on the
  // "vnet_changes" channel (NOTIFY), wake() is called, or `timeout` passes.
  // Returns what was announced: kChangesAnnounced (the change log grew),
  // kStatusAnnounced (host_status changed), both when the listening
  // connection was lost and made again (the caller reads what it may have
  // missed), 0 on a timeout or wake(). SQLite: one writer, nothing to
  // announce; waits for wake() or the timeout.
  static constexpr int kChangesAnnounced = 1;
  static constexpr int kStatusAnnounced = 2;
  int wait_for_changes(std::chrono::milliseconds timeout);
  // After wait_for_changes() returned kStatusAnnounced: the hosts whose
  // status the announcements named, or nothing when the whole table must be
  // read (an announcement naming none, a new listening connection). Clears.
  // More hosts than kMaxAnnouncedHosts between two calls count as all.
  std::optional<std::set<std::string>> take_announced_hosts();
  static constexpr size_t kMaxAnnouncedHosts = 1024;
  // Ends a wait_for_changes() at once (shutdown).
  void wake();

  // Runs f(Database&) on a reader connection (a consistent snapshot per
  // statement; wrap several in a read transaction if they must agree).
  template <class F>
  auto read(F&& f) {
    Lease lease(*this);
    return f(*lease.db);
  }

  // The URL it was opened with (a PostgreSQL password replaced by ***).
  const std::string& name() const { return name_; }
  Engine engine() const { return writer_->engine(); }
  // Runs, under the write lock, after any write transaction that did not
  // commit (caches of what the database holds must forget).
  void set_on_rollback(std::function<void()> f) { on_rollback_ = std::move(f); }
  // Runs, under the write lock, after every committed write transaction, so
  // whoever follows the changes sees them in commit order. Must not throw.
  void set_on_commit(std::function<void()> f) { on_commit_ = std::move(f); }
  // Runs inside every write transaction after its work and before COMMIT,
  // under the write lock (the change log is written there); throwing rolls
  // the write back.
  void set_before_commit(std::function<void(Database&)> f) { before_commit_ = std::move(f); }
  // Runs first in every write transaction, under the write lock (a replica
  // catches up with what others committed there, before the write reads).
  void set_after_begin(std::function<void(Database&)> f) { after_begin_ = std::move(f); }

 private:
  // take_notifications() of the listening connection, remembering the
  // hosts status announcements named.
  int take(PostgresDatabase& pg);
  // Calls on_rollback when unwinding from a failed write.
  struct RollbackHook {
    std::function<void()>& f;
    int exceptions = std::uncaught_exceptions();
    ~RollbackHook() {
      if (std::uncaught_exceptions() > exceptions && f) f();
    }
  };
  std::function<void()> on_rollback_;
  std::function<void()> on_commit_;
  std::function<void(Database&)> before_commit_;
  std::function<void(Database&)> after_begin_;

  struct Lease {
    explicit Lease(Store& s);
    ~Lease();
    Store& store;
    std::unique_ptr<Database> db;
  };

  std::string url_;
  std::string name_;
  std::mutex write_mutex_;
  std::unique_ptr<Database> writer_;
  std::mutex readers_mutex_;
  std::vector<std::unique_ptr<Database>> readers_;
  // SQLite: checkpoints the WAL in the background, so no request's commit
  // pays for copying pages into the database file (SQLite's automatic
  // checkpoint runs inside whichever commit crosses the threshold).
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_wake_;
  bool stopping_ = false;
  std::thread checkpointer_;
  // wait_for_changes(): the LISTEN connection (PostgreSQL) and an eventfd
  // that wake() writes.
  std::unique_ptr<Database> listener_;
  std::set<std::string> announced_hosts_;  // wait_for_changes' caller's alone
  bool announced_all_ = false;
  int wake_fd_ = -1;
};

}  // namespace vnet::store

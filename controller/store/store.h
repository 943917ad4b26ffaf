// The controller's store: one database (SQLite in WAL mode, or PostgreSQL
// shared by several replicas) with one writer connection (writes are
// serialised, each in one transaction, and under PostgreSQL also with every
// other replica's) and a small pool of reader connections beside it.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controller/store/database.h"

namespace vnet::store {

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
    if constexpr (std::is_void_v<decltype(f(*writer_))>) {
      f(*writer_);
      tx.commit();
      if (on_commit_) on_commit_();
    } else {
      auto result = f(*writer_);
      tx.commit();
      if (on_commit_) on_commit_();
      return result;
    }
  }

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

 private:
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
};

}  // namespace vnet::store

// The controller's store: one SQLite database in WAL mode with one writer
// connection (writes are serialised, each in one transaction) and a small
// pool of reader connections that run beside it.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controller/store/sqlite.h"

namespace vnet::store {

class Store {
 public:
  // Opens or creates the database at `path` and applies pending migrations.
  explicit Store(const std::string& path);

  // Runs f(Database&) inside BEGIN IMMEDIATE ... COMMIT on the writer
  // connection; rolls back if f throws.
  template <class F>
  auto write(F&& f) {
    std::lock_guard lock(write_mutex_);
    Transaction tx(*writer_);
    if constexpr (std::is_void_v<decltype(f(*writer_))>) {
      f(*writer_);
      tx.commit();
    } else {
      auto result = f(*writer_);
      tx.commit();
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

  const std::string& path() const { return path_; }

 private:
  struct Lease {
    explicit Lease(Store& s);
    ~Lease();
    Store& store;
    std::unique_ptr<Database> db;
  };

  std::string path_;
  std::mutex write_mutex_;
  std::unique_ptr<Database> writer_;
  std::mutex readers_mutex_;
  std::vector<std::unique_ptr<Database>> readers_;
};

}  // namespace vnet::store

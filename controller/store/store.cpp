#include "controller/store/store.h"

#include "controller/store/migrations.h"
#include "controller/store/postgresql.h"
#include "controller/store/sqlite.h"

namespace vnet::store {

Store::Store(const std::string& url)
    : url_(url), name_(redact_url(url)), writer_(open_database(url)) {
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

Store::~Store() {
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

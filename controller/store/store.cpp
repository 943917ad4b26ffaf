#include "controller/store/store.h"

#include "controller/store/migrations.h"

namespace vnet::store {

Store::Store(const std::string& path) : path_(path), writer_(std::make_unique<Database>(path)) {
  migrate(*writer_);
}

Store::Lease::Lease(Store& s) : store(s) {
  std::lock_guard lock(store.readers_mutex_);
  if (!store.readers_.empty()) {
    db = std::move(store.readers_.back());
    store.readers_.pop_back();
  }
  if (!db) db = std::make_unique<Database>(store.path_);
}

Store::Lease::~Lease() {
  std::lock_guard lock(store.readers_mutex_);
  store.readers_.push_back(std::move(db));
}

}  // namespace vnet::store

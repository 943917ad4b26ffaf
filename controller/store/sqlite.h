// The embedded engine: SQLite in WAL mode, foreign keys on.
#pragma once

#include <string>

#include "controller/store/database.h"

struct sqlite3;

namespace vnet::store {

class SqliteDatabase final : public Database {
 public:
  // Opens (creating if needed) with WAL, foreign keys, synchronous=NORMAL and
  // a busy timeout. Throws StoreError with a sentence naming the path.
  explicit SqliteDatabase(const std::string& path, bool read_only = false);
  ~SqliteDatabase() override;

  Engine engine() const override { return Engine::kSqlite; }
  void exec(std::string_view sql) override;
  Statement prepare(std::string_view sql) override;
  int64_t changes() const override;
  // BEGIN IMMEDIATE takes the write lock at once, so two writers never
  // deadlock upgrading.
  void begin_write() override { exec("BEGIN IMMEDIATE"); }
  void begin_read() override { exec("BEGIN"); }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace vnet::store

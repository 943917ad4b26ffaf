#include "controller/store/migrations.h"

#include <fmt/format.h>

#include <ctime>

namespace vnet::store {

int schema_version(Database& db) {
  db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)");
  auto s = db.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  s.step();
  return static_cast<int>(s.column_int(0));
}

namespace {

struct SchemaLock {
  explicit SchemaLock(Database& d) : db(d) { db.lock_schema(); }
  ~SchemaLock() {
    try {
      db.unlock_schema();
    } catch (const StoreError&) {  // the session's end releases it anyway
    }
  }
  Database& db;
};

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

}  // namespace

int migrate(Database& db, const std::vector<Migration>& migrations) {
  SchemaLock lock(db);
  const int current = schema_version(db);
  const int known = migrations.empty() ? 0 : migrations.back().version;
  if (current > known) {
    throw StoreError(0, fmt::format("the database is at schema version {}, written by a newer "
                                    "vnet-controller; this one knows versions up to {}: run the "
                                    "newer binary or restore a backup",
                                    current, known));
  }
  int applied = 0;
  for (const auto& m : migrations) {
    if (m.version <= current) continue;
    Transaction tx(db);
    try {
      db.exec(db.engine() == Engine::kPostgresql && !m.postgresql_sql.empty() ? m.postgresql_sql
                                                                              : m.sql);
    } catch (const StoreError& e) {
      throw StoreError(e.code(),
                       fmt::format("migration {:04}_{} failed: {}", m.version, m.name, e.what()));
    }
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
        .bind(1, int64_t{m.version})
        .bind(2, m.name)
        .bind(3, utc_now())
        .run();
    tx.commit();
    ++applied;
  }
  return applied;
}

}  // namespace vnet::store

#include "controller/store/sqlite.h"

#include <fmt/format.h>
#include <sqlite3.h>

namespace vnet::store {
namespace {

StoreError error(sqlite3* db, const std::string& message) {
  const int code = sqlite3_extended_errcode(db);
  const auto reason = (code & 0xff) == SQLITE_CONSTRAINT ? StoreError::Reason::kConstraint
                      : (code & 0xff) == SQLITE_BUSY     ? StoreError::Reason::kBusy
                                                         : StoreError::Reason::kOther;
  return StoreError(reason, code, message);
}

[[noreturn]] void fail(sqlite3* db, int code, std::string_view what) {
  throw error(
      db, fmt::format("{}: {}", what, db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code)));
}

class SqliteStatement final : public StatementImpl {
 public:
  SqliteStatement(sqlite3* db, std::string_view sql) : db_(db) {
    const int rc =
        sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
    if (rc != SQLITE_OK) fail(db, rc, fmt::format("cannot prepare \"{}\"", sql));
  }
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  void bind_text(int index, std::string_view text) override {
    const int rc = sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                                     SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) fail(db_, rc, "bind");
  }
  void bind_int(int index, int64_t value) override {
    const int rc = sqlite3_bind_int64(stmt_, index, value);
    if (rc != SQLITE_OK) fail(db_, rc, "bind");
  }
  void bind_null(int index) override {
    const int rc = sqlite3_bind_null(stmt_, index);
    if (rc != SQLITE_OK) fail(db_, rc, "bind");
  }
  bool step() override {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    StoreError e = error(db_, sqlite3_errmsg(db_));
    sqlite3_reset(stmt_);
    throw e;
  }
  void reset() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t column_int(int index) const override { return sqlite3_column_int64(stmt_, index); }
  std::string column_text(int index) const override {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
    return text != nullptr
               ? std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, index)))
               : std::string();
  }
  bool column_is_null(int index) const override {
    return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
  }
  int column_count() const override { return sqlite3_column_count(stmt_); }
  std::string column_name(int index) const override {
    const char* name = sqlite3_column_name(stmt_, index);
    return name != nullptr ? name : "";
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace

SqliteDatabase::SqliteDatabase(const std::string& path, bool read_only) {
  const int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError(rc, fmt::format("cannot open database {}: {}", path, message));
  }
  sqlite3_busy_timeout(db_, 5000);
  sqlite3_extended_result_codes(db_, 1);
  // WAL lets readers run beside the one writer; NORMAL in WAL mode survives
  // a crash of the process (not of the machine) without fsync per commit.
  if (!read_only) exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;");
}

SqliteDatabase::~SqliteDatabase() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

void SqliteDatabase::exec(std::string_view sql) {
  const std::string text(sql);
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    const std::string what = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw error(db_, what);
  }
}

Statement SqliteDatabase::prepare(std::string_view sql) {
  return Statement(std::make_unique<SqliteStatement>(db_, sql));
}

int64_t SqliteDatabase::changes() const { return sqlite3_changes64(db_); }

}  // namespace vnet::store

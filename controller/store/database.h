// One connection to the controller's database, whichever engine holds it:
// SQLite (sqlite.h, the embedded default) or PostgreSQL (postgresql.h, for
// several controller replicas). The SQL the controller speaks is the subset
// both understand: `?` or `?N` placeholders, TEXT and BIGINT columns, a
// `rowid` column on object tables for creation order, ON CONFLICT upserts.
// Errors are StoreError exceptions that say whether a constraint refused
// the change, the database was busy, or it could not be reached.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace vnet::store {

class StoreError : public std::runtime_error {
 public:
  enum class Reason { kOther, kConstraint, kBusy, kUnavailable };
  StoreError(int code, const std::string& message)
      : std::runtime_error(message), code_(code), reason_(Reason::kOther) {}
  StoreError(Reason reason, int code, const std::string& message)
      : std::runtime_error(message), code_(code), reason_(reason) {}
  // SQLite's extended result code; 0 for PostgreSQL (the reason says it).
  int code() const { return code_; }
  Reason reason() const { return reason_; }
  bool is_constraint() const { return reason_ == Reason::kConstraint; }  // UNIQUE, FK, CHECK
  bool is_busy() const { return reason_ == Reason::kBusy; }
  // The connection to the database is gone (PostgreSQL restarted, network).
  bool is_unavailable() const { return reason_ == Reason::kUnavailable; }

 private:
  int code_;
  Reason reason_;
};

// What an engine implements for one prepared statement.
class StatementImpl {
 public:
  virtual ~StatementImpl() = default;
  virtual void bind_text(int index, std::string_view text) = 0;
  virtual void bind_int(int index, int64_t value) = 0;
  virtual void bind_null(int index) = 0;
  virtual bool step() = 0;
  virtual void reset() = 0;
  virtual int64_t column_int(int index) const = 0;
  virtual std::string column_text(int index) const = 0;
  virtual bool column_is_null(int index) const = 0;
  // After the first step(): the result's columns.
  virtual int column_count() const = 0;
  virtual std::string column_name(int index) const = 0;
};

class Statement {
 public:
  explicit Statement(std::unique_ptr<StatementImpl> impl) : impl_(std::move(impl)) {}

  // Parameters count from 1, as `?N` does.
  Statement& bind(int index, std::string_view text) {
    impl_->bind_text(index, text);
    return *this;
  }
  Statement& bind(int index, const std::string& text) {
    return bind(index, std::string_view(text));
  }
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, int64_t value) {
    impl_->bind_int(index, value);
    return *this;
  }
  Statement& bind_null(int index) {
    impl_->bind_null(index);
    return *this;
  }
  Statement& bind(int index, const std::optional<std::string>& text) {
    return text ? bind(index, std::string_view(*text)) : bind_null(index);
  }

  bool step() { return impl_->step(); }  // true while a row is available
  void run() {                           // to completion, for statements without results
    while (step()) {
    }
  }
  void reset() { impl_->reset(); }  // to run again: bindings cleared

  int64_t column_int(int index) const { return impl_->column_int(index); }
  std::string column_text(int index) const { return impl_->column_text(index); }
  bool column_is_null(int index) const { return impl_->column_is_null(index); }
  int column_count() const { return impl_->column_count(); }
  std::string column_name(int index) const { return impl_->column_name(index); }

 private:
  std::unique_ptr<StatementImpl> impl_;
};

enum class Engine { kSqlite, kPostgresql };

class Database {
 public:
  virtual ~Database() = default;
  Database() = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  virtual Engine engine() const = 0;
  virtual void exec(std::string_view sql) = 0;  // one or more statements, no results
  virtual Statement prepare(std::string_view sql) = 0;
  // Rows changed by the last INSERT, UPDATE or DELETE.
  virtual int64_t changes() const = 0;

  // A write transaction that excludes every other writer of the database,
  // in this process or any other replica (SQLite: BEGIN IMMEDIATE;
  // PostgreSQL: an advisory transaction lock), so an allocation's read and
  // write see no one in between.
  virtual void begin_write() = 0;
  // A read-only transaction whose statements all see one snapshot.
  virtual void begin_read() = 0;
  virtual void commit() { exec("COMMIT"); }
  virtual void rollback() { exec("ROLLBACK"); }

  // Held while migrations run, so that of several replicas starting at once
  // exactly one applies them (PostgreSQL: a session advisory lock; SQLite:
  // nothing beyond its write transactions).
  virtual void lock_schema() {}
  virtual void unlock_schema() {}

  // Before a connection is used again: one that lost its server connects
  // anew (PostgreSQL); throws StoreError (unavailable) when it cannot.
  virtual void reconnect_if_lost() {}
};

// Opens `url`: "sqlite:PATH", a plain path (SQLite), or a libpq URI
// ("postgresql://..." or "postgres://..."). Throws StoreError naming it.
std::unique_ptr<Database> open_database(const std::string& url);
bool is_postgresql_url(std::string_view url);

// begin_write() on construction, rollback unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

// begin_read() on construction, commit (a read has nothing to lose) after.
class ReadTransaction {
 public:
  explicit ReadTransaction(Database& db);
  ~ReadTransaction();

 private:
  Database& db_;
};

}  // namespace vnet::store

#include "controller/store/postgresql.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <cstdlib>
#include <optional>
#include <vector>

namespace vnet::store {
namespace {

constexpr Oid kInt8Oid = 20;  // pg_type.h: int8

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

StoreError::Reason reason_of(std::string_view sqlstate, pg_conn* conn) {
  if (PQstatus(conn) != CONNECTION_OK) return StoreError::Reason::kUnavailable;
  if (starts_with(sqlstate, "23")) return StoreError::Reason::kConstraint;
  // Serialization failure, deadlock, lock not available.
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03")
    return StoreError::Reason::kBusy;
  // Connection exceptions; the server shutting down or starting.
  if (starts_with(sqlstate, "08") || starts_with(sqlstate, "57P")) {
    return StoreError::Reason::kUnavailable;
  }
  return StoreError::Reason::kOther;
}

std::string trimmed(const char* message) {
  std::string s = message != nullptr ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Throws unless `result` is a success; frees it when it throws.
void check(PGresult* result, pg_conn* conn, std::string_view what) {
  const auto status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return;
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state != nullptr ? state : "";
  std::string message = trimmed(result != nullptr ? PQresultErrorMessage(result) : nullptr);
  if (message.empty()) message = trimmed(PQerrorMessage(conn));
  if (result != nullptr) PQclear(result);
  const auto reason = reason_of(sqlstate, conn);
  throw StoreError(reason, 0, what.empty() ? message : fmt::format("{}: {}", what, message));
}

class PostgresStatement final : public StatementImpl {
 public:
  PostgresStatement(PostgresDatabase& db, std::string_view sql)
      : db_(db), sql_(postgres_placeholders(sql)) {}
  ~PostgresStatement() override { clear(); }
  PostgresStatement(const PostgresStatement&) = delete;
  PostgresStatement& operator=(const PostgresStatement&) = delete;

  void bind_text(int index, std::string_view text) override {
    slot(index) = {std::string(text), 0};
  }
  void bind_int(int index, int64_t value) override {
    slot(index) = {std::to_string(value), kInt8Oid};
  }
  void bind_null(int index) override { slot(index) = {std::nullopt, 0}; }

  bool step() override {
    if (result_ == nullptr) {
      std::vector<const char*> values;
      std::vector<Oid> types;
      for (const auto& p : params_) {
        values.push_back(p.value ? p.value->c_str() : nullptr);
        types.push_back(p.type);
      }
      const std::string& name = db_.prepared(sql_, types);
      PGresult* r = PQexecPrepared(db_.connection(), name.c_str(), static_cast<int>(values.size()),
                                   values.data(), nullptr, nullptr, 0);
      check(r, db_.connection(), "");
      result_ = r;
      row_ = -1;
      const char* affected = PQcmdTuples(r);
      if (affected != nullptr && *affected != '\0') db_.set_changes(std::atoll(affected));
    }
    ++row_;
    return row_ < PQntuples(result_);
  }
  void reset() override {
    clear();
    params_.clear();
  }
  int64_t column_int(int index) const override {
    return PQgetisnull(result_, row_, index) ? 0 : std::atoll(PQgetvalue(result_, row_, index));
  }
  std::string column_text(int index) const override {
    if (PQgetisnull(result_, row_, index)) return {};
    return std::string(PQgetvalue(result_, row_, index),
                       static_cast<size_t>(PQgetlength(result_, row_, index)));
  }
  bool column_is_null(int index) const override { return PQgetisnull(result_, row_, index) != 0; }
  int column_count() const override { return result_ != nullptr ? PQnfields(result_) : 0; }
  std::string column_name(int index) const override {
    const char* name = result_ != nullptr ? PQfname(result_, index) : nullptr;
    return name != nullptr ? name : "";
  }

 private:
  struct Param {
    std::optional<std::string> value;
    Oid type = 0;  // 0: let the server infer it from the statement
  };
  Param& slot(int index) {
    if (index < 1 || index > 65535)
      throw StoreError(0, fmt::format("bind: no parameter {}", index));
    if (params_.size() < static_cast<size_t>(index)) params_.resize(static_cast<size_t>(index));
    clear();
    return params_[static_cast<size_t>(index) - 1];
  }
  void clear() {
    if (result_ != nullptr) PQclear(result_);
    result_ = nullptr;
  }

  PostgresDatabase& db_;
  std::string sql_;
  std::vector<Param> params_;
  PGresult* result_ = nullptr;
  int row_ = -1;
};

void ignore_notice(void*, const char*) {}

}  // namespace

std::string postgres_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int next = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {  // a literal or a quoted identifier, copied whole
      const size_t end = sql.find(c, i + 1);
      const size_t stop = end == std::string_view::npos ? sql.size() : end + 1;
      out.append(sql.substr(i, stop - i));
      i = stop - 1;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      const size_t end = sql.find('\n', i);
      const size_t stop = end == std::string_view::npos ? sql.size() : end;
      out.append(sql.substr(i, stop - i));
      i = stop - 1;
    } else if (c == '?') {
      size_t j = i + 1;
      while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') ++j;
      out += '$';
      if (j > i + 1) {
        out.append(sql.substr(i + 1, j - i - 1));
        i = j - 1;
      } else {
        out += std::to_string(++next);
      }
    } else {
      out += c;
    }
  }
  return out;
}

std::string redact_url(std::string_view url) {
  // scheme://user:password@host...: the password is between the first ':'
  // after the scheme and the '@'.
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const size_t at = url.find('@', scheme + 3);
  const size_t colon = url.find(':', scheme + 3);
  std::string out(url);
  if (at != std::string_view::npos && colon != std::string_view::npos && colon < at)
    out.replace(colon + 1, at - colon - 1, "***");
  const size_t password = out.find("password=");
  if (password != std::string::npos) {
    const size_t end = out.find('&', password);
    out.replace(password + 9, (end == std::string::npos ? out.size() : end) - password - 9, "***");
  }
  return out;
}

PostgresDatabase::PostgresDatabase(const std::string& url) : name_(redact_url(url)) {
  conn_ = PQconnectdb(url.c_str());
  if (PQstatus(conn_) != CONNECTION_OK) {
    const std::string message = trimmed(PQerrorMessage(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
    throw StoreError(StoreError::Reason::kUnavailable, 0,
                     fmt::format("cannot connect to PostgreSQL at {}: {}", name_, message));
  }
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
}

PostgresDatabase::~PostgresDatabase() {
  if (conn_ != nullptr) PQfinish(conn_);
}

void PostgresDatabase::exec(std::string_view sql) {
  const std::string text(sql);
  PGresult* result = PQexec(conn_, text.c_str());
  check(result, conn_, "");  // frees it when it throws
  PQclear(result);
}

Statement PostgresDatabase::prepare(std::string_view sql) {
  return Statement(std::make_unique<PostgresStatement>(*this, sql));
}

// The locks are keyed by the schema, so databases in different schemas of
// one server (the tests' own) do not wait for each other.
void PostgresDatabase::begin_write() {
  // One round trip: a failure inside leaves the transaction aborted, which
  // the caller's rollback ends.
  exec("BEGIN; SELECT pg_advisory_xact_lock(hashtext(coalesce(current_schema(), '')), 1)");
}

void PostgresDatabase::begin_read() { exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); }

void PostgresDatabase::lock_schema() {
  exec("SELECT pg_advisory_lock(hashtext(coalesce(current_schema(), '')), 2)");
}

void PostgresDatabase::unlock_schema() {
  exec("SELECT pg_advisory_unlock(hashtext(coalesce(current_schema(), '')), 2)");
}

const std::string& PostgresDatabase::prepared(const std::string& sql,
                                              const std::vector<unsigned>& types) {
  std::string key = sql;
  key += '\0';
  for (const unsigned t : types) key += std::to_string(t) + ",";
  if (const auto it = prepared_.find(key); it != prepared_.end()) return it->second;
  if (prepared_.size() >= 2000) {  // bounded: the controller's statements are far fewer
    exec("DEALLOCATE ALL");
    prepared_.clear();
  }
  std::string name = fmt::format("vnet_{}", prepared_.size());
  PGresult* r =
      PQprepare(conn_, name.c_str(), sql.c_str(), static_cast<int>(types.size()), types.data());
  check(r, conn_, "");
  PQclear(r);
  return prepared_.emplace(std::move(key), std::move(name)).first->second;
}

int PostgresDatabase::socket() const { return PQsocket(conn_); }

int PostgresDatabase::take_notifications(std::vector<std::string>* status_payloads) {
  if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
    throw StoreError(StoreError::Reason::kUnavailable, 0,
                     fmt::format("the connection to PostgreSQL at {} was lost: {}", name_,
                                 trimmed(PQerrorMessage(conn_))));
  }
  int kinds = 0;
  while (PGnotify* n = PQnotifies(conn_)) {
    const std::string_view payload(n->extra != nullptr ? n->extra : "");
    if (payload.starts_with("status")) {
      kinds |= kStatus;
      if (status_payloads != nullptr) status_payloads->emplace_back(payload);
    } else {
      kinds |= kChanges;
    }
    PQfreemem(n);
  }
  return kinds;
}

void PostgresDatabase::reconnect_if_lost() {
  if (PQstatus(conn_) != CONNECTION_OK) {
    PQreset(conn_);
    prepared_.clear();  // a new session has none
    if (PQstatus(conn_) != CONNECTION_OK) {
      throw StoreError(StoreError::Reason::kUnavailable, 0,
                       fmt::format("cannot connect to PostgreSQL at {}: {}", name_,
                                   trimmed(PQerrorMessage(conn_))));
    }
    PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
    return;
  }
  // A connection left inside a transaction by an exception ends it first.
  if (PQtransactionStatus(conn_) != PQTRANS_IDLE) {
    try {
      exec("ROLLBACK");
    } catch (const StoreError&) {
    }
  }
}

}  // namespace vnet::store

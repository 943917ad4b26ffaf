// PostgreSQL, for several controller replicas sharing one database (DESIGN.md
// section 3, "Store"). The controller's portable SQL is handed over with its
// `?`/`?N` placeholders rewritten to `$N`; writers exclude each other with an
// advisory transaction lock, so allocations behave as under SQLite's single
// writer whichever replica writes.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "controller/store/database.h"

struct pg_conn;

namespace vnet::store {

class PostgresDatabase final : public Database {
 public:
  // Connects to a libpq URI; throws StoreError (unavailable) naming the
  // server (never the password) when it cannot.
  explicit PostgresDatabase(const std::string& url);
  ~PostgresDatabase() override;

  Engine engine() const override { return Engine::kPostgresql; }
  void exec(std::string_view sql) override;
  Statement prepare(std::string_view sql) override;
  int64_t changes() const override { return changes_; }
  void begin_write() override;
  void begin_read() override;
  void lock_schema() override;
  void unlock_schema() override;
  // Connects again when the server went away (a restart, a failover).
  void reconnect_if_lost() override;

  // LISTEN: the socket to poll, and the notifications that arrived since
  // the last call, as kChanges (a payload that is a change sequence) and
  // kStatus (payload "status", or "status:ID,ID..." naming hosts) bits;
  // `status_payloads` gets the status payloads. The caller reads the
  // tables. Throws StoreError (unavailable) when the connection is lost.
  static constexpr int kChanges = 1;
  static constexpr int kStatus = 2;
  int socket() const;
  int take_notifications(std::vector<std::string>* status_payloads = nullptr);

  // For statements: the connection and where their affected rows go.
  pg_conn* connection() { return conn_; }
  void set_changes(int64_t n) { changes_ = n; }
  // `url` without its password, for messages.
  const std::string& name() const { return name_; }
  // The server-side prepared statement for `sql` with these parameter
  // types, prepared on first use: a statement run again is not parsed and
  // planned again. Forgotten when the connection is made anew.
  const std::string& prepared(const std::string& sql, const std::vector<unsigned>& types);

 private:
  std::unordered_map<std::string, std::string> prepared_;
  pg_conn* conn_ = nullptr;
  std::string name_;
  int64_t changes_ = 0;
};

// `?` and `?N` placeholders as `$N`, outside string literals, quoted
// identifiers and comments.
std::string postgres_placeholders(std::string_view sql);

// The URL with any password replaced by "***".
std::string redact_url(std::string_view url);

}  // namespace vnet::store

// The controller's own tables beside the model's collections (objects.h)
// and allocations (allocations.h): tokens looked up by secret, tenants'
// usage against quotas, the change log replicas follow, the generations of
// hosts' policies, hosts' realization status, sealed secrets, enrollment
// tokens and host certificates. Each class is a view over one connection,
// used inside the caller's transaction; the SQL lives here only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "controller/store/database.h"

namespace vnet::store {

// API tokens (the "tokens" collection's table, the columns only the store
// reads).
class Tokens {
 public:
  explicit Tokens(Database& db) : db_(db) {}
  struct Holder {
    std::string token_id;
    std::string role;  // "admin" or "tenant"
    std::string tenant_id;
  };
  // The token whose secret hashes to `secret_sha256`.
  std::optional<Holder> by_secret(std::string_view secret_sha256);
  int64_t admins();

 private:
  Database& db_;
};

// How many objects of each quota'd collection a tenant has (tenant_usage).
class TenantUsage {
 public:
  explicit TenantUsage(Database& db) : db_(db) {}
  int64_t used(std::string_view tenant_id, std::string_view collection);
  void add(std::string_view tenant_id, std::string_view collection, int64_t delta);

 private:
  Database& db_;
};

// Every committed change's sequence, collection and object (change_log):
// what other replicas follow.
class ChangeLog {
 public:
  explicit ChangeLog(Database& db) : db_(db) {}
  struct Entry {
    int64_t seq = 0;
    std::string collection;
    std::string object_id;
  };
  int64_t last();  // 0 when empty
  std::vector<Entry> since(int64_t seq, size_t limit);
  void append(const std::vector<Entry>& entries);
  void prune_through(int64_t seq);

 private:
  Database& db_;
};

// Tells the other replicas (PostgreSQL NOTIFY on "vnet_changes", sent at
// commit) that `payload` happened: a change sequence, or "status". Nothing
// on SQLite, where one controller is alone.
void announce(Database& db, std::string_view payload);

// The generation numbering of hosts' policies (host_policies): a content
// hash keeps its number; the model position it was compiled at.
class HostPolicies {
 public:
  explicit HostPolicies(Database& db) : db_(db) {}
  struct Numbered {
    uint64_t generation = 0;
    std::string sha256;
    int64_t log_seq = 0;
  };
  std::optional<Numbered> get(std::string_view host_id);
  // Every host's, in one statement (a full compile numbers them all).
  std::map<std::string, Numbered> all();
  // Nothing when the host no longer exists (deleted meanwhile).
  void put(std::string_view host_id, const Numbered& numbered);

 private:
  Database& db_;
  std::optional<Statement> get_, put_;  // prepared once per view: a batch numbers many hosts
};

// Hosts' realization as the replica holding each one's session saw it
// (host_status), so every replica shows the same.
class HostStatusTable {
 public:
  explicit HostStatusTable(Database& db) : db_(db) {}
  struct Status {
    std::string host_id;
    std::string replica;
    bool connected = false;
    uint64_t realized = 0;
    std::optional<int64_t> last_seen_ms;
    std::string uplink;
    std::string problems;  // JSON array
    int64_t updated_at = 0;
  };
  // A connected row takes the host over; any other changes only a row the
  // same replica owns. Nothing for a host that no longer exists.
  void publish(const std::vector<Status>& rows);
  // Marks the replica's connected rows as fresh at `now`.
  void heartbeat(std::string_view replica, int64_t now);
  // Every row not owned by `replica` (of `hosts` only, when given).
  std::vector<Status> others(std::string_view replica,
                             const std::set<std::string>* hosts = nullptr);

 private:
  static void read(Statement& s, std::vector<Status>& out);
  Database& db_;
};

// Named secrets (the shared CA, its key sealed).
class Secrets {
 public:
  explicit Secrets(Database& db) : db_(db) {}
  std::optional<std::string> get(std::string_view name);
  void put(std::string_view name, std::string_view value);

 private:
  Database& db_;
};

// Enrollment tokens (by the SHA-256 of the secret) and the certificates
// issued to hosts.
class Enrollments {
 public:
  explicit Enrollments(Database& db) : db_(db) {}
  struct Token {
    std::string host_id;
    int64_t expires_at = 0;
    bool used = false;
  };
  void add_token(std::string_view token_sha256, std::string_view host_id, int64_t expires_at);
  std::optional<Token> token(std::string_view token_sha256);
  void use_token(std::string_view token_sha256, int64_t now);
  void record_certificate(std::string_view host_id, std::string_view serial, int64_t not_after,
                          int64_t issued_at);
  // Whether the host holds a certificate valid after `now` (with `serial`,
  // when given).
  bool has_current(std::string_view host_id, int64_t now,
                   std::optional<std::string_view> serial = std::nullopt);
  // Drops the host's certificate and unused tokens; whether it had one.
  bool revoke(std::string_view host_id);
  // not_after per host.
  std::map<std::string, int64_t> certificates();

 private:
  Database& db_;
};

}  // namespace vnet::store

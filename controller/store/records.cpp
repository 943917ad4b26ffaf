#include "controller/store/records.h"

#include <algorithm>

namespace vnet::store {

std::optional<Tokens::Holder> Tokens::by_secret(std::string_view secret_sha256) {
  auto s = db_.prepare("SELECT id, role, tenant_id FROM tokens WHERE secret_sha256 = ?");
  s.bind(1, secret_sha256);
  if (!s.step()) return std::nullopt;
  return Holder{.token_id = s.column_text(0),
                .role = s.column_text(1),
                .tenant_id = s.column_is_null(2) ? std::string() : s.column_text(2)};
}

int64_t Tokens::admins() {
  auto s = db_.prepare("SELECT COUNT(*) FROM tokens WHERE role = 'admin'");
  s.step();
  return s.column_int(0);
}

int64_t TenantUsage::used(std::string_view tenant_id, std::string_view collection) {
  auto s = db_.prepare("SELECT count FROM tenant_usage WHERE tenant_id = ? AND collection = ?");
  s.bind(1, tenant_id).bind(2, collection);
  return s.step() ? s.column_int(0) : 0;
}

void TenantUsage::add(std::string_view tenant_id, std::string_view collection, int64_t delta) {
  db_.prepare(
         "INSERT INTO tenant_usage (tenant_id, collection, count) VALUES (?, ?, ?) "
         "ON CONFLICT (tenant_id, collection) DO UPDATE SET count = tenant_usage.count + ?")
      .bind(1, tenant_id)
      .bind(2, collection)
      .bind(3, std::max<int64_t>(delta, 0))
      .bind(4, delta)
      .run();
}

int64_t ChangeLog::last() {
  auto s = db_.prepare("SELECT COALESCE(MAX(seq), 0) FROM change_log");
  s.step();
  return s.column_int(0);
}

std::vector<ChangeLog::Entry> ChangeLog::since(int64_t seq, size_t limit) {
  auto s = db_.prepare(
      "SELECT seq, collection, object_id FROM change_log WHERE seq > ? ORDER BY seq LIMIT ?");
  s.bind(1, seq).bind(2, static_cast<int64_t>(limit));
  std::vector<Entry> out;
  while (s.step()) out.push_back({s.column_int(0), s.column_text(1), s.column_text(2)});
  return out;
}

void ChangeLog::append(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  auto s = db_.prepare("INSERT INTO change_log (seq, collection, object_id) VALUES (?, ?, ?)");
  for (const auto& e : entries) {
    s.reset();
    s.bind(1, e.seq).bind(2, e.collection).bind(3, e.object_id).run();
  }
}

void ChangeLog::prune_through(int64_t seq) {
  db_.prepare("DELETE FROM change_log WHERE seq <= ?").bind(1, seq).run();
}

void announce(Database& db, std::string_view payload) {
  if (db.engine() != Engine::kPostgresql) return;
  db.prepare("SELECT pg_notify('vnet_changes', ?)").bind(1, payload).run();
}

std::optional<HostPolicies::Numbered> HostPolicies::get(std::string_view host_id) {
  if (!get_)
    get_ = db_.prepare("SELECT generation, sha256, log_seq FROM host_policies WHERE host_id = ?");
  get_->reset();
  get_->bind(1, host_id);
  if (!get_->step()) return std::nullopt;
  Numbered out{.generation = static_cast<uint64_t>(get_->column_int(0)),
               .sha256 = get_->column_text(1),
               .log_seq = get_->column_int(2)};
  get_->reset();
  return out;
}

std::map<std::string, HostPolicies::Numbered> HostPolicies::all() {
  auto s = db_.prepare("SELECT host_id, generation, sha256, log_seq FROM host_policies");
  std::map<std::string, Numbered> out;
  while (s.step()) {
    out[s.column_text(0)] = {.generation = static_cast<uint64_t>(s.column_int(1)),
                             .sha256 = s.column_text(2),
                             .log_seq = s.column_int(3)};
  }
  return out;
}

void HostPolicies::put(std::string_view host_id, const Numbered& numbered) {
  if (!put_) {
    put_ = db_.prepare(
        "INSERT INTO host_policies (host_id, generation, sha256, log_seq) "
        "SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM hosts WHERE id = ?1) "
        "ON CONFLICT (host_id) DO UPDATE SET generation = excluded.generation, "
        "sha256 = excluded.sha256, log_seq = excluded.log_seq");
  }
  put_->reset();
  put_->bind(1, host_id)
      .bind(2, static_cast<int64_t>(numbered.generation))
      .bind(3, numbered.sha256)
      .bind(4, numbered.log_seq)
      .run();
}

void HostStatusTable::publish(const std::vector<Status>& rows) {
  auto upsert = db_.prepare(
      "INSERT INTO host_status (host_id, replica, connected, realized, last_seen, uplink, "
      "problems, updated_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 "
      "WHERE EXISTS (SELECT 1 FROM hosts WHERE id = ?1) "
      "ON CONFLICT (host_id) DO UPDATE SET replica = excluded.replica, "
      "connected = excluded.connected, realized = excluded.realized, "
      "last_seen = excluded.last_seen, uplink = excluded.uplink, problems = excluded.problems, "
      "updated_at = excluded.updated_at "
      "WHERE host_status.replica = excluded.replica OR excluded.connected = 1");
  for (const auto& r : rows) {
    upsert.reset();
    upsert.bind(1, r.host_id)
        .bind(2, r.replica)
        .bind(3, int64_t{r.connected ? 1 : 0})
        .bind(4, static_cast<int64_t>(r.realized));
    if (r.last_seen_ms) {
      upsert.bind(5, *r.last_seen_ms);
    } else {
      upsert.bind_null(5);
    }
    upsert.bind(6, r.uplink).bind(7, r.problems).bind(8, r.updated_at).run();
  }
}

void HostStatusTable::heartbeat(std::string_view replica, int64_t now) {
  db_.prepare("UPDATE host_status SET updated_at = ? WHERE replica = ? AND connected = 1")
      .bind(1, now)
      .bind(2, replica)
      .run();
}

std::vector<HostStatusTable::Status> HostStatusTable::others(std::string_view replica,
                                                             const std::set<std::string>* hosts) {
  constexpr const char* kSelect =
      "SELECT host_id, replica, connected, realized, last_seen, uplink, problems, updated_at "
      "FROM host_status WHERE replica <> ?";
  std::vector<Status> out;
  if (hosts == nullptr) {
    auto s = db_.prepare(kSelect);
    s.bind(1, replica);
    read(s, out);
    return out;
  }
  // The hosts announcements named (at most Store::kMaxAnnouncedHosts): one
  // statement of 16, run once per 16, the last padded with its last id.
  constexpr size_t kChunk = 16;
  std::string sql = std::string(kSelect) + " AND host_id IN (?";
  for (size_t i = 1; i < kChunk; ++i) sql += ", ?";
  sql += ")";
  auto s = db_.prepare(sql);
  const std::vector<std::string> ids(hosts->begin(), hosts->end());
  for (size_t from = 0; from < ids.size(); from += kChunk) {
    const size_t n = std::min(kChunk, ids.size() - from);
    s.reset();
    s.bind(1, replica);
    for (size_t i = 0; i < kChunk; ++i)
      s.bind(static_cast<int>(i + 2), ids[from + std::min(i, n - 1)]);
    read(s, out);
  }
  return out;
}

void HostStatusTable::read(Statement& s, std::vector<Status>& out) {
  while (s.step()) {
    out.push_back({.host_id = s.column_text(0),
                   .replica = s.column_text(1),
                   .connected = s.column_int(2) == 1,
                   .realized = static_cast<uint64_t>(s.column_int(3)),
                   .last_seen_ms =
                       s.column_is_null(4) ? std::nullopt : std::optional<int64_t>(s.column_int(4)),
                   .uplink = s.column_text(5),
                   .problems = s.column_text(6),
                   .updated_at = s.column_int(7)});
  }
}

std::optional<std::string> Secrets::get(std::string_view name) {
  auto s = db_.prepare("SELECT value FROM secrets WHERE name = ?");
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  return s.column_text(0);
}

void Secrets::put(std::string_view name, std::string_view value) {
  db_.prepare("INSERT INTO secrets (name, value) VALUES (?, ?)").bind(1, name).bind(2, value).run();
}

void Enrollments::add_token(std::string_view token_sha256, std::string_view host_id,
                            int64_t expires_at) {
  db_.prepare("INSERT INTO enrollment_tokens (token_sha256, host_id, expires_at) VALUES (?, ?, ?)")
      .bind(1, token_sha256)
      .bind(2, host_id)
      .bind(3, expires_at)
      .run();
}

std::optional<Enrollments::Token> Enrollments::token(std::string_view token_sha256) {
  auto s = db_.prepare(
      "SELECT host_id, expires_at, used_at FROM enrollment_tokens WHERE token_sha256 = ?");
  s.bind(1, token_sha256);
  if (!s.step()) return std::nullopt;
  return Token{
      .host_id = s.column_text(0), .expires_at = s.column_int(1), .used = !s.column_is_null(2)};
}

void Enrollments::use_token(std::string_view token_sha256, int64_t now) {
  db_.prepare("UPDATE enrollment_tokens SET used_at = ? WHERE token_sha256 = ?")
      .bind(1, now)
      .bind(2, token_sha256)
      .run();
}

void Enrollments::record_certificate(std::string_view host_id, std::string_view serial,
                                     int64_t not_after, int64_t issued_at) {
  db_.prepare(
         "INSERT INTO host_certificates (host_id, serial, not_after, issued_at) "
         "VALUES (?, ?, ?, ?) ON CONFLICT (host_id) DO UPDATE SET serial = excluded.serial, "
         "not_after = excluded.not_after, issued_at = excluded.issued_at")
      .bind(1, host_id)
      .bind(2, serial)
      .bind(3, not_after)
      .bind(4, issued_at)
      .run();
}

bool Enrollments::has_current(std::string_view host_id, int64_t now,
                              std::optional<std::string_view> serial) {
  auto s = db_.prepare(serial ? "SELECT 1 FROM host_certificates WHERE host_id = ? AND "
                                "not_after > ? AND serial = ?"
                              : "SELECT 1 FROM host_certificates WHERE host_id = ? AND "
                                "not_after > ?");
  s.bind(1, host_id).bind(2, now);
  if (serial) s.bind(3, *serial);
  return s.step();
}

bool Enrollments::revoke(std::string_view host_id) {
  db_.prepare("DELETE FROM enrollment_tokens WHERE host_id = ? AND used_at IS NULL")
      .bind(1, host_id)
      .run();
  db_.prepare("DELETE FROM host_certificates WHERE host_id = ?").bind(1, host_id).run();
  return db_.changes() > 0;
}

std::map<std::string, int64_t> Enrollments::certificates() {
  auto s = db_.prepare("SELECT host_id, not_after FROM host_certificates");
  std::map<std::string, int64_t> out;
  while (s.step()) out[s.column_text(0)] = s.column_int(1);
  return out;
}

}  // namespace vnet::store

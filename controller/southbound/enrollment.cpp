#include "controller/southbound/enrollment.h"

#include <fmt/format.h>
#include <openssl/rand.h>

#include "controller/model/rows.h"
#include "controller/store/store.h"
#include "shared/util/time.h"

namespace vnet::southbound {
namespace {

int64_t now_seconds() { return unix_now(); }

}  // namespace

Enrollment::Token Enrollment::create(const std::string& host_id, std::chrono::seconds ttl) {
  unsigned char random[24];
  if (RAND_bytes(random, sizeof random) != 1) throw std::runtime_error("no randomness for a token");
  Token t;
  for (unsigned char b : random) t.token += fmt::format("{:02x}", b);
  t.expires_at = now_seconds() + ttl.count();
  store_.write([&](store::Database& db) {
    db.prepare("INSERT INTO enrollment_tokens (token_sha256, host_id, expires_at) VALUES (?, ?, ?)")
        .bind(1, model::sha256_hex(t.token))
        .bind(2, host_id)
        .bind(3, t.expires_at)
        .run();
  });
  return t;
}

CertificateAuthority::HostCertificate Enrollment::redeem(const std::string& host_id,
                                                         const std::string& token,
                                                         const std::string& csr) {
  return store_.write([&](store::Database& db) {
    auto s = db.prepare(
        "SELECT host_id, expires_at, used_at FROM enrollment_tokens WHERE token_sha256 = ?");
    s.bind(1, model::sha256_hex(token));
    if (!s.step() || s.column_text(0) != host_id)
      throw EnrollError(401, "the enrollment token is not one issued for this host");
    if (!s.column_is_null(2))
      throw EnrollError(401, "the enrollment token was used already; ask for a new one");
    if (s.column_int(1) <= now_seconds())
      throw EnrollError(401, "the enrollment token has expired; ask for a new one");
    CertificateAuthority::HostCertificate cert;
    try {
      cert = ca_.sign_host(csr, host_id);
    } catch (const std::exception& e) {
      throw EnrollError(400, fmt::format("the CSR is not usable: {}", e.what()));
    }
    const int64_t now = now_seconds();
    db.prepare("UPDATE enrollment_tokens SET used_at = ? WHERE token_sha256 = ?")
        .bind(1, now)
        .bind(2, model::sha256_hex(token))
        .run();
    db.prepare(
          "INSERT INTO host_certificates (host_id, serial, not_after, issued_at) "
          "VALUES (?, ?, ?, ?) ON CONFLICT (host_id) DO UPDATE SET serial = excluded.serial, "
          "not_after = excluded.not_after, issued_at = excluded.issued_at")
        .bind(1, host_id)
        .bind(2, cert.serial)
        .bind(3, cert.not_after)
        .bind(4, now)
        .run();
    return cert;
  });
}

bool Enrollment::revoke(const std::string& host_id) {
  return store_.write([&](store::Database& db) {
    db.prepare("DELETE FROM enrollment_tokens WHERE host_id = ? AND used_at IS NULL")
        .bind(1, host_id)
        .run();
    auto s = db.prepare("DELETE FROM host_certificates WHERE host_id = ?");
    s.bind(1, host_id).run();
    return db.changes() > 0;
  });
}

bool Enrollment::is_current(const std::string& host_id, const std::string& serial) {
  return store_.read([&](store::Database& db) {
    auto s = db.prepare(
        "SELECT 1 FROM host_certificates WHERE host_id = ? AND serial = ? AND not_after > ?");
    s.bind(1, host_id).bind(2, serial).bind(3, now_seconds());
    return s.step();
  });
}

}  // namespace vnet::southbound

#include "controller/southbound/enrollment.h"

#include <fmt/format.h>
#include <openssl/rand.h>

#include "controller/model/rows.h"
#include "controller/store/store.h"
#include "shared/util/time.h"

namespace vnet::southbound {
Enrollment::Enrollment(store::Store& store, const CertificateAuthority& ca, Clock now)
    : store_(store), ca_(ca), now_(now ? std::move(now) : Clock([] { return unix_now(); })) {}

std::map<std::string, int64_t> Enrollment::certificates() {
  return store_.read([&](store::Database& db) {
    std::map<std::string, int64_t> out;
    auto s = db.prepare("SELECT host_id, not_after FROM host_certificates");
    while (s.step()) out[s.column_text(0)] = s.column_int(1);
    return out;
  });
}

Enrollment::Token Enrollment::create(const std::string& host_id, std::chrono::seconds ttl) {
  unsigned char random[24];
  if (RAND_bytes(random, sizeof random) != 1) throw std::runtime_error("no randomness for a token");
  Token t;
  for (unsigned char b : random) t.token += fmt::format("{:02x}", b);
  t.expires_at = now_() + ttl.count();
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
  const auto issued = store_.write([&](store::Database& db) {
    auto s = db.prepare(
        "SELECT host_id, expires_at, used_at FROM enrollment_tokens WHERE token_sha256 = ?");
    s.bind(1, model::sha256_hex(token));
    if (!s.step() || s.column_text(0) != host_id)
      throw EnrollError(401, "the enrollment token is not one issued for this host");
    if (!s.column_is_null(2))
      throw EnrollError(401, "the enrollment token was used already; ask for a new one");
    if (s.column_int(1) <= now_())
      throw EnrollError(401, "the enrollment token has expired; ask for a new one");
    CertificateAuthority::HostCertificate cert;
    try {
      cert = ca_.sign_host(csr, host_id);
    } catch (const std::exception& e) {
      throw EnrollError(400, fmt::format("the CSR is not usable: {}", e.what()));
    }
    const int64_t now = now_();
    db.prepare("UPDATE enrollment_tokens SET used_at = ? WHERE token_sha256 = ?")
        .bind(1, now)
        .bind(2, model::sha256_hex(token))
        .run();
    record(db, host_id, cert, now);
    return cert;
  });
  if (observer_) observer_(host_id, issued.not_after);
  return issued;
}

void Enrollment::record(store::Database& db, const std::string& host_id,
                        const CertificateAuthority::HostCertificate& cert, int64_t now) {
  db.prepare(
        "INSERT INTO host_certificates (host_id, serial, not_after, issued_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (host_id) DO UPDATE SET serial = excluded.serial, "
        "not_after = excluded.not_after, issued_at = excluded.issued_at")
      .bind(1, host_id)
      .bind(2, cert.serial)
      .bind(3, cert.not_after)
      .bind(4, now)
      .run();
}

CertificateAuthority::HostCertificate Enrollment::renew(const std::string& host_id,
                                                        const std::string& csr) {
  const auto cert = store_.write([&](store::Database& db) {
    auto s = db.prepare("SELECT 1 FROM host_certificates WHERE host_id = ? AND not_after > ?");
    s.bind(1, host_id).bind(2, now_());
    if (!s.step()) throw EnrollError(401, "the host holds no current certificate to renew");
    CertificateAuthority::HostCertificate issued;
    try {
      issued = ca_.sign_host(csr, host_id);
    } catch (const std::exception& e) {
      throw EnrollError(400, fmt::format("the CSR is not usable: {}", e.what()));
    }
    record(db, host_id, issued, now_());
    return issued;
  });
  if (observer_) observer_(host_id, cert.not_after);
  return cert;
}

bool Enrollment::revoke(const std::string& host_id) {
  const bool revoked = store_.write([&](store::Database& db) {
    db.prepare("DELETE FROM enrollment_tokens WHERE host_id = ? AND used_at IS NULL")
        .bind(1, host_id)
        .run();
    auto s = db.prepare("DELETE FROM host_certificates WHERE host_id = ?");
    s.bind(1, host_id).run();
    return db.changes() > 0;
  });
  if (revoked && observer_) observer_(host_id, std::nullopt);
  return revoked;
}

bool Enrollment::is_current(const std::string& host_id, const std::string& serial) {
  return store_.read([&](store::Database& db) {
    auto s = db.prepare(
        "SELECT 1 FROM host_certificates WHERE host_id = ? AND serial = ? AND not_after > ?");
    s.bind(1, host_id).bind(2, serial).bind(3, now_());
    return s.step();
  });
}

}  // namespace vnet::southbound

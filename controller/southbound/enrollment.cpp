#include "controller/southbound/enrollment.h"

#include <fmt/format.h>
#include <openssl/rand.h>

#include "controller/model/rows.h"
#include "controller/store/records.h"
#include "controller/store/store.h"
#include "shared/util/time.h"

namespace vnet::southbound {
Enrollment::Enrollment(store::Store& store, const CertificateAuthority& ca, Clock now)
    : store_(store), ca_(ca), now_(now ? std::move(now) : Clock([] { return unix_now(); })) {}

std::map<std::string, int64_t> Enrollment::certificates() {
  return store_.read([&](store::Database& db) { return store::Enrollments(db).certificates(); });
}

Enrollment::Token Enrollment::create(const std::string& host_id, std::chrono::seconds ttl) {
  unsigned char random[24];
  if (RAND_bytes(random, sizeof random) != 1) throw std::runtime_error("no randomness for a token");
  Token t;
  for (unsigned char b : random) t.token += fmt::format("{:02x}", b);
  t.expires_at = now_() + ttl.count();
  store_.write([&](store::Database& db) {
    store::Enrollments(db).add_token(model::sha256_hex(t.token), host_id, t.expires_at);
  });
  return t;
}

CertificateAuthority::HostCertificate Enrollment::redeem(const std::string& host_id,
                                                         const std::string& token,
                                                         const std::string& csr) {
  const auto issued = store_.write([&](store::Database& db) {
    store::Enrollments enrollments(db);
    const std::string token_sha256 = model::sha256_hex(token);
    const auto issued_token = enrollments.token(token_sha256);
    if (!issued_token || issued_token->host_id != host_id)
      throw EnrollError(401, "the enrollment token is not one issued for this host");
    if (issued_token->used)
      throw EnrollError(401, "the enrollment token was used already; ask for a new one");
    if (issued_token->expires_at <= now_())
      throw EnrollError(401, "the enrollment token has expired; ask for a new one");
    CertificateAuthority::HostCertificate cert;
    try {
      cert = ca_.sign_host(csr, host_id);
    } catch (const std::exception& e) {
      throw EnrollError(400, fmt::format("the CSR is not usable: {}", e.what()));
    }
    const int64_t now = now_();
    enrollments.use_token(token_sha256, now);
    record(db, host_id, cert, now);
    return cert;
  });
  if (observer_) observer_(host_id, issued.not_after);
  return issued;
}

void Enrollment::record(store::Database& db, const std::string& host_id,
                        const CertificateAuthority::HostCertificate& cert, int64_t now) {
  store::Enrollments(db).record_certificate(host_id, cert.serial, cert.not_after, now);
}

CertificateAuthority::HostCertificate Enrollment::renew(const std::string& host_id,
                                                        const std::string& csr) {
  const auto cert = store_.write([&](store::Database& db) {
    if (!store::Enrollments(db).has_current(host_id, now_()))
      throw EnrollError(401, "the host holds no current certificate to renew");
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
  const bool revoked =
      store_.write([&](store::Database& db) { return store::Enrollments(db).revoke(host_id); });
  if (revoked && observer_) observer_(host_id, std::nullopt);
  return revoked;
}

bool Enrollment::is_current(const std::string& host_id, const std::string& serial) {
  return store_.read([&](store::Database& db) {
    return store::Enrollments(db).has_current(host_id, now_(), serial);
  });
}

}  // namespace vnet::southbound

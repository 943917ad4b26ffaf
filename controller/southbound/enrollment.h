// Enrollment tokens and host certificates, in the store: `kubeadm join`'s
// flow. An admin asks for a token for a host; the token works once, until it
// expires; redeeming it with a CSR gives the host its certificate, whose
// serial becomes the only one the southbound server accepts for that host.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "controller/southbound/ca.h"

namespace vnet::store {
class Store;
class Database;
}

namespace vnet::southbound {

// Why an enrollment was refused, with the HTTP status to answer.
struct EnrollError : std::runtime_error {
  EnrollError(int s, const std::string& m) : std::runtime_error(m), status(s) {}
  int status;
};

class Enrollment {
 public:
  // `now`: Unix seconds (injected by tests, for expiry).
  using Clock = std::function<int64_t()>;
  Enrollment(store::Store& store, const CertificateAuthority& ca, Clock now = nullptr);
  // Told each time a host's certificate changes: its expiry (Unix seconds),
  // or nullopt when it was revoked.
  using Observer = std::function<void(const std::string& host, std::optional<int64_t> not_after)>;
  void set_observer(Observer observer) { observer_ = std::move(observer); }
  // Every host's certificate expiry, for the observer at start.
  std::map<std::string, int64_t> certificates();

  struct Token {
    std::string token;
    int64_t expires_at = 0;  // Unix seconds
  };
  // A new one-time token for an existing host.
  Token create(const std::string& host_id, std::chrono::seconds ttl);
  // Spends the token and signs the CSR; throws EnrollError.
  CertificateAuthority::HostCertificate redeem(const std::string& host_id, const std::string& token,
                                               const std::string& csr);
  // Forgets the host's certificate and unused tokens; true if it had a
  // certificate.
  bool revoke(const std::string& host_id);
  // Whether `serial` is the host's current certificate.
  bool is_current(const std::string& host_id, const std::string& serial);
  // A new certificate for a host that holds a current one (asked over its
  // mutual-TLS session, so no token): it replaces the old one. Throws
  // EnrollError (400) for an unusable CSR, (401) for a host without one.
  CertificateAuthority::HostCertificate renew(const std::string& host_id, const std::string& csr);

 private:
  store::Store& store_;
  const CertificateAuthority& ca_;
  void record(store::Database& db, const std::string& host_id,
              const CertificateAuthority::HostCertificate& cert, int64_t now);
  Clock now_;
  Observer observer_;
};

}  // namespace vnet::southbound

// Enrollment tokens and host certificates, in the store: `kubeadm join`'s
// flow. An admin asks for a token for a host; the token works once, until it
// expires; redeeming it with a CSR gives the host its certificate, whose
// serial becomes the only one the southbound server accepts for that host.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>

#include "controller/southbound/ca.h"

namespace vnet::store {
class Store;
}

namespace vnet::southbound {

// Why an enrollment was refused, with the HTTP status to answer.
struct EnrollError : std::runtime_error {
  EnrollError(int s, const std::string& m) : std::runtime_error(m), status(s) {}
  int status;
};

class Enrollment {
 public:
  Enrollment(store::Store& store, const CertificateAuthority& ca) : store_(store), ca_(ca) {}

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

 private:
  store::Store& store_;
  const CertificateAuthority& ca_;
};

}  // namespace vnet::southbound

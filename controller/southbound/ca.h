// The controller's own certificate authority (DESIGN.md section 3), kept in
// the data directory: ca.key (0600) and ca.crt, created at first start and
// reused after. The southbound listener's certificate (southbound.key,
// southbound.crt, CN vnet-controller) is issued anew at every start.
#pragma once

#include <filesystem>
#include <string>

namespace vnet::southbound {

class CertificateAuthority {
 public:
  // Loads the CA from `dir`, or creates it there.
  explicit CertificateAuthority(const std::filesystem::path& dir);

  const std::string& ca_pem() const { return ca_pem_; }
  // The pin agents check: SHA-256 of the CA certificate's DER, hex.
  const std::string& ca_sha256() const { return ca_sha256_; }
  const std::string& server_key_pem() const { return server_key_pem_; }
  const std::string& server_cert_pem() const { return server_cert_pem_; }

  struct HostCertificate {
    std::string pem;
    std::string serial;
    int64_t not_after = 0;  // Unix seconds
  };
  // Signs a host's CSR: CN = the host id, client authentication only.
  HostCertificate sign_host(const std::string& csr_pem, const std::string& host_id) const;

 private:
  std::string ca_key_pem_;
  std::string ca_pem_;
  std::string ca_sha256_;
  std::string server_key_pem_;
  std::string server_cert_pem_;
};

}  // namespace vnet::southbound

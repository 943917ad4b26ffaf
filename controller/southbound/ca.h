// The controller's own certificate authority (DESIGN.md section 3), kept in
// the data directory: ca.key (0600) and ca.crt, created at first start and
// reused after; or, for replicas on PostgreSQL, in the database with its key
// sealed under the store key (docs/store.md). The southbound listener's certificate
// (southbound.key, southbound.crt, CN vnet-controller) is issued anew at every start; so is the
// REST API's when it serves HTTPS without an operator's certificate.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace vnet::store {
class Store;
}

namespace vnet::southbound {

class CertificateAuthority {
 public:
  // Loads the CA from `dir`, or creates it there.
  explicit CertificateAuthority(const std::filesystem::path& dir);
  // Several replicas on one database (PostgreSQL): the CA is the
  // database's, its key sealed with the 32-byte key in `store_key`. The
  // replica that finds none creates it (and `store_key` when absent); the
  // others must hold the same key file, or this throws saying so. ca.crt is
  // also written to `dir` for operators. `store` on SQLite: as above.
  CertificateAuthority(const std::filesystem::path& dir, store::Store& store,
                       const std::filesystem::path& store_key);

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

  // A new key and a server certificate for the REST API's HTTPS, naming
  // `names` (DNS names and IP addresses; the first is also the CN). The
  // chain is the certificate followed by the CA's.
  struct ServerCertificate {
    std::string key_pem;
    std::string chain_pem;
    std::string serial;
    std::chrono::system_clock::time_point not_after;
  };
  ServerCertificate issue_server(const std::vector<std::string>& names,
                                 std::chrono::hours lifetime) const;

 private:
  void issue_listener(const std::filesystem::path& dir);
  std::string ca_key_pem_;
  std::string ca_pem_;
  std::string ca_sha256_;
  std::string server_key_pem_;
  std::string server_cert_pem_;
};

}  // namespace vnet::southbound

#include "controller/southbound/ca.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "shared/log/log.h"
#include "shared/proto/southbound.h"
#include "shared/tls/x509.h"
#include "shared/util/file.h"

namespace vnet::southbound {
namespace {

constexpr std::chrono::hours kCaLifetime{24 * 365 * 10};
constexpr std::chrono::hours kServerLifetime{24 * 365};
constexpr std::chrono::hours kHostLifetime{24 * 365};

}  // namespace

CertificateAuthority::CertificateAuthority(const std::filesystem::path& dir) {
  const auto key_path = dir / "ca.key";
  const auto cert_path = dir / "ca.crt";
  if (std::filesystem::exists(key_path) && std::filesystem::exists(cert_path)) {
    ca_key_pem_ = read_file(key_path);
    ca_pem_ = read_file(cert_path);
  } else {
    ca_key_pem_ = tls::generate_key();
    ca_pem_ = tls::self_signed_ca(ca_key_pem_, "vnet controller CA", kCaLifetime).certificate_pem;
    write_file_atomically(key_path, ca_key_pem_, 0600);
    write_file_atomically(cert_path, ca_pem_, 0644);
    spdlog::info("ca_created cert={}", log::quote(cert_path.string()));
  }
  ca_sha256_ = tls::certificate_sha256(ca_pem_);
  server_key_pem_ = tls::generate_key();
  server_cert_pem_ =
      tls::issue(ca_key_pem_, ca_pem_, server_key_pem_, std::string(proto::kControllerName),
                 tls::Usage::kServer, kServerLifetime)
          .certificate_pem;
  write_file_atomically(dir / "southbound.key", server_key_pem_, 0600);
  write_file_atomically(dir / "southbound.crt", server_cert_pem_ + ca_pem_, 0644);
}

CertificateAuthority::HostCertificate CertificateAuthority::sign_host(
    const std::string& csr_pem, const std::string& host_id) const {
  const tls::Issued issued =
      tls::issue(ca_key_pem_, ca_pem_, csr_pem, host_id, tls::Usage::kClient, kHostLifetime);
  return {issued.certificate_pem, issued.serial,
          std::chrono::duration_cast<std::chrono::seconds>(issued.not_after.time_since_epoch())
              .count()};
}

CertificateAuthority::ServerCertificate CertificateAuthority::issue_server(
    const std::vector<std::string>& names, std::chrono::hours lifetime) const {
  if (names.empty()) throw std::invalid_argument("a server certificate needs a name");
  ServerCertificate out;
  out.key_pem = tls::generate_key();
  const tls::Issued issued = tls::issue(ca_key_pem_, ca_pem_, out.key_pem, names.front(),
                                        tls::Usage::kServer, lifetime, names);
  out.chain_pem = issued.certificate_pem + ca_pem_;
  out.serial = issued.serial;
  out.not_after = issued.not_after;
  return out;
}

}  // namespace vnet::southbound

// The certificates of the southbound channel (DESIGN.md section 3), with
// OpenSSL: EC P-256 keys, CSRs, the controller's own CA, and the pin an
// agent checks before it trusts the controller (ca_sha256). Everything is
// PEM text in and out; errors are std::runtime_error with OpenSSL's reason.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct x509_st;
struct ssl_st;

namespace vnet::tls {

// A new EC P-256 private key, PKCS#8 PEM.
std::string generate_key();
// A CSR for `common_name`, signed with `key_pem`.
std::string make_csr(std::string_view key_pem, std::string_view common_name);

struct Issued {
  std::string certificate_pem;
  std::string serial;  // lower-case hex
  std::chrono::system_clock::time_point not_after;
};

enum class Usage { kCa, kServer, kClient };

// A self-signed CA certificate for `key_pem`.
Issued self_signed_ca(std::string_view key_pem, std::string_view common_name,
                      std::chrono::hours lifetime);
// A certificate for `public_key_of` (a CSR PEM, whose signature is checked,
// or a private key PEM), with subject CN `common_name` (the CSR's subject is
// ignored: the CA decides who this is), signed by the CA. A server
// certificate names `names` (DNS names and IP addresses) as its
// subjectAltName, or the common name when `names` is empty.
Issued issue(std::string_view ca_key_pem, std::string_view ca_cert_pem,
             std::string_view public_key_of, std::string_view common_name, Usage usage,
             std::chrono::hours lifetime, const std::vector<std::string>& names = {});

// Lower-case hex SHA-256 of the certificate's DER encoding: the value of
// `ca_sha256`, the same as `openssl x509 -outform der | sha256sum`.
std::string certificate_sha256(std::string_view cert_pem);
// The subject CN and serial (lower-case hex) of a certificate.
std::string common_name(std::string_view cert_pem);
std::string serial(std::string_view cert_pem);
// When the certificate expires.
std::chrono::system_clock::time_point not_after(std::string_view cert_pem);
// The same for a certificate OpenSSL holds (a TLS peer's).
struct Identity {
  std::string common_name;
  std::string serial;
};
Identity identity(const x509_st* cert);
// Enrollment's trust-on-pin (kubeadm's discovery hash): the TLS peer's chain
// must hold a certificate whose SHA-256 is `ca_sha256`, the peer's own
// certificate must verify against it and carry the DNS name `name`. Returns
// the reason when not; nullopt when the peer is the controller.
std::optional<std::string> check_pinned_peer(ssl_st* ssl, std::string_view ca_sha256,
                                             std::string_view name);
// Every certificate in a PEM bundle, in order.
std::vector<std::string> split_pem(std::string_view bundle);

}  // namespace vnet::tls

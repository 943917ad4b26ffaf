#include "shared/tls/x509.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>

namespace vnet::tls {
namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Req = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
using Ext = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

[[noreturn]] void fail(std::string_view what) {
  const unsigned long e = ERR_get_error();
  char reason[256] = "no detail";
  if (e != 0) ERR_error_string_n(e, reason, sizeof reason);
  ERR_clear_error();
  throw std::runtime_error(fmt::format("{}: {}", what, reason));
}

Bio read_bio(std::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) fail("cannot allocate a BIO");
  return bio;
}

std::string drain(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

Key load_key(std::string_view pem) {
  Bio bio = read_bio(pem);
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) fail("not a PEM private key");
  return key;
}

Cert load_cert(std::string_view pem) {
  Bio bio = read_bio(pem);
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) fail("not a PEM certificate");
  return cert;
}

std::string cert_pem(X509* cert) {
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_X509(out.get(), cert) != 1) fail("cannot write the certificate");
  return drain(out.get());
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Ext ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    fail(fmt::format("cannot add extension {}", value));
}

std::string serial_hex(X509* cert) {
  std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>> bn(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) fail("cannot read the serial number");
  char* hex = BN_bn2hex(bn.get());
  std::string out(hex);
  OPENSSL_free(hex);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::chrono::system_clock::time_point not_after_of(X509* cert) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) fail("cannot read notAfter");
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// Builds, signs and returns a certificate.
// "DNS:name" or "IP:address" for a subjectAltName entry.
std::string alt_name(const std::string& name) {
  unsigned char ignored[16];
  const bool ip = inet_pton(AF_INET, name.c_str(), ignored) == 1 ||
                  inet_pton(AF_INET6, name.c_str(), ignored) == 1;
  return fmt::format("{}:{}", ip ? "IP" : "DNS", name);
}

Issued build(EVP_PKEY* subject_key, std::string_view cn, X509* issuer, EVP_PKEY* issuer_key,
             Usage usage, std::chrono::hours lifetime, const std::vector<std::string>& names) {
  Cert cert(X509_new());
  if (!cert) fail("cannot allocate a certificate");
  X509_set_version(cert.get(), 2);
  unsigned char random[16];
  if (RAND_bytes(random, sizeof random) != 1) fail("no randomness for a serial");
  random[0] &= 0x7f;  // a positive serial
  std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>> bn(BN_bin2bn(random, sizeof random, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())))
    fail("cannot set the serial");
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300);  // tolerate small clock skew
  X509_gmtime_adj(X509_getm_notAfter(cert.get()),
                  static_cast<long>(std::chrono::seconds(lifetime).count()));
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.data()),
                                 static_cast<int>(cn.size()), -1, 0) != 1)
    fail("cannot set the subject");
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  if (X509_set_pubkey(cert.get(), subject_key) != 1) fail("cannot set the public key");
  X509* signer = issuer ? issuer : cert.get();
  add_extension(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (issuer) add_extension(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
  switch (usage) {
    case Usage::kCa:
      add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
      add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
      break;
    case Usage::kServer:
      add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
      add_extension(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
      add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth");
      if (names.empty()) {
        add_extension(cert.get(), signer, NID_subject_alt_name, alt_name(std::string(cn)).c_str());
      } else {
        std::string list;
        for (const auto& n : names) list += (list.empty() ? "" : ",") + alt_name(n);
        add_extension(cert.get(), signer, NID_subject_alt_name, list.c_str());
      }
      break;
    case Usage::kClient:
      add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
      add_extension(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
      add_extension(cert.get(), signer, NID_ext_key_usage, "clientAuth");
      break;
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) fail("cannot sign the certificate");
  return {cert_pem(cert.get()), serial_hex(cert.get()), not_after_of(cert.get())};
}

}  // namespace

std::string generate_key() {
  Key key(EVP_EC_gen("P-256"));
  if (!key) fail("cannot generate an EC key");
  Bio out(BIO_new(BIO_s_mem()));
  if (!out ||
      PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    fail("cannot write the key");
  return drain(out.get());
}

std::string make_csr(std::string_view key_pem, std::string_view cn) {
  Key key = load_key(key_pem);
  Req req(X509_REQ_new());
  if (!req) fail("cannot allocate a CSR");
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.data()),
                                 static_cast<int>(cn.size()), -1, 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.get()) != 1 ||
      X509_REQ_sign(req.get(), key.get(), EVP_sha256()) == 0)
    fail("cannot build the CSR");
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_X509_REQ(out.get(), req.get()) != 1) fail("cannot write the CSR");
  return drain(out.get());
}

Issued self_signed_ca(std::string_view key_pem, std::string_view cn, std::chrono::hours lifetime) {
  Key key = load_key(key_pem);
  return build(key.get(), cn, nullptr, key.get(), Usage::kCa, lifetime, {});
}

Issued issue(std::string_view ca_key_pem, std::string_view ca_cert_pem,
             std::string_view public_key_of, std::string_view cn, Usage usage,
             std::chrono::hours lifetime, const std::vector<std::string>& names) {
  Key ca_key = load_key(ca_key_pem);
  Cert ca = load_cert(ca_cert_pem);
  Key subject;
  if (public_key_of.find("CERTIFICATE REQUEST") != std::string_view::npos) {
    Bio bio = read_bio(public_key_of);
    Req req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
    if (!req) fail("not a PEM certificate request");
    subject.reset(X509_REQ_get_pubkey(req.get()));
    if (!subject || X509_REQ_verify(req.get(), subject.get()) != 1)
      fail("the certificate request's signature does not verify");
  } else {
    subject = load_key(public_key_of);
  }
  return build(subject.get(), cn, ca.get(), ca_key.get(), usage, lifetime, names);
}

std::string certificate_sha256(std::string_view pem) {
  Cert cert = load_cert(pem);
  unsigned char digest[32];
  unsigned int n = sizeof digest;
  if (X509_digest(cert.get(), EVP_sha256(), digest, &n) != 1) fail("cannot hash the certificate");
  std::string out;
  for (unsigned i = 0; i < n; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

Identity identity(const x509_st* cert) {
  X509* c = const_cast<X509*>(cert);
  char cn[256] = "";
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, cn, sizeof cn) < 0)
    cn[0] = 0;
  return {cn, serial_hex(c)};
}

std::string common_name(std::string_view pem) { return identity(load_cert(pem).get()).common_name; }

std::string serial(std::string_view pem) { return identity(load_cert(pem).get()).serial; }

std::chrono::system_clock::time_point not_after(std::string_view pem) {
  return not_after_of(load_cert(pem).get());
}

std::optional<std::string> check_pinned_peer(ssl_st* ssl, std::string_view ca_sha256,
                                             std::string_view name) {
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  X509* leaf = SSL_get0_peer_certificate(ssl);
  if (chain == nullptr || leaf == nullptr) return "the controller sent no certificate";
  X509* pinned = nullptr;
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    X509* c = sk_X509_value(chain, i);
    unsigned char digest[32];
    unsigned int n = sizeof digest;
    if (X509_digest(c, EVP_sha256(), digest, &n) != 1) continue;
    std::string hex;
    for (unsigned j = 0; j < n; ++j) hex += fmt::format("{:02x}", digest[j]);
    if (hex == ca_sha256) pinned = c;
  }
  if (pinned == nullptr)
    return fmt::format(
        "no certificate of the controller's chain has SHA-256 {} (wrong --ca-sha256, "
        "or not this controller)",
        ca_sha256);
  std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>> store(X509_STORE_new());
  std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>> ctx(
      X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), pinned) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), leaf, chain) != 1)
    return "cannot set up certificate verification";
  if (X509_verify_cert(ctx.get()) != 1) {
    return fmt::format("the controller's certificate does not verify against the pinned CA: {}",
                       X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
  }
  if (X509_check_host(leaf, name.data(), name.size(), 0, nullptr) != 1)
    return fmt::format("the controller's certificate is not for {}", name);
  return std::nullopt;
}

std::vector<std::string> split_pem(std::string_view bundle) {
  std::vector<std::string> out;
  constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  size_t pos = 0;
  for (;;) {
    const size_t begin = bundle.find("-----BEGIN CERTIFICATE-----", pos);
    if (begin == std::string_view::npos) break;
    const size_t end = bundle.find(kEnd, begin);
    if (end == std::string_view::npos) break;
    out.emplace_back(bundle.substr(begin, end + kEnd.size() - begin));
    out.back() += "\n";
    pos = end + kEnd.size();
  }
  return out;
}

}  // namespace vnet::tls

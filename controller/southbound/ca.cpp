#include "controller/southbound/ca.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "controller/store/records.h"
#include "controller/store/store.h"
#include "shared/log/log.h"
#include "shared/proto/southbound.h"
#include "shared/tls/seal.h"
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
  issue_listener(dir);
}

CertificateAuthority::CertificateAuthority(const std::filesystem::path& dir, store::Store& store,
                                           const std::filesystem::path& store_key) {
  if (store.engine() != store::Engine::kPostgresql) {
    *this = CertificateAuthority(dir);
    return;
  }
  auto read_key = [&]() -> std::optional<std::string> {
    if (!std::filesystem::exists(store_key)) return std::nullopt;
    std::string key = read_file(store_key);
    if (key.size() != tls::kSealKeyBytes) {
      throw std::runtime_error(fmt::format("--store-key {}: holds {} bytes, not {}",
                                           store_key.string(), key.size(), tls::kSealKeyBytes));
    }
    return key;
  };
  store.write([&](store::Database& db) {
    store::Secrets secrets(db);
    ca_pem_ = secrets.get("ca.crt").value_or("");
    const std::string sealed = secrets.get("ca.key").value_or("");
    if (!sealed.empty()) {
      const auto key = read_key();
      if (!key) {
        throw std::runtime_error(fmt::format(
            "--store-key {} does not exist, and the database's CA key is sealed with the store "
            "key of the controller that initialised it: copy that controller's store.key here "
            "(or name it with --store-key)",
            store_key.string()));
      }
      auto opened = tls::unseal(*key, sealed, "vnet ca.key");
      if (!opened) {
        throw std::runtime_error(fmt::format(
            "--store-key {} is not the key the database's CA key is sealed with (another "
            "database's, or a new one): use the store.key of the controller that initialised "
            "this database",
            store_key.string()));
      }
      ca_key_pem_ = std::move(*opened);
      return;
    }
    auto key = read_key();
    if (!key) {
      key = tls::random_key();
      write_file_atomically(store_key, *key, 0600);
      spdlog::info("store_key_created file={} detail={}", log::quote(store_key.string()),
                   log::quote("every controller on this database needs a copy"));
    }
    ca_key_pem_ = tls::generate_key();
    ca_pem_ = tls::self_signed_ca(ca_key_pem_, "vnet controller CA", kCaLifetime).certificate_pem;
    secrets.put("ca.crt", ca_pem_);
    secrets.put("ca.key", tls::seal(*key, ca_key_pem_, "vnet ca.key"));
    spdlog::info("ca_created store={}", log::quote(store.name()));
  });
  write_file_atomically(dir / "ca.crt", ca_pem_, 0644);
  issue_listener(dir);
}

void CertificateAuthority::issue_listener(const std::filesystem::path& dir) {
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

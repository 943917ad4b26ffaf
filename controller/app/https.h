// The REST API's HTTPS (DESIGN.md section 3, docs/https.md): which
// certificate the listener serves and keeping it fresh. Plain HTTP only on
// a loopback address without --api-cert; anywhere else, the operator's
// certificate (--api-cert/--api-key, reloaded when the files change) or one
// from the controller's own CA for --api-names, reissued at each start and
// renewed before it expires.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vnet::api {
class Server;
}
namespace vnet::southbound {
class CertificateAuthority;
}

namespace vnet::app {

struct HttpsOptions {
  std::string cert_file;           // --api-cert
  std::string key_file;            // --api-key
  std::vector<std::string> names;  // --api-names; empty: default_api_names()
  // The own CA's certificate: how long it lives, how long before its end it
  // is renewed, how often that is checked (and the operator's files).
  std::chrono::hours lifetime{24 * 90};
  std::chrono::seconds renew_before{std::chrono::hours(24 * 30)};
  std::chrono::milliseconds check_every{std::chrono::hours(1)};
};

// 127.0.0.0/8 and ::1.
bool is_loopback(const std::string& address);
// The host name and the listen address; for a wildcard address (0.0.0.0,
// ::) the host name, localhost, the loopback addresses and every address
// of this machine's interfaces.
std::vector<std::string> default_api_names(const std::string& listen_address);
// Throws std::invalid_argument naming the first entry that is neither a DNS
// name nor an IP address.
void check_api_names(const std::vector<std::string>& names);

class ApiCertificates {
 public:
  // Configures `server` (HTTPS or not, as above) and, when HTTPS, starts the
  // renewal thread. Throws std::invalid_argument / std::runtime_error with
  // one sentence naming the option.
  ApiCertificates(api::Server& server, const southbound::CertificateAuthority& ca,
                  const std::filesystem::path& data_dir, const std::string& listen_address,
                  HttpsOptions options);
  ~ApiCertificates();
  ApiCertificates(const ApiCertificates&) = delete;
  ApiCertificates& operator=(const ApiCertificates&) = delete;

  bool https() const { return https_; }

 private:
  void issue_own();
  void load_operators();
  void keep();

  api::Server& server_;
  const southbound::CertificateAuthority& ca_;
  std::filesystem::path dir_;
  HttpsOptions options_;
  bool https_ = false;
  std::chrono::system_clock::time_point not_after_;
  std::filesystem::file_time_type cert_mtime_, key_mtime_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vnet::app

// The REST API's HTTPS (DESIGN.md section 3, docs/https.md): plain HTTP only
// on loopback; off loopback a certificate from the controller's own CA for
// --api-names, or the operator's (--api-cert/--api-key), renewed or reloaded
// while running; vnetctl's client trusts what --ca-cert names and nothing
// else, and sends a token in clear text to loopback only.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "controller/app/controller.h"
#include "controller/cli/http_client.h"
#include "shared/tls/x509.h"
#include "shared/util/file.h"
#include "tests/controller/api_fixture.h"

namespace vnet::testing {
namespace {

using namespace std::chrono_literals;

// A controller built from options, serving on its own thread.
class Running {
 public:
  explicit Running(const app::Options& options)
      : app_(std::make_unique<app::Controller>(options)), thread_([this] { app_->run(); }) {}
  ~Running() {
    app_->stop();
    thread_.join();
  }
  app::Controller& app() { return *app_; }
  uint16_t port() const { return app_->api_port(); }

 private:
  std::unique_ptr<app::Controller> app_;
  std::thread thread_;
};

app::Options options_in(const std::filesystem::path& dir, const std::string& listen) {
  app::Options o;
  o.data_dir = dir.string();
  o.listen = listen;
  o.southbound = "127.0.0.1:0";
  o.log_level = "warn";
  return o;
}

std::string admin_token(const std::filesystem::path& dir) {
  std::string t = read_file(dir / "admin.token");
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t;
}

cli::Reply get(const std::string& url, const std::string& ca, const std::string& target,
               const std::string& token = "") {
  cli::HttpClient client(cli::parse_url(url), token, ca);
  return client.request("GET", target);
}

std::string error_of(const std::string& url, const std::string& ca) {
  try {
    get(url, ca, "/healthz");
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// The serial of the certificate the listener serves now (no verification:
// only which certificate it is).
std::string served_serial(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return "";
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  std::string serial;
  if (SSL_connect(ssl) == 1) {
    if (X509* cert = SSL_get1_peer_certificate(ssl)) {
      serial = tls::identity(cert).serial;
      X509_free(cert);
    }
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  return serial;
}

template <class F>
bool eventually(F f, std::chrono::milliseconds limit = 5s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return f();
}

// An operator's own CA and a server certificate from it for 127.0.0.1.
struct OperatorPki {
  std::string ca_key = tls::generate_key();
  std::string ca = tls::self_signed_ca(ca_key, "operator CA", 24h).certificate_pem;
  std::string key = tls::generate_key();
  std::string chain() const {
    return tls::issue(ca_key, ca, key, "api.example", tls::Usage::kServer, 24h,
                      {"api.example", "127.0.0.1"})
               .certificate_pem +
           ca;
  }
};

TEST(Https, OffLoopbackOnlyHttpsWithTheControllersOwnCa) {
  TempDir dir;
  Running ctl(options_in(dir.path(), "0.0.0.0:0"));
  ASSERT_TRUE(ctl.app().api_https());
  const std::string url = "https://127.0.0.1:" + std::to_string(ctl.port());
  const std::string ca = (dir.path() / "ca.crt").string();

  // With the controller's CA: the API and the console.
  const auto hosts = get(url, ca, "/api/v1/hosts", admin_token(dir.path()));
  EXPECT_EQ(hosts.status, 200) << hosts.body;
  EXPECT_EQ(get("https://localhost:" + std::to_string(ctl.port()), ca, "/healthz").status, 200)
      << "a wildcard listener's certificate names localhost";

  // Plain HTTP is answered with where to go, and the request is not served.
  const HttpResult plain = http(ctl.port(), "GET", "/api/v1/hosts", "", admin_token(dir.path()));
  EXPECT_EQ(plain.status, 400);
  EXPECT_NE(plain.body.find("serves HTTPS only"), std::string::npos) << plain.body;
  EXPECT_EQ(plain.body.find("items"), std::string::npos) << plain.body;

  // Without the CA vnetctl's client refuses, and says what to give.
  const std::string refused = error_of(url, "");
  EXPECT_NE(refused.find("does not trust"), std::string::npos) << refused;
  EXPECT_NE(refused.find("--ca-cert"), std::string::npos) << refused;

  // The key is the controller's alone; the certificate is there to inspect.
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "api.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(tls::serial(read_file(dir.path() / "api.crt")), served_serial(ctl.port()));
}

TEST(Https, ApiNamesAreTheNamesTheCertificateCarries) {
  TempDir dir;
  app::Options o = options_in(dir.path(), "0.0.0.0:0");
  o.https.names = {"controller.example", "127.0.0.1"};
  Running ctl(o);
  const std::string ca = (dir.path() / "ca.crt").string();
  EXPECT_EQ(get("https://127.0.0.1:" + std::to_string(ctl.port()), ca, "/healthz").status, 200);
  const std::string wrong = error_of("https://localhost:" + std::to_string(ctl.port()), ca);
  EXPECT_NE(wrong.find("does not name localhost"), std::string::npos) << wrong;
  EXPECT_NE(wrong.find("--api-names"), std::string::npos) << wrong;

  TempDir other;
  app::Options bad = options_in(other.path(), "0.0.0.0:0");
  bad.https.names = {"not a name"};
  try {
    app::Controller refused(bad);
    ADD_FAILURE() << "a name with spaces was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--api-names: \"not a name\""), std::string::npos)
        << e.what();
  }
}

TEST(Https, TheOperatorsCertificateAlsoOnLoopbackAndReloadedWhenItChanges) {
  TempDir dir;
  OperatorPki pki;
  const auto cert_file = dir.path() / "operator.crt";
  const auto key_file = dir.path() / "operator.key";
  write_file_atomically(cert_file, pki.chain(), 0644);
  write_file_atomically(key_file, pki.key, 0600);
  app::Options o = options_in(dir.path() / "data", "127.0.0.1:0");
  o.https.cert_file = cert_file.string();
  o.https.key_file = key_file.string();
  o.https.check_every = 100ms;
  Running ctl(o);
  ASSERT_TRUE(ctl.app().api_https());
  const std::string url = "https://127.0.0.1:" + std::to_string(ctl.port());
  write_file_atomically(dir.path() / "operator-ca.crt", pki.ca, 0644);
  EXPECT_EQ(get(url, (dir.path() / "operator-ca.crt").string(), "/healthz").status, 200);
  // The controller's own CA did not issue it: not trusted for it.
  const std::string refused = error_of(url, (dir.path() / "data" / "ca.crt").string());
  EXPECT_NE(refused.find("does not trust"), std::string::npos) << refused;

  // A renewed certificate in the files is served without a restart; a
  // broken pair is refused and the last good one kept.
  const std::string before = served_serial(ctl.port());
  const std::string renewed = pki.chain();
  write_file_atomically(cert_file, renewed, 0644);
  EXPECT_TRUE(eventually([&] { return served_serial(ctl.port()) == tls::serial(renewed); }));
  write_file_atomically(key_file, tls::generate_key(), 0600);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(served_serial(ctl.port()), tls::serial(renewed));
  EXPECT_NE(before, tls::serial(renewed));
}

TEST(Https, TheOwnCertificateIsRenewedBeforeItEnds) {
  TempDir dir;
  app::Options o = options_in(dir.path(), "0.0.0.0:0");
  o.https.lifetime = 1h;
  o.https.renew_before = 2h;  // always due: renewed at every check
  o.https.check_every = 100ms;
  Running ctl(o);
  const std::string first = served_serial(ctl.port());
  ASSERT_FALSE(first.empty());
  EXPECT_TRUE(eventually([&] {
    const std::string now = served_serial(ctl.port());
    return !now.empty() && now != first;
  }));
  EXPECT_EQ(get("https://127.0.0.1:" + std::to_string(ctl.port()), (dir.path() / "ca.crt").string(),
                "/healthz")
                .status,
            200);
}

TEST(Https, BadCertificateOptionsStopTheStartWithTheReason) {
  TempDir dir;
  OperatorPki pki;
  write_file_atomically(dir.path() / "c.crt", pki.chain(), 0644);
  write_file_atomically(dir.path() / "other.key", tls::generate_key(), 0600);
  auto start_error = [&](app::Options o) -> std::string {
    try {
      app::Controller c(o);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  };
  app::Options half = options_in(dir.path() / "a", "127.0.0.1:0");
  half.https.cert_file = (dir.path() / "c.crt").string();
  EXPECT_NE(start_error(half).find("--api-cert and --api-key go together"), std::string::npos);
  app::Options mismatched = half;
  mismatched.data_dir = (dir.path() / "b").string();
  mismatched.https.key_file = (dir.path() / "other.key").string();
  EXPECT_NE(start_error(mismatched).find("does not belong to the certificate"), std::string::npos)
      << start_error(mismatched);
  app::Options missing = mismatched;
  missing.data_dir = (dir.path() / "c").string();
  missing.https.key_file = (dir.path() / "absent.key").string();
  EXPECT_NE(start_error(missing).find("--api-key"), std::string::npos) << start_error(missing);
}

TEST(Https, OnLoopbackWithoutACertificatePlainHttp) {
  TempDir dir;
  Running ctl(options_in(dir.path(), "127.0.0.1:0"));
  EXPECT_FALSE(ctl.app().api_https());
  EXPECT_EQ(http(ctl.port(), "GET", "/healthz").status, 200);
  EXPECT_EQ(get("http://127.0.0.1:" + std::to_string(ctl.port()), "", "/healthz").status, 200);
}

TEST(Https, VnetctlNeverSendsATokenInClearTextOffLoopback) {
  // 192.0.2.1 (TEST-NET-1) is never contacted: the client refuses first.
  try {
    get("http://192.0.2.1:8080", "", "/api/v1/hosts", "secret");
    ADD_FAILURE() << "a clear-text request off loopback was sent";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a loopback address"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(cli::parse_url("https://controller.example").tls);
  EXPECT_EQ(cli::parse_url("https://controller.example").port, "443");
  EXPECT_EQ(cli::parse_url("http://127.0.0.1").port, "80");
}

}  // namespace
}  // namespace vnet::testing

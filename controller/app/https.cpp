#include "controller/app/https.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "controller/api/server.h"
#include "controller/southbound/ca.h"
#include "shared/log/log.h"
#include "shared/util/file.h"
#include "shared/util/time.h"

namespace vnet::app {
namespace {

bool is_ip(const std::string& text) {
  unsigned char ignored[16];
  return inet_pton(AF_INET, text.c_str(), ignored) == 1 ||
         inet_pton(AF_INET6, text.c_str(), ignored) == 1;
}

bool is_dns_name(const std::string& text) {
  if (text.empty() || text.size() > 253) return false;
  std::string_view rest = text;
  if (rest.starts_with("*.")) rest.remove_prefix(2);  // a wildcard's first label
  size_t label = 0;
  for (size_t i = 0; i <= rest.size(); ++i) {
    if (i == rest.size() || rest[i] == '.') {
      if (label == 0 || label > 63) return false;
      label = 0;
      continue;
    }
    const char c = rest[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
    ++label;
  }
  return true;
}

std::string host_name() {
  char name[256] = "";
  if (gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

}  // namespace

bool is_loopback(const std::string& address) {
  in_addr v4{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

std::vector<std::string> default_api_names(const std::string& listen_address) {
  std::vector<std::string> names;
  auto add = [&](const std::string& n) {
    if (!n.empty() && std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  };
  if (const std::string h = host_name(); is_dns_name(h)) add(h);
  if (listen_address != "0.0.0.0" && listen_address != "::") {
    add(listen_address);
    return names;
  }
  add("localhost");
  add("127.0.0.1");
  add("::1");
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (const ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
      if (a->ifa_addr == nullptr || (a->ifa_flags & IFF_UP) == 0) continue;
      char text[INET6_ADDRSTRLEN] = "";
      if (a->ifa_addr->sa_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr, text,
                  sizeof text);
      } else if (a->ifa_addr->sa_family == AF_INET6) {
        const auto* v6 = &reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr;
        if (IN6_IS_ADDR_LINKLOCAL(v6)) continue;  // needs a zone; useless in a URL
        inet_ntop(AF_INET6, v6, text, sizeof text);
      }
      add(text);
    }
    freeifaddrs(list);
  }
  return names;
}

void check_api_names(const std::vector<std::string>& names) {
  for (const auto& n : names) {
    if (!is_ip(n) && !is_dns_name(n)) {
      throw std::invalid_argument(
          fmt::format("--api-names: \"{}\" is neither a DNS name nor an IP address", n));
    }
  }
}

ApiCertificates::ApiCertificates(api::Server& server, const southbound::CertificateAuthority& ca,
                                 const std::filesystem::path& data_dir,
                                 const std::string& listen_address, HttpsOptions options)
    : server_(server), ca_(ca), dir_(data_dir), options_(std::move(options)) {
  if (options_.cert_file.empty() != options_.key_file.empty()) {
    throw std::invalid_argument(
        "--api-cert and --api-key go together: give both, or neither for a certificate from "
        "the controller's own CA");
  }
  const bool operators = !options_.cert_file.empty();
  if (!operators && is_loopback(listen_address)) {
    spdlog::info("api_plain_http listen={} detail={}", listen_address,
                 log::quote("a loopback address: HTTP without TLS (give --api-cert for HTTPS)"));
    return;
  }
  https_ = true;
  if (operators) {
    load_operators();
  } else {
    if (options_.names.empty()) options_.names = default_api_names(listen_address);
    check_api_names(options_.names);
    issue_own();
  }
  thread_ = std::thread([this] { keep(); });
}

ApiCertificates::~ApiCertificates() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ApiCertificates::issue_own() {
  const auto issued = ca_.issue_server(options_.names, options_.lifetime);
  server_.use_certificate(issued.chain_pem, issued.key_pem);
  write_file_atomically(dir_ / "api.key", issued.key_pem, 0600);
  write_file_atomically(dir_ / "api.crt", issued.chain_pem, 0644);
  not_after_ = issued.not_after;
  spdlog::info("api_certificate_issued names={} serial={} not_after={} ca={}",
               log::quote(fmt::format("{}", fmt::join(options_.names, ","))), issued.serial,
               rfc3339(issued.not_after), log::quote((dir_ / "ca.crt").string()));
}

void ApiCertificates::load_operators() {
  auto read = [](const std::string& option, const std::string& file) {
    try {
      return read_file(file);
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("{} {}: {}", option, file, e.what()));
    }
  };
  const std::string chain = read("--api-cert", options_.cert_file);
  const std::string key = read("--api-key", options_.key_file);
  try {
    server_.use_certificate(chain, key);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("--api-cert {} --api-key {}: {}", options_.cert_file,
                                         options_.key_file, e.what()));
  }
  std::error_code ec;
  cert_mtime_ = std::filesystem::last_write_time(options_.cert_file, ec);
  key_mtime_ = std::filesystem::last_write_time(options_.key_file, ec);
  spdlog::info("api_certificate_loaded cert={} key={}", log::quote(options_.cert_file),
               log::quote(options_.key_file));
}

// Renews the own certificate before it ends; reloads the operator's files
// when either changes (a renewal by certbot or an operator), keeping the
// old certificate while the new files do not make a pair.
void ApiCertificates::keep() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, options_.check_every, [&] { return stopping_; })) {
    try {
      if (options_.cert_file.empty()) {
        if (std::chrono::system_clock::now() + options_.renew_before >= not_after_) issue_own();
        continue;
      }
      std::error_code ec;
      const auto cert = std::filesystem::last_write_time(options_.cert_file, ec);
      const auto key = std::filesystem::last_write_time(options_.key_file, ec);
      if (cert != cert_mtime_ || key != key_mtime_) load_operators();
    } catch (const std::exception& e) {
      spdlog::warn("api_certificate_renewal_failed error={} detail={}", log::quote(e.what()),
                   log::quote("the listener keeps its current certificate"));
      if (!options_.cert_file.empty()) {
        // Do not retry the same broken files every check.
        std::error_code ec;
        cert_mtime_ = std::filesystem::last_write_time(options_.cert_file, ec);
        key_mtime_ = std::filesystem::last_write_time(options_.key_file, ec);
      }
    }
  }
}

}  // namespace vnet::app

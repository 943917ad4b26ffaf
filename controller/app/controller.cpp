#include "controller/app/controller.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "controller/api/router.h"
#include "controller/api/server.h"
#include "controller/model/service.h"
#include "controller/store/store.h"
#include "shared/log/log.h"

namespace vnet::app {
namespace {

// Writes the first admin token where only root can read it.
void write_secret_file(const std::filesystem::path& path, const std::string& secret) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    throw std::runtime_error(
        fmt::format("cannot write {}: {}", path.string(), std::strerror(errno)));
  const std::string line = secret + "\n";
  const bool ok = ::fchmod(fd, 0600) == 0 &&
                  ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok)
    throw std::runtime_error(
        fmt::format("cannot write {}: {}", path.string(), std::strerror(errno)));
}

void require_writable_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("--data-dir {}: cannot create it: {} (choose a writable directory)",
                    dir.string(), ec.message()));
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    throw std::runtime_error(
        fmt::format("--data-dir {}: not writable: {} (choose a writable directory)", dir.string(),
                    std::strerror(errno)));
  }
}

}  // namespace

HostPort parse_host_port(const std::string& text, const std::string& option) {
  const size_t colon = text.rfind(':');
  std::string host = colon == std::string::npos ? "" : text.substr(0, colon);
  const std::string port = colon == std::string::npos ? "" : text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const bool digits = !port.empty() && port.size() <= 5 &&
                      port.find_first_not_of("0123456789") == std::string::npos;
  if (host.empty() || !digits || std::stoul(port) > 65535) {
    throw std::invalid_argument(
        fmt::format("{} \"{}\" is not ADDR:PORT, e.g. 127.0.0.1:8080", option, text));
  }
  return {host, static_cast<uint16_t>(std::stoul(port))};
}

int run(const Options& options) {
  if (auto error = log::init("controller", options.log_level)) {
    fmt::print(stderr, "vnet-controller: {}\n", *error);
    return 1;
  }
  try {
    const HostPort listen = parse_host_port(options.listen, "--listen");
    const HostPort southbound = parse_host_port(options.southbound, "--southbound");
    const std::filesystem::path dir = options.data_dir;
    require_writable_dir(dir);

    store::Store store((dir / "vnet.db").string());
    model::Service service(store);
    if (auto secret = service.bootstrap_admin_token()) {
      write_secret_file(dir / "admin.token", *secret);
      spdlog::info("first_start admin_token_file={} database={}",
                   log::quote((dir / "admin.token").string()), log::quote(store.path()));
    }
    api::Metrics metrics;
    api::Router router(service, metrics);
    api::Server server(
        {.address = listen.host, .port = listen.port}, [&](const api::Request& request) {
          const auto started = std::chrono::steady_clock::now();
          api::Response response = router.handle(request);
          metrics.observe(
              request.method, response.route, response.status,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
          return response;
        });
    server.stop_on_signals();
    spdlog::info("listening api={}:{} data_dir={}", listen.host, server.port(),
                 log::quote(dir.string()));
    spdlog::info("southbound_not_started addr={}:{} reason={}", southbound.host, southbound.port,
                 log::quote("the agent channel comes with the southbound issue"));
    server.run();
    spdlog::info("stopped");
    return 0;
  } catch (const std::exception& e) {
    spdlog::error("startup_failed error={}", log::quote(e.what()));
    fmt::print(stderr, "vnet-controller: {}\n", e.what());
    return 1;
  }
}

}  // namespace vnet::app

// vnet-controller's wiring: options in, a running controller out. The store,
// the model service, the policy engine, the southbound server (CA,
// enrollment, agent sessions) and the REST API, built in that order and
// stopped in reverse. main.cpp parses the command line; tests build a
// Controller in-process on free ports.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "controller/app/https.h"
#include "controller/model/kinds.h"

namespace vnet::model {
class Service;
}
namespace vnet::compiler {
class Engine;
class Realization;
}  // namespace vnet::compiler

namespace vnet::app {

struct Options {
  std::string data_dir = "/var/lib/vnet";
  // --store: "sqlite:" (vnet.db in data_dir), "sqlite:PATH", or a libpq
  // URI "postgresql://..." shared by several replicas (DESIGN.md section 3).
  std::string store = "sqlite:";
  // --store-key: the 32-byte key that seals the CA's key in a PostgreSQL
  // store, the same file on every replica; empty: store.key in data_dir.
  std::string store_key;
  std::string listen = "127.0.0.1:8080";
  std::string southbound = "0.0.0.0:6641";
  std::string log_level = "info";
  // The console's files; empty: default_web_dir().
  std::string web_dir;
  int api_threads = 2;
  // Connections served at once on the REST API and on the southbound port.
  size_t max_connections = 1024;
  size_t max_agent_connections = 16384;
  // Each tenant's quotas unless the tenant has its own (--default-quota).
  model::QuotaDefaults quotas;
  // --api-cert, --api-key, --api-names (https.h).
  HttpsOptions https;
};

// Where the console is when --web-dir is not given (set at build time:
// the source tree's web/, or /usr/share/vnet/web in packages).
std::string default_web_dir();

class Controller {
 public:
  // Opens the data directory, binds both listeners; throws
  // std::runtime_error / std::invalid_argument with one clear sentence.
  explicit Controller(const Options& options);
  ~Controller();

  uint16_t api_port() const;
  uint16_t southbound_port() const;
  // Whether the REST API serves HTTPS (https.h says when).
  bool api_https() const;
  // The first admin token, on the very first start only.
  const std::optional<std::string>& first_admin_token() const;
  model::Service& service();
  compiler::Engine& engine();
  compiler::Realization& realization();

  // Serves until stop() (or a signal after stop_on_signals()).
  void run();
  void stop();
  void stop_on_signals();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// main's entry points; return the process exit code. Startup errors are one
// line on stderr naming the option and the fix, and exit code 1.
int run(const Options& options);
// `vnet-controller policy --data-dir DIR HOST`: the host's compiled policy
// (HOST is an id or a name), from the database alone, with the same compiler.
int print_policy(const Options& options, const std::string& host);

// `vnet-controller migrate-store --from sqlite:PATH --to postgresql://...`:
// copies a single controller's database, whole, in one transaction, into a
// new PostgreSQL database (refused when it holds objects already), with the
// CA of the SQLite controller's data directory (`data_dir`, default: the
// file's directory) sealed under the store key (`store_key`, default
// store.key there, created if absent), so that its hosts' certificates stay
// valid on the replicas.
int migrate_store(const std::string& from, const std::string& to, std::string data_dir,
                  std::string store_key);

// The database --store names: a PostgreSQL URI as given, else a SQLite file
// path ("sqlite:" alone: vnet.db in the data directory). Throws
// std::invalid_argument for anything else.
std::string store_url(const Options& options);

struct HostPort {
  std::string host;
  uint16_t port = 0;
};
// "127.0.0.1:8080", "[::1]:8080"; throws std::invalid_argument with a sentence.
HostPort parse_host_port(const std::string& text, const std::string& option);

}  // namespace vnet::app

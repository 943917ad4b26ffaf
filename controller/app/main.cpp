// vnet-controller: the network model, its REST API, the policy compiler and
// the southbound channel to the agents. All the wiring is in controller.cpp.
#include <CLI/CLI.hpp>

#include "controller/app/controller.h"
#include "shared/config/toml_config.h"

int main(int argc, char** argv) {
  vnet::app::Options options;
  CLI::App cli{"vnet-controller: keeps the network model, serves the REST API, feeds the agents",
               "vnet-controller"};
  vnet::config::add_config_option(cli, "/etc/vnet/controller.toml");
  cli.add_option("--data-dir", options.data_dir, "Database, CA and first admin token")
      ->capture_default_str();
  cli.add_option("--store", options.store,
                 "The database: sqlite: (vnet.db in --data-dir), sqlite:PATH, or a PostgreSQL "
                 "URI postgresql://USER@HOST:PORT/DB shared by several controllers")
      ->capture_default_str();
  cli.add_option("--store-key", options.store_key,
                 "With a PostgreSQL --store: the 32-byte key that seals the controller CA's key "
                 "in the database, the same file on every controller (default: store.key in "
                 "--data-dir, written by the controller that initialises the database)");
  cli.add_option("--listen", options.listen, "REST API address, ADDR:PORT")->capture_default_str();
  cli.add_option("--api-cert", options.https.cert_file,
                 "HTTPS certificate chain (PEM) for the REST API and console; without it, off "
                 "loopback, one from the controller's own CA (ca.crt in --data-dir)");
  cli.add_option("--api-key", options.https.key_file, "The --api-cert's private key (PEM)");
  cli.add_option("--api-names", options.https.names,
                 "Names and addresses in the own CA's API certificate, comma-separated "
                 "(default: the host name and the --listen address)")
      ->delimiter(',');
  cli.add_option("--southbound", options.southbound, "Agent channel address, ADDR:PORT")
      ->capture_default_str();
  cli.add_option(
      "--web-dir", options.web_dir,
      "The web console's files, served at / (default: " + vnet::app::default_web_dir() + ")");
  cli.add_option("--log-level", options.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  cli.add_option("--max-connections", options.max_connections,
                 "REST API connections served at once; more wait until one ends")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));
  cli.add_option("--max-agent-connections", options.max_agent_connections,
                 "Southbound connections (agents, enrollments) at once")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));

  std::vector<std::string> quotas;
  cli.add_option("--default-quota", quotas,
                 "A tenant's quota unless the tenant sets its own, as COLLECTION=N (vm-networks "
                 "100, vm-subnets 1000, vm-nics 10000, gateways 20, routes 1000); repeatable")
      ->check([](const std::string& v) { return vnet::model::QuotaDefaults{}.set(v); });

  std::string host;
  CLI::App* policy = cli.add_subcommand(
      "policy", "Print a host's compiled policy from the database (offline, same compiler)");
  policy->add_option("--data-dir", options.data_dir, "The controller's data directory")
      ->capture_default_str();
  policy->add_option("--store", options.store, "The controller's --store")->capture_default_str();
  policy->add_option("HOST", host, "Host id or name")->required();

  std::string from, to, migrate_data_dir, migrate_key;
  CLI::App* migrate = cli.add_subcommand(
      "migrate-store",
      "Copy a single controller's SQLite database (and its CA) into a new PostgreSQL database "
      "for replicas, in one transaction");
  migrate->add_option("--from", from, "sqlite:PATH of the stopped controller's vnet.db")
      ->required();
  migrate->add_option("--to", to, "postgresql://... of the new database")->required();
  migrate->add_option("--data-dir", migrate_data_dir,
                      "The SQLite controller's data directory, for its CA (default: --from's "
                      "directory)");
  migrate->add_option("--store-key", migrate_key,
                      "The replicas' store key (default: store.key in --data-dir, created if "
                      "absent)");

  if (auto code = vnet::config::parse(cli, argc, argv)) return *code;
  if (migrate->parsed()) return vnet::app::migrate_store(from, to, migrate_data_dir, migrate_key);
  for (const auto& q : quotas) options.quotas.set(q);
  if (policy->parsed()) return vnet::app::print_policy(options, host);
  return vnet::app::run(options);
}

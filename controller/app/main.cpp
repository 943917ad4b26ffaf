// vnet-controller: the network model, its REST API and (to come) the
// southbound channel to the agents. All the wiring is in controller.cpp.
#include <CLI/CLI.hpp>

#include "controller/app/controller.h"

int main(int argc, char** argv) {
  vnet::app::Options options;
  CLI::App cli{"vnet-controller: keeps the network model, serves the REST API"};
  cli.add_option("--data-dir", options.data_dir, "Database, CA and first admin token")
      ->capture_default_str();
  cli.add_option("--listen", options.listen, "REST API address, ADDR:PORT")->capture_default_str();
  cli.add_option("--southbound", options.southbound, "Agent channel address, ADDR:PORT")
      ->capture_default_str();
  cli.add_option("--log-level", options.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  return vnet::app::run(options);
}

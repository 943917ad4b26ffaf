// vnet-controller's wiring: options in, a running controller out. main.cpp
// parses the command line into Options and calls run().
#pragma once

#include <string>

namespace vnet::app {

struct Options {
  std::string data_dir = "/var/lib/vnet";
  std::string listen = "127.0.0.1:8080";
  std::string southbound = "0.0.0.0:6641";
  std::string log_level = "info";
};

// Runs until SIGTERM/SIGINT; returns the process exit code. Startup errors
// are one line on stderr naming the option and the fix, and exit code 1.
int run(const Options& options);

struct HostPort {
  std::string host;
  uint16_t port = 0;
};
// "127.0.0.1:8080", "[::1]:8080"; throws std::invalid_argument with a sentence.
HostPort parse_host_port(const std::string& text, const std::string& option);

}  // namespace vnet::app

// Configuration files for the daemons: /etc/vnet/controller.toml and
// /etc/vnet/agent.toml, read by toml++ (real TOML, errors with line and
// column) and handed to CLI11 as if each key were its command-line flag:
// `data-dir = "/var/lib/vnet"` is `--data-dir /var/lib/vnet`; a table
// `[policy]` holds a subcommand's options. Flags on the command line win.
#pragma once

#include <CLI/CLI.hpp>
#include <istream>
#include <optional>
#include <string>
#include <vector>

namespace vnet::config {

class TomlConfig : public CLI::Config {
 public:
  std::string to_config(const CLI::App* app, bool default_also, bool write_description,
                        std::string prefix) const override;
  // Throws CLI::ConversionError naming the line and column of a TOML error.
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;
};

// `--config FILE` on `app`, read when it exists (`fallback` need not exist:
// a machine without the file runs on flags and defaults). A key that is no
// option is an error.
void add_config_option(CLI::App& app, const std::string& fallback);

// app.parse(); on a usage error prints it (a configuration file's unknown
// key with the option it may have meant) and returns the exit code.
std::optional<int> parse(CLI::App& app, int argc, char** argv);

}  // namespace vnet::config

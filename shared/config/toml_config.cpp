#include "shared/config/toml_config.h"

#include <fmt/format.h>

#include <toml++/toml.h>

#include <sstream>
#include "shared/util/nearest.h"

namespace vnet::config {
namespace {

// A TOML value as the text a flag would have been given.
std::vector<std::string> inputs_of(const toml::node& node, const std::string& key) {
  if (const auto* s = node.as_string()) return {s->get()};
  if (const auto* b = node.as_boolean()) return {b->get() ? "true" : "false"};
  if (const auto* i = node.as_integer()) return {std::to_string(i->get())};
  if (const auto* f = node.as_floating_point()) return {fmt::format("{}", f->get())};
  if (const auto* a = node.as_array()) {
    std::vector<std::string> out;
    for (const auto& item : *a) {
      auto one = inputs_of(item, key);
      out.insert(out.end(), one.begin(), one.end());
    }
    return out;
  }
  throw CLI::ConversionError(
      fmt::format("{}: a string, number, boolean or array of them is expected", key));
}

void collect(const toml::table& table, std::vector<std::string> parents,
             std::vector<CLI::ConfigItem>& out) {
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    if (const auto* sub = node.as_table()) {
      auto inner = parents;
      inner.push_back(name);
      collect(*sub, inner, out);
      continue;
    }
    CLI::ConfigItem item;
    item.parents = parents;
    item.name = name;
    item.inputs = inputs_of(node, name);
    out.push_back(std::move(item));
  }
}

}  // namespace

std::string TomlConfig::to_config(const CLI::App* app, bool default_also, bool write_description,
                                  std::string prefix) const {
  return CLI::ConfigTOML().to_config(app, default_also, write_description, std::move(prefix));
}

std::vector<CLI::ConfigItem> TomlConfig::from_config(std::istream& input) const {
  std::stringstream text;
  text << input.rdbuf();
  try {
    const toml::table table = toml::parse(text.str());
    std::vector<CLI::ConfigItem> out;
    collect(table, {}, out);
    return out;
  } catch (const toml::parse_error& e) {
    throw CLI::ConversionError(
        fmt::format("the configuration file is not TOML at line {}, column "
                    "{}: {}",
                    e.source().begin.line, e.source().begin.column, e.description()));
  }
}

void add_config_option(CLI::App& app, const std::string& fallback) {
  app.config_formatter(std::make_shared<TomlConfig>());
  // A misspelt key is an error, not a default silently taken.
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.set_config("--config", fallback,
                 "Options from this TOML file, one key per flag (flags given here win)", false);
}

std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ConfigError& e) {
    // CLI11 says "INI was not able to parse KEY": name the file, the key and
    // the nearest option.
    const std::string what = e.what();
    const std::string key = what.substr(what.rfind(' ') + 1);
    std::vector<std::string> options;
    for (const CLI::Option* o : app.get_options()) {
      for (const auto& name : o->get_lnames()) options.push_back(name);
    }
    const std::string near = nearest(key, options);
    fmt::print(stderr, "{}: {}: \"{}\" is not an option{}\n", app.get_name(),
               app.get_option("--config")->as<std::string>(), key,
               near.empty() ? "" : fmt::format(" (did you mean {}?)", near));
    return 2;
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return std::nullopt;
}

}  // namespace vnet::config

#include "shared/log/log.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace vnet::log {

std::optional<std::string> init(std::string_view component, std::string_view level) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  // from_str answers "off" for anything it does not know.
  if (parsed == spdlog::level::off && level != "off") {
    return fmt::format("--log-level \"{}\" is not one of trace, debug, info, warn, error, off",
                       level);
  }
  spdlog::drop(std::string(component));  // init() may run again, e.g. in tests
  auto logger = spdlog::stderr_logger_mt(std::string(component));
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l component=%n msg=%v",
                      spdlog::pattern_time_type::utc);
  logger->set_level(parsed);
  spdlog::set_default_logger(std::move(logger));
  return std::nullopt;
}

std::string quote(std::string_view value) {
  bool bare = !value.empty();
  for (char c : value) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) bare = false;
  }
  if (bare) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < ' ') {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out + '"';
}

}  // namespace vnet::log

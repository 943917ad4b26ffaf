// Structured logging for both daemons: spdlog writing one logfmt line per
// event to stderr. Callers log an event name without spaces, then key=value
// pairs, with spdlog's own calls:
//   spdlog::info("listening addr={}", addr);
// gives
//   ts=2026-11-22T01:02:03.456Z level=info component=controller msg=listening addr=127.0.0.1:8080
// quote() makes any value (a path, a client's text) safe to put after '='.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vnet::log {

// Sets up the default logger. `level` is trace, debug, info, warn, error or
// off; returns a one-line error naming the bad value otherwise.
std::optional<std::string> init(std::string_view component, std::string_view level);

// A logfmt value: bare when it has no space, quote, '=' or control
// character, else in double quotes with " and \ escaped.
std::string quote(std::string_view value);

}  // namespace vnet::log

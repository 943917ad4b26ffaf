// Untrusted JSON text (REST bodies, southbound frames, files) is checked
// before it is parsed: nlohmann::json copies and compares nested values
// recursively, so a value nested 300,000 levels deep would overflow the
// stack of whoever touches it. Every parse of text from outside goes
// through parse_untrusted().
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace vnet {

// Deeper than any document vnet defines (a HostPolicy is 4 levels deep).
inline constexpr size_t kMaxJsonDepth = 64;

// The deepest nesting of arrays and objects in `text`, brackets inside
// strings excluded; stops counting at `limit` + 1.
inline size_t json_depth(std::string_view text, size_t limit = kMaxJsonDepth) {
  size_t depth = 0;
  size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// Parses `text`; nullopt (and `error` says why) when it is not JSON or nests
// deeper than kMaxJsonDepth. nlohmann::json's parser itself refuses strings
// that are not UTF-8 (ill-formed bytes, lone surrogates), so a parsed value
// always serialises again.
inline std::optional<nlohmann::json> parse_untrusted(std::string_view text,
                                                     std::string* error = nullptr) {
  auto fail = [&](std::string why) -> std::optional<nlohmann::json> {
    if (error != nullptr) *error = std::move(why);
    return std::nullopt;
  };
  if (json_depth(text) > kMaxJsonDepth)
    return fail("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
  if (value.is_discarded()) return fail("not valid JSON (or a string that is not UTF-8)");
  return value;
}

}  // namespace vnet

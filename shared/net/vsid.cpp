#include "shared/net/vsid.h"

#include <fmt/format.h>

#include "shared/util/text.h"

namespace vnet::net {

Expected<Vsid, std::string> Vsid::make(uint64_t value) {
  if (value > kMax) {
    return Unexpected(fmt::format("{} is not a VSID: a VSID has 24 bits (0 to {})", value, kMax));
  }
  return Vsid(static_cast<uint32_t>(value));
}

Expected<Vsid, std::string> Vsid::parse(std::string_view text) {
  std::optional<uint64_t> value;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    uint64_t v = 0;
    bool ok = text.size() <= 2 + 6;
    for (char c : text.substr(2)) {
      const int d = text::hex_digit(c);
      ok = ok && d >= 0;
      v = v << 4 | static_cast<uint64_t>(d < 0 ? 0 : d);
    }
    if (ok) value = v;
  } else {
    value = text::parse_decimal(text, UINT64_MAX);
  }
  if (!value) return Unexpected(fmt::format("\"{}\" is not a VSID", text));
  return make(*value);
}

}  // namespace vnet::net

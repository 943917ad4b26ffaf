#include "shared/net/ipv4.h"

#include <fmt/format.h>

#include "shared/util/text.h"

namespace vnet::net {

Expected<Ipv4Address, std::string> Ipv4Address::parse(std::string_view text) {
  uint32_t value = 0;
  std::string_view rest = text;
  for (int i = 0; i < 4; ++i) {
    const size_t dot = rest.find('.');
    const bool last = i == 3;
    if (last != (dot == std::string_view::npos)) {
      return Unexpected(fmt::format("\"{}\" is not an IPv4 address", text));
    }
    const auto octet = text::parse_decimal(rest.substr(0, dot), 255);
    if (!octet) return Unexpected(fmt::format("\"{}\" is not an IPv4 address", text));
    value = value << 8 | static_cast<uint32_t>(*octet);
    if (!last) rest.remove_prefix(dot + 1);
  }
  return Ipv4Address(value);
}

std::string Ipv4Address::to_string() const {
  return fmt::format("{}.{}.{}.{}", value_ >> 24, (value_ >> 16) & 0xff, (value_ >> 8) & 0xff,
                     value_ & 0xff);
}

}  // namespace vnet::net

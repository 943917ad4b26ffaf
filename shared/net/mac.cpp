#include "shared/net/mac.h"

#include <fmt/format.h>

#include "shared/util/text.h"

namespace vnet::net {

Expected<MacAddress, std::string> MacAddress::parse(std::string_view text) {
  // Six pairs of hex digits, separated all by ':' or all by '-', or not at all.
  const bool separated = text.size() == 17;
  if (!separated && text.size() != 12) {
    return Unexpected(fmt::format("\"{}\" is not a MAC address", text));
  }
  const char separator = separated ? text[2] : '\0';
  if (separated && separator != ':' && separator != '-') {
    return Unexpected(fmt::format("\"{}\" is not a MAC address", text));
  }
  Bytes bytes{};
  const size_t stride = separated ? 3 : 2;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const size_t at = i * stride;
    const int hi = text::hex_digit(text[at]);
    const int lo = text::hex_digit(text[at + 1]);
    const bool bad_separator = separated && i < 5 && text[at + 2] != separator;
    if (hi < 0 || lo < 0 || bad_separator) {
      return Unexpected(fmt::format("\"{}\" is not a MAC address", text));
    }
    bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return MacAddress(bytes);
}

std::string MacAddress::to_string() const {
  return fmt::format("{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}", bytes_[0], bytes_[1], bytes_[2],
                     bytes_[3], bytes_[4], bytes_[5]);
}

}  // namespace vnet::net

#include "shared/util/uuid.h"

#include <fmt/format.h>

#include "shared/util/text.h"

namespace vnet {

Uuid Uuid::v4_from_random(Bytes random) {
  random[6] = static_cast<uint8_t>((random[6] & 0x0f) | 0x40);
  random[8] = static_cast<uint8_t>((random[8] & 0x3f) | 0x80);
  return Uuid(random);
}

Expected<Uuid, std::string> Uuid::parse(std::string_view text) {
  std::string_view body = text;
  if (body.size() == 38 && body.front() == '{' && body.back() == '}') {
    body = body.substr(1, 36);
  }
  if (body.size() != 36) return Unexpected(fmt::format("\"{}\" is not a UUID", text));
  Bytes bytes{};
  size_t out = 0;
  for (size_t i = 0; i < body.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (body[i] != '-') return Unexpected(fmt::format("\"{}\" is not a UUID", text));
      ++i;
      continue;
    }
    const int hi = text::hex_digit(body[i]);
    const int lo = text::hex_digit(body[i + 1]);
    if (hi < 0 || lo < 0) return Unexpected(fmt::format("\"{}\" is not a UUID", text));
    bytes[out++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return Uuid(bytes);
}

std::string Uuid::to_string() const {
  const auto& b = bytes_;
  return fmt::format(
      "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-"
      "{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
      b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
      b[15]);
}

}  // namespace vnet

#include "shared/net/ipv6.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <string>

namespace vnet::net {

Expected<Ipv6Address, std::string> Ipv6Address::parse(std::string_view text) {
  // inet_pton implements the RFC 4291 text forms (with embedded IPv4) and
  // rejects zone indices, which have no place in a policy.
  Bytes bytes{};
  const std::string nul_terminated(text);
  if (text.size() > INET6_ADDRSTRLEN ||
      inet_pton(AF_INET6, nul_terminated.c_str(), bytes.data()) != 1) {
    return Unexpected(fmt::format("\"{}\" is not an IPv6 address", text));
  }
  return Ipv6Address(bytes);
}

std::string Ipv6Address::to_string() const {
  char buffer[INET6_ADDRSTRLEN];
  // glibc's inet_ntop writes the RFC 5952 canonical form.
  inet_ntop(AF_INET6, bytes_.data(), buffer, sizeof buffer);
  return buffer;
}

std::optional<Ipv6Address> Ipv6Address::offset(int64_t n) const {
  __extension__ using u128 = unsigned __int128;
  u128 value = 0;
  for (uint8_t b : bytes_) value = value << 8 | b;
  const u128 magnitude = n < 0 ? u128(-(n + 1)) + 1 : u128(n);
  if (n < 0) {
    if (value < magnitude) return std::nullopt;
    value -= magnitude;
  } else {
    if (~u128(0) - value < magnitude) return std::nullopt;
    value += magnitude;
  }
  Bytes out{};
  for (int i = 15; i >= 0; --i, value >>= 8)
    out[static_cast<size_t>(i)] = static_cast<uint8_t>(value);
  return Ipv6Address(out);
}

}  // namespace vnet::net

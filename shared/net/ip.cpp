#include "shared/net/ip.h"

#include <fmt/format.h>

#include <algorithm>

#include "shared/util/text.h"

namespace vnet::net {
namespace {

// Clears every bit after the first `length` bits of `address`.
IpAddress mask(const IpAddress& address, uint8_t length) {
  if (address.is_v4()) {
    const uint32_t bits = length == 0 ? 0 : ~uint32_t{0} << (32 - length);
    return Ipv4Address::from_u32(address.v4().to_u32() & bits);
  }
  Ipv6Address::Bytes bytes = address.v6().bytes();
  for (size_t i = 0; i < bytes.size(); ++i) {
    const int keep = std::clamp(int{length} - int(i) * 8, 0, 8);
    bytes[i] &= static_cast<uint8_t>(0xff00 >> keep);
  }
  return Ipv6Address(bytes);
}

}  // namespace

Expected<IpAddress, std::string> IpAddress::parse(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    auto v6 = Ipv6Address::parse(text);
    if (!v6) return Unexpected(fmt::format("\"{}\" is not an IP address", text));
    return IpAddress(*v6);
  }
  auto v4 = Ipv4Address::parse(text);
  if (!v4) return Unexpected(fmt::format("\"{}\" is not an IP address", text));
  return IpAddress(*v4);
}

std::string IpAddress::to_string() const { return is_v4() ? v4().to_string() : v6().to_string(); }

Expected<IpPrefix, std::string> IpPrefix::parse(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return Unexpected(fmt::format("\"{}\" is not a prefix: expected address/length", text));
  }
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) {
    return Unexpected(fmt::format("\"{}\" is not a prefix: {}", text, address.error()));
  }
  const uint8_t max = address->is_v4() ? 32 : 128;
  const auto length = text::parse_decimal(text.substr(slash + 1), max);
  if (!length) {
    return Unexpected(
        fmt::format("\"{}\" is not a prefix: length must be a number from 0 to {}", text, max));
  }
  IpPrefix prefix = containing(*address, static_cast<uint8_t>(*length));
  if (prefix.address_ != *address) {
    return Unexpected(fmt::format("\"{}\" is not a prefix: host bits are set (did you mean {}?)",
                                  text, prefix.to_string()));
  }
  return prefix;
}

IpPrefix IpPrefix::containing(IpAddress address, uint8_t length) {
  const uint8_t clamped = std::min<uint8_t>(length, address.is_v4() ? 32 : 128);
  return IpPrefix(mask(address, clamped), clamped);
}

std::string IpPrefix::to_string() const {
  return fmt::format("{}/{}", address_.to_string(), length_);
}

bool IpPrefix::contains(const IpAddress& a) const {
  return a.family() == family() && mask(a, length_) == address_;
}

bool IpPrefix::contains(const IpPrefix& p) const {
  return p.family() == family() && p.length_ >= length_ && contains(p.address_);
}

bool IpPrefix::overlaps(const IpPrefix& p) const { return contains(p) || p.contains(*this); }

IpAddress IpPrefix::last() const {
  if (is_v4()) {
    const uint32_t host = length_ == 0 ? ~uint32_t{0} : ~(~uint32_t{0} << (32 - length_));
    return Ipv4Address::from_u32(address_.v4().to_u32() | host);
  }
  Ipv6Address::Bytes bytes = address_.v6().bytes();
  for (size_t i = 0; i < bytes.size(); ++i) {
    const int keep = std::clamp(int{length_} - int(i) * 8, 0, 8);
    bytes[i] |= static_cast<uint8_t>(0xff >> keep);
  }
  return Ipv6Address(bytes);
}

Ipv4Address IpPrefix::v4_netmask() const {
  return Ipv4Address::from_u32(
      length_ == 0 ? 0 : ~uint32_t{0} << (32 - std::min<uint8_t>(length_, 32)));
}

uint64_t IpPrefix::size() const {
  const int host_bits = max_length() - length_;
  return host_bits >= 64 ? UINT64_MAX : uint64_t{1} << host_bits;
}

}  // namespace vnet::net

// Family-agnostic IP addresses and prefixes (CIDR), with containment and
// overlap for pools and routes.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>

#include "shared/net/ipv4.h"
#include "shared/net/ipv6.h"
#include "shared/util/expected.h"

namespace vnet::net {

enum class IpFamily : uint8_t { kV4 = 4, kV6 = 6 };

class IpAddress {
 public:
  constexpr IpAddress() = default;  // 0.0.0.0
  constexpr IpAddress(Ipv4Address a) : address_(a) {}
  constexpr IpAddress(Ipv6Address a) : address_(a) {}
  // Either family; the error names the text: "\"x\" is not an IP address".
  static Expected<IpAddress, std::string> parse(std::string_view text);

  constexpr IpFamily family() const {
    return address_.index() == 0 ? IpFamily::kV4 : IpFamily::kV6;
  }
  constexpr bool is_v4() const { return family() == IpFamily::kV4; }
  constexpr bool is_v6() const { return family() == IpFamily::kV6; }
  constexpr Ipv4Address v4() const { return std::get<Ipv4Address>(address_); }
  constexpr Ipv6Address v6() const { return std::get<Ipv6Address>(address_); }
  std::string to_string() const;

  // Orders every IPv4 address before every IPv6 address.
  constexpr auto operator<=>(const IpAddress&) const = default;

 private:
  std::variant<Ipv4Address, Ipv6Address> address_;
};

class IpPrefix {
 public:
  constexpr IpPrefix() = default;  // 0.0.0.0/0
  // Strict: "10.0.0.0/8". Host bits must be zero, and the error suggests the
  // prefix that was probably meant.
  static Expected<IpPrefix, std::string> parse(std::string_view text);
  // The prefix of `length` bits that contains `address` (host bits cleared).
  // Lengths over the family's width are clamped to it.
  static IpPrefix containing(IpAddress address, uint8_t length);

  constexpr const IpAddress& address() const { return address_; }
  constexpr uint8_t length() const { return length_; }
  constexpr IpFamily family() const { return address_.family(); }
  constexpr bool is_v4() const { return address_.is_v4(); }
  constexpr uint8_t max_length() const { return is_v4() ? 32 : 128; }
  std::string to_string() const;

  bool contains(const IpAddress& a) const;
  bool contains(const IpPrefix& p) const;  // p is equal to or inside this prefix
  bool overlaps(const IpPrefix& p) const;  // they share at least one address

  // First and last address; for IPv4 also the netmask.
  IpAddress first() const { return address_; }
  IpAddress last() const;
  Ipv4Address v4_netmask() const;
  // How many addresses, saturated at UINT64_MAX for large IPv6 prefixes.
  uint64_t size() const;

  constexpr auto operator<=>(const IpPrefix&) const = default;

 private:
  constexpr IpPrefix(IpAddress a, uint8_t length) : address_(a), length_(length) {}
  IpAddress address_;
  uint8_t length_ = 0;
};

}  // namespace vnet::net

template <>
struct std::hash<vnet::net::IpAddress> {
  size_t operator()(const vnet::net::IpAddress& a) const noexcept {
    return a.is_v4() ? std::hash<vnet::net::Ipv4Address>{}(a.v4())
                     : std::hash<vnet::net::Ipv6Address>{}(a.v6());
  }
};
template <>
struct std::hash<vnet::net::IpPrefix> {
  size_t operator()(const vnet::net::IpPrefix& p) const noexcept {
    return std::hash<vnet::net::IpAddress>{}(p.address()) * 131 + p.length();
  }
};

// Named addresses and a policy from DESIGN.md's seed scenario 2 (two hosts,
// Blue VSID 5001 and Red VSID 6001, each with 10.0.0.5 and 10.0.0.7), shared
// by the tests of every module so they speak about the same network.
#pragma once

#include <string_view>

#include "shared/net/ip.h"
#include "shared/net/ipv4.h"
#include "shared/net/mac.h"
#include "shared/net/vsid.h"
#include "shared/policy/host_policy.h"
#include "shared/util/uuid.h"

namespace vnet::testing {

// For constants known to be valid; aborts on a typo in a test.
net::Ipv4Address ipv4(std::string_view text);
net::Ipv6Address ipv6(std::string_view text);
net::MacAddress mac(std::string_view text);
net::IpPrefix prefix(std::string_view text);
net::Vsid vsid(uint32_t value);
// A deterministic UUID for test objects from the low 48 bits of n:
// uuid(7) is 00000000-0000-4000-8000-000000000007.
Uuid uuid(uint64_t n);

namespace seed {
inline constexpr uint32_t kBlueVsid = 5001;
inline constexpr uint32_t kRedVsid = 6001;
inline constexpr std::string_view kHost1Pa = "192.168.1.10";
inline constexpr std::string_view kHost2Pa = "192.168.2.20";
inline constexpr std::string_view kHost1Gateway = "192.168.1.1";
inline constexpr std::string_view kCa5 = "10.0.0.5";  // on host 1 in both VM networks
inline constexpr std::string_view kCa7 = "10.0.0.7";  // on host 2 in both VM networks
inline constexpr std::string_view kBlue5Mac = "00:1D:D8:B7:1C:05";
inline constexpr std::string_view kBlue7Mac = "00:1D:D8:B7:1C:07";
inline constexpr std::string_view kRed5Mac = "00:1D:D8:B7:1C:15";
inline constexpr std::string_view kRed7Mac = "00:1D:D8:B7:1C:17";
// The virtual router's MAC, answered for subnet gateways.
inline constexpr std::string_view kRouterMac = "00:1D:D8:00:00:01";
inline constexpr std::string_view kHost1UplinkMac = "02:00:00:00:01:10";
inline constexpr std::string_view kUnderlayRouterMac = "02:00:00:00:01:01";
}  // namespace seed

// Host 1's policy in seed scenario 2: its two ports (Blue 10.0.0.5 and
// Red 10.0.0.5), the lookup records of both VM networks, their on-link
// customer routes. Valid: validate() accepts it.
policy::HostPolicy seed_host1_policy();

}  // namespace vnet::testing

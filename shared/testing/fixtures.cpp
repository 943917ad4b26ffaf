#include "shared/testing/fixtures.h"

#include <cstdio>
#include <cstdlib>

namespace vnet::testing {
namespace {

template <class T>
T must(Expected<T, std::string> parsed) {
  if (!parsed) {
    std::fprintf(stderr, "bad test constant: %s\n", parsed.error().c_str());
    std::abort();
  }
  return *std::move(parsed);
}

}  // namespace

net::Ipv4Address ipv4(std::string_view text) { return must(net::Ipv4Address::parse(text)); }
net::Ipv6Address ipv6(std::string_view text) { return must(net::Ipv6Address::parse(text)); }
net::MacAddress mac(std::string_view text) { return must(net::MacAddress::parse(text)); }
net::IpPrefix prefix(std::string_view text) { return must(net::IpPrefix::parse(text)); }
net::Vsid vsid(uint32_t value) { return must(net::Vsid::make(value)); }

Uuid uuid(uint64_t n) {
  Uuid::Bytes b{};
  b[6] = 0x40;
  b[8] = 0x80;
  for (int i = 0; i < 6; ++i) b[15 - i] = static_cast<uint8_t>(n >> (8 * i));
  return Uuid(b);
}

policy::HostPolicy seed_host1_policy() {
  using namespace seed;
  const Uuid blue_rdid = uuid(0xb1);
  const Uuid red_rdid = uuid(0xd1);
  policy::HostPolicy p;
  p.host_id = uuid(1);
  p.generation = 3;
  p.provider = {.pa = ipv4(kHost1Pa),
                .prefix_len = 24,
                .routes = {{prefix("0.0.0.0/0"), ipv4(kHost1Gateway)}},
                .flow_entropy = false};
  p.ports = {
      {.nic_id = uuid(0x105),
       .interface = "vnet-blue5",
       .mac = mac(kBlue5Mac),
       .ca = ipv4(kCa5),
       .prefix_len = 24,
       .gateway = ipv4("10.0.0.1"),
       .dns = {ipv4("10.0.0.2")},
       .vsid = vsid(kBlueVsid),
       .rdid = blue_rdid,
       .mtu = 1458},
      {.nic_id = uuid(0x115),
       .interface = "vnet-red5",
       .mac = mac(kRed5Mac),
       .ca = ipv4(kCa5),
       .prefix_len = 24,
       .gateway = ipv4("10.0.0.1"),
       .dns = {},
       .vsid = vsid(kRedVsid),
       .rdid = red_rdid,
       .mtu = 1458},
  };
  p.lookup_records = {
      {vsid(kBlueVsid), ipv4(kCa5), mac(kBlue5Mac), ipv4(kHost1Pa), policy::LookupRule::kEncap},
      {vsid(kBlueVsid), ipv4(kCa7), mac(kBlue7Mac), ipv4(kHost2Pa), policy::LookupRule::kEncap},
      {vsid(kRedVsid), ipv4(kCa5), mac(kRed5Mac), ipv4(kHost1Pa), policy::LookupRule::kEncap},
      {vsid(kRedVsid), ipv4(kCa7), mac(kRed7Mac), ipv4(kHost2Pa), policy::LookupRule::kEncap},
  };
  p.customer_routes = {
      {blue_rdid, vsid(kBlueVsid), prefix("10.0.0.0/24"), ipv4("0.0.0.0"), 0},
      {red_rdid, vsid(kRedVsid), prefix("10.0.0.0/24"), ipv4("0.0.0.0"), 0},
  };
  return p;
}

}  // namespace vnet::testing

#include <gtest/gtest.h>

#include <unordered_set>

#include "shared/net/ip.h"

namespace vnet::net {
namespace {

IpPrefix P(const char* text) {
  auto p = IpPrefix::parse(text);
  EXPECT_TRUE(p) << text << ": " << (p ? "" : p.error());
  return p ? *p : IpPrefix();
}
IpAddress A(const char* text) { return *IpAddress::parse(text); }

TEST(IpPrefix, ParsesBothFamilies) {
  EXPECT_EQ(P("10.10.0.0/16").to_string(), "10.10.0.0/16");
  EXPECT_EQ(P("0.0.0.0/0").to_string(), "0.0.0.0/0");
  EXPECT_EQ(P("10.0.0.5/32").to_string(), "10.0.0.5/32");
  EXPECT_EQ(P("2001:DB8::/32").to_string(), "2001:db8::/32");
  EXPECT_EQ(P("::/0").to_string(), "::/0");
  EXPECT_EQ(P("2001:db8::1/128").to_string(), "2001:db8::1/128");
  EXPECT_TRUE(P("10.10.0.0/16").is_v4());
  EXPECT_FALSE(P("::/0").is_v4());
}

TEST(IpPrefix, ExplainsWhatIsWrong) {
  EXPECT_EQ(IpPrefix::parse("10.10.1.0/16").error(),
            "\"10.10.1.0/16\" is not a prefix: host bits are set (did you mean 10.10.0.0/16?)");
  EXPECT_EQ(IpPrefix::parse("10.0.0.0/33").error(),
            "\"10.0.0.0/33\" is not a prefix: length must be a number from 0 to 32");
  EXPECT_EQ(IpPrefix::parse("::/129").error(),
            "\"::/129\" is not a prefix: length must be a number from 0 to 128");
  EXPECT_EQ(IpPrefix::parse("10.0.0.0").error(),
            "\"10.0.0.0\" is not a prefix: expected address/length");
  EXPECT_EQ(IpPrefix::parse("10.300.0.0/16").error(),
            "\"10.300.0.0/16\" is not a prefix: \"10.300.0.0\" is not an IP address");
  for (const char* text :
       {"10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/08", "10.0.0.0/8/8", "/8", "10.0.0.0/ 8"}) {
    EXPECT_FALSE(IpPrefix::parse(text)) << text;
  }
}

TEST(IpPrefix, ContainsAddressesOfItsFamilyOnly) {
  const IpPrefix net = P("10.10.0.0/16");
  EXPECT_TRUE(net.contains(A("10.10.0.0")));
  EXPECT_TRUE(net.contains(A("10.10.255.255")));
  EXPECT_FALSE(net.contains(A("10.11.0.0")));
  EXPECT_FALSE(net.contains(A("10.9.255.255")));
  EXPECT_FALSE(P("::/0").contains(A("10.10.0.1")));
  EXPECT_TRUE(P("0.0.0.0/0").contains(A("255.255.255.255")));
  EXPECT_FALSE(P("0.0.0.0/0").contains(A("::1")));
  EXPECT_TRUE(P("10.0.0.5/32").contains(A("10.0.0.5")));
  EXPECT_FALSE(P("10.0.0.5/32").contains(A("10.0.0.6")));
  EXPECT_TRUE(P("2001:db8::/32").contains(A("2001:db8:ffff::1")));
  EXPECT_FALSE(P("2001:db8::/32").contains(A("2001:db9::")));
  EXPECT_TRUE(P("2001:db8::1/128").contains(A("2001:db8::1")));
  EXPECT_FALSE(P("2001:db8::1/128").contains(A("2001:db8::2")));
  EXPECT_TRUE(P("2001:db8::/33").contains(A("2001:db8:7fff::")));
  EXPECT_FALSE(P("2001:db8::/33").contains(A("2001:db8:8000::")));
}

TEST(IpPrefix, ContainmentAndOverlapOfPrefixes) {
  EXPECT_TRUE(P("10.10.0.0/16").contains(P("10.10.1.0/24")));
  EXPECT_TRUE(P("10.10.0.0/16").contains(P("10.10.0.0/16")));
  EXPECT_FALSE(P("10.10.1.0/24").contains(P("10.10.0.0/16")));
  EXPECT_TRUE(P("10.10.1.0/24").overlaps(P("10.10.0.0/16")));
  EXPECT_TRUE(P("10.10.0.0/16").overlaps(P("10.10.1.0/24")));
  EXPECT_FALSE(P("10.10.0.0/16").overlaps(P("172.16.0.0/16")));
  EXPECT_FALSE(P("10.10.0.0/24").overlaps(P("10.10.1.0/24")));  // adjacent
  EXPECT_TRUE(P("0.0.0.0/0").overlaps(P("10.0.0.5/32")));
  EXPECT_FALSE(P("0.0.0.0/0").overlaps(P("::/0")));
  EXPECT_TRUE(P("::/0").contains(P("2001:db8::1/128")));
}

TEST(IpPrefix, FirstLastMaskAndSize) {
  EXPECT_EQ(P("10.10.0.0/16").last().to_string(), "10.10.255.255");
  EXPECT_EQ(P("10.10.0.0/16").v4_netmask().to_string(), "255.255.0.0");
  EXPECT_EQ(P("10.10.0.0/16").size(), 65536u);
  EXPECT_EQ(P("0.0.0.0/0").last().to_string(), "255.255.255.255");
  EXPECT_EQ(P("0.0.0.0/0").v4_netmask().to_string(), "0.0.0.0");
  EXPECT_EQ(P("0.0.0.0/0").size(), uint64_t{1} << 32);
  EXPECT_EQ(P("10.0.0.5/32").last().to_string(), "10.0.0.5");
  EXPECT_EQ(P("10.0.0.5/32").v4_netmask().to_string(), "255.255.255.255");
  EXPECT_EQ(P("10.0.0.5/32").size(), 1u);
  EXPECT_EQ(P("2001:db8::/120").last().to_string(), "2001:db8::ff");
  EXPECT_EQ(P("2001:db8::/120").size(), 256u);
  EXPECT_EQ(P("2001:db8::/64").size(), UINT64_MAX);  // saturated
  EXPECT_EQ(P("2001:db8::1/128").size(), 1u);
  EXPECT_EQ(P("::/0").last().to_string(), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

TEST(IpPrefix, ContainingClearsHostBits) {
  EXPECT_EQ(IpPrefix::containing(A("10.10.1.77"), 16).to_string(), "10.10.0.0/16");
  EXPECT_EQ(IpPrefix::containing(A("10.10.1.77"), 0).to_string(), "0.0.0.0/0");
  EXPECT_EQ(IpPrefix::containing(A("10.10.1.77"), 40).to_string(), "10.10.1.77/32");
  EXPECT_EQ(IpPrefix::containing(A("2001:db8::abcd"), 120).to_string(), "2001:db8::ab00/120");
}

TEST(IpAddress, ParsesEitherFamilyAndOrders) {
  EXPECT_TRUE(A("10.0.0.1").is_v4());
  EXPECT_TRUE(A("::1").is_v6());
  EXPECT_EQ(IpAddress::parse("10.0.0.256").error(), "\"10.0.0.256\" is not an IP address");
  EXPECT_LT(A("255.255.255.255"), A("::"));
  std::unordered_set<IpPrefix> set{P("10.0.0.0/8"), P("10.0.0.0/16"), P("10.0.0.0/8")};
  EXPECT_EQ(set.size(), 2u);
}

}  // namespace
}  // namespace vnet::net

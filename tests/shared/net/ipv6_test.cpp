#include "shared/net/ipv6.h"

#include <gtest/gtest.h>

namespace vnet::net {
namespace {

TEST(Ipv6Address, FormatsCanonically) {
  // RFC 5952: lower case, longest zero run compressed, no leading zeros.
  EXPECT_EQ(Ipv6Address::parse("2001:0DB8:0000:0000:0000:0000:0000:0001")->to_string(),
            "2001:db8::1");
  EXPECT_EQ(Ipv6Address::parse("::")->to_string(), "::");
  // RFC 5952 4.2.3: the longest run of zero fields is the one compressed.
  EXPECT_EQ(Ipv6Address::parse("fe80::1:0:0:0:2")->to_string(), "fe80:0:0:1::2");
  EXPECT_EQ(Ipv6Address::parse("::ffff:10.0.0.1")->to_string(), "::ffff:10.0.0.1");
}

TEST(Ipv6Address, Rejects) {
  auto bad = Ipv6Address::parse("2001:db8::g");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "\"2001:db8::g\" is not an IPv6 address");
  for (const char* text :
       {"", ":", "1::2::3", "fe80::1%eth0", "10.0.0.1", "12345::", "1:2:3:4:5:6:7:8:9"}) {
    EXPECT_FALSE(Ipv6Address::parse(text)) << text;
  }
}

TEST(Ipv6Address, ArithmeticCarriesAcross64Bits) {
  const auto a = *Ipv6Address::parse("2001:db8::ffff:ffff:ffff:ffff");
  EXPECT_EQ(a.offset(1)->to_string(), "2001:db8:0:1::");
  EXPECT_EQ(a.offset(1)->offset(-1), a);
  EXPECT_FALSE(Ipv6Address::parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")->offset(1));
  EXPECT_FALSE(Ipv6Address().offset(-1));
  EXPECT_EQ(Ipv6Address().offset(INT64_MAX)->to_string(), "::7fff:ffff:ffff:ffff");
  EXPECT_EQ(Ipv6Address::parse("::8000:0:0:0")->offset(INT64_MIN)->to_string(), "::");
}

TEST(Ipv6Address, Orders) {
  EXPECT_LT(*Ipv6Address::parse("2001:db8::1"), *Ipv6Address::parse("2001:db8::2"));
  EXPECT_LT(*Ipv6Address::parse("2001:db8::ffff"), *Ipv6Address::parse("2001:db8:0:1::"));
}

}  // namespace
}  // namespace vnet::net

#include "shared/net/ipv4.h"

#include <gtest/gtest.h>

#include <cstring>

#include <unordered_set>

namespace vnet::net {
namespace {

TEST(Ipv4Address, ParsesAndFormatsDottedQuads) {
  for (const char* text : {"0.0.0.0", "10.0.0.1", "192.168.1.10", "255.255.255.255"}) {
    auto a = Ipv4Address::parse(text);
    ASSERT_TRUE(a) << text;
    EXPECT_EQ(a->to_string(), text);
  }
  EXPECT_EQ(Ipv4Address::parse("10.1.2.3")->to_u32(), 0x0a010203u);
}

TEST(Ipv4Address, RejectsWithTheTextInTheMessage) {
  auto bad = Ipv4Address::parse("10.300.0.1");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "\"10.300.0.1\" is not an IPv4 address");
  for (const char* text : {"", "10", "10.0.0", "10.0.0.1.", "10.0.0.1.2", ".10.0.0.1", "10..0.1",
                           "010.0.0.1", "10.0.0.-1", "10.0.0.+1", "10.0.0.256", " 10.0.0.1",
                           "10.0.0.1 ", "a.b.c.d", "10.0.0.1/24", "1e1.0.0.1", "::1"}) {
    EXPECT_FALSE(Ipv4Address::parse(text)) << '"' << text << '"';
  }
}

TEST(Ipv4Address, BytesAreNetworkOrder) {
  const uint8_t wire[4] = {192, 168, 2, 20};
  const auto a = Ipv4Address::from_bytes(wire);
  EXPECT_EQ(a.to_string(), "192.168.2.20");
  uint8_t out[4] = {};
  a.to_bytes(out);
  EXPECT_EQ(std::memcmp(out, wire, 4), 0);
}

TEST(Ipv4Address, ComparesAndHashes) {
  const auto a = *Ipv4Address::parse("10.0.0.9");
  const auto b = *Ipv4Address::parse("10.0.0.10");
  EXPECT_LT(a, b);  // numerically, not as text
  EXPECT_EQ(a, *Ipv4Address::parse("10.0.0.9"));
  std::unordered_set<Ipv4Address> set{a, b, a};
  EXPECT_EQ(set.size(), 2u);
}

TEST(Ipv4Address, ArithmeticStopsAtTheEnds) {
  const auto a = *Ipv4Address::parse("10.10.1.130");
  EXPECT_EQ(a.offset(1)->to_string(), "10.10.1.131");
  EXPECT_EQ(a.offset(-30)->to_string(), "10.10.1.100");
  EXPECT_EQ(a.offset(126)->to_string(), "10.10.2.0");  // carries into the next octet
  EXPECT_EQ(Ipv4Address::distance(*Ipv4Address::parse("10.10.1.100"), a), 30);
  EXPECT_EQ(Ipv4Address::distance(a, *Ipv4Address::parse("10.10.1.100")), -30);
  EXPECT_FALSE(Ipv4Address::parse("255.255.255.255")->offset(1));
  EXPECT_FALSE(Ipv4Address().offset(-1));
  EXPECT_EQ(Ipv4Address().offset(0xffffffff)->to_string(), "255.255.255.255");
}

TEST(Ipv4Address, Classifies) {
  EXPECT_TRUE(Ipv4Address().is_unspecified());
  EXPECT_TRUE(Ipv4Address::parse("255.255.255.255")->is_broadcast());
  EXPECT_TRUE(Ipv4Address::parse("224.0.0.1")->is_multicast());
  EXPECT_TRUE(Ipv4Address::parse("239.255.255.255")->is_multicast());
  EXPECT_FALSE(Ipv4Address::parse("240.0.0.1")->is_multicast());
  EXPECT_TRUE(Ipv4Address::parse("127.0.0.1")->is_loopback());
}

}  // namespace
}  // namespace vnet::net

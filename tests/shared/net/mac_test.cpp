#include "shared/net/mac.h"

#include <gtest/gtest.h>

namespace vnet::net {
namespace {

TEST(MacAddress, ParsesTheThreeCommonForms) {
  for (const char* text :
       {"00:1D:D8:B7:1C:00", "00:1d:d8:b7:1c:00", "00-1D-D8-B7-1C-00", "001DD8B71C00"}) {
    auto m = MacAddress::parse(text);
    ASSERT_TRUE(m) << text;
    EXPECT_EQ(m->to_string(), "00:1D:D8:B7:1C:00");
    EXPECT_EQ(m->to_u64(), 0x001dd8b71c00u);
  }
}

TEST(MacAddress, Rejects) {
  EXPECT_EQ(MacAddress::parse("00:1D:D8:B7:1C").error(), "\"00:1D:D8:B7:1C\" is not a MAC address");
  for (const char* text : {"", "00:1D:D8:B7:1C:0G", "00:1D-D8:B7:1C:00", "00.1D.D8.B7.1C.00",
                           "001DD8B71C0", "00:1D:D8:B7:1C:00:", "0:1D:D8:B7:1C:000"}) {
    EXPECT_FALSE(MacAddress::parse(text)) << text;
  }
}

TEST(MacAddress, DefaultPoolArithmetic) {
  // DESIGN.md's default MAC pool: 00:1D:D8:B7:1C:00 - 00:1D:D8:F4:1F:FF.
  const auto first = *MacAddress::parse("00:1D:D8:B7:1C:00");
  const auto last = *MacAddress::parse("00:1D:D8:F4:1F:FF");
  EXPECT_EQ(MacAddress::distance(first, last), 0x3d03ff);
  EXPECT_EQ(first.offset(0xff)->to_string(), "00:1D:D8:B7:1C:FF");
  EXPECT_EQ(first.offset(0x100)->to_string(), "00:1D:D8:B7:1D:00");
  EXPECT_FALSE(MacAddress::broadcast().offset(1));
  EXPECT_FALSE(MacAddress().offset(-1));
}

TEST(MacAddress, Classifies) {
  EXPECT_TRUE(MacAddress::broadcast().is_broadcast());
  EXPECT_TRUE(MacAddress::broadcast().is_multicast());
  EXPECT_TRUE(MacAddress::parse("01:00:5E:00:00:01")->is_multicast());
  EXPECT_TRUE(MacAddress::parse("00:1D:D8:B7:1C:00")->is_unicast());
  EXPECT_TRUE(MacAddress::parse("02:00:00:00:00:01")->is_locally_administered());
  EXPECT_TRUE(MacAddress().is_zero());
  EXPECT_LT(*MacAddress::parse("00:1D:D8:B7:1C:00"), *MacAddress::parse("00:1D:D8:B7:1C:01"));
}

}  // namespace
}  // namespace vnet::net

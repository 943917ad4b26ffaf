#include "shared/net/vsid.h"

#include <gtest/gtest.h>

namespace vnet::net {
namespace {

TEST(Vsid, ReservedRangesOfRfc7637) {
  EXPECT_TRUE(Vsid::make(0)->is_reserved());
  EXPECT_TRUE(Vsid::make(0xfff)->is_reserved());    // last of 0x000000-0x000FFF
  EXPECT_FALSE(Vsid::make(0x1000)->is_reserved());  // first vnet allocates
  EXPECT_TRUE(Vsid::make(0x1000)->is_allocatable());
  EXPECT_FALSE(Vsid::make(0xfffffe)->is_reserved());  // last vnet allocates
  EXPECT_TRUE(Vsid::make(0xffffff)->is_reserved());   // vendor-specific
  EXPECT_FALSE(Vsid::make(5001)->is_reserved());
}

TEST(Vsid, RejectsMoreThan24Bits) {
  EXPECT_TRUE(Vsid::make(0xffffff));
  EXPECT_EQ(Vsid::make(0x1000000).error(),
            "16777216 is not a VSID: a VSID has 24 bits (0 to 16777215)");
}

TEST(Vsid, ParsesDecimalAndHex) {
  EXPECT_EQ(Vsid::parse("5001")->value(), 5001u);
  EXPECT_EQ(Vsid::parse("0x1389")->value(), 5001u);
  EXPECT_EQ(Vsid::parse("0xFFFFFF")->value(), 0xffffffu);
  EXPECT_FALSE(Vsid::parse("0x1000000"));
  EXPECT_FALSE(Vsid::parse("16777216"));
  EXPECT_EQ(Vsid::parse("50x1").error(), "\"50x1\" is not a VSID");
  for (const char* text : {"", "-1", "0x", "0xg", "05001", "5001 "})
    EXPECT_FALSE(Vsid::parse(text)) << text;
  EXPECT_EQ(Vsid::make(5001)->to_string(), "5001");
}

TEST(Vsid, NvgreKeyCarriesVsidAndFlowId) {
  const Vsid vsid = *Vsid::make(5001);
  EXPECT_EQ(nvgre_key(vsid, 0), 0x00138900u);
  EXPECT_EQ(nvgre_key(vsid, 0xab), 0x001389abu);
  EXPECT_EQ(vsid_of_key(0x001389ab), vsid);
  EXPECT_EQ(flow_id_of_key(0x001389ab), 0xab);
  EXPECT_EQ(nvgre_key(*Vsid::make(0xffffff), 0xff), 0xffffffffu);
  EXPECT_EQ(vsid_of_key(0xffffffff).value(), 0xffffffu);
}

}  // namespace
}  // namespace vnet::net

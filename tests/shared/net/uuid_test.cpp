#include "shared/util/uuid.h"

#include <gtest/gtest.h>

namespace vnet {
namespace {

TEST(Uuid, ParsesPlainAndBracedGuids) {
  const auto a = Uuid::parse("11111111-2222-3333-4444-00000000000A");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->to_string(), "11111111-2222-3333-4444-00000000000a");
  EXPECT_EQ(Uuid::parse("{11111111-2222-3333-4444-00000000000a}"), a);
}

TEST(Uuid, Rejects) {
  EXPECT_EQ(Uuid::parse("not-a-uuid").error(), "\"not-a-uuid\" is not a UUID");
  for (const char* text :
       {"", "11111111-2222-3333-4444-00000000000", "11111111x2222-3333-4444-000000000000",
        "{11111111-2222-3333-4444-000000000000", "11111111-2222-3333-4444-00000000000g",
        "111111112222333344440000000000000000"}) {
    EXPECT_FALSE(Uuid::parse(text)) << text;
  }
}

TEST(Uuid, V4FromRandomSetsVersionAndVariant) {
  Uuid::Bytes random;
  random.fill(0xff);
  const Uuid u = Uuid::v4_from_random(random);
  EXPECT_EQ(u.to_string(), "ffffffff-ffff-4fff-bfff-ffffffffffff");
  EXPECT_FALSE(u.is_nil());
  EXPECT_TRUE(Uuid().is_nil());
}

}  // namespace
}  // namespace vnet

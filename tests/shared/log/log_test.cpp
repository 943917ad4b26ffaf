#include "shared/log/log.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace vnet::log {
namespace {

TEST(Log, AcceptsTheDocumentedLevels) {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "off"}) {
    EXPECT_EQ(init("test", level), std::nullopt) << level;
  }
}

TEST(Log, NamesTheBadLevel) {
  EXPECT_EQ(init("test", "loud"),
            "--log-level \"loud\" is not one of trace, debug, info, warn, error, off");
}

TEST(Log, QuotesLogfmtValues) {
  EXPECT_EQ(quote("/api/v1/hosts"), "/api/v1/hosts");
  EXPECT_EQ(quote(""), "\"\"");
  EXPECT_EQ(quote("two words"), "\"two words\"");
  EXPECT_EQ(quote("a=b"), "\"a=b\"");
  EXPECT_EQ(quote("say \"hi\"\n"), "\"say \\\"hi\\\"\\x0a\"");
}

TEST(Log, WritesOneLogfmtLinePerEvent) {
  ASSERT_EQ(init("controller", "info"), std::nullopt);
  ::testing::internal::CaptureStderr();
  spdlog::info("listening addr={}", "127.0.0.1:8080");
  spdlog::debug("hidden at info");
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find(" level=info component=controller msg=listening addr=127.0.0.1:8080\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.rfind("ts=", 0), 0u) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
}

}  // namespace
}  // namespace vnet::log

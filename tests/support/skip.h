// Skipping a test that cannot run here (not root, a tool missing) says why.
// Where VNET_REQUIRE_PRIVILEGED=1 (.ci/run sets it: CI is root and has every
// tool scripts/setup installs) the skip is a failure instead, so CI never
// passes by running less.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <string_view>

namespace vnet::testing {

inline bool skips_are_failures() {
  const char* v = std::getenv("VNET_REQUIRE_PRIVILEGED");
  return v != nullptr && std::string_view(v) == "1";
}

inline bool is_root() { return geteuid() == 0; }

// The absolute path of `program` on PATH, or "" when it is not there.
std::string find_program(std::string_view program);

}  // namespace vnet::testing

// Use at the top of a test body: returns from it when `condition` is false.
#define VNET_REQUIRE_OR_SKIP(condition, reason)                                   \
  do {                                                                            \
    if (!(condition)) {                                                           \
      if (::vnet::testing::skips_are_failures()) {                                \
        GTEST_FAIL() << "cannot run: " << (reason)                                \
                     << " (VNET_REQUIRE_PRIVILEGED=1 makes this skip a failure)"; \
      }                                                                           \
      GTEST_SKIP() << (reason);                                                   \
    }                                                                             \
  } while (0)

#define VNET_REQUIRE_ROOT() \
  VNET_REQUIRE_OR_SKIP(::vnet::testing::is_root(), "needs root (network namespaces, AF_XDP)")

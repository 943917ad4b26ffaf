// The controller's content hash of a host policy (what decides whether a
// recompiled host gets a new generation), derived from the policy's field
// description (shared/policy/encoding.h), against its floor measured in the
// same run: SHA-256 over as many bytes as the hash's input. The JSON text of
// the same policy is timed beside it (what hashing the wire text would cost).
//
//   build/main/tests/bench/policy_hash_bench [--records N] [--repeat R]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "controller/model/rows.h"
#include "controller/policy/engine.h"
#include "shared/policy/json.h"
#include "shared/testing/fixtures.h"

namespace {

using namespace vnet;

template <class F>
double best_ms(int repeat, F&& f) {
  double best = 1e300;
  for (int i = 0; i < repeat; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    best = std::min(
        best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                  .count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  size_t records = 1'000'000;
  int repeat = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--records") == 0) records = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--repeat") == 0) repeat = std::atoi(argv[i + 1]);
  }
  policy::HostPolicy p = testing::seed_host1_policy();
  p.lookup_records.reserve(p.lookup_records.size() + records);
  for (size_t i = 0; i < records; ++i) {
    p.lookup_records.push_back(
        {testing::vsid(5001), net::Ipv4Address::from_u32(0x0b000000u + uint32_t(i)),
         net::MacAddress::from_u64(0x001dd8000000ull + i),
         net::Ipv4Address::from_u32(0xc0a80000u + uint32_t(i % 1000)), policy::LookupRule::kEncap});
  }
  // The hash's input: 4 (VSID) + 4 (CA) + 6 (MAC) + 4 (PA) + 1 (rule) per record.
  const std::string floor_input(p.lookup_records.size() * 19, 'x');
  std::string sink;
  const double floor = best_ms(repeat, [&] { sink = model::sha256_hex(floor_input); });
  const double hash = best_ms(repeat, [&] { sink = compiler::content_hash(p); });
  const double text = best_ms(std::max(1, repeat / 2), [&] { sink = policy::to_json_text(p); });
  fmt::print("policy with {} lookup records, best of {}\n", p.lookup_records.size(), repeat);
  fmt::print("  SHA-256 of {} bytes (floor)     {:9.1f} ms   1.00x\n", floor_input.size(), floor);
  fmt::print("  content hash                     {:9.1f} ms   {:.2f}x\n", hash, hash / floor);
  fmt::print("  JSON text (not hashed)           {:9.1f} ms   {:.2f}x\n", text, text / floor);
  fmt::print("  per record: content hash {:.0f} ns\n",
             hash * 1e6 / double(p.lookup_records.size()));
  return sink.empty() ? 1 : 0;
}

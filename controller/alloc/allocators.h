// Pure allocation: given what a pool offers and what is taken, the first
// free value. The store calls this inside the creating transaction, feeding
// it the taken values from its index; its primary keys back it up.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <vector>

namespace vnet::alloc {

struct Range {
  uint64_t first;
  uint64_t last;  // inclusive
};

// The lowest value of `ranges`, at or above `from`, that is neither in
// `excluded` nor taken. `taken(first, last, visit)` must call visit(v) for
// the taken values in [first, last] in ascending order, stopping when visit
// returns false, so a caller can stream them from an index and stop at the
// first gap instead of loading them all.
template <class Taken>
std::optional<uint64_t> first_free(std::vector<Range> ranges, const std::set<uint64_t>& excluded,
                                   uint64_t from, Taken&& taken) {
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.first < b.first; });
  for (const Range& r : ranges) {
    uint64_t c = std::max(r.first, from);
    auto skip_excluded = [&] {
      while (c <= r.last && excluded.count(c)) ++c;
    };
    skip_excluded();
    if (c > r.last) continue;
    taken(c, r.last, [&](uint64_t t) {
      if (t > c) return false;  // c is free
      if (t == c) {
        ++c;
        skip_excluded();
      }
      return c <= r.last;
    });
    if (c <= r.last) return c;
  }
  return std::nullopt;
}

// The same over a set of taken values held in memory.
inline std::optional<uint64_t> first_free(const std::vector<Range>& ranges,
                                          const std::set<uint64_t>& taken) {
  return first_free(ranges, {}, 0, [&](uint64_t first, uint64_t last, auto&& visit) {
    for (auto it = taken.lower_bound(first); it != taken.end() && *it <= last; ++it) {
      if (!visit(*it)) return;
    }
  });
}

}  // namespace vnet::alloc

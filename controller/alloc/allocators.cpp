#include "controller/alloc/allocators.h"

namespace vnet::alloc {

std::optional<uint64_t> first_free(const std::vector<Range>& ranges,
                                   const std::set<uint64_t>& taken) {
  for (const Range& r : ranges) {
    if (r.first > r.last) continue;
    // Walk the taken values inside the range in order; the first gap wins.
    uint64_t candidate = r.first;
    for (auto it = taken.lower_bound(r.first); it != taken.end() && *it <= r.last; ++it) {
      if (*it != candidate) break;
      if (candidate == r.last) {
        candidate = r.last + 1;  // the range is full
        break;
      }
      ++candidate;
    }
    if (candidate <= r.last) return candidate;
  }
  return std::nullopt;
}

uint64_t capacity(const std::vector<Range>& ranges) {
  uint64_t n = 0;
  for (const Range& r : ranges) n += r.first <= r.last ? r.last - r.first + 1 : 0;
  return n;
}

}  // namespace vnet::alloc

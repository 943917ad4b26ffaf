// Pure allocation: given what a pool offers and what is taken, the first
// free value. The store calls these inside the creating transaction, and its
// primary keys back them up.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <vector>

namespace vnet::alloc {

struct Range {
  uint64_t first;
  uint64_t last;  // inclusive
};

// The lowest value inside one of `ranges` (in order) that is not in `taken`.
std::optional<uint64_t> first_free(const std::vector<Range>& ranges,
                                   const std::set<uint64_t>& taken);

// How many values the ranges hold, and how many of them are taken.
uint64_t capacity(const std::vector<Range>& ranges);

}  // namespace vnet::alloc

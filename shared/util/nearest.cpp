#include "shared/util/nearest.h"

#include <algorithm>

namespace vnet {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string nearest(const std::string& given, const std::vector<std::string>& choices) {
  const std::string* best = nullptr;
  size_t best_distance = 0;
  for (const auto& c : choices) {
    const size_t d = edit_distance(given, c);
    if (best == nullptr || d < best_distance) {
      best = &c;
      best_distance = d;
    }
  }
  if (best == nullptr || best_distance > std::max<size_t>(2, given.size() / 3)) return "";
  return *best;
}

}  // namespace vnet

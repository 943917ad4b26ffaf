// Plain-text tables for terminals, in the spirit of PowerShell's Format-Table
// (Get-NetVirtualizationLookupRecord): a header, a rule, left-aligned
// columns sized to their widest cell.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

namespace vnet {

inline std::string format_table(const std::vector<std::string>& header,
                                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < width.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : "";
      out += cell;
      if (i + 1 < width.size()) out += std::string(width[i] - cell.size() + 2, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::vector<std::string> rule;
  for (size_t w : width) rule.emplace_back(w, '-');
  std::string out = line(header) + line(rule);
  for (const auto& row : rows) out += line(row);
  return out;
}

}  // namespace vnet

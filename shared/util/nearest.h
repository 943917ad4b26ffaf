// "Did you mean ...?" for words a user typed: vnetctl's nouns, verbs, flags
// and columns, and the daemons' configuration keys.
#pragma once

#include <string>
#include <vector>

namespace vnet {

// The Levenshtein distance between two words.
size_t edit_distance(const std::string& a, const std::string& b);
// The choice nearest `given`, when one is near enough to be a typo
// (at most 2 edits, or a third of the word); "" otherwise.
std::string nearest(const std::string& given, const std::vector<std::string>& choices);

}  // namespace vnet

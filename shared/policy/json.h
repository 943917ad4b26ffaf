// HostPolicy <-> JSON, the form the southbound channel and the agent's
// on-disk copy use. Parsing validates too, and reports the JSON Pointer of the
// first bad field. Fields a newer controller may add are ignored; arrays may
// be omitted (empty), every scalar field is required.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "shared/policy/delta.h"
#include "shared/policy/host_policy.h"
#include "shared/util/expected.h"

namespace vnet::policy {

nlohmann::json to_json(const HostPolicy& policy);
std::string to_json_text(const HostPolicy& policy, int indent = -1);

Expected<HostPolicy, PolicyError> from_json(const nlohmann::json& json);
// Also reports malformed JSON (path "", the parser's message).
Expected<HostPolicy, PolicyError> from_json_text(std::string_view text);

// PolicyDelta <-> JSON (the `delta` message's body, docs/southbound.md).
// Reading checks each element's types; apply() checks the result.
nlohmann::json to_json(const PolicyDelta& delta);
Expected<PolicyDelta, PolicyError> delta_from_json(const nlohmann::json& json);

}  // namespace vnet::policy

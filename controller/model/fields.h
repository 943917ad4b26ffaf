// Checks a request body against a Kind's fields: types, ranges, who may set
// what, and when. Values come back in canonical text (MACs upper case,
// prefixes and UUIDs normalised), so the store compares like with like.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "controller/model/kinds.h"
#include "controller/model/problem.h"

namespace vnet::model {

enum class Role { kAdmin, kTenant };

struct Principal {
  Role role = Role::kTenant;
  std::string tenant_id;  // for tenants
  std::string token_id;
  bool is_admin() const { return role == Role::kAdmin; }
};

enum class Write { kCreate, kReplace, kPatch };

// Validates `body` for a write of kind `kind` by `who`. For kReplace and
// kPatch, `current` is the stored object (fields only). Returns the fields
// to store: for kCreate with defaults applied, for kPatch merged into
// `current` (RFC 7396). Throws Problem: 400 with every bad field, or 403
// when a tenant sets an admin-only field.
// With `errors`, the 400 errors are appended there instead of thrown, and
// the valid fields are returned, so that the kind's own rules can run on
// them and every bad field is reported at once (the 403 is still thrown).
nlohmann::json check_fields(const Kind& kind, const Principal& who, const nlohmann::json& body,
                            Write write, const nlohmann::json& current = nullptr,
                            std::vector<FieldError>* errors = nullptr);

// Keys a body may carry besides the fields (echoed back from a GET): id,
// etag, and tenant_id of tenant-owned kinds. The service checks them.
bool is_envelope_key(const Kind& kind, std::string_view key);

}  // namespace vnet::model

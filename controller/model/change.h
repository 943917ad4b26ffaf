// What the model tells the policy side (committed changes) and what it
// shows from it (realization state), without depending on it.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "controller/model/types.h"

namespace vnet::model {

// One committed change to one object, as the policy engine follows them:
// the collection ("vm-nics"), the id, and the stored fields after the change
// (absent when the object was deleted).
struct Change {
  std::string collection;
  std::string id;
  std::optional<nlohmann::json> fields;
  // The stored fields before the write (absent when it created the object):
  // what the policy guard restores when the write is refused.
  std::optional<nlohmann::json> before{};
  // The change log's sequence of this change (the newest, for an object
  // changed several times by others): where a model that applied it stands.
  int64_t log_seq = 0;
};

// The collection of a Change that means "the log no longer reaches back to
// where this replica was: reload everything" (a replica that fell behind
// the change log's pruning).
inline constexpr const char* kResyncAll = "*";

// Realization state that GET adds to hosts and VM NICs (the southbound side
// knows it; the model only shows it).
class RealizationView {
 public:
  virtual ~RealizationView() = default;
  // connected, last_seen, desired_generation, realized_generation,
  // configuration_state of a host.
  virtual nlohmann::json host_state(const std::string& host_id) const = 0;
  // configuration_state of a VM NIC.
  virtual nlohmann::json nic_state(const std::string& nic_id, const VmNic& nic) const = 0;
  // configuration_state of a gateway.
  virtual nlohmann::json gateway_state(const std::string& gateway_id,
                                       const Gateway& gateway) const = 0;
  // The host's uplink interface as its agent reported it ("" when unknown):
  // never a VM NIC's interface.
  virtual std::string uplink(const std::string& /*host_id*/) const { return ""; }
};

}  // namespace vnet::model

// The policy compiler of DESIGN.md section 3: a pure function from the model
// to what one host needs. No I/O, no clock: the same model gives the same
// policy, which is how the controller knows when a generation must change.
#pragma once

#include "controller/policy/model.h"
#include "shared/policy/host_policy.h"

namespace vnet::compiler {

// Told to VMs by DHCP option 26: a 1500-byte uplink less NVGRE's 42 bytes.
inline constexpr uint16_t kUplinkMtu = 1500;
inline constexpr uint16_t kNvgreOverhead = 42;

// The host's policy with generation 0 and every array in canonical order.
// The host must exist in the model.
policy::HostPolicy compile(const Model& model, const Id& host_id);

}  // namespace vnet::compiler

// The policy compiler of DESIGN.md section 3: a pure function from the model
// to what one host needs. No I/O, no clock: the same model gives the same
// policy, which is how the controller knows when a generation must change.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "controller/policy/model.h"
#include "shared/policy/host_policy.h"

namespace vnet::compiler {

// Told to VMs by DHCP option 26: a 1500-byte uplink less NVGRE's 42 bytes.
inline constexpr uint16_t kUplinkMtu = 1500;  // a host's until its agent reports its own
inline constexpr uint16_t kNvgreOverhead = 42;

// What one VM network (routing domain) contributes to every host it is on:
// its lookup records and customer routes, each sorted by key. Every host of
// the network gets the same fragment, so the engine computes it once per
// change of the network and not once per host.
struct Fragment {
  std::vector<policy::LookupRecord> lookup_records;
  std::vector<policy::CustomerRoute> customer_routes;
  std::vector<policy::GatewayPolicy> gateways;  // at most one
};
Fragment compile_network(const Model& model, const Id& vm_network_id);
// Only the network's gateway (cheap: no records): what the policy guard
// needs of a network to check a host's whole set of gateways.
Fragment compile_gateways(const Model& model, const Id& vm_network_id);

// The agents' validator (shared/policy/validate.cpp) in two parts that add
// up to a whole host policy: nothing it checks spans two VM networks (a
// VSID is one subnet's, an RDID one network's), so a fragment is checked
// once for every host that holds it, and a host's own parts (provider,
// ports, rewrite PAs, the gateways it runs) once per host.
std::optional<policy::PolicyError> validate_fragment(const Fragment& fragment);
std::optional<policy::PolicyError> validate_own_parts(const policy::HostPolicy& policy);

// Where compile() gets fragments from: compile_network, or a cache of it.
// The references it returns must stay valid during one compile().
using Fragments = std::function<const Fragment&(const Id& vm_network_id)>;

// The host's policy with generation 0 and every array in canonical order.
// The host must exist in the model.
policy::HostPolicy compile(const Model& model, const Id& host_id);
policy::HostPolicy compile(const Model& model, const Id& host_id, const Fragments& fragments);

}  // namespace vnet::compiler

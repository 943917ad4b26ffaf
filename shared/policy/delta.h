// Policy deltas: what changed between two generations of one host's policy,
// as the southbound channel's `delta` message carries it (docs/southbound.md).
//
// Every array of a HostPolicy is a set keyed by its identity: ports and
// rewrite PAs by nic_id, lookup records by (VSID, CA), customer routes by
// (RDID, VSID, prefix), gateways by gateway_id. A delta lists, per array, the
// elements to set (added or changed) and the elements to remove (as they
// were), and the provider section when it changed. Both ends keep policies in
// canonical order (sorted by key), so diff and apply are exact inverses:
// apply(a, diff(a, b)) == b.
#pragma once

#include <optional>
#include <tuple>
#include <vector>

#include "shared/policy/host_policy.h"
#include "shared/util/expected.h"

namespace vnet::policy {

template <class T>
struct DeltaSection {
  std::vector<T> set{};
  std::vector<T> remove{};
  bool empty() const { return set.empty() && remove.empty(); }
  bool operator==(const DeltaSection&) const = default;
};

struct PolicyDelta {
  Uuid host_id{};
  uint64_t from = 0;        // the generation this delta applies to
  uint64_t generation = 0;  // the generation it produces
  std::optional<Provider> provider{};
  DeltaSection<Port> ports{};
  DeltaSection<LookupRecord> lookup_records{};
  DeltaSection<CustomerRoute> customer_routes{};
  DeltaSection<RewritePa> rewrite_pas{};
  DeltaSection<GatewayPolicy> gateways{};

  // True when the two policies differ only in their generation.
  bool empty() const {
    return !provider && ports.empty() && lookup_records.empty() && customer_routes.empty() &&
           rewrite_pas.empty() && gateways.empty();
  }
  // Elements set plus removed, for logs and metrics.
  size_t size() const;
  bool operator==(const PolicyDelta&) const = default;
};

// The identity of each element within its array.
inline Uuid key(const Port& p) { return p.nic_id; }
inline auto key(const LookupRecord& r) { return std::tuple(r.vsid, r.ca); }
inline auto key(const CustomerRoute& r) { return std::tuple(r.rdid, r.vsid, r.prefix); }
inline Uuid key(const RewritePa& r) { return r.nic_id; }
inline Uuid key(const GatewayPolicy& g) { return g.gateway_id; }

// Sorts every array by key, and provider routes by prefix.
void canonicalize(HostPolicy& policy);
// Content equality: everything but the generation.
bool same_content(const HostPolicy& a, const HostPolicy& b);

// The delta from `before` to `after` (both canonical); from/generation are
// taken from their generations.
PolicyDelta diff(const HostPolicy& before, const HostPolicy& after);
// Applies a delta to the policy it was computed from. Fails when the
// generations do not match, when a removed element is absent or differs, or
// when the result does not validate: the receiver then asks for a snapshot.
Expected<HostPolicy, PolicyError> apply(const HostPolicy& before, const PolicyDelta& delta);

}  // namespace vnet::policy

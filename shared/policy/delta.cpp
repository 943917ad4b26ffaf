#include "shared/policy/delta.h"

#include <fmt/format.h>

#include <algorithm>

namespace vnet::policy {
namespace {

template <class T>
void sort_by_key(std::vector<T>& v) {
  auto less = [](const T& a, const T& b) { return key(a) < key(b); };
  if (!std::is_sorted(v.begin(), v.end(), less)) std::sort(v.begin(), v.end(), less);
}

// Merge walk over two key-sorted arrays.
template <class T>
DeltaSection<T> diff_section(const std::vector<T>& before, const std::vector<T>& after) {
  DeltaSection<T> out;
  auto b = before.begin();
  auto a = after.begin();
  while (b != before.end() || a != after.end()) {
    if (a == after.end() || (b != before.end() && key(*b) < key(*a))) {
      out.remove.push_back(*b++);
    } else if (b == before.end() || key(*a) < key(*b)) {
      out.set.push_back(*a++);
    } else {
      if (!(*a == *b)) out.set.push_back(*a);
      ++a;
      ++b;
    }
  }
  return out;
}

template <class T>
std::optional<PolicyError> apply_section(std::vector<T>& items, const DeltaSection<T>& section,
                                         const char* name) {
  for (const T& gone : section.remove) {
    const auto it = std::lower_bound(items.begin(), items.end(), key(gone),
                                     [](const T& x, const auto& k) { return key(x) < k; });
    if (it == items.end() || !(*it == gone)) {
      return PolicyError{fmt::format("/{}", name),
                         "the delta removes an element this policy does not hold"};
    }
    items.erase(it);
  }
  for (const T& item : section.set) {
    const auto it = std::lower_bound(items.begin(), items.end(), key(item),
                                     [](const T& x, const auto& k) { return key(x) < k; });
    if (it != items.end() && key(*it) == key(item)) {
      *it = item;
    } else {
      items.insert(it, item);
    }
  }
  return std::nullopt;
}

}  // namespace

size_t PolicyDelta::size() const {
  auto n = [](const auto& s) { return s.set.size() + s.remove.size(); };
  return (provider ? 1 : 0) + n(ports) + n(lookup_records) + n(customer_routes) + n(rewrite_pas) +
         n(gateways);
}

void canonicalize(HostPolicy& policy) {
  std::sort(policy.provider.routes.begin(), policy.provider.routes.end(),
            [](const ProviderRoute& a, const ProviderRoute& b) {
              return std::tie(a.prefix, a.next_hop) < std::tie(b.prefix, b.next_hop);
            });
  sort_by_key(policy.ports);
  sort_by_key(policy.lookup_records);
  sort_by_key(policy.customer_routes);
  sort_by_key(policy.rewrite_pas);
  sort_by_key(policy.gateways);
}

bool same_content(const HostPolicy& a, const HostPolicy& b) {
  return a.host_id == b.host_id && a.provider == b.provider && a.ports == b.ports &&
         a.lookup_records == b.lookup_records && a.customer_routes == b.customer_routes &&
         a.rewrite_pas == b.rewrite_pas && a.gateways == b.gateways;
}

PolicyDelta diff(const HostPolicy& before, const HostPolicy& after) {
  PolicyDelta d;
  d.host_id = after.host_id;
  d.from = before.generation;
  d.generation = after.generation;
  if (!(before.provider == after.provider)) d.provider = after.provider;
  d.ports = diff_section(before.ports, after.ports);
  d.lookup_records = diff_section(before.lookup_records, after.lookup_records);
  d.customer_routes = diff_section(before.customer_routes, after.customer_routes);
  d.rewrite_pas = diff_section(before.rewrite_pas, after.rewrite_pas);
  d.gateways = diff_section(before.gateways, after.gateways);
  return d;
}

Expected<HostPolicy, PolicyError> apply(const HostPolicy& before, const PolicyDelta& delta) {
  if (delta.host_id != before.host_id) {
    return Unexpected(PolicyError{"/host_id", "the delta is for another host"});
  }
  if (delta.from != before.generation) {
    return Unexpected(PolicyError{
        "/from", fmt::format("the delta applies to generation {}, this policy is generation {}",
                             delta.from, before.generation)});
  }
  HostPolicy after = before;
  after.generation = delta.generation;
  if (delta.provider) after.provider = *delta.provider;
  std::optional<PolicyError> error;
  if (!error) error = apply_section(after.ports, delta.ports, "ports");
  if (!error) error = apply_section(after.lookup_records, delta.lookup_records, "lookup_records");
  if (!error)
    error = apply_section(after.customer_routes, delta.customer_routes, "customer_routes");
  if (!error) error = apply_section(after.rewrite_pas, delta.rewrite_pas, "rewrite_pas");
  if (!error) error = apply_section(after.gateways, delta.gateways, "gateways");
  if (!error) error = validate(after);
  if (error) return Unexpected(*error);
  return after;
}

}  // namespace vnet::policy

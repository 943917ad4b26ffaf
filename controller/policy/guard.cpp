#include "controller/policy/guard.h"

#include <unordered_map>

#include "controller/policy/compiler.h"

namespace vnet::compiler {

// Only what the transaction can have changed is compiled: the host's own
// parts (ports, provider, gateways, rewrite PAs) and the fragments of the
// VM networks it touched. The other fragments were valid before, and no two
// networks can collide in them (a VSID belongs to one subnet, an RDID to
// one network), so leaving them out validates the same thing at a
// fraction of the cost: a NIC create in a network on 100 hosts compiles
// 100 hosts' ports and one network's records, not every record of them.
std::optional<policy::PolicyError> PolicyGuard::invalid(const Id& host,
                                                        const IdSet& networks) const {
  if (!model_.hosts.contains(host)) return std::nullopt;
  static const Fragment kUnchanged;
  std::unordered_map<Id, Fragment> fragments;
  const policy::HostPolicy p = compile(model_, host, [&](const Id& n) -> const Fragment& {
    if (!networks.contains(n)) return kUnchanged;
    auto it = fragments.find(n);
    if (it == fragments.end()) it = fragments.emplace(n, compile_network(model_, n)).first;
    return it->second;
  });
  return policy::validate(p);
}

std::optional<GuardRefusal> PolicyGuard::check(const std::vector<model::Change>& changes) {
  IdSet touched;
  IdSet networks;
  const size_t first = undo_.size();
  for (size_t i = first; i < changes.size(); ++i) {
    const model::Change& change = changes[i];
    for (const auto& h : model_.hosts_touched_by(change.collection, change.id)) touched.insert(h);
    for (const auto& n : model_.networks_touched_by(change.collection, change.id))
      networks.insert(n);
    // The inverse: what the object was before this change. Within one
    // transaction an object changed twice is restored from the earlier one.
    std::optional<nlohmann::json> previous;
    bool found = false;
    for (size_t j = i; j-- > 0;) {
      if (changes[j].collection == change.collection && changes[j].id == change.id) {
        previous = changes[j].fields;
        found = true;
        break;
      }
    }
    if (!found) previous = change.before;
    undo_.push_back({change.collection, change.id, std::move(previous)});
    model_.apply(change);
    for (const auto& h : model_.hosts_touched_by(change.collection, change.id)) touched.insert(h);
    for (const auto& n : model_.networks_touched_by(change.collection, change.id))
      networks.insert(n);
  }
  for (const auto& host : touched) {
    auto error = invalid(host, networks);
    if (!error) continue;
    // Broken by this write, or before it? Look at the host without it.
    std::vector<model::Change> redo(changes.begin() + static_cast<long>(first), changes.end());
    std::vector<model::Change> undo(undo_.begin() + static_cast<long>(first), undo_.end());
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) model_.apply(*it);
    const bool already = invalid(host, networks).has_value();
    for (const auto& change : redo) model_.apply(change);
    if (already) continue;
    rollback();
    return GuardRefusal{host, std::move(*error)};
  }
  return std::nullopt;
}

void PolicyGuard::rollback() {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) model_.apply(*it);
  undo_.clear();
}

}  // namespace vnet::compiler

#include "controller/policy/guard.h"

#include <algorithm>
#include <unordered_map>

#include "controller/model/codec.h"
#include "controller/policy/compiler.h"

namespace vnet::compiler {

// Only what the transaction can have changed is validated, and each thing
// once: the touched hosts' own parts (ports, provider, rewrite PAs, and the
// gateways: compiled with only the gateways of the networks), and the fragments
// (lookup records, customer routes) of the touched VM networks that are on
// some host, each validated once on its own. Nothing the validator checks
// spans two networks (a VSID is one subnet's, an RDID one network's), and
// the fragments left out were valid before, so this validates what the
// hosts would receive at a fraction of the cost: a NIC create in a network
// on 100 hosts compiles 100 hosts' ports and one network's records.
std::vector<GuardRefusal> PolicyGuard::errors(const IdSet& hosts, const IdSet& networks) const {
  std::vector<GuardRefusal> out;
  // Of each network only its gateway: a host's forwarding gateways must not
  // overlap, which no fragment shows on its own.
  std::unordered_map<Id, Fragment> gateways;
  for (const Id& host : hosts) {
    if (!model_.hosts.contains(host)) continue;
    const policy::HostPolicy p = compile(model_, host, [&](const Id& network) -> const Fragment& {
      auto it = gateways.find(network);
      if (it == gateways.end())
        it = gateways.emplace(network, compile_gateways(model_, network)).first;
      return it->second;
    });
    if (auto error = policy::validate(p)) out.push_back({host, std::move(*error)});
  }
  for (const Id& network : networks) {
    const IdSet on = model_.hosts_of_network(network);
    if (on.empty()) continue;  // in no host's policy
    if (auto error = validate_fragment(compile_network(model_, network)))
      out.push_back({*on.begin(), std::move(*error)});
  }
  return out;
}

std::optional<GuardRefusal> PolicyGuard::check(const std::vector<model::Change>& changes) {
  IdSet touched;  // hosts whose own parts may change
  IdSet networks;
  // A NIC's own parts (its port, its rewrite PA) are on its old and new
  // host only; what the other hosts of its network see of it is its VM
  // network's fragment. Anything else: every host it concerns.
  auto own_hosts = [&](const model::Change& change) {
    if (change.collection != model::VmNic::meta.collection) {
      for (const auto& h : model_.hosts_touched_by(change.collection, change.id)) touched.insert(h);
      return;
    }
    for (const auto* fields : {&change.before, &change.fields}) {
      if (!*fields) continue;
      if (const Id host = model::decode<model::VmNic>(**fields).host_id; !host.empty())
        touched.insert(host);
    }
  };
  const size_t first = undo_.size();
  for (size_t i = first; i < changes.size(); ++i) {
    const model::Change& change = changes[i];
    own_hosts(change);
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
    own_hosts(change);
    for (const auto& n : model_.networks_touched_by(change.collection, change.id))
      networks.insert(n);
  }
  const auto after = errors(touched, networks);
  if (after.empty()) return std::nullopt;
  // Broken by this write, or before it? The same look without it: a write
  // that adds no error to what was there is let through (repairs go step by
  // step; the engine holds an invalid policy back).
  std::vector<model::Change> redo(changes.begin() + static_cast<long>(first), changes.end());
  std::vector<model::Change> undo(undo_.begin() + static_cast<long>(first), undo_.end());
  for (auto it = undo.rbegin(); it != undo.rend(); ++it) model_.apply(*it);
  const auto before = errors(touched, networks);
  for (const auto& change : redo) model_.apply(change);
  for (const GuardRefusal& e : after) {
    const bool old = std::any_of(before.begin(), before.end(), [&](const GuardRefusal& b) {
      return b.host_id == e.host_id && b.error == e.error;
    });
    if (old) continue;
    rollback();
    return e;
  }
  return std::nullopt;
}

void PolicyGuard::rollback() {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) model_.apply(*it);
  undo_.clear();
}

}  // namespace vnet::compiler

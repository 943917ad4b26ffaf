// Refuses a write that would give any host a policy its agent must refuse.
// The agent validates every policy it receives (shared/policy/validate.cpp)
// and keeps its last one when a new one fails: before this guard, a tenant
// could create such a policy (a gateway with no address on someone's host,
// a pool gateway equal to a NIC's address) and so stop that host from
// realizing every other tenant's changes. Now the controller runs the same
// validator on the compiled policy of every host a write concerns, inside
// the write's transaction, and the write fails with a 409 that names the
// host and the broken field.
//
// The guard keeps its own copy of the model, current with every committed
// change (the engine's copy lags behind, on its own thread): check() applies
// the transaction's changes to it and compiles the hosts they touch; the
// store's commit keeps them, a rollback takes them back. A write that adds
// no error to those there were before it is let through (only writes that
// break something are refused), so an operator can repair step by step.
// All calls come under the store's write lock.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "controller/model/change.h"
#include "controller/policy/model.h"
#include "shared/policy/host_policy.h"

namespace vnet::compiler {

struct GuardRefusal {
  std::string host_id;
  policy::PolicyError error;
};

class PolicyGuard {
 public:
  explicit PolicyGuard(Model model) : model_(std::move(model)) {}

  // Applies `changes[applied_count()...]` (those of the transaction not
  // applied yet) and validates the hosts they touch. On a refusal every
  // change of the transaction is taken back.
  std::optional<GuardRefusal> check(const std::vector<model::Change>& changes);
  size_t applied_count() const { return undo_.size(); }
  // The transaction committed: its changes stay.
  void commit() { undo_.clear(); }
  // The transaction rolled back: take its changes back.
  void rollback();
  // Changes committed by another replica: applied, never checked or undone.
  void follow(const std::vector<model::Change>& changes) {
    for (const auto& c : changes) model_.apply(c);
  }

 private:
  // The errors in what `hosts` and `networks` put into host policies: per
  // host its own parts' first error, per network its fragment's.
  std::vector<GuardRefusal> errors(const IdSet& hosts, const IdSet& networks) const;
  Model model_;
  std::vector<model::Change> undo_;  // inverse changes, in the order applied
};

}  // namespace vnet::compiler

// Stored objects as the service handles them, and the SQL that moves them
// (internal to controller/model).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "controller/model/change.h"
#include "controller/model/fields.h"
#include "controller/model/kinds.h"
#include "controller/store/database.h"
#include "controller/store/objects.h"

namespace vnet::model {

struct Row {
  std::string id;
  std::string tenant_id;  // "" when the kind has none
  std::string etag;
  nlohmann::json fields = nlohmann::json::object();
  // Columns that are not fields (a token's hash), set by the semantics.
  store::Columns extra_columns;
  // A new token's secret: in the creation response only, never stored.
  std::string secret;
};

// The table of `kind` (store/objects.h).
store::Objects objects(store::Database& db, const Kind& kind);
Row to_row(store::ObjectRow&& stored);

std::optional<Row> load_row(store::Database& db, const Kind& kind, const std::string& id);
void insert_row(store::Database& db, const Kind& kind, const Row& row);
void update_row(store::Database& db, const Kind& kind, const Row& row);
void delete_row(store::Database& db, const Kind& kind, const std::string& id);

// Rows of `kind` as Objects::where selects them.
std::vector<Row> rows_where(store::Database& db, const Kind& kind, store::Objects::Match match);

bool visible_to(const Principal& who, const Kind& kind, const Row& row);

std::string new_uuid();
std::string new_etag();
// Lower-case hex SHA-256, how token secrets are stored and looked up.
std::string sha256_hex(std::string_view data);

// Per pool (and per MAC pool, and for VSIDs), a lower bound below which
// every value was taken when last looked, so that a create does not rescan
// what earlier creates filled (it made NIC creates O(n) in the pool's size).
// Only a place to start looking: the database decides what is free, and when
// nothing is free above the bound the search starts again from the bottom,
// so a bound never makes a pool look exhausted. Owned by one Service (one
// replica), used under the store's write lock, cleared when something is
// freed, a write rolls back, or another replica committed.
using AllocationHints = std::map<std::string, uint64_t>;

// What one kind means beyond its fields' types: semantics.cpp registers one
// per kind (registry()), beside the kind's table in kinds.cpp; a kind
// without a registration stops the controller at its first write.
struct WriteScope {
  store::Database& db;
  AllocationHints& hints;
  const Principal& who;
};
struct Rules {
  // Checks references and invariants, fills tenant_id, allocates; `before`
  // is the stored object on replace and patch.
  void (*before_write)(const WriteScope&, Row& row, const Row* before) = nullptr;
  // Who holds the object besides the rows that name it in a reference
  // column and the tenants granted it (before_delete finds those): what
  // was allocated from it, a tenant's objects.
  void (*held_by)(store::Database&, const Row& row, std::vector<std::string>& users) = nullptr;
  // Its own refusals of a delete (the last admin token).
  void (*before_delete)(store::Database&, const Row& row) = nullptr;
  // What GET adds: realization state, a gateway's advertised prefixes.
  void (*computed)(store::Database&, nlohmann::json& object, const RealizationView* view) = nullptr;
  // Checked before the write's transaction against what agents reported (a
  // NIC placed on its host's uplink).
  void (*check_placement)(const RealizationView& view, const nlohmann::json& fields) = nullptr;
  // before_write reads optional fields only through contains(), so it runs
  // even when fields failed their checks and one answer names every bad
  // field (docs/api.md).
  bool partial_fields = false;
};
const Rules& rules_of(const Kind& kind);

// Per-kind meaning (semantics.cpp): checks references and invariants, fills
// tenant_id, and allocates addresses, MACs, VSIDs and RDIDs, inside the
// write transaction. `before` is the stored object on replace and patch.
void before_write(store::Database& db, AllocationHints& hints, const Kind& kind,
                  const Principal& who, Row& row, const Row* before);
// Frees what the object held (allocations) before it is deleted, after
// checking nothing uses it (409 naming the users).
void before_delete(store::Database& db, AllocationHints& hints, const Kind& kind, const Row& row);
// Tenants stored before grants existed (issue 16) are granted what they use
// already: the logical networks of their VM networks and the external pools
// of their gateways, so an upgrade takes nothing away. Idempotent.
void grant_what_tenants_use(store::Database& db);
// Fields that are computed, not stored (realization state, a gateway's
// advertised prefixes), added to what GET shows; read in `db`.
void add_computed(store::Database& db, const Kind& kind, nlohmann::json& object,
                  const RealizationView* view);
// The kind's check_placement, when it has one and `view` is given.
void check_placement(const RealizationView* view, const Kind& kind, const nlohmann::json& fields);

}  // namespace vnet::model

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

namespace vnet::model {

struct Row {
  std::string id;
  std::string tenant_id;  // "" when the kind has none
  std::string etag;
  nlohmann::json fields = nlohmann::json::object();
  // Columns that are not fields (a token's hash), set by the semantics.
  std::vector<std::pair<std::string, std::string>> extra_columns;
  // A new token's secret: in the creation response only, never stored.
  std::string secret;
};

std::optional<Row> load_row(store::Database& db, const Kind& kind, const std::string& id);
void insert_row(store::Database& db, const Kind& kind, const Row& row);
void update_row(store::Database& db, const Kind& kind, const Row& row);
void delete_row(store::Database& db, const Kind& kind, const std::string& id);

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

}  // namespace vnet::model

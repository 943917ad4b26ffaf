// The schema comes only from migrations/NNNN_name.sql (and, where
// PostgreSQL needs another form, migrations/postgresql/NNNN_name.sql),
// compiled into the binary (CMake embeds them), applied in order, each
// inside a transaction, and recorded in schema_migrations. Several replicas
// starting at once apply them once: migrate() holds the schema lock.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "controller/store/database.h"

namespace vnet::store {

struct Migration {
  int version;
  std::string name;
  std::string_view sql;
  // PostgreSQL's form when it differs; empty: `sql` serves both.
  std::string_view postgresql_sql = {};
};

// The migrations this binary knows, in version order.
const std::vector<Migration>& builtin_migrations();

// Applies every migration newer than the database's version. Throws
// StoreError with a clear sentence when the database is newer than the
// binary ("... was written by a newer vnet-controller ..."). Returns how many
// were applied.
int migrate(Database& db, const std::vector<Migration>& migrations = builtin_migrations());

// The highest version recorded in the database, 0 when none.
int schema_version(Database& db);

}  // namespace vnet::store

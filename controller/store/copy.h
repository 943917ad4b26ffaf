// Copies rows between two databases of the same schema, whatever their
// engines (vnet-controller migrate-store: a single controller's SQLite file
// into PostgreSQL for replicas).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "controller/store/database.h"

namespace vnet::store {

// Every table of the controller's schema, parents before children (the order
// rows can be inserted in with foreign keys on).
const std::vector<std::string>& schema_tables();

// Rows in `table` (one of schema_tables()).
int64_t row_count(Database& db, const std::string& table);
// Deletes every row of `table` (one of schema_tables()).
void delete_rows(Database& db, const std::string& table);

// Copies every row of `tables`, in order, from `from` into `to` (inside the
// caller's transactions), naming the source's columns, so a column the
// target has beyond them (PostgreSQL's rowid) takes its default; rows go in
// creation order where the source keeps one. `progress(table, rows)` after
// each table. Returns the rows copied per table.
std::vector<std::pair<std::string, int64_t>> copy_rows(
    Database& from, Database& to, const std::vector<std::string>& tables,
    const std::function<void(const std::string&, int64_t)>& progress = {});

}  // namespace vnet::store

// The tables of the network model's collections (one per kind of
// DESIGN.md section 3), and nothing else: each row is an object's id, its
// etag, its JSON body, a rowid in creation order and the columns the model
// mirrors out of the body (references, tenant_id, values the database keeps
// unique). The model says which table and columns; the SQL is here. Table
// and column names must be identifiers (checked: they never come from a
// request).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "controller/store/database.h"

namespace vnet::store {

// A value for a column: NULL, an integer or text.
using Value = std::variant<std::monostate, int64_t, std::string>;
using Columns = std::vector<std::pair<std::string, Value>>;

struct ObjectRow {
  int64_t rowid = 0;
  std::string id;
  std::string tenant_id;  // "" when the table has none, or it is NULL
  std::string etag;
  std::string body;  // the JSON document
};

class Objects {
 public:
  // `tenant_owned`: the table has a tenant_id column.
  Objects(Database& db, std::string_view table, bool tenant_owned);

  std::optional<ObjectRow> get(std::string_view id);
  // id, etag and body, and `columns` beside them.
  void insert(const ObjectRow& row, const Columns& columns);
  void update(const ObjectRow& row, const Columns& columns);
  void remove(std::string_view id);

  // What where() selects: rows whose `column` is `value` (every row when
  // `column` is empty), but not `except_id`, in creation order, at most
  // `limit` (0: all).
  struct Match {
    std::string column{};
    Value value{};
    std::string except_id{};
    size_t limit = 0;
  };
  std::vector<ObjectRow> where(const Match& match);
  int64_t count();
  // Rows per distinct non-NULL value of `column`.
  std::map<std::string, int64_t> count_by(std::string_view column);
  // The distinct non-NULL values of `column` among rows whose `where_column`
  // is `value`, sorted.
  std::vector<std::string> distinct(std::string_view column, std::string_view where_column,
                                    const Value& value);

  // A page of a listing: rows whose columns equal `equal`, after (or, in
  // descending order, before) rowid `after` when it is set, in creation
  // order or its reverse; `visit` gets each until it returns false.
  struct Scan {
    Columns equal{};
    std::optional<int64_t> after{};
    bool descending = false;
  };
  void scan(const Scan& scan, const std::function<bool(ObjectRow&&)>& visit);

 private:
  std::string select() const;  // "SELECT rowid, id, tenant_id, etag, body FROM table"
  Database& db_;
  std::string table_;
  bool tenant_owned_;
};

// Binds `v` to parameter `index` of `s`.
void bind_value(Statement& s, int index, const Value& v);
// Throws std::logic_error unless `name` is a SQL identifier ([a-z_][a-z0-9_]*).
const std::string& require_identifier(const std::string& name);

}  // namespace vnet::store

#include "controller/store/database.h"

#include "controller/store/postgresql.h"
#include "controller/store/sqlite.h"

namespace vnet::store {

bool is_postgresql_url(std::string_view url) {
  return url.substr(0, 13) == "postgresql://" || url.substr(0, 11) == "postgres://";
}

std::unique_ptr<Database> open_database(const std::string& url) {
  if (is_postgresql_url(url)) return std::make_unique<PostgresDatabase>(url);
  const std::string path = url.rfind("sqlite:", 0) == 0 ? url.substr(7) : url;
  return std::make_unique<SqliteDatabase>(path);
}

Transaction::Transaction(Database& db) : db_(db) { db_.begin_write(); }

Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.rollback();
    } catch (const StoreError&) {
      // Nothing more to do: both engines roll back by themselves when they must.
    }
  }
}

void Transaction::commit() {
  db_.commit();
  done_ = true;
}

ReadTransaction::ReadTransaction(Database& db) : db_(db) { db_.begin_read(); }

ReadTransaction::~ReadTransaction() {
  try {
    db_.commit();
  } catch (const StoreError&) {  // a read transaction has nothing to lose
  }
}

}  // namespace vnet::store

# Writes OUT, a C++ file defining builtin_migrations() from every
# migrations/NNNN_name.sql in DIR, in name order, each with its PostgreSQL
# form from DIR/postgresql/ when there is one. Run at build time.
file(GLOB files RELATIVE ${DIR} ${DIR}/*.sql)
list(SORT files)
file(GLOB pg_files RELATIVE ${DIR}/postgresql ${DIR}/postgresql/*.sql)
foreach(f IN LISTS pg_files)
  if(NOT EXISTS ${DIR}/${f})
    message(FATAL_ERROR "migrations/postgresql/${f}: no migrations/${f} beside it")
  endif()
endforeach()
set(body "")
foreach(f IN LISTS files)
  if(NOT f MATCHES "^([0-9][0-9][0-9][0-9])_([a-z0-9_]+)\\.sql$")
    message(FATAL_ERROR "migrations/${f}: the name must be NNNN_name.sql")
  endif()
  math(EXPR version "${CMAKE_MATCH_1}")
  set(name ${CMAKE_MATCH_2})
  file(READ ${DIR}/${f} sql)
  set(pg "")
  if(EXISTS ${DIR}/postgresql/${f})
    file(READ ${DIR}/postgresql/${f} pg)
  endif()
  string(APPEND body "      {${version}, \"${name}\", R\"vnetsql(${sql})vnetsql\", R\"vnetsql(${pg})vnetsql\"},\n")
endforeach()
file(WRITE ${OUT}.tmp "// Generated from migrations/*.sql by embed_migrations.cmake. Do not edit.
#include \"controller/store/migrations.h\"

namespace vnet::store {

const std::vector<Migration>& builtin_migrations() {
  static const std::vector<Migration> migrations = {
${body}  };
  return migrations;
}

}  // namespace vnet::store
")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)

// The store contract suite's backends: every STORE_CONTRACT test runs once per backend — SQLite
// in a file, SQLite in memory, and PostgreSQL when HEARTH_TEST_PG_URL names a server
// (scripts/with-postgres.sh starts one; otherwise the PostgreSQL cases say once why they skip).
// A new Store implementation joins by adding a backend type to the list below.
#pragma once

#include "store/store.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>

namespace store_contract {

/// A file-backed SQLite store. `shared`: two Store objects can open the same data, as two
/// runtime processes do during a dev reload.
struct SqliteFile {
  static constexpr bool shared = true;
  static bool available() { return true; }
  TempProject tmp{};
  std::string location() const { return "sqlite:" + (tmp.root() / "state.db").string(); }
  std::unique_ptr<hearth::store::Store> open() { return hearth::store::open_store(location()); }
};

/// The in-memory store: one process, one connection.
struct Memory {
  static constexpr bool shared = false;
  static bool available() { return true; }
  std::string location() const { return "memory:"; } // private to each Store: not for a child
  std::unique_ptr<hearth::store::Store> open() { return hearth::store::open_store(location()); }
};

/// The server URL of the PostgreSQL contract runs, or "" when none is configured.
inline std::string pg_url() {
  const char* url = std::getenv("HEARTH_TEST_PG_URL");
  return url ? url : "";
}

/// Runs `sql` (no parameters; test-chosen names only) on `url`; REQUIREs success.
inline void pg_exec(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  REQUIRE_MESSAGE(PQstatus(conn) == CONNECTION_OK, PQerrorMessage(conn));
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  PGresult* result = PQexec(conn, sql.c_str());
  const auto status = PQresultStatus(result);
  const std::string error = PQresultErrorMessage(result);
  PQclear(result);
  PQfinish(conn);
  REQUIRE_MESSAGE((status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK), error);
}

/// `url` with libpq `options` selecting `schema` as the search path.
inline std::string with_schema(const std::string& url, const std::string& schema) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") +
         "options=-csearch_path%3D" + schema;
}

/// A PostgreSQL store in a fresh schema of the test server, dropped afterwards: every test case
/// starts from an empty database, and `open()` twice shares it (two replicas).
struct Postgres {
  static constexpr bool shared = true;
  static bool available() {
    if (!pg_url().empty()) return true;
    static std::atomic<bool> said{false};
    if (!said.exchange(true))
      MESSAGE("PostgreSQL store contract cases skipped: HEARTH_TEST_PG_URL is not set "
              "(scripts/with-postgres.sh or scripts/test.sh start a server)");
    return false;
  }
  Postgres() : schema("t_" + std::to_string(std::random_device{}()) + "_" + std::to_string(::getpid())) {
    pg_exec(pg_url(), "CREATE SCHEMA " + schema);
  }
  ~Postgres() {
    PGconn* conn = PQconnectdb(pg_url().c_str());
    PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
    if (PQstatus(conn) == CONNECTION_OK)
      PQclear(PQexec(conn, ("DROP SCHEMA " + schema + " CASCADE").c_str()));
    PQfinish(conn);
  }
  Postgres(const Postgres&) = delete;
  Postgres& operator=(const Postgres&) = delete;
  std::string url() const { return with_schema(pg_url(), schema); }
  std::string location() const { return url(); }
  std::unique_ptr<hearth::store::Store> open() { return hearth::store::open_store(url()); }
  std::string schema;
};

} // namespace store_contract

// One test body, instantiated per backend; a backend that is not available returns at once.
#define STORE_CONTRACT_BODY(name, body)                                                          \
  template <class Backend> static void body();                                                   \
  TEST_CASE_TEMPLATE(name, Backend, store_contract::SqliteFile, store_contract::Memory,          \
                     store_contract::Postgres) {                                                 \
    if (Backend::available()) body<Backend>();                                                   \
  }                                                                                              \
  template <class Backend> static void body()
#define STORE_CONTRACT(name) STORE_CONTRACT_BODY(name, DOCTEST_CAT(store_contract_case_, __LINE__))

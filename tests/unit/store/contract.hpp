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

/// Bounds of the fixture's own connections: no test statement waits without end on a lock or
/// an unreachable server (CI once hung 600 s with nothing saying where).
inline constexpr const char* k_fixture_timeouts =
    "SET statement_timeout = 30000; SET lock_timeout = 10000; ";

/// A connection for the fixture: connect_timeout 10 s, the timeouts above. Null on failure
/// (`error` says why).
inline PGconn* pg_connect(const std::string& url, std::string& error) {
  const char* keys[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {"10", url.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, 1);
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
    PQfinish(conn);
    return nullptr;
  }
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  PQclear(PQexec(conn, k_fixture_timeouts));
  return conn;
}

/// Runs `sql` (no parameters; test-chosen names only) on `url`; REQUIREs success.
inline void pg_exec(const std::string& url, const std::string& sql) {
  std::string error;
  PGconn* conn = pg_connect(url, error);
  REQUIRE_MESSAGE(conn != nullptr, error);
  PGresult* result = PQexec(conn, sql.c_str());
  const auto status = PQresultStatus(result);
  error = PQresultErrorMessage(result);
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
    // Bounded (lock_timeout): a connection still holding a lock on the schema (a store left
    // open, a forked child's backend) makes the drop fail with a message naming it, not hang.
    std::string error;
    PGconn* conn = pg_connect(pg_url(), error);
    if (!conn) {
      MESSAGE("could not drop schema " << schema << ": " << error);
      return;
    }
    PGresult* result = PQexec(conn, ("DROP SCHEMA " + schema + " CASCADE").c_str());
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
      std::string holders;
      PGresult* who = PQexec(conn, "SELECT string_agg(pid || ' ' || state || ': ' || "
                                   "left(query, 80), '; ') FROM pg_stat_activity "
                                   "WHERE pid <> pg_backend_pid() AND datname = current_database()");
      if (PQresultStatus(who) == PGRES_TUPLES_OK && PQntuples(who) == 1)
        holders = PQgetvalue(who, 0, 0);
      PQclear(who);
      MESSAGE("could not drop schema " << schema << ": " << PQresultErrorMessage(result)
                                       << " (other sessions: " << holders << ")");
    }
    PQclear(result);
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

// RAII over the SQLite C API for the store: a connection that caches its prepared statements,
// a statement with typed bind/column helpers, and a transaction guard. Private to lib/store.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace hearth::store::db {

/// One prepared statement, reset after each use by its Use guard.
class Statement {
public:
  Statement(sqlite3* db, std::string_view sql, const std::string& path);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, std::int64_t value);
  Statement& bind_null(int index);

  /// Advances: true when a row is ready, false when done. Throws store_failed on an error.
  bool step();
  /// Steps to completion (for statements that return no rows).
  void run();

  std::int64_t int64(int column) const;
  std::string text(int column) const;
  bool is_null(int column) const;

  /// Clears bindings and rewinds so the cached statement can run again.
  void reset() noexcept;

private:
  sqlite3* m_db = nullptr;
  sqlite3_stmt* m_stmt = nullptr;
  const std::string& m_path; // the owning connection's path, for error messages
};

/// A cached statement checked out for one use; rewinds it when the guard ends.
class Use {
public:
  explicit Use(Statement& stmt) : m_stmt(stmt) {}
  ~Use() { m_stmt.reset(); }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  Statement* operator->() { return &m_stmt; }
  Statement& operator*() { return m_stmt; }

private:
  Statement& m_stmt;
};

/// One sqlite3 connection. Not thread-safe: one thread uses it at a time (the pool's job).
class Connection {
public:
  /// Opens `filename` (a path, or ":memory:") read-write, creating it. Throws store_open_failed.
  Connection(const std::string& filename, const std::string& display_path);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs one or more statements without results (schema, pragmas). Throws store_failed, or
  /// store_corrupt when the file is not a database.
  void exec(std::string_view sql);

  /// The cached prepared statement for `sql` (keyed by text; prepared on first use).
  Use prepare(const char* sql);

  /// The single integer result of a pragma or query such as `PRAGMA user_version`.
  std::int64_t query_int(const char* sql);

  /// Rows changed by the last INSERT, UPDATE or DELETE.
  std::int64_t changes() { return sqlite3_changes64(m_db); }

  const std::string& path() const { return m_path; }
  sqlite3* handle() { return m_db; }

private:
  sqlite3* m_db = nullptr;
  std::string m_path;
  std::unordered_map<std::string, std::unique_ptr<Statement>> m_cache;
};

/// BEGIN IMMEDIATE (write) or BEGIN (read) ... COMMIT; rolls back if not committed.
class Transaction {
public:
  enum class Mode { read, write };
  Transaction(Connection& conn, Mode mode);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

private:
  Connection& m_conn;
  bool m_open = true;
};

/// Throws the catalogue error for SQLite result `rc` during `operation` on `path`:
/// store_corrupt for NOTADB/CORRUPT, store_failed otherwise.
[[noreturn]] void fail(sqlite3* db, int rc, const std::string& path, std::string_view operation);

} // namespace hearth::store::db

// RAII over the SQLite C API: see database.hpp.
#include "store/database.hpp"

#include "core/errors.hpp"

namespace hearth::store::db {

void fail(sqlite3* db, int rc, const std::string& path, std::string_view operation) {
  std::string reason = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int primary = rc & 0xff;
  if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) throw errors::store_corrupt(path, reason);
  if (primary == SQLITE_CANTOPEN) throw errors::store_open_failed(path, reason);
  throw errors::store_failed(path, operation, reason);
}

Statement::Statement(sqlite3* db, std::string_view sql, const std::string& path)
    : m_db(db), m_path(path) {
  // PERSISTENT: these statements live as long as the connection (the cache never evicts).
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &m_stmt, nullptr);
  if (rc != SQLITE_OK) fail(db, rc, path, "prepare a query");
}

Statement::~Statement() { sqlite3_finalize(m_stmt); }

Statement& Statement::bind(int index, std::string_view text) {
  const int rc = sqlite3_bind_text64(m_stmt, index, text.data(), text.size(), SQLITE_TRANSIENT,
                                     SQLITE_UTF8);
  if (rc != SQLITE_OK) fail(m_db, rc, m_path, "bind a value");
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(m_stmt, index, value);
  if (rc != SQLITE_OK) fail(m_db, rc, m_path, "bind a value");
  return *this;
}

Statement& Statement::bind_null(int index) {
  const int rc = sqlite3_bind_null(m_stmt, index);
  if (rc != SQLITE_OK) fail(m_db, rc, m_path, "bind a value");
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(m_stmt);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(m_db, rc, m_path, "run a query");
}

void Statement::run() {
  while (step()) {
  }
}

std::int64_t Statement::int64(int column) const { return sqlite3_column_int64(m_stmt, column); }

std::string Statement::text(int column) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(m_stmt, column));
  if (p == nullptr) return {};
  return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, column)));
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(m_stmt, column) == SQLITE_NULL;
}

void Statement::reset() noexcept {
  sqlite3_reset(m_stmt);
  sqlite3_clear_bindings(m_stmt);
}

Connection::Connection(const std::string& filename, const std::string& display_path)
    : m_path(display_path) {
  // Before SQLite initialises, once per process: no memory statistics (the store reads none),
  // which took a global mutex twice per allocation, ~1,200 allocations a run (issue 17 §3).
  // SQLITE_MISUSE when something initialised SQLite first: harmless, statistics stay on.
  static const int k_memstatus_off = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)k_memstatus_off;
  // NOMUTEX: each connection is used by one thread at a time (the pool serializes access).
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  // ":memory:" is opened as a private database of SQLite's memdb VFS: a file in memory behind
  // an ordinary, bounded page cache. A ":memory:" pager keeps every page in its cache, and
  // SQLite scans that whole cache at each commit after a b-tree rebalance: 14 % of a memory
  // store's run with a thousand runs kept (issue 17 §3).
  const bool in_memory = filename == ":memory:";
  const int rc = sqlite3_open_v2(in_memory ? "hearth-memory" : filename.c_str(), &m_db, flags,
                                 in_memory ? "memdb" : nullptr);
  if (rc != SQLITE_OK) {
    std::string reason = m_db != nullptr ? sqlite3_errmsg(m_db) : sqlite3_errstr(rc);
    sqlite3_close(m_db);
    m_db = nullptr;
    throw errors::store_open_failed(display_path, reason);
  }
  sqlite3_extended_result_codes(m_db, 1);
}

Connection::~Connection() {
  m_cache.clear(); // finalize statements before closing
  sqlite3_close(m_db);
}

void Connection::exec(std::string_view sql) {
  const std::string text(sql);
  const int rc = sqlite3_exec(m_db, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(m_db, rc, m_path, "update its schema");
}

Use Connection::prepare(const char* sql) {
  auto& slot = m_cache[sql];
  if (!slot) slot = std::make_unique<Statement>(m_db, sql, m_path);
  return Use(*slot);
}

std::int64_t Connection::query_int(const char* sql) {
  auto stmt = prepare(sql);
  return stmt->step() ? stmt->int64(0) : 0;
}

Transaction::Transaction(Connection& conn, Mode mode) : m_conn(conn) {
  // IMMEDIATE takes the write lock up front, so busy_timeout applies here rather than failing
  // with SQLITE_BUSY at the first write of a deferred transaction (no retry possible there).
  m_conn.prepare(mode == Mode::write ? "BEGIN IMMEDIATE" : "BEGIN")->run();
}

Transaction::~Transaction() {
  if (!m_open) return;
  // Destructors never throw: a failed rollback leaves SQLite to roll back on the next BEGIN.
  sqlite3_exec(m_conn.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  m_conn.prepare("COMMIT")->run();
  m_open = false;
}

} // namespace hearth::store::db

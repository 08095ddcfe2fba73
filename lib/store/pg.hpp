// RAII over libpq for the PostgreSQL store (issue 15 §2): a connection, a result with typed
// accessors, bound parameters, and a small bounded pool that retries transient failures. Every
// statement is sent with PQexecParams: values travel as parameters, never inside SQL text.
// Private to lib/store.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::store::pg {

/// A libpq failure, before it becomes a catalogue error: `sqlstate` (e.g. "40001"; empty when
/// the server sent none) and whether the connection itself was lost.
class PgError : public std::runtime_error {
public:
  PgError(std::string message, std::string sqlstate, bool connection_lost, bool connecting = false)
      : std::runtime_error(std::move(message)), m_sqlstate(std::move(sqlstate)),
        m_connection_lost(connection_lost), m_connecting(connecting) {}
  const std::string& sqlstate() const { return m_sqlstate; }
  bool connection_lost() const { return m_connection_lost; }
  /// The connection could not be opened: nothing was sent.
  bool connecting() const { return m_connecting; }
  /// Serialization failure (40001) or deadlock (40P01): the server rolled the transaction back,
  /// so running it again is always safe.
  bool rolled_back() const { return m_sqlstate == "40001" || m_sqlstate == "40P01"; }

private:
  std::string m_sqlstate;
  bool m_connection_lost = false;
  bool m_connecting = false;
};

/// Positional parameters ($1, $2, ...) in text format; nullopt is SQL NULL.
class Params {
public:
  Params& add(std::string_view text) {
    m_values.emplace_back(std::string(text));
    return *this;
  }
  Params& add(const char* text) { return add(std::string_view(text)); }
  Params& add(const std::string& text) { return add(std::string_view(text)); }
  Params& add(std::int64_t value) {
    m_values.emplace_back(std::to_string(value));
    return *this;
  }
  Params& add(int value) { return add(static_cast<std::int64_t>(value)); }
  Params& add(bool value) {
    m_values.emplace_back(value ? "true" : "false");
    return *this;
  }
  Params& null() {
    m_values.emplace_back(std::nullopt);
    return *this;
  }
  /// NULL when `text` is empty.
  Params& add_or_null(std::string_view text) { return text.empty() ? null() : add(text); }
  std::size_t size() const { return m_values.size(); }
  const std::vector<std::optional<std::string>>& values() const { return m_values; }

private:
  std::vector<std::optional<std::string>> m_values;
};

/// One statement's result (rows in text format).
class Result {
public:
  explicit Result(PGresult* result) : m_result(result, &PQclear) {}
  int rows() const { return PQntuples(m_result.get()); }
  bool empty() const { return rows() == 0; }
  bool is_null(int row, int col) const { return PQgetisnull(m_result.get(), row, col) != 0; }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(m_result.get(), row, col),
                       static_cast<std::size_t>(PQgetlength(m_result.get(), row, col)));
  }
  /// A bigint/integer column (0 for NULL).
  std::int64_t int64(int row, int col) const;
  /// A boolean column ('t').
  bool boolean(int row, int col) const { return text(row, col) == "t"; }
  /// Rows changed by an INSERT, UPDATE or DELETE.
  std::int64_t affected() const;

private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> m_result;
};

/// One libpq connection. Not thread-safe: one thread uses it at a time (the pool's job).
class Connection {
public:
  /// Connects to `url` (a postgres:// or postgresql:// URI). Throws PgError (connection_lost).
  explicit Connection(const std::string& url);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs one statement with `params`. Throws PgError.
  Result exec(const char* sql, const Params& params = {});

  /// Runs a script of several statements without parameters (schema migrations only; never
  /// data). Throws PgError.
  void exec_script(const char* sql);

  /// Bounds every later statement on this connection (issue 15 review): `statement_ms` for any
  /// statement (statement_timeout, SQLSTATE 57014 when exceeded), `lock_ms` for waiting on a
  /// row, table or advisory lock (lock_timeout, SQLSTATE 55P03). 0 leaves one unbounded.
  /// Throws PgError.
  void set_timeouts(std::int64_t statement_ms, std::int64_t lock_ms);

  /// True while the connection is usable.
  bool ok() const { return PQstatus(m_conn) == CONNECTION_OK; }
  PGconn* handle() { return m_conn; }

private:
  Result checked(PGresult* raw); // throws PgError unless `raw` succeeded
  PGconn* m_conn = nullptr;
};

/// BEGIN ... COMMIT on one connection; rolls back when not committed.
class Transaction {
public:
  /// `isolation`: "" (read committed) or e.g. "REPEATABLE READ".
  explicit Transaction(Connection& conn, const char* begin = "BEGIN");
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

private:
  Connection& m_conn;
  bool m_open = true;
};

/// Connections to one database, at most `k_max` open at once; a caller waits for a free one at
/// most `wait` (then store_failed: the pool is exhausted). Every pooled connection runs with
/// statement_timeout k_statement_timeout_ms and lock_timeout k_lock_timeout_ms, so no caller
/// waits on the server without bound either. A thread never holds two leases of one pool: a
/// store call made from inside run()'s `fn` would deadlock once k_max callers do it at once, so
/// it throws store_failed at once instead. run() retries a unit of work (one statement or one whole transaction) on a transient failure:
/// always after a serialization failure or deadlock (the server rolled it back); after a lost
/// connection only when the caller says the work is idempotent (a lost COMMIT may have landed).
class Pool {
public:
  static constexpr std::size_t k_max = 8;
  static constexpr int k_attempts = 4;
  /// Bounds of every pooled connection (docs/deploy.md "Connections").
  static constexpr std::int64_t k_statement_timeout_ms = 30'000;
  static constexpr std::int64_t k_lock_timeout_ms = 5'000;
  /// How long a caller waits for a free connection by default.
  static constexpr std::chrono::milliseconds k_wait{30'000};

  /// Does not connect; the first run() does. `display`: the redacted location, for messages.
  /// `wait`: how long a caller waits for a free connection before store_failed.
  Pool(std::string url, std::string display, std::chrono::milliseconds wait = k_wait);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  /// Runs `fn(Connection&)` on a pooled connection. Throws store_open_failed when the database
  /// cannot be reached, store_failed on other failures (after the retries); rethrows what `fn`
  /// throws otherwise (e.g. a catalogue error), rolling any transaction back first.
  /// `attempts`: at most this many tries (1: no retry, e.g. on the way out).
  template <class F>
  auto run(std::string_view operation, bool idempotent, F&& fn, int attempts = k_attempts) {
    for (int attempt = 1;; ++attempt) {
      try {
        // Connects when no idle connection is left (PgError: connecting); store_failed when
        // none frees up within the wait, or when this thread already holds one (nesting).
        Lease lease(*this, operation);
        try {
          return fn(*lease.conn);
        } catch (const PgError&) {
          lease.discard = !lease.conn->ok();
          throw;
        }
      } catch (const PgError& e) {
        if (!retryable(e, idempotent) || attempt >= attempts) fail(operation, e);
        backoff(attempt);
      }
    }
  }

  const std::string& url() const { return m_url; }
  const std::string& display() const { return m_display; }

  /// Converts `e` into the catalogue error (store_open_failed or store_failed) and throws it.
  [[noreturn]] void fail(std::string_view operation, const PgError& e) const;

private:
  struct Lease {
    Lease(Pool& pool, std::string_view operation);
    ~Lease() { release(); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    void release();
    Pool& pool;
    std::unique_ptr<Connection> conn;
    bool discard = false;
    bool held = true;
    const Pool* outer = nullptr; // the pool this thread held a lease of before (nesting guard)
  };
  static bool retryable(const PgError& e, bool idempotent) {
    return e.rolled_back() || e.connecting() || (e.connection_lost() && idempotent);
  }
  static void backoff(int attempt);

  std::string m_url;
  std::string m_display;
  std::string m_password; // from the URL, scrubbed from every message
  std::chrono::milliseconds m_wait;
  std::mutex m_mutex;
  std::condition_variable m_cv;
  std::vector<std::unique_ptr<Connection>> m_idle;
  std::size_t m_open = 0; // connections checked out or idle
};

/// `url` with any password replaced by `***`, for messages and location().
std::string redact(std::string_view url);
/// The user:password@ part of `url` only (redact() also scrubs a `password=` query parameter).
std::string redact_authority(std::string_view url);

} // namespace hearth::store::pg

// libpq wrappers and the bounded, retrying pool: see pg.hpp.
#include "store/pg.hpp"

#include "core/errors.hpp"

#include <charconv>
#include <poll.h>
#include <thread>

namespace hearth::store::pg {
namespace {

std::string trimmed(const char* message) {
  std::string text = message ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

/// An idle pooled connection has nothing to read (pool connections never LISTEN): data or EOF
/// on its socket means the server said goodbye (terminated, restarted); never blocks.
bool idle_and_quiet(PGconn* conn) {
  pollfd fd{.fd = PQsocket(conn), .events = POLLIN, .revents = 0};
  if (fd.fd < 0) return false;
  const int ready = ::poll(&fd, 1, 0);
  if (ready == 0) return true;
  if (ready < 0) return false;
  // Something arrived: read it; a notice or parameter status leaves the connection usable.
  return PQconsumeInput(conn) == 1 && PQstatus(conn) == CONNECTION_OK &&
         (fd.revents & (POLLHUP | POLLERR)) == 0 && ::poll(&fd, 1, 0) == 0;
}

} // namespace

std::int64_t Result::int64(int row, int col) const {
  if (is_null(row, col)) return 0;
  const char* value = PQgetvalue(m_result.get(), row, col);
  const auto length = static_cast<std::size_t>(PQgetlength(m_result.get(), row, col));
  std::int64_t out = 0;
  std::from_chars(value, value + length, out);
  return out;
}

std::int64_t Result::affected() const {
  const char* count = PQcmdTuples(m_result.get());
  std::int64_t out = 0;
  if (count && *count) std::from_chars(count, count + std::char_traits<char>::length(count), out);
  return out;
}

Connection::Connection(const std::string& url) {
  // Defaults first: values in the URL override them (expand_dbname).
  // TCP keepalives and tcp_user_timeout: a half-open connection (peer gone, no RST) fails within
  // about a minute instead of blocking its caller for the kernel's ~15 minutes.
  const char* keys[] = {"connect_timeout", "application_name", "keepalives", "keepalives_idle",
                        "keepalives_interval", "keepalives_count", "tcp_user_timeout", "dbname",
                        nullptr};
  const char* values[] = {"5", "hearth", "1", "30", "10", "3", "60000", url.c_str(), nullptr};
  m_conn = PQconnectdbParams(keys, values, 1);
  if (!m_conn) throw PgError("out of memory", "", true, true);
  if (PQstatus(m_conn) != CONNECTION_OK) {
    auto message = trimmed(PQerrorMessage(m_conn));
    PQfinish(m_conn);
    m_conn = nullptr;
    throw PgError(message, "", true, true);
  }
  // Notices (e.g. "relation already exists, skipping") are not hearth's output.
  PQsetNoticeProcessor(m_conn, [](void*, const char*) {}, nullptr);
}

Connection::~Connection() {
  if (m_conn) PQfinish(m_conn);
}

Result Connection::checked(PGresult* raw) {
  Result result(raw);
  const auto status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  const char* state = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state ? state : "";
  // Class 08 (connection exception), 57P01..03 (admin shutdown, crash, cannot connect now).
  const bool lost = PQstatus(m_conn) != CONNECTION_OK || sqlstate.rfind("08", 0) == 0 ||
                    sqlstate.rfind("57P0", 0) == 0;
  throw PgError(trimmed(raw ? PQresultErrorMessage(raw) : PQerrorMessage(m_conn)),
                std::move(sqlstate), lost);
}

Result Connection::exec(const char* sql, const Params& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& value : params.values()) {
    // Text parameters travel as C strings: a NUL would silently cut the value (an id "a\0b"
    // stored as "a"). SQLite keeps such bytes; PostgreSQL text cannot hold them: refuse.
    if (value && value->find('\0') != std::string::npos) throw errors::store_text_nul();
    values.push_back(value ? value->c_str() : nullptr);
  }
  return checked(PQexecParams(m_conn, sql, static_cast<int>(values.size()), nullptr,
                              values.data(), nullptr, nullptr, 0));
}

void Connection::exec_script(const char* sql) { checked(PQexec(m_conn, sql)); }

void Connection::set_timeouts(std::int64_t statement_ms, std::int64_t lock_ms) {
  // Session settings (SET, not SET LOCAL): they last as long as the connection.
  exec("SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false)",
       Params().add(std::to_string(statement_ms)).add(std::to_string(lock_ms)));
}

Transaction::Transaction(Connection& conn, const char* begin) : m_conn(conn) { m_conn.exec(begin); }

Transaction::~Transaction() {
  if (!m_open || !m_conn.ok()) return;
  try {
    m_conn.exec("ROLLBACK");
  } catch (...) { // the connection is going away anyway
  }
}

void Transaction::commit() {
  m_conn.exec("COMMIT");
  m_open = false;
}

Pool::Pool(std::string url, std::string display, std::chrono::milliseconds wait)
    : m_url(std::move(url)), m_display(std::move(display)), m_wait(wait) {
  char* error = nullptr;
  if (PQconninfoOption* options = PQconninfoParse(m_url.c_str(), &error)) {
    for (auto* o = options; o->keyword; ++o)
      if (std::string_view(o->keyword) == "password" && o->val) m_password = o->val;
    PQconninfoFree(options);
  }
  if (error) PQfreemem(error);
}

Pool::~Pool() = default;

namespace {
// The pool whose lease this thread holds, if any (Lease's nesting guard).
thread_local const Pool* t_leased = nullptr;
} // namespace

Pool::Lease::Lease(Pool& owner, std::string_view operation) : pool(owner) {
  // A store call inside another's unit of work would wait for a second connection while holding
  // one: with k_max such callers at once, every one waits for the others forever. Never wait.
  if (t_leased == &pool)
    throw errors::store_failed(pool.m_display, operation,
                               "a store call was made while this thread already held one of the "
                               "pool's connections (nested store calls can deadlock the pool)");
  {
    std::unique_lock lock(pool.m_mutex);
    if (!pool.m_cv.wait_for(lock, pool.m_wait,
                            [&] { return !pool.m_idle.empty() || pool.m_open < k_max; }))
      throw errors::store_failed(
          pool.m_display, operation,
          "the connection pool is exhausted: all " + std::to_string(k_max) +
              " connections stayed busy for " + std::to_string(pool.m_wait.count()) +
              " ms (statements waiting on locks, or too many concurrent requests)");
    if (!pool.m_idle.empty()) {
      conn = std::move(pool.m_idle.back());
      pool.m_idle.pop_back();
    } else {
      ++pool.m_open;
    }
  }
  outer = t_leased;
  t_leased = &pool;
  // An idle connection whose server went away (restart, failover) still reports OK until used:
  // read what is pending (never blocks) so EOF shows now, and reconnect instead of failing the
  // caller's first, possibly non-retryable, statement.
  if (conn && conn->ok() && idle_and_quiet(conn->handle())) return;
  conn.reset();
  try {
    // Outside the lock: connecting is slow. Bounded: connect_timeout, then the timeouts.
    conn = std::make_unique<Connection>(pool.m_url);
    try {
      conn->set_timeouts(k_statement_timeout_ms, k_lock_timeout_ms);
    } catch (const PgError& e) { // nothing of the caller's was sent: as safe to retry as connecting
      throw PgError(e.what(), e.sqlstate(), true, true);
    }
  } catch (...) {
    conn.reset();
    release();
    throw;
  }
}

void Pool::Lease::release() {
  if (!held) return;
  held = false;
  t_leased = outer;
  std::lock_guard lock(pool.m_mutex);
  if (discard || !conn || !conn->ok()) {
    conn.reset();
    --pool.m_open;
  } else {
    // A connection left inside a transaction (a failed ROLLBACK) is not reused.
    if (PQtransactionStatus(conn->handle()) != PQTRANS_IDLE) {
      conn.reset();
      --pool.m_open;
    } else {
      pool.m_idle.push_back(std::move(conn));
    }
  }
  pool.m_cv.notify_one();
}

void Pool::backoff(int attempt) {
  std::this_thread::sleep_for(std::chrono::milliseconds(20 << attempt)); // 40, 80, 160 ms
}

void Pool::fail(std::string_view operation, const PgError& e) const {
  // libpq quotes a malformed URI (password included) in its messages: never pass it on.
  std::string message = e.what();
  for (const auto& secret : {m_url, m_password}) {
    if (secret.empty()) continue;
    for (auto at = message.find(secret); at != std::string::npos; at = message.find(secret, at))
      message.replace(at, secret.size(), "***");
  }
  if (e.connecting()) throw errors::store_open_failed(m_display, message);
  throw errors::store_failed(m_display, operation,
                             e.sqlstate().empty() ? message : e.sqlstate() + ": " + message);
}

std::string redact(std::string_view url) {
  // scheme://user:password@host/...?password=... -> scheme://user:***@host/...?password=***
  std::string out = redact_authority(url);
  const auto query = out.find('?');
  for (auto at = query == std::string::npos ? query : out.find("password=", query);
       at != std::string::npos; at = out.find("password=", at + 1)) {
    if (out[at - 1] != '?' && out[at - 1] != '&') continue;
    const auto value = at + 9;
    const auto end = out.find_first_of("&#", value);
    out.replace(value, (end == std::string::npos ? out.size() : end) - value, "***");
  }
  return out;
}

std::string redact_authority(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const auto authority_start = scheme + 3;
  auto authority_end = url.find_first_of("/?#", authority_start);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  const auto at = url.rfind('@', authority_end);
  if (at == std::string_view::npos || at < authority_start) return std::string(url);
  const auto colon = url.find(':', authority_start);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

} // namespace hearth::store::pg

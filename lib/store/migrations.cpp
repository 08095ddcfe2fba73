// Schema migrations: see migrations.hpp. Append new steps at the end; never edit a shipped one.
// Every step has a PostgreSQL twin with the same number in postgres_schema.cpp: add both.
#include "store/migrations.hpp"

#include "core/errors.hpp"
#include "store/store.hpp"

#include <array>
#include <regex>

namespace hearth::store {
namespace {

// Times are integer milliseconds since the Unix epoch (UTC); JSON columns hold compact JSON text.
constexpr std::array<const char*, 9> k_steps = {
    // 1: runs, event streams, sessions, submissions.
    R"sql(
CREATE TABLE streams (
  path TEXT PRIMARY KEY,
  next_seq INTEGER NOT NULL DEFAULT 0,
  closed INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE events (
  path TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  PRIMARY KEY (path, seq)
) WITHOUT ROWID;
CREATE TABLE runs (
  run_id TEXT PRIMARY KEY,
  workflow TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'completed', 'errored')),
  payload TEXT NOT NULL,
  result TEXT,
  error TEXT,
  started_ms INTEGER NOT NULL,
  ended_ms INTEGER,
  owner_pid INTEGER NOT NULL,
  owner_start TEXT NOT NULL
);
CREATE INDEX runs_newest ON runs (started_ms DESC, run_id DESC);
CREATE INDEX runs_active ON runs (status) WHERE status = 'active';
CREATE TABLE sessions (
  agent TEXT NOT NULL,
  instance_id TEXT NOT NULL,
  name TEXT NOT NULL,
  messages TEXT NOT NULL,
  version INTEGER NOT NULL,
  continuation_token TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (agent, instance_id, name)
) WITHOUT ROWID;
CREATE TABLE submissions (
  submission_id TEXT PRIMARY KEY,
  stream_path TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'errored')),
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE INDEX submissions_by_stream ON submissions (stream_path, created_ms);
)sql",
    // 2: the invoker (seed 002; compact JSON {id, kind?, label?, meta?}) of runs and sessions.
    R"sql(
ALTER TABLE runs ADD COLUMN invoker TEXT;
ALTER TABLE sessions ADD COLUMN invoker TEXT;
)sql",
    // 3 (approvals): the parked turn of a waiting session, and approval / question requests.
    R"sql(
ALTER TABLE sessions ADD COLUMN parked TEXT;
CREATE TABLE approvals (
  approval_id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  session TEXT NOT NULL,
  kind TEXT NOT NULL,
  tool_name TEXT NOT NULL,
  tool_call_id TEXT NOT NULL,
  request TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'answered')),
  decision TEXT,
  created_ms INTEGER NOT NULL,
  decided_ms INTEGER
);
CREATE INDEX approvals_by_owner ON approvals (owner, session, created_ms);
)sql",
    // 4 (triggers, issue 14): schedule fires (one row per schedule and cron time, written before
    // the fire runs) and durable dispatch admissions (idempotency key per agent, admission order).
    R"sql(
CREATE TABLE schedule_fires (
  schedule TEXT NOT NULL,
  scheduled_ms INTEGER NOT NULL,
  trigger TEXT NOT NULL CHECK (trigger IN ('cron', 'catch-up', 'manual')),
  session_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'errored', 'skipped')),
  fired_ms INTEGER NOT NULL,
  ended_ms INTEGER,
  UNIQUE (schedule, scheduled_ms)
);
CREATE TABLE dispatches (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  dispatch_id TEXT NOT NULL UNIQUE,
  agent TEXT NOT NULL,
  instance_id TEXT NOT NULL,
  input TEXT NOT NULL,
  input_hash TEXT NOT NULL,
  idempotency_key TEXT,
  source TEXT NOT NULL,
  invoker TEXT,
  conversation_key TEXT,
  owner_pid INTEGER,
  owner_start TEXT,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'errored')),
  accepted_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  UNIQUE (agent, idempotency_key)
);
CREATE INDEX dispatches_unfinished ON dispatches (agent, instance_id, seq)
  WHERE status IN ('queued', 'running');
)sql",
    // 5 (durable runs, issue 15 §1): a run admitted by a serving runtime is `resumable`: after
    // its owner dies another runtime takes it over (`attempts` + 1, `fence` + 1: the old owner's
    // writes carry the old fence and are refused) and continues from `checkpoint`, the turn
    // state committed after every completed step (compact JSON, runtime/harness.hpp).
    R"sql(
ALTER TABLE runs ADD COLUMN resumable INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN fence INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN checkpoint TEXT;
)sql",
    // 6 (triggers, issue 14 round 2): fires get their own id and an owner (pid + process start):
    // cron and catch-up fires stay unique per (schedule, cron time), manual fires are unique by
    // their id; a fire whose owner died is `interrupted` at the next start. Dispatches keep the
    // invocation's context values, the extras of their first answer (`receipt`: stream offset,
    // ...) and the outcome of their turn ({result} or {error}) for replays.
    R"sql(
CREATE TABLE schedule_fires_6 (
  fire_id TEXT PRIMARY KEY,
  schedule TEXT NOT NULL,
  scheduled_ms INTEGER NOT NULL,
  trigger TEXT NOT NULL CHECK (trigger IN ('cron', 'catch-up', 'manual')),
  session_id TEXT NOT NULL,
  status TEXT NOT NULL
    CHECK (status IN ('queued', 'running', 'done', 'errored', 'skipped', 'interrupted')),
  fired_ms INTEGER NOT NULL,
  ended_ms INTEGER,
  owner_pid INTEGER,
  owner_start TEXT
);
INSERT INTO schedule_fires_6 (fire_id, schedule, scheduled_ms, trigger, session_id, status,
                              fired_ms, ended_ms)
  SELECT 'fire_v4_' || rowid, schedule, scheduled_ms, trigger, session_id, status, fired_ms,
         ended_ms FROM schedule_fires;
DROP TABLE schedule_fires;
ALTER TABLE schedule_fires_6 RENAME TO schedule_fires;
CREATE UNIQUE INDEX schedule_fires_once ON schedule_fires (schedule, scheduled_ms)
  WHERE trigger != 'manual';
CREATE INDEX schedule_fires_unfinished ON schedule_fires (schedule, fired_ms)
  WHERE status IN ('queued', 'running');
ALTER TABLE dispatches ADD COLUMN context TEXT;
ALTER TABLE dispatches ADD COLUMN receipt TEXT;
ALTER TABLE dispatches ADD COLUMN outcome TEXT;
)sql",
    // 7: PostgreSQL's fences and fire leases (postgres_schema.cpp); nothing for SQLite, so the
    // numbers of both stay twins.
    "SELECT 1;",
    // 8 (MCP OAuth, issue 13 §4): connection credentials, one encrypted secret per key.
    R"sql(
CREATE TABLE connection_credentials (
  key TEXT PRIMARY KEY,
  secret TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 9 (issue 17 §3): the status and trigger CHECKs as comparisons. SQLite evaluates a CHECK
    // `x IN (3 or more constants)` by building an ephemeral b-tree of the list on every INSERT
    // and on every UPDATE of x: two per run (its INSERT and its end), 4 % of a run's
    // instructions. Not SQL: rewrite_in_checks() below edits the table definitions in place.
    nullptr,
};

/// Step 9: every table's `CHECK (col IN ('a', 'b', ...))` becomes `CHECK (col = 'a' OR col = 'b'
/// OR ...)`, the same constraint, through the procedure SQLite documents for changing a CHECK
/// without rebuilding the table (https://sqlite.org/lang_altertable.html, "Making Other Kinds Of
/// Table Schema Changes"): O(1) whatever the file holds, and every stored row already satisfies
/// the new text since it says the same. Runs inside migrate()'s write transaction.
void rewrite_in_checks(db::Connection& conn) {
  static const std::regex check(R"(CHECK \((\w+) IN \(([^()]*)\)\))");
  static const std::regex item(R"('[^']*')");
  std::vector<std::pair<std::string, std::string>> rewritten; // table, new definition
  {
    auto tables = conn.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND "
                               "sql LIKE '%CHECK (%IN (%'");
    while (tables->step()) {
      const auto sql = tables->text(1);
      std::string out;
      auto from = sql.cbegin();
      for (std::sregex_iterator m(sql.begin(), sql.end(), check), end; m != end; ++m) {
        const auto column = (*m)[1].str();
        const auto list = (*m)[2].str();
        std::string terms;
        for (std::sregex_iterator v(list.begin(), list.end(), item); v != end; ++v)
          terms += (terms.empty() ? "" : " OR ") + column + " = " + v->str();
        out.append(from, (*m)[0].first);
        out += "CHECK (" + terms + ")";
        from = (*m)[0].second;
      }
      out.append(from, sql.cend());
      if (out != sql) rewritten.emplace_back(tables->text(0), std::move(out));
    }
  }
  if (rewritten.empty()) return;
  const auto cookie = conn.query_int("PRAGMA schema_version");
  conn.exec("PRAGMA writable_schema = ON");
  for (const auto& [name, sql] : rewritten)
    conn.prepare("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?")
        ->bind(1, sql)
        .bind(2, name)
        .run();
  // Other connections (and this one) read the new definitions when the cookie moves.
  conn.exec("PRAGMA schema_version = " + std::to_string(cookie + 1));
  conn.exec("PRAGMA writable_schema = OFF");
}

// Reads the identity pragmas; refuses foreign files and newer schemas before anything is written.
std::int64_t checked_version(db::Connection& conn) {
  const auto app = conn.query_int("PRAGMA application_id");
  const auto version = conn.query_int("PRAGMA user_version");
  if (app != k_application_id) {
    // A brand-new file has application_id 0, user_version 0 and no tables.
    const auto tables = conn.query_int("SELECT count(*) FROM sqlite_master");
    if (app != 0 || version != 0 || tables != 0) throw errors::store_foreign(conn.path());
  }
  if (version > latest_schema_version())
    throw errors::store_too_new(conn.path(), version, latest_schema_version());
  return version;
}

} // namespace

int latest_schema_version() { return static_cast<int>(k_steps.size()); }

int schema_version() { return latest_schema_version(); }

void migrate(db::Connection& conn) {
  // Cheap check first, outside a write lock: the common case is an up-to-date file.
  if (checked_version(conn) == latest_schema_version()) return;
  db::Transaction tx(conn, db::Transaction::Mode::write);
  const auto version = checked_version(conn); // another process may have migrated meanwhile
  for (auto step = version; step < latest_schema_version(); ++step) {
    if (const char* sql = k_steps[static_cast<std::size_t>(step)]) conn.exec(sql);
    else rewrite_in_checks(conn); // the one step that is code (step 9)
  }
  // Pragmas take no bound parameters; the values are our own integers.
  conn.exec("PRAGMA application_id = " + std::to_string(k_application_id) +
            "; PRAGMA user_version = " + std::to_string(latest_schema_version()));
  tx.commit();
}

} // namespace hearth::store

// PostgresStore: see postgres_store.hpp. Statement texts are constants; every value is a bound
// parameter ($n). Times are client milliseconds as in SQLite, except lease expiries, which use
// the database clock so replicas with skewed clocks agree on them.
#include "store/postgres_store.hpp"

#include "core/errors.hpp"
#include "core/ids.hpp"
#include "core/json.hpp"
#include "store/system.hpp"


#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <limits>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace hearth::store {
namespace {

// The database clock in ms; used only for leases.
#define HEARTH_PG_NOW "(extract(epoch from clock_timestamp()) * 1000)::bigint"

constexpr const char* k_run_columns = "run_id, workflow, status, payload, result, error, started_ms, "
                                      "ended_ms, owner_pid, invoker, resumable, attempts, fence";

std::string run_stream(std::string_view run_id) { return "runs/" + std::string(run_id); }

Json json_col(const pg::Result& r, int row, int col, const std::string& display, const char* what) {
  if (r.is_null(row, col)) return nullptr;
  auto value = hearth::parse_json_or_discarded(r.text(row, col));
  if (value.is_discarded())
    throw errors::store_corrupt(display, std::string("a stored ") + what + " is malformed");
  return value;
}

RunStatus parse_run_status(const std::string& text) {
  if (text == "completed") return RunStatus::completed;
  if (text == "errored") return RunStatus::errored;
  return RunStatus::active;
}

RunRecord run_from_row(const pg::Result& r, int i, const std::string& display) {
  RunRecord run{.run_id = r.text(i, 0),
                .workflow = r.text(i, 1),
                .status = parse_run_status(r.text(i, 2)),
                .payload = json_col(r, i, 3, display, "run"),
                .result = json_col(r, i, 4, display, "run"),
                .error = json_col(r, i, 5, display, "run"),
                .started_at = sys::iso_ms(r.int64(i, 6)),
                .owner_pid = static_cast<int>(r.int64(i, 8)),
                .invoker = json_col(r, i, 9, display, "run"),
                .resumable = r.boolean(i, 10),
                .attempts = static_cast<int>(r.int64(i, 11)),
                .fence = r.int64(i, 12)};
  if (!r.is_null(i, 7)) {
    run.ended_at = sys::iso_ms(r.int64(i, 7));
    run.duration_ms = r.int64(i, 7) - r.int64(i, 6);
  }
  return run;
}

std::optional<RunRecord> load_run(pg::Connection& conn, std::string_view run_id,
                                  const std::string& display) {
  const auto r = conn.exec("SELECT run_id, workflow, status, payload, result, error, started_ms, "
                           "ended_ms, owner_pid, invoker, resumable, attempts, fence FROM runs "
                           "WHERE run_id = $1",
                           pg::Params().add(run_id));
  if (r.empty()) return std::nullopt;
  return run_from_row(r, 0, display);
}

std::string read_first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// This host and pid namespace: pids of owners with the same value can be checked in /proc.
// HEARTH_HOST_ID overrides it (tests simulating two hosts on one machine).
std::string host_identity() {
  if (const char* id = std::getenv("HEARTH_HOST_ID"); id && *id) return id;
  std::error_code ec;
  const auto ns = std::filesystem::read_symlink("/proc/self/ns/pid", ec);
  return read_first_line("/proc/sys/kernel/random/boot_id") + "/" + (ec ? "" : ns.string());
}

std::int64_t lease_from_env() {
  const char* text = std::getenv("HEARTH_LEASE_MS");
  if (!text || !*text) return k_default_lease_ms;
  std::int64_t value = 0;
  const auto end = text + std::char_traits<char>::length(text);
  if (std::from_chars(text, end, value).ptr != end) return k_default_lease_ms;
  return std::clamp<std::int64_t>(value, 500, 3'600'000);
}

// The listener + heartbeat connection's bounds: a heartbeat stuck behind a row lock gives up and
// tries again at the next beat (well within the lease).
constexpr std::int64_t k_background_statement_ms = 10'000;
constexpr std::int64_t k_background_lock_ms = 2'000;

// NOTIFY payloads are limited to 8000 bytes; longer paths are not announced (their readers on
// other replicas still see the events on their next read or re-probe).
constexpr std::size_t k_max_notified_path = 7000;

constexpr const char* k_append_sql =
    "WITH s AS (UPDATE streams SET next_seq = next_seq + $2::bigint, closed = $3::boolean "
    "WHERE path = $1 AND NOT closed AND ($7::bigint IS NULL OR COALESCE(fence, 0) = $7::bigint) "
    "RETURNING next_seq), "
    "ins AS (INSERT INTO events (path, seq, type, data, time_ms) "
    "SELECT $1, s.next_seq - $2::bigint + e.ord - 1, e.value->>'type', e.value->>'data', "
    "COALESCE((e.value->>'time')::bigint, $4::bigint) "
    "FROM s, jsonb_array_elements($5::jsonb) WITH ORDINALITY AS e(value, ord)) "
    "SELECT next_seq, pg_notify($6, (next_seq - 1)::text || ' ' || "
    "CASE WHEN $3::boolean THEN '1' ELSE '0' END || ' ' || $1) FROM s";
constexpr const char* k_append_quiet_sql =
    "WITH s AS (UPDATE streams SET next_seq = next_seq + $2::bigint, closed = $3::boolean "
    "WHERE path = $1 AND NOT closed AND ($7::bigint IS NULL OR COALESCE(fence, 0) = $7::bigint) "
    "RETURNING next_seq), "
    "ins AS (INSERT INTO events (path, seq, type, data, time_ms) "
    "SELECT $1, s.next_seq - $2::bigint + e.ord - 1, e.value->>'type', e.value->>'data', "
    "COALESCE((e.value->>'time')::bigint, $4::bigint) "
    "FROM s, jsonb_array_elements($5::jsonb) WITH ORDINALITY AS e(value, ord)) "
    "SELECT next_seq, $6::text FROM s";

// --- approvals, submissions, sessions, dispatch rows ---------------------------------------

constexpr const char* k_approval_columns = "approval_id, owner, session, kind, tool_name, "
                                           "tool_call_id, request, status, decision, created_ms, "
                                           "decided_ms";

ApprovalRecord approval_from_row(const pg::Result& r, int i, const std::string& display) {
  return ApprovalRecord{.approval_id = r.text(i, 0),
                        .owner = r.text(i, 1),
                        .session = r.text(i, 2),
                        .kind = r.text(i, 3),
                        .tool_name = r.text(i, 4),
                        .tool_call_id = r.text(i, 5),
                        .request = json_col(r, i, 6, display, "approval"),
                        .status = r.text(i, 7),
                        .decision = json_col(r, i, 8, display, "approval"),
                        .created_at = sys::iso_ms(r.int64(i, 9)),
                        .decided_at = r.is_null(i, 10) ? std::string() : sys::iso_ms(r.int64(i, 10))};
}

SubmissionStatus parse_submission_status(const std::string& text) {
  if (text == "running") return SubmissionStatus::running;
  if (text == "done") return SubmissionStatus::done;
  if (text == "errored") return SubmissionStatus::errored;
  return SubmissionStatus::queued;
}

std::optional<Submission> load_submission(pg::Connection& conn, std::string_view id) {
  const auto r = conn.exec("SELECT stream_path, status, created_ms, updated_ms FROM submissions "
                           "WHERE submission_id = $1",
                           pg::Params().add(id));
  if (r.empty()) return std::nullopt;
  return Submission{.submission_id = std::string(id),
                    .stream_path = r.text(0, 0),
                    .status = parse_submission_status(r.text(0, 1)),
                    .created_at = sys::iso_ms(r.int64(0, 2)),
                    .updated_at = sys::iso_ms(r.int64(0, 3))};
}

SessionRecord session_from_row(const SessionKey& key, const pg::Result& r,
                               const std::string& display) {
  // Columns: messages, version, continuation_token, created_ms, updated_ms, parked.
  auto messages = json_col(r, 0, 0, display, "session");
  if (messages.is_null()) throw errors::store_corrupt(display, "a stored session is malformed");
  return SessionRecord{.key = key,
                       .messages = std::move(messages),
                       .version = r.int64(0, 1),
                       .continuation_token = r.text(0, 2),
                       .parked = json_col(r, 0, 5, display, "parked turn"),
                       .created_at = sys::iso_ms(r.int64(0, 3)),
                       .updated_at = sys::iso_ms(r.int64(0, 4))};
}

std::optional<SessionRecord> load_session_in(pg::Connection& conn, const SessionKey& key,
                                             const std::string& display) {
  const auto r = conn.exec("SELECT messages, version, continuation_token, created_ms, updated_ms, "
                           "parked FROM sessions WHERE agent = $1 AND instance_id = $2 AND name = $3",
                           pg::Params().add(key.agent).add(key.instance_id).add(key.name));
  if (r.empty()) return std::nullopt;
  return session_from_row(key, r, display);
}

constexpr const char* k_dispatch_columns =
    "seq, dispatch_id, agent, instance_id, input, input_hash, idempotency_key, source, invoker, "
    "status, accepted_ms, updated_ms, conversation_key, context, receipt, outcome";

/// A nullable JSON text column: null when NULL.
Json json_or_null(const pg::Result& r, int i, int column, const std::string& display) {
  return r.is_null(i, column) ? Json() : json_col(r, i, column, display, "dispatch");
}

DispatchRecord dispatch_from_row(const pg::Result& r, int i, const std::string& display) {
  DispatchRecord record{.seq = r.int64(i, 0),
                        .dispatch_id = r.text(i, 1),
                        .agent = r.text(i, 2),
                        .instance_id = r.text(i, 3),
                        .input = json_col(r, i, 4, display, "dispatch"),
                        .input_hash = r.text(i, 5),
                        .idempotency_key = r.is_null(i, 6) ? std::string() : r.text(i, 6),
                        .source = r.text(i, 7),
                        .invoker = json_col(r, i, 8, display, "dispatch"),
                        .status = r.text(i, 9),
                        .accepted_at = sys::iso_ms(r.int64(i, 10)),
                        .updated_at = sys::iso_ms(r.int64(i, 11))};
  if (!r.is_null(i, 12)) record.conversation_key = r.text(i, 12);
  record.context = json_or_null(r, i, 13, display);
  record.receipt = json_or_null(r, i, 14, display);
  record.outcome = json_or_null(r, i, 15, display);
  return record;
}

std::optional<DispatchRecord> dispatch_by_key(pg::Connection& conn, std::string_view agent,
                                              std::string_view key, const std::string& display) {
  const auto r = conn.exec((std::string("SELECT ") + k_dispatch_columns +
                            " FROM dispatches WHERE agent = $1 AND idempotency_key = $2")
                               .c_str(),
                           pg::Params().add(agent).add(key));
  if (r.empty()) return std::nullopt;
  return dispatch_from_row(r, 0, display);
}

// Columns 11 and 12: the owner's id, and whether its lease expired (never for rows written
// before fires had leases: those are judged by their pid, on this host only).
constexpr const char* k_fire_columns =
    "fire_id, schedule, scheduled_ms, \"trigger\", session_id, status, fired_ms, ended_ms, "
    "owner_pid, owner_start, owner_host, owner_id, "
    "owner_id IS NOT NULL AND COALESCE(lease_ms, 0) < " HEARTH_PG_NOW;

FireRecord fire_from_row(const pg::Result& r, int i) {
  return FireRecord{.fire_id = r.text(i, 0),
                    .schedule = r.text(i, 1),
                    .scheduled_ms = r.int64(i, 2),
                    .trigger = r.text(i, 3),
                    .session_id = r.text(i, 4),
                    .status = r.text(i, 5),
                    .fired_at = sys::iso_ms(r.int64(i, 6)),
                    .ended_at = r.is_null(i, 7) ? std::string() : sys::iso_ms(r.int64(i, 7))};
}

} // namespace

// --- lifecycle ------------------------------------------------------------------------------

PostgresStore::PostgresStore(const std::string& url)
    : m_display(pg::redact(url)), m_pool(url, m_display),
      m_watchers(StreamWatchers::PollFn{}, std::chrono::milliseconds(50)),
      m_owner_id("own_" + sys::random_token().substr(3)), m_host(host_identity()),
      m_pid(static_cast<int>(::getpid())), m_start(sys::process_start(m_pid)),
      m_lease_ms(lease_from_env()) {
  m_pool.run("migrate", true, [&](pg::Connection& conn) { migrate_postgres(conn, m_display); });
  m_channel = m_pool.run("read the schema", true, [&](pg::Connection& conn) {
    return conn.exec("SELECT 'hearth_' || md5(current_schema())").text(0, 0);
  });
  // The channel becomes an identifier in LISTEN: only [a-z0-9_], by construction; checked.
  if (m_channel.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
    throw errors::store_failed(m_display, "choose a notification channel", m_channel);
  m_stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (m_stop_fd < 0) throw errors::store_open_failed(m_display, "eventfd failed");
  m_background = std::thread([this] { background(); });
}

PostgresStore::~PostgresStore() {
  m_stopping = true;
  const std::uint64_t one = 1;
  if (::write(m_stop_fd, &one, sizeof one) < 0) {
  }
  if (m_background.joinable()) m_background.join(); // no heartbeat renews anything after this
  ::close(m_stop_fd);
  // Hands back the leases of what this process still owns (a drained `hearth start` leaves its
  // suspended runs active): other replicas take them over at their next sweep instead of
  // waiting for the leases to expire. Fenced writes keep anything still running here harmless.
  try {
    m_pool.run("hand back leases", true, [&](pg::Connection& conn) {
      conn.exec("WITH r AS (UPDATE runs SET lease_ms = 0 WHERE owner_id = $1 AND "
                "status = 'active'), f AS (UPDATE schedule_fires SET lease_ms = 0 WHERE "
                "owner_id = $1 AND status IN ('queued', 'running')) UPDATE dispatches SET "
                "lease_ms = 0 WHERE owner_id = $1 AND status = 'running'",
                pg::Params().add(m_owner_id));
    }, 1);
  } catch (...) { // the database is gone: the leases expire on their own
  }
}

std::string PostgresStore::location() const { return m_display; }

// At most this many held runs no longer renewed (taken over from this process) are remembered
// for fencing; past it the oldest are forgotten (their streams are fenced in the database anyway
// once this process stops holding them: its appends are then unfenced, see held_fence()).
constexpr std::size_t k_max_lost_runs = 10'000;

void PostgresStore::hold_run(const std::string& run_id, std::int64_t fence) {
  std::lock_guard lock(m_held_mutex);
  m_held_runs[run_id] = HeldRun{.fence = fence, .renewed = true};
}

void PostgresStore::drop_run(std::string_view run_id) {
  std::lock_guard lock(m_held_mutex);
  if (const auto it = m_held_runs.find(run_id); it != m_held_runs.end()) m_held_runs.erase(it);
}

std::optional<std::int64_t> PostgresStore::held_fence(std::string_view path) const {
  if (path.rfind("runs/", 0) != 0) return std::nullopt;
  std::lock_guard lock(m_held_mutex);
  const auto it = m_held_runs.find(path.substr(5));
  if (it == m_held_runs.end()) return std::nullopt;
  return it->second.fence;
}

bool PostgresStore::executes_run(std::string_view run_id) const {
  std::lock_guard lock(m_held_mutex);
  const auto it = m_held_runs.find(run_id);
  return it != m_held_runs.end() && it->second.renewed;
}

void PostgresStore::hold(std::set<std::string, std::less<>>& set, std::string_view id) {
  std::lock_guard lock(m_held_mutex);
  set.emplace(id);
}

void PostgresStore::drop(std::set<std::string, std::less<>>& set, std::string_view id) {
  std::lock_guard lock(m_held_mutex);
  if (const auto it = set.find(id); it != set.end()) set.erase(it);
}

bool PostgresStore::holds(const std::set<std::string, std::less<>>& set, std::string_view id) const {
  std::lock_guard lock(m_held_mutex);
  return set.count(id) > 0;
}

void PostgresStore::heartbeat(pg::Connection& conn) {
  // Renews the rows this process executes, and only those: a row owned by this process that
  // nobody executes (a take whose COMMIT was lost on the way back) must expire. Rows that are
  // no longer ours or no longer unfinished (ended, taken over) are not returned: they leave the
  // registry (runs stay, unrenewed, so their appends stay fenced).
  std::map<std::string, std::int64_t, std::less<>> runs; // id -> fence held when sent
  std::set<std::string, std::less<>> dispatches, fires;
  {
    std::lock_guard lock(m_held_mutex);
    for (const auto& [id, held] : m_held_runs)
      if (held.renewed) runs.emplace(id, held.fence);
    dispatches.insert(m_held_dispatches.begin(), m_held_dispatches.end());
    fires.insert(m_held_fires.begin(), m_held_fires.end());
  }
  if (runs.empty() && dispatches.empty() && fires.empty()) return;
  auto array = [](const std::set<std::string, std::less<>>& ids) {
    Json out = Json::array();
    for (const auto& id : ids) out.push_back(id);
    return hearth::dump_json(out);
  };
  Json run_ids = Json::array();
  for (const auto& [id, fence] : runs) run_ids.push_back(id);
  const auto r = conn.exec(
      "WITH r AS (UPDATE runs SET lease_ms = " HEARTH_PG_NOW " + $2::bigint "
      "WHERE owner_id = $1 AND status = 'active' "
      "AND run_id IN (SELECT jsonb_array_elements_text($3::jsonb)) RETURNING run_id), "
      "d AS (UPDATE dispatches SET lease_ms = " HEARTH_PG_NOW " + $2::bigint "
      "WHERE owner_id = $1 AND status = 'running' "
      "AND dispatch_id IN (SELECT jsonb_array_elements_text($4::jsonb)) RETURNING dispatch_id), "
      "f AS (UPDATE schedule_fires SET lease_ms = " HEARTH_PG_NOW " + $2::bigint "
      "WHERE owner_id = $1 AND status IN ('queued', 'running') "
      "AND fire_id IN (SELECT jsonb_array_elements_text($5::jsonb)) RETURNING fire_id) "
      "SELECT 'r', run_id FROM r UNION ALL SELECT 'd', dispatch_id FROM d "
      "UNION ALL SELECT 'f', fire_id FROM f",
      pg::Params()
          .add(m_owner_id)
          .add(m_lease_ms)
          .add(hearth::dump_json(run_ids))
          .add(array(dispatches))
          .add(array(fires)));
  std::set<std::string> renewed;
  for (int i = 0; i < r.rows(); ++i) renewed.insert(r.text(i, 0) + r.text(i, 1));
  std::lock_guard lock(m_held_mutex);
  std::size_t lost = 0;
  for (auto& [id, held] : m_held_runs) {
    const auto sent = runs.find(id);
    if (held.renewed && sent != runs.end() && sent->second == held.fence &&
        !renewed.count("r" + id))
      held.renewed = false;
    lost += held.renewed ? 0 : 1;
  }
  for (auto it = m_held_runs.begin(); lost > k_max_lost_runs && it != m_held_runs.end();)
    if (!it->second.renewed) {
      it = m_held_runs.erase(it);
      --lost;
    } else {
      ++it;
    }
  for (const auto& id : dispatches)
    if (!renewed.count("d" + id)) m_held_dispatches.erase(id);
  for (const auto& id : fires)
    if (!renewed.count("f" + id)) m_held_fires.erase(id);
}

void PostgresStore::background() {
  using Clock = std::chrono::steady_clock;
  const auto beat_every = std::chrono::milliseconds(m_lease_ms / 3);
  std::unique_ptr<pg::Connection> conn;
  auto next_beat = Clock::now();
  auto wait_stop = [&](std::chrono::milliseconds ms) {
    pollfd fd{m_stop_fd, POLLIN, 0};
    ::poll(&fd, 1, static_cast<int>(ms.count()));
  };
  while (!m_stopping) {
    try {
      if (!conn || !conn->ok()) {
        conn = std::make_unique<pg::Connection>(m_pool.url());
        // Bounded like the pool's: the heartbeat's UPDATE runs here, and a row lock it waits
        // for must not hold this thread (and ~PostgresStore's join) for long. LISTEN itself
        // waits between statements, so the timeouts never cut it.
        conn->set_timeouts(k_background_statement_ms, k_background_lock_ms);
        conn->exec_script(("LISTEN " + m_channel).c_str());
        // Notifications sent while this connection was down are lost: re-read every tail.
        for (const auto& path : m_watchers.watched_paths()) {
          if (m_stopping) break; // ~PostgresStore waits for this thread: no more probes
          m_watchers.notify(path, probe(path));
        }
      }
      if (Clock::now() >= next_beat) {
        try {
          heartbeat(*conn);
          next_beat = Clock::now() + beat_every;
        } catch (const pg::PgError&) {
          if (!conn->ok()) throw;
          // A lock or statement timeout: the connection is fine; beat again shortly.
          next_beat = Clock::now() + std::min(beat_every, std::chrono::milliseconds(1000));
        }
      }
      if (!PQconsumeInput(conn->handle())) {
        conn.reset();
        continue;
      }
      while (PGnotify* note = PQnotifies(conn->handle())) {
        // Payload: "<last_seq> <0|1 closed> <path>".
        const std::string_view payload = note->extra;
        const auto a = payload.find(' ');
        const auto b = a == std::string_view::npos ? a : payload.find(' ', a + 1);
        if (b != std::string_view::npos) {
          Tail tail;
          std::from_chars(payload.data(), payload.data() + a, tail.last_seq);
          tail.closed = payload.substr(a + 1, b - a - 1) == "1";
          m_watchers.notify(payload.substr(b + 1), tail);
        }
        PQfreemem(note);
      }
      const auto until_beat =
          std::chrono::duration_cast<std::chrono::milliseconds>(next_beat - Clock::now());
      pollfd fds[2] = {{PQsocket(conn->handle()), POLLIN, 0}, {m_stop_fd, POLLIN, 0}};
      ::poll(fds, 2, static_cast<int>(std::max<std::int64_t>(until_beat.count(), 0)) + 1);
    } catch (...) {
      conn.reset(); // the database is unreachable: try again shortly
      wait_stop(std::chrono::milliseconds(500));
    }
  }
}

Tail PostgresStore::probe(std::string_view path) {
  return m_pool.run("read a stream", true, [&](pg::Connection& conn) {
    const auto r =
        conn.exec("SELECT next_seq, closed FROM streams WHERE path = $1", pg::Params().add(path));
    if (r.empty()) return Tail{};
    return Tail{.last_seq = r.int64(0, 0) - 1, .closed = r.boolean(0, 1)};
  });
}

bool PostgresStore::owner_gone(const std::string& host, int pid, const std::string& start,
                               bool expired) const {
  if (expired) return true;
  if (host != m_host) return false; // another host: only its lease can tell
  if (pid == m_pid) return false;
  return !sys::process_alive(pid, start);
}

// --- runs -----------------------------------------------------------------------------------

RunRecord PostgresStore::create_run(const NewRun& run) {
  const int pid = run.owner_pid != 0 ? run.owner_pid : m_pid;
  const auto start = pid == m_pid ? m_start : sys::process_start(pid);
  const auto now = sys::now_ms();
  const auto record = m_pool.run("record a run", true, [&](pg::Connection& conn) {
    // One statement (one round trip, atomic): the run, its stream, and the record — the new
    // one, or on a duplicate runId the first one, unchanged.
    const auto r = conn.exec(
        "WITH ins AS (INSERT INTO runs (run_id, workflow, status, payload, started_ms, owner_pid, "
        "owner_start, invoker, resumable, owner_id, owner_host, lease_ms) VALUES ($1, $2, "
        "'active', $3, $4::bigint, $5, $6, $7, $8, $9, $10, " HEARTH_PG_NOW " + $11::bigint) "
        "ON CONFLICT DO NOTHING RETURNING run_id, workflow, status, payload, result, error, "
        "started_ms, ended_ms, owner_pid, invoker, resumable, attempts, fence, owner_id), "
        "s AS (INSERT INTO streams (path, created_ms) VALUES ($12, $4::bigint) "
        "ON CONFLICT DO NOTHING) "
        "SELECT * FROM ins UNION ALL SELECT run_id, workflow, status, payload, result, error, "
        "started_ms, ended_ms, owner_pid, invoker, resumable, attempts, fence, owner_id FROM runs "
        "WHERE run_id = $1 AND NOT EXISTS (SELECT 1 FROM ins)",
        pg::Params()
            .add(run.run_id)
            .add(run.workflow)
            .add(hearth::dump_json(run.payload))
            .add(now)
            .add(pid)
            .add(start)
            .add(run.invoker.is_null() ? std::string("null") : run.invoker.dump())
            .add(run.resumable)
            .add(pid == m_pid ? m_owner_id : std::string())
            .add(m_host)
            .add(m_lease_ms)
            .add(run_stream(run.run_id)));
    if (r.empty()) // only when a concurrent insert of the same runId has not committed yet
      return std::make_pair(*load_run(conn, run.run_id, m_display), false);
    return std::make_pair(run_from_row(r, 0, m_display),
                          r.text(0, 13) == m_owner_id && r.text(0, 2) == "active");
  });
  // Committed and ours: this process executes it (the heartbeat renews its lease from now on).
  if (record.second) hold_run(record.first.run_id, record.first.fence);
  return record.first;
}

std::optional<Tail> PostgresStore::end_run_in(pg::Connection& conn, const RunEnd& end,
                                              std::optional<std::int64_t> fence,
                                              const std::vector<NewEvent>& before) {
  const bool failed = end.status != RunStatus::completed;
  pg::Params update;
  update.add(to_string(failed ? RunStatus::errored : RunStatus::completed));
  if (failed) update.null().add(hearth::dump_json(end.error));
  else update.add(hearth::dump_json(end.result)).null();
  update.add(sys::now_ms()).add(end.run_id);
  if (fence) update.add(*fence);
  else update.null();
  // Only an active run, and with a fence only while it is still that one (not taken over).
  const auto row = conn.exec(
      "UPDATE runs SET status = $1, result = $2, error = $3, "
      "ended_ms = GREATEST($4::bigint, started_ms) WHERE run_id = $5 AND status = 'active' "
      "AND ($6::bigint IS NULL OR fence = $6::bigint) RETURNING started_ms, ended_ms",
      update);
  if (row.empty()) {
    if (conn.exec("SELECT 1 FROM runs WHERE run_id = $1", pg::Params().add(end.run_id)).empty())
      throw errors::run_not_found(end.run_id);
    return std::nullopt;
  }
  const auto path = run_stream(end.run_id);
  conn.exec("INSERT INTO streams (path, created_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            pg::Params().add(path).add(row.int64(0, 1)));
  if (!before.empty()) append_in(conn, path, before, false); // stream_closed, run_taken_over
  // The terminal event (seed page 09): durationMs, isError, and either result or error.
  Json data = {{"runId", end.run_id},
               {"isError", failed},
               {"durationMs", row.int64(0, 1) - row.int64(0, 0)}};
  if (failed) data["error"] = end.error;
  else data["result"] = end.result;
  try {
    return append_in(conn, path, {NewEvent{.type = "run_end", .data = std::move(data)}}, true);
  } catch (const Error& e) {
    if (e.info().type != "stream_closed") throw;
    // Closed by hand: the run ends without a run_end event, as in SQLite.
    const auto tail = conn.exec("SELECT next_seq FROM streams WHERE path = $1", pg::Params().add(path));
    return Tail{.last_seq = tail.int64(0, 0) - 1, .closed = true};
  }
}

bool PostgresStore::end_run(const RunEnd& end) {
  // A run this process executes ends only under the fence it holds (also when the caller gave
  // none, e.g. a cancellation): once taken over, the end belongs to its new owner.
  const auto fence = end.fence ? end.fence : held_fence(run_stream(end.run_id));
  std::optional<Tail> tail;
  try {
    tail = m_pool.run("end a run", false, [&](pg::Connection& conn) {
      pg::Transaction tx(conn);
      auto result = end_run_in(conn, end, fence);
      tx.commit();
      return result;
    });
  } catch (const Error& e) {
    if (e.info().type == "run_not_found" || e.info().type == "run_taken_over")
      drop_run(end.run_id);
    if (e.info().type == "run_taken_over") return false;
    throw;
  }
  drop_run(end.run_id); // ended, here or elsewhere: no longer executed here
  if (tail) m_watchers.notify(run_stream(end.run_id), *tail);
  return tail.has_value();
}

std::optional<std::int64_t> PostgresStore::end_run_after(const RunEnd& end,
                                                          const std::vector<NewEvent>& events) {
  const auto fence = end.fence ? end.fence : held_fence(run_stream(end.run_id));
  std::optional<Tail> tail;
  try {
    tail = m_pool.run("end a run", false, [&](pg::Connection& conn) {
      pg::Transaction tx(conn);
      auto result = end_run_in(conn, end, fence, events);
      tx.commit();
      return result;
    });
  } catch (const Error& e) {
    if (e.info().type == "run_not_found" || e.info().type == "run_taken_over")
      drop_run(end.run_id);
    if (e.info().type == "run_taken_over") return std::nullopt;
    throw;
  }
  drop_run(end.run_id); // ended, here or elsewhere: no longer executed here
  if (!tail) return std::nullopt;
  m_watchers.notify(run_stream(end.run_id), *tail);
  return tail->last_seq - static_cast<std::int64_t>(events.size()); // run_end is the last
}

std::optional<RunRecord> PostgresStore::get_run(std::string_view run_id) {
  return m_pool.run("read a run", true,
                    [&](pg::Connection& conn) { return load_run(conn, run_id, m_display); });
}

std::vector<RunRecord> PostgresStore::list_runs(const RunQuery& query) {
  const auto limit = std::clamp<std::size_t>(query.limit, 1, k_max_run_list);
  return m_pool.run("list runs", true, [&](pg::Connection& conn) {
    pg::Params params;
    if (query.status) params.add(to_string(*query.status));
    else params.null();
    if (query.workflow) params.add(*query.workflow);
    else params.null();
    params.add(static_cast<std::int64_t>(limit)).add(query.summary);
    const auto r = conn.exec(
        "SELECT run_id, workflow, status, CASE WHEN $4::boolean THEN NULL ELSE payload END, "
        "CASE WHEN $4::boolean THEN NULL ELSE result END, "
        "CASE WHEN $4::boolean THEN NULL ELSE error END, started_ms, ended_ms, owner_pid, "
        "invoker, resumable, attempts, fence FROM runs "
        "WHERE ($1::text IS NULL OR status = $1::text) AND ($2::text IS NULL OR workflow = $2::text) "
        "ORDER BY started_ms DESC, run_id DESC LIMIT $3::bigint",
        params);
    std::vector<RunRecord> runs;
    for (int i = 0; i < r.rows(); ++i) runs.push_back(run_from_row(r, i, m_display));
    return runs;
  });
}

std::vector<std::string> PostgresStore::recover_abandoned_runs() {
  struct Owned {
    std::string run_id{};
    int pid = 0;
  };
  const auto active = m_pool.run("list active runs", true, [&](pg::Connection& conn) {
    // Resumable runs are left to a serving runtime's take-over (abandoned_runs).
    const auto r = conn.exec("SELECT run_id, owner_pid, owner_start, owner_host, "
                             "lease_ms < " HEARTH_PG_NOW " FROM runs WHERE status = 'active' "
                             "AND NOT resumable AND (lease_ms < " HEARTH_PG_NOW " OR "
                             "(owner_id <> $1 AND owner_host = $2)) ORDER BY started_ms LIMIT 1000",
                             pg::Params().add(m_owner_id).add(m_host));
    std::vector<Owned> owned;
    for (int i = 0; i < r.rows(); ++i)
      if (!executes_run(r.text(i, 0)) &&
          owner_gone(r.text(i, 3), static_cast<int>(r.int64(i, 1)), r.text(i, 2), r.boolean(i, 4)))
        owned.push_back({r.text(i, 0), static_cast<int>(r.int64(i, 1))});
    return owned;
  });
  std::vector<std::string> recovered;
  for (const auto& run : active) {
    const RunEnd end{.run_id = run.run_id,
                     .status = RunStatus::errored,
                     .error = {{"type", "runtime_crashed"},
                               {"message", "The runtime exited before the run finished."},
                               {"details", "Process " + std::to_string(run.pid) +
                                               ", which ran it, is no longer running."}}};
    if (end_run(end)) recovered.push_back(run.run_id);
  }
  return recovered;
}

bool PostgresStore::checkpoint_run(std::string_view run_id, std::int64_t fence,
                                   const Json& checkpoint) {
  const auto text = hearth::dump_json(checkpoint);
  // Idempotent: a retry after a lost COMMIT writes the same value under the same fence.
  return m_pool.run("checkpoint a run", true, [&](pg::Connection& conn) {
    return conn.exec("UPDATE runs SET checkpoint = $1 WHERE run_id = $2 AND status = 'active' "
                     "AND fence = $3",
                     pg::Params().add(text).add(run_id).add(fence))
               .affected() == 1;
  });
}

std::optional<std::int64_t> PostgresStore::checkpoint_run_after(std::string_view run_id,
                                                                 std::int64_t fence,
                                                                 const std::vector<NewEvent>& events,
                                                                 const Json& checkpoint) {
  const auto text = hearth::dump_json(checkpoint);
  const auto path = run_stream(run_id);
  std::optional<Tail> tail;
  try {
    // Not retried after a lost COMMIT: the events could be appended twice.
    tail = m_pool.run("checkpoint a run", false, [&](pg::Connection& conn) -> std::optional<Tail> {
      pg::Transaction tx(conn);
      if (conn.exec("UPDATE runs SET checkpoint = $1 WHERE run_id = $2 AND status = 'active' "
                    "AND fence = $3",
                    pg::Params().add(text).add(run_id).add(fence))
              .affected() != 1)
        return std::nullopt; // rolled back: nothing written
      Tail result{};
      if (!events.empty()) {
        result = append_in(conn, path, events, false); // run_taken_over: the stream's fence
      } else {
        const auto r = conn.exec("SELECT next_seq FROM streams WHERE path = $1", pg::Params().add(path));
        if (!r.empty()) result.last_seq = r.int64(0, 0) - 1;
      }
      tx.commit();
      return result;
    });
  } catch (const Error& e) {
    if (e.info().type == "run_taken_over") return std::nullopt;
    throw;
  }
  if (!tail) return std::nullopt;
  if (!events.empty()) m_watchers.notify(path, *tail);
  return tail->last_seq + 1 - static_cast<std::int64_t>(events.size());
}

Json PostgresStore::run_checkpoint(std::string_view run_id) {
  return m_pool.run("read a checkpoint", true, [&](pg::Connection& conn) -> Json {
    const auto r =
        conn.exec("SELECT checkpoint FROM runs WHERE run_id = $1", pg::Params().add(run_id));
    if (r.empty()) return nullptr;
    return json_col(r, 0, 0, m_display, "checkpoint");
  });
}

std::vector<AbandonedRun> PostgresStore::abandoned_runs() {
  return m_pool.run("list abandoned runs", true, [&](pg::Connection& conn) {
    const auto r = conn.exec(
        "SELECT run_id, workflow, attempts, fence, owner_pid, owner_start, owner_host, "
        "lease_ms < " HEARTH_PG_NOW " FROM runs WHERE status = 'active' AND resumable "
        "AND (lease_ms < " HEARTH_PG_NOW " OR (owner_id <> $1 AND owner_host = $2)) "
        "ORDER BY started_ms ASC, run_id ASC LIMIT 1000",
        // Only candidates fill the window: live replicas' runs elsewhere never hide them.
        pg::Params().add(m_owner_id).add(m_host));
    std::vector<AbandonedRun> out;
    for (int i = 0; i < r.rows(); ++i) {
      const int pid = static_cast<int>(r.int64(i, 4));
      // Ours and executed here: alive, even if a late heartbeat let its lease lapse. Ours and
      // not executed here (a take whose COMMIT was lost): expired like any dead owner's.
      if (executes_run(r.text(i, 0))) continue;
      if (!owner_gone(r.text(i, 6), pid, r.text(i, 5), r.boolean(i, 7))) continue;
      out.push_back({.run_id = r.text(i, 0),
                     .workflow = r.text(i, 1),
                     .attempts = static_cast<int>(r.int64(i, 2)),
                     .fence = r.int64(i, 3),
                     .owner_pid = pid});
    }
    return out;
  });
}

std::optional<RunRecord> PostgresStore::take_over_run(std::string_view run_id, std::int64_t fence) {
  auto taken = m_pool.run("take a run over", false, [&](pg::Connection& conn) -> std::optional<RunRecord> {
    // SKIP LOCKED: of two replicas taking the same run at once, the second sees no row at all.
    // The stream's fence moves in the same statement: from its commit on, appends of the
    // previous owner match no row (append_in).
    const auto r = conn.exec(
        "WITH r AS (UPDATE runs SET owner_pid = $3, owner_start = $4, owner_host = $5, "
        "owner_id = $6, lease_ms = " HEARTH_PG_NOW " + $7::bigint, attempts = attempts + 1, "
        "fence = fence + 1 "
        "WHERE run_id = (SELECT run_id FROM runs WHERE run_id = $1 AND status = 'active' "
        "AND fence = $2::bigint FOR UPDATE SKIP LOCKED) "
        "RETURNING run_id, workflow, status, payload, result, error, started_ms, ended_ms, "
        "owner_pid, invoker, resumable, attempts, fence), "
        "s AS (UPDATE streams SET fence = (SELECT fence FROM r) WHERE path = $8 "
        "AND EXISTS (SELECT 1 FROM r)) "
        "SELECT * FROM r",
        pg::Params()
            .add(run_id)
            .add(fence)
            .add(m_pid)
            .add(m_start)
            .add(m_host)
            .add(m_owner_id)
            .add(m_lease_ms)
            .add(run_stream(run_id)));
    if (r.empty()) return std::nullopt;
    return run_from_row(r, 0, m_display);
  });
  if (taken) hold_run(taken->run_id, taken->fence); // committed: executed here from now on
  return taken;
}

// --- event streams --------------------------------------------------------------------------

bool PostgresStore::create_stream(std::string_view path) {
  return m_pool.run("create a stream", false, [&](pg::Connection& conn) {
    return conn.exec("INSERT INTO streams (path, created_ms) VALUES ($1, $2) "
                     "ON CONFLICT DO NOTHING",
                     pg::Params().add(path).add(sys::now_ms()))
               .affected() > 0;
  });
}

Tail PostgresStore::append_in(pg::Connection& conn, std::string_view path,
                              const std::vector<NewEvent>& events, bool close_after) {
  // The events travel as one JSON parameter: [{type, data: "<compact JSON text>", time?}], so the
  // stored text is byte for byte what dump_json wrote.
  Json batch = Json::array();
  for (const auto& event : events) {
    batch.push_back({{"type", event.type}, {"data", event_text(event)}});
    if (event.time_ms > 0) batch.back()["time"] = event.time_ms; // else the append's ($4)
  }
  const bool notify = path.size() <= k_max_notified_path;
  // On behalf of a run this process executes: only while the stream's fence is still the one
  // this process holds. The UPDATE of the stream row is the check: a take-over updating the
  // same row (take_over_run) either committed first (this UPDATE re-reads the row, sees the new
  // fence and matches nothing) or waits for this append.
  const auto fence = held_fence(path);
  pg::Params params;
  params.add(path)
      .add(static_cast<std::int64_t>(events.size()))
      .add(close_after)
      .add(sys::now_ms())
      .add(hearth::dump_json(batch))
      .add(m_channel);
  if (fence) params.add(*fence);
  else params.null();
  const auto r = conn.exec(notify ? k_append_sql : k_append_quiet_sql, params);
  if (r.empty()) {
    const auto row = conn.exec("SELECT closed, COALESCE(fence, 0) FROM streams WHERE path = $1",
                               pg::Params().add(path));
    if (row.empty()) throw errors::stream_not_found(path);
    if (fence && row.int64(0, 1) != *fence) {
      const auto run_id = path.substr(5);
      {
        std::lock_guard lock(m_held_mutex); // taken over: nothing renews it here any more
        if (const auto it = m_held_runs.find(run_id); it != m_held_runs.end())
          it->second.renewed = false;
      }
      throw errors::run_taken_over(run_id);
    }
    throw errors::stream_closed(path);
  }
  return {.last_seq = r.int64(0, 0) - 1, .closed = close_after};
}

std::int64_t PostgresStore::append(std::string_view path, const NewEvent& event) {
  return append_batch(path, {event}, false);
}

std::int64_t PostgresStore::append_batch(std::string_view path, const std::vector<NewEvent>& events,
                                         bool close_after) {
  // One statement: atomic without BEGIN/COMMIT round trips.
  const auto tail = m_pool.run("append to a stream", false, [&](pg::Connection& conn) {
    return append_in(conn, path, events, close_after);
  });
  m_watchers.notify(path, tail);
  return tail.last_seq + 1 - static_cast<std::int64_t>(events.size());
}

void PostgresStore::close_stream(std::string_view path) {
  const bool notify = path.size() <= k_max_notified_path;
  const auto tail = m_pool.run("close a stream", true, [&](pg::Connection& conn) {
    const auto r = conn.exec(
        notify ? "WITH s AS (UPDATE streams SET closed = true WHERE path = $1 RETURNING next_seq) "
                 "SELECT next_seq, pg_notify($2, (next_seq - 1)::text || ' 1 ' || $1) FROM s"
               : "UPDATE streams SET closed = true WHERE path = $1 RETURNING next_seq, $2::text",
        pg::Params().add(path).add(m_channel));
    if (r.empty()) throw errors::stream_not_found(path);
    return Tail{.last_seq = r.int64(0, 0) - 1, .closed = true};
  });
  m_watchers.notify(path, tail);
}

std::optional<StreamInfo> PostgresStore::stream_info(std::string_view path) {
  return m_pool.run("read a stream", true, [&](pg::Connection& conn) -> std::optional<StreamInfo> {
    const auto r = conn.exec("SELECT next_seq, closed, created_ms FROM streams WHERE path = $1",
                             pg::Params().add(path));
    if (r.empty()) return std::nullopt;
    return StreamInfo{.path = std::string(path),
                      .last_seq = r.int64(0, 0) - 1,
                      .closed = r.boolean(0, 1),
                      .created_at = sys::iso_ms(r.int64(0, 2))};
  });
}

ReadResult PostgresStore::read(std::string_view path, std::int64_t after_seq, std::size_t limit) {
  after_seq = std::max<std::int64_t>(after_seq, -1);
  const auto bounded = static_cast<std::int64_t>(
      std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max()));
  return m_pool.run("read a stream", true, [&](pg::Connection& conn) {
    // One statement, one snapshot: the events and the closed flag agree.
    const auto r = conn.exec(
        "SELECT s.next_seq, s.closed, e.seq, e.type, e.data, e.time_ms FROM streams s "
        "LEFT JOIN LATERAL (SELECT seq, type, data, time_ms FROM events WHERE path = s.path "
        "AND seq > $2::bigint ORDER BY seq LIMIT $3::bigint) e ON true "
        "WHERE s.path = $1 ORDER BY e.seq",
        pg::Params().add(path).add(after_seq).add(bounded));
    ReadResult page{.next_seq = after_seq};
    if (r.empty()) {
      page.up_to_date = true;
      return page;
    }
    page.exists = true;
    for (int i = 0; i < r.rows(); ++i) {
      if (r.is_null(i, 2)) continue;
      auto data = hearth::parse_json_or_discarded(r.text(i, 4));
      if (data.is_discarded()) throw errors::store_corrupt(m_display, "a stored event is malformed");
      page.events.push_back({.seq = r.int64(i, 2),
                             .type = r.text(i, 3),
                             .data = std::move(data),
                             .time = sys::iso_ms(r.int64(i, 5))});
    }
    const auto last_seq = r.int64(0, 0) - 1;
    if (!page.events.empty()) page.next_seq = page.events.back().seq;
    page.up_to_date = page.next_seq >= last_seq;
    page.closed = r.boolean(0, 1) && page.up_to_date;
    return page;
  });
}

bool PostgresStore::wait_for_events(std::string_view path, std::int64_t after_seq,
                                    Deadline deadline) {
  return m_watchers.wait(path, after_seq, deadline, [this](std::string_view p) { return probe(p); });
}

std::shared_ptr<void> PostgresStore::watch_events(std::string_view path, std::int64_t after_seq,
                                                  std::function<void()> wake) {
  const auto id = m_watchers.listen(path, after_seq, std::move(wake),
                                    [this](std::string_view p) { return probe(p); });
  return std::shared_ptr<void>(nullptr, [this, id](void*) { m_watchers.cancel(id); });
}

// --- sessions -------------------------------------------------------------------------------

std::optional<SessionRecord> PostgresStore::load_session(const SessionKey& key) {
  return m_pool.run("read a session", true,
                    [&](pg::Connection& conn) { return load_session_in(conn, key, m_display); });
}

SessionRecord PostgresStore::save_session(const SessionKey& key, const Json& messages,
                                          std::int64_t expected_version, const Json& parked) {
  const auto now = sys::now_ms();
  pg::Params params;
  params.add(key.agent).add(key.instance_id).add(key.name).add(hearth::dump_json(messages)).add(now);
  if (parked.is_null()) params.null();
  else params.add(hearth::dump_json(parked));
  constexpr const char* k_returning =
      " RETURNING messages, version, continuation_token, created_ms, updated_ms, parked";
  return m_pool.run("save a session", false, [&](pg::Connection& conn) {
    // One conditional statement: the version check and the write are atomic.
    const auto r =
        expected_version == 0
            ? conn.exec((std::string("INSERT INTO sessions (agent, instance_id, name, messages, "
                                     "version, created_ms, updated_ms, parked) VALUES ($1, $2, $3, "
                                     "$4, 1, $5, $5, $6) ON CONFLICT DO NOTHING") +
                         k_returning)
                            .c_str(),
                        params)
            : conn.exec((std::string("UPDATE sessions SET messages = $4, version = version + 1, "
                                     "updated_ms = $5, parked = $6 WHERE agent = $1 AND "
                                     "instance_id = $2 AND name = $3 AND version = $7::bigint") +
                         k_returning)
                            .c_str(),
                        pg::Params(params).add(expected_version));
    if (r.empty()) {
      const auto current = load_session_in(conn, key, m_display);
      throw errors::session_conflict(key.display(), expected_version,
                                     current ? current->version : 0);
    }
    return session_from_row(key, r, m_display);
  });
}

Store::SessionSave PostgresStore::save_session_after(const SessionKey& key, std::string_view path,
                                                     const std::vector<NewEvent>& events,
                                                     const Json& messages,
                                                     std::int64_t expected_version,
                                                     const Json& parked, const Json& invoker) {
  const auto now = sys::now_ms();
  const auto text = hearth::dump_json(messages);
  const auto parked_text = parked.is_null() ? std::string() : hearth::dump_json(parked);
  SessionSave saved;
  const auto tail = m_pool.run("save a session", false, [&](pg::Connection& conn) {
    pg::Transaction tx(conn);
    Tail result{};
    if (!events.empty()) {
      result = append_in(conn, path, events, false);
    } else {
      const auto r = conn.exec("SELECT next_seq FROM streams WHERE path = $1", pg::Params().add(path));
      result.last_seq = r.empty() ? -1 : r.int64(0, 0) - 1;
    }
    pg::Params params;
    params.add(key.agent).add(key.instance_id).add(key.name).add(text).add(now);
    if (parked.is_null()) params.null();
    else params.add(parked_text);
    // The version check and the write in one conditional statement, as in save_session.
    const auto r =
        expected_version == 0
            ? conn.exec("INSERT INTO sessions (agent, instance_id, name, messages, version, "
                        "created_ms, updated_ms, parked) VALUES ($1, $2, $3, $4, 1, $5, $5, $6) "
                        "ON CONFLICT DO NOTHING RETURNING version",
                        params)
            : conn.exec("UPDATE sessions SET messages = $4, version = version + 1, "
                        "updated_ms = $5, parked = $6 WHERE agent = $1 AND instance_id = $2 AND "
                        "name = $3 AND version = $7::bigint RETURNING version",
                        pg::Params(params).add(expected_version));
    if (r.empty()) {
      const auto current = load_session_in(conn, key, m_display);
      throw errors::session_conflict(key.display(), expected_version,
                                     current ? current->version : 0);
    }
    saved.version = r.int64(0, 0);
    if (!invoker.is_null())
      conn.exec("UPDATE sessions SET invoker = $1 WHERE agent = $2 AND instance_id = $3 AND "
                "name = $4",
                pg::Params().add(invoker.dump()).add(key.agent).add(key.instance_id).add(key.name));
    tx.commit();
    return result;
  });
  if (!events.empty()) m_watchers.notify(path, tail);
  saved.first_seq = tail.last_seq + 1 - static_cast<std::int64_t>(events.size());
  return saved;
}

void PostgresStore::set_session_invoker(const SessionKey& key, const Json& invoker) {
  m_pool.run("save a session", true, [&](pg::Connection& conn) {
    conn.exec("UPDATE sessions SET invoker = $1 WHERE agent = $2 AND instance_id = $3 AND name = $4",
              pg::Params().add(invoker.dump()).add(key.agent).add(key.instance_id).add(key.name));
  });
}

bool PostgresStore::delete_session(const SessionKey& key) {
  return m_pool.run("delete a session", false, [&](pg::Connection& conn) {
    return conn.exec("DELETE FROM sessions WHERE agent = $1 AND instance_id = $2 AND name = $3",
                     pg::Params().add(key.agent).add(key.instance_id).add(key.name))
               .affected() > 0;
  });
}

std::string PostgresStore::rotate_continuation_token(const SessionKey& key) {
  auto token = sys::random_token();
  // Idempotent: a retry stores the same token.
  m_pool.run("save a session", true, [&](pg::Connection& conn) {
    if (conn.exec("UPDATE sessions SET continuation_token = $1 WHERE agent = $2 AND "
                  "instance_id = $3 AND name = $4",
                  pg::Params().add(token).add(key.agent).add(key.instance_id).add(key.name))
            .affected() == 0)
      throw errors::session_not_found(key.display());
  });
  return token;
}

bool PostgresStore::check_continuation_token(const SessionKey& key, std::string_view token) {
  const auto session = load_session(key);
  if (!session || token.empty() || session->continuation_token.size() != token.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < token.size(); ++i)
    diff |= static_cast<unsigned char>(session->continuation_token[i] ^ token[i]);
  return diff == 0;
}

// --- approvals ------------------------------------------------------------------------------

void PostgresStore::create_approval(const ApprovalRecord& a) {
  m_pool.run("record an approval", true, [&](pg::Connection& conn) {
    conn.exec("INSERT INTO approvals (approval_id, owner, session, kind, tool_name, tool_call_id, "
              "request, status, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8) "
              "ON CONFLICT DO NOTHING",
              pg::Params()
                  .add(a.approval_id)
                  .add(a.owner)
                  .add(a.session)
                  .add(a.kind)
                  .add(a.tool_name)
                  .add(a.tool_call_id)
                  .add(hearth::dump_json(a.request))
                  .add(sys::now_ms()));
  });
}

std::optional<ApprovalRecord> PostgresStore::get_approval(std::string_view approval_id) {
  return m_pool.run("read an approval", true,
                    [&](pg::Connection& conn) -> std::optional<ApprovalRecord> {
                      const auto r = conn.exec(
                          (std::string("SELECT ") + k_approval_columns +
                           " FROM approvals WHERE approval_id = $1")
                              .c_str(),
                          pg::Params().add(approval_id));
                      if (r.empty()) return std::nullopt;
                      return approval_from_row(r, 0, m_display);
                    });
}

std::vector<ApprovalRecord> PostgresStore::list_approvals(std::string_view owner,
                                                          std::string_view session,
                                                          bool pending_only) {
  return m_pool.run("list approvals", true, [&](pg::Connection& conn) {
    const auto r = conn.exec((std::string("SELECT ") + k_approval_columns +
                              " FROM approvals WHERE owner = $1 AND ($2 = '' OR session = $2) "
                              "AND (NOT $3::boolean OR status = 'pending') "
                              "ORDER BY created_ms DESC, approval_id DESC LIMIT 1000")
                                 .c_str(),
                             pg::Params().add(owner).add(session).add(pending_only));
    std::vector<ApprovalRecord> out;
    for (int i = r.rows() - 1; i >= 0; --i) out.push_back(approval_from_row(r, i, m_display));
    return out;
  });
}

bool PostgresStore::decide_approval(std::string_view approval_id, std::string_view status,
                                    const Json& decision) {
  return m_pool.run("decide an approval", false, [&](pg::Connection& conn) {
    const auto r = conn.exec("UPDATE approvals SET status = $1, decision = $2, decided_ms = $3 "
                             "WHERE approval_id = $4 AND status = 'pending' RETURNING 1",
                             pg::Params()
                                 .add(status)
                                 .add(hearth::dump_json(decision))
                                 .add(sys::now_ms())
                                 .add(approval_id));
    if (!r.empty()) return true;
    if (conn.exec("SELECT 1 FROM approvals WHERE approval_id = $1", pg::Params().add(approval_id))
            .empty())
      throw errors::approval_not_found(approval_id);
    return false;
  });
}

// --- connection credentials (issue 13 §4) ------------------------------------------------------

void PostgresStore::put_credential(std::string_view key, std::string_view secret) {
  m_pool.run("store a connection credential", false, [&](pg::Connection& conn) {
    conn.exec("INSERT INTO connection_credentials (key, secret, updated_ms) VALUES ($1, $2, $3) "
              "ON CONFLICT (key) DO UPDATE SET secret = EXCLUDED.secret, "
              "updated_ms = EXCLUDED.updated_ms",
              pg::Params().add(key).add(secret).add(sys::now_ms()));
  });
}

std::optional<std::string> PostgresStore::get_credential(std::string_view key) {
  return m_pool.run("read a connection credential", true,
                    [&](pg::Connection& conn) -> std::optional<std::string> {
                      const auto r = conn.exec("SELECT secret FROM connection_credentials WHERE key = $1",
                                               pg::Params().add(key));
                      if (r.empty()) return std::nullopt;
                      return r.text(0, 0);
                    });
}

bool PostgresStore::delete_credential(std::string_view key) {
  return m_pool.run("forget a connection credential", false, [&](pg::Connection& conn) {
    const auto r = conn.exec("DELETE FROM connection_credentials WHERE key = $1 RETURNING 1",
                             pg::Params().add(key));
    return !r.empty();
  });
}

// --- submissions ----------------------------------------------------------------------------

Submission PostgresStore::create_submission(std::string_view submission_id,
                                            std::string_view stream_path) {
  const auto now = sys::now_ms();
  return m_pool.run("record a submission", true, [&](pg::Connection& conn) {
    conn.exec("INSERT INTO submissions (submission_id, stream_path, status, created_ms, "
              "updated_ms) VALUES ($1, $2, 'queued', $3, $3) ON CONFLICT DO NOTHING",
              pg::Params().add(submission_id).add(stream_path).add(now));
    return *load_submission(conn, submission_id);
  });
}

void PostgresStore::set_submission_status(std::string_view submission_id, SubmissionStatus status) {
  m_pool.run("update a submission", true, [&](pg::Connection& conn) {
    if (conn.exec("UPDATE submissions SET status = $1, updated_ms = $2 WHERE submission_id = $3",
                  pg::Params().add(to_string(status)).add(sys::now_ms()).add(submission_id))
            .affected() == 0)
      throw errors::submission_not_found(submission_id);
  });
}

std::optional<Submission> PostgresStore::get_submission(std::string_view submission_id) {
  return m_pool.run("read a submission", true,
                    [&](pg::Connection& conn) { return load_submission(conn, submission_id); });
}

// --- triggers -------------------------------------------------------------------------------

bool PostgresStore::claim_fire(const FireRecord& fire) {
  const auto fire_id = fire.fire_id.empty() ? ids::make_id("fire") : fire.fire_id;
  const bool recorded = m_pool.run("record a fire", false, [&](pg::Connection& conn) {
    const auto now = sys::now_ms();
    // No conflict target: the primary key and the partial (schedule, cron time) index both count.
    return conn.exec("INSERT INTO schedule_fires (fire_id, schedule, scheduled_ms, \"trigger\", "
                     "session_id, status, fired_ms, ended_ms, owner_pid, owner_start, owner_host, "
                     "owner_id, lease_ms) "
                     "VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $6 = 'skipped' THEN "
                     "$7::bigint END, $8, $9, $10, $11, " HEARTH_PG_NOW " + $12::bigint) "
                     "ON CONFLICT DO NOTHING",
                     pg::Params()
                         .add(fire_id)
                         .add(fire.schedule)
                         .add(fire.scheduled_ms)
                         .add(fire.trigger)
                         .add(fire.session_id)
                         .add(fire.status)
                         .add(now)
                         .add(m_pid)
                         .add(m_start)
                         .add(m_host)
                         .add(m_owner_id)
                         .add(m_lease_ms))
               .affected() > 0;
  });
  // Recorded and unfinished: executed (or queued) here, so the heartbeat renews its lease.
  if (recorded && (fire.status == "running" || fire.status == "queued")) hold(m_held_fires, fire_id);
  return recorded;
}

void PostgresStore::set_fire_status(std::string_view fire_id, std::string_view status) {
  m_pool.run("update a fire", true, [&](pg::Connection& conn) {
    pg::Params params;
    params.add(status);
    if (status == "running" || status == "queued") params.null();
    else params.add(sys::now_ms());
    params.add(fire_id);
    conn.exec("UPDATE schedule_fires SET status = $1, ended_ms = $2 WHERE fire_id = $3", params);
  });
  if (status != "running" && status != "queued") drop(m_held_fires, fire_id); // ended
}

bool PostgresStore::fire_owner_gone(const pg::Result& r, int i) const {
  if (r.is_null(i, 8)) return true; // recorded before owners were: nobody runs it
  // Executed here: alive, even if a late heartbeat let its lease lapse.
  if (!r.is_null(i, 11) && r.text(i, 11) == m_owner_id && holds(m_held_fires, r.text(i, 0)))
    return false;
  const auto host = r.is_null(i, 10) ? std::string() : r.text(i, 10);
  return owner_gone(host, static_cast<int>(r.int64(i, 8)),
                    r.is_null(i, 9) ? std::string() : r.text(i, 9), r.boolean(i, 12));
}

std::optional<FireRecord> PostgresStore::take_queued_fire(std::string_view schedule) {
  auto taken = m_pool.run("take a fire", false, [&](pg::Connection& conn) -> std::optional<FireRecord> {
    pg::Transaction tx(conn);
    const auto r = conn.exec((std::string("SELECT ") + k_fire_columns +
                              " FROM schedule_fires WHERE schedule = $1 AND status = 'queued' "
                              "ORDER BY fired_ms, scheduled_ms LIMIT 100 FOR UPDATE SKIP LOCKED")
                                 .c_str(),
                             pg::Params().add(schedule));
    for (int i = 0; i < r.rows(); ++i) {
      // Queued by this Store (or, before fires had owner ids, by this process).
      const bool mine = r.is_null(i, 11)
                            ? !r.is_null(i, 8) && r.int64(i, 8) == m_pid && !r.is_null(i, 10) &&
                                  r.text(i, 10) == m_host
                            : r.text(i, 11) == m_owner_id;
      if (!mine && !fire_owner_gone(r, i)) continue; // queued by a live process: its own
      auto fire = fire_from_row(r, i);
      conn.exec("UPDATE schedule_fires SET status = 'running', owner_pid = $2, owner_start = $3, "
                "owner_host = $4, owner_id = $5, lease_ms = " HEARTH_PG_NOW " + $6::bigint "
                "WHERE fire_id = $1",
                pg::Params()
                    .add(fire.fire_id)
                    .add(m_pid)
                    .add(m_start)
                    .add(m_host)
                    .add(m_owner_id)
                    .add(m_lease_ms));
      tx.commit();
      fire.status = "running";
      return fire;
    }
    return std::nullopt;
  });
  if (taken) hold(m_held_fires, taken->fire_id); // committed: executed here from now on
  return taken;
}

std::vector<FireRecord> PostgresStore::recover_fires() {
  return m_pool.run("recover fires", false, [&](pg::Connection& conn) {
    pg::Transaction tx(conn);
    const auto r = conn.exec((std::string("SELECT ") + k_fire_columns +
                              " FROM schedule_fires WHERE status = 'running' ORDER BY fired_ms "
                              "LIMIT 10000 FOR UPDATE SKIP LOCKED")
                                 .c_str());
    std::vector<FireRecord> dead;
    const auto now = sys::now_ms();
    for (int i = 0; i < r.rows(); ++i) {
      if (!fire_owner_gone(r, i)) continue; // alive: executed here, leased, or a live local pid
      auto fire = fire_from_row(r, i);
      conn.exec("UPDATE schedule_fires SET status = 'interrupted', ended_ms = $2 WHERE fire_id = $1",
                pg::Params().add(fire.fire_id).add(now));
      fire.status = "interrupted";
      fire.ended_at = sys::iso_ms(now);
      dead.push_back(std::move(fire));
    }
    tx.commit();
    return dead;
  });
}

bool PostgresStore::fire_running(std::string_view schedule) {
  return m_pool.run("read fires", true, [&](pg::Connection& conn) {
    const auto r = conn.exec((std::string("SELECT ") + k_fire_columns +
                              " FROM schedule_fires WHERE schedule = $1 AND status = 'running' "
                              "LIMIT 100")
                                 .c_str(),
                             pg::Params().add(schedule));
    for (int i = 0; i < r.rows(); ++i)
      if (!fire_owner_gone(r, i)) return true;
    return false;
  });
}

std::optional<std::int64_t> PostgresStore::latest_fire(std::string_view schedule) {
  return m_pool.run("read fires", true, [&](pg::Connection& conn) -> std::optional<std::int64_t> {
    const auto r = conn.exec("SELECT max(scheduled_ms) FROM schedule_fires WHERE schedule = $1 "
                             "AND \"trigger\" <> 'manual'",
                             pg::Params().add(schedule));
    if (r.empty() || r.is_null(0, 0)) return std::nullopt;
    return r.int64(0, 0);
  });
}

std::vector<FireRecord> PostgresStore::list_fires(std::string_view schedule, std::size_t limit) {
  limit = std::clamp<std::size_t>(limit, 1, 1000);
  return m_pool.run("read fires", true, [&](pg::Connection& conn) {
    const auto r = conn.exec((std::string("SELECT ") + k_fire_columns +
                              " FROM schedule_fires WHERE ($1 = '' OR schedule = $1) ORDER BY "
                              "fired_ms DESC, scheduled_ms DESC LIMIT $2::bigint")
                                 .c_str(),
                             pg::Params().add(schedule).add(static_cast<std::int64_t>(limit)));
    std::vector<FireRecord> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(fire_from_row(r, i));
    return out;
  });
}

DispatchAdmission PostgresStore::admit_dispatch(const NewDispatch& d) {
  const auto input = hearth::dump_json(d.input);
  Json hashed = {{"agent", d.agent}, {"id", d.instance_id}, {"input", d.input}};
  if (d.context.is_object() && !d.context.empty()) hashed["context"] = d.context;
  const auto hash = sys::sha256_hex(hearth::dump_json(hashed));
  const auto now = sys::now_ms();
  const bool keyed = !d.idempotency_key.empty();
  // One id for every attempt: a retry after a lost COMMIT that finds the row this call wrote
  // is this call's own admission, not a replay of someone else's.
  const auto dispatch_id = ids::make_id("dsp");
  auto replay = [&](DispatchRecord prior) {
    if (prior.input_hash != hash) throw errors::dispatch_conflict(d.idempotency_key);
    const bool ours = prior.dispatch_id == dispatch_id;
    return DispatchAdmission{.record = std::move(prior), .replayed = !ours};
  };
  // With a key, a retry after a lost COMMIT finds the row it wrote: not a duplicate.
  return m_pool.run("admit a dispatch", keyed, [&](pg::Connection& conn) {
    pg::Transaction tx(conn);
    if (keyed)
      if (auto prior = dispatch_by_key(conn, d.agent, d.idempotency_key, m_display))
        return replay(std::move(*prior));
    pg::Params params;
    params.add(dispatch_id).add(d.agent).add(d.instance_id).add(input).add(hash);
    params.add_or_null(d.idempotency_key).add(d.source);
    if (d.invoker.is_null()) params.null();
    else params.add(hearth::dump_json(d.invoker));
    params.add(now).add_or_null(d.conversation_key);
    for (const Json* value : {&d.context, &d.receipt}) {
      if (value->is_null()) params.null();
      else params.add(hearth::dump_json(*value));
    }
    const auto r = conn.exec(
        (std::string("INSERT INTO dispatches (dispatch_id, agent, instance_id, input, input_hash, "
                     "idempotency_key, source, invoker, status, accepted_ms, updated_ms, "
                     "conversation_key, context, receipt) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                     "'queued', $9, $9, $10, $11, $12) ON CONFLICT (agent, idempotency_key) DO "
                     "NOTHING RETURNING ") +
         k_dispatch_columns)
            .c_str(),
        params);
    if (r.empty()) { // a concurrent admission with the same key committed first
      auto prior = dispatch_by_key(conn, d.agent, d.idempotency_key, m_display);
      if (!prior) throw errors::store_failed(m_display, "admit a dispatch", "lost a key race");
      tx.commit();
      return replay(std::move(*prior));
    }
    auto record = dispatch_from_row(r, 0, m_display);
    tx.commit();
    return DispatchAdmission{.record = std::move(record), .replayed = false};
  });
}

std::optional<DispatchRecord> PostgresStore::next_dispatch(std::string_view agent,
                                                           std::string_view instance_id) {
  return m_pool.run("read dispatches", true,
                    [&](pg::Connection& conn) -> std::optional<DispatchRecord> {
                      const auto r = conn.exec(
                          (std::string("SELECT ") + k_dispatch_columns +
                           " FROM dispatches WHERE agent = $1 AND instance_id = $2 AND status IN "
                           "('queued', 'running') ORDER BY seq LIMIT 1")
                              .c_str(),
                          pg::Params().add(agent).add(instance_id));
                      if (r.empty()) return std::nullopt;
                      return dispatch_from_row(r, 0, m_display);
                    });
}

std::vector<DispatchRecord> PostgresStore::unfinished_dispatches(std::size_t limit) {
  limit = std::clamp<std::size_t>(limit, 1, 100000);
  return m_pool.run("read dispatches", true, [&](pg::Connection& conn) {
    const auto r = conn.exec((std::string("SELECT ") + k_dispatch_columns +
                              " FROM dispatches WHERE status IN ('queued', 'running') "
                              "ORDER BY seq LIMIT $1::bigint")
                                 .c_str(),
                             pg::Params().add(static_cast<std::int64_t>(limit)));
    std::vector<DispatchRecord> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(dispatch_from_row(r, i, m_display));
    return out;
  });
}

bool PostgresStore::set_dispatch_status(std::string_view dispatch_id, std::string_view status,
                                        const Json& outcome) {
  // Fenced by owner: a row another replica took over (our lease expired while the turn ran)
  // keeps its new owner's status; ours is dropped. Unowned rows (queued) take any status.
  const bool fenced = m_pool.run("update a dispatch", true, [&](pg::Connection& conn) {
    pg::Params params;
    params.add(status).add(sys::now_ms()).add(dispatch_id);
    if (outcome.is_null()) params.null();
    else params.add(hearth::dump_json(outcome));
    params.add(m_owner_id);
    if (conn.exec("UPDATE dispatches SET status = $1, updated_ms = $2, outcome = "
                  "COALESCE($4, outcome) WHERE dispatch_id = $3 AND (owner_id IS NULL OR "
                  "owner_id = $5)",
                  params)
            .affected() > 0)
      return false;
    if (conn.exec("SELECT 1 FROM dispatches WHERE dispatch_id = $1", pg::Params().add(dispatch_id))
            .empty())
      throw errors::dispatch_not_found(dispatch_id);
    return true;
  });
  if (fenced) {
    drop(m_held_dispatches, dispatch_id); // not ours any more: the heartbeat stops renewing it
    return false;
  }
  if (status != "running") drop(m_held_dispatches, dispatch_id); // finished or handed back
  return true;
}

bool PostgresStore::take_dispatch(std::string_view dispatch_id) {
  const bool taken = m_pool.run("take a dispatch", false, [&](pg::Connection& conn) {
    pg::Transaction tx(conn);
    // SKIP LOCKED: a row another replica is taking right now is theirs; no waiting behind it.
    const auto r = conn.exec("SELECT status, owner_pid, owner_start, owner_host, owner_id, "
                             "COALESCE(lease_ms, 0) < " HEARTH_PG_NOW " FROM dispatches "
                             "WHERE dispatch_id = $1 FOR UPDATE SKIP LOCKED",
                             pg::Params().add(dispatch_id));
    if (r.empty()) return false;
    const auto status = r.text(0, 0);
    if (status == "running") {
      // Already ours: executed here, or (not executed here: a take whose COMMIT was lost)
      // until its lease expires like a dead owner's.
      if (r.text(0, 4) == m_owner_id && (holds(m_held_dispatches, dispatch_id) || !r.boolean(0, 5)))
        return false;
      const bool ours = r.text(0, 4) == m_owner_id; // expired and not executed here
      if (!ours && !r.is_null(0, 1) &&
          !owner_gone(r.text(0, 3), static_cast<int>(r.int64(0, 1)), r.text(0, 2), r.boolean(0, 5)))
        return false;
    } else if (status != "queued") {
      return false;
    }
    conn.exec("UPDATE dispatches SET status = 'running', owner_pid = $2, owner_start = $3, "
              "owner_host = $4, owner_id = $5, lease_ms = " HEARTH_PG_NOW " + $6::bigint, "
              "updated_ms = $7 WHERE dispatch_id = $1",
              pg::Params()
                  .add(dispatch_id)
                  .add(m_pid)
                  .add(m_start)
                  .add(m_host)
                  .add(m_owner_id)
                  .add(m_lease_ms)
                  .add(sys::now_ms()));
    tx.commit();
    return true;
  });
  if (taken) hold(m_held_dispatches, dispatch_id); // committed: the heartbeat renews it now
  return taken;
}

std::optional<DispatchRecord> PostgresStore::get_dispatch(std::string_view dispatch_id) {
  return m_pool.run("read a dispatch", true,
                    [&](pg::Connection& conn) -> std::optional<DispatchRecord> {
                      const auto r = conn.exec((std::string("SELECT ") + k_dispatch_columns +
                                                " FROM dispatches WHERE dispatch_id = $1")
                                                   .c_str(),
                                               pg::Params().add(dispatch_id));
                      if (r.empty()) return std::nullopt;
                      return dispatch_from_row(r, 0, m_display);
                    });
}

} // namespace hearth::store

#undef HEARTH_PG_NOW

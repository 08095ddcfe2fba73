// Workflow runs (seed 003 page 09 "Run lifecycle"): records, run_end, listing, crash recovery.
#include "core/errors.hpp"
#include "core/json.hpp"
#include "store/sqlite_store.hpp"
#include "store/system.hpp"

#include <algorithm>
#include <iostream>
#include <unistd.h>

namespace hearth::store {
namespace {

RunStatus parse_run_status(const std::string& text) {
  if (text == "completed") return RunStatus::completed;
  if (text == "errored") return RunStatus::errored;
  return RunStatus::active;
}

Json parse_column(const db::Statement& row, int column, const std::string& path) {
  if (row.is_null(column)) return nullptr;
  auto value = hearth::parse_json_or_discarded(row.text(column));
  if (value.is_discarded()) throw errors::store_corrupt(path, "a stored JSON value is malformed");
  return value;
}

// Columns: run_id, workflow, status, payload, result, error, started_ms, ended_ms, owner_pid,
// invoker, resumable, attempts, fence.
RunRecord run_from_row(const db::Statement& row, const std::string& path) {
  RunRecord run{.run_id = row.text(0),
                .workflow = row.text(1),
                .status = parse_run_status(row.text(2)),
                .payload = parse_column(row, 3, path),
                .result = parse_column(row, 4, path),
                .error = parse_column(row, 5, path),
                .started_at = sys::iso_ms(row.int64(6)),
                .owner_pid = static_cast<int>(row.int64(8)),
                .invoker = parse_column(row, 9, path),
                .resumable = row.int64(10) != 0,
                .attempts = static_cast<int>(row.int64(11)),
                .fence = row.int64(12)};
  if (!row.is_null(7)) {
    run.ended_at = sys::iso_ms(row.int64(7));
    run.duration_ms = row.int64(7) - row.int64(6);
  }
  return run;
}

std::optional<RunRecord> load_run(db::Connection& conn, std::string_view run_id) {
  auto row = conn.prepare("SELECT run_id, workflow, status, payload, result, error, started_ms, "
                          "ended_ms, owner_pid, invoker, resumable, attempts, fence FROM runs WHERE run_id = ?");
  row->bind(1, run_id);
  if (!row->step()) return std::nullopt;
  return run_from_row(*row, conn.path());
}

std::string run_stream(std::string_view run_id) { return "runs/" + std::string(run_id); }

} // namespace

RunRecord SqliteStore::create_run(const NewRun& run) {
  const int pid = run.owner_pid != 0 ? run.owner_pid : static_cast<int>(::getpid());
  const auto start = sys::process_start(pid);
  const auto now = sys::now_ms();
  return m_pool.write([&](db::Connection& conn) {
    db::Transaction tx(conn, db::Transaction::Mode::write);
    conn.prepare("INSERT INTO runs (run_id, workflow, status, payload, started_ms, owner_pid, "
                 "owner_start, invoker, resumable) VALUES (?, ?, 'active', ?, ?, ?, ?, ?, ?) "
                 "ON CONFLICT DO NOTHING")
        ->bind(1, run.run_id)
        .bind(2, run.workflow)
        .bind(3, hearth::dump_json(run.payload))
        .bind(4, now)
        .bind(5, std::int64_t{pid})
        .bind(6, start)
        .bind(7, run.invoker.is_null() ? std::string("null") : run.invoker.dump())
        .bind(8, std::int64_t{run.resumable ? 1 : 0})
        .run();
    conn.prepare("INSERT INTO streams (path, created_ms) VALUES (?, ?) ON CONFLICT DO NOTHING")
        ->bind(1, run_stream(run.run_id))
        .bind(2, now)
        .run();
    auto record = load_run(conn, run.run_id);
    if (m_pool.in_memory()) evict_finished_runs(conn);
    tx.commit();
    return *record;
  });
}

void SqliteStore::evict_finished_runs(db::Connection& conn) {
  if (conn.query_int("SELECT count(*) FROM runs") <= k_memory_max_runs) return;
  // The oldest finished runs go, a batch at a time so this runs once per batch of new runs.
  const char* victims = "SELECT run_id FROM runs WHERE status != 'active' "
                        "ORDER BY started_ms ASC, run_id ASC LIMIT ?";
  for (const char* sql :
       {"DELETE FROM events WHERE path IN (SELECT 'runs/' || run_id FROM (%s))",
        "DELETE FROM streams WHERE path IN (SELECT 'runs/' || run_id FROM (%s))",
        "DELETE FROM runs WHERE run_id IN (%s)"}) {
    std::string statement = sql;
    statement.replace(statement.find("%s"), 2, victims);
    conn.prepare(statement.c_str())->bind(1, k_memory_evict_batch).run();
  }
  const auto evicted = conn.changes(); // the runs statement ran last
  if (evicted == 0) return;              // every run is active: nothing may go
  m_evicted_runs += evicted;
  std::cerr << "hearth: memory store: evicted the " << evicted
            << " oldest finished runs (a memory: store keeps at most " << k_memory_max_runs
            << " runs; " << m_evicted_runs << " evicted so far)" << std::endl;
}

std::optional<Tail> SqliteStore::end_run_in(db::Connection& conn, const RunEnd& end,
                                            std::int64_t now, const std::vector<NewEvent>& before) {
  // Only what the end needs: a whole RunRecord would parse the payload and invoker JSON.
  std::int64_t started_ms = 0;
  {
    auto row = conn.prepare("SELECT status, fence, started_ms FROM runs WHERE run_id = ?");
    row->bind(1, end.run_id);
    if (!row->step()) throw errors::run_not_found(end.run_id);
    if (parse_run_status(row->text(0)) != RunStatus::active) return std::nullopt;
    if (end.fence && *end.fence != row->int64(1)) return std::nullopt; // taken over meanwhile
    started_ms = row->int64(2);
  }
  const bool failed = end.status != RunStatus::completed;
  auto update = conn.prepare(
      "UPDATE runs SET status = ?, result = ?, error = ?, ended_ms = ? WHERE run_id = ?");
  update->bind(1, to_string(failed ? RunStatus::errored : RunStatus::completed));
  if (failed) update->bind_null(2).bind(3, hearth::dump_json(end.error));
  else update->bind(2, hearth::dump_json(end.result)).bind_null(3);
  update->bind(4, now).bind(5, end.run_id).run();

  // The terminal event (seed page 09): durationMs, isError, and either result or error.
  const auto path = run_stream(end.run_id);
  conn.prepare("INSERT INTO streams (path, created_ms) VALUES (?, ?) ON CONFLICT DO NOTHING")
      ->bind(1, path)
      .bind(2, now)
      .run();
  if (!before.empty()) append_in(conn, path, before, false); // closed by hand: stream_closed
  if (const auto tail = read_tail(conn, path); tail.closed) return tail; // closed by hand
  Json data = {{"runId", end.run_id}, {"isError", failed}, {"durationMs", now - started_ms}};
  if (failed) data["error"] = end.error;
  else data["result"] = end.result;
  return append_in(conn, path, {NewEvent{.type = "run_end", .data = std::move(data)}}, true);
}

bool SqliteStore::end_run(const RunEnd& end) {
  const auto tail = m_pool.write([&](db::Connection& conn) {
    db::Transaction tx(conn, db::Transaction::Mode::write);
    auto result = end_run_in(conn, end, sys::now_ms());
    tx.commit();
    return result;
  });
  if (tail) publish(run_stream(end.run_id), *tail);
  return tail.has_value();
}

std::optional<std::int64_t> SqliteStore::end_run_after(const RunEnd& end,
                                                        const std::vector<NewEvent>& events) {
  const auto tail = m_pool.write([&](db::Connection& conn) {
    db::Transaction tx(conn, db::Transaction::Mode::write);
    auto result = end_run_in(conn, end, sys::now_ms(), events);
    if (result) tx.commit(); // else nothing was written: the transaction rolls back, empty
    return result;
  });
  if (!tail) return std::nullopt;
  publish(run_stream(end.run_id), *tail);
  return tail->last_seq - static_cast<std::int64_t>(events.size()); // run_end is the last
}

std::optional<RunRecord> SqliteStore::get_run(std::string_view run_id) {
  return m_pool.read([&](db::Connection& conn) { return load_run(conn, run_id); });
}

std::vector<RunRecord> SqliteStore::list_runs(const RunQuery& query) {
  const auto limit = std::clamp<std::size_t>(query.limit, 1, k_max_run_list);
  return m_pool.read([&](db::Connection& conn) {
    auto rows = conn.prepare(
        // With ?4 (summary) the blob columns are never read: a listing of 1,000 runs with large
        // payloads stays a few KB of row data.
        "SELECT run_id, workflow, status, CASE WHEN ?4 THEN NULL ELSE payload END, "
        "CASE WHEN ?4 THEN NULL ELSE result END, CASE WHEN ?4 THEN NULL ELSE error END, "
        "started_ms, ended_ms, owner_pid, invoker, resumable, attempts, fence "
        "FROM runs WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR workflow = ?2) "
        "ORDER BY started_ms DESC, run_id DESC LIMIT ?3");
    if (query.status) rows->bind(1, to_string(*query.status));
    if (query.workflow) rows->bind(2, *query.workflow);
    rows->bind(3, static_cast<std::int64_t>(limit));
    rows->bind(4, static_cast<std::int64_t>(query.summary ? 1 : 0));
    std::vector<RunRecord> runs;
    while (rows->step()) runs.push_back(run_from_row(*rows, conn.path()));
    return runs;
  });
}

std::vector<std::string> SqliteStore::recover_abandoned_runs() {
  struct Owned {
    std::string run_id{};
    int pid = 0;
    std::string start{};
  };
  const auto active = m_pool.read([&](db::Connection& conn) {
    // Resumable runs are left to a serving runtime's take-over (abandoned_runs).
    auto rows = conn.prepare("SELECT run_id, owner_pid, owner_start FROM runs "
                             "WHERE status = 'active' AND resumable = 0");
    std::vector<Owned> owned;
    while (rows->step())
      owned.push_back({rows->text(0), static_cast<int>(rows->int64(1)), rows->text(2)});
    return owned;
  });
  std::vector<std::string> recovered;
  for (const auto& run : active) {
    if (run.pid == static_cast<int>(::getpid()) || sys::process_alive(run.pid, run.start)) continue;
    const RunEnd end{.run_id = run.run_id,
                     .status = RunStatus::errored,
                     .error = {{"type", "runtime_crashed"},
                               {"message", "The runtime exited before the run finished."},
                               {"details", "Process " + std::to_string(run.pid) +
                                               ", which ran it, is no longer running."}}};
    // end_run returns false if the owner (or another recovering process) ended it meanwhile.
    if (end_run(end)) recovered.push_back(run.run_id);
  }
  return recovered;
}

// Durable runs -----------------------------------------------------------------------------------

namespace {

/// Stores `text` as the checkpoint of `run_id` when the run is active under `fence`; false
/// when it is not (ended, or taken over).
bool set_checkpoint_in(db::Connection& conn, std::string_view run_id, std::int64_t fence,
                       const std::string& text) {
  conn.prepare("UPDATE runs SET checkpoint = ? WHERE run_id = ? AND status = 'active' "
               "AND fence = ?")
      ->bind(1, text)
      .bind(2, run_id)
      .bind(3, fence)
      .run();
  return conn.changes() == 1;
}

} // namespace

bool SqliteStore::checkpoint_run(std::string_view run_id, std::int64_t fence,
                                 const Json& checkpoint) {
  const auto text = hearth::dump_json(checkpoint);
  return m_pool.write(
      [&](db::Connection& conn) { return set_checkpoint_in(conn, run_id, fence, text); });
}

std::optional<std::int64_t> SqliteStore::checkpoint_run_after(std::string_view run_id,
                                                               std::int64_t fence,
                                                               const std::vector<NewEvent>& events,
                                                               const Json& checkpoint) {
  const auto text = hearth::dump_json(checkpoint);
  const auto path = run_stream(run_id);
  const auto tail = m_pool.write([&](db::Connection& conn) -> std::optional<Tail> {
    db::Transaction tx(conn, db::Transaction::Mode::write);
    if (!set_checkpoint_in(conn, run_id, fence, text)) return std::nullopt; // rolled back
    auto result = events.empty() ? read_tail(conn, path) : append_in(conn, path, events, false);
    tx.commit();
    return result;
  });
  if (!tail) return std::nullopt;
  if (!events.empty()) publish(path, *tail);
  return tail->last_seq + 1 - static_cast<std::int64_t>(events.size());
}

Json SqliteStore::run_checkpoint(std::string_view run_id) {
  return m_pool.read([&](db::Connection& conn) -> Json {
    auto row = conn.prepare("SELECT checkpoint FROM runs WHERE run_id = ?");
    row->bind(1, run_id);
    if (!row->step()) return nullptr;
    return parse_column(*row, 0, conn.path());
  });
}

std::vector<AbandonedRun> SqliteStore::abandoned_runs() {
  struct Owned {
    AbandonedRun run{};
    std::string start{};
  };
  const auto active = m_pool.read([&](db::Connection& conn) {
    auto rows = conn.prepare(
        "SELECT run_id, workflow, attempts, fence, owner_pid, owner_start FROM runs "
        "WHERE status = 'active' AND resumable = 1 ORDER BY started_ms ASC, run_id ASC LIMIT 1000");
    std::vector<Owned> owned;
    while (rows->step())
      owned.push_back({.run = {.run_id = rows->text(0),
                               .workflow = rows->text(1),
                               .attempts = static_cast<int>(rows->int64(2)),
                               .fence = rows->int64(3),
                               .owner_pid = static_cast<int>(rows->int64(4))},
                       .start = rows->text(5)});
    return owned;
  });
  std::vector<AbandonedRun> out;
  for (const auto& o : active)
    if (o.run.owner_pid != static_cast<int>(::getpid()) &&
        !sys::process_alive(o.run.owner_pid, o.start))
      out.push_back(o.run);
  return out;
}

std::optional<RunRecord> SqliteStore::take_over_run(std::string_view run_id, std::int64_t fence) {
  const int pid = static_cast<int>(::getpid());
  const auto start = sys::process_start(pid);
  return m_pool.write([&](db::Connection& conn) -> std::optional<RunRecord> {
    db::Transaction tx(conn, db::Transaction::Mode::write);
    // The fence is the lease's identity: whoever moves it first owns the run.
    conn.prepare("UPDATE runs SET owner_pid = ?, owner_start = ?, attempts = attempts + 1, "
                 "fence = fence + 1 WHERE run_id = ? AND status = 'active' AND fence = ?")
        ->bind(1, std::int64_t{pid})
        .bind(2, start)
        .bind(3, run_id)
        .bind(4, fence)
        .run();
    if (conn.changes() != 1) return std::nullopt;
    auto record = load_run(conn, run_id);
    tx.commit();
    return record;
  });
}

} // namespace hearth::store

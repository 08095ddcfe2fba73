// Schedule fires and durable dispatch admission (issue 14; schema 4). A fire is a row written
// before it runs (UNIQUE schedule + cron time); a dispatch is admitted in one transaction that
// also settles its idempotency key, so a replay gets the original receipt.
#include "core/errors.hpp"
#include "core/ids.hpp"
#include "core/json.hpp"
#include "store/sqlite_store.hpp"
#include "store/system.hpp"


#include <algorithm>

#include <unistd.h>

namespace hearth::store {
namespace {

constexpr const char* k_dispatch_columns =
    "seq, dispatch_id, agent, instance_id, input, input_hash, idempotency_key, source, invoker, "
    "status, accepted_ms, updated_ms, conversation_key, context, receipt, outcome";

Json json_or_null(db::Connection& conn, db::Statement& row, int column) {
  if (row.is_null(column)) return Json();
  auto value = hearth::parse_json_or_discarded(row.text(column));
  if (value.is_discarded()) throw errors::store_corrupt(conn.path(), "a stored dispatch is malformed");
  return value;
}

DispatchRecord read_dispatch(db::Connection& conn, db::Statement& row) {
  DispatchRecord record{.seq = row.int64(0),
                        .dispatch_id = row.text(1),
                        .agent = row.text(2),
                        .instance_id = row.text(3),
                        .input = json_or_null(conn, row, 4),
                        .input_hash = row.text(5),
                        .idempotency_key = row.is_null(6) ? std::string() : row.text(6),
                        .source = row.text(7),
                        .invoker = json_or_null(conn, row, 8),
                        .status = row.text(9),
                        .accepted_at = sys::iso_ms(row.int64(10)),
                        .updated_at = sys::iso_ms(row.int64(11))};
  if (!row.is_null(12)) record.conversation_key = row.text(12);
  record.context = json_or_null(conn, row, 13);
  record.receipt = json_or_null(conn, row, 14);
  record.outcome = json_or_null(conn, row, 15);
  return record;
}

std::optional<DispatchRecord> dispatch_where(db::Connection& conn, const std::string& where,
                                             std::string_view a, std::string_view b = {}) {
  const auto sql = std::string("SELECT ") + k_dispatch_columns + " FROM dispatches WHERE " + where;
  auto row = conn.prepare(sql.c_str());
  row->bind(1, a);
  if (!b.empty()) row->bind(2, b);
  if (!row->step()) return std::nullopt;
  return read_dispatch(conn, *row);
}

constexpr const char* k_fire_columns =
    "fire_id, schedule, scheduled_ms, trigger, session_id, status, fired_ms, ended_ms";

FireRecord read_fire(db::Statement& row) {
  return FireRecord{.fire_id = row.text(0),
                    .schedule = row.text(1),
                    .scheduled_ms = row.int64(2),
                    .trigger = row.text(3),
                    .session_id = row.text(4),
                    .status = row.text(5),
                    .fired_at = sys::iso_ms(row.int64(6)),
                    .ended_at = row.is_null(7) ? std::string() : sys::iso_ms(row.int64(7))};
}

/// Whether the owner (pid, start) recorded on a row is this process or alive.
bool owner_alive(db::Statement& row, int pid_column, int self) {
  const int pid = row.is_null(pid_column) ? 0 : static_cast<int>(row.int64(pid_column));
  const auto start = row.is_null(pid_column + 1) ? std::string() : row.text(pid_column + 1);
  if (pid == 0) return false;
  // Our pid but another start time: a process before us that had the same pid (a restarted
  // container's pid 1) and died; its rows are not ours.
  if (pid == self) return start.empty() || start == sys::process_start(self);
  return sys::process_alive(pid, start);
}

} // namespace

bool SqliteStore::claim_fire(const FireRecord& fire) {
  const int self = static_cast<int>(::getpid());
  const auto self_start = sys::process_start(self);
  const auto fire_id = fire.fire_id.empty() ? ids::make_id("fire") : fire.fire_id;
  return m_pool.write([&](db::Connection& conn) {
    const auto now = sys::now_ms();
    auto insert = conn.prepare(
        "INSERT INTO schedule_fires (fire_id, schedule, scheduled_ms, trigger, session_id, status, "
        "fired_ms, ended_ms, owner_pid, owner_start) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING");
    insert->bind(1, fire_id)
        .bind(2, fire.schedule)
        .bind(3, fire.scheduled_ms)
        .bind(4, fire.trigger)
        .bind(5, fire.session_id)
        .bind(6, fire.status)
        .bind(7, now);
    if (fire.status == "skipped") insert->bind(8, now);
    else insert->bind_null(8);
    insert->bind(9, std::int64_t{self}).bind(10, self_start).run();
    return conn.changes() != 0;
  });
}

void SqliteStore::set_fire_status(std::string_view fire_id, std::string_view status) {
  m_pool.write([&](db::Connection& conn) {
    auto stmt = conn.prepare("UPDATE schedule_fires SET status = ?, ended_ms = ? WHERE fire_id = ?");
    stmt->bind(1, status);
    if (status == "running" || status == "queued") stmt->bind_null(2);
    else stmt->bind(2, sys::now_ms());
    stmt->bind(3, fire_id).run();
  });
}

std::optional<FireRecord> SqliteStore::take_queued_fire(std::string_view schedule) {
  const int self = static_cast<int>(::getpid());
  const auto self_start = sys::process_start(self);
  return m_pool.write([&](db::Connection& conn) -> std::optional<FireRecord> {
    db::Transaction tx(conn, db::Transaction::Mode::write);
    const auto sql = std::string("SELECT ") + k_fire_columns +
                     ", owner_pid, owner_start FROM schedule_fires WHERE schedule = ? AND "
                     "status = 'queued' ORDER BY fired_ms, scheduled_ms LIMIT 100";
    auto row = conn.prepare(sql.c_str());
    row->bind(1, schedule);
    std::optional<FireRecord> found;
    while (row->step()) {
      const bool mine = !row->is_null(8) && static_cast<int>(row->int64(8)) == self &&
                        !row->is_null(9) && row->text(9) == self_start;
      if (mine || !owner_alive(*row, 8, self)) { // queued by us, or left by a dead process
        found = read_fire(*row);
        break;
      }
    }
    if (!found) return std::nullopt;
    conn.prepare("UPDATE schedule_fires SET status = 'running', owner_pid = ?, owner_start = ? "
                 "WHERE fire_id = ? AND status = 'queued'")
        ->bind(1, std::int64_t{self})
        .bind(2, self_start)
        .bind(3, found->fire_id)
        .run();
    if (conn.changes() != 1) return std::nullopt;
    tx.commit();
    found->status = "running";
    return found;
  });
}

std::vector<FireRecord> SqliteStore::recover_fires() {
  const int self = static_cast<int>(::getpid());
  return m_pool.write([&](db::Connection& conn) {
    db::Transaction tx(conn, db::Transaction::Mode::write);
    std::vector<FireRecord> dead;
    const auto sql = std::string("SELECT ") + k_fire_columns +
                     ", owner_pid, owner_start FROM schedule_fires WHERE status = 'running' "
                     "ORDER BY fired_ms LIMIT 10000";
    auto row = conn.prepare(sql.c_str());
    while (row->step())
      if (!owner_alive(*row, 8, self)) dead.push_back(read_fire(*row));
    const auto now = sys::now_ms();
    for (auto& f : dead) {
      conn.prepare("UPDATE schedule_fires SET status = 'interrupted', ended_ms = ? WHERE fire_id = ? "
                   "AND status = 'running'")
          ->bind(1, now)
          .bind(2, f.fire_id)
          .run();
      f.status = "interrupted";
      f.ended_at = sys::iso_ms(now);
    }
    tx.commit();
    return dead;
  });
}

bool SqliteStore::fire_running(std::string_view schedule) {
  const int self = static_cast<int>(::getpid());
  return m_pool.read([&](db::Connection& conn) {
    auto row = conn.prepare("SELECT owner_pid, owner_start FROM schedule_fires WHERE schedule = ? "
                            "AND status = 'running' LIMIT 100");
    row->bind(1, schedule);
    while (row->step())
      if (owner_alive(*row, 0, self)) return true;
    return false;
  });
}

std::optional<std::int64_t> SqliteStore::latest_fire(std::string_view schedule) {
  return m_pool.read([&](db::Connection& conn) -> std::optional<std::int64_t> {
    auto row = conn.prepare("SELECT max(scheduled_ms) FROM schedule_fires WHERE schedule = ? AND "
                            "trigger != 'manual'");
    row->bind(1, schedule);
    if (!row->step() || row->is_null(0)) return std::nullopt;
    return row->int64(0);
  });
}

std::vector<FireRecord> SqliteStore::list_fires(std::string_view schedule, std::size_t limit) {
  limit = std::clamp<std::size_t>(limit, 1, 1000);
  return m_pool.read([&](db::Connection& conn) {
    std::vector<FireRecord> out;
    const auto all = std::string("SELECT ") + k_fire_columns +
                     " FROM schedule_fires ORDER BY fired_ms DESC, scheduled_ms DESC LIMIT ?";
    const auto one = std::string("SELECT ") + k_fire_columns +
                     " FROM schedule_fires WHERE schedule = ? ORDER BY fired_ms DESC, "
                     "scheduled_ms DESC LIMIT ?";
    auto row = conn.prepare(schedule.empty() ? all.c_str() : one.c_str());
    if (schedule.empty()) {
      row->bind(1, static_cast<std::int64_t>(limit));
    } else {
      row->bind(1, schedule).bind(2, static_cast<std::int64_t>(limit));
    }
    while (row->step()) out.push_back(read_fire(*row));
    return out;
  });
}

DispatchAdmission SqliteStore::admit_dispatch(const NewDispatch& d) {
  const auto input = hearth::dump_json(d.input);
  Json hashed = {{"agent", d.agent}, {"id", d.instance_id}, {"input", d.input}};
  if (d.context.is_object() && !d.context.empty()) hashed["context"] = d.context;
  const auto hash = sys::sha256_hex(hearth::dump_json(hashed));
  const auto now = sys::now_ms();
  return m_pool.write([&](db::Connection& conn) {
    db::Transaction tx(conn, db::Transaction::Mode::write);
    if (!d.idempotency_key.empty()) {
      if (auto prior = dispatch_where(conn, "agent = ? AND idempotency_key = ?", d.agent,
                                      d.idempotency_key)) {
        if (prior->input_hash != hash) throw errors::dispatch_conflict(d.idempotency_key);
        return DispatchAdmission{.record = std::move(*prior), .replayed = true};
      }
    }
    const auto id = ids::make_id("dsp");
    auto insert = conn.prepare(
        "INSERT INTO dispatches (dispatch_id, agent, instance_id, input, input_hash, "
        "idempotency_key, source, invoker, status, accepted_ms, updated_ms, conversation_key, "
        "context, receipt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?)");
    insert->bind(1, id).bind(2, d.agent).bind(3, d.instance_id).bind(4, input).bind(5, hash);
    if (d.idempotency_key.empty()) insert->bind_null(6);
    else insert->bind(6, d.idempotency_key);
    insert->bind(7, d.source);
    if (d.invoker.is_null()) insert->bind_null(8);
    else insert->bind(8, hearth::dump_json(d.invoker));
    insert->bind(9, now).bind(10, now);
    if (d.conversation_key.empty()) insert->bind_null(11);
    else insert->bind(11, d.conversation_key);
    for (const auto& [column, value] : {std::pair{12, &d.context}, std::pair{13, &d.receipt}}) {
      if (value->is_null()) insert->bind_null(column);
      else insert->bind(column, hearth::dump_json(*value));
    }
    insert->run();
    auto record = dispatch_where(conn, "dispatch_id = ?", id);
    tx.commit();
    return DispatchAdmission{.record = std::move(*record), .replayed = false};
  });
}

std::optional<DispatchRecord> SqliteStore::next_dispatch(std::string_view agent,
                                                         std::string_view instance_id) {
  return m_pool.read([&](db::Connection& conn) {
    return dispatch_where(conn,
                          "agent = ? AND instance_id = ? AND status IN ('queued', 'running') "
                          "ORDER BY seq LIMIT 1",
                          agent, instance_id);
  });
}

std::vector<DispatchRecord> SqliteStore::unfinished_dispatches(std::size_t limit) {
  limit = std::clamp<std::size_t>(limit, 1, 100000);
  return m_pool.read([&](db::Connection& conn) {
    std::vector<DispatchRecord> out;
    const auto sql = std::string("SELECT ") + k_dispatch_columns +
                     " FROM dispatches WHERE status IN ('queued', 'running') ORDER BY seq LIMIT ?";
    auto row = conn.prepare(sql.c_str());
    row->bind(1, static_cast<std::int64_t>(limit));
    while (row->step()) out.push_back(read_dispatch(conn, *row));
    return out;
  });
}

bool SqliteStore::set_dispatch_status(std::string_view dispatch_id, std::string_view status,
                                      const Json& outcome) {
  m_pool.write([&](db::Connection& conn) {
    auto stmt = conn.prepare("UPDATE dispatches SET status = ?, updated_ms = ?, "
                             "outcome = coalesce(?, outcome) WHERE dispatch_id = ?");
    stmt->bind(1, status).bind(2, sys::now_ms());
    if (outcome.is_null()) stmt->bind_null(3);
    else stmt->bind(3, hearth::dump_json(outcome));
    stmt->bind(4, dispatch_id).run();
    if (conn.changes() == 0) throw errors::dispatch_not_found(dispatch_id);
  });
  return true; // one host: a live owner's row is never taken over (pids decide)
}

bool SqliteStore::take_dispatch(std::string_view dispatch_id) {
  const int self = static_cast<int>(::getpid());
  const auto self_start = sys::process_start(self);
  return m_pool.write([&](db::Connection& conn) {
    db::Transaction tx(conn, db::Transaction::Mode::write);
    auto row = conn.prepare("SELECT status, owner_pid, owner_start FROM dispatches WHERE dispatch_id = ?");
    row->bind(1, dispatch_id);
    if (!row->step()) return false;
    const auto status = row->text(0);
    if (status == "running") {
      if (owner_alive(*row, 1, self)) return false;
    } else if (status != "queued") {
      return false;
    }
    conn.prepare("UPDATE dispatches SET status = 'running', owner_pid = ?, owner_start = ?, "
                 "updated_ms = ? WHERE dispatch_id = ? AND status = ?")
        ->bind(1, std::int64_t{self})
        .bind(2, self_start)
        .bind(3, sys::now_ms())
        .bind(4, dispatch_id)
        .bind(5, status)
        .run();
    const bool taken = conn.changes() == 1;
    tx.commit();
    return taken;
  });
}

std::optional<DispatchRecord> SqliteStore::get_dispatch(std::string_view dispatch_id) {
  return m_pool.read(
      [&](db::Connection& conn) { return dispatch_where(conn, "dispatch_id = ?", dispatch_id); });
}

} // namespace hearth::store

// Event streams (seed 003 page 17 "Stream reads", Durable Streams): create, append (committed
// before it returns), close, read strictly after an offset, and wait for new events.
#include "core/errors.hpp"
#include "core/json.hpp"
#include "store/sqlite_store.hpp"
#include "store/system.hpp"

#include <algorithm>
#include <limits>

namespace hearth::store {

Tail read_tail(db::Connection& conn, std::string_view path) {
  auto row = conn.prepare("SELECT next_seq, closed FROM streams WHERE path = ?");
  row->bind(1, path);
  if (!row->step()) return {};
  return {.last_seq = row->int64(0) - 1, .closed = row->int64(1) != 0};
}

bool SqliteStore::create_stream(std::string_view path) {
  return m_pool.write([&](db::Connection& conn) {
    conn.prepare("INSERT INTO streams (path, created_ms) VALUES (?, ?) ON CONFLICT DO NOTHING")
        ->bind(1, path)
        .bind(2, sys::now_ms())
        .run();
    return conn.changes() > 0;
  });
}

Tail SqliteStore::append_in(db::Connection& conn, std::string_view path,
                            const std::vector<NewEvent>& events, bool close_after) {
  // Inside the write transaction nothing else moves the stream, so read its tail, then reserve
  // the seqs. Not `UPDATE … RETURNING`: SQLite buffers RETURNING rows in an ephemeral b-tree,
  // opened and torn down per append (a quarter million instructions per run, issue 17 §3).
  std::int64_t next = 0; // the stream's next_seq once these events are in
  {
    auto tail = conn.prepare("SELECT next_seq, closed FROM streams WHERE path = ?");
    tail->bind(1, path);
    if (!tail->step()) throw errors::stream_not_found(path);
    if (tail->int64(1) != 0) throw errors::stream_closed(path);
    next = tail->int64(0) + static_cast<std::int64_t>(events.size());
  }
  conn.prepare("UPDATE streams SET next_seq = ?2, closed = ?3 WHERE path = ?1")
      ->bind(1, path)
      .bind(2, next)
      .bind(3, std::int64_t{close_after ? 1 : 0})
      .run();
  auto seq = next - static_cast<std::int64_t>(events.size());
  const auto now = sys::now_ms();
  for (const auto& event : events) {
    conn.prepare("INSERT INTO events (path, seq, type, data, time_ms) VALUES (?, ?, ?, ?, ?)")
        ->bind(1, path)
        .bind(2, seq++)
        .bind(3, event.type)
        .bind(4, event_text(event))
        .bind(5, event.time_ms > 0 ? event.time_ms : now)
        .run();
  }
  return {.last_seq = next - 1, .closed = close_after};
}

std::int64_t SqliteStore::append(std::string_view path, const NewEvent& event) {
  return append_batch(path, {event}, false);
}

std::int64_t SqliteStore::append_batch(std::string_view path, const std::vector<NewEvent>& events,
                                       bool close_after) {
  // Group commit (issue 17 §3): appends that arrive while another thread holds the writer queue
  // here; whoever takes the writer next commits the whole queue in one transaction, each append
  // in its own savepoint, so one append's error (stream closed) fails only that append. An
  // append returns only once the transaction holding it has committed.
  PendingAppend mine{.path = path, .events = &events, .close_after = close_after};
  {
    std::lock_guard queue(m_append_queue_mutex);
    m_append_queue.push_back(&mine);
  }
  m_pool.write([&](db::Connection& conn) {
    if (mine.done) return; // committed by the thread that held the writer before us
    std::vector<PendingAppend*> group;
    {
      std::lock_guard queue(m_append_queue_mutex);
      group.swap(m_append_queue); // holds `mine`: only a writer takes the queue, marking all done
    }
    commit_group(conn, group);
  });
  if (mine.error) std::rethrow_exception(mine.error);
  // Waiters are woken only after the commit: "every event is committed before it is shown".
  publish(path, mine.tail);
  return mine.tail.last_seq + 1 - static_cast<std::int64_t>(events.size());
}

void SqliteStore::commit_group(db::Connection& conn, const std::vector<PendingAppend*>& group) {
  try {
    db::Transaction tx(conn, db::Transaction::Mode::write);
    if (group.size() == 1) {
      auto& one = *group.front();
      one.tail = append_in(conn, one.path, *one.events, one.close_after);
    } else {
      for (auto* pending : group) {
        conn.prepare("SAVEPOINT hearth_append")->run();
        try {
          pending->tail = append_in(conn, pending->path, *pending->events, pending->close_after);
        } catch (...) {
          pending->error = std::current_exception();
          conn.prepare("ROLLBACK TO hearth_append")->run();
        }
        conn.prepare("RELEASE hearth_append")->run();
      }
    }
    tx.commit();
  } catch (...) { // BEGIN or COMMIT failed, or the only append: none of them is stored
    for (auto* pending : group)
      if (!pending->error) pending->error = std::current_exception();
  }
  for (auto* pending : group) pending->done = true;
}

void SqliteStore::close_stream(std::string_view path) {
  const auto tail = m_pool.write([&](db::Connection& conn) {
    conn.prepare("UPDATE streams SET closed = 1 WHERE path = ?")->bind(1, path).run();
    if (conn.changes() == 0) throw errors::stream_not_found(path);
    return read_tail(conn, path);
  });
  publish(path, tail);
}

std::optional<StreamInfo> SqliteStore::stream_info_in(db::Connection& conn, std::string_view path) {
  auto row = conn.prepare("SELECT next_seq, closed, created_ms FROM streams WHERE path = ?");
  row->bind(1, path);
  if (!row->step()) return std::nullopt;
  return StreamInfo{.path = std::string(path),
                    .last_seq = row->int64(0) - 1,
                    .closed = row->int64(1) != 0,
                    .created_at = sys::iso_ms(row->int64(2))};
}

std::optional<StreamInfo> SqliteStore::stream_info(std::string_view path) {
  return m_pool.read([&](db::Connection& conn) { return stream_info_in(conn, path); });
}

ReadResult SqliteStore::read(std::string_view path, std::int64_t after_seq, std::size_t limit) {
  after_seq = std::max<std::int64_t>(after_seq, -1);
  return m_pool.read([&](db::Connection& conn) {
    ReadResult page{.next_seq = after_seq};
    // One read transaction: the events and the closed flag come from the same snapshot.
    db::Transaction tx(conn, db::Transaction::Mode::read);
    const auto info = stream_info_in(conn, path);
    if (!info) {
      page.up_to_date = true;
      return page;
    }
    page.exists = true;
    auto rows = conn.prepare("SELECT seq, type, data, time_ms FROM events "
                             "WHERE path = ? AND seq > ? ORDER BY seq LIMIT ?");
    rows->bind(1, path).bind(2, after_seq).bind(
        3, static_cast<std::int64_t>(
               std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max())));
    while (rows->step()) {
      auto data = hearth::parse_json_or_discarded(rows->text(2));
      if (data.is_discarded()) throw errors::store_corrupt(conn.path(), "a stored event is malformed");
      page.events.push_back({.seq = rows->int64(0),
                             .type = rows->text(1),
                             .data = std::move(data),
                             .time = sys::iso_ms(rows->int64(3))});
    }
    tx.commit();
    if (!page.events.empty()) page.next_seq = page.events.back().seq;
    page.up_to_date = page.next_seq >= info->last_seq;
    page.closed = info->closed && page.up_to_date;
    return page;
  });
}

bool SqliteStore::wait_for_events(std::string_view path, std::int64_t after_seq,
                                  Deadline deadline) {
  return m_watchers.wait(path, after_seq, deadline, [this](std::string_view p) {
    return m_pool.read([&](db::Connection& conn) { return read_tail(conn, p); });
  });
}

std::shared_ptr<void> SqliteStore::watch_events(std::string_view path, std::int64_t after_seq,
                                                std::function<void()> wake) {
  const auto id = m_watchers.listen(path, after_seq, std::move(wake), [this](std::string_view p) {
    return m_pool.read([&](db::Connection& conn) { return read_tail(conn, p); });
  });
  return std::shared_ptr<void>(nullptr, [this, id](void*) { m_watchers.cancel(id); });
}

} // namespace hearth::store

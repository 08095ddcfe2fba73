// Agent sessions (history with optimistic versions, Eve continuation tokens) and submissions.
#include "core/errors.hpp"
#include "core/json.hpp"
#include "store/sqlite_store.hpp"
#include "store/system.hpp"

namespace hearth::store {
namespace {

std::optional<SessionRecord> load(db::Connection& conn, const SessionKey& key) {
  auto row = conn.prepare("SELECT messages, version, continuation_token, created_ms, updated_ms, "
                          "parked FROM sessions WHERE agent = ? AND instance_id = ? AND name = ?");
  row->bind(1, key.agent).bind(2, key.instance_id).bind(3, key.name);
  if (!row->step()) return std::nullopt;
  auto messages = hearth::parse_json_or_discarded(row->text(0));
  if (messages.is_discarded())
    throw errors::store_corrupt(conn.path(), "a stored session is malformed");
  Json parked;
  if (!row->is_null(5)) {
    parked = hearth::parse_json_or_discarded(row->text(5));
    if (parked.is_discarded())
      throw errors::store_corrupt(conn.path(), "a stored parked turn is malformed");
  }
  return SessionRecord{.key = key,
                       .messages = std::move(messages),
                       .version = row->int64(1),
                       .continuation_token = row->text(2),
                       .parked = std::move(parked),
                       .created_at = sys::iso_ms(row->int64(3)),
                       .updated_at = sys::iso_ms(row->int64(4))};
}

// Inside a write transaction: the version check and the write of save_session. Returns the new
// version. The check reads the version only, not the history it would replace.
std::int64_t save_in(db::Connection& conn, const SessionKey& key, const Json& messages,
                     std::int64_t expected_version, const Json& parked, std::int64_t now) {
  auto current = conn.prepare(
      "SELECT version FROM sessions WHERE agent = ? AND instance_id = ? AND name = ?");
  current->bind(1, key.agent).bind(2, key.instance_id).bind(3, key.name);
  const auto actual = current->step() ? current->int64(0) : 0;
  if (actual != expected_version)
    throw errors::session_conflict(key.display(), expected_version, actual);
  auto insert = conn.prepare(
      "INSERT INTO sessions (agent, instance_id, name, messages, version, created_ms, "
      "updated_ms, parked) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5, ?6) "
      "ON CONFLICT DO UPDATE SET messages = ?4, version = version + 1, updated_ms = ?5, "
      "parked = ?6");
  insert->bind(1, key.agent)
      .bind(2, key.instance_id)
      .bind(3, key.name)
      .bind(4, hearth::dump_json(messages))
      .bind(5, now);
  if (parked.is_null()) insert->bind_null(6);
  else insert->bind(6, hearth::dump_json(parked));
  insert->run();
  return actual + 1;
}

void set_invoker_in(db::Connection& conn, const SessionKey& key, const Json& invoker) {
  conn.prepare("UPDATE sessions SET invoker = ? WHERE agent = ? AND instance_id = ? AND name = ?")
      ->bind(1, invoker.dump())
      .bind(2, key.agent)
      .bind(3, key.instance_id)
      .bind(4, key.name)
      .run();
}

SubmissionStatus parse_submission_status(const std::string& text) {
  if (text == "running") return SubmissionStatus::running;
  if (text == "done") return SubmissionStatus::done;
  if (text == "errored") return SubmissionStatus::errored;
  return SubmissionStatus::queued;
}

std::optional<Submission> load_submission(db::Connection& conn, std::string_view id) {
  auto row = conn.prepare("SELECT stream_path, status, created_ms, updated_ms FROM submissions "
                          "WHERE submission_id = ?");
  row->bind(1, id);
  if (!row->step()) return std::nullopt;
  return Submission{.submission_id = std::string(id),
                    .stream_path = row->text(0),
                    .status = parse_submission_status(row->text(1)),
                    .created_at = sys::iso_ms(row->int64(2)),
                    .updated_at = sys::iso_ms(row->int64(3))};
}

} // namespace

std::optional<SessionRecord> SqliteStore::load_session(const SessionKey& key) {
  return m_pool.read([&](db::Connection& conn) { return load(conn, key); });
}

SessionRecord SqliteStore::save_session(const SessionKey& key, const Json& messages,
                                        std::int64_t expected_version, const Json& parked) {
  const auto now = sys::now_ms();
  return m_pool.write([&](db::Connection& conn) {
    db::Transaction tx(conn, db::Transaction::Mode::write);
    save_in(conn, key, messages, expected_version, parked, now);
    auto saved = load(conn, key);
    tx.commit();
    return *saved;
  });
}

Store::SessionSave SqliteStore::save_session_after(const SessionKey& key, std::string_view path,
                                                   const std::vector<NewEvent>& events,
                                                   const Json& messages,
                                                   std::int64_t expected_version,
                                                   const Json& parked, const Json& invoker) {
  const auto now = sys::now_ms();
  SessionSave saved;
  const auto tail = m_pool.write([&](db::Connection& conn) {
    db::Transaction tx(conn, db::Transaction::Mode::write);
    const auto result = events.empty() ? read_tail(conn, path) : append_in(conn, path, events, false);
    saved.version = save_in(conn, key, messages, expected_version, parked, now);
    if (!invoker.is_null()) set_invoker_in(conn, key, invoker);
    tx.commit();
    return result;
  });
  if (!events.empty()) publish(path, tail);
  saved.first_seq = tail.last_seq + 1 - static_cast<std::int64_t>(events.size());
  return saved;
}

void SqliteStore::set_session_invoker(const SessionKey& key, const Json& invoker) {
  m_pool.write([&](db::Connection& conn) { set_invoker_in(conn, key, invoker); });
}

bool SqliteStore::delete_session(const SessionKey& key) {
  return m_pool.write([&](db::Connection& conn) {
    conn.prepare("DELETE FROM sessions WHERE agent = ? AND instance_id = ? AND name = ?")
        ->bind(1, key.agent)
        .bind(2, key.instance_id)
        .bind(3, key.name)
        .run();
    return conn.changes() > 0;
  });
}

std::string SqliteStore::rotate_continuation_token(const SessionKey& key) {
  auto token = sys::random_token();
  m_pool.write([&](db::Connection& conn) {
    conn.prepare("UPDATE sessions SET continuation_token = ? "
                 "WHERE agent = ? AND instance_id = ? AND name = ?")
        ->bind(1, token)
        .bind(2, key.agent)
        .bind(3, key.instance_id)
        .bind(4, key.name)
        .run();
    if (conn.changes() == 0) throw errors::session_not_found(key.display());
  });
  return token;
}

bool SqliteStore::check_continuation_token(const SessionKey& key, std::string_view token) {
  const auto session = load_session(key);
  if (!session || token.empty() || session->continuation_token.size() != token.size()) return false;
  // Constant time over the token's length: a caller learns nothing from how long a miss took.
  unsigned char diff = 0;
  for (std::size_t i = 0; i < token.size(); ++i)
    diff |= static_cast<unsigned char>(session->continuation_token[i] ^ token[i]);
  return diff == 0;
}

Submission SqliteStore::create_submission(std::string_view submission_id,
                                          std::string_view stream_path) {
  const auto now = sys::now_ms();
  return m_pool.write([&](db::Connection& conn) {
    conn.prepare("INSERT INTO submissions (submission_id, stream_path, status, created_ms, "
                 "updated_ms) VALUES (?1, ?2, 'queued', ?3, ?3) ON CONFLICT DO NOTHING")
        ->bind(1, submission_id)
        .bind(2, stream_path)
        .bind(3, now)
        .run();
    return *load_submission(conn, submission_id);
  });
}

void SqliteStore::set_submission_status(std::string_view submission_id, SubmissionStatus status) {
  m_pool.write([&](db::Connection& conn) {
    conn.prepare("UPDATE submissions SET status = ?, updated_ms = ? WHERE submission_id = ?")
        ->bind(1, to_string(status))
        .bind(2, sys::now_ms())
        .bind(3, submission_id)
        .run();
    if (conn.changes() == 0) throw errors::submission_not_found(submission_id);
  });
}

std::optional<Submission> SqliteStore::get_submission(std::string_view submission_id) {
  return m_pool.read([&](db::Connection& conn) { return load_submission(conn, submission_id); });
}

} // namespace hearth::store

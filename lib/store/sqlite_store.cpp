// Opening a store: location parsing, the connection pool, pragmas, migrations, the poller, and
// the record helpers shared by every backend (to_string, to_json).
#include "store/sqlite_store.hpp"

#include "core/errors.hpp"
#include "core/text.hpp"
#include "store/migrations.hpp"
#include "store/postgres_store.hpp"

#include <system_error>

namespace hearth::store {
namespace {

constexpr std::string_view k_memory = ":memory:";
constexpr auto k_poll_interval = std::chrono::milliseconds(50);
constexpr int k_checkpoint_pages = 1000; // SQLite's own default threshold
// How long a statement waits for another process's write lock before failing. Writes are
// short (an append is tens of microseconds), so this is only reached when something is stuck.
constexpr const char* k_common_pragmas = "PRAGMA busy_timeout = 5000;";

// The SQLite filename for `location`, or ":memory:".
std::string resolve_location(std::string_view location, const std::filesystem::path& base_dir) {
  if (location == "memory:" || location == k_memory || location == "sqlite::memory:")
    return std::string(k_memory);
  std::string_view path = location;
  if (text::starts_with(location, "sqlite:")) path = location.substr(7);
  else if (location.find(':') != std::string_view::npos) // another scheme
    throw errors::store_location_invalid(location);
  if (path.empty()) throw errors::store_location_invalid(location);
  auto full = std::filesystem::path(path);
  if (full.is_relative()) full = base_dir / full;
  std::error_code ec;
  const auto absolute = std::filesystem::absolute(full, ec);
  full = (ec ? full : absolute).lexically_normal();
  if (full.has_parent_path()) {
    std::filesystem::create_directories(full.parent_path(), ec);
    if (ec) throw errors::store_open_failed(full.string(), ec.message());
  }
  return full.string();
}

/// `sqlite:<path>?synchronous=full|normal` (docs/deploy.md "Durability"): the location without
/// the option, and whether every commit is fsynced. Throws store_location_invalid for another
/// option.
std::pair<std::string_view, bool> split_synchronous(std::string_view location) {
  const auto query = location.find('?');
  if (query == std::string_view::npos) return {location, false};
  const auto option = location.substr(query + 1);
  if (option != "synchronous=full" && option != "synchronous=normal")
    throw errors::store_location_invalid(location);
  return {location.substr(0, query), option == "synchronous=full"};
}

} // namespace

bool is_postgres_location(std::string_view location) {
  return text::starts_with(location, "postgres://") || text::starts_with(location, "postgresql://");
}

std::string_view to_string(RunStatus status) {
  switch (status) {
  case RunStatus::active: return "active";
  case RunStatus::completed: return "completed";
  case RunStatus::errored: return "errored";
  }
  return "errored";
}

std::string_view to_string(SubmissionStatus status) {
  switch (status) {
  case SubmissionStatus::queued: return "queued";
  case SubmissionStatus::running: return "running";
  case SubmissionStatus::done: return "done";
  case SubmissionStatus::errored: return "errored";
  }
  return "errored";
}

Json to_json(const RunRecord& run) {
  Json j = {{"runId", run.run_id},
            {"owner",
             {{"kind", "workflow"}, {"workflowName", run.workflow}, {"instanceId", run.run_id}}},
            {"status", to_string(run.status)},
            {"startedAt", run.started_at},
            {"payload", run.payload}};
  if (!run.invoker.is_null()) j["invoker"] = run.invoker;
  if (run.status == RunStatus::active) return j;
  j["endedAt"] = run.ended_at;
  j["isError"] = run.status == RunStatus::errored;
  if (run.duration_ms) j["durationMs"] = *run.duration_ms;
  if (run.status == RunStatus::completed) j["result"] = run.result;
  else j["error"] = run.error;
  return j;
}

std::string event_text(const NewEvent& event) {
  return event.members ? hearth::dump_json_with(event.data, *event.members)
                       : hearth::dump_json(event.data);
}

Json to_json(const Event& event) {
  Json j = event.data.is_object() ? event.data : Json{{"data", event.data}};
  j["type"] = event.type;
  j["eventIndex"] = event.seq;
  j["timestamp"] = event.time;
  return j;
}

// --- Pool -----------------------------------------------------------------------------------

Pool::Pool(std::string filename, std::string display_path, bool in_memory, bool synchronous_full)
    : m_filename(std::move(filename)), m_display(std::move(display_path)),
      m_in_memory(in_memory) {
  m_writer = std::make_unique<db::Connection>(m_filename, m_display);
  m_writer->exec(k_common_pragmas);
  if (!m_in_memory) {
    // WAL: readers never block the writer nor it them. synchronous=NORMAL (the default): a
    // commit survives a process crash (kill -9) without an fsync per commit; only a power loss
    // or kernel crash may drop the last commits, and never corrupts the file. FULL
    // (`?synchronous=full` on the location) fsyncs the WAL at every commit: commits survive a
    // power loss too, at the disk's fsync latency per commit (group commit shares it).
    // journal_size_limit: a WAL that grew during a burst shrinks back when it next restarts.
    m_writer->exec(synchronous_full ? "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
                                      "PRAGMA journal_size_limit = 8388608;"
                                    : "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                                      "PRAGMA journal_size_limit = 8388608;");
  }
  migrate(*m_writer);
}

std::unique_ptr<db::Connection> Pool::open_reader() const {
  auto conn = std::make_unique<db::Connection>(m_filename, m_display);
  conn->exec(k_common_pragmas);
  conn->exec("PRAGMA query_only = 1;");
  return conn;
}

Pool::Lease::Lease(Pool& owner) : pool(owner) {
  {
    std::lock_guard lock(pool.m_readers_mutex);
    if (!pool.m_idle_readers.empty()) {
      conn = std::move(pool.m_idle_readers.back());
      pool.m_idle_readers.pop_back();
      return;
    }
  }
  conn = pool.open_reader(); // opened outside the lock: a burst of readers never queues here
}

Pool::Lease::~Lease() {
  std::lock_guard lock(pool.m_readers_mutex);
  if (pool.m_idle_readers.size() < k_max_idle_readers)
    pool.m_idle_readers.push_back(std::move(conn));
}

// --- SqliteStore ------------------------------------------------------------------------------

SqliteStore::SqliteStore(const std::string& filename, bool synchronous_full)
    : m_pool(filename, filename == k_memory ? "memory:" : filename, filename == k_memory,
             synchronous_full),
      m_synchronous_full(synchronous_full && filename != k_memory),
      m_watchers(m_pool.in_memory() ? StreamWatchers::PollFn{} : make_poller(), k_poll_interval) {
  if (m_pool.in_memory()) return;
  auto conn = std::make_shared<std::unique_ptr<db::Connection>>(); // the checkpoint thread's own
  m_checkpointer = std::make_unique<Checkpointer>(
      [this, conn] {
        if (!*conn) *conn = m_pool.open_reader();
        (*conn)->query_int("PRAGMA wal_checkpoint(PASSIVE)");
      },
      k_checkpoint_pages);
  m_pool.write([&](db::Connection& writer) { m_checkpointer->attach(writer.handle()); });
}

SqliteStore::~SqliteStore() {
  if (m_checkpointer)
    m_pool.write([](db::Connection& writer) { Checkpointer::detach(writer.handle()); });
}

std::string SqliteStore::location() const {
  if (m_pool.in_memory()) return "memory:";
  return "sqlite:" + m_pool.display_path() + (m_synchronous_full ? "?synchronous=full" : "");
}

StreamWatchers::PollFn SqliteStore::make_poller() {
  // State owned by the poller thread alone: its own connection and the last data_version seen.
  // data_version changes whenever any other connection, in any process, commits.
  struct State {
    std::unique_ptr<db::Connection> conn{};
    std::int64_t data_version = -1;
  };
  auto state = std::make_shared<State>();
  return [this, state](const std::vector<std::string>& paths) {
    std::vector<std::pair<std::string, Tail>> tails;
    if (!state->conn) state->conn = m_pool.open_reader();
    const auto version = state->conn->query_int("PRAGMA data_version");
    if (version == state->data_version) return tails;
    state->data_version = version;
    db::Transaction tx(*state->conn, db::Transaction::Mode::read);
    for (const auto& path : paths) tails.emplace_back(path, read_tail(*state->conn, path));
    tx.commit();
    return tails;
  };
}

std::unique_ptr<Store> open_store(std::string_view location, const std::filesystem::path& base_dir) {
  if (is_postgres_location(location))
    return std::make_unique<PostgresStore>(std::string(location));
  const auto [path, synchronous_full] = split_synchronous(location);
  return std::make_unique<SqliteStore>(resolve_location(path, base_dir), synchronous_full);
}

} // namespace hearth::store

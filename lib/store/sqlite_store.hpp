// The SQLite implementation of Store: a file in WAL mode or one in-memory database. Method
// bodies are split by topic: runs.cpp, events.cpp, sessions.cpp. Private to lib/store.
#pragma once

#include "store/checkpointer.hpp"
#include "store/database.hpp"
#include "store/store.hpp"
#include "store/watchers.hpp"

#include <exception>
#include <memory>
#include <mutex>
#include <vector>

namespace hearth::store {

/// Connections for one database. The writer is shared under a mutex (SQLite allows one writer
/// at a time anyway, and serializing here avoids SQLITE_BUSY between our own threads). Readers
/// come from a free list and are opened on demand, so reads run beside a write (WAL). An
/// in-memory database has only the writer, used for everything.
class Pool {
public:
  /// `synchronous_full`: PRAGMA synchronous = FULL instead of NORMAL (file databases only).
  Pool(std::string filename, std::string display_path, bool in_memory, bool synchronous_full);

  template <class F> auto write(F&& fn) {
    std::lock_guard lock(m_write_mutex);
    return fn(*m_writer);
  }

  template <class F> auto read(F&& fn) {
    if (m_in_memory) return write(std::forward<F>(fn));
    Lease lease(*this);
    return fn(*lease.conn);
  }

  /// A new connection configured like the readers (for the poller thread's exclusive use).
  std::unique_ptr<db::Connection> open_reader() const;

  bool in_memory() const { return m_in_memory; }
  const std::string& display_path() const { return m_display; }

private:
  struct Lease { // a reader checked out of the free list, returned when the lease ends
    explicit Lease(Pool& pool);
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Pool& pool;
    std::unique_ptr<db::Connection> conn;
  };

  static constexpr std::size_t k_max_idle_readers = 8;
  std::string m_filename;
  std::string m_display;
  bool m_in_memory = false;
  std::mutex m_write_mutex;
  std::unique_ptr<db::Connection> m_writer;
  std::mutex m_readers_mutex;
  std::vector<std::unique_ptr<db::Connection>> m_idle_readers;
};

class SqliteStore final : public Store {
public:
  /// `filename` is a file path or ":memory:". Opens, configures and migrates (see open_store).
  /// `synchronous_full`: fsync every commit (location option `?synchronous=full`).
  explicit SqliteStore(const std::string& filename, bool synchronous_full = false);
  ~SqliteStore() override;

  std::string location() const override;

  RunRecord create_run(const NewRun& run) override;
  bool end_run(const RunEnd& end) override;
  std::optional<std::int64_t> end_run_after(const RunEnd& end,
                                            const std::vector<NewEvent>& events) override;
  std::optional<RunRecord> get_run(std::string_view run_id) override;
  std::vector<RunRecord> list_runs(const RunQuery& query) override;
  std::vector<std::string> recover_abandoned_runs() override;
  bool checkpoint_run(std::string_view run_id, std::int64_t fence, const Json& checkpoint) override;
  std::optional<std::int64_t> checkpoint_run_after(std::string_view run_id, std::int64_t fence,
                                                   const std::vector<NewEvent>& events,
                                                   const Json& checkpoint) override;
  Json run_checkpoint(std::string_view run_id) override;
  std::vector<AbandonedRun> abandoned_runs() override;
  std::optional<RunRecord> take_over_run(std::string_view run_id, std::int64_t fence) override;

  bool create_stream(std::string_view path) override;
  std::int64_t append(std::string_view path, const NewEvent& event) override;
  std::int64_t append_batch(std::string_view path, const std::vector<NewEvent>& events,
                            bool close_after) override;
  void close_stream(std::string_view path) override;
  std::optional<StreamInfo> stream_info(std::string_view path) override;
  ReadResult read(std::string_view path, std::int64_t after_seq, std::size_t limit) override;
  std::shared_ptr<void> watch_events(std::string_view path, std::int64_t after_seq,
                                     std::function<void()> wake) override;
  bool wait_for_events(std::string_view path, std::int64_t after_seq,
                       Deadline deadline) override;

  std::optional<SessionRecord> load_session(const SessionKey& key) override;
  using Store::save_session;
  SessionRecord save_session(const SessionKey& key, const Json& messages,
                             std::int64_t expected_version, const Json& parked) override;
  SessionSave save_session_after(const SessionKey& key, std::string_view path,
                                 const std::vector<NewEvent>& events, const Json& messages,
                                 std::int64_t expected_version, const Json& parked,
                                 const Json& invoker) override;
  void set_session_invoker(const SessionKey& key, const Json& invoker) override;
  bool delete_session(const SessionKey& key) override;
  std::string rotate_continuation_token(const SessionKey& key) override;
  bool check_continuation_token(const SessionKey& key, std::string_view token) override;

  void create_approval(const ApprovalRecord& record) override;
  std::optional<ApprovalRecord> get_approval(std::string_view approval_id) override;
  std::vector<ApprovalRecord> list_approvals(std::string_view owner, std::string_view session,
                                             bool pending_only) override;
  bool decide_approval(std::string_view approval_id, std::string_view status,
                       const Json& decision) override;
  void put_credential(std::string_view key, std::string_view secret) override;
  std::optional<std::string> get_credential(std::string_view key) override;
  bool delete_credential(std::string_view key) override;

  Submission create_submission(std::string_view submission_id,
                               std::string_view stream_path) override;
  void set_submission_status(std::string_view submission_id, SubmissionStatus status) override;
  std::optional<Submission> get_submission(std::string_view submission_id) override;

  bool claim_fire(const FireRecord& fire) override;
  void set_fire_status(std::string_view fire_id, std::string_view status) override;
  std::optional<FireRecord> take_queued_fire(std::string_view schedule) override;
  std::vector<FireRecord> recover_fires() override;
  bool fire_running(std::string_view schedule) override;
  std::optional<std::int64_t> latest_fire(std::string_view schedule) override;
  std::vector<FireRecord> list_fires(std::string_view schedule, std::size_t limit) override;
  DispatchAdmission admit_dispatch(const NewDispatch& dispatch) override;
  std::optional<DispatchRecord> next_dispatch(std::string_view agent,
                                              std::string_view instance_id) override;
  std::vector<DispatchRecord> unfinished_dispatches(std::size_t limit) override;
  bool set_dispatch_status(std::string_view dispatch_id, std::string_view status,
                           const Json& outcome = Json()) override;
  bool take_dispatch(std::string_view dispatch_id) override;
  std::optional<DispatchRecord> get_dispatch(std::string_view dispatch_id) override;

private:
  // Inside a write transaction: appends `events` (throwing stream_not_found/closed), optionally
  // closes, and returns the new tail. The caller commits, then calls publish().
  Tail append_in(db::Connection& conn, std::string_view path, const std::vector<NewEvent>& events,
                 bool close_after);
  // Inside a write transaction: ends the run and writes its run_end event, after `before`.
  // Returns the stream tail to publish, or nullopt (nothing written) when the run was not
  // active under end.fence.
  std::optional<Tail> end_run_in(db::Connection& conn, const RunEnd& end, std::int64_t now,
                                 const std::vector<NewEvent>& before = {});
  // Inside create_run's transaction, `memory:` stores only: past k_memory_max_runs runs, drops
  // the oldest finished ones (record, stream, events) and says so on stderr.
  void evict_finished_runs(db::Connection& conn);
  // One caller's append_batch waiting for a group commit; lives on that caller's stack.
  struct PendingAppend {
    std::string_view path;
    const std::vector<NewEvent>* events = nullptr;
    bool close_after = false;
    bool done = false; // written and read under the writer's mutex
    Tail tail{};
    std::exception_ptr error{};
  };
  // With the writer held: appends every queued batch in one transaction and marks each done,
  // with its tail or its error.
  void commit_group(db::Connection& conn, const std::vector<PendingAppend*>& group);
  static std::optional<StreamInfo> stream_info_in(db::Connection& conn, std::string_view path);
  void publish(std::string_view path, Tail tail) { m_watchers.notify(path, tail); }
  StreamWatchers::PollFn make_poller();

  Pool m_pool;
  bool m_synchronous_full = false;
  StreamWatchers m_watchers; // after m_pool: its poller thread uses a connection of the pool's file
  std::unique_ptr<Checkpointer> m_checkpointer; // file stores only
  std::int64_t m_evicted_runs = 0;              // memory stores: runs evicted so far
  std::mutex m_append_queue_mutex;
  std::vector<PendingAppend*> m_append_queue; // appends waiting for the writer (append_batch)
};

/// Reads one stream's tail with `conn`; a missing stream reads as {-1, false}.
Tail read_tail(db::Connection& conn, std::string_view path);

} // namespace hearth::store

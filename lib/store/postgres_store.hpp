// The PostgreSQL implementation of Store (issue 15 §2; docs/deploy.md "PostgreSQL"): several
// `hearth start` replicas share one database. Same contract as SqliteStore (checked by the same
// tests in tests/unit/store/), plus what replicas need:
//  * ownership by lease: each process has a random owner id; the runs, dispatches and schedule
//    fires it owns carry `lease_ms`. The heartbeat renews, every third of the lease, only the
//    rows this Store registered as executing (registered when it creates, takes or takes over
//    one, unregistered when it ends or hands it back): a row owned by this process that nobody
//    executes (a take whose COMMIT was lost) expires and is taken over like a dead replica's.
//    Another replica (or this one) takes a row over once its lease expired (or at once when the
//    owner is a dead process on the same host and pid namespace). Take-overs lock rows with
//    FOR UPDATE SKIP LOCKED.
//  * fencing: a take-over increments the run's fence and its stream's; every append this Store
//    makes to the stream of a run it executes carries the fence it holds and is refused
//    atomically (errors::run_taken_over, nothing written) once another owner took the run.
//  * live reads across replicas: every append NOTIFYs a channel of this schema; a listener
//    connection per Store wakes the local waiters of that stream.
// Private to lib/store.
#pragma once

#include "store/pg.hpp"
#include "store/store.hpp"
#include "store/watchers.hpp"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

namespace hearth::store {

/// Lease length when HEARTH_LEASE_MS is not set: a dead replica's runs are taken over within it.
inline constexpr std::int64_t k_default_lease_ms = 15'000;

class PostgresStore final : public Store {
public:
  /// Connects to `url` (postgres:// or postgresql://), migrates, and starts the listener and
  /// heartbeat thread. Throws store_open_failed, store_foreign, store_too_new or store_failed.
  explicit PostgresStore(const std::string& url);
  ~PostgresStore() override;

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
  // Inside a transaction (or alone): appends `events`, optionally closes, NOTIFYs, and returns
  // the new tail. Throws stream_not_found / stream_closed.
  Tail append_in(pg::Connection& conn, std::string_view path, const std::vector<NewEvent>& events,
                 bool close_after);
  // Inside a transaction: ends the run and appends its run_end, after `before`. Returns the
  // tail, or nullopt (nothing written) when the run was not active under `fence`.
  std::optional<Tail> end_run_in(pg::Connection& conn, const RunEnd& end,
                                 std::optional<std::int64_t> fence,
                                 const std::vector<NewEvent>& before = {});
  Tail probe(std::string_view path);
  // True when an owner (host, pid, start, lease expired?) is gone: its lease expired, or it is
  // a dead process of this host and pid namespace.
  bool owner_gone(const std::string& host, int pid, const std::string& start, bool expired) const;
  /// A fire row (k_fire_columns at row `i`) whose owner is gone: none recorded, its lease
  /// expired, or a dead process on this host. One this Store executes is never gone.
  bool fire_owner_gone(const pg::Result& r, int i) const;
  void background(); // the listener + heartbeat thread
  void heartbeat(pg::Connection& conn);

  // --- what this process executes (the heartbeat's registry) ---------------------------------
  /// Registers run `run_id` as executed here under `fence`.
  void hold_run(const std::string& run_id, std::int64_t fence);
  /// Forgets run `run_id` (it ended, or this process handed it back).
  void drop_run(std::string_view run_id);
  /// The fence this process holds for the run whose stream is `path` ("runs/<runId>"), or
  /// nullopt when it executes no such run (the append is not fenced).
  std::optional<std::int64_t> held_fence(std::string_view path) const;
  /// True when this Store executes run `run_id` and still renews its lease.
  bool executes_run(std::string_view run_id) const;
  void hold(std::set<std::string, std::less<>>& set, std::string_view id);
  void drop(std::set<std::string, std::less<>>& set, std::string_view id);
  bool holds(const std::set<std::string, std::less<>>& set, std::string_view id) const;

  struct HeldRun {
    std::int64_t fence = 0;
    bool renewed = true; // false once the heartbeat found it no longer ours (kept for fencing)
  };
  mutable std::mutex m_held_mutex;
  std::map<std::string, HeldRun, std::less<>> m_held_runs;
  std::set<std::string, std::less<>> m_held_dispatches;
  std::set<std::string, std::less<>> m_held_fires;

  std::string m_display;
  pg::Pool m_pool;
  StreamWatchers m_watchers;
  std::string m_owner_id; // random per Store (i.e. per process in production)
  std::string m_host;     // boot id + pid namespace
  int m_pid = 0;
  std::string m_start;
  std::int64_t m_lease_ms = k_default_lease_ms;
  std::string m_channel; // NOTIFY channel of this schema: hearth_<md5(current_schema)>
  int m_stop_fd = -1;     // eventfd: wakes the background thread to stop
  std::atomic<bool> m_stopping{false};
  std::thread m_background;
};

/// The PostgreSQL schema version this build writes (postgres_schema.cpp).
int postgres_schema_version();

/// Brings the database to the latest PostgreSQL schema under an advisory lock. Throws
/// store_foreign, store_too_new or PgError.
void migrate_postgres(pg::Connection& conn, const std::string& display);

} // namespace hearth::store

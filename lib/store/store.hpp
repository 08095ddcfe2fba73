// The durable store (ARCHITECTURE.md §9): workflow runs, append-only event streams, agent
// sessions and submissions. One interface; SQLite (file in WAL mode, or in memory) and PostgreSQL
// (postgres_store.hpp: several replicas on one database) implement it, and the contract tests in
// tests/unit/store/ run against each.
#pragma once

#include "core/json.hpp"
#include "store/offsets.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::store {

using Json = nlohmann::json;
using Deadline = std::chrono::steady_clock::time_point;

/// Where `hearth` keeps state unless hearth.json or a flag says otherwise.
inline constexpr std::string_view k_default_location = "sqlite:.hearth/state.db";
/// Page size of a stream read (Flue 0.11: 100 events per response).
inline constexpr std::size_t k_default_page = 100;
/// Runs listed when no limit is given, and the most one call returns (Flue's run registry).
inline constexpr std::size_t k_default_run_list = 100;
inline constexpr std::size_t k_max_run_list = 1000;
/// A `memory:` store keeps at most this many runs: past it the oldest finished runs (record,
/// stream and events) are evicted, k_memory_evict_batch at a time, and a line says so on stderr.
inline constexpr std::int64_t k_memory_max_runs = 1000;
inline constexpr std::int64_t k_memory_evict_batch = 100;

// --- runs (seed 003 page 09 "Run lifecycle", Flue RunRecord) ---------------------------------

enum class RunStatus { active, completed, errored };

/// "active" | "completed" | "errored".
std::string_view to_string(RunStatus status);

struct NewRun {
  std::string run_id{};   // `run_<ULID>`, chosen by the caller
  std::string workflow{}; // workflow name
  Json payload = Json::object();
  int owner_pid = 0; // the process executing the run; 0 means this process (the usual case)
  Json invoker{};    // who started it ({id, kind?, label?, meta?}); null: unknown
  /// Durable runs: after its owner dies, a serving runtime takes the run over and continues it
  /// from its checkpoint (take_over_run) instead of ending it runtime_crashed.
  bool resumable = false;
};

struct RunRecord {
  std::string run_id{};
  std::string workflow{};
  RunStatus status = RunStatus::active;
  Json payload = Json::object();
  Json result{};          // null unless completed
  Json error{};           // null unless errored; {type, message, details}
  std::string started_at{}; // ISO-8601 UTC with milliseconds, e.g. 2026-11-21T01:47:00.205Z
  std::string ended_at{};   // empty while active
  std::optional<std::int64_t> duration_ms{};
  int owner_pid = 0;
  Json invoker{}; // null when the run predates invokers
  bool resumable = false;
  int attempts = 1;        // 1 + the take-overs so far
  std::int64_t fence = 0;  // +1 per take-over; writes of an older owner carry an older fence
};

/// The Flue `RunRecord` JSON served by `GET /runs/:runId?meta`: runId, owner {kind: "workflow",
/// workflowName, instanceId = runId}, status, startedAt, payload, and once ended endedAt, isError,
/// durationMs and result or error.
Json to_json(const RunRecord& run);

struct RunEnd {
  std::string run_id{};
  RunStatus status = RunStatus::completed; // completed or errored
  Json result{};                           // when completed
  Json error{};                            // when errored: {type, message, details}
  /// Durable runs: when set, the end applies only while the run's fence is still this one (the
  /// owner was not replaced by a take-over); otherwise end_run returns false.
  std::optional<std::int64_t> fence{};
};

/// An active resumable run whose owner process is gone (Store::abandoned_runs).
struct AbandonedRun {
  std::string run_id{};
  std::string workflow{};
  int attempts = 1;
  std::int64_t fence = 0;
  int owner_pid = 0;
};

struct RunQuery {
  std::size_t limit = k_default_run_list; // clamped to 1..k_max_run_list
  std::optional<RunStatus> status{};
  std::optional<std::string> workflow{};
  bool summary = false; // true: payload, result and error are not read (null) — for listings
};

// --- event streams (seed page 17 "Stream reads"; Durable Streams; Flue EventStreamStore) -----

/// An event to append. `data` is the event body without the envelope fields the store keeps
/// itself (`type`, `eventIndex` = seq, `timestamp` = time). `time_ms` is when it happened
/// (milliseconds since the epoch; 0: the time of the append): a deferred commit stores when the
/// event was emitted, so a replay shows the timestamps the live stream showed.
/// `members`: string members stored as part of `data` (an object) where it has none of that name,
/// sorted by key: the runtime's envelope (runId, session, ...), shared by the events it emits
/// under one envelope instead of copied into each DOM (issue 17 §3). Null: none.
struct NewEvent {
  std::string type{};
  Json data = Json::object();
  std::int64_t time_ms = 0;
  std::shared_ptr<const std::vector<JsonMember>> members{};
};

/// The stored body of `event`: `data` with its `members`, as compact JSON text (dump_json_with).
std::string event_text(const NewEvent& event);

struct Event {
  std::int64_t seq = 0; // 0-based position in its stream; Flue's eventIndex on run streams
  std::string type{};
  Json data = Json::object();
  std::string time{}; // ISO-8601 UTC with milliseconds, stamped at append
};

/// `data` plus `type`, `eventIndex` and `timestamp`: the Flue wire shape of one event.
Json to_json(const Event& event);

struct StreamInfo {
  std::string path{};
  std::int64_t last_seq = -1; // seq of the newest event; -1 when empty
  bool closed = false;
  std::string created_at{};
};

struct ReadResult {
  bool exists = false;       // false: no such stream (the page is empty and up to date)
  std::vector<Event> events{}; // strictly after the requested offset, oldest first
  std::int64_t next_seq = -1;  // last seq delivered, or the requested one if nothing was
  bool up_to_date = false;     // the page reached the stream's tail at read time
  bool closed = false;         // closed AND up to date: the end of the stream (Stream-Closed)
  /// `format_offset(next_seq)`: the Stream-Next-Offset header value.
  std::string next_offset() const { return format_offset(next_seq); }
};

// --- sessions (seed page 07 "Runtime models": agent / instance / session) -----------------

struct SessionKey {
  std::string agent{};       // agent name
  std::string instance_id{}; // caller-chosen instance id (Flue :id, Eve sessionId)
  std::string name = "default";
  /// `agent/instance_id/name`, for messages.
  std::string display() const { return agent + "/" + instance_id + "/" + name; }
};

struct SessionRecord {
  SessionKey key{};
  Json messages = Json::array(); // the harness owns the message shape
  std::int64_t version = 0;      // 1 after the first save; +1 per save
  std::string continuation_token{}; // Eve continuationToken; empty until rotated
  /// approvals: the parked turn (runtime/harness.hpp ParkedTurn JSON) while the session waits for
  /// input (status "waiting"); null when idle.
  Json parked{};
  std::string created_at{};
  std::string updated_at{};
};

// --- approvals (issue 12 §2; seed 001 "Policy and approvals") -------------------------------

/// One Approval Request (kind "approval") or ask_question request (kind "question"). `owner` is
/// the stream it belongs to: `agents/<agent>/<instanceId>` (with `session`) or `runs/<runId>`.
struct ApprovalRecord {
  std::string approval_id{};
  std::string owner{};
  std::string session{};           // session name for agent owners; empty for runs
  std::string kind = "approval";   // approval | question
  std::string tool_name{};
  std::string tool_call_id{};
  Json request = Json::object();   // the request event body (args, reason, options, prompt, ...)
  std::string status = "pending";  // pending | approved | denied | answered
  Json decision{};                 // {decision, reason?, invoker?, answer?} once decided
  std::string created_at{};
  std::string decided_at{};
};

// --- submissions (agent HTTP admissions) ----------------------------------------------------

enum class SubmissionStatus { queued, running, done, errored };

/// "queued" | "running" | "done" | "errored".
std::string_view to_string(SubmissionStatus status);

struct Submission {
  std::string submission_id{};
  std::string stream_path{};
  SubmissionStatus status = SubmissionStatus::queued;
  std::string created_at{};
  std::string updated_at{};
};

// --- triggers (issue 14): schedule fires and durable dispatch admission ---------------------

/// One fire of a schedule, recorded before it runs: a cron or catch-up fire is unique per
/// (schedule, scheduled_ms), so no restart or second process ever runs the same cron time twice;
/// a manual fire is unique by its own `fire_id` (it never takes a cron time's slot).
struct FireRecord {
  std::string fire_id{};         // `fire_<ULID>`; claim_fire makes one when empty
  std::string schedule{};
  std::int64_t scheduled_ms = 0; // the cron time (ms since the epoch, UTC); manual: when asked
  std::string trigger = "cron";  // cron | catch-up | manual
  std::string session_id{};      // the fresh agent instance (or script run) the fire runs as
  /// queued | running | done | errored | skipped | interrupted (its owner died while it ran)
  std::string status = "running";
  std::string fired_at{};        // ISO-8601 UTC (ms) when recorded
  std::string ended_at{};        // "" until done, errored, skipped or interrupted
};

/// Input for one agent instance, admitted durably (seed 003 "Dispatch to agents").
struct NewDispatch {
  std::string agent{};
  std::string instance_id{};
  Json input{};                   // snapshotted at admission; null is allowed
  std::string idempotency_key{};  // "" : none; scoped to `agent` (HTTP keys also to the invoker)
  std::string source{};           // "channel:<name>" | "http" | "schedule:<name>" | ...
  Json invoker{};                 // who dispatched ({id, kind, ...})
  /// Channel dispatches only: the verified delivery's destination; tools of this dispatch's turn
  /// read it as HEARTH_CONVERSATION_KEY. "" for every other source (never the instance id).
  std::string conversation_key{};
  /// invoker.resolve's context values for the turn (an object, or null). Part of what a replay
  /// must match.
  Json context{};
  /// What the first answer said besides the receipt (HTTP: {streamUrl, offset}); a replay
  /// answers with the same. Null: nothing.
  Json receipt{};
};

struct DispatchRecord {
  std::int64_t seq = 0;           // admission order (all agents)
  std::string dispatch_id{};      // `dsp_<ULID>`
  std::string agent{};
  std::string instance_id{};
  Json input{};
  std::string input_hash{};       // sha256 hex of {agent, id, input[, context]} as compact JSON
  std::string idempotency_key{};
  std::string source{};
  Json invoker{};
  std::string conversation_key{}; // see NewDispatch
  std::string status = "queued";  // queued | running | done | errored
  std::string accepted_at{};      // ISO-8601 UTC (ms)
  std::string updated_at{};
  Json context{};                 // see NewDispatch
  Json receipt{};                 // see NewDispatch
  Json outcome{};                 // once done: {"result": ...}; errored: {"error": {type, message}}
};

/// What admit_dispatch decided: a new row, or (`replayed`) the original one for the same key and
/// the same input.
struct DispatchAdmission {
  DispatchRecord record{};
  bool replayed = false;
};

/// Threading contract: every member function may be called from any thread concurrently. Writes
/// are serialized inside the store (one writer connection); reads use a small pool of reader
/// connections and never wait for a writer (WAL). `memory:` stores use one connection for all.
/// PostgreSQL: a pool of at most 8 connections for reads and writes (row locks serialize what
/// must be), plus one connection that LISTENs for other replicas' appends and renews leases.
/// The Store must outlive every call in flight, including wait_for_events().
/// Every function throws hearth::Error (core/errors.hpp) on a database failure (store_failed).
class Store {
public:
  virtual ~Store() = default;
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  /// `sqlite:/abs/state.db` or `memory:`: what the store was opened on, for messages.
  virtual std::string location() const = 0;

  // Runs ---------------------------------------------------------------------------------------

  /// Records an `active` run owned by `run.owner_pid` (default: this process) and creates its
  /// stream `runs/<runId>` in one transaction. Idempotent: on a duplicate runId the first record
  /// wins and is returned unchanged.
  virtual RunRecord create_run(const NewRun& run) = 0;

  /// Ends an active run in one transaction: sets status, result or error, endedAt and durationMs,
  /// appends the terminal `run_end` event {runId, isError, durationMs, result|error} to its stream
  /// and closes the stream. Returns false (changing nothing) if the run had already ended.
  /// Throws run_not_found.
  virtual bool end_run(const RunEnd& end) = 0;

  /// end_run with the events the run queued before its end (issue 17 §3: one commit where there
  /// were two): appends `events` to `runs/<runId>`, then ends the run as end_run does (its
  /// run_end last), in one transaction. Returns the seq of the first of `events` (with none, of
  /// run_end) when the run ended here; nullopt, writing nothing, when it had already ended or
  /// its fence moved (the events are not appended either: its stream is closed or not this
  /// owner's). Throws run_not_found, stream_closed (a stream closed by hand while its run was
  /// active: nothing is written), store_failed.
  virtual std::optional<std::int64_t> end_run_after(const RunEnd& end,
                                                    const std::vector<NewEvent>& events) = 0;

  /// The run, or nullopt.
  virtual std::optional<RunRecord> get_run(std::string_view run_id) = 0;

  /// Runs newest first (by startedAt, then runId), filtered by `query`.
  virtual std::vector<RunRecord> list_runs(const RunQuery& query = {}) = 0;

  /// Ends every `active` run whose owner process no longer exists (a runtime killed with -9) as
  /// errored {type: "runtime_crashed", message: "The runtime exited before the run finished."},
  /// with a `run_end` event (isError true) and a closed stream. Runs of live processes, this one
  /// included, are left alone. Returns the recovered run ids. Call once at runtime start.
  virtual std::vector<std::string> recover_abandoned_runs() = 0;

  // Durable runs (issue 15 §1; docs/runtime.md "Durable runs") ---------------------------------
  // A resumable run's owner writes a checkpoint after every completed step; when the owner dies,
  // a serving runtime takes the run over (one conditional UPDATE on the fence: of two takers
  // exactly one wins) and continues from the checkpoint. recover_abandoned_runs() leaves
  // resumable runs alone.

  /// Replaces the run's checkpoint (the turn state, compact JSON) if it is still active and its
  /// fence is `fence`. Returns false, writing nothing, when it is not: the caller was taken
  /// over and must stop. Committed before it returns.
  virtual bool checkpoint_run(std::string_view run_id, std::int64_t fence,
                              const Json& checkpoint) = 0;

  /// checkpoint_run with the events queued before the checkpoint (issue 17 §3: one commit where
  /// there were two): appends `events` to `runs/<runId>` and replaces the checkpoint in one
  /// transaction, all or nothing. Returns the seq of the first event (with none, the stream's
  /// next seq), or nullopt, writing nothing, when the run is no longer active under `fence`
  /// (taken over, or ended). Throws stream_closed, store_failed.
  virtual std::optional<std::int64_t> checkpoint_run_after(std::string_view run_id,
                                                           std::int64_t fence,
                                                           const std::vector<NewEvent>& events,
                                                           const Json& checkpoint) = 0;

  /// The run's last checkpoint, or null (none yet, or no such run).
  virtual Json run_checkpoint(std::string_view run_id) = 0;

  /// Active resumable runs whose owner process no longer exists (this process's excluded),
  /// oldest first, at most 1000. PostgreSQL (replicas on several hosts): also runs whose owner's
  /// lease expired (its heartbeat stopped for HEARTH_LEASE_MS); pids are only checked for owners
  /// on this host and pid namespace.
  virtual std::vector<AbandonedRun> abandoned_runs() = 0;

  /// Takes run `run_id` over for this process if it is still active with fence `fence`: owner =
  /// this process, attempts + 1, fence + 1, in one UPDATE. Returns the updated record when this
  /// call won, nullopt when another taker (or the owner ending it) came first.
  virtual std::optional<RunRecord> take_over_run(std::string_view run_id, std::int64_t fence) = 0;

  // Event streams ------------------------------------------------------------------------------

  /// Creates the stream if missing (idempotent). Returns true if this call created it.
  virtual bool create_stream(std::string_view path) = 0;

  /// Appends one event and returns its seq. Committed (durable) before it returns. Throws
  /// stream_not_found or stream_closed.
  virtual std::int64_t append(std::string_view path, const NewEvent& event) = 0;

  /// Appends `events` in one transaction (all or none) and returns the seq of the first; with
  /// `close_after`, also closes the stream. Throws stream_not_found or stream_closed.
  virtual std::int64_t append_batch(std::string_view path, const std::vector<NewEvent>& events,
                                    bool close_after = false) = 0;

  /// Closes the stream: no more appends, readers see `closed`. Idempotent. Throws stream_not_found.
  virtual void close_stream(std::string_view path) = 0;

  /// Tail and closed state of a stream, or nullopt when it does not exist. Resolve `now`
  /// offsets with `last_seq`.
  virtual std::optional<StreamInfo> stream_info(std::string_view path) = 0;

  /// Up to `limit` events with seq > `after_seq` (-1: from the start). A missing stream gives an
  /// empty, up-to-date page with exists=false (no throw).
  virtual ReadResult read(std::string_view path, std::int64_t after_seq,
                          std::size_t limit = k_default_page) = 0;

  /// Blocks until the stream has an event after `after_seq` or is closed (returns true), or
  /// until `deadline` (returns false). Appends by this Store wake waiters at once; appends by
  /// other processes sharing the file are noticed by one shared poller within ~50 ms. Waiters
  /// hold no database connection while blocked.
  virtual bool wait_for_events(std::string_view path, std::int64_t after_seq,
                               Deadline deadline) = 0;

  /// The asynchronous form of wait_for_events(): calls `wake` once (from any thread, possibly
  /// inline before returning) when the stream has an event after `after_seq` or is closed; no
  /// thread blocks meanwhile. Destroying the returned handle cancels the watch; a `wake` already
  /// running may still complete afterwards, so it must own what it touches (post to an executor
  /// through a weak/shared pointer). Appends by other processes are seen by the same poller.
  virtual std::shared_ptr<void> watch_events(std::string_view path, std::int64_t after_seq,
                                             std::function<void()> wake) = 0;

  // Sessions -----------------------------------------------------------------------------------

  /// The saved session, or nullopt.
  virtual std::optional<SessionRecord> load_session(const SessionKey& key) = 0;

  /// Saves `messages` and `parked` (null: the session is idle) if the stored version is still
  /// `expected_version` (0: the session must not exist yet) and returns the new record
  /// (version + 1). Throws session_conflict.
  virtual SessionRecord save_session(const SessionKey& key, const Json& messages,
                                     std::int64_t expected_version, const Json& parked) = 0;
  /// save_session with no parked turn.
  SessionRecord save_session(const SessionKey& key, const Json& messages,
                             std::int64_t expected_version) {
    return save_session(key, messages, expected_version, Json());
  }

  /// What save_session_after wrote.
  struct SessionSave {
    std::int64_t version = 0;   // the session's new version
    std::int64_t first_seq = 0; // the seq of the first event (with none, the stream's next seq)
  };
  /// save_session with the events the turn queued before the save (issue 17 §3: one commit
  /// where there were up to three): appends `events` to the stream `path`, saves `messages` and
  /// `parked` under the version check, and with a non-null `invoker` sets it as
  /// set_session_invoker does, in one transaction, all or nothing. Throws session_conflict,
  /// stream_not_found, stream_closed, store_failed.
  virtual SessionSave save_session_after(const SessionKey& key, std::string_view path,
                                         const std::vector<NewEvent>& events,
                                         const Json& messages, std::int64_t expected_version,
                                         const Json& parked, const Json& invoker = Json()) = 0;

  /// Records the invoker of the session's latest invocation (seed 002). No-op when the session
  /// does not exist.
  virtual void set_session_invoker(const SessionKey& key, const Json& invoker) = 0;

  /// Deletes the session; returns false if there was none.
  virtual bool delete_session(const SessionKey& key) = 0;

  /// Stores a fresh random continuation token for the session and returns it; the previous one
  /// stops being valid. Throws session_not_found.
  virtual std::string rotate_continuation_token(const SessionKey& key) = 0;

  /// True when `token` is the session's current continuation token (constant-time compare);
  /// false for a missing session or an empty token.
  virtual bool check_continuation_token(const SessionKey& key, std::string_view token) = 0;

  // Approvals ----------------------------------------------------------------------------------

  /// Records a pending request (status and decision of `record` are ignored). Idempotent by id.
  virtual void create_approval(const ApprovalRecord& record) = 0;

  /// The request, or nullopt.
  virtual std::optional<ApprovalRecord> get_approval(std::string_view approval_id) = 0;

  /// Requests of `owner` (and `session`, when not empty), oldest first; with `pending_only`, only
  /// undecided ones. Bounded to the newest 1000.
  virtual std::vector<ApprovalRecord> list_approvals(std::string_view owner,
                                                     std::string_view session,
                                                     bool pending_only) = 0;

  /// Decides a pending request: `status` approved | denied | answered, `decision` its body.
  /// Returns false (changing nothing) when it was not pending; throws approval_not_found.
  virtual bool decide_approval(std::string_view approval_id, std::string_view status,
                               const Json& decision) = 0;

  // Connection credentials (issue 13 §4) -------------------------------------------------------

  /// Stores `secret` under `key` (an MCP connection's OAuth tokens: "agent\nconnection\nurl"),
  /// replacing what was there. `secret` is opaque text the caller already encrypted
  /// (mcp/credentials.hpp); it is never logged, streamed or put in history.
  virtual void put_credential(std::string_view key, std::string_view secret) = 0;

  /// The secret stored under `key`, or nullopt.
  virtual std::optional<std::string> get_credential(std::string_view key) = 0;

  /// Forgets `key` (a token the server refused). Returns false when there was nothing.
  virtual bool delete_credential(std::string_view key) = 0;

  // Submissions --------------------------------------------------------------------------------

  /// Records a `queued` submission; idempotent by id (the first record wins and is returned).
  virtual Submission create_submission(std::string_view submission_id,
                                       std::string_view stream_path) = 0;

  /// Moves the submission to `status`. Throws submission_not_found.
  virtual void set_submission_status(std::string_view submission_id, SubmissionStatus status) = 0;

  /// The submission, or nullopt.
  virtual std::optional<Submission> get_submission(std::string_view submission_id) = 0;

  // Triggers (issue 14) --------------------------------------------------------------------------

  /// Records `fire` owned by this process (pid + start time) unless it exists: a cron or
  /// catch-up fire of the same schedule and scheduled_ms, or a fire with the same fire_id.
  /// Returns true when this call recorded it (the caller may run it), false when it was there
  /// already (the caller must not run it).
  virtual bool claim_fire(const FireRecord& fire) = 0;

  /// Sets the status (running | done | errored | skipped | interrupted) of fire `fire_id`, and
  /// its end time unless `running`. No-op for an unknown fire.
  virtual void set_fire_status(std::string_view fire_id, std::string_view status) = 0;

  /// Takes the oldest `queued` fire of `schedule` whose owner is this process or dead: it becomes
  /// `running` owned by this process (one UPDATE: of two takers one wins). Nullopt when none.
  virtual std::optional<FireRecord> take_queued_fire(std::string_view schedule) = 0;

  /// Start-up recovery: every `running` fire whose owner process is dead (or unknown) becomes
  /// `interrupted` (ended now; it is not run again). Returns the fires it interrupted.
  virtual std::vector<FireRecord> recover_fires() = 0;

  /// Whether a fire of `schedule` is `running` in a live process, this one included: the
  /// overlap policy (`skip`/`queue`) holds across replicas, not only within one. A fire whose
  /// owner died (pid gone on SQLite, lease expired on PostgreSQL) does not count.
  virtual bool fire_running(std::string_view schedule) = 0;

  /// The newest scheduled_ms of `schedule`'s cron or catch-up fires, or nullopt.
  virtual std::optional<std::int64_t> latest_fire(std::string_view schedule) = 0;

  /// Fires newest first (of `schedule`, or of all when empty), at most `limit` (clamped to 1000).
  virtual std::vector<FireRecord> list_fires(std::string_view schedule, std::size_t limit) = 0;

  /// Admits `dispatch` in one transaction: a new `queued` row with a fresh dispatch id and
  /// acceptedAt. With an idempotency key already used for this agent: the same {id, input}
  /// returns the original row (replayed), different ones throw errors::dispatch_conflict (409).
  virtual DispatchAdmission admit_dispatch(const NewDispatch& dispatch) = 0;

  /// The oldest unfinished (queued or running) dispatch of one agent instance, or nullopt.
  virtual std::optional<DispatchRecord> next_dispatch(std::string_view agent,
                                                      std::string_view instance_id) = 0;

  /// Unfinished dispatches of every instance in admission order, at most `limit` (startup
  /// recovery: a dispatch running when the process died runs again, at least once).
  virtual std::vector<DispatchRecord> unfinished_dispatches(std::size_t limit) = 0;

  /// Takes dispatch `dispatch_id` for this process atomically: a `queued` row, or a `running` row
  /// whose owner process (pid + start time, sys::process_alive) is dead, becomes `running` owned
  /// by this process. Returns false when it is finished or running in a live process (this one
  /// included), so two processes or two dispatchers of one process never run it twice.
  virtual bool take_dispatch(std::string_view dispatch_id) = 0;

  /// Moves a dispatch to `status` (running | done | errored) and, when `outcome` is not null,
  /// records it ({result} or {error}). Returns false, writing nothing, when another owner took
  /// the dispatch over (PostgreSQL: this process's lease expired while it ran; the row's status
  /// is the new owner's). Throws dispatch_not_found.
  virtual bool set_dispatch_status(std::string_view dispatch_id, std::string_view status,
                                   const Json& outcome = Json()) = 0;

  /// The dispatch, or nullopt.
  virtual std::optional<DispatchRecord> get_dispatch(std::string_view dispatch_id) = 0;
};

/// Opens (creating and migrating if needed) the store at `location`: `sqlite:<path>` (relative
/// paths resolve against `base_dir`; missing directories are created), `memory:` or `:memory:`,
/// or a PostgreSQL URI `postgres://user:password@host:port/db?...` / `postgresql://...` (libpq
/// syntax; several replicas may share it, docs/deploy.md "PostgreSQL").
/// Throws store_location_invalid, store_open_failed, store_corrupt, store_foreign or
/// store_too_new (a database written by a newer hearth is never touched).
std::unique_ptr<Store> open_store(std::string_view location,
                                  const std::filesystem::path& base_dir = ".");

/// True for `postgres://...` and `postgresql://...` locations.
bool is_postgres_location(std::string_view location);

/// The schema version this build writes (`PRAGMA user_version`).
int schema_version();

} // namespace hearth::store

// The runtime service: runs workflows and agent prompts against the compiled project, recording
// every run, event and session in the store. The stdio child (`hearth runtime`) and the HTTP server
// both drive it (ARCHITECTURE.md §1, §5).
#pragma once

#include "core/cancel.hpp"
#include "runtime/access.hpp"
#include "runtime/definitions.hpp"
#include "runtime/events.hpp"
#include "runtime/harness.hpp"
#include "store/store.hpp" // store::RunRecord, held from a run's admission to its execution

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <list>
#include <optional>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace hearth::sandbox {
struct Seed;
class Workspace;
}

namespace hearth::runtime {

/// The compiled project as the runtime needs it.
struct Program {
  std::string root_agent{};
  std::vector<AgentDef> agents{};       // the root agent first
  std::vector<WorkflowDef> workflows{}; // sorted by name
  nlohmann::json schedules = nlohmann::json::array(); // manifest `schedules` (lib/triggers reads them)
  nlohmann::json channels = nlohmann::json::array();  // manifest `channels` (lib/triggers reads them)
};

/// A finished workflow run.
struct RunOutcome {
  std::string run_id{};
  nlohmann::json result{};
};

/// What `hearth run` may change about one programmable run: `--model` and `--timeout`.
struct ProgramRunOptions {
  std::string model_override{};
  int timeout_ms = 0; // 0: the workflow's own timeoutMs (0 there too: none)
  nlohmann::json context = nlohmann::json::object(); // invoker.resolve's context values
  std::stop_token cancel{}; // the run's cancellation (Runtime::cancel_run): stop the script
};

/// Runs a programmable workflow (issue 5; the ctx protocol, runtime/program_runner.hpp). Given the
/// definition, run id, payload, options and the event log, returns the script's result or throws.
using ProgramRunner = std::function<nlohmann::json(const WorkflowDef&, const std::string& run_id,
                                                   const nlohmann::json& payload,
                                                   const ProgramRunOptions& options, EventLog&)>;

/// Thread-safe: the HTTP server calls it from many threads. Prompts to one agent instance are
/// serialized; everything else runs concurrently.
class Runtime {
public:
  Runtime(Program program, RuntimeContext context, store::Store& store);

  /// The workflow named `name`, or throws workflow_not_found (with the available names).
  const WorkflowDef& workflow(const std::string& name) const;
  /// The agent named `name`, or throws agent_not_found (with the available names).
  const AgentDef& agent(const std::string& name) const;
  const Program& program() const noexcept { return m_program; }
  store::Store& store() const noexcept { return m_store; }
  const RuntimeContext& context() const noexcept { return m_context; }

  /// Creates the run record and its stream `runs/<runId>` (status active) and returns the id,
  /// so an HTTP admission can answer before the run executes. Throws workflow_not_found.
  /// `invoker` ({id, kind?, label?, meta?} or null: the authenticated caller) goes through the
  /// `invoker` profiles and resolve of the workflow's agent (declarative: its `agent`;
  /// programmable: the root agent), with `request_context` selecting a profile when `may_select`
  /// (seed 002); the result is recorded on the run and checked against the workflow's `access`.
  /// Throws access_denied (403 / exit 1) naming the rule, profile or resolver that refused.
  /// The invocation of workflow `name` by `invoker` with `request_context` (seed 002: the
  /// workflow's agent's profiles, selectable when `may_select`, and its invoker.resolve), after
  /// the workflow's access rules. Throws workflow_not_found, access_denied (403).
  Invocation workflow_invocation(const std::string& name, const nlohmann::json& invoker,
                                 const nlohmann::json& request_context, bool may_select) const;

  /// `allow_resumable` false: the run is not resumable even in a durable runtime (runs admitted
  /// over the warm socket end with their connection, docs/ipc.md "Warm runtime").
  std::string admit_run(const std::string& name, const nlohmann::json& payload,
                        const nlohmann::json& invoker = nullptr,
                        const nlohmann::json& request_context = nullptr, bool may_select = false,
                        bool allow_resumable = true);

  /// Executes an admitted run to the end: run_start … run_end. `model_override` replaces every
  /// agent's model; `timeout_ms` (0: a programmable workflow's own timeoutMs, a declarative one
  /// has none) bounds the run: at the deadline its turns and tools are cancelled and it ends
  /// workflow_timeout. Returns the result; on failure the run is ended as errored and the
  /// hearth::Error is rethrown (errors::turn_cancelled after cancel_run).
  nlohmann::json execute_run(const std::string& run_id, const std::string& model_override,
                             const EventListener& listener, int timeout_ms = 0);

  /// admit_run then execute_run.
  RunOutcome run_workflow(const std::string& name, const nlohmann::json& payload,
                          const std::string& model_override, const EventListener& listener,
                          const nlohmann::json& invoker = nullptr);

  /// Prompts agent instance `instance_id` (session `session`, default "default") with `message`,
  /// continuing its stored history; events go to `agents/<agent>/<instance_id>`. Returns Flue's
  /// prompt result {text | data, usage, model}. Throws agent_not_found or the turn's error.
  /// `invoker` is the resolved invoker (resolve_invocation) and `context_values` the resolver's
  /// context values (an object or null); the turn's workspace is confined to the invoker's grant.
  /// `conversation_key`: set only by a channel dispatch (its verified destination); tools read it
  /// as HEARTH_CONVERSATION_KEY. "" (HTTP, Eve, schedules): not exported.
  /// `task_schedule`: set by a schedule's fire (its name): the turn runs in task mode (seed 003:
  /// "cannot park for HITL"): it is headless, and each Approval Request is denied at once with
  /// an approval_decision whose reason is errors::schedule_task_mode's message; it never parks.
  /// `client_context`: Eve's clientContext as text, shown to the model for this turn only and
  /// never stored (TurnOptions::client_context).
  nlohmann::json prompt_agent(const std::string& agent, const std::string& instance_id,
                              const std::string& session, const std::string& message,
                              const nlohmann::json& output_schema,
                              const std::string& model_override, const EventListener& listener,
                              const nlohmann::json& invoker = nullptr,
                              const nlohmann::json& context_values = nullptr,
                              const std::string& conversation_key = {},
                              const std::string& task_schedule = {},
                              const std::string& client_context = {});

  /// Ends every run this process is executing as errored `cancelled` (its run_end says
  /// `details`), before the caller stops their tools: a run whose tools are killed never ends
  /// `completed`. Also retries run ends the store refused earlier. Returns the ids it ended.
  /// Never throws (a failing store leaves the runs to recover_abandoned_runs()).
  /// With `keep_resumable`, resumable runs are left active for the next runtime to resume.
  std::vector<std::string> cancel_active_runs(const std::string& details,
                                              bool keep_resumable = false) noexcept;

  /// How many runs this process is executing now.
  std::size_t active_run_count() const;

  // durable runs (issue 15 §1; docs/runtime.md "Durable runs") --------------------------------

  /// Serving runtimes (`hearth start`, `hearth dev`): runs admitted from now on are resumable:
  /// declarative ones checkpoint after every step, scripts journal their completed calls
  /// (WorkflowContext::call), and both survive the death of this process.
  void set_durable(bool durable) { m_durable = durable; }

  /// At start-up of a serving runtime: ends the non-resumable runs of dead owners
  /// runtime_crashed (Store::recover_abandoned_runs), and takes over the resumable ones (one
  /// fenced UPDATE each: of two live takers one wins) whose workflow's `maxAttempts` is not used
  /// up; those past it end runtime_crashed. Returns the ids taken over: the caller executes
  /// each (execute_run continues it from its checkpoint). Throws store errors.
  std::vector<std::string> take_over_abandoned_runs();

  /// Graceful shutdown: every resumable run stops at its next step boundary, after that
  /// step's checkpoint, and stays active for the next runtime (execute_run throws
  /// errors::run_suspended). Never blocks.
  void suspend_runs() { m_suspend.request_stop(); }

  // approvals ---------------------------------------------------------------------------------

  /// The lists `hearth run --approve/--deny` gave for `run_id` ("all" or tool names): its
  /// Approval Requests are decided by them, and fail the run when neither names the tool.
  void set_run_approvals(const std::string& run_id, std::vector<std::string> approve,
                         std::vector<std::string> deny);

  /// HTTP servers: a workflow run's Approval Request waits in-process, up to `max_wait`, for
  /// the decision route (POST /runs/:id/approvals/:approvalId). Durable across restarts: no
  /// (issue 15).
  void wait_for_route_approvals(std::chrono::milliseconds max_wait);

  /// Records `answer` to input request `request_id` of stream `owner` (agents/<a>/<id> or
  /// runs/<id>): approval_decision / input_response on that stream. Throws approval_not_found
  /// (unknown, or another owner's) and approval_already_decided.
  store::ApprovalRecord answer_input(const std::string& owner, const InputAnswer& answer);

  /// Resumes the parked turn of the session once every request it waits for is answered
  /// (Flue's operation events again, after a `turn_resumed` marker). Returns the prompt result
  /// (status "waiting" if it parked again), or null when the session is not parked or still
  /// waits for an answer. Throws the turn's error.
  nlohmann::json resume_session(const std::string& agent, const std::string& instance_id,
                                const std::string& session, const EventListener& listener,
                                const nlohmann::json& invoker = nullptr);
  /// Compaction (issue 16 §1, docs/sessions.md): compacts the session's history now (Eve's
  /// `POST …/compact`, `hearth connect` /compact), or with `clear` appends a context-cleared
  /// marker (Eve's `…/clear`: the model sees nothing before it; the history stays stored). Waits
  /// for a running turn of the instance. Emits compaction_start/compaction (or context_cleared)
  /// then `idle` on the agent stream. Returns {ok, status: compacted|unchanged|cleared, messages}.
  /// Throws session_not_found, access errors, the summarising model's error.
  nlohmann::json compact_session(const std::string& agent, const std::string& instance_id,
                                 const std::string& session, bool clear,
                                 const EventListener& listener, const nlohmann::json& invoker = nullptr);
  /// Cancels the turn running on agent instance `instance_id` (docs/runtime.md "Cancellation"):
  /// its model stream stops, its tools' process groups are killed, and the turn ends with an
  /// errored `operation` of type `cancelled` (Eve: `turn.cancelled`) within about a second; the
  /// session stays usable. Turns still queued behind it are not touched. Returns false when no
  /// turn of that instance is running. Never blocks on the turn; thread-safe.
  bool cancel_turn(const std::string& agent, const std::string& instance_id);

  /// Cancels workflow run `run_id` executing in this process: the same for each of its turns,
  /// and a programmable workflow's script is stopped; the run ends errored `cancelled`. Returns
  /// false when this process is not executing it.
  bool cancel_run(const std::string& run_id);

  /// Installs the runner for programmable workflows.
  void set_program_runner(ProgramRunner runner) { m_program_runner = std::move(runner); }

  /// The stream path of an agent instance: `agents/<agent>/<instance_id>`.
  static std::string agent_stream(const std::string& agent, const std::string& instance_id);

  /// Continues an HTTP caller's trace (its valid `traceparent`) in the next trace of `stream`
  /// (`runs/<runId>` or an agent stream). Bounded: the oldest unclaimed entries are dropped.
  void continue_trace(const std::string& stream, const TraceContext& parent);

private:
  nlohmann::json run_declarative(const WorkflowDef& workflow, const store::RunRecord& run,
                                 const std::string& model_override,
                                 const nlohmann::json& context_values, std::stop_token cancel,
                                 EventLog& events);
  /// The agent named `name`, or null.
  const AgentDef* find_agent(const std::string& name) const;
  /// What admit_run kept for `run_id`, forgotten once taken: the record create_run returned
  /// when it was small enough to keep (else nullopt: execute_run reads the store), and the
  /// context values (an object, empty when none).
  struct Admitted {
    std::optional<store::RunRecord> record;
    nlohmann::json context = nlohmann::json::object();
  };
  Admitted take_admitted(const std::string& run_id);
  std::mutex& instance_lock(const std::string& stream);
  /// Ends `run_id` with `error` (errored); when the store refuses (disk full), keeps the end
  /// to retry later (settle_pending) instead of leaving the run active without a word.
  void end_errored(const std::string& run_id, const Error& error,
                   std::optional<std::int64_t> fence = std::nullopt);
  /// Retries the run ends the store refused before. Never throws.
  void settle_pending() noexcept;
  /// Applies the workspace retention (context().workspaces) after a run ended: a scan of the
  /// workspaces directory, skipped (one stat) while the directory is unchanged since the last
  /// scan, that scan is recent (k_prune_rescan) and it kept nothing for later (no workspace of
  /// an active run held, no removal failed), and no call since found another scan running.
  /// Never throws.
  void prune_workspaces() noexcept;
  std::shared_ptr<ModelClients> instance_models(const std::string& stream);
  std::optional<InputAnswer> decide_run_approval(const nlohmann::json& request,
                                                 std::stop_token cancel);
  /// Denies the pending requests of a parked session and closes its step in `messages`.
  void abandon_parked_turn(const std::string& stream, const Envelope& envelope,
                           nlohmann::json& messages, const nlohmann::json& parked);

  Program m_program;
  RuntimeContext m_context;
  store::Store& m_store;
  ProgramRunner m_program_runner{};
  std::mutex m_locks_mutex;
  std::map<std::string, std::unique_ptr<std::mutex>> m_instance_locks;
  // Model clients per agent instance, so mock/script's cursor (and any client state) lasts for a
  // connected session; the least recently used are dropped past k_max_instance_models.
  static constexpr std::size_t k_max_instance_models = 256;
  std::list<std::pair<std::string, std::shared_ptr<ModelClients>>> m_instance_models;
  static constexpr std::size_t k_max_pending_ends = 1024;
  mutable std::mutex m_runs_mutex;
  std::set<std::string> m_active_runs;        // executing in this process
  std::set<std::string> m_resumable_runs;     // those of them that are resumable
  std::atomic<bool> m_durable{false};         // admitted declarative runs are resumable
  std::stop_source m_suspend{};               // suspend_runs()
  std::map<std::string, nlohmann::json> m_pending_ends; // run id -> error the store refused
  // prune_workspaces: the workspaces directory's mtime (ns) at the last scan, and when that was.
  static constexpr std::chrono::minutes k_prune_rescan{10};
  std::mutex m_prune_mutex;
  long long m_pruned_mtime = -1; // -1: the next call scans
  std::atomic<bool> m_prune_again{false}; // a call found the scan busy: the next one scans
  std::chrono::steady_clock::time_point m_pruned_at{};
  // From admission to execution (same process; run ids are ULIDs, so the oldest go first past
  // a cap): invoker.resolve's context values, and the run's record so that execution need not
  // read back the row admission wrote. A run admitted but never executed (its queue was full)
  // leaves its entries until the cap pushes them out, so only records whose payload and invoker
  // are small are kept, and few: at most 64 x 16 KiB.
  static constexpr std::size_t k_max_admitted_contexts = 4096;
  static constexpr std::size_t k_max_admitted_records = 64;
  static constexpr std::size_t k_max_admitted_record_bytes = 16 * 1024;
  std::map<std::string, nlohmann::json> m_admitted_context;
  std::map<std::string, store::RunRecord> m_admitted_records;
  // approvals: `hearth run --approve/--deny` lists per run, and the decision route's bound
  std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> m_run_approvals;
  std::atomic<std::int64_t> m_route_approval_wait_ms{0}; // set at server start, read by runs
  // Runs waiting for a decision route now: each holds an executor worker, so at most
  // k_max_approval_waits wait; past that an Approval Request fails the run (approval_required).
  static constexpr int k_max_approval_waits = 4;
  std::atomic<int> m_approval_waits{0};
  // Traces and hooks (issue 12 §4-5): incoming trace parents by stream, claimed by the stream's
  // next EventLog; the agent whose hooks see a stream's traces.
  std::optional<TraceContext> take_trace_parent(const std::string& stream);
  void observe(EventLog& events, const AgentDef* agent);
  std::map<std::string, TraceContext> m_trace_parents;
  cancel::Registry m_running{}; // running turns and runs by stream path, for cancel_turn/_run
};

/// What seeds a workspace of `agent`: sandbox/workspace/** at the root, skills under skills/
/// (seed page 06).
std::vector<sandbox::Seed> workspace_seeds(const AgentDef& agent);

/// The workspace of one invocation of `agent` at `root`: prepared (seeded) and confined to the
/// grant that the agent's `access.workspace` and `workflow_access.workspace` (null: none) both
/// give `invoker` (docs/auth.md "Workspace grants"). With `lazy` and a grant of the whole
/// workspace, the directory is made on first use (sandbox::Workspace::lazy); a confined grant is
/// always made now. Throws hearth::Error io_error.
sandbox::Workspace invocation_workspace(const std::filesystem::path& root, const AgentDef& agent,
                                        const nlohmann::json& invoker,
                                        const nlohmann::json& workflow_access = nullptr,
                                        bool lazy = false);

/// `name` made safe as one path component of a workspace directory.
std::string safe_component(std::string_view name);

/// The workspace directory name of `parts` (e.g. agent, instance id, session): a readable
/// safe_component of the parts joined by '-' (at most 120 bytes), then '-' and 16 hex digits of
/// the SHA-256 of the parts joined by NUL bytes, so two different part lists never share a
/// directory (safe_component alone maps `a:b` and `a_b`, or `a-b`+`c` and `a`+`b-c`, to one name).
std::string workspace_name(const std::vector<std::string>& parts);

} // namespace hearth::runtime

// The agent harness (seed page 07; ARCHITECTURE.md §5): one turn of one session, step by step.
// Each step sends the system prompt (instructions + skill catalogue), the history and the input in
// one streamed model call; tool calls run (concurrently when several), their results are appended,
// and the next step starts, until a final answer, a `finish` result or `maxSteps`.
#pragma once

#include "providers/provider.hpp"
#include "runtime/approvals.hpp"
#include "runtime/definitions.hpp"
#include "runtime/events.hpp"
#include "runtime/hooks.hpp"
#include "runtime/workspace_gc.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>

namespace hearth::sandbox {
class Workspace;
}
namespace hearth::mcp {
class Pool;
}

namespace hearth::runtime {

class Telemetry;

/// Attempts at a schema-valid `finish` before the turn fails (issue 4: "at most 3 times").
inline constexpr int k_max_result_attempts = 3;

/// Shared by every turn of a runtime process: where models and tools come from.
struct RuntimeContext {
  std::filesystem::path project_root{};
  /// Where run and session workspaces live: config::Project::workspaces_dir() (the state
  /// directory, docs/deploy.md); empty means <project_root>/.hearth/workspaces.
  std::filesystem::path workspaces_dir{};
  std::filesystem::path workspaces_root() const {
    return workspaces_dir.empty() ? project_root / ".hearth" / "workspaces" : workspaces_dir;
  }
  std::string default_model{}; // hearth.json `model`
  std::map<std::string, providers::ProviderConfig> providers{};
  providers::EnvLookup env{};
  std::string run_id{}; // set for workflow runs (HEARTH_RUN_ID)
  /// `hearth start`: a missing bwrap is an error for every command, never a fall back to `none`.
  bool sandbox_fail_closed = false;
  WorkspaceRetention workspaces{}; // hearth.json `workspaces`: applied as each run ends
  nlohmann::json invoker{}; // the invocation's invoker {id, kind?, label?, meta?} or null (seed 002)
  /// invoker.resolve's context values (seed 002, an object): tools read them as HEARTH_CONTEXT.
  nlohmann::json context_values = nlohmann::json::object();
  /// Set only for a turn started by a channel dispatch: the verified delivery's conversation key
  /// (HEARTH_CONVERSATION_KEY). Never derived from a caller-chosen instance id (seed 003).
  std::string conversation_key{};
  HookCaller call_hook{};   // agent/hooks/* (runtime/hooks.hpp); empty: no hooks are called
  /// approvals: decides Approval Requests of turns that cannot park (workflow runs); empty:
  /// such a turn fails with errors::approval_required.
  ApprovalWaiter wait_for_approval{};
  /// Hook runner and trace sinks (runtime/telemetry.hpp); null: none. Each turn binds call_hook
  /// over it so a failing hook is an error event of that turn's stream.
  std::shared_ptr<Telemetry> telemetry{};
  /// The invocation's cancellation (docs/runtime.md "Cancellation"): once stopped, the turn ends
  /// with errors::turn_cancelled; model steps, tools and subagent turns (which share it) stop too.
  std::stop_token cancel{};
  /// MCP connections of every agent (issue 13; lib/mcp/connections.hpp): started on first use,
  /// shared by every turn of the process. Null: agents get no connection tools.
  std::shared_ptr<mcp::Pool> connections{};
};

/// Model clients for one run or one connected session: mock/script keeps its cursor for the
/// lifetime of this object. Thread-safe.
class ModelClients {
public:
  explicit ModelClients(const RuntimeContext& context) : m_context(context) {}
  /// The client for `provider_id`, reading mock/script from `mock_script` when it applies.
  /// Throws the provider catalogue's hearth::Error (unknown provider, missing key).
  providers::Provider& get(const std::string& provider_id, const std::filesystem::path& mock_script);

private:
  const RuntimeContext& m_context;
  std::mutex m_mutex;
  std::map<std::string, std::unique_ptr<providers::Provider>> m_clients;
};

/// How one turn runs.
struct TurnOptions {
  std::string model_override{}; // `--model` or a workflow's `model`
  nlohmann::json result_schema{}; // non-null: a structured result is required (finish tool)
  int max_steps = 0;              // 0: the agent's
  bool headless = false;          // workflows: no human to ask or approve
  /// approvals: an Approval Request or ask_question parks the turn (TurnResult::parked) instead
  /// of waiting (agent sessions); false: approvals go to RuntimeContext::wait_for_approval.
  bool park_for_input = false;
  /// Durable runs (docs/runtime.md "Durable runs"): called with the turn's checkpoint (JSON, see
  /// resume_from_checkpoint) once the model answered a step, after each of its tool results and
  /// once the step completed. Throwing (errors::run_taken_over) stops the turn. Empty: no
  /// checkpoints (sessions, subagent turns).
  std::function<void(const nlohmann::json&)> checkpoint{};
  /// Durable runs: once stopped, the turn ends at its next step boundary, right after that
  /// step's checkpoint, with errors::run_suspended (graceful shutdown).
  std::stop_token suspend{};
  /// Eve's clientContext (seed 003: "One-turn ephemeral context prepended as user-role
  /// messages. Not persisted to durable history"): sent to the model as a user message just
  /// before this turn's message at every step of the turn, never added to `messages`, the
  /// session or the stream. Empty: none.
  std::string client_context{};
  /// Compaction (runtime/compaction.hpp): called with the whole history right after a
  /// compaction checkpoint was appended to it, so the checkpoint is committed to the store before
  /// the turn goes on (agent sessions save the session). Empty: kept in `messages` only.
  std::function<void(const nlohmann::json& messages)> persist{};
  /// Subagents (issue 16 §3): how deep this turn is in delegation (0: the invocation's own
  /// turn; a subagent's turn is its parent's + 1). The built-in `agent` tool (a copy of the
  /// agent) is offered while depth < k_max_agent_copy_depth, so copies cannot recurse unbounded.
  int depth = 0;
};

/// Delegation depth up to which the built-in `agent` tool is offered.
inline constexpr int k_max_agent_copy_depth = 2;

/// What a turn produced: Flue's prompt result {text, data?, usage, model}.
struct TurnResult {
  std::string text{};
  nlohmann::json data{}; // the validated result when a schema was required
  providers::Usage usage{};
  std::string provider{};
  std::string model{};
  /// approvals: non-null when the turn parked for input: the state resume_turn() continues from
  /// (stored as the session's `parked`); `requests` lists what it waits for.
  nlohmann::json parked{};
  /// {text | data, usage, model: {provider, id}}: the JSON a prompt returns; a parked turn adds
  /// status "waiting" and its `requests`.
  nlohmann::json to_json() const;
};

/// Everything one turn needs besides the agent: where events go and with which envelope.
struct TurnScope {
  RuntimeContext& context;
  ModelClients& models;
  EventLog& events;
  const sandbox::Workspace& workspace;
  Envelope envelope{}; // session, operationId, runId, ... (turnId is added per step)
};

/// Runs one turn of `agent`: appends `user_text` to `messages` (Flue-shaped history: user,
/// assistant and toolResult messages), steps until done and appends every message it produced.
/// Emits agent_start … agent_end. Throws hearth::Error on model failure, max steps, give_up or a
/// result that stayed invalid, errors::turn_cancelled once `scope.context.cancel` is stopped;
/// `messages` then holds what happened up to the failure (every tool call with its result).
TurnResult run_turn(TurnScope& scope, const AgentDef& agent, nlohmann::json& messages,
                    const std::string& user_text, const TurnOptions& options);

// approvals ---------------------------------------------------------------------------------

/// Continues a turn parked by run_turn (TurnResult::parked): the parked step's pending calls get
/// their answers from the store (approved calls run, denied ones and unanswered ones give the
/// model a tool error, questions return {"answer", "status": "answered"}), then the step loop
/// goes on as in run_turn. `options` must be parked_options(parked). Throws like run_turn.
TurnResult resume_turn(TurnScope& scope, const AgentDef& agent, nlohmann::json& messages,
                       const nlohmann::json& parked, const TurnOptions& options);

// durable runs ---------------------------------------------------------------------------------

/// Continues a turn from the checkpoint TurnOptions::checkpoint last received (after a crash
/// or a graceful stop): `messages` is replaced by the checkpoint's history. A step whose model
/// answer was recorded is not asked again: its calls with a recorded result keep it, a call that
/// was in flight gets an error result ("interrupted by a runtime restart; not re-run") unless the
/// tool is idempotent (authored `idempotent: true`, or finish/give_up/load_skill), which runs
/// again. A completed step goes on with the next one; a finished turn returns its result.
/// `options` should come from checkpoint_options(). Throws like run_turn.
TurnResult resume_from_checkpoint(TurnScope& scope, const AgentDef& agent, nlohmann::json& messages,
                                  const nlohmann::json& checkpoint, const TurnOptions& options);

/// The TurnOptions (model, result schema, max steps, headless) a checkpointed turn ran with.
TurnOptions checkpoint_options(const nlohmann::json& checkpoint);

/// The text of the error result an interrupted, non-idempotent tool call gets on resume.
inline constexpr const char* k_interrupted_call =
    "This tool call was interrupted by a runtime restart; it was not re-run. It may or may not "
    "have taken effect: check before calling it again.";

/// The TurnOptions a parked turn was started with.
TurnOptions parked_options(const nlohmann::json& parked);

/// The request ids a parked turn waits for.
std::vector<std::string> parked_request_ids(const nlohmann::json& parked);

/// Closes a parked turn without resuming it (a new message arrived instead): appends the tool
/// results of its step, the pending ones as errors saying `why`.
void abandon_parked(nlohmann::json& messages, const nlohmann::json& parked, const std::string& why);

// compaction -------------------------------------------------------------------------------------

/// Compacts `messages` now (Eve's `POST …/compact`, `hearth connect` /compact): emits
/// compaction_start {reason: "manual"}, summarises what the agent's `compaction` settings do not
/// keep verbatim (everything when keepRecentTurns is 0) with the summarising model, appends the
/// checkpoint and emits `compaction`. Returns false (both events still emitted) when there was
/// nothing to summarise. Throws the summarising model's hearth::Error.
/// `keep_current_turn`: the newest turn is kept whatever keepRecentTurns says (a parked turn
/// waits for its tool results: its calls must stay with them).
bool compact_history(TurnScope& scope, const AgentDef& agent, nlohmann::json& messages,
                     const TurnOptions& options, bool keep_current_turn = false);

/// `usage` as Flue's usage object {input, output, cacheRead, cacheWrite, totalTokens}.
nlohmann::json usage_json(const providers::Usage& usage);

} // namespace hearth::runtime

// Private to the agent harness (lib/runtime/harness*.cpp; the API is harness.hpp): the turn in
// progress (TurnRunner) and the helpers its files share. harness.cpp holds the turn loop; tool
// set-up and execution are in harness_tools.cpp, the model request and its cached view in
// harness_model.cpp, compaction in harness_compaction.cpp, the policy gate, approvals and parking
// in harness_approvals.cpp, durable-run checkpoints in harness_checkpoints.cpp.
#pragma once

#include "runtime/harness.hpp"

#include "core/json_schema.hpp"
#include "mcp/connections.hpp"
#include "runtime/compaction.hpp"
#include "runtime/policy.hpp"
#include "runtime/tool.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace hearth::runtime::harness {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

/// A text-only Flue message content: [{type: "text", text}].
json text_content(const std::string& text);

/// The Flue toolResult message of `call` with `outcome`.
json tool_result_json(const providers::ToolCall& call, const ToolOutcome& outcome);

/// Adds the counts of `step` to `total`.
void add_usage(providers::Usage& total, const providers::Usage& step);

/// The newest assistant message of `messages` (the step whose tool calls a resumed turn answers),
/// or an empty object.
json last_assistant(const json& messages);

/// Throws errors::turn_cancelled once the invocation was cancelled (docs/runtime.md
/// "Cancellation"): checked between steps and before each tool; the model step and the tools
/// observe the token themselves.
void throw_if_cancelled(const RuntimeContext& context);

/// A tool outcome as a parked turn or a checkpoint saved it (outcome_json's shape).
ToolOutcome outcome_from_json(const json& o);

/// `o` as {text, isError, details, terminate}, for a parked turn or a checkpoint.
json outcome_json(const ToolOutcome& o);

/// The tool call a parked turn or a checkpoint listed ({toolCallId, toolName, args}).
providers::ToolCall parked_call(const json& c);

/// The object schema of the `finish` tool: the result schema itself when it describes an
/// object, else wrapped as {value: schema} (tool parameters must be objects).
struct FinishSchema {
  json parameters{};
  bool wrapped = false;
};

/// approvals: one tool call of a step after the policy gate: its outcome, or the request
/// (approval_request / input_request body plus `kind`) it parks on.
struct CallSlot {
  ToolOutcome outcome{};
  std::optional<json> request{};
};

/// One turn in progress: the tools on offer and the state shared by concurrent tool calls.
class TurnRunner {
public:
  /// Resolves the model, builds the tools on offer, the system prompt and the policy rules;
  /// loads the `once` approvals of the session. Throws model_missing or policy_invalid.
  TurnRunner(TurnScope& scope, const AgentDef& agent, const TurnOptions& options);

  /// The turn from `user_text` (run_turn).
  TurnResult run(json& messages, const std::string& user_text);
  /// The turn parked as `parked` (resume_turn; harness_approvals.cpp).
  TurnResult resume(json& messages, const json& parked);
  /// The turn from `checkpoint` (resume_from_checkpoint; harness_checkpoints.cpp).
  TurnResult resume_checkpoint(json& messages, const json& checkpoint);
  /// The text, usage and model a parked turn or a checkpoint saved (TurnResult::to_json shape).
  TurnResult saved_result(const json& saved) const;

private:
  // durable runs: the checkpoint of the step in progress (see resume_from_checkpoint)
  void begin_step_checkpoint(const json& messages, int step_number,
                             const std::vector<providers::ToolCall>& calls,
                             const TurnResult& result, const Envelope& envelope);
  void note_outcome(std::size_t index, const CallSlot& slot);
  void save_step(const json& messages, int step_number, const TurnResult& result,
                 const Envelope& envelope, bool finished);
  json checkpoint_base(int step_number, const TurnResult& result, const Envelope& envelope);
  bool idempotent(const std::string& tool) const;
  /// A recorded outcome of `call` counts as it did live: finish's result, give_up's reason.
  void absorb_outcome(const providers::ToolCall& call, const ToolOutcome& outcome);
  TurnResult step_loop(json& messages, int first_step, TurnResult result, const json* user);
  void append_results(json& messages, const std::vector<providers::ToolCall>& calls,
                      const std::vector<ToolOutcome>& outcomes, const json& assistant,
                      const Envelope& envelope);
  void emit_step_stats(const providers::StepResult& step, Clock::time_point started,
                       const Envelope& envelope);
  bool after_step(json& messages, TurnResult& result, bool had_tool_calls);
  // approvals: the policy gate, requests, parking and resuming (harness_approvals.cpp)
  std::vector<CallSlot> run_calls(const std::vector<providers::ToolCall>& calls,
                                  const Envelope& envelope);
  CallSlot gated_call(const providers::ToolCall& call, const Envelope& envelope);
  CallSlot request_approval(const providers::ToolCall& call, const json& args,
                            const PolicyOutcome& policy, const Envelope& envelope);
  CallSlot ask(const providers::ToolCall& call, const json& args, const Envelope& envelope);
  std::optional<InputAnswer> approval_hook(const json& request);
  ToolOutcome decided_call(const providers::ToolCall& call, const std::string& request_id,
                           const Envelope& envelope);
  TurnResult park(int step_number, const std::vector<providers::ToolCall>& calls,
                  const std::vector<CallSlot>& slots, TurnResult result, const Envelope& envelope);
  void close_requests_cancelled(std::vector<CallSlot>& slots,
                                const std::vector<providers::ToolCall>& calls,
                                const Envelope& envelope);
  void announce(const providers::ToolCall& call, const Envelope& envelope);
  std::string approval_of(const std::string& tool) const;
  /// The agent's key in the connection pool (mcp::agent_key).
  std::string connection_agent() const { return mcp::agent_key(m_agent.name, m_agent.directory); }

  void build_tools();
  void add_tool(Tool tool);
  /// The tool delegating to `sub` (a declared subagent), or with `copy` to a copy of this
  /// agent (the built-in `agent` tool: same instructions, tools and model).
  Tool subagent_tool(const AgentDef& sub, bool copy = false);
  Tool ask_question_tool();
  ToolOutcome call_tool(const providers::ToolCall& call, const Envelope& envelope,
                        bool announce = true, std::optional<ToolOutcome> preset = std::nullopt);
  std::vector<json_schema::Violation> input_violations(const std::string& tool, const json& args);
  ToolOutcome finish(const json& input);
  providers::StepResult model_step(const json& messages, const Envelope& envelope);
  // the cached view (harness_model.cpp) and compaction (harness_compaction.cpp), issue 16 §1-2
  void sync_view(const json& messages);
  std::int64_t estimated_tokens() const;
  std::int64_t window_tokens() const;
  /// Tokens above which a step compacts first: thresholdPercent of the window.
  std::int64_t trigger_tokens() const;
  /// Characters a request may carry at most (90% of the window): past it, texts are cut.
  std::size_t budget_chars() const;
public:
  /// Compacts when the next request would cross the threshold (reason "threshold") or at once
  /// (reason "manual"). Returns whether a checkpoint was appended.
  bool compact(json& messages, const Envelope& envelope, const std::string& reason,
               TurnResult* result, bool keep_current_turn = false);
private:

  TurnScope& m_scope;
  const AgentDef& m_agent;
  bool m_compaction_failed = false; // an automatic compaction failed in this turn: no retry
  const TurnOptions& m_options;
  /// Where this turn's user message sits in the history (client_context goes before it);
  /// nullopt for a resumed turn.
  std::optional<std::size_t> m_user_index{};
  std::string m_model_string;
  providers::ModelRef m_model;
  std::vector<Tool> m_tools; // their schemas moved to m_tool_specs (m_validators check calls)
  std::map<std::string, std::shared_ptr<const json_schema::Validator>> m_validators;
  std::shared_ptr<const json_schema::Validator> m_result_validator;
  FinishSchema m_finish;
  std::mutex m_mutex; // guards the result state below
  int m_invalid_results = 0;
  std::optional<json> m_result{};
  std::optional<std::string> m_gave_up{};
  std::optional<std::string> m_question{}; // ask_question ends the turn with this as the answer
  std::vector<PolicyRule> m_rules;          // approvals: agent.json `policy`
  std::set<std::string> m_approved_once;    // approvals: `once` tools approved in this session
  std::mutex m_checkpoint_mutex;            // durable runs: concurrent tool results
  json m_checkpoint{};                      // the step's checkpoint while its tools run
  // compaction and the cached view: m_sent holds the provider messages of the model's view of
  // messages [0, m_seen), so a step converts only the messages added since the last one.
  CompactionSettings m_compaction{};
  std::vector<providers::Message> m_sent{};
  std::size_t m_seen = 0;
  std::size_t m_sent_chars = 0;  // text and call arguments of m_sent
  std::size_t m_sent_prefix = 0; // m_sent's leading messages from a checkpoint (pinned, summary)
  std::size_t m_fixed_chars = 0; // the system prompt and the tool specs
  std::optional<std::size_t> m_user_sent{}; // m_sent index of this turn's user message
  std::set<std::string> m_view_calls{};     // tool call ids in the view (results need them)
  std::string m_system{};
  std::vector<providers::ToolSpec> m_tool_specs{};
};

} // namespace hearth::runtime::harness

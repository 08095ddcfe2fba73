// What every tool the harness offers has in common: built-in, executable, subagent, MCP or the
// structured-result `finish` tool. Results follow Flue's tool_call shape ({content, details}).
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

namespace hearth::sandbox {
class Workspace;
}
namespace hearth::json_schema {
class Validator;
}

namespace hearth::runtime {

/// The outcome of one tool call, as the model and the event stream see it.
struct ToolOutcome {
  std::string text{};                               // what the model reads
  bool is_error = false;                            // an error result the model may correct
  nlohmann::json details = nlohmann::json::object(); // structured extras for events
  bool terminate = false;                           // ends the turn (finish, give_up)
};

/// What a running tool may use: the session's workspace and identifiers for its environment.
struct ToolContext {
  const sandbox::Workspace* workspace = nullptr;
  std::string session_id{};
  std::string run_id{};
  std::string agent{};
  std::string invoker{}; // compact invoker JSON (HEARTH_INVOKER), empty when unknown
  std::string context{}; // compact invocation context values (HEARTH_CONTEXT), empty when none
  std::string conversation_key{}; // the agent instance id (HEARTH_CONVERSATION_KEY; triggers)
  std::function<void(std::string_view level, std::string_view line)> log{}; // tool stderr, logs
  std::string traceparent{}; // W3C traceparent of the tool call's span (TRACEPARENT), or ""
  std::string call_id{};     // the model's tool call id (subagent events name their call)
  /// Stopped when the turn is cancelled: a tool that waits must give up (processes: pass it to
  /// sandbox::Command::cancel) and answer cancelled_outcome() (docs/runtime.md "Cancellation").
  std::stop_token cancel{};
  /// Asks the session's user while the tool runs (MCP elicitation/create, issue 13 §3;
  /// runtime/approvals.hpp ask_while_running): `request` {prompt, display, options,
  /// allowFreeform, ...} becomes an input_request (Eve: input.requested); blocks until it is
  /// answered or `stop` stops. Returns {answer, optionId?} or null (nobody answered). Empty when
  /// nobody can be asked (workflow runs, task-mode turns, subagents).
  std::function<nlohmann::json(nlohmann::json request, std::stop_token stop)> ask{};
  /// Appends an event to the turn's stream for a person watching it (a connection's
  /// authorization_required / authorization_completed, issue 13 §4). Set with `ask`.
  std::function<void(const std::string& type, const nlohmann::json& data)> emit{};
};

/// What the model reads for a tool call the cancellation stopped (or never started): an error
/// result, so the provider never sees a tool call without its result.
inline ToolOutcome cancelled_outcome(const std::string& tool) {
  return {.text = "The tool call " + tool + " was cancelled: the user stopped the turn.",
          .is_error = true,
          .details = {{"cancelled", true}}};
}

/// A tool's input schema (a JSON Schema object), shared and never changed once made: a turn
/// offers the same built-in schemas every time, and copying their DOMs per turn was a tenth of
/// a mock run (issue 17).
using SharedSchema = std::shared_ptr<const nlohmann::json>;

/// `schema` as a SharedSchema.
inline SharedSchema make_schema(nlohmann::json schema) {
  return std::make_shared<const nlohmann::json>(std::move(schema));
}

/// A tool as the model sees it plus the function that runs it. `run` returns error outcomes for
/// anything the model should see; it throws only for failures that must end the turn.
struct Tool {
  std::string name{};
  std::string description{};
  SharedSchema input_schema = make_schema(nlohmann::json::object()); // never null
  std::function<ToolOutcome(const nlohmann::json& input, const ToolContext& context)> run{};
  /// never | once | always for tools that carry their own (connection tools, issue 13); "": the
  /// agent's tool definition decides (ExecToolDef::approval, else never).
  std::string approval{};
  /// input_schema's validator, its compact JSON text and that text's size, when the tool's maker
  /// prepared them (agent_tools.hpp prepare_schema: once per process for the built-ins); null
  /// and 0: the harness prepares them itself when it adds the tool to a turn.
  std::shared_ptr<const json_schema::Validator> validator{};
  std::shared_ptr<const std::string> schema_text{};
  std::size_t schema_chars = 0;
};

} // namespace hearth::runtime

// The agent harness loop; see harness.hpp. Messages are kept in Flue's (pi) shape so session
// history, events and `agent_end.messages` read the same as Flue's.
#include "runtime/harness.hpp"
#include "core/json.hpp"
#include "core/text.hpp"

#include "core/errors.hpp"
#include "core/ids.hpp"
#include "core/json_schema.hpp"
#include "manifest/builtins.hpp"
#include "mcp/connection_tools.hpp"
#include "runtime/agent_tools.hpp"
#include "runtime/compaction.hpp"
#include "runtime/file_tools.hpp"
#include "runtime/policy.hpp"
#include "runtime/telemetry.hpp"
#include "sandbox/workspace.hpp"
#include "store/store.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <set>

namespace hearth::runtime {
namespace {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* k_headless_preamble =
    "You are running in headless mode with no human operator. Work autonomously: never ask "
    "questions, never wait for user input. Make your best judgment and proceed independently.";

constexpr const char* k_result_instructions =
    "When the task is complete, call the `finish` tool with your final answer as its arguments. "
    "The arguments are validated against the required schema; if validation fails you will "
    "receive an error and may try again.\nIf you determine that you cannot complete the task, "
    "call the `give_up` tool with a short reason instead.";

std::string system_prompt(const AgentDef& agent, const TurnOptions& options) {
  std::string prompt;
  if (options.headless) prompt += std::string(k_headless_preamble) + "\n\n";
  prompt += agent.instructions;
  if (!agent.skills.empty()) {
    prompt += "\n\n## Skills\n\nLoad a skill with the `load_skill` tool before you follow it.\n\n";
    for (const auto& skill : agent.skills)
      prompt += "- " + skill.name + ": " + skill.description + "\n";
  }
  return prompt;
}

/// The invocation's context values as tools read them (HEARTH_CONTEXT); "" when there are none.
std::string context_text(const RuntimeContext& context) {
  const auto& values = context.context_values;
  return values.is_object() && !values.empty() ? hearth::dump_json(values) : std::string();
}

json text_content(const std::string& text) { return json::array({{{"type", "text"}, {"text", text}}}); }

/// The concatenated text parts of a Flue message's content.
std::string content_text(const json& message) {
  std::string out;
  const auto& content = message.value("content", json::array());
  if (content.is_string()) return content.get<std::string>();
  for (const auto& part : content)
    if (part.value("type", "") == "text") out += part.value("text", "");
  return out;
}

/// One Flue-shaped message as the provider-neutral one; nullopt for what is not sent (markers).
std::optional<providers::Message> to_provider_message(const json& m) {
  const auto role = m.value("role", "");
  if (role == "user") return providers::user_message(content_text(m));
  if (role == "assistant") {
    std::vector<providers::ToolCall> calls;
    for (const auto& part : m.value("content", json::array()))
      if (part.value("type", "") == "toolCall")
        calls.push_back({.id = part.value("id", ""),
                         .name = part.value("name", ""),
                         .arguments = dump_json(part.value("arguments", json::object())),
                         .input = part.value("arguments", json::object())});
    return providers::assistant_message(content_text(m), std::move(calls));
  }
  if (role == "toolResult")
    return providers::tool_result(m.value("toolCallId", ""), content_text(m),
                                  m.value("isError", false), m.value("toolName", ""));
  return std::nullopt;
}

std::size_t provider_chars(const providers::Message& m) {
  std::size_t n = m.text.size();
  for (const auto& c : m.tool_calls) n += c.name.size() + c.arguments.size();
  return n;
}

json assistant_json(const providers::StepResult& step, const std::string& api) {
  json content = json::array();
  if (!step.thinking.empty()) content.push_back({{"type", "thinking"}, {"thinking", step.thinking}});
  if (!step.text.empty()) content.push_back({{"type", "text"}, {"text", step.text}});
  for (const auto& call : step.tool_calls)
    content.push_back({{"type", "toolCall"},
                       {"id", call.id},
                       {"name", call.name},
                       {"arguments", call.input.is_null() ? json::object() : call.input}});
  return {{"role", "assistant"}, {"content", content},     {"api", api},
          {"provider", step.provider}, {"model", step.model}, {"usage", usage_json(step.usage)},
          {"stopReason", step.stop_reason}, {"timestamp", now_ms()}};
}

json tool_result_json(const providers::ToolCall& call, const ToolOutcome& outcome) {
  return {{"role", "toolResult"},   {"toolCallId", call.id},
          {"toolName", call.name},  {"content", text_content(outcome.text)},
          {"details", outcome.details}, {"isError", outcome.is_error},
          {"timestamp", now_ms()}};
}

void add_usage(providers::Usage& total, const providers::Usage& step) {
  total.input += step.input;
  total.output += step.output;
  total.cache_read += step.cache_read;
  total.cache_write += step.cache_write;
  total.total += step.total;
}

/// The object schema of the `finish` tool: the result schema itself when it describes an
/// object, else wrapped as {value: schema} (tool parameters must be objects).
struct FinishSchema {
  json parameters{};
  bool wrapped = false;
};

FinishSchema finish_schema(const json& result) {
  if (result.value("type", json()) == "object") return {result, false};
  return {{{"type", "object"},
           {"properties", {{"value", result}}},
           {"required", {"value"}},
           {"additionalProperties", false}},
          true};
}

/// approvals: one tool call of a step after the policy gate: its outcome, or the request
/// (approval_request / input_request body plus `kind`) it parks on.
struct CallSlot {
  ToolOutcome outcome{};
  std::optional<json> request{};
};

ToolOutcome outcome_from_json(const json& o) {
  return {.text = o.value("text", ""), .is_error = o.value("isError", false),
          .details = o.contains("details") ? o["details"] : json::object(),
          .terminate = o.value("terminate", false)};
}

json outcome_json(const ToolOutcome& o) {
  return {{"text", o.text}, {"isError", o.is_error}, {"details", o.details},
          {"terminate", o.terminate}};
}

providers::ToolCall parked_call(const json& c) {
  const json args = c.contains("args") && c["args"].is_object() ? c["args"] : json::object();
  return {.id = c.value("toolCallId", ""), .name = c.value("toolName", ""),
          .arguments = dump_json(args), .input = args};
}

// --- cancellation (docs/runtime.md "Cancellation"): checked between steps and before each tool;
// the model step and the tools observe the token themselves.

/// The newest assistant message of `messages` (the step whose tool calls a resumed turn answers),
/// or an empty object.
json last_assistant(const json& messages) {
  for (auto it = messages.rbegin(); it != messages.rend(); ++it)
    if (it->value("role", "") == "assistant") return *it;
  return json::object();
}

void throw_if_cancelled(const RuntimeContext& context) {
  if (context.cancel.stop_requested()) throw errors::turn_cancelled();
}

/// One turn in progress: the tools on offer and the state shared by concurrent tool calls.
class TurnRunner {
public:
  TurnRunner(TurnScope& scope, const AgentDef& agent, const TurnOptions& options)
      : m_scope(scope), m_agent(agent), m_options(options) {
    m_model_string = !options.model_override.empty() ? options.model_override
                     : !agent.model.empty()          ? agent.model
                                                      : scope.context.default_model;
    if (m_model_string.empty()) throw errors::model_missing(agent.name);
    m_model = providers::parse_model(m_model_string);
    build_tools();
    m_compaction = compaction_settings(agent.compaction);
    m_system = system_prompt(agent, options);
    m_fixed_chars = m_system.size();
    for (const auto& t : m_tools) {
      m_tool_specs.push_back({.name = t.name, .description = t.description,
                              .parameters = t.input_schema});
      m_tool_list.push_back({{"name", t.name}, {"description", t.description},
                             {"parameters", t.input_schema}});
      m_fixed_chars += t.name.size() + t.description.size() + hearth::dump_json(t.input_schema).size();
    }
    m_rules = parse_policy(agent.policy); // validated at discovery; throws policy_invalid
    const bool any_once =
        std::any_of(agent.tools.begin(), agent.tools.end(),
                    [](const ExecToolDef& t) { return t.approval == "once"; }) ||
        std::any_of(m_tools.begin(), m_tools.end(),
                    [](const Tool& t) { return t.approval == "once"; }) ||
        std::any_of(agent.connections.begin(), agent.connections.end(), [](const json& c) {
          return c.is_object() && c.value("approval", json()) == "once"; // connection tools
        });
    if (any_once)
      for (const auto& r : scope.events.store().list_approvals(scope.events.path(),
                                                               scope.envelope.session, false))
        if (r.status == "approved") m_approved_once.insert(r.tool_name);
  }

  TurnResult run(json& messages, const std::string& user_text);
  TurnResult resume(json& messages, const json& parked);
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
  // approvals: the policy gate, requests, parking and resuming (see the end of this file)
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
  // compaction and the cached view (issue 16 §1-2): see the end of this file
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
  std::vector<Tool> m_tools;
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
  json m_tool_list = json::array();
};

void TurnRunner::add_tool(Tool tool) {
  // An authored tool named like a built-in replaces it (the manifest lists it once too).
  std::erase_if(m_tools, [&](const Tool& t) { return t.name == tool.name; });
  try {
    m_validators[tool.name] = json_schema::shared_validator(tool.input_schema); // cached
  } catch (const std::invalid_argument&) {
    m_validators[tool.name] = nullptr; // discovery reports bad schemas; the tool checks itself
  }
  m_tools.push_back(std::move(tool));
}

void TurnRunner::build_tools() {
  for (auto& tool : file_tools()) add_tool(std::move(tool));
  const auto policy = agent_policy(m_agent.sandbox, m_scope.context.project_root,
                                   m_scope.context.sandbox_fail_closed);
  add_tool(bash_tool(policy));
  if (!m_agent.skills.empty()) add_tool(load_skill_tool(m_agent.skills));
  add_tool(ask_question_tool());
  if (m_options.depth < k_max_agent_copy_depth) add_tool(subagent_tool(m_agent, true));
  for (const auto& sub : m_agent.subagents) add_tool(subagent_tool(sub));
  for (const auto& def : m_agent.tools) add_tool(exec_tool(def, policy));
  // MCP connections (issue 13): offered from the lists cached by earlier starts; building a turn
  // never starts or waits on a server (a connection starts on its first call or search).
  if (m_scope.context.connections && !m_agent.connections.empty())
    for (auto& tool : mcp::connection_tools(
             *m_scope.context.connections, connection_agent(),
             {.session = m_scope.envelope.session, .threshold = m_agent.connection_tool_threshold}))
      add_tool(std::move(tool));
  if (m_options.result_schema.is_null()) return;
  m_finish = finish_schema(m_options.result_schema);
  m_result_validator = json_schema::shared_validator(m_finish.parameters);
  add_tool({.name = "finish",
            .description = "Submit your final answer; its arguments must match the required schema.",
            .input_schema = m_finish.parameters,
            .run = [this](const json& input, const ToolContext&) { return finish(input); }});
  add_tool({.name = "give_up",
            .description = "Stop because the task cannot be completed; say why.",
            .input_schema = {{"type", "object"},
                             {"properties", {{"reason", {{"type", "string"}}}}},
                             {"required", {"reason"}}},
            .run = [this](const json& input, const ToolContext&) {
              std::lock_guard lock(m_mutex);
              m_gave_up = input.value("reason", std::string("no reason given"));
              return ToolOutcome{.text = "Understood.", .terminate = true};
            }});
}

Tool TurnRunner::ask_question_tool() {
  const auto& spec = manifest::builtin_tool("ask_question"); // the schema `info` shows
  return {.name = "ask_question",
          .description = spec["description"].get<std::string>(),
          .input_schema = spec["inputSchema"],
          .run = [this](const json& input, const ToolContext&) -> ToolOutcome {
            if (m_options.headless)
              return {.text = "No one can answer questions in this run (it is headless). Make "
                              "your best judgment and continue.",
                      .is_error = true};
            std::lock_guard lock(m_mutex);
            m_question = input.at("question").get<std::string>();
            return {.text = "The question was sent to the user.",
                    .details = {{"question", *m_question}},
                    .terminate = true};
          }};
}

ToolOutcome TurnRunner::finish(const json& input) {
  const auto violations = m_result_validator->validate(input);
  std::lock_guard lock(m_mutex);
  if (!violations.empty()) {
    ++m_invalid_results;
    return {.text = "The result does not match the required schema:\n" +
                    json_schema::describe(violations) + "\nCall `finish` again with a valid result.",
            .is_error = true};
  }
  m_result = m_finish.wrapped ? input.at("value") : input;
  return {.text = "Result accepted. The task is complete.",
          .details = {{"tool", "finish"}, {"result", *m_result}},
          .terminate = true};
}

Tool TurnRunner::subagent_tool(const AgentDef& sub, bool copy) {
  Tool tool;
  if (copy) {
    const auto& spec = manifest::builtin_tool("agent"); // the schema `info` shows
    tool = {.name = "agent", .description = spec["description"].get<std::string>(),
            .input_schema = spec["inputSchema"]};
  } else {
    tool = {.name = sub.name, .description = sub.description,
            .input_schema = manifest::subagent_tool_schema()};
  }
  const std::string name = copy ? std::string("agent") : sub.name;
  tool.run = [this, &sub, copy, name](const json& input, const ToolContext& tool_context) -> ToolOutcome {
    // `agent` copies may call `agent` again (depth ≤ 2): bound how many run in this process at
    // once, so one step cannot fan out into a tree of concurrent turns.
    static std::atomic<int> running_copies{0};
    constexpr int k_max_running_copies = 8;
    struct CopySlot {
      bool held = false;
      ~CopySlot() {
        if (held) --running_copies;
      }
    } slot;
    if (copy) {
      if (++running_copies > k_max_running_copies) {
        --running_copies;
        return {.text = "agent: " + std::to_string(k_max_running_copies) +
                        " copies of this agent are already running; finish with them before "
                        "starting another.",
                .is_error = true};
      }
      slot.held = true;
    }
    const auto task_id = ids::make_id("task");
    Envelope envelope = m_scope.envelope;
    envelope.parent_session = envelope.session;
    envelope.session = envelope.session + "/" + name + "/" + task_id;
    envelope.task_id = task_id;
    envelope.turn_id.clear();
    const auto message = input.at("message").get<std::string>();
    const auto started = Clock::now();
    // Eve: the child is a session of its own, `<sessionId>.<taskId>`, whose stream the Eve
    // route serves (subagent.called carries it); Flue: task_start / task on this stream.
    json start = {{"taskId", task_id}, {"prompt", message}, {"agent", name},
                  {"toolCallId", tool_context.call_id}, {"kind", copy ? "agent" : "subagent"},
                  {"depth", m_options.depth + 1}};
    if (!m_scope.envelope.instance_id.empty()) {
      start["childSessionId"] = m_scope.envelope.instance_id + "." + task_id;
      start["parentSessionId"] = m_scope.envelope.instance_id;
    }
    m_scope.events.emit("task_start", start, m_scope.envelope);
    TurnScope child{m_scope.context, m_scope.models, m_scope.events, m_scope.workspace, envelope};
    json history = json::array();
    TurnOptions options{.result_schema = input.value("outputSchema", json()),
                        .headless = m_options.headless,
                        .depth = m_options.depth + 1};
    if (copy) { // a copy of this agent: its model and step bound too
      options.model_override = m_model_string;
      options.max_steps = m_options.max_steps;
    }
    const json lineage = start.contains("childSessionId")
                             ? json{{"childSessionId", start["childSessionId"]}}
                             : json::object();
    try {
      const auto result = run_turn(child, sub, history, message, options);
      const json out = result.to_json();
      json done = {{"taskId", task_id}, {"isError", false}, {"result", out},
                   {"agent", name}, {"toolCallId", tool_context.call_id},
                   {"durationMs", elapsed_ms(started)}};
      done.update(lineage);
      m_scope.events.emit("task", done, m_scope.envelope);
      // The parent's tool result is the child's answer: its structured output, else its text.
      const json answer = result.data.is_null() ? json(result.text) : result.data;
      json details = {{"taskId", task_id}, {"agent", name}, {"output", answer}};
      details.update(lineage);
      return {.text = result.data.is_null() ? result.text : dump_json(result.data),
              .details = details};
    } catch (const Error& e) {
      json done = {{"taskId", task_id}, {"isError", true},
                   {"error", {{"type", e.info().type}, {"message", e.info().message}}},
                   {"agent", name}, {"toolCallId", tool_context.call_id},
                   {"durationMs", elapsed_ms(started)}};
      done.update(lineage);
      m_scope.events.emit("task", done, m_scope.envelope);
      return {.text = "Subagent " + name + " failed: " + e.info().message, .is_error = true};
    } catch (const std::exception& e) { // e.g. an outputSchema that does not compile
      json done = {{"taskId", task_id}, {"isError", true},
                   {"error", {{"type", "subagent_failed"}, {"message", e.what()}}},
                   {"agent", name}, {"toolCallId", tool_context.call_id},
                   {"durationMs", elapsed_ms(started)}};
      done.update(lineage);
      m_scope.events.emit("task", done, m_scope.envelope); // the child's stream ends too
      return {.text = "Subagent " + name + " failed: " + e.what(), .is_error = true};
    }
  };
  return tool;
}

std::vector<json_schema::Violation> TurnRunner::input_violations(const std::string& tool,
                                                                const json& args) {
  // `finish` checks its own input: an invalid result counts against the retry bound.
  const auto it = m_validators.find(tool);
  if (tool == "finish" || it == m_validators.end() || !it->second) return {};
  return it->second->validate(args);
}

ToolOutcome TurnRunner::call_tool(const providers::ToolCall& call, const Envelope& envelope,
                                  bool announce_call, std::optional<ToolOutcome> preset) {
  const auto started = Clock::now();
  const json args = call.input.is_null() ? json::object() : call.input;
  if (announce_call) announce(call, envelope);
  ToolOutcome outcome;
  const auto it = std::find_if(m_tools.begin(), m_tools.end(),
                               [&](const Tool& t) { return t.name == call.name; });
  const Tool* tool = it == m_tools.end() ? nullptr : &*it;
  std::optional<Tool> resolved; // a connection tool not on offer (not listed yet, or above the threshold)
  std::optional<ToolOutcome> unavailable;
  if (!tool && !preset && m_scope.context.connections && !m_agent.connections.empty()) {
    try {
      resolved = mcp::resolve_tool(
          *m_scope.context.connections, connection_agent(), call.name, m_scope.context.cancel,
          m_options.park_for_input && !m_options.headless // OAuth consent (issue 13 §4)
              ? std::function<void(const std::string&, const json&)>(
                    [this, &envelope](const std::string& type, const json& data) {
                      m_scope.events.emit(type, data, envelope);
                    })
              : nullptr);
      if (resolved) tool = &*resolved;
    } catch (const Error& e) {
      unavailable = e.info().type == "cancelled"
                        ? cancelled_outcome(call.name)
                        : ToolOutcome{.text = e.info().message, .is_error = true,
                                      .details = {{"error", e.info().type}}};
    }
  }
  if (preset) { // approvals: decided without running (denied, retryable, answered)
    outcome = std::move(*preset);
  } else if (unavailable) { // its connection could not start: fails at once, the turn goes on
    outcome = std::move(*unavailable);
  } else if (!tool) {
    outcome = {.text = "There is no tool named \"" + call.name + "\".", .is_error = true};
  } else if (call.input_error) {
    outcome = {.text = "The arguments of " + call.name + " are not valid JSON: " + *call.input_error,
               .is_error = true};
  } else if (m_scope.context.cancel.stop_requested()) {
    outcome = cancelled_outcome(call.name); // never started: the model still gets a result
  } else if (const auto violations = input_violations(call.name, args); !violations.empty()) {
    outcome = {.text = "Invalid input for tool " + call.name + ":\n" +
                       json_schema::describe(violations) + "\nFix the arguments and call it again.",
               .is_error = true};
  } else {
    ToolContext ctx{.workspace = &m_scope.workspace,
                    .session_id = envelope.session,
                    .run_id = m_scope.context.run_id,
                    .agent = m_agent.name,
                    .invoker = m_scope.context.invoker.is_null() ? std::string()
                                                                 : m_scope.context.invoker.dump(),
                    .context = context_text(m_scope.context),
                    .conversation_key = m_scope.context.conversation_key,
                    .log = [&](std::string_view level, std::string_view line) {
                      m_scope.events.emit("log", {{"level", level}, {"message", text::to_utf8(line)},
                                                  {"attributes", {{"tool", call.name}}}},
                                          envelope);
                    },
                    .cancel = m_scope.context.cancel};
    ctx.traceparent = m_scope.events.traceparent(call.id, envelope.turn_id, envelope.operation_id);
    ctx.call_id = call.id;
    if (m_options.park_for_input && !m_options.headless) { // MCP elicitation, OAuth (issue 13)
      ctx.ask = [this, &envelope, &call](json request, std::stop_token stop) {
        return ask_while_running(m_scope.events, envelope, call.name, call.id, std::move(request),
                                 std::move(stop));
      };
      ctx.emit = [this, &envelope](const std::string& type, const json& data) {
        m_scope.events.emit(type, data, envelope);
      };
    }
    try {
      outcome = tool->run(args, ctx);
    } catch (const Error& e) {
      outcome = {.text = e.info().message, .is_error = true};
    } catch (const std::exception& e) {
      outcome = {.text = std::string("Tool failed: ") + e.what(), .is_error = true};
    }
    outcome.text = text::to_utf8(outcome.text); // what the model reads is always UTF-8
  }
  json result = {{"content", text_content(outcome.text)}, {"details", outcome.details}};
  if (outcome.terminate) result["terminate"] = true;
  m_scope.events.emit("tool_call", {{"toolName", call.name}, {"toolCallId", call.id},
                                    {"isError", outcome.is_error}, {"result", result},
                                    {"durationMs", elapsed_ms(started)}},
                      envelope);
  return outcome;
}

providers::StepResult TurnRunner::model_step(const json& messages, const Envelope& envelope) {
  sync_view(messages);
  providers::StepRequest request{.model = m_model.model,
                                 .system = m_system,
                                 .options = m_agent.model_options.is_object()
                                                ? m_agent.model_options
                                                : json::object(),
                                 .cancel = m_scope.context.cancel};
  request.tools = m_tool_specs;
  // The cached view is lent to the request (no copy of the history per step) and taken back below.
  const bool has_context = !m_options.client_context.empty() && m_user_sent &&
                           *m_user_sent < m_sent.size();
  const bool over = m_compaction.enabled &&
                    m_sent_chars + m_fixed_chars > budget_chars();
  std::size_t context_at = m_user_sent.value_or(0);
  if (over) { // still above the window after compaction (huge recent turns): a bounded copy
    request.messages = m_sent;
    const auto dropped = bound_request(
        request.messages, budget_chars() > m_fixed_chars ? budget_chars() - m_fixed_chars : 1024,
        m_sent_prefix);
    if (dropped.count > 0 && context_at >= dropped.from) // the user message moved (or went)
      context_at = context_at >= dropped.from + dropped.count ? context_at - dropped.count + 1
                                                             : dropped.from + 1;
  } else {
    request.messages = std::move(m_sent);
  }
  if (has_context) // the ephemeral client context, for this request only
    request.messages.insert(request.messages.begin() +
                                static_cast<std::ptrdiff_t>(std::min(context_at, request.messages.size())),
                            providers::user_message("Client context:\n" + m_options.client_context));
  struct GiveBack { // the view returns to the cache however the step ends
    TurnRunner& self;
    providers::StepRequest& request;
    bool lent, context;
    ~GiveBack() {
      if (!lent) return;
      if (context && *self.m_user_sent < request.messages.size())
        request.messages.erase(request.messages.begin() + static_cast<std::ptrdiff_t>(*self.m_user_sent));
      self.m_sent = std::move(request.messages);
    }
  } give_back{*this, request, !over, has_context};
  const json& tools = m_tool_list;
  std::int64_t sent_tokens = estimated_tokens();
  if (over) {
    std::size_t n = m_fixed_chars;
    for (const auto& m : request.messages) {
      n += m.text.size();
      for (const auto& c : m.tool_calls) n += c.name.size() + c.arguments.size();
    }
    sent_tokens = tokens_for_chars(n);
  }
  m_scope.events.emit("turn_request",
                      {{"model", m_model.model}, {"provider", m_model.provider},
                       {"input", {{"systemPrompt", request.system}, {"tools", tools},
                                  {"messageCount", request.messages.size()},
                                  {"estimatedTokens", sent_tokens}}}},
                      envelope);
  m_scope.events.emit("message_start",
                      {{"message", {{"role", "assistant"}, {"content", json::array()},
                                    {"provider", m_model.provider}, {"model", m_model.model}}}},
                      envelope);
  providers::StreamSink sink;
  sink.on_text_delta = [&](std::string_view delta) {
    m_scope.events.emit("text_delta", {{"text", delta}}, envelope);
  };
  sink.on_thinking_delta = [&](std::string_view delta) {
    m_scope.events.emit("thinking_delta", {{"delta", delta}}, envelope);
  };
  sink.on_tool_call_start = [&](std::size_t index, std::string_view id, std::string_view name) {
    m_scope.events.emit("message_update",
                        {{"assistantMessageEvent", {{"type", "toolcall_start"}, {"contentIndex", index},
                                                    {"id", id}, {"name", name}}}},
                        envelope);
  };
  sink.on_tool_call_end = [&](std::size_t index, const providers::ToolCall& call) {
    m_scope.events.emit("message_update",
                        {{"assistantMessageEvent",
                          {{"type", "toolcall_end"}, {"contentIndex", index},
                           {"toolCall", {{"id", call.id}, {"name", call.name},
                                         {"arguments", call.input.is_null() ? json::object()
                                                                            : call.input}}}}}},
                        envelope);
  };
  auto& client = m_scope.models.get(m_model.provider, m_agent.mock_script);
  auto step = client.step(request, sink);
  if (step.provider.empty()) step.provider = m_model.provider;
  if (step.model.empty()) step.model = m_model.model;
  return step;
}

TurnResult TurnRunner::run(json& messages, const std::string& user_text) {
  m_scope.events.emit("agent_start", json::object(), m_scope.envelope);
  std::string prompt = user_text;
  if (!m_options.result_schema.is_null()) prompt += "\n\n" + std::string(k_result_instructions);
  const json user = {{"role", "user"}, {"content", text_content(prompt)}, {"timestamp", now_ms()}};
  TurnResult result{.provider = m_model.provider, .model = m_model.model};
  return step_loop(messages, 1, std::move(result), &user);
}

TurnResult TurnRunner::step_loop(json& messages, int first_step, TurnResult result,
                                 const json* user) {
  const int max_steps = m_options.max_steps > 0 ? m_options.max_steps : m_agent.max_steps;
  Envelope envelope = m_scope.envelope;
  for (int step_number = first_step;; ++step_number) {
    if (step_number > max_steps) throw errors::max_steps_exceeded(m_agent.name, max_steps);
    envelope.turn_id = ids::make_id("turn");
    const auto started = Clock::now();
    m_scope.events.emit("turn_start", {{"purpose", "agent"}}, envelope);
    if (user) {
      m_user_index = messages.size();
      messages.push_back(*user);
      m_scope.events.emit("message_start", {{"message", *user}}, envelope);
      m_scope.events.emit("message_end", {{"message", *user}}, envelope);
      user = nullptr;
    }
    throw_if_cancelled(m_scope.context); // after the user message: history keeps what was asked
    if (m_compaction.enabled && !m_compaction_failed) {
      sync_view(messages);
      if (estimated_tokens() > trigger_tokens()) compact(messages, envelope, "threshold", &result);
    }
    const auto step = model_step(messages, envelope);
    add_usage(result.usage, step.usage);
    result.provider = step.provider;
    result.model = step.model;
    const json assistant = assistant_json(step, m_model.provider);
    messages.push_back(assistant);
    m_scope.events.emit("message_end", {{"message", assistant}}, envelope);
    result.text = step.text.empty() ? result.text : step.text;
    // Durable runs: the model's answer is committed before any of its tools starts.
    begin_step_checkpoint(messages, step_number, step.tool_calls, result, envelope);

    auto slots = run_calls(step.tool_calls, envelope);
    // Cancelled while its tools ran: the turn ends cancelled rather than parked; its requests
    // are closed (nobody may decide them later) and their calls read as cancelled.
    if (m_scope.context.cancel.stop_requested()) close_requests_cancelled(slots, step.tool_calls, envelope);
    if (std::any_of(slots.begin(), slots.end(), [](const CallSlot& s) { return s.request.has_value(); })) {
      emit_step_stats(step, started, envelope);
      return park(step_number, step.tool_calls, slots, std::move(result), envelope);
    }
    std::vector<ToolOutcome> outcomes;
    for (const auto& slot : slots) outcomes.push_back(slot.outcome);
    append_results(messages, step.tool_calls, outcomes, assistant, envelope);
    emit_step_stats(step, started, envelope);
    // Cancelled during the tools: their results are recorded above; the turn ends here.
    if (!step.tool_calls.empty()) throw_if_cancelled(m_scope.context);
    const bool finished = after_step(messages, result, !step.tool_calls.empty());
    save_step(messages, step_number, result, envelope, finished);
    if (finished) break;
    if (m_options.suspend.stop_requested()) throw errors::run_suspended(); // a step boundary
  }
  m_scope.events.emit("agent_end", {{"messages", messages}}, envelope);
  return result;
}

void TurnRunner::append_results(json& messages, const std::vector<providers::ToolCall>& calls,
                                const std::vector<ToolOutcome>& outcomes, const json& assistant,
                                const Envelope& envelope) {
  json tool_results = json::array();
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const json message = tool_result_json(calls[i], outcomes[i]);
    messages.push_back(message);
    tool_results.push_back(message);
    m_scope.events.emit("message_start", {{"message", message}}, envelope);
    m_scope.events.emit("message_end", {{"message", message}}, envelope);
  }
  m_scope.events.emit("turn_end", {{"purpose", "agent"}, {"message", assistant},
                                   {"toolResults", tool_results}},
                      envelope);
}

void TurnRunner::emit_step_stats(const providers::StepResult& step, Clock::time_point started,
                                 const Envelope& envelope) {
  m_scope.events.emit("turn", {{"purpose", "agent"}, {"durationMs", elapsed_ms(started)},
                               {"model", step.model}, {"provider", step.provider},
                               {"usage", usage_json(step.usage)}, {"stopReason", step.stop_reason},
                               {"isError", false}},
                      envelope);
  m_scope.events.emit("usage", {{"provider", step.provider}, {"model", step.model},
                                {"inputTokens", step.usage.input},
                                {"outputTokens", step.usage.output},
                                {"cacheReadTokens", step.usage.cache_read},
                                {"cacheWriteTokens", step.usage.cache_write},
                                {"totalTokens", step.usage.total}},
                      envelope);
}

/// After a step's results are in: true when the turn is done; throws when it failed.
bool TurnRunner::after_step(json& messages, TurnResult& result, bool had_tool_calls) {
  std::lock_guard lock(m_mutex);
  if (m_gave_up) throw errors::agent_gave_up(m_agent.name, *m_gave_up);
  if (m_result) {
    result.data = *m_result;
    return true;
  }
  if (m_question && m_options.result_schema.is_null()) {
    result.text = *m_question;
    return true;
  }
  if (m_invalid_results >= k_max_result_attempts)
    throw errors::result_invalid(m_agent.name, k_max_result_attempts);
  if (had_tool_calls) return false;
  if (m_options.result_schema.is_null()) return true; // a final answer
  // A structured result is required but the model answered in text: remind it, bounded.
  if (++m_invalid_results >= k_max_result_attempts)
    throw errors::result_invalid(m_agent.name, k_max_result_attempts);
  json reminder = {{"role", "user"},
                   {"content", text_content("You must call the `finish` tool with a result that "
                                            "matches the required schema (or `give_up`).")},
                   {"reminder", true}, // not a turn of the user's (compaction's keepRecentTurns)
                   {"timestamp", now_ms()}};
  messages.push_back(reminder);
  return false;
}

// approvals ------------------------------------------------------------------------------------
// The policy gate before every tool call, Approval Requests and questions, parking a turn and
// resuming it (issue 12 §1-3). Kept apart from the step loop above.

std::string TurnRunner::approval_of(const std::string& tool) const {
  for (const auto& t : m_tools)
    if (t.name == tool && !t.approval.empty()) return t.approval; // connection tools
  for (const auto& def : m_agent.tools)
    if (def.name == tool) return def.approval;
  if (m_scope.context.connections && !m_agent.connections.empty()) // one not on offer
    if (auto a = mcp::connection_approval(*m_scope.context.connections, connection_agent(), tool);
        !a.empty())
      return a;
  return "never";
}

void TurnRunner::announce(const providers::ToolCall& call, const Envelope& envelope) {
  const json args = call.input.is_null() ? json::object() : call.input;
  m_scope.events.emit("tool_start",
                      {{"toolName", call.name}, {"toolCallId", call.id}, {"args", args}}, envelope);
}

std::vector<CallSlot> TurnRunner::run_calls(const std::vector<providers::ToolCall>& calls,
                                            const Envelope& envelope) {
  // Tool calls run concurrently; results are appended in the order the model asked.
  std::vector<CallSlot> slots(calls.size());
  if (calls.size() == 1) {
    slots[0] = gated_call(calls[0], envelope);
    note_outcome(0, slots[0]);
  } else if (!calls.empty()) {
    // At most k_parallel_calls threads at once: a step asking for a hundred calls (each perhaps
    // an `agent` copy asking for a hundred more) must not start a thread per call.
    constexpr std::size_t k_parallel_calls = 8;
    for (std::size_t first = 0; first < calls.size(); first += k_parallel_calls) {
      std::vector<std::future<CallSlot>> running;
      const auto end = std::min(calls.size(), first + k_parallel_calls);
      for (std::size_t i = first; i < end; ++i)
        running.push_back(std::async(std::launch::async, [this, i, &calls, &envelope] {
          auto slot = gated_call(calls[i], envelope);
          note_outcome(i, slot);
          return slot;
        }));
      for (std::size_t i = first; i < end; ++i) slots[i] = running[i - first].get();
    }
  }
  return slots;
}

CallSlot TurnRunner::gated_call(const providers::ToolCall& call, const Envelope& envelope) {
  const json args = call.input.is_object() ? call.input : json::object();
  PolicyInput input{.tool = call.name, .tool_call_id = call.id, .args = args,
                    .approval = approval_of(call.name), .invoker = m_scope.context.invoker,
                    .session = envelope.session, .run_id = m_scope.context.run_id};
  {
    std::lock_guard lock(m_mutex);
    input.approved_once = m_approved_once.count(call.name) > 0;
  }
  const auto policy = evaluate_policy(input, m_rules, &m_agent, m_scope.context.call_hook);
  const json decision = policy.to_event(input);
  m_scope.events.emit("policy_decision", decision, envelope);
  switch (policy.decision) {
  case PolicyDecision::allow:
    break;
  case PolicyDecision::deny: {
    const std::string by = !policy.rule.empty()       ? "policy rule \"" + policy.rule + "\""
                           : policy.source == "hook" ? std::string("the policy hook")
                                                     : std::string("policy");
    return {call_tool(call, envelope, true,
                      ToolOutcome{.text = "Tool call denied by " + by + ": " + policy.reason + ".",
                                  .is_error = true, .details = {{"policy", decision}}})};
  }
  case PolicyDecision::retryable_failure:
    return {call_tool(call, envelope, true,
                      ToolOutcome{.text = "Tool call failed, retryable: " + policy.reason +
                                          ". Retry after " + std::to_string(policy.retry_after_ms) +
                                          " ms.",
                                  .is_error = true,
                                  .details = {{"retryable", true},
                                              {"retryAfterMs", policy.retry_after_ms},
                                              {"policy", decision}}})};
  case PolicyDecision::require_approval:
    return request_approval(call, args, policy, envelope);
  }
  const bool valid_question = call.name == "ask_question" && !call.input_error &&
                              args.contains("question") && args["question"].is_string() &&
                              input_violations(call.name, args).empty();
  if (valid_question && m_options.park_for_input && !m_options.headless)
    return ask(call, args, envelope);
  return {call_tool(call, envelope)};
}

std::optional<InputAnswer> TurnRunner::approval_hook(const json& request) {
  if (!m_scope.context.call_hook) return std::nullopt;
  json payload = request;
  payload["invoker"] = m_scope.context.invoker;
  payload["runId"] = m_scope.context.run_id;
  json answer;
  try {
    answer = m_scope.context.call_hook(m_agent, "approval", payload);
  } catch (const std::exception&) { // a failing hook has no opinion
    return std::nullopt;
  }
  if (!answer.is_object() || !answer.contains("decision") || !answer["decision"].is_string())
    return std::nullopt;
  const auto decision = answer["decision"].get<std::string>();
  if (decision != "approve" && decision != "deny") return std::nullopt;
  InputAnswer out{.decision = decision,
                  .invoker = {{"id", "hooks/approval"}, {"kind", "hook"}, {"label", "the approval hook"}}};
  if (answer.contains("reason") && answer["reason"].is_string())
    out.reason = answer["reason"].get<std::string>().substr(0, 2000);
  return out;
}

CallSlot TurnRunner::request_approval(const providers::ToolCall& call, const json& args,
                                      const PolicyOutcome& policy, const Envelope& envelope) {
  const auto id = ids::make_id("apr");
  json body = {{"approvalId", id}, {"toolName", call.name}, {"toolCallId", call.id},
               {"args", args}, {"reason", policy.reason},
               {"options", json::array({"approve", "deny"})}};
  const store::ApprovalRecord record{.approval_id = id, .owner = m_scope.events.path(),
                                     .session = envelope.session, .kind = "approval",
                                     .tool_name = call.name, .tool_call_id = call.id,
                                     .request = body};
  auto& store = m_scope.events.store();
  store.create_approval(record);
  announce(call, envelope);
  m_scope.events.emit("approval_request", body, envelope);
  auto answer = approval_hook(body);
  if (!answer && m_options.park_for_input) {
    body["kind"] = "approval";
    return {.request = body};
  }
  if (!answer && m_scope.context.wait_for_approval) {
    json request = body;
    request["runId"] = m_scope.context.run_id;
    try {
      answer = m_scope.context.wait_for_approval(request, m_scope.context.cancel);
    } catch (const Error&) { // cancelled while waiting: nobody may decide this row any more
      record_answer(m_scope.events, envelope, record,
                    {.request_id = id, .decision = "deny", .reason = "the run was cancelled"});
      throw;
    }
  }
  if (!answer) {
    // Nobody can decide it now (headless run without a matching --approve/--deny, a subagent
    // in a session, the wait bound): close the row, so a later decision cannot "approve" it.
    record_answer(m_scope.events, envelope, record,
                  {.request_id = id, .decision = "deny", .reason = "nobody could decide it"});
    throw errors::approval_required(call.name, id);
  }
  answer->request_id = id;
  record_answer(m_scope.events, envelope, record, *answer); // false: decided elsewhere first
  return {decided_call(call, id, envelope)};
}

void TurnRunner::close_requests_cancelled(std::vector<CallSlot>& slots,
                                          const std::vector<providers::ToolCall>& calls,
                                          const Envelope& envelope) {
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (!slots[i].request) continue;
    const auto& request = *slots[i].request;
    close_request(m_scope.events, envelope,
                  request.value("approvalId", request.value("requestId", "")),
                  "the turn was cancelled", "(the turn was cancelled)");
    slots[i] = {.outcome = cancelled_outcome(calls[i].name)};
  }
}

CallSlot TurnRunner::ask(const providers::ToolCall& call, const json& args,
                         const Envelope& envelope) {
  const auto id = ids::make_id("ask");
  json options = json::array();
  for (const auto& o : args.value("options", json::array()))
    if (o.is_object() && o.contains("label") && o["label"].is_string() && options.size() < 3)
      options.push_back({{"id", o["label"]}, {"label", o["label"]},
                         {"description", o.value("description", "")}});
  json body = {{"requestId", id}, {"toolName", call.name}, {"toolCallId", call.id},
               {"args", args}, {"prompt", args["question"]}, {"options", options},
               {"allowFreeform", true}, {"display", options.empty() ? "text" : "select"}};
  m_scope.events.store().create_approval({.approval_id = id, .owner = m_scope.events.path(),
                                          .session = envelope.session, .kind = "question",
                                          .tool_name = call.name, .tool_call_id = call.id,
                                          .request = body});
  announce(call, envelope);
  m_scope.events.emit("input_request", body, envelope);
  body["kind"] = "question";
  return {.request = body};
}

/// The outcome of a call whose request `request_id` is decided (or not): runs an approved call,
/// answers a question, reports a denial or a request nobody answered.
ToolOutcome TurnRunner::decided_call(const providers::ToolCall& call, const std::string& request_id,
                                     const Envelope& envelope) {
  const auto record = m_scope.events.store().get_approval(request_id);
  if (!record || record->status == "pending")
    return call_tool(call, envelope, false,
                     ToolOutcome{.text = "Nobody answered the request for this call; it did not run.",
                                 .is_error = true});
  const json& decision = record->decision.is_object() ? record->decision : json::object();
  if (record->kind == "question") {
    const json out = {{"answer", decision.value("answer", "")}, {"status", "answered"}};
    return call_tool(call, envelope, false, ToolOutcome{.text = dump_json(out), .details = out});
  }
  if (record->status == "approved") {
    {
      std::lock_guard lock(m_mutex);
      m_approved_once.insert(call.name);
    }
    return call_tool(call, envelope, false);
  }
  const auto reason = decision.value("reason", "");
  return call_tool(call, envelope, false,
                   ToolOutcome{.text = "Tool call denied by " +
                                       decided_by(decision.value("invoker", json())) +
                                       (reason.empty() ? "" : ": " + reason) +
                                       ". It did not run; do not retry it unless asked.",
                               .is_error = true,
                               .details = {{"denied", true}, {"approvalId", request_id}}});
}

TurnResult TurnRunner::park(int step_number, const std::vector<providers::ToolCall>& calls,
                            const std::vector<CallSlot>& slots, TurnResult result,
                            const Envelope& envelope) {
  json parked_calls = json::array();
  json requests = json::array();
  for (std::size_t i = 0; i < calls.size(); ++i) {
    json c = {{"toolCallId", calls[i].id}, {"toolName", calls[i].name},
              {"args", calls[i].input.is_object() ? calls[i].input : json::object()},
              {"pending", slots[i].request.has_value()}};
    if (slots[i].request) {
      const auto& request = *slots[i].request;
      c["requestId"] = request.value("approvalId", request.value("requestId", ""));
      c["kind"] = request.value("kind", "approval");
      requests.push_back(request);
    } else {
      c["outcome"] = outcome_json(slots[i].outcome);
    }
    parked_calls.push_back(std::move(c));
  }
  result.parked = {{"turnId", envelope.turn_id}, {"step", step_number}, {"calls", parked_calls},
                   {"requests", requests}, {"text", result.text},
                   {"usage", usage_json(result.usage)}, {"provider", result.provider},
                   {"model", result.model}, {"invoker", m_scope.context.invoker},
                   {"context", m_scope.context.context_values},
                   {"options", {{"model", m_options.model_override},
                                {"resultSchema", m_options.result_schema},
                                {"maxSteps", m_options.max_steps}}}};
  m_scope.events.emit("turn_parked", {{"on", "input"}, {"requests", requests}}, envelope);
  return result;
}

TurnResult TurnRunner::saved_result(const json& saved) const {
  const json usage = saved.value("usage", json::object());
  return {.text = saved.value("text", ""),
          .usage = {.input = usage.value("input", std::int64_t{0}),
                    .output = usage.value("output", std::int64_t{0}),
                    .cache_read = usage.value("cacheRead", std::int64_t{0}),
                    .cache_write = usage.value("cacheWrite", std::int64_t{0}),
                    .total = usage.value("totalTokens", std::int64_t{0})},
          .provider = saved.value("provider", m_model.provider),
          .model = saved.value("model", m_model.model)};
}

TurnResult TurnRunner::resume(json& messages, const json& parked) {
  Envelope envelope = m_scope.envelope;
  envelope.turn_id = parked.value("turnId", "");
  m_scope.events.emit("agent_start", {{"resumed", true}}, envelope);
  TurnResult result = saved_result(parked);
  std::vector<providers::ToolCall> calls;
  std::vector<ToolOutcome> outcomes;
  for (const auto& c : parked.value("calls", json::array())) {
    calls.push_back(parked_call(c));
    outcomes.push_back(c.value("pending", false)
                           ? decided_call(calls.back(), c.value("requestId", ""), envelope)
                           : outcome_from_json(c.value("outcome", json::object())));
    // A `finish` or `give_up` of the parked step still counts once the step completes.
    absorb_outcome(calls.back(), outcomes.back());
  }
  append_results(messages, calls, outcomes, last_assistant(messages), envelope);
  if (after_step(messages, result, !calls.empty())) {
    m_scope.events.emit("agent_end", {{"messages", messages}}, envelope);
    return result;
  }
  return step_loop(messages, parked.value("step", 1) + 1, std::move(result), nullptr);
}

void TurnRunner::absorb_outcome(const providers::ToolCall& call, const ToolOutcome& done) {
  std::lock_guard lock(m_mutex);
  if (call.name == "finish" && !done.is_error && done.details.is_object() &&
      done.details.contains("result"))
    m_result = done.details["result"];
  if (call.name == "give_up" && done.terminate) {
    const auto reason = call.input.is_object() ? call.input.value("reason", json()) : json();
    m_gave_up = reason.is_string() ? reason.get<std::string>() : "no reason given";
  }
}

// durable runs ---------------------------------------------------------------------------------
// A checkpoint is the turn's state at a step boundary, or inside a step once the model answered
// (phase "tools": `calls` lists the step's calls, each with its `outcome` once it finished):
// {version, phase, step, turnId, messages, calls?, text, usage, provider, model, invalidResults,
//  finished?, data?, options: {model, resultSchema, maxSteps, headless}}.

json TurnRunner::checkpoint_base(int step_number, const TurnResult& result,
                                 const Envelope& envelope) {
  int invalid = 0;
  {
    std::lock_guard lock(m_mutex);
    invalid = m_invalid_results;
  }
  return {{"version", 1}, {"step", step_number}, {"turnId", envelope.turn_id},
          {"text", result.text}, {"usage", usage_json(result.usage)},
          {"provider", result.provider}, {"model", result.model}, {"invalidResults", invalid},
          {"options", {{"model", m_options.model_override},
                       {"resultSchema", m_options.result_schema},
                       {"maxSteps", m_options.max_steps},
                       {"headless", m_options.headless}}}};
}

void TurnRunner::begin_step_checkpoint(const json& messages, int step_number,
                                       const std::vector<providers::ToolCall>& calls,
                                       const TurnResult& result, const Envelope& envelope) {
  if (!m_options.checkpoint) return;
  json checkpoint = checkpoint_base(step_number, result, envelope);
  checkpoint["phase"] = "tools";
  checkpoint["messages"] = messages;
  json list = json::array();
  for (const auto& call : calls)
    list.push_back({{"toolCallId", call.id}, {"toolName", call.name},
                    {"args", call.input.is_object() ? call.input : json::object()}});
  checkpoint["calls"] = std::move(list);
  std::lock_guard lock(m_checkpoint_mutex);
  m_checkpoint = std::move(checkpoint);
  m_options.checkpoint(m_checkpoint);
}

void TurnRunner::note_outcome(std::size_t index, const CallSlot& slot) {
  if (!m_options.checkpoint || slot.request) return;
  std::lock_guard lock(m_checkpoint_mutex);
  if (!m_checkpoint.is_object() || index >= m_checkpoint["calls"].size()) return;
  m_checkpoint["calls"][index]["outcome"] = outcome_json(slot.outcome);
  {
    std::lock_guard result_lock(m_mutex);
    m_checkpoint["invalidResults"] = m_invalid_results;
  }
  m_options.checkpoint(m_checkpoint);
}

void TurnRunner::save_step(const json& messages, int step_number, const TurnResult& result,
                           const Envelope& envelope, bool finished) {
  if (!m_options.checkpoint) return;
  json checkpoint = checkpoint_base(step_number, result, envelope);
  checkpoint["phase"] = "done";
  checkpoint["messages"] = messages;
  checkpoint["finished"] = finished;
  if (finished) checkpoint["data"] = result.data;
  std::lock_guard lock(m_checkpoint_mutex);
  m_checkpoint = nullptr;
  m_options.checkpoint(checkpoint);
}

bool TurnRunner::idempotent(const std::string& tool) const {
  if (tool == "finish" || tool == "give_up" || tool == "load_skill") return true; // pure
  for (const auto& def : m_agent.tools)
    if (def.name == tool) return def.idempotent;
  return false;
}

TurnResult TurnRunner::resume_checkpoint(json& messages, const json& checkpoint) {
  messages = checkpoint.value("messages", json::array());
  Envelope envelope = m_scope.envelope;
  envelope.turn_id = checkpoint.value("turnId", "");
  m_scope.events.emit("agent_start", {{"resumed", true}}, envelope);
  TurnResult result = saved_result(checkpoint);
  {
    std::lock_guard lock(m_mutex);
    m_invalid_results = checkpoint.value("invalidResults", 0);
  }
  const int step_number = checkpoint.value("step", 1);
  if (checkpoint.value("phase", "") == "done") {
    if (checkpoint.value("finished", false)) {
      result.data = checkpoint.value("data", json());
      m_scope.events.emit("agent_end", {{"messages", messages}}, envelope);
      return result;
    }
    throw_if_cancelled(m_scope.context);
    return step_loop(messages, step_number + 1, std::move(result), nullptr);
  }
  // The model answered this step before the crash: its answer is not asked again. Calls with a
  // recorded result keep it; a call in flight is not re-run unless its tool is idempotent.
  {
    std::lock_guard lock(m_checkpoint_mutex);
    m_checkpoint = checkpoint;
  }
  const json listed = checkpoint.value("calls", json::array());
  std::vector<providers::ToolCall> calls;
  std::vector<ToolOutcome> outcomes;
  for (std::size_t i = 0; i < listed.size(); ++i) {
    const auto& c = listed[i];
    calls.push_back(parked_call(c));
    const auto& call = calls.back();
    if (c.contains("outcome")) {
      outcomes.push_back(outcome_from_json(c["outcome"]));
      absorb_outcome(call, outcomes.back());
      continue;
    }
    if (idempotent(call.name))
      outcomes.push_back(call_tool(call, envelope)); // the tool itself records finish/give_up
    else
      outcomes.push_back(call_tool(call, envelope, true,
                                   ToolOutcome{.text = k_interrupted_call, .is_error = true,
                                               .details = {{"interrupted", true}}}));
    note_outcome(i, {.outcome = outcomes.back()});
  }
  append_results(messages, calls, outcomes, last_assistant(messages), envelope);
  if (!calls.empty()) throw_if_cancelled(m_scope.context);
  const bool finished = after_step(messages, result, !calls.empty());
  save_step(messages, step_number, result, envelope, finished);
  if (finished) {
    m_scope.events.emit("agent_end", {{"messages", messages}}, envelope);
    return result;
  }
  if (m_options.suspend.stop_requested()) throw errors::run_suspended();
  return step_loop(messages, step_number + 1, std::move(result), nullptr);
}


// compaction ------------------------------------------------------------------------------------
// The model's view of the history is cached as provider messages (m_sent), extended by the
// messages added since the last step; a marker (a compaction checkpoint or a clear) restarts it
// from that marker's view. A step then costs O(new messages), not O(history) (issue 16 §2).

void TurnRunner::sync_view(const json& messages) {
  const auto n = messages.size();
  if (n < m_seen) { // replaced (a resumed checkpoint): start over
    m_seen = 0;
    m_sent.clear();
    m_sent_chars = 0;
    m_sent_prefix = 0;
    m_user_sent.reset();
    m_view_calls.clear();
  }
  std::optional<std::size_t> marker;
  for (std::size_t i = m_seen; i < n; ++i)
    if (is_marker(messages[i])) marker = i;
  std::size_t from = m_seen;
  if (marker) {
    const auto view = view_at(messages, *marker);
    m_sent.clear();
    m_sent_chars = 0;
    m_user_sent.reset();
    for (const auto& m : view.prefix)
      if (auto converted = to_provider_message(m)) {
        m_sent_chars += provider_chars(*converted);
        m_sent.push_back(std::move(*converted));
      }
    m_sent_prefix = m_sent.size();
    from = view.tail_from;
  }
  if (marker) m_view_calls.clear();
  for (std::size_t i = from; i < n; ++i) {
    if (is_marker(messages[i])) continue;
    if (auto converted = to_provider_message(messages[i])) {
      // A result whose call is not in the view (a clear or compaction landed between a parked
      // call and its result) is not sent: providers refuse a result without its call.
      if (converted->role == providers::Role::tool &&
          !m_view_calls.count(converted->tool_call_id))
        continue;
      for (const auto& call : converted->tool_calls) m_view_calls.insert(call.id);
      if (m_user_index && *m_user_index == i) m_user_sent = m_sent.size();
      m_sent_chars += provider_chars(*converted);
      m_sent.push_back(std::move(*converted));
    }
  }
  m_seen = n;
}

std::int64_t TurnRunner::estimated_tokens() const {
  return tokens_for_chars(m_sent_chars + m_fixed_chars);
}

std::int64_t TurnRunner::window_tokens() const {
  return m_compaction.context_window_tokens > 0 ? m_compaction.context_window_tokens
                                                : context_window(m_model, m_scope.context.env);
}

std::int64_t TurnRunner::trigger_tokens() const {
  return static_cast<std::int64_t>(static_cast<double>(window_tokens()) * m_compaction.threshold_percent);
}

std::size_t TurnRunner::budget_chars() const {
  return static_cast<std::size_t>(window_tokens()) * 4 / 10 * 9;
}

bool TurnRunner::compact(json& messages, const Envelope& envelope, const std::string& reason,
                         TurnResult* result, bool keep_current_turn) {
  const bool manual = reason == "manual";
  sync_view(messages);
  const auto before_tokens = estimated_tokens();
  const auto before_count = m_sent.size();
  const auto started = Clock::now();
  auto settings = m_compaction;
  const auto plan = plan_compaction(messages, settings, !manual || keep_current_turn);
  // Past the threshold with nothing older than the kept turns: nothing to do, and nothing said
  // (a long turn would otherwise announce it at every step); the request is bounded in model_step.
  if (!plan.worth_it && !manual) return false;
  const std::string model_string = !settings.model.empty() ? settings.model : m_model_string;
  const auto model = providers::parse_model(model_string);
  m_scope.events.emit("compaction_start",
                      {{"reason", reason}, {"estimatedTokens", before_tokens},
                       {"usageInputTokens", before_tokens},
                       {"model", model.model}, {"provider", model.provider}},
                      envelope);
  json done = {{"reason", reason}, {"messagesBefore", before_count},
               {"model", model.model}, {"provider", model.provider}};
  if (!plan.worth_it) {
    done["messagesAfter"] = before_count;
    done["durationMs"] = elapsed_ms(started);
    done["compacted"] = false;
    m_scope.events.emit("compaction", done, envelope);
    return false;
  }
  // The summarising model's window bounds its request; the summary is bounded by ours.
  const auto summary_window = settings.model.empty()
                                  ? window_tokens()
                                  : context_window(model, m_scope.context.env);
  const auto transcript_budget = static_cast<std::size_t>(summary_window) * 4 / 10 * 7;
  auto request = summary_request(messages, plan, model.model, transcript_budget);
  request.cancel = m_scope.context.cancel;
  providers::StepResult step;
  try {
    auto& client = m_scope.models.get(model.provider, m_agent.mock_script);
    step = client.step(request, providers::StreamSink{});
  } catch (const Error& e) {
    // A failed summary leaves the history as it was; the request is still bounded (model_step).
    // compaction_start is always answered by a compaction event, a cancelled one included.
    done["messagesAfter"] = before_count;
    done["durationMs"] = elapsed_ms(started);
    done["compacted"] = false;
    done["error"] = error_json(e);
    m_scope.events.emit("compaction", done, envelope);
    if (manual || e.info().type == "cancelled") throw;
    m_compaction_failed = true; // not again at every step of this turn (a broken model doubles calls)
    return false;
  }
  if (result) add_usage(result->usage, step.usage);
  const auto summary_chars = std::max<std::size_t>(
      1024, static_cast<std::size_t>(trigger_tokens()) * 4 / 4); // a quarter of the threshold
  messages.push_back(checkpoint_entry(step.text, plan, before_tokens, summary_chars));
  if (m_options.persist) m_options.persist(messages); // the checkpoint is committed first
  sync_view(messages);
  done["messagesAfter"] = m_sent.size();
  done["durationMs"] = elapsed_ms(started);
  done["usage"] = usage_json(step.usage);
  done["tokensBefore"] = before_tokens;
  done["tokensAfter"] = estimated_tokens();
  done["firstKept"] = plan.first_kept;
  done["compacted"] = true;
  m_scope.events.emit("compaction", done, envelope);
  return true;
}

} // namespace

json usage_json(const providers::Usage& usage) {
  return {{"input", usage.input},          {"output", usage.output},
          {"cacheRead", usage.cache_read}, {"cacheWrite", usage.cache_write},
          {"totalTokens", usage.total}};
}

json TurnResult::to_json() const {
  json out;
  if (!data.is_null()) out["data"] = data;
  else out["text"] = text;
  out["usage"] = usage_json(usage);
  out["model"] = {{"provider", provider}, {"id", model}};
  if (!parked.is_null()) { // approvals: the turn waits for these requests
    out["status"] = "waiting";
    out["requests"] = parked.value("requests", json::array());
  }
  return out;
}

providers::Provider& ModelClients::get(const std::string& provider_id,
                                       const std::filesystem::path& mock_script) {
  const std::string key = provider_id == "mock" ? "mock:" + mock_script.string() : provider_id;
  std::lock_guard lock(m_mutex);
  auto& client = m_clients[key];
  if (!client) {
    providers::ProviderSettings settings;
    settings.mock_script = mock_script;
    client = providers::make_provider(provider_id, m_context.providers, m_context.env, settings);
  }
  return *client;
}

namespace {
/// The turn's context with call_hook bound (runtime/telemetry.hpp): this turn's hook calls
/// (policy, approval, request, finish, error) report into its stream.
RuntimeContext with_hook_caller(const TurnScope& scope) {
  RuntimeContext context = scope.context;
  if (context.telemetry)
    context.call_hook = bind_hook_caller(context.telemetry->hooks(), scope.events, scope.envelope,
                                         {.workspace = scope.workspace.root(),
                                          .confined = &scope.workspace,
                                          .session_id = scope.envelope.session,
                                          .run_id = context.run_id});
  return context;
}
} // namespace

TurnResult run_turn(TurnScope& scope, const AgentDef& agent, json& messages,
                    const std::string& user_text, const TurnOptions& options) {
  RuntimeContext context = with_hook_caller(scope);
  TurnScope turn{context, scope.models, scope.events, scope.workspace, scope.envelope};
  TurnRunner runner(turn, agent, options);
  return with_turn_hooks(turn, agent, user_text,
                         [&](const std::string& input) { return runner.run(messages, input); });
}

// approvals ------------------------------------------------------------------------------------

TurnResult resume_turn(TurnScope& scope, const AgentDef& agent, json& messages, const json& parked,
                       const TurnOptions& options) {
  // The policy and approval hooks decide resumed steps too; `request` ran when the turn began.
  RuntimeContext context = with_hook_caller(scope);
  TurnScope turn{context, scope.models, scope.events, scope.workspace, scope.envelope};
  TurnRunner runner(turn, agent, options);
  return with_turn_hooks(turn, agent, "",
                         [&](const std::string&) { return runner.resume(messages, parked); },
                         false);
}

TurnResult resume_from_checkpoint(TurnScope& scope, const AgentDef& agent, json& messages,
                                  const json& checkpoint, const TurnOptions& options) {
  RuntimeContext context = with_hook_caller(scope);
  TurnScope turn{context, scope.models, scope.events, scope.workspace, scope.envelope};
  TurnRunner runner(turn, agent, options);
  return with_turn_hooks(turn, agent, "",
                         [&](const std::string&) { return runner.resume_checkpoint(messages, checkpoint); },
                         false);
}

bool compact_history(TurnScope& scope, const AgentDef& agent, json& messages,
                     const TurnOptions& options, bool keep_current_turn) {
  TurnRunner runner(scope, agent, options);
  return runner.compact(messages, scope.envelope, "manual", nullptr, keep_current_turn);
}

TurnOptions checkpoint_options(const json& checkpoint) {
  const json o = checkpoint.value("options", json::object());
  return {.model_override = o.value("model", ""),
          .result_schema = o.value("resultSchema", json()),
          .max_steps = o.value("maxSteps", 0),
          .headless = o.value("headless", false)};
}

TurnOptions parked_options(const json& parked) {
  const json o = parked.value("options", json::object());
  return {.model_override = o.value("model", ""),
          .result_schema = o.value("resultSchema", json()),
          .max_steps = o.value("maxSteps", 0),
          .park_for_input = true};
}

std::vector<std::string> parked_request_ids(const json& parked) {
  std::vector<std::string> ids;
  for (const auto& c : parked.value("calls", json::array()))
    if (c.value("pending", false)) ids.push_back(c.value("requestId", ""));
  return ids;
}

void abandon_parked(json& messages, const json& parked, const std::string& why) {
  for (const auto& c : parked.value("calls", json::array())) {
    const auto outcome = c.value("pending", false)
                             ? ToolOutcome{.text = why, .is_error = true}
                             : outcome_from_json(c.value("outcome", json::object()));
    messages.push_back(tool_result_json(parked_call(c), outcome));
  }
}

} // namespace hearth::runtime

// The harness's tools: the set on offer in a turn (built-in, authored, subagents, MCP
// connections, finish/give_up for a structured result) and running one call. See
// harness_internal.hpp.
#include "runtime/harness_internal.hpp"
#include "core/json.hpp"
#include "core/text.hpp"

#include "core/errors.hpp"
#include "core/ids.hpp"
#include "manifest/builtins.hpp"
#include "mcp/connection_tools.hpp"
#include "runtime/agent_tools.hpp"
#include "runtime/approvals.hpp"
#include "runtime/file_tools.hpp"
#include "sandbox/workspace.hpp"

#include <algorithm>
#include <atomic>

namespace hearth::runtime::harness {
namespace {

/// The invocation's context values as tools read them (HEARTH_CONTEXT); "" when there are none.
std::string context_text(const RuntimeContext& context) {
  const auto& values = context.context_values;
  return values.is_object() && !values.empty() ? hearth::dump_json(values) : std::string();
}

FinishSchema finish_schema(const json& result) {
  if (result.value("type", json()) == "object") return {result, false};
  return {{{"type", "object"},
           {"properties", {{"value", result}}},
           {"required", {"value"}},
           {"additionalProperties", false}},
          true};
}

} // namespace

void TurnRunner::add_tool(Tool tool) {
  // An authored tool named like a built-in replaces it (the manifest lists it once too).
  std::erase_if(m_tools, [&](const Tool& t) { return t.name == tool.name; });
  if (tool.schema_chars == 0) prepare_schema(tool); // built-ins come prepared once per process
  m_validators[tool.name] = tool.validator; // null: a bad schema; the tool checks itself
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
  Tool finish_tool{.name = "finish",
                   .description =
                       "Submit your final answer; its arguments must match the required schema.",
                   .input_schema = make_schema(m_finish.parameters),
                   .run = [this](const json& input, const ToolContext&) { return finish(input); }};
  prepare_schema(finish_tool); // one serialization for the result's validator and the tool's
  m_result_validator = finish_tool.validator ? finish_tool.validator
                                             : json_schema::shared_validator(m_finish.parameters);
  add_tool(std::move(finish_tool));
  static const Tool give_up = [] {
    Tool tool{.name = "give_up",
              .description = "Stop because the task cannot be completed; say why.",
              .input_schema = make_schema({{"type", "object"},
                                           {"properties", {{"reason", {{"type", "string"}}}}},
                                           {"required", {"reason"}}})};
    prepare_schema(tool);
    return tool;
  }();
  Tool give_up_tool = give_up;
  give_up_tool.run = [this](const json& input, const ToolContext&) {
    std::lock_guard lock(m_mutex);
    m_gave_up = input.value("reason", std::string("no reason given"));
    return ToolOutcome{.text = "Understood.", .terminate = true};
  };
  add_tool(std::move(give_up_tool));
}

Tool TurnRunner::ask_question_tool() {
  auto tool = builtin_tool("ask_question"); // the schema `info` shows
  tool.run = [this](const json& input, const ToolContext&) -> ToolOutcome {
    if (m_options.headless)
      return {.text = "No one can answer questions in this run (it is headless). Make your best "
                      "judgment and continue.",
              .is_error = true};
    std::lock_guard lock(m_mutex);
    m_question = input.at("question").get<std::string>();
    return {.text = "The question was sent to the user.",
            .details = {{"question", *m_question}},
            .terminate = true};
  };
  return tool;
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
    tool = builtin_tool("agent"); // the schema `info` shows
  } else {
    static const Tool prepared = [] { // every subagent's tool takes the same input
      Tool t{.input_schema = make_schema(manifest::subagent_tool_schema())};
      prepare_schema(t);
      return t;
    }();
    tool = prepared;
    tool.name = sub.name;
    tool.description = sub.description;
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
    m_scope.events.flush(); // what led here is committed before a connection starts
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
    // What led to a tool is committed before it acts (`finish` only checks the result).
    if (call.name != "finish") m_scope.events.flush();
    try {
      outcome = tool->run(args, ctx);
    } catch (const Error& e) {
      outcome = {.text = e.info().message, .is_error = true};
    } catch (const std::exception& e) {
      outcome = {.text = std::string("Tool failed: ") + e.what(), .is_error = true};
    }
    outcome.text = text::to_utf8(outcome.text); // what the model reads is always UTF-8
  }
  json result = json_member("content", text_content(outcome.text)); // see json_member
  result["details"] = outcome.details;
  if (outcome.terminate) result["terminate"] = true;
  json done = json_member("toolName", call.name);
  done["toolCallId"] = call.id;
  done["isError"] = outcome.is_error;
  done["result"] = std::move(result);
  done["durationMs"] = elapsed_ms(started);
  m_scope.events.emit("tool_call", std::move(done), envelope);
  return outcome;
}

} // namespace hearth::runtime::harness

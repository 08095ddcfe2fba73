// The agent harness loop; see harness.hpp. Messages are kept in Flue's (pi) shape so session
// history, events and `agent_end.messages` read the same as Flue's. The turn's parts live in
// harness_*.cpp (see harness_internal.hpp).
#include "runtime/harness_internal.hpp"
#include "core/json.hpp"

#include "core/errors.hpp"
#include "core/ids.hpp"
#include "runtime/telemetry.hpp"
#include "sandbox/workspace.hpp"
#include "store/store.hpp"

#include <algorithm>

namespace hearth::runtime::harness {
namespace {

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

} // namespace

json text_content(const std::string& text) {
  json part = json::object();
  part["type"] = "text";
  part["text"] = text;
  return json::array({std::move(part)});
}

json tool_result_json(const providers::ToolCall& call, const ToolOutcome& outcome) {
  json message = json::object(); // member by member: see json_member
  message["role"] = "toolResult";
  message["toolCallId"] = call.id;
  message["toolName"] = call.name;
  message["content"] = text_content(outcome.text);
  message["details"] = outcome.details;
  message["isError"] = outcome.is_error;
  message["timestamp"] = now_ms();
  return message;
}

void add_usage(providers::Usage& total, const providers::Usage& step) {
  total.input += step.input;
  total.output += step.output;
  total.cache_read += step.cache_read;
  total.cache_write += step.cache_write;
  total.total += step.total;
}

json last_assistant(const json& messages) {
  for (auto it = messages.rbegin(); it != messages.rend(); ++it)
    if (it->value("role", "") == "assistant") return *it;
  return json::object();
}

void throw_if_cancelled(const RuntimeContext& context) {
  if (context.cancel.stop_requested()) throw errors::turn_cancelled();
}

TurnRunner::TurnRunner(TurnScope& scope, const AgentDef& agent, const TurnOptions& options)
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
  for (const auto& t : m_tools) { // the specs share the tools' schemas
    m_fixed_chars += t.name.size() + t.description.size() + t.schema_chars;
    m_tool_specs.push_back({.name = t.name, .description = t.description,
                            .parameters = t.input_schema,
                            .parameters_chars = t.schema_chars,
                            .parameters_text = t.schema_text});
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
    m_scope.events.emit("turn_start", json_member("purpose", "agent"), envelope);
    if (user) {
      m_user_index = messages.size();
      messages.push_back(*user);
      m_scope.events.emit("message_start", json_member("message", *user), envelope);
      m_scope.events.emit("message_end", json_member("message", *user), envelope);
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
    m_scope.events.emit("message_end", json_member("message", assistant), envelope);
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
  m_scope.events.emit("agent_end", json_member("messages", messages), envelope);
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
    m_scope.events.emit("message_start", json_member("message", message), envelope);
    m_scope.events.emit("message_end", json_member("message", message), envelope);
  }
  json turn_end = json_member("purpose", "agent");
  turn_end["message"] = assistant;
  turn_end["toolResults"] = std::move(tool_results);
  m_scope.events.emit("turn_end", std::move(turn_end), envelope);
}

void TurnRunner::emit_step_stats(const providers::StepResult& step, Clock::time_point started,
                                 const Envelope& envelope) {
  json turn = json_member("purpose", "agent"); // member by member: see json_member
  turn["durationMs"] = elapsed_ms(started);
  turn["model"] = step.model;
  turn["provider"] = step.provider;
  turn["usage"] = usage_json(step.usage);
  turn["stopReason"] = step.stop_reason;
  turn["isError"] = false;
  m_scope.events.emit("turn", std::move(turn), envelope);
  json usage = json_member("provider", step.provider);
  usage["model"] = step.model;
  usage["inputTokens"] = step.usage.input;
  usage["outputTokens"] = step.usage.output;
  usage["cacheReadTokens"] = step.usage.cache_read;
  usage["cacheWriteTokens"] = step.usage.cache_write;
  usage["totalTokens"] = step.usage.total;
  m_scope.events.emit("usage", std::move(usage), envelope);
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

} // namespace hearth::runtime::harness

namespace hearth::runtime {
using harness::json;
using harness::TurnRunner;

json usage_json(const providers::Usage& usage) {
  json out = json_member("input", usage.input); // member by member: see json_member
  out["output"] = usage.output;
  out["cacheRead"] = usage.cache_read;
  out["cacheWrite"] = usage.cache_write;
  out["totalTokens"] = usage.total;
  return out;
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

} // namespace hearth::runtime

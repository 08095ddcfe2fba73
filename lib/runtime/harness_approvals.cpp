// The harness's approvals (issue 12 §1-3): the policy gate before every tool call, Approval
// Requests and questions, parking a turn and resuming it. See harness_internal.hpp.
#include "runtime/harness_internal.hpp"
#include "core/json.hpp"

#include "core/errors.hpp"
#include "core/ids.hpp"
#include "mcp/connection_tools.hpp"
#include "runtime/approvals.hpp"
#include "store/store.hpp"

#include <algorithm>
#include <future>

namespace hearth::runtime::harness {

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
  json start = json_member("toolName", call.name); // member by member: see json_member
  start["toolCallId"] = call.id;
  start["args"] = call.input.is_null() ? json::object() : call.input;
  m_scope.events.emit("tool_start", std::move(start), envelope);
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
  m_scope.events.flush(); // whoever decides it sees the request in the stream first
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

} // namespace hearth::runtime::harness

namespace hearth::runtime {
using harness::json;
using harness::outcome_from_json;
using harness::parked_call;
using harness::tool_result_json;

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

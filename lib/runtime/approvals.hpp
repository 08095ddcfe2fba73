// Durable approvals and questions (issue 12 §2-3; seed 001 "Policy and approvals"; Eve's
// input.requested / inputResponses, seed 003 "Human-in-the-loop"). An Approval Request or an
// ask_question is a store row plus events; the turn that raised it parks (its history and the
// pending calls are saved with the session) and resumes when every request is answered.
//
// Events on the owner's stream (agents/<agent>/<id> or runs/<runId>):
//   approval_request  {approvalId, toolName, toolCallId, args, reason, options: [approve, deny]}
//   approval_decision {approvalId, toolName, toolCallId, decision: approve|deny, reason?, invoker?}
//   input_request     {requestId, toolName: ask_question, toolCallId, prompt, options, display,
//                      allowFreeform, args}
//   input_response    {requestId, toolCallId, answer, optionId?, invoker?}
//   turn_parked       {on: "input", requests: [...the request bodies]}
#pragma once

#include "runtime/events.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <stop_token>
#include <optional>
#include <string>

namespace hearth::store {
struct ApprovalRecord;
}

namespace hearth::runtime {

/// One answer to an input request: approvals take `decision` ("approve" | "deny") and an
/// optional `reason`; questions take `answer` (an option id or free text).
struct InputAnswer {
  std::string request_id{};
  std::string decision{};
  std::string reason{};
  std::string answer{};
  std::string option_id{};
  nlohmann::json invoker{}; // who answered ({id, kind, label?}) or null
};

/// Decides an Approval Request while the caller waits (workflow runs: `hearth run --approve`,
/// or the HTTP decision route within a bound). `request` is the approval_request body plus
/// `runId`; `cancel` is the run's stop token: a cancelled run (or its timeout) stops the wait at
/// once. nullopt: nobody can decide (the run fails with errors::approval_required).
using ApprovalWaiter =
    std::function<std::optional<InputAnswer>(const nlohmann::json& request, std::stop_token cancel)>;

/// Records `answer` for `record` in the store and appends approval_decision (approvals) or
/// input_response (questions) to `events`. Returns false, changing nothing, when the request
/// was already decided. Throws the store's errors.
bool record_answer(EventLog& events, const Envelope& envelope, const store::ApprovalRecord& record,
                   const InputAnswer& answer);

/// Closes request `id` that nobody will answer any more (a new message came first, the turn was
/// cancelled): an approval is denied with `reason`, a question answered with `answer`. Does
/// nothing when the request is unknown or already decided. Throws the store's errors.
void close_request(EventLog& events, const Envelope& envelope, const std::string& id,
                   const std::string& reason, const std::string& answer = {});

/// A question to the user while a tool call runs (MCP elicitation/create, issue 13 §3): records
/// a request row (kind "question", request.source "elicitation") owned by `events`' stream,
/// emits input_request {requestId, toolName, toolCallId, ...request}, then polls the row (every
/// 100 ms) until it is answered (inputResponses: the route answers it at once, the session's
/// turn keeps running) or `stop` stops (the call ended, timed out or was cancelled; the row is
/// then closed with "(no answer)"). Returns {answer, optionId?} or null. Throws the store's
/// errors.
nlohmann::json ask_while_running(EventLog& events, const Envelope& envelope,
                                 const std::string& tool_name, const std::string& tool_call_id,
                                 nlohmann::json request, std::stop_token stop);

/// Whether `record` is a question of a tool call still running (ask_while_running): answered
/// directly, never by resuming a parked turn.
bool is_live_request(const store::ApprovalRecord& record);

/// Eve's InputRequest for an approval_request or input_request body (peers/eve t18): kind,
/// prompt, requestId, display, options, allowFreeform?, action {callId, input, kind, toolName};
/// an elicitation's input_request keeps its display and options and adds `elicitation`
/// {connection, tool, schema}.
nlohmann::json eve_input_request(const std::string& event_type, const nlohmann::json& body);

/// The Eve resolution {kind, outcome, requestId, response {optionId|text, requestId}} of an
/// approval_decision or input_response body.
nlohmann::json eve_resolution(const std::string& event_type, const nlohmann::json& body);

/// Who decided, for the model: "the approver" or the invoker's label / id.
std::string decided_by(const nlohmann::json& invoker);

} // namespace hearth::runtime

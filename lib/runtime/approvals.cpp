// Durable approvals and questions; see approvals.hpp.
#include "runtime/approvals.hpp"

#include "store/store.hpp"

namespace hearth::runtime {
namespace {
using nlohmann::json;

json action_of(const json& body) {
  return {{"callId", body.value("toolCallId", "")},
          {"input", body.contains("args") ? body["args"] : json::object()},
          {"kind", "tool-call"},
          {"toolName", body.value("toolName", "")}};
}

} // namespace

std::string decided_by(const json& invoker) {
  if (invoker.is_object()) {
    for (const char* key : {"label", "id"})
      if (invoker.contains(key) && invoker[key].is_string() && !invoker[key].get<std::string>().empty())
        return invoker[key].get<std::string>();
  }
  return "the approver";
}

bool record_answer(EventLog& events, const Envelope& envelope, const store::ApprovalRecord& record,
                   const InputAnswer& answer) {
  json body = {{"toolName", record.tool_name}, {"toolCallId", record.tool_call_id}};
  std::string status;
  if (record.kind == "question") {
    status = "answered";
    body["requestId"] = record.approval_id;
    body["answer"] = answer.answer;
    if (!answer.option_id.empty()) body["optionId"] = answer.option_id;
  } else {
    status = answer.decision == "approve" ? "approved" : "denied";
    body["approvalId"] = record.approval_id;
    body["decision"] = answer.decision == "approve" ? "approve" : "deny";
    if (!answer.reason.empty()) body["reason"] = answer.reason;
  }
  if (!answer.invoker.is_null()) body["invoker"] = answer.invoker;
  if (!events.store().decide_approval(record.approval_id, status, body)) return false;
  events.emit(record.kind == "question" ? "input_response" : "approval_decision", body, envelope);
  return true;
}

void close_request(EventLog& events, const Envelope& envelope, const std::string& id,
                   const std::string& reason, const std::string& answer) {
  if (const auto record = events.store().get_approval(id))
    record_answer(events, envelope, *record,
                  {.request_id = id, .decision = "deny", .reason = reason, .answer = answer});
}

json eve_input_request(const std::string& event_type, const json& body) {
  if (event_type == "input_request") {
    json request = {{"action", action_of(body)}, {"kind", "question"},
                    {"prompt", body.value("prompt", "")}, {"requestId", body.value("requestId", "")},
                    {"allowFreeform", true}};
    const json options = body.contains("options") && body["options"].is_array() ? body["options"]
                                                                                : json::array();
    request["display"] = options.empty() ? "text" : "select";
    if (!options.empty()) request["options"] = options;
    return request;
  }
  return {{"action", action_of(body)},
          {"kind", "approval"},
          {"prompt", "Approve " + body.value("toolName", std::string("the tool")) + "?" +
                         (body.value("reason", "").empty() ? "" : " (" + body.value("reason", "") + ")")},
          {"requestId", body.value("approvalId", "")},
          {"display", "confirmation"},
          {"options", json::array({{{"id", "approve"}, {"label", "Approve"}, {"style", "primary"}},
                                   {{"id", "deny"}, {"label", "Deny"}, {"style", "danger"}}})}};
}

json eve_resolution(const std::string& event_type, const json& body) {
  if (event_type == "input_response") {
    const auto id = body.value("requestId", "");
    json response = {{"requestId", id}};
    if (body.contains("optionId")) response["optionId"] = body["optionId"];
    else response["text"] = body.value("answer", "");
    return {{"kind", "question"}, {"outcome", "answered"}, {"requestId", id}, {"response", response}};
  }
  const auto id = body.value("approvalId", "");
  const bool approved = body.value("decision", "") == "approve";
  return {{"kind", "approval"},
          {"outcome", approved ? "approved" : "denied"},
          {"requestId", id},
          {"response", {{"optionId", approved ? "approve" : "deny"}, {"requestId", id}}}};
}

} // namespace hearth::runtime

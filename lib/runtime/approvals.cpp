// Durable approvals and questions; see approvals.hpp.
#include "runtime/approvals.hpp"

#include "core/cancel.hpp"
#include "core/ids.hpp"
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

bool is_live_request(const store::ApprovalRecord& record) {
  return record.kind == "question" && record.request.is_object() &&
         record.request.value("source", "") == "elicitation";
}

json ask_while_running(EventLog& events, const Envelope& envelope, const std::string& tool_name,
                       const std::string& tool_call_id, json request, std::stop_token stop) {
  const auto id = ids::make_id("ask");
  json body = request.is_object() ? std::move(request) : json::object();
  body["requestId"] = id;
  body["toolName"] = tool_name;
  body["toolCallId"] = tool_call_id;
  body["source"] = "elicitation";
  auto& store = events.store();
  store.create_approval({.approval_id = id, .owner = events.path(), .session = envelope.session,
                         .kind = "question", .tool_name = tool_name, .tool_call_id = tool_call_id,
                         .request = body});
  events.emit("input_request", body, envelope);
  events.flush(); // whoever answers it sees the request in the stream first
  for (;;) {
    const auto record = store.get_approval(id);
    if (!record) return nullptr;
    if (record->status != "pending") {
      const json& d = record->decision;
      if (!d.is_object()) return nullptr;
      json answer = {{"answer", d.value("answer", "")}};
      if (d.contains("optionId")) answer["optionId"] = d["optionId"];
      return answer;
    }
    if (cancel::sleep_for(stop, std::chrono::milliseconds(100))) break;
  }
  close_request(events, envelope, id, "the tool call ended first", "(no answer)");
  return nullptr;
}

json eve_input_request(const std::string& event_type, const json& body) {
  if (event_type == "input_request" && body.value("source", "") == "elicitation") {
    json request = {{"action", action_of(body)}, {"kind", "question"},
                    {"prompt", body.value("prompt", "")}, {"requestId", body.value("requestId", "")},
                    {"allowFreeform", body.value("allowFreeform", true)},
                    {"display", body.value("display", "text")}};
    if (body.contains("options") && body["options"].is_array() && !body["options"].empty())
      request["options"] = body["options"];
    if (body.contains("elicitation")) request["elicitation"] = body["elicitation"];
    return request;
  }
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

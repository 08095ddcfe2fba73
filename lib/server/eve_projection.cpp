// The Eve projection; see eve_projection.hpp for the mapping's contract.
//   submission          -> session.started (first)           operation_start -> turn.started,
//   user message_end    -> message.received (no marker)        message.received (marker)
//   turn_request        -> step.started                       thinking_delta -> reasoning.appended
//   text_delta          -> message.appended                   assistant message_end -> reasoning.
//   tool_start          -> actions.requested                    completed, message.completed
//   tool_call           -> action.result                      turn -> step.completed
//   operation           -> result.completed, turn.completed | step.failed, turn.failed |
//                          turn.cancelled (error type `cancelled`)
//   idle                -> session.waiting                    session_end -> session.completed
//   compaction_start    -> compaction.requested               compaction -> compaction.completed
//   context_cleared     -> context.cleared
#include "server/eve_projection.hpp"

#include "core/errors.hpp"
#include "runtime/approvals.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <random>
#include <utility>

namespace hearth::server {
namespace {
using nlohmann::json;

constexpr char k_crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

std::uint64_t fnv1a(std::string_view text, std::uint64_t seed) {
  std::uint64_t h = 1469598103934665603ULL ^ seed;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

/// Milliseconds since the epoch of an ISO-8601 UTC time with milliseconds (0 if unparsable).
std::uint64_t iso_ms(const std::string& iso) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(iso.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) < 6)
    return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::uint64_t>(timegm(&tm)) * 1000 + static_cast<std::uint64_t>(ms);
}

/// `evt_` + a ULID whose time is the event's and whose random part hashes `key`: stable ids.
std::string event_id(std::uint64_t ms, const std::string& key) {
  const std::uint64_t a = fnv1a(key, 0x9e3779b97f4a7c15ULL);
  const std::uint64_t b = fnv1a(key, 0xc2b2ae3d27d4eb4fULL);
  std::string out(26, '0');
  std::uint64_t time = ms & 0xFFFFFFFFFFFFULL; // 48 bits in 10 digits
  for (int i = 9; i >= 0; --i, time >>= 5) out[static_cast<std::size_t>(i)] = k_crockford[time & 31];
  std::uint64_t hi = a & 0xFFFF, lo = b; // 80 random bits in 16 digits
  for (int i = 25; i >= 10; --i) {
    out[static_cast<std::size_t>(i)] = k_crockford[lo & 31];
    lo = (lo >> 5) | (hi << 59);
    hi >>= 5;
  }
  return "evt_" + out;
}

std::string content_text(const json& message) {
  std::string text;
  if (message.contains("content") && message["content"].is_array())
    for (const auto& part : message["content"])
      if (part.value("type", "") == "text") text += part.value("text", "");
  return text;
}

bool has_tool_calls(const json& message) {
  if (message.contains("content") && message["content"].is_array())
    for (const auto& part : message["content"])
      if (part.value("type", "") == "toolCall" && part.value("name", "") != "finish") return true;
  return false;
}

std::string finish_reason(const std::string& stop) {
  if (stop == "toolUse") return "tool-calls";
  if (stop == "stop" || stop == "length" || stop == "error") return stop;
  return "other";
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

long long number(const json& obj, const char* key) {
  return obj.is_object() && obj.contains(key) && obj[key].is_number() ? obj[key].get<long long>()
                                                                      : 0;
}

} // namespace

EveProjector::EveProjector(std::string stream_path, std::string agent_name,
                           std::string continuation_token)
    : m_path(std::move(stream_path)), m_agent(std::move(agent_name)),
      m_token(std::move(continuation_token)) {}

json EveProjector::turn_fields() const {
  return {{"sequence", m_turn}, {"turnId", "turn_" + std::to_string(m_turn)}};
}

json EveProjector::step_fields() const {
  json f = turn_fields();
  f["stepIndex"] = m_step;
  return f;
}

json EveProjector::usage_totals() const {
  return {{"cacheReadTokens", m_cache_read}, {"cacheWriteTokens", m_cache_write},
          {"inputTokens", m_input}, {"outputTokens", m_output}};
}

void EveProjector::emit(std::vector<json>& out, const store::Event& source, std::string type,
                        json data, bool delivery) {
  const auto key = m_path + "#" + std::to_string(source.seq) + "#" +
                   std::to_string(m_emitted_for_seq++);
  json meta = {{"at", source.time}, {"id", event_id(iso_ms(source.time), key)}};
  if (delivery) meta["deliveryIds"] = m_delivery_ids;
  out.push_back({{"data", std::move(data)}, {"type", std::move(type)}, {"meta", std::move(meta)}});
}

void EveProjector::begin_turn(const store::Event& event, std::vector<json>& out) {
  if (!m_started) {
    json started = {
        {"runtime", {{"agentId", m_agent}, {"agentName", m_agent}, {"eveVersion", k_eve_version}}}};
    // hearth addition: who started the session (seed 002), as the route auth saw it.
    if (m_pending.is_object() && m_pending.contains("invoker")) started["invoker"] = m_pending["invoker"];
    if (m_pending.is_object() && m_pending.contains("context")) started["context"] = m_pending["context"];
    // A subagent's session names its parent (seed 003: "Child sessions expose parent lineage").
    if (!m_child_task.empty())
      started["parent"] = {{"sessionId", m_child_parent}, {"taskId", m_child_task},
                           {"callId", m_pending.value("callId", "")},
                           {"agentName", m_pending.value("agent", "")}};
    emit(out, event, "session.started", started);
    m_started = true;
  }
  ++m_turn;
  m_step = -1;
  m_in_turn = true;
  m_parked = false;
  m_restate_waiting = false;
  m_step_open = false;
  emit(out, event, "turn.started", turn_fields());
  if (m_pending.is_object()) {
    json data = turn_fields();
    data["message"] = m_pending.value("message", "");
    data["parts"] = m_pending.value("parts", json::array());
    emit(out, event, "message.received", data);
    m_need_message = false;
  } else {
    m_need_message = true;
  }
  m_pending = json();
}

void EveProjector::feed(const store::Event& event, std::vector<json>& out) {
  m_last_seq = event.seq;
  m_emitted_for_seq = 0;
  const auto& d = event.data;
  const auto& type = event.type;
  if (!m_child_task.empty() && !feed_child(event, out)) return; // a child session's stream
  if (type == k_submission_event) {
    m_pending = d;
    m_delivery_ids = json::array({d.value("submissionId", "")});
    return;
  }
  if (type == k_session_end_event) {
    emit(out, event, "session.completed", {{"usage", usage_totals()}});
    return;
  }
  if (type == "turn_resumed") { // approvals: the parked turn goes on, same turn and step count
    m_resuming = true;
    return;
  }
  if (type == "operation_start") {
    if (m_resuming && m_in_turn) {
      m_resuming = false;
      m_parked = false;
      return;
    }
    m_resuming = false;
    return begin_turn(event, out);
  }
  // Compaction (issue 16 §1; peers: eve http_dev/65): in a turn, before the step it makes room
  // for; from …/compact or …/clear, a turn of its own (the sequence moves on, no turn.started)
  // that ends with session.waiting on the following `idle`.
  if ((type == "compaction_start" || type == "compaction" || type == "context_cleared") &&
      (!d.contains("parentSession") || m_child_own)) {
    if (!m_in_turn) {
      ++m_turn;
      m_step = -1;
      m_in_turn = true;
      m_parked = false;
      m_step_open = false;
    } else if (m_parked && !d.contains("parentSession")) {
      // On a parked turn (…/compact or …/clear while it waits for input): the idle that follows
      // says session.waiting again. A clear closed the parked turn (its requests were answered).
      m_restate_waiting = true;
      if (type == "context_cleared") m_parked = false;
    }
    json data = turn_fields();
    data["sessionId"] = d.value("instanceId", "");
    if (type == "context_cleared") return emit(out, event, "context.cleared", data);
    data["modelId"] = d.value("provider", "") + "/" + d.value("model", "");
    data["stepIndex"] = std::max(0, m_step + 1);
    if (type == "compaction_start") {
      data["usageInputTokens"] = d.contains("usageInputTokens") ? d["usageInputTokens"] : json(0);
      return emit(out, event, "compaction.requested", data);
    }
    const json usage = d.contains("usage") ? d["usage"] : json::object();
    m_input += number(usage, "input"); // the summary is the session's usage too
    m_output += number(usage, "output");
    m_cache_read += number(usage, "cacheRead");
    m_cache_write += number(usage, "cacheWrite");
    if (d.contains("error")) data["error"] = d["error"];
    return emit(out, event, "compaction.completed", data);
  }
  if (!m_in_turn) return;
  // A subagent runs inline in the parent's turn (seed 003: subagent.started/completed); its own
  // steps carry parentSession and are not the parent's: they never show as the parent answering.
  if (d.contains("parentSession") && !m_child_own) {
    if (type == "turn" || type == "compaction") { // session usage totals include delegated agents (Eve), their compactions too
      const json usage = d.contains("usage") ? d["usage"] : json::object();
      m_input += number(usage, "input");
      m_output += number(usage, "output");
      m_cache_read += number(usage, "cacheRead");
      m_cache_write += number(usage, "cacheWrite");
    }
    return;
  }
  if (type == "task_start" || type == "task") {
    json data = step_fields();
    data["callId"] = d.value("toolCallId", "");
    data["name"] = d.value("agent", "");
    data["taskId"] = d.value("taskId", "");
    if (d.contains("childSessionId")) data["childSessionId"] = d["childSessionId"];
    if (type == "task_start") {
      // Eve: the child's own session stream, to attach to (seed 003 "Subagent delegation").
      const bool local_session = d.contains("childSessionId") && d["childSessionId"].is_string();
      const std::string stream_path =
          local_session ? "/eve/v1/session/" + d["childSessionId"].get<std::string>() + "/stream"
                        : std::string();
      if (local_session) {
        json called = data;
        called["streamPath"] = stream_path;
        emit(out, event, "subagent.called", called);
      }
      // What Eve 0.80.1 itself streams for an agent call (peers: eve t1_delegate_subagent), so
      // eve/client's session.agent(agent.started) follows the child too.
      json task = {{"callId", data["callId"]}, {"kind", "agent"}, {"name", data["name"]},
                   {"taskId", data["taskId"]}, {"turnId", data["turnId"]}};
      emit(out, event, "task.started", task);
      if (local_session)
        emit(out, event, "agent.started",
             {{"callId", data["callId"]}, {"turnId", data["turnId"]}, {"name", data["name"]},
              {"sessionId", d["childSessionId"]}, {"streamPath", stream_path},
              {"taskId", data["taskId"]}});
      data["message"] = d.value("prompt", "");
      return emit(out, event, "subagent.started", data);
    }
    const bool failed = d.value("isError", false);
    data["status"] = failed ? "failed" : "completed";
    if (failed) {
      data["error"] = d.contains("error") ? d["error"] : json::object();
    } else {
      const json result = d.contains("result") ? d["result"] : json::object();
      data["output"] = result.is_object() && result.contains("data") && !result["data"].is_null()
                           ? result["data"]
                           : json(result.is_object() ? result.value("text", "") : "");
    }
    json settled = {{"callId", data["callId"]}, {"kind", "agent"}, {"name", data["name"]},
                    {"status", data["status"]}, {"taskId", data["taskId"]}, {"turnId", data["turnId"]}};
    if (failed) settled["error"] = data["error"];
    else settled["output"] = data["output"];
    emit(out, event, "task.settled", settled);
    return emit(out, event, "subagent.completed", data);
  }
  if (type == "authorization_required" || type == "authorization_completed") { // issue 13 §4
    json data = step_fields();
    if (d.is_object())
      for (const auto& [key, value] : d.items()) data[key] = value;
    emit(out, event, type == "authorization_required" ? "authorization.required" : "authorization.completed",
         data, false);
    return;
  }
  if (type == "turn_parked" || type == "approval_decision" || type == "input_response" ||
      (type == "input_request" && d.value("source", "") == "elicitation"))
    return feed_input(event, out);
  if (type == "message_end") {
    const auto& message = d.contains("message") ? d["message"] : json::object();
    const auto role = message.value("role", "");
    if (role == "user" && m_need_message) {
      const auto text = content_text(message);
      json data = turn_fields();
      data["message"] = text;
      data["parts"] = json::array({{{"text", text}, {"type", "text"}}});
      emit(out, event, "message.received", data);
      m_need_message = false;
    } else if (role == "assistant") {
      if (!m_reasoning.empty()) {
        json data = step_fields();
        data["reasoning"] = m_reasoning;
        emit(out, event, "reasoning.completed", data);
        m_reasoning.clear();
      }
      const auto text = content_text(message);
      if (!text.empty()) {
        json data = step_fields();
        data["finishReason"] = has_tool_calls(message) ? "tool-calls" : "stop";
        data["message"] = text;
        emit(out, event, "message.completed", data);
      }
    }
  } else if (type == "turn_request") {
    ++m_step;
    m_step_open = true;
    json data = step_fields();
    data["modelId"] = d.value("provider", "") + "/" + d.value("model", "");
    emit(out, event, "step.started", data);
  } else if (type == "thinking_delta") {
    m_reasoning += d.value("delta", "");
    json data = step_fields();
    data["reasoningDelta"] = d.value("delta", "");
    emit(out, event, "reasoning.appended", data);
  } else if (type == "text_delta") {
    json data = step_fields();
    data["messageDelta"] = d.value("text", "");
    emit(out, event, "message.appended", data);
  } else if (type == "tool_start") {
    const auto tool = d.value("toolName", "");
    if (tool == "finish") return;
    const auto call_id = d.value("toolCallId", "");
    const json input = d.contains("args") ? d["args"] : json::object();
    json action = {{"callId", call_id}, {"input", input}};
    if (tool == "load_skill") {
      action["kind"] = "load-skill";
      action["name"] = input.is_object() ? input.value("name", "") : "";
    } else {
      action["kind"] = "tool-call";
      action["toolName"] = tool;
    }
    json data = step_fields();
    data["actions"] = json::array({action});
    emit(out, event, "actions.requested", data);
  } else if (type == "tool_call") {
    const auto tool = d.value("toolName", "");
    if (tool == "finish") return;
    const json result = d.contains("result") ? d["result"] : json::object();
    const bool failed = d.value("isError", false);
    std::string text;
    if (result.is_object() && result.contains("content")) text = content_text(result);
    const json details = result.is_object() && result.contains("details") ? result["details"] : json();
    // Eve 0.80.1 (peers: eve REPORT §6): a tool's output is its raw return value (an authored
    // tool's parsed JSON, else its text), bash's {stdout, stderr, …}, a skill's markdown, a
    // failed call's message.
    json output = text;
    if (!failed && details.is_object() && tool != "load_skill")
      output = details.contains("output") ? details["output"] : details;
    const auto call_id = d.value("toolCallId", "");
    json r = {{"callId", call_id}, {"output", output}};
    json data = step_fields();
    if (tool == "load_skill") {
      r["kind"] = "load-skill-result";
      const auto name = details.is_object() ? details.value("skill", "") : std::string();
      r["name"] = name;
      if (!failed) data["presentation"] = {{call_id, {{"label", "Loaded skill " + name}}}};
    } else {
      r["kind"] = "tool-result";
      r["toolName"] = tool;
    }
    if (failed) {
      r["errorName"] = "Error";
      r["isError"] = true;
      data["error"] = {{"code", "ACTION_RESULT_FAILED"}, {"message", text}, {"name", "Error"}};
    }
    data["result"] = r;
    data["status"] = failed ? "failed" : "completed";
    emit(out, event, "action.result", data);
  } else if (type == "turn") {
    const json usage = d.contains("usage") ? d["usage"] : json::object();
    m_input += number(usage, "input");
    m_output += number(usage, "output");
    m_cache_read += number(usage, "cacheRead");
    m_cache_write += number(usage, "cacheWrite");
    json data = step_fields();
    data["finishReason"] = finish_reason(d.value("stopReason", ""));
    data["usage"] = {{"inputTokens", number(usage, "input")},
                     {"outputTokens", number(usage, "output")},
                     {"cacheReadTokens", number(usage, "cacheRead")},
                     {"cacheWriteTokens", number(usage, "cacheWrite")}};
    emit(out, event, "step.completed", data);
    m_step_open = false;
  } else if (type == "operation") {
    if (d.value("waiting", false)) return; // approvals: parked, not completed
    if (!d.value("isError", false)) {
      const json result = d.contains("result") ? d["result"] : json::object();
      if (result.is_object() && result.contains("data")) {
        json data = step_fields();
        data["result"] = result["data"];
        emit(out, event, "result.completed", data);
      }
      emit(out, event, "turn.completed", turn_fields());
    } else if (d.contains("error") && d["error"].is_object() &&
               d["error"].value("type", "") == "cancelled") {
      // A cancelled turn (…/cancel): Eve closes it with turn.cancelled, no step.failed.
      m_step_open = false;
      emit(out, event, "turn.cancelled", turn_fields());
    } else {
      const json error = d.contains("error") ? d["error"] : json::object();
      const auto code = upper(error.value("type", "internal_error"));
      const auto message = error.value("message", "The turn failed.");
      const json details = {{"message", message}, {"details", error.value("details", "")}};
      if (m_step_open) {
        json data = step_fields();
        data["code"] = code;
        data["message"] = message;
        data["details"] = details;
        emit(out, event, "step.failed", data);
        m_step_open = false;
      }
      json data = turn_fields();
      data["code"] = code;
      data["message"] = message;
      data["details"] = details;
      data["terminal"] = false;
      emit(out, event, "turn.failed", data);
    }
  } else if (type == "idle") {
    const bool restate = std::exchange(m_restate_waiting, false);
    if (m_parked) { // approvals: turn.waiting {on: "input"} said it; the turn goes on later
      if (restate) // a compaction on the parked turn: it waits again, still for its input
        emit(out, event, "session.waiting",
             {{"continuationToken", m_token}, {"usage", usage_totals()}, {"wait", "next-user-message"}});
      return;
    }
    m_in_turn = false;
    emit(out, event, "session.waiting",
         {{"continuationToken", m_token}, {"usage", usage_totals()}, {"wait", "next-user-message"}});
  }
}

void EveProjector::follow_child(std::string task_id, std::string parent_session_id) {
  m_child_task = std::move(task_id);
  m_child_parent = std::move(parent_session_id);
}

bool EveProjector::feed_child(const store::Event& event, std::vector<json>& out) {
  const auto& d = event.data;
  const auto& type = event.type;
  m_child_own = false;
  if (m_child_done) return false;
  const auto session = d.value("session", std::string());
  const auto suffix = "/" + m_child_task;
  const bool own = session.size() > suffix.size() &&
                   session.compare(session.size() - suffix.size(), suffix.size(), suffix) == 0;
  if (!own && (type == "task_start" || type == "task") && d.value("taskId", "") == m_child_task) {
    if (type == "task_start") {
      m_child_seen = true;
      m_pending = {{"message", d.value("prompt", "")}, {"callId", d.value("toolCallId", "")},
                   {"agent", d.value("agent", "")},
                   {"parts", json::array({{{"text", d.value("prompt", "")}, {"type", "text"}}})}};
      m_delivery_ids = json::array();
      m_agent = d.value("agent", m_agent);
      begin_turn(event, out);
      return false; // handled
    }
    if (!m_in_turn) return false;
    m_child_done = true;
    if (d.value("isError", false)) {
      const json error = d.contains("error") ? d["error"] : json::object();
      json data = turn_fields();
      data["code"] = upper(error.value("type", "internal_error"));
      data["message"] = error.value("message", "The subagent failed.");
      data["details"] = {{"message", data["message"]}, {"details", ""}};
      data["terminal"] = false;
      emit(out, event, "turn.failed", data);
    } else {
      const json result = d.contains("result") ? d["result"] : json::object();
      if (result.is_object() && result.contains("data")) {
        json data = step_fields();
        data["result"] = result["data"];
        emit(out, event, "result.completed", data);
      }
      emit(out, event, "turn.completed", turn_fields());
    }
    m_in_turn = false;
    emit(out, event, "session.waiting",
         {{"continuationToken", m_token}, {"usage", usage_totals()}, {"wait", "next-user-message"}});
    return false;
  }
  if (!own || !m_child_seen) return false;
  m_child_own = true;
  return true;
}

void EveProjector::feed_input(const store::Event& event, std::vector<json>& out) {
  const auto& d = event.data;
  if (event.type == "input_request") { // MCP elicitation: asked while its tool call runs
    json data = step_fields();
    data["requests"] = json::array({runtime::eve_input_request("input_request", d)});
    data["callId"] = d.value("toolCallId", "");
    emit(out, event, "input.requested", data, false);
    if (m_live_requests.size() >= 64) m_live_requests.erase(m_live_requests.begin());
    m_live_requests.push_back(d.value("requestId", ""));
    return;
  }
  if (event.type == "input_response") {
    const auto it = std::find(m_live_requests.begin(), m_live_requests.end(), d.value("requestId", ""));
    if (it != m_live_requests.end()) {
      m_live_requests.erase(it);
      json data = step_fields();
      data["resolutions"] = json::array({runtime::eve_resolution(event.type, d)});
      emit(out, event, "input.resolved", data, false);
      return;
    }
  }
  if (event.type == "turn_parked") {
    json requests = json::array();
    std::string call_id;
    for (const auto& r : d.value("requests", json::array())) {
      const auto kind = r.value("kind", "approval");
      requests.push_back(runtime::eve_input_request(kind == "question" ? "input_request"
                                                                       : "approval_request", r));
      if (call_id.empty()) call_id = r.value("toolCallId", "");
    }
    // As Eve 0.80.1 (peers/eve t18): waiting on the step's tasks, the requests, waiting on input.
    json waiting = turn_fields();
    waiting["on"] = "tasks";
    waiting["usage"] = usage_totals();
    emit(out, event, "turn.waiting", waiting);
    json data = step_fields();
    data["requests"] = requests;
    data["callId"] = call_id;
    emit(out, event, "input.requested", data, false);
    waiting["on"] = "input";
    emit(out, event, "turn.waiting", waiting, false);
    m_parked = true;
    return;
  }
  if (!m_parked) return; // decided by a hook or a waiting run: nothing was requested on Eve
  json data = step_fields();
  data["resolutions"] = json::array({runtime::eve_resolution(event.type, d)});
  emit(out, event, "input.resolved", data, false);
}

std::string eve_line(const json& event) {
  const auto dump = [](const json& v) {
    return v.dump(-1, ' ', false, json::error_handler_t::replace);
  };
  return "{\"data\":" + dump(event.contains("data") ? event["data"] : json::object()) +
         ",\"type\":" + dump(event.value("type", "")) +
         ",\"meta\":" + dump(event.contains("meta") ? event["meta"] : json::object()) + "}\n";
}

std::string uuid4() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::uint64_t a = rng(), b = rng();
  char out[37];
  std::snprintf(out, sizeof out, "%08x-%04x-4%03x-%04x-%012llx",
                static_cast<unsigned>(a >> 32), static_cast<unsigned>((a >> 16) & 0xFFFF),
                static_cast<unsigned>(a & 0x0FFF),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3FFF)),
                static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
  return out;
}

namespace {

/// Bytes a base64 text decodes to (padded or not; ASCII whitespace ignored); nullopt when it is
/// not base64.
std::optional<std::size_t> base64_size(std::string_view text) {
  std::size_t chars = 0, padding = 0;
  for (const char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    const bool alphabet = std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' ||
                          c == '-' || c == '_';
    if (!alphabet || padding > 0) return std::nullopt; // nothing after padding
    ++chars;
  }
  if (padding > 2 || chars % 4 == 1 || (padding > 0 && (chars + padding) % 4 != 0))
    return std::nullopt;
  return chars / 4 * 3 + (chars % 4 == 0 ? 0 : chars % 4 - 1);
}

/// The decoded byte size of a file part's `data` (seed 003: base64, a data URL, or a URL);
/// nullopt for a URL (not fetched). Eve's internal ref schemes and anything else: 400.
std::optional<std::size_t> file_part_size(const std::string& data) {
  for (const char* scheme : {"eve-url:", "eve-sandbox:", "eve-attachment:"})
    if (data.rfind(scheme, 0) == 0)
      throw errors::eve_invalid_request(std::string("File part 'data' must not use the internal \"") +
                                        scheme + "\" scheme.");
  if (data.rfind("https://", 0) == 0 || data.rfind("http://", 0) == 0) return std::nullopt;
  if (data.rfind("data:", 0) == 0) {
    const auto comma = data.find(',');
    if (comma == std::string::npos)
      throw errors::eve_invalid_request("File part 'data' is a data URL without a ','.");
    const std::string_view meta(data.data() + 5, comma - 5), body(data.data() + comma + 1);
    if (meta.size() >= 7 && meta.substr(meta.size() - 7) == ";base64") {
      if (const auto n = base64_size(body)) return n;
      throw errors::eve_invalid_request("File part 'data' is a base64 data URL that is not base64.");
    }
    std::size_t n = 0; // percent-encoded text: %XX is one byte
    for (std::size_t i = 0; i < body.size(); ++i, ++n)
      if (body[i] == '%' && i + 2 < body.size() && std::isxdigit(static_cast<unsigned char>(body[i + 1])) &&
          std::isxdigit(static_cast<unsigned char>(body[i + 2])))
        i += 2;
    return n;
  }
  if (const auto n = base64_size(data)) return n;
  throw errors::eve_invalid_request(
      "Expected file part 'data' to be base64, a data URL, or an http(s) URL.");
}

} // namespace

EveMessage parse_eve_message(const json& message) {
  EveMessage out;
  if (message.is_string()) {
    out.text = message.get<std::string>();
    if (out.text.empty())
      throw errors::eve_invalid_request("Expected 'message' to be non-empty when provided.");
    out.parts.push_back({{"text", out.text}, {"type", "text"}});
    return out;
  }
  if (!message.is_array() || message.empty())
    throw errors::eve_invalid_request(
        "Expected 'message' to be a string or an array of text/file parts.");
  for (const auto& part : message) {
    const auto kind = part.is_object() ? part.value("type", "") : "";
    if (kind == "text" && part.contains("text") && part["text"].is_string()) {
      const auto text = part["text"].get<std::string>();
      out.text += (out.text.empty() ? "" : "\n") + text;
      out.parts.push_back({{"text", text}, {"type", "text"}});
    } else if (kind == "file" && part.contains("mediaType") && part["mediaType"].is_string() &&
               part.contains("data") && part["data"].is_string()) {
      const auto name = part.contains("filename") && part["filename"].is_string()
                            ? part["filename"].get<std::string>()
                            : std::string("attachment");
      const auto media = part["mediaType"].get<std::string>();
      out.text += (out.text.empty() ? "" : "\n") + ("[file: " + name + " (" + media + ")]");
      json file = {{"mediaType", media}, {"type", "file"}, {"filename", name}};
      if (const auto size = file_part_size(part["data"].get<std::string>())) file["size"] = *size;
      out.parts.push_back(std::move(file));
    } else if (kind == "text" || kind == "file") {
      throw errors::eve_invalid_request(
          "Expected 'message' to be a string or an array of text/file parts.");
    } else {
      throw errors::eve_invalid_request("Unsupported message part type \"" + kind +
                                        "\". Use 'text' or 'file'.");
    }
  }
  return out;
}

} // namespace hearth::server

// Hooks around turns and runs, the OTLP exporter and the trace hook queue; see telemetry.hpp.
#include "runtime/telemetry.hpp"
#include "runtime/access.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"
#include "runtime/definitions.hpp"
#include "runtime/runtime.hpp"
#include "runtime/trace.hpp"
#include "sandbox/workspace.hpp"

#include <httplib.h>

#include <iostream>
#include <optional>

namespace hearth::runtime {
namespace {
using nlohmann::json;

json otlp_value(const json& value) {
  if (value.is_string()) return {{"stringValue", value}};
  if (value.is_boolean()) return {{"boolValue", value}};
  if (value.is_number_integer()) return {{"intValue", std::to_string(value.get<long long>())}};
  if (value.is_number()) return {{"doubleValue", value}};
  return {{"stringValue", dump_json(value)}};
}

std::string nanos(long long ms) { return std::to_string(ms) + "000000"; }

/// The common fields of a hook payload for one turn.
json turn_payload(const char* hook, const TurnScope& scope, const AgentDef& agent) {
  json payload = {{"hook", hook}, {"scope", "turn"}, {"agent", agent.name},
                  {"timestamp", now_iso()}};
  const auto& e = scope.envelope;
  if (!e.session.empty()) payload["session"] = e.session;
  if (!e.instance_id.empty()) payload["instanceId"] = e.instance_id;
  if (!e.task_id.empty()) payload["taskId"] = e.task_id;
  if (!scope.context.run_id.empty()) payload["runId"] = scope.context.run_id;
  if (!scope.context.invoker.is_null()) payload["invoker"] = scope.context.invoker;
  return payload;
}

} // namespace

json otlp_request(const std::vector<json>& trace_events, const std::string& service_name) {
  json spans = json::array();
  for (const auto& e : trace_events) {
    const auto& a = e.value("attributes", json::object());
    const auto& t = e.value("trace", json::object());
    if (!a.is_object() || !t.is_object()) continue;
    const auto phase = a.value("phase", "");
    if (phase != "end" && phase != "event") continue;
    const auto end_ms = parse_iso_ms(e.value("timestamp", "")).value_or(now_ms());
    const auto start_ms = end_ms - trace_duration(e).value_or(0);
    json attributes = json::array({{{"key", "hearth.type"}, {"value", otlp_value(e.value("type", ""))}}});
    for (const auto& [key, value] : a.items())
      if (key != "spanId" && key != "phase" && key != "status")
        attributes.push_back({{"key", "hearth." + key}, {"value", otlp_value(value)}});
    json span = {{"traceId", t.value("id", "")},
                 {"spanId", a.value("spanId", "")},
                 {"name", e.value("name", "")},
                 {"kind", 1}, // SPAN_KIND_INTERNAL
                 {"startTimeUnixNano", nanos(start_ms)},
                 {"endTimeUnixNano", nanos(end_ms)},
                 {"attributes", std::move(attributes)},
                 {"status", {{"code", a.value("status", "") == "error" || e.value("type", "") == "error"
                                          ? 2   // STATUS_CODE_ERROR
                                          : 1}}}}; // STATUS_CODE_OK
    if (t.contains("parentId") && t["parentId"].is_string()) span["parentSpanId"] = t["parentId"];
    spans.push_back(std::move(span));
  }
  return {{"resourceSpans",
           json::array({{{"resource",
                          {{"attributes", json::array({{{"key", "service.name"},
                                                        {"value", {{"stringValue", service_name}}}}})}}},
                         {"scopeSpans", json::array({{{"scope", {{"name", "hearth"}}},
                                                      {"spans", std::move(spans)}}})}}})}};
}

// --- OTLP exporter -------------------------------------------------------------------------------

OtlpExporter::OtlpExporter(OtlpSettings settings)
    : m_settings(std::move(settings)),
      m_worker(m_settings.max_queue, m_settings.max_batch, m_settings.interval,
               [this](std::vector<json>&& batch) { post(std::move(batch)); }) {
  const auto& url = m_settings.endpoint;
  const auto scheme = url.find("://");
  if (scheme == std::string::npos || (url.compare(0, scheme, "http") != 0 &&
                                      url.compare(0, scheme, "https") != 0)) {
    m_worker.stop();
    throw errors::config_invalid("hearth.json", "/telemetry/otlp/endpoint",
                                 "must be an http:// or https:// URL");
  }
  const auto path_start = url.find('/', scheme + 3);
  m_host = path_start == std::string::npos ? url : url.substr(0, path_start);
  m_path = path_start == std::string::npos ? "" : url.substr(path_start);
  while (!m_path.empty() && m_path.back() == '/') m_path.pop_back();
  m_path += "/v1/traces";
}

void OtlpExporter::push(const json& trace_event) {
  const auto phase = trace_event.value("attributes", json::object()).value("phase", "");
  if (phase == "end" || phase == "event") m_worker.push(trace_event);
}

void OtlpExporter::post(std::vector<json>&& batch) {
  const auto body = dump_json(otlp_request(batch, m_settings.service_name));
  httplib::Client client(m_host);
  const auto seconds = [](std::chrono::milliseconds ms) {
    return std::chrono::duration_cast<std::chrono::microseconds>(ms);
  };
  client.set_connection_timeout(seconds(m_settings.timeout));
  client.set_read_timeout(seconds(m_settings.timeout));
  client.set_write_timeout(seconds(m_settings.timeout));
  httplib::Headers headers;
  for (const auto& [k, v] : m_settings.headers) headers.emplace(k, v);
  const auto res = client.Post(m_path.c_str(), headers, body, "application/json");
  if (!res || res->status < 200 || res->status >= 300) {
    if (m_failed++ == 0) // once per process: an unreachable collector must not flood the logs
      std::cerr << "hearth: warning: OTLP export to " << m_host << m_path << " failed ("
                << (res ? "HTTP " + std::to_string(res->status) : httplib::to_string(res.error()))
                << "); spans are dropped while it fails." << std::endl;
  }
}

// --- Telemetry -----------------------------------------------------------------------------------

Telemetry::Telemetry(std::filesystem::path project_root, bool fail_closed,
                     std::optional<OtlpSettings> otlp)
    : m_hooks(std::make_shared<HookRunner>(std::move(project_root), fail_closed)) {
  if (otlp && !otlp->endpoint.empty()) m_otlp = std::make_unique<OtlpExporter>(std::move(*otlp));
  m_trace_hooks = std::make_unique<BatchWorker<TraceItem>>(
      4096, 256, std::chrono::milliseconds(500),
      [this](std::vector<TraceItem>&& batch) { call_trace_hooks(std::move(batch)); });
}

Telemetry::~Telemetry() { shutdown(); }

void Telemetry::shutdown() noexcept {
  if (m_trace_hooks) m_trace_hooks->stop();
  if (m_otlp) m_otlp->stop();
}

void Telemetry::attach(EventLog& events, const AgentDef* agent) {
  const bool hook = agent != nullptr && find_hook(*agent, "trace") != nullptr;
  if (!m_otlp && !hook) return;
  events.set_trace_sink([this, agent, hook](const json& trace_event) {
    if (m_otlp) m_otlp->push(trace_event);
    if (hook) m_trace_hooks->push({agent, trace_event});
  });
}

void Telemetry::call_trace_hooks(std::vector<TraceItem>&& batch) {
  // One call per agent per batch: {hook: "trace", agent, events: [TraceEvent, ...]}.
  std::map<const AgentDef*, json> by_agent;
  for (auto& item : batch) {
    auto& events = by_agent[item.agent];
    if (events.is_null()) events = json::array();
    events.push_back(std::move(item.event));
  }
  for (auto& [agent, events] : by_agent) {
    const json payload = {{"hook", "trace"}, {"agent", agent->name}, {"events", std::move(events)}};
    // No stream to report into (the run may be over): a failing trace hook is a warning.
    m_hooks->run(*agent, "trace", payload, {}, [](const std::string& hook, const std::string& problem) {
      std::cerr << "hearth: warning: trace hook " << hook << " failed: " << problem << std::endl;
    });
  }
}

// --- hooks around turns and runs -----------------------------------------------------------------

TurnResult with_turn_hooks(const TurnScope& scope, const AgentDef& agent, const std::string& input,
                           const std::function<TurnResult(const std::string& input)>& body,
                           bool request_hook) {
  const auto& call = scope.context.call_hook;
  if (!call) return body(input);
  std::string turn_input = input;
  if (request_hook && find_hook(agent, "request") != nullptr) {
    json payload = turn_payload("request", scope, agent);
    payload["message"] = input;
    const json answer = call(agent, "request", payload);
    if (answer.is_object() && answer.contains("reject") && !answer["reject"].is_null() &&
        answer["reject"] != false) {
      const auto& reason = answer["reject"];
      const auto* hook = find_hook(agent, "request");
      throw errors::hook_rejected(agent.name, hook->name,
                                  reason.is_string() ? reason.get<std::string>() : dump_json(reason));
    }
    if (answer.is_object() && answer.contains("context") && !answer["context"].is_null()) {
      const auto& context = answer["context"];
      turn_input += "\n\n<context>\n" +
                    (context.is_string() ? context.get<std::string>() : dump_json(context)) +
                    "\n</context>";
    }
  }
  const auto started = std::chrono::steady_clock::now();
  const bool has_finish = find_hook(agent, "finish") != nullptr;
  try {
    auto result = body(turn_input);
    if (has_finish) {
      json payload = turn_payload("finish", scope, agent);
      payload["status"] = result.parked.is_null() ? "completed" : "waiting"; // parked for input
      payload["result"] = result.to_json();
      payload["durationMs"] = elapsed_ms(started);
      call(agent, "finish", payload);
    }
    return result;
  } catch (const Error& e) {
    if (find_hook(agent, "error") != nullptr) {
      json payload = turn_payload("error", scope, agent);
      payload["error"] = error_json(e);
      call(agent, "error", payload);
    }
    if (has_finish) {
      json payload = turn_payload("finish", scope, agent);
      payload["status"] = "errored";
      payload["error"] = error_json(e);
      payload["durationMs"] = elapsed_ms(started);
      call(agent, "finish", payload);
    }
    throw;
  }
}

void end_run_telemetry(const RuntimeContext& context, EventLog& events, const AgentDef* agent,
                       const RunIdentity& run, const json& result, const json& error) noexcept {
  const auto& run_id = run.run_id;
  // Hooks first: an error event a failing hook causes still belongs to the run's trace. A run
  // whose agent has neither hook prepares nothing for them (no workspace path, issue 17 §3).
  const bool error_hook =
      agent != nullptr && error.is_object() && find_hook(*agent, "error") != nullptr;
  const bool finish_hook = agent != nullptr && find_hook(*agent, "finish") != nullptr;
  if (context.telemetry && (error_hook || finish_hook)) try {
    // The run's workspace is where a run-level hook runs and may write. Only when the run's
    // invoker is granted the whole workspace by both the agent and the workflow: a hook must
    // never see more than the run's tools did (fail closed). A run whose turn never needed it (lazy,
    // issue 17 §3) or that failed before its turn has none yet: handed over lazily, the hook call
    // makes and seeds it as the turn would have (sandbox::use_workspace), so a hook whose run had
    // the whole workspace never runs without it (in its own directory, among the sources); a run
    // without such hooks makes none.
    HookEnvironment environment{.run_id = run_id};
    std::optional<sandbox::Workspace> workspace;
    if (intersect(workspace_grant(agent->access, run.invoker),
                  workspace_grant(run.workflow_access, run.invoker))
            .all) {
      const auto dir = context.workspaces_root() / safe_component(run_id);
      std::error_code ec;
      workspace = std::filesystem::is_directory(dir, ec)
                      ? sandbox::Workspace(dir)
                      : sandbox::Workspace::lazy(dir, workspace_seeds(*agent));
      environment.workspace = workspace->root();
      environment.confined = &*workspace;
    }
    const auto call = bind_hook_caller(context.telemetry->hooks(), events,
                                       Envelope{.run_id = run_id}, environment);
    json payload = {{"scope", "run"}, {"agent", agent->name}, {"runId", run_id},
                    {"timestamp", now_iso()}};
    if (!run.invoker.is_null()) payload["invoker"] = run.invoker;
    if (error_hook) {
      payload["hook"] = "error";
      payload["error"] = error;
      call(*agent, "error", payload);
    }
    if (finish_hook) {
      payload["hook"] = "finish";
      payload["status"] = error.is_object() ? "errored" : "completed";
      if (error.is_object()) payload["error"] = error;
      else payload["result"] = result;
      call(*agent, "finish", payload);
    }
  } catch (const std::exception&) { // a hook's report could not be stored: the run ends anyway
  }
  events.finish_trace(error);
}

} // namespace hearth::runtime

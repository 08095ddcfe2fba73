// The event log; see events.hpp.
#include "runtime/events.hpp"

#include "core/errors.hpp"
#include "store/store.hpp"

#include <chrono>
#include <ctime>

namespace hearth::runtime {

long long now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

long long elapsed_ms(std::chrono::steady_clock::time_point since) {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now() - since).count();
}

nlohmann::json error_json(const Error& error) {
  return {{"type", error.info().type},
          {"message", error.info().message},
          {"details", error.info().details}};
}

std::string now_iso() { return iso_from_ms(now_ms()); }

std::string iso_from_ms(long long ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03lldZ", buffer, ms % 1000);
  return out;
}

EventLog::EventLog(store::Store& store, std::string path, EventListener listener)
    : m_store(store), m_path(std::move(path)), m_listener(std::move(listener)) {}

namespace {

constexpr const char* k_envelope_keys[] = {"runId",   "instanceId", "session",
                                           "parentSession", "taskId", "harness",
                                           "operationId",   "turnId"};

/// The stored form of a TraceEvent derived from `source`: {traceEvent, <source's envelope>}.
store::NewEvent trace_record(const nlohmann::json& trace_event, const nlohmann::json& source) {
  nlohmann::json data = {{"traceEvent", trace_event}};
  for (const char* key : k_envelope_keys)
    if (const auto it = source.find(key); it != source.end()) data[key] = *it;
  data["timestamp"] = trace_event["timestamp"];
  return {.type = k_trace_event_type, .data = std::move(data)};
}

} // namespace

nlohmann::json EventLog::emit(const std::string& type, nlohmann::json data,
                              const Envelope& envelope) {
  const std::pair<const char*, const std::string*> fields[] = {
      {"runId", &envelope.run_id},         {"instanceId", &envelope.instance_id},
      {"session", &envelope.session},      {"parentSession", &envelope.parent_session},
      {"taskId", &envelope.task_id},       {"harness", &envelope.harness},
      {"operationId", &envelope.operation_id}, {"turnId", &envelope.turn_id}};
  for (const auto& [key, value] : fields)
    if (!value->empty() && !data.contains(key)) data[key] = *value;
  data["timestamp"] = now_iso();
  std::lock_guard lock(m_mutex); // one order for the stream and the listener
  // The event and the TraceEvents it derives go in one transaction (issue 17 §3: a commit per
  // event and per TraceEvent was most of a run's store time). The tracer reads only the event's
  // own fields, not its seq. A tracer failure loses the TraceEvents, never the event.
  std::vector<nlohmann::json> derived;
  try {
    derived = m_tracer.observe(type, data);
  } catch (const std::exception&) {
    derived.clear();
  }
  std::vector<store::NewEvent> batch;
  batch.reserve(1 + derived.size());
  batch.push_back({.type = type, .data = nlohmann::json()});
  for (const auto& trace_event : derived) batch.push_back(trace_record(trace_event, data));
  batch.front().data = std::move(data);
  const auto seq = m_store.append_batch(m_path, batch, false); // throws: nothing is shown
  data = std::move(batch.front().data);
  data["type"] = type;
  data["eventIndex"] = seq;
  if (m_listener) m_listener(data);
  for (std::size_t i = 1; i < batch.size(); ++i) {
    try {
      auto& trace = batch[i].data;
      trace["type"] = k_trace_event_type;
      trace["eventIndex"] = seq + static_cast<std::int64_t>(i);
      if (m_listener) m_listener(trace);
      if (m_trace_sink) m_trace_sink(derived[i - 1]);
    } catch (const std::exception&) {
      // The TraceEvent is committed; a listener or sink failing on it must not fail the event.
    }
  }
  return data;
}

void EventLog::append_traces(std::vector<nlohmann::json> derived,
                             const nlohmann::json& source) noexcept {
  if (derived.empty()) return;
  try {
    std::vector<store::NewEvent> batch;
    for (const auto& trace_event : derived) batch.push_back(trace_record(trace_event, source));
    const auto seq = m_store.append_batch(m_path, batch, false); // one transaction for all
    for (std::size_t i = 0; i < batch.size(); ++i) {
      try {
        auto& data = batch[i].data;
        data["type"] = k_trace_event_type;
        data["eventIndex"] = seq + static_cast<std::int64_t>(i);
        if (m_listener) m_listener(data);
        if (m_trace_sink) m_trace_sink(derived[i]);
      } catch (const std::exception&) {
      }
    }
  } catch (const std::exception&) {
    // The source event is committed and shown; lost TraceEvents must not fail it.
  }
}

void EventLog::continue_trace(const TraceContext& parent) {
  std::lock_guard lock(m_mutex);
  m_tracer = Tracer(parent);
}

void EventLog::set_trace_sink(TraceSink sink) {
  std::lock_guard lock(m_mutex);
  m_trace_sink = std::move(sink);
}

void EventLog::finish_trace(const nlohmann::json& error) noexcept {
  try {
    std::lock_guard lock(m_mutex);
    nlohmann::json envelope = nlohmann::json::object();
    if (m_path.rfind("runs/", 0) == 0) envelope["runId"] = m_path.substr(5);
    append_traces(m_tracer.finish(error), envelope);
  } catch (const std::exception&) {
  }
}

std::string EventLog::traceparent(const std::string& tool_call_id, const std::string& turn_id,
                                  const std::string& operation_id) {
  std::lock_guard lock(m_mutex);
  return m_tracer.traceparent_for(tool_call_id, turn_id, operation_id);
}

nlohmann::json run_operation(EventLog& events, const Envelope& envelope, const std::string& kind,
                             const std::function<nlohmann::json(nlohmann::json& done)>& body,
                             const nlohmann::json& fields) {
  const auto started = std::chrono::steady_clock::now();
  events.emit("operation_start", {{"operationKind", kind}}, envelope);
  nlohmann::json outcome = fields;
  outcome["operationKind"] = kind;
  try {
    nlohmann::json done = nlohmann::json::object();
    auto value = body(done);
    outcome.update(done);
    outcome["durationMs"] = elapsed_ms(started);
    outcome["isError"] = false;
    events.emit("operation", std::move(outcome), envelope);
    events.emit("idle", nlohmann::json::object(), envelope);
    return value;
  } catch (const Error& e) {
    outcome["durationMs"] = elapsed_ms(started);
    outcome["isError"] = true;
    outcome["error"] = error_json(e);
    events.emit("operation", std::move(outcome), envelope);
    events.emit("idle", nlohmann::json::object(), envelope);
    throw;
  } catch (const std::exception& e) {
    // Anything else (a library's exception) still closes the operation, as an Error, so the
    // caller ends its run instead of leaving it active.
    const auto error = errors::internal_error(e.what());
    outcome["durationMs"] = elapsed_ms(started);
    outcome["isError"] = true;
    outcome["error"] = error_json(error);
    try {
      events.emit("operation", std::move(outcome), envelope);
      events.emit("idle", nlohmann::json::object(), envelope);
    } catch (const std::exception&) { // the store is what failed; the run end says so
    }
    throw error;
  }
}

} // namespace hearth::runtime

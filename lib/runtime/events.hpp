// The runtime's event log: every event is appended to its store stream (committed) before any
// listener sees it, so each stream replays exactly what was streamed live (ARCHITECTURE.md §6).
// Wire shape: Flue 0.11's events (peers/flue/REPORT.md §4) with their envelope fields.
#pragma once

#include "core/error.hpp"
#include "runtime/trace.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <mutex>
#include <string>

namespace hearth::store {
class Store;
}

namespace hearth::runtime {

/// Flue's optional envelope fields; empty ones are omitted from the event.
struct Envelope {
  std::string run_id{};
  std::string instance_id{};
  std::string session{};
  std::string parent_session{};
  std::string task_id{};
  std::string harness{};
  std::string operation_id{};
  std::string turn_id{};
};

/// Receives each event (the full wire JSON, with `eventIndex`) after it is committed.
using EventListener = std::function<void(const nlohmann::json& event)>;

/// Receives each TraceEvent (the bare seed-001 object) after it is committed; must not block
/// (the OTLP exporter and the `trace` hook queue it).
using TraceSink = std::function<void(const nlohmann::json& trace_event)>;

/// ISO-8601 UTC with milliseconds for now, e.g. 2026-11-21T01:47:00.205Z.
std::string now_iso();

/// The same for `ms` milliseconds since the epoch (TraceEvent timestamps of earlier events).
std::string iso_from_ms(long long ms);

/// Milliseconds since the epoch.
long long now_ms();

/// Milliseconds elapsed since `since` (event `durationMs` fields).
long long elapsed_ms(std::chrono::steady_clock::time_point since);

/// A hearth error as event and RunRecord JSON: {type, message, details}.
nlohmann::json error_json(const Error& error);

/// Appends events to one stream. Thread-safe: concurrent tool calls emit from several threads,
/// and the listener sees events in stream order.
class EventLog {
public:
  EventLog(store::Store& store, std::string path, EventListener listener = {});

  /// Appends `type` with `data` and the envelope fields; returns the wire event. Throws the
  /// store's hearth::Error when the append fails (the event is then not shown either).
  nlohmann::json emit(const std::string& type, nlohmann::json data, const Envelope& envelope);

  const std::string& path() const noexcept { return m_path; }
  store::Store& store() const noexcept { return m_store; }

  // --- traces (runtime/trace.hpp): every emit also appends the TraceEvents it derives, as
  // events {type: "trace", traceEvent, <envelope>} right after it in the same stream.

  /// Continues the caller's trace (an incoming traceparent) instead of a new one. Call before
  /// the first event.
  void continue_trace(const TraceContext& parent);
  /// Hands every later TraceEvent to `sink` too.
  void set_trace_sink(TraceSink sink);
  /// Ends the open spans (the run is ending; `error` is its error JSON or null) and appends their
  /// end events. Never throws: a store failure loses them.
  void finish_trace(const nlohmann::json& error) noexcept;
  /// The W3C traceparent of the innermost span known for these ids (tool call, step, operation,
  /// run), or "" (runtime/trace.hpp Tracer::traceparent_for).
  std::string traceparent(const std::string& tool_call_id = "", const std::string& turn_id = "",
                          const std::string& operation_id = "");

private:
  /// Appends the TraceEvents `derived` with the envelope fields of `source`; m_mutex is held.
  void append_traces(std::vector<nlohmann::json> derived, const nlohmann::json& source) noexcept;

  store::Store& m_store;
  std::string m_path;
  EventListener m_listener;
  std::mutex m_mutex;
  Tracer m_tracer{};
  TraceSink m_trace_sink{};
};

/// Runs `body` as one Flue operation of `kind` (prompt, task, skill, shell): emits
/// `operation_start`, then `operation` {operationKind, durationMs, isError, …} and `idle`, also when
/// `body` throws a hearth::Error (the event then carries `error`, and the error is rethrown).
/// `body` returns the operation's value and may add fields (result, usage) to the success event;
/// `fields` go into both outcomes (e.g. a shell `command`).
nlohmann::json run_operation(EventLog& events, const Envelope& envelope, const std::string& kind,
                             const std::function<nlohmann::json(nlohmann::json& done)>& body,
                             const nlohmann::json& fields = nlohmann::json::object());

} // namespace hearth::runtime

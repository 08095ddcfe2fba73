// TraceEvents (seed 001 "Trace Event"; issue 12 §5): the observability records hearth derives
// from a stream's runtime events. One run (or one agent prompt) is one trace; runs, operations,
// turns, steps, tool calls and subagent tasks are spans; policy decisions, approvals and errors are
// point events. W3C trace context (https://www.w3.org/TR/trace-context/) carries the trace into
// tools and workflow scripts (TRACEPARENT) and in from HTTP callers (`traceparent`).
//
// Wire shape of one TraceEvent (docs/runtime.md "Traces"):
//   {name, type: approval|capability|error|lifecycle|policy|run, timestamp: ISO-8601,
//    trace: {id: <32 hex trace id>, parentId?: <16 hex span id>, sampled},
//    attributes: {spanId: <16 hex>, phase: start|end|event, durationMs?, status?, ...}}
// A span emits `start` then `end` (same spanId); a point event is one `event`. Every parentId names
// the spanId of an earlier TraceEvent of the same trace, except the root's when an incoming
// traceparent continued a caller's trace (then it names the caller's span).
#pragma once

#include "core/json.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::runtime {

/// The event type under which TraceEvents are stored in a stream: {type: "trace", traceEvent}.
inline constexpr const char* k_trace_event_type = "trace";

/// One position in a trace: W3C trace-id (32 lowercase hex) and parent-id (16 lowercase hex).
struct TraceContext {
  std::string trace_id{};
  std::string span_id{};
  bool sampled = true;
};

/// Parses a W3C `traceparent` strictly: version 00 exactly "00-<32 hex>-<16 hex>-<2 hex>" (55
/// chars, lowercase), neither id all zeros; a future version (01..fe) is read by its first 55
/// characters when followed by nothing or '-'. Returns nullopt for anything else (garbage is
/// ignored, never an error).
std::optional<TraceContext> parse_traceparent(std::string_view header);

/// "00-<trace id>-<span id>-01" (or -00 when not sampled).
std::string format_traceparent(const TraceContext& context);

/// A random trace id (32 lowercase hex, never all zeros). Throws hearth::Error internal_error
/// when the kernel gives no entropy (ids::random_bytes).
std::string new_trace_id();
/// A random span id (16 lowercase hex, never all zeros); throws as new_trace_id.
std::string new_span_id();

/// Derives TraceEvents from one stream's runtime events. Not thread-safe: EventLog calls it under
/// its lock, in stream order.
class Tracer {
public:
  /// `parent`: the caller's trace to continue (an incoming traceparent), else a new trace.
  explicit Tracer(std::optional<TraceContext> parent = std::nullopt);

  /// The TraceEvents that runtime event `type` with wire `data` (envelope fields included:
  /// runId, session, taskId, harness, operationId, turnId, timestamp) causes, in order.
  /// Unknown types cause none.
  /// `envelope`: string members the event is stored with besides `data` (NewEvent::members),
  /// read for the fields `data` lacks; null: `data` has them all.
  std::vector<nlohmann::json> observe(const std::string& type, const nlohmann::json& data,
                                      const std::vector<JsonMember>* envelope = nullptr);

  /// Ends every open span (a run's end: `error` non-null when it failed) and returns their end
  /// events, innermost first; an `error` point event precedes them when `error` is an object.
  std::vector<nlohmann::json> finish(const nlohmann::json& error);

  /// The traceparent naming the tool call's span (for its TRACEPARENT), or the innermost
  /// enclosing span known for `turn_id`/`operation_id`, or the root; "" before any span exists.
  std::string traceparent_for(const std::string& tool_call_id, const std::string& turn_id,
                              const std::string& operation_id) const;

  const std::string& trace_id() const noexcept { return m_trace_id; }

private:
  struct Span {
    std::string id{};
    std::string parent{}; // span id, "" for the root
    std::string name{};
    std::string type{};
    std::string key{};
    long long start_ms = 0;
    nlohmann::json attributes = nlohmann::json::object();
    std::string session{};   // tools: the session they run in (task parents)
    std::string tool_name{}; // tools: their name (task parents)
    bool has_task = false;   // tools: a subagent task already hangs below
  };

  nlohmann::json make_event(const std::string& name, const std::string& type,
                            const std::string& span_id, const std::string& parent,
                            nlohmann::json attributes, long long at_ms) const;
  std::string open(std::vector<nlohmann::json>& out, const std::string& key, const std::string& name,
                   const std::string& type, const std::string& parent, nlohmann::json attributes,
                   long long at_ms);
  void close(std::vector<nlohmann::json>& out, const std::string& key, bool is_error,
             const nlohmann::json& extra, long long at_ms);
  void close_span(std::vector<nlohmann::json>& out, const std::string& span_id, bool is_error,
                  const nlohmann::json& extra, long long at_ms);
  void point(std::vector<nlohmann::json>& out, const std::string& name, const std::string& type,
             const std::string& parent, nlohmann::json attributes, long long at_ms,
             const std::string& registry_key = "");
  /// The span id open under the first of `keys` that exists, else the root, else "".
  std::string parent_of(std::initializer_list<std::string> keys) const;

  std::string m_trace_id;
  std::string m_external_parent; // the caller's span (incoming traceparent), or ""
  bool m_sampled = true;
  std::string m_root{};                    // the first span opened in this trace
  std::map<std::string, Span> m_open{};    // by span id
  std::map<std::string, std::string> m_keys{}; // key -> open span id ("run", "op:<id>", ...)
  std::map<std::string, std::string> m_points{}; // "approval:<id>" -> emitted span id
  std::map<std::string, std::string> m_tool_calls{}; // toolCallId -> open tool span id
};

/// A TraceEvent's duration in ms when it is a span end, else nullopt.
std::optional<long long> trace_duration(const nlohmann::json& trace_event);

/// The TraceEvents of `events` (wire events of one stream) as an indented tree, one line per span
/// or point event: "<indent><name>  <type>  <duration|->  <key attributes>". Spans whose parent
/// is not among them start at the left margin.
std::string render_trace_tree(const std::vector<nlohmann::json>& trace_events);

/// Milliseconds since the epoch of an ISO-8601 UTC timestamp "YYYY-MM-DDTHH:MM:SS(.mmm)Z", or
/// nullopt.
std::optional<long long> parse_iso_ms(std::string_view iso);

} // namespace hearth::runtime

// The runtime's event log: every event is appended to its store stream (committed) before any
// listener sees it, so each stream replays exactly what was streamed live (ARCHITECTURE.md §6).
// Wire shape: Flue 0.11's events (peers/flue/REPORT.md §4) with their envelope fields.
#pragma once

#include "core/error.hpp"
#include "runtime/trace.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hearth::store {
class Store;
struct NewEvent;
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

  bool operator==(const Envelope&) const = default;
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

/// How an EventLog commits (issue 17 §3, docs/runtime.md "Events and commits").
enum class CommitPolicy {
  /// Each emit() is committed before it returns (and before the listener sees it).
  immediate,
  /// Events queue and are committed together, in one transaction, by flush(): at the points
  /// where the run does something outside itself (a model request, a tool, a hook, an
  /// approval, a checkpoint, the run's end), at the latest k_deferred_commit_delay after the
  /// first queued event (a background flusher), or when k_max_deferred_events are queued.
  /// Nothing is shown (listener, trace sink) before it is committed. For runs and turns whose
  /// events no caller in this process streams (HTTP runs and prompts without a listener):
  /// readers see them at most ~25 ms later than with `immediate`, and a process crash loses
  /// only events that nothing outside the process had acted on yet.
  deferred,
};

/// How long a deferred event may wait for its commit, and how many may queue.
inline constexpr std::chrono::milliseconds k_deferred_commit_delay{25};
inline constexpr std::size_t k_max_deferred_events = 256;

/// Appends events to one stream. Thread-safe: concurrent tool calls emit from several threads,
/// and the listener sees events in stream order.
class EventLog {
public:
  EventLog(store::Store& store, std::string path, EventListener listener = {},
           CommitPolicy policy = CommitPolicy::immediate);
  /// Commits what is still queued (a store failure then loses it: nothing had shown it).
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  /// Appends `type` with `data` and the envelope fields (and the TraceEvents it derives), at the
  /// time of the call (NewEvent::time_ms; a `timestamp` in `data` is dropped: readers and the
  /// listener get the event's time as `timestamp`). With CommitPolicy::immediate it is
  /// committed and shown before this returns; deferred, it is queued (see CommitPolicy). Throws
  /// the store's hearth::Error when the commit of this event, or of a deferred one before it,
  /// failed; the failed events are then not shown either.
  void emit(const std::string& type, nlohmann::json data, const Envelope& envelope);

  /// As emit(), with `members` (sorted by key, no repeats) stored as members of `data` as well
  /// (NewEvent::members): a value serialized once elsewhere goes in as its text (JsonMember::raw;
  /// a step's tools, issue 17 §3) instead of as a copy of its DOM. A key `data` has keeps
  /// `data`'s value; a member named like an envelope field replaces the envelope's.
  void emit(const std::string& type, nlohmann::json data, const Envelope& envelope,
            const std::vector<JsonMember>& members);

  /// Commits the queued events in one transaction and shows them. Call before anything that
  /// acts outside the run. No-op when nothing is queued. Throws the store's hearth::Error.
  void flush();
  /// flush() for paths that are already failing: a store error loses the queued events.
  void flush_noexcept() noexcept;

  /// A store write that commits the queued events (possibly none) together with a write of its
  /// own, in one transaction: Store::checkpoint_run_after, Store::end_run_after. Returns the seq
  /// of the first event, or nullopt when it wrote nothing.
  using CommitWith =
      std::function<std::optional<std::int64_t>(const std::vector<store::NewEvent>& events)>;
  /// flush() through `write` instead of a plain append: one commit where there were two (issue
  /// 17 §3). `write` runs also when nothing is queued. Returns false when it wrote nothing (the
  /// run is no longer this writer's): the queued events are dropped, nothing had shown them.
  /// When `write` throws, nothing was written and the events stay queued (a later flush() may
  /// commit them); the exception propagates.
  bool flush_with(const CommitWith& write);

  const std::string& path() const noexcept;
  store::Store& store() const noexcept;

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

  /// The state the background flusher shares with the log (events.cpp).
  struct Shared;

private:
  void emit_with(const std::string& type, nlohmann::json data, const Envelope& envelope,
                 const std::vector<JsonMember>* members);

  std::shared_ptr<Shared> m_shared;
};

/// Commits the queue of every CommitPolicy::deferred log of this process now (before runs are
/// ended from outside, e.g. at shutdown, so their run_end follows their events). Never throws;
/// a failed commit is thrown by that log's next call.
void flush_deferred_events() noexcept;

/// Runs `body` as one Flue operation of `kind` (prompt, task, skill, shell): emits
/// `operation_start`, then `operation` {operationKind, durationMs, isError, …} and `idle`, also when
/// `body` throws a hearth::Error (the event then carries `error`, and the error is rethrown).
/// `body` returns the operation's value and may add fields (result, usage) to the success event;
/// `fields` go into both outcomes (e.g. a shell `command`).
nlohmann::json run_operation(EventLog& events, const Envelope& envelope, const std::string& kind,
                             const std::function<nlohmann::json(nlohmann::json& done)>& body,
                             const nlohmann::json& fields = nlohmann::json::object());

} // namespace hearth::runtime

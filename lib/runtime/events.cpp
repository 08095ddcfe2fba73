// The event log; see events.hpp.
#include "runtime/events.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"
#include "store/store.hpp"
#include "store/system.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <queue>
#include <stdexcept>
#include <thread>
#include <utility>

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

std::string iso_from_ms(long long ms) { return store::sys::iso_ms(ms); }

namespace {

constexpr const char* k_envelope_keys[] = {"runId",   "instanceId", "session",
                                           "parentSession", "taskId", "harness",
                                           "operationId",   "turnId"};

/// How early the background flusher may commit a deferred queue, to take several in one
/// wake-up: a queued event waits k_deferred_commit_delay minus at most this.
constexpr auto k_flusher_slack = std::chrono::milliseconds(5);

using Members = std::shared_ptr<const std::vector<JsonMember>>;

/// A raw member is text hearth serialized from a DOM it held (a tool schema that was itself
/// parsed within bounds): parsing it back takes no depth limit of its own.
constexpr std::size_t k_any_depth = std::numeric_limits<std::size_t>::max();

/// The stored form of a TraceEvent derived from `source` (stored with `members`) at `time_ms`:
/// {traceEvent, <source's envelope>}: the same members, and any envelope field `source` sets
/// itself (which wins over them, as in its own body).
store::NewEvent trace_record(nlohmann::json trace_event, const nlohmann::json& source,
                             const Members& members, std::int64_t time_ms) {
  nlohmann::json data = nlohmann::json::object();
  for (const char* key : k_envelope_keys)
    if (const auto it = source.find(key); it != source.end()) data[key] = *it;
  data["traceEvent"] = std::move(trace_event);
  return {.type = k_trace_event_type, .data = std::move(data), .time_ms = time_ms,
          .members = members};
}

/// `envelope`'s non-empty fields as stored members, in key order (dump_json_with).
Members envelope_members(const Envelope& envelope) {
  const std::pair<const char*, const std::string*> sorted[] = {
      {"harness", &envelope.harness},         {"instanceId", &envelope.instance_id},
      {"operationId", &envelope.operation_id}, {"parentSession", &envelope.parent_session},
      {"runId", &envelope.run_id},             {"session", &envelope.session},
      {"taskId", &envelope.task_id},           {"turnId", &envelope.turn_id}};
  auto members = std::make_shared<std::vector<JsonMember>>();
  for (const auto& [key, value] : sorted)
    if (!value->empty()) members->push_back({key, *value});
  return members;
}

} // namespace

struct EventLog::Shared : std::enable_shared_from_this<EventLog::Shared> {
  Shared(store::Store& s, std::string p, EventListener l, CommitPolicy c)
      : store(s), path(std::move(p)), listener(std::move(l)), policy(c) {}

  store::Store& store;
  const std::string path;
  const EventListener listener;
  const CommitPolicy policy;
  std::mutex mutex; // guards everything below; one order for the stream and the listener
  Tracer tracer{};
  TraceSink trace_sink{};
  std::vector<store::NewEvent> pending{};    // queued, not committed (CommitPolicy::deferred)
  std::exception_ptr failure{};              // the background flusher's failed commit
  bool closed = false;                       // the log was destroyed: the flusher skips it
  bool scheduled = false;                    // the flusher holds an entry for this log
  std::chrono::steady_clock::time_point pending_since{}; // when `pending` became non-empty
  /// The stored members of the envelopes emitted under most recently (a run alternates between
  /// its own, its operation's and its turn's): built once, shared by their events.
  std::array<std::pair<Envelope, Members>, 4> recent_envelopes{};
  std::size_t next_recent = 0;

  const Members& members_for(const Envelope& envelope) {
    for (const auto& [known, members] : recent_envelopes)
      if (members && known == envelope) return members;
    auto& slot = recent_envelopes[next_recent];
    next_recent = (next_recent + 1) % recent_envelopes.size();
    slot = {envelope, envelope_members(envelope)};
    return slot.second;
  }

  /// Commits `pending` in one transaction (through `write` when given, see flush_with), then
  /// shows it. mutex is held. Returns false when `write` wrote nothing. Throws the store's error
  /// (the queued events are dropped: they were never shown).
  bool flush_locked(const CommitWith* write = nullptr) {
    if (failure) std::rethrow_exception(std::exchange(failure, nullptr));
    if (pending.empty() && write == nullptr) return true;
    auto batch = std::move(pending);
    pending.clear();
    std::int64_t seq = 0;
    if (write != nullptr) {
      std::optional<std::int64_t> first;
      try {
        first = (*write)(batch);
      } catch (...) {
        // Nothing was written (all or nothing), and the failure may be the write's own (a
        // session conflict): the events queue again, for the caller's recovery to commit.
        batch.insert(batch.end(), std::make_move_iterator(pending.begin()),
                     std::make_move_iterator(pending.end()));
        pending = std::move(batch);
        throw;
      }
      if (!first) return false; // not the writer's run any more: its events are dropped
      seq = *first;
    } else {
      seq = store.append_batch(path, batch, false); // throws: nothing is shown
    }
    if (!listener && !trace_sink) return true; // nobody in this process watches (HTTP runs)
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto& data = batch[i].data; // the wire shape a reader of the store gets (store::to_json)
      if (batch[i].members && data.is_object())
        for (const auto& member : *batch[i].members) // raw: our own text, any depth
          data.emplace(member.key, member.raw ? parse_json(member.value, k_any_depth)
                                              : nlohmann::json(member.value));
      data["type"] = batch[i].type;
      data["eventIndex"] = seq + static_cast<std::int64_t>(i);
      data["timestamp"] = iso_from_ms(batch[i].time_ms > 0 ? batch[i].time_ms : now_ms());
      if (batch[i].type != k_trace_event_type) {
        if (listener) listener(data); // its failure is the emit's (the CLI's pipe is gone)
        continue;
      }
      try {
        if (listener) listener(data);
        if (trace_sink) trace_sink(data["traceEvent"]);
      } catch (const std::exception&) {
        // The TraceEvent is committed; a listener or sink failing on it must not fail the event.
      }
    }
    return true;
  }

  /// flush_locked() for the background: a failure is kept for the log's next emit or flush.
  void flush_or_keep_failure() noexcept {
    try {
      flush_locked();
    } catch (...) {
      failure = std::current_exception();
    }
  }

  /// Queues `events`; commits at once (immediate) or arranges the commit (deferred).
  void queue(std::vector<store::NewEvent> events);
  /// The flusher's visit: commits the queue if its oldest event is due, else comes back then.
  void flush_due() noexcept;
};

namespace {

/// The background half of CommitPolicy::deferred: one thread per process commits a log's queue
/// once its oldest event has waited k_deferred_commit_delay, unless a flush() came first. A log
/// has at most one entry here; entries due within k_flusher_slack of each other are taken in
/// one wake-up (a run that ends first leaves an expired entry behind: one per run at most).
class DeferredFlusher {
public:
  static DeferredFlusher& instance() {
    static auto* flusher = new DeferredFlusher(); // never destroyed: its thread outlives main
    return *flusher;
  }

  /// Commits `log`'s queue at `due`. Called with the log's mutex held (never the other way).
  void schedule(const std::shared_ptr<EventLog::Shared>& log,
                std::chrono::steady_clock::time_point due) {
    std::lock_guard lock(m_mutex);
    if (!m_started) {
      std::thread([this] { loop(); }).detach();
      m_started = true;
    }
    const bool earliest = m_due.empty() || due < m_due.top().due;
    m_due.push({due, log});
    if (earliest) m_wake.notify_one();
  }

  /// Every log with a queue: their weak pointers (the caller flushes them without m_mutex).
  std::vector<std::weak_ptr<EventLog::Shared>> queued() {
    std::lock_guard lock(m_mutex);
    std::vector<std::weak_ptr<EventLog::Shared>> logs;
    auto copy = m_due;
    for (; !copy.empty(); copy.pop()) logs.push_back(copy.top().log);
    return logs;
  }

private:
  struct Entry {
    std::chrono::steady_clock::time_point due;
    std::weak_ptr<EventLog::Shared> log;
    bool operator>(const Entry& other) const { return due > other.due; }
  };

  [[noreturn]] void loop() {
    std::vector<std::weak_ptr<EventLog::Shared>> ready;
    for (;;) {
      {
        std::unique_lock lock(m_mutex);
        for (;;) {
          if (m_due.empty()) {
            m_wake.wait(lock);
            continue;
          }
          // Woken when the earliest entry is due (not k_flusher_slack before: then the horizon
          // below reached only that entry, and a run a millisecond cost one wake-up each).
          const auto when = m_due.top().due;
          if (std::chrono::steady_clock::now() >= when) break;
          m_wake.wait_until(lock, when); // or an earlier entry arrived
        }
        const auto horizon = std::chrono::steady_clock::now() + k_flusher_slack;
        while (!m_due.empty() && m_due.top().due <= horizon) {
          ready.push_back(m_due.top().log);
          m_due.pop();
        }
      }
      for (auto& weak : ready) // each log's mutex taken without m_mutex
        if (const auto log = weak.lock()) log->flush_due();
      ready.clear();
    }
  }

  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> m_due;
  bool m_started = false;
};

} // namespace

void EventLog::Shared::queue(std::vector<store::NewEvent> events) {
  if (failure) std::rethrow_exception(std::exchange(failure, nullptr));
  const bool was_empty = pending.empty();
  if (was_empty) pending = std::move(events);
  else pending.insert(pending.end(), std::make_move_iterator(events.begin()),
                      std::make_move_iterator(events.end()));
  if (policy == CommitPolicy::immediate || pending.size() >= k_max_deferred_events) {
    flush_locked();
    return;
  }
  if (was_empty) pending_since = std::chrono::steady_clock::now();
  if (!scheduled) { // the flusher's entry is a weak pointer: it expires with the log
    scheduled = true;
    DeferredFlusher::instance().schedule(shared_from_this(),
                                         pending_since + k_deferred_commit_delay);
  }
}

void EventLog::Shared::flush_due() noexcept {
  std::lock_guard lock(mutex);
  scheduled = false;
  if (closed || pending.empty()) return;
  const auto due = pending_since + k_deferred_commit_delay;
  if (due > std::chrono::steady_clock::now() + k_flusher_slack) {
    scheduled = true; // flushed and queued again since the entry was made
    DeferredFlusher::instance().schedule(shared_from_this(), due);
    return;
  }
  flush_or_keep_failure();
}

void flush_deferred_events() noexcept {
  try {
    for (auto& weak : DeferredFlusher::instance().queued()) {
      const auto log = weak.lock();
      if (!log) continue;
      std::lock_guard lock(log->mutex);
      if (!log->closed) log->flush_or_keep_failure();
    }
  } catch (...) { // out of memory copying the list: the flusher still commits them soon
  }
}

EventLog::EventLog(store::Store& store, std::string path, EventListener listener,
                   CommitPolicy policy)
    : m_shared(std::make_shared<Shared>(store, std::move(path), std::move(listener), policy)) {}

EventLog::~EventLog() {
  std::lock_guard lock(m_shared->mutex);
  try {
    m_shared->flush_locked();
  } catch (...) { // a store failure loses what was queued: nothing had shown it
  }
  m_shared->closed = true;
}

const std::string& EventLog::path() const noexcept { return m_shared->path; }
store::Store& EventLog::store() const noexcept { return m_shared->store; }

void EventLog::emit(const std::string& type, nlohmann::json data, const Envelope& envelope) {
  emit_with(type, std::move(data), envelope, nullptr);
}

void EventLog::emit(const std::string& type, nlohmann::json data, const Envelope& envelope,
                    const std::vector<JsonMember>& members) {
  emit_with(type, std::move(data), envelope, &members);
}

void EventLog::emit_with(const std::string& type, nlohmann::json data, const Envelope& envelope,
                         const std::vector<JsonMember>* extra) {
  if (data.is_null()) data = nlohmann::json::object(); // an event without fields is {}
  if (!data.is_object()) throw std::invalid_argument("event " + type + ": data must be an object");
  data.erase("timestamp"); // the store keeps its time (NewEvent::time_ms)
  auto& shared = *m_shared;
  std::lock_guard lock(shared.mutex);
  const auto at = now_ms(); // under the lock: times never go back along the stream
  // The envelope is stored with the event, not copied into its DOM: the members of this
  // envelope, shared by every event emitted under it (a field the event sets itself is kept).
  Members members = shared.members_for(envelope);
  Members trace_members = members; // a TraceEvent carries the envelope fields only
  if (extra != nullptr && !extra->empty()) { // the event's own stored members join them
    auto merged = std::make_shared<std::vector<JsonMember>>();
    merged->reserve(members->size() + extra->size());
    auto from_envelope = members->begin();
    for (const auto& member : *extra) {
      for (; from_envelope != members->end() && from_envelope->key <= member.key; ++from_envelope)
        if (from_envelope->key != member.key) merged->push_back(*from_envelope);
      merged->push_back(member);
    }
    merged->insert(merged->end(), from_envelope, members->end());
    members = std::move(merged);
    auto envelope_fields = std::make_shared<std::vector<JsonMember>>();
    for (const auto& member : *members)
      if (std::find(std::begin(k_envelope_keys), std::end(k_envelope_keys), member.key) !=
          std::end(k_envelope_keys))
        envelope_fields->push_back(member);
    trace_members = std::move(envelope_fields);
  }
  // The event and the TraceEvents it derives go in one transaction (issue 17 §3: a commit per
  // event and per TraceEvent was most of a run's store time). The tracer reads only the event's
  // own fields, not its seq. A tracer failure loses the TraceEvents, never the event.
  std::vector<nlohmann::json> derived;
  try {
    derived = shared.tracer.observe(type, data, members.get());
  } catch (const std::exception&) {
    derived.clear();
  }
  std::vector<store::NewEvent> batch;
  batch.reserve(1 + derived.size());
  batch.push_back({.type = type, .data = nlohmann::json(), .time_ms = at, .members = members});
  for (auto& trace_event : derived)
    batch.push_back(trace_record(std::move(trace_event), data, trace_members, at));
  batch.front().data = std::move(data);
  shared.queue(std::move(batch));
}

void EventLog::flush() {
  std::lock_guard lock(m_shared->mutex);
  m_shared->flush_locked();
}

bool EventLog::flush_with(const CommitWith& write) {
  std::lock_guard lock(m_shared->mutex);
  return m_shared->flush_locked(&write);
}

void EventLog::flush_noexcept() noexcept {
  try {
    flush();
  } catch (...) {
  }
}

void EventLog::continue_trace(const TraceContext& parent) {
  std::lock_guard lock(m_shared->mutex);
  m_shared->tracer = Tracer(parent);
}

void EventLog::set_trace_sink(TraceSink sink) {
  std::lock_guard lock(m_shared->mutex);
  m_shared->trace_sink = std::move(sink);
}

void EventLog::finish_trace(const nlohmann::json& error) noexcept {
  try {
    auto& shared = *m_shared;
    std::lock_guard lock(shared.mutex);
    nlohmann::json envelope = nlohmann::json::object();
    if (shared.path.rfind("runs/", 0) == 0) envelope["runId"] = shared.path.substr(5);
    std::vector<store::NewEvent> batch;
    const auto at = now_ms();
    for (auto& trace_event : shared.tracer.finish(error))
      batch.push_back(trace_record(std::move(trace_event), envelope, nullptr, at));
    if (!batch.empty()) shared.queue(std::move(batch));
  } catch (const std::exception&) {
    // The run is ending either way: TraceEvents that could not be stored must not fail it.
  }
}

std::string EventLog::traceparent(const std::string& tool_call_id, const std::string& turn_id,
                                  const std::string& operation_id) {
  std::lock_guard lock(m_shared->mutex);
  return m_shared->tracer.traceparent_for(tool_call_id, turn_id, operation_id);
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

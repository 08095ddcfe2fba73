// Where a runtime's TraceEvents and lifecycle hooks go (issue 12 §4-5; docs/runtime.md "Hooks",
// "Traces"): the hook runner, the OTLP/HTTP JSON exporter (hearth.json `telemetry.otlp`) and the
// `trace` hook, both fed from a background queue so no run ever waits for them.
#pragma once

#include "runtime/harness.hpp"
#include "runtime/hooks.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace hearth::runtime {

/// hearth.json `telemetry.otlp` as the runtime uses it.
struct OtlpSettings {
  std::string endpoint{};                        // e.g. http://127.0.0.1:4318 (POST <it>/v1/traces)
  std::map<std::string, std::string> headers{};  // sent with every POST (e.g. an API key)
  std::string service_name = "hearth";           // resource attribute service.name
  std::size_t max_queue = 4096;                  // spans waiting; more are dropped and counted
  std::size_t max_batch = 512;                   // spans per POST
  std::chrono::milliseconds interval{1000};      // a partial batch waits at most this long
  std::chrono::milliseconds timeout{1000};       // connect/read/write timeout of one POST
};

/// One background thread draining a bounded queue in batches. push() never blocks: a full queue
/// drops the item and counts it. stop() hands what is queued to the handler (bounded by the
/// handler's own timeouts) and joins; the destructor stops.
template <typename Item> class BatchWorker {
public:
  using Handler = std::function<void(std::vector<Item>&& batch)>;
  BatchWorker(std::size_t max_queue, std::size_t max_batch, std::chrono::milliseconds interval,
              Handler handler)
      : m_max_queue(max_queue), m_max_batch(max_batch), m_interval(interval),
        m_handler(std::move(handler)), m_thread([this] { loop(); }) {}
  ~BatchWorker() { stop(); }
  BatchWorker(const BatchWorker&) = delete;
  BatchWorker& operator=(const BatchWorker&) = delete;

  /// Queues `item`; false (and counted) when the queue is full or stopped.
  bool push(Item item) {
    bool full_batch = false;
    {
      std::lock_guard lock(m_mutex);
      if (m_stopping || m_queue.size() >= m_max_queue) {
        ++m_dropped;
        return false;
      }
      m_queue.push_back(std::move(item));
      full_batch = m_queue.size() >= m_max_batch;
    }
    if (full_batch) m_wake.notify_one();
    return true;
  }

  /// Drains what is queued, then ends the thread. Idempotent.
  void stop() noexcept {
    {
      std::lock_guard lock(m_mutex);
      m_stopping = true;
    }
    m_wake.notify_one();
    if (m_thread.joinable()) m_thread.join();
  }

  std::size_t dropped() const {
    std::lock_guard lock(m_mutex);
    return m_dropped;
  }

private:
  void loop() {
    for (;;) {
      std::vector<Item> batch;
      bool last = false;
      {
        std::unique_lock lock(m_mutex);
        m_wake.wait_for(lock, m_interval,
                        [&] { return m_stopping || m_queue.size() >= m_max_batch; });
        while (!m_queue.empty() && batch.size() < m_max_batch) {
          batch.push_back(std::move(m_queue.front()));
          m_queue.pop_front();
        }
        last = m_stopping && m_queue.empty();
      }
      if (!batch.empty()) {
        try {
          m_handler(std::move(batch));
        } catch (...) { // a sink failure loses its batch, never the thread
        }
      }
      if (last) return;
    }
  }

  std::size_t m_max_queue;
  std::size_t m_max_batch;
  std::chrono::milliseconds m_interval;
  Handler m_handler;
  mutable std::mutex m_mutex;
  std::condition_variable m_wake;
  std::deque<Item> m_queue{};
  std::size_t m_dropped = 0;
  bool m_stopping = false;
  std::thread m_thread; // last: starts once the members above exist
};

/// The OTLP/HTTP JSON body (ExportTraceServiceRequest) for the span ends and point events among
/// `trace_events` (start events are skipped: a span is exported once, complete).
nlohmann::json otlp_request(const std::vector<nlohmann::json>& trace_events,
                            const std::string& service_name);

/// Posts TraceEvents to `<endpoint>/v1/traces` in batches from a background thread.
class OtlpExporter {
public:
  /// Throws hearth::Error config_invalid when the endpoint is not an http(s) URL.
  explicit OtlpExporter(OtlpSettings settings);
  void push(const nlohmann::json& trace_event);
  /// Posts what is queued (each POST bounded by the settings' timeout) and stops.
  void stop() noexcept { m_worker.stop(); }
  std::size_t dropped() const { return m_worker.dropped(); }
  std::size_t failed_posts() const { return m_failed; }

private:
  void post(std::vector<nlohmann::json>&& batch);
  OtlpSettings m_settings;
  std::string m_host{};
  std::string m_path{};
  std::atomic<std::size_t> m_failed{0};
  BatchWorker<nlohmann::json> m_worker; // last: its thread uses the members above
};

/// One runtime's hooks and trace sinks. Thread-safe.
class Telemetry {
public:
  Telemetry(std::filesystem::path project_root, bool fail_closed,
            std::optional<OtlpSettings> otlp = std::nullopt);
  ~Telemetry();

  std::shared_ptr<const HookRunner> hooks() const { return m_hooks; }

  /// Sends the TraceEvents of `events` to the OTLP exporter and, batched, to the `trace` hook of
  /// `agent` (may be null). `agent` must outlive this object (the runtime's Program does).
  void attach(EventLog& events, const AgentDef* agent);

  /// Flushes the exporter and the trace hook queue (bounded) and stops their threads.
  void shutdown() noexcept;

private:
  struct TraceItem {
    const AgentDef* agent = nullptr;
    nlohmann::json event{};
  };
  void call_trace_hooks(std::vector<TraceItem>&& batch);

  std::shared_ptr<const HookRunner> m_hooks;
  std::unique_ptr<OtlpExporter> m_otlp{};
  std::unique_ptr<BatchWorker<TraceItem>> m_trace_hooks{};
};

/// Runs one turn with the lifecycle hooks around it (docs/runtime.md "Hooks"): `request` first
/// ({"reject": reason} throws hook_rejected; {"context": value} is appended to the input), then
/// `body(input)`; `error` when it throws a hearth::Error (rethrown), `finish` either way.
/// `request_hook` false: a resumed (approved) turn, whose `request` ran when it began.
TurnResult with_turn_hooks(const TurnScope& scope, const AgentDef& agent, const std::string& input,
                           const std::function<TurnResult(const std::string& input)>& body,
                           bool request_hook = true);

/// Whose run is ending: its id, the invoker it was admitted for (null when none) and its
/// workflow's `access` (null when none).
struct RunIdentity {
  std::string run_id{};
  nlohmann::json invoker{};
  nlohmann::json workflow_access{};
};

/// A run's end: closes its trace (`error`: the run's error JSON, or null) and calls the run-level
/// `error` and `finish` hooks of `agent` (may be null) with the run's invoker. They run in the
/// run's workspace only when the agent's and the workflow's `access.workspace` both grant that
/// invoker all of it (docs/auth.md "Workspace grants"); else in none. Never throws.
void end_run_telemetry(const RuntimeContext& context, EventLog& events, const AgentDef* agent,
                       const RunIdentity& run, const nlohmann::json& result,
                       const nlohmann::json& error) noexcept;

} // namespace hearth::runtime

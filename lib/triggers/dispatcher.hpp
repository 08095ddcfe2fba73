// Durable dispatch (seed 003 "Dispatch to agents", issue 14 §3): admission is one store
// transaction returning {dispatchId, acceptedAt}; each agent instance then processes its
// dispatches one at a time in admission order, reading the next one from the store, so a restart
// picks up where the last process stopped (at least once).
#pragma once

#include "runtime/access.hpp"
#include "store/store.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace hearth::runtime {
class Runtime;
}

namespace hearth::triggers {

/// Runs work in the background (the server's executor). Throws when it cannot queue.
using Submit = std::function<void(std::function<void()>)>;

/// Thread-safe.
class Dispatcher {
public:
  Dispatcher(runtime::Runtime& runtime, Submit submit);

  /// Admits `dispatch` (agent "" is the root agent) and starts its instance's queue. Returns the
  /// receipt {dispatchId, acceptedAt} (+ `replayed: true` for an exact replay) with the extras
  /// the first admission stored (`NewDispatch::receipt`: a replay answers what the first answer
  /// said). Throws agent_not_found, dispatch_invalid (400), dispatch_conflict (409), and
  /// dispatch_stopped (503) once stop() was called. `dispatch.invoker` must already be resolved
  /// and checked (invocation(), or the HTTP route's agent_invocation).
  nlohmann::json dispatch(store::NewDispatch dispatch);

  /// The invocation of agent `agent` ("" : the root agent) by `invoker` (e.g. {kind: "channel",
  /// id}) as HTTP callers get it (seed 002): the agent's invoker profiles and invoker.resolve,
  /// then its `access` rules. Throws agent_not_found, access_denied (403).
  runtime::Invocation invocation(const std::string& agent, const nlohmann::json& invoker) const;

  /// The record of dispatch `dispatch_id` once its turn is done or errored (`outcome` set),
  /// waiting up to `max_wait` (and no longer once stop() was called); nullopt when it is still
  /// unfinished then, or unknown. Polls the store every 25 ms (another process may run it).
  /// At most k_max_waiters wait at once; the others get the record as it is now, not waiting.
  std::optional<store::DispatchRecord> wait_finished(const std::string& dispatch_id,
                                                     std::chrono::milliseconds max_wait) const;

  /// Server shutdown: no drain takes another dispatch (rows stay queued for the next start),
  /// admissions are refused, the sweep stops. Never blocks on a running turn.
  void stop();

  ~Dispatcher();

  /// Starts the queues of every instance with unfinished dispatches (at start-up, after the
  /// server bound its port, and from the sweep). Running rows of live processes are left alone
  /// (Store::take_dispatch).
  void resume();

  /// Calls resume() every `interval` on a thread of its own, so a dispatch whose kick could not
  /// queue (executor full) or whose owner died still runs. Idempotent; stop_sweep() joins it.
  void start_sweep(std::chrono::milliseconds interval);
  void stop_sweep();

  /// The receipt JSON of a record.
  static nlohmann::json receipt(const store::DispatchRecord& record, bool replayed);

  /// What the agent reads for a dispatch input: a string as is, anything else as compact JSON.
  static std::string message_of(const nlohmann::json& input);

private:
  void kick(const std::string& agent, const std::string& instance);
  void drain(const std::string& agent, const std::string& instance);

  runtime::Runtime& m_runtime;
  Submit m_submit;
  std::mutex m_mutex;
  struct Queue {
    bool active = false; // a drain task runs for this instance
    bool again = false;  // new work arrived while it ran
  };
  std::map<std::string, Queue> m_queues; // by "agent\n instance"
  std::jthread m_sweeper;
  std::atomic<bool> m_stopping{false};
  static constexpr int k_max_waiters = 64; // wait_finished callers at once
  mutable std::atomic<int> m_waiters{0};
};

} // namespace hearth::triggers

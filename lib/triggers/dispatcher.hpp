// Durable dispatch (seed 003 "Dispatch to agents", issue 14 §3): admission is one store
// transaction returning {dispatchId, acceptedAt}; each agent instance then processes its
// dispatches one at a time in admission order, reading the next one from the store, so a restart
// picks up where the last process stopped (at least once).
#pragma once

#include "store/store.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
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
  /// receipt {dispatchId, acceptedAt} (+ `replayed: true` for an exact replay). Throws
  /// agent_not_found, dispatch_invalid (400) and dispatch_conflict (409).
  nlohmann::json dispatch(store::NewDispatch dispatch);

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
};

} // namespace hearth::triggers

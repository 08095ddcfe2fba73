// The runtime's JSON-RPC methods for the CLI (docs/ipc.md §5): workflow.run, agent.prompt,
// agent.compact, input.respond and the agent.cancel notification. One registration shared by the
// stdio child (serve_stdio) and the warm runtime's socket (WarmServer), so both transports answer
// exactly the same way. `shutdown` differs per transport and is registered by each.
#pragma once

#include "ipc/peer.hpp"
#include "runtime/runtime.hpp"

#include <mutex>
#include <set>
#include <string>
#include <utility>

namespace hearth::runtime {

/// The work one connection started and still runs: workflow runs (by id) and agent turns (by
/// agent and instance). A warm connection that ends (its CLI died) cancels what is left, as the
/// stdio child cancels its runs at EOF. Thread-safe.
class ConnectionWork {
public:
  void add_run(const std::string& run_id);
  void remove_run(const std::string& run_id);
  void add_turn(const std::string& agent, const std::string& instance);
  void remove_turn(const std::string& agent, const std::string& instance);
  /// Cancels every run and turn still registered (Runtime::cancel_run / cancel_turn); the
  /// handlers running them then return their `cancelled` errors. Returns how many it cancelled.
  std::size_t cancel_all(Runtime& runtime);
  /// How many runs and turns are registered now.
  std::size_t size() const;

private:
  mutable std::mutex m_mutex;
  std::multiset<std::string> m_runs{};
  std::multiset<std::pair<std::string, std::string>> m_turns{};
};

/// How a transport admits work.
struct MethodOptions {
  /// False for the warm socket: its runs are not resumable even in a durable (serving) runtime;
  /// they end with their connection (docs/ipc.md "Warm runtime").
  bool resumable_runs = true;
  /// Where the handlers register what they run (null: not tracked; the stdio child cancels every
  /// active run at EOF instead). Must outlive the peer's handlers.
  ConnectionWork* work = nullptr;
};

/// Registers workflow.run, agent.prompt, agent.compact, input.respond (requests) and agent.cancel
/// (notification) on `peer`, answering from `runtime` (docs/ipc.md §5 for params and results).
/// Call before peer.start(); `runtime` must outlive the peer.
void register_runtime_methods(ipc::Peer& peer, Runtime& runtime, MethodOptions options = {});

} // namespace hearth::runtime

// The parent's side of the runtime child (ARCHITECTURE.md §1): `/proc/self/exe runtime …` in its
// own process group, spoken to with JSON-RPC over its stdin/stdout (docs/ipc.md). The child's
// stderr is its log and goes straight to ours.
#pragma once

#include "core/process.hpp"
#include "ipc/peer.hpp"
#include "runtime/link.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace hearth::runtime {

class Child : public Link {
public:
  /// Spawns the runtime with `args` after `runtime` (e.g. --root DIR) and the internal gate
  /// HEARTH_INTERNAL_IPC=1. Throws spawn_failed.
  explicit Child(const std::vector<std::string>& args);
  /// Asks the child to shut down, then stops its process group (SIGTERM, 1 s, SIGKILL).
  ~Child() override;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  /// Blocks until the child's `ready` notification. Throws runtime_not_ready after `timeout`
  /// or when the child exits first (with its exit status and the reason it gave).
  void wait_ready(std::chrono::milliseconds timeout = k_ready_timeout) override;

  /// Sends a request and blocks for its reply, handing each `event` notification tagged with it
  /// to `on_event`. Throws the child's hearth::Error (ipc::RemoteError) or ipc_closed.
  nlohmann::json request(const std::string& method, const nlohmann::json& params,
                         const std::function<void(const nlohmann::json&)>& on_event) override;

  /// Sends a notification (no reply), e.g. `agent.cancel` while a request runs; safe from
  /// another thread. Returns false when the child can no longer be written to.
  bool notify(const std::string& method, const nlohmann::json& params) override;

  /// Stops the child's whole process group now (signal handling); safe from another thread.
  void kill() override;

  /// True once the child has exited.
  bool lost() override { return exit_status().has_value(); }

  /// The params of the child's `ready` notification (serving mode: {pid, version, url, port}),
  /// or null before it arrived.
  nlohmann::json ready_params() const;

  /// Graceful stop for a serving child (docs/ipc.md §5): sends `shutdown`, lets it drain for up
  /// to `bound`, then stops its process group (SIGTERM, 1 s, SIGKILL). Returns its exit status.
  process::ExitStatus shutdown(std::chrono::milliseconds bound);

  /// The child's exit status if it has exited (reaping it), without blocking.
  std::optional<process::ExitStatus> try_wait();

  /// The child's pid (and process group id).
  int pid() const { return m_process->pid(); }

  /// The child's exit status once it has exited.
  std::optional<process::ExitStatus> exit_status();

private:
  std::unique_ptr<process::Process> m_process;
  std::unique_ptr<ipc::Peer> m_peer;
  mutable std::mutex m_ready_mutex;
  std::condition_variable m_ready_cv;
  bool m_ready = false;
  nlohmann::json m_ready_params{};
  std::string m_startup_error{};
};

} // namespace hearth::runtime

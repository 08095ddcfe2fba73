// runtime::Link: the CLI's side of a conversation with a runtime (docs/ipc.md §5), whichever way
// it is reached: a runtime child of its own (runtime::Child, over its stdin/stdout) or the warm
// runtime of a running `hearth dev` (runtime::WarmClient, over a Unix socket). `hearth run` and
// `hearth connect` speak to a Link and do not care which.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace hearth::runtime {

/// How long a runtime has to say `ready` (seed page 15: "readiness timeout is 60 seconds").
inline constexpr std::chrono::seconds k_ready_timeout{60};

class Link {
public:
  virtual ~Link() = default;

  /// Blocks until the runtime accepts requests. Throws runtime_not_ready after `timeout` or when
  /// it is gone first. A warm link is ready when it is made: this returns at once.
  virtual void wait_ready(std::chrono::milliseconds timeout = k_ready_timeout) = 0;

  /// Sends a request and blocks for its reply, handing each `event` notification tagged with it
  /// to `on_event`. Throws the runtime's hearth::Error (ipc::RemoteError) or ipc_closed.
  virtual nlohmann::json request(const std::string& method, const nlohmann::json& params,
                                 const std::function<void(const nlohmann::json&)>& on_event) = 0;

  /// Sends a notification (no reply), e.g. `agent.cancel` while a request runs; safe from
  /// another thread. Returns false when the runtime can no longer be written to.
  virtual bool notify(const std::string& method, const nlohmann::json& params) = 0;

  /// Ends what this link runs, now (Ctrl-C / SIGTERM); safe from another thread. A child is
  /// stopped (its runs end cancelled); a warm connection is closed, which cancels its runs and
  /// turns in the dev server. A request in flight then throws ipc_closed.
  virtual void kill() = 0;

  /// True once the runtime is gone: the child exited, or the warm connection ended.
  virtual bool lost() = 0;

  /// A socket whose shutdown(2) alone does what kill() does, so that a signal handler may do it
  /// (async-signal-safe): the warm connection's. -1 when kill() needs more (a child is stopped
  /// and waited for).
  virtual int interrupt_socket() const { return -1; }
};

} // namespace hearth::runtime

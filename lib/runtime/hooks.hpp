// Lifecycle hooks (seed 001 "Runtime lifecycle hooks"; seed 003 agent/hooks/; issue 12 §4): the
// executables under an agent's hooks/ directory, called by name with one JSON payload on stdin and
// answering with at most one JSON value on stdout.
//
// Hook names: `request` (before a turn starts; may reject it or add context), `policy` (before a
// tool, subagent, connection call or sandbox command; may decide), `approval` (when an Approval
// Request is created; may decide it), `trace` (every TraceEvent; observes), `error` (an error
// event; observes), `finish` (after a turn or run ends; observes).
#pragma once

#include "runtime/events.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace hearth::sandbox {
class Workspace;
}

namespace hearth::runtime {

struct AgentDef;
struct HookDef;

/// Calls hook `name` of `agent` with `payload`. Returns the hook's JSON answer; null when the
/// agent has no hook of that name, when the hook printed nothing, or when it failed (a failing
/// or timed-out hook is reported as an error event by the caller's implementation, never thrown).
/// An empty HookCaller means "no hooks" (unit tests, and any runtime built without them).
using HookCaller =
    std::function<nlohmann::json(const AgentDef& agent, std::string_view name, const nlohmann::json& payload)>;

} // namespace hearth::runtime

namespace hearth::runtime {

/// The lifecycle events a hook can receive, in docs/runtime.md order.
inline constexpr const char* k_hook_events[] = {"request", "policy", "approval",
                                                "trace",   "error",  "finish"};
/// Wall time a hook may take before it is killed (and reported as an error event).
inline constexpr std::chrono::milliseconds k_hook_timeout{10'000};
/// Bytes of stdout read from a hook; a longer answer is a failure (not parsed).
inline constexpr std::size_t k_hook_output_bytes = 1024 * 1024;

/// The lifecycle event a hook file name maps to, or "" when none: the event names themselves,
/// with an optional `on-` prefix (`on-request`, `on-finish`, ...), and Eve's names where they
/// differ: `on-turn` / `turn` -> request, `on-error` -> error, `on-finish` / `on-end` / `end`
/// -> finish, `on-approval` -> approval, `on-trace` / `on-event` -> trace. Case-insensitive.
std::string hook_event(std::string_view hook_name);

/// The hook of `agent` that receives `event`, or nullptr (the first in discovery order).
const HookDef* find_hook(const AgentDef& agent, std::string_view event);

/// Where a hook call comes from: its variables (HEARTH_RUN_ID, HEARTH_SESSION_ID, TRACEPARENT)
/// and the workspace mounted read-write (the turn's), if any.
struct HookEnvironment {
  std::filesystem::path workspace{};
  /// The workspace itself, when known (a turn's, a run's): the hook sees it through
  /// sandbox::use_workspace, so only the granted subtrees when it is confined to an invoker's
  /// grant, as the turn's tools do, and a lazy one is made and seeded first. Must outlive the call.
  const sandbox::Workspace* confined = nullptr;
  std::string session_id{};
  std::string run_id{};
  std::string traceparent{};
};

/// Receives a failed hook call: the hook's name and what went wrong (one sentence).
using HookErrorSink = std::function<void(const std::string& hook, const std::string& problem)>;

/// Runs hook executables inside the agent's sandbox (as authored tools run: the agent's sandbox
/// settings, the hook's directory read-only, the workspace when given). Thread-safe.
class HookRunner {
public:
  HookRunner(std::filesystem::path project_root, bool fail_closed,
             std::chrono::milliseconds timeout = k_hook_timeout);

  /// Calls the hook of `agent` for `event` with `payload` on stdin (one JSON object) and returns
  /// its stdout parsed as JSON: null when there is no such hook or it printed nothing. A hook
  /// that cannot start, exits non-zero, times out, breaches a limit, prints more than
  /// k_hook_output_bytes or prints something that is not JSON is reported to `on_error` and
  /// gives null. Never throws.
  nlohmann::json run(const AgentDef& agent, std::string_view event, const nlohmann::json& payload,
                     const HookEnvironment& environment, const HookErrorSink& on_error) const noexcept;

private:
  std::filesystem::path m_project_root;
  bool m_fail_closed = false;
  std::chrono::milliseconds m_timeout;
};

/// A HookCaller over `runner` whose failures become `error` events {error: {type: hook_failed,
/// message, details}, source: "hook", hook} on `events` with `envelope`. `events` must outlive it.
/// Before a hook runs, the events queued on `events` are committed (the hook sees a committed
/// stream); a point the agent has no hook for returns null and commits nothing.
HookCaller bind_hook_caller(std::shared_ptr<const HookRunner> runner, EventLog& events,
                            Envelope envelope, HookEnvironment environment);

} // namespace hearth::runtime

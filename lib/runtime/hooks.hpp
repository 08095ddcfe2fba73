// Lifecycle hooks (seed 001 "Runtime lifecycle hooks"; seed 003 agent/hooks/; issue 12 §4): the
// executables under an agent's hooks/ directory, called by name with one JSON payload on stdin and
// answering with at most one JSON value on stdout.
//
// Hook names: `request` (before a turn starts; may reject it or add context), `policy` (before a
// tool, subagent, connection call or sandbox command; may decide), `approval` (when an Approval
// Request is created; may decide it), `trace` (every TraceEvent; observes), `error` (an error
// event; observes), `finish` (after a turn or run ends; observes).
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string_view>

namespace hearth::runtime {

struct AgentDef;

/// Calls hook `name` of `agent` with `payload`. Returns the hook's JSON answer; null when the
/// agent has no hook of that name, when the hook printed nothing, or when it failed (a failing
/// or timed-out hook is reported as an error event by the caller's implementation, never thrown).
/// An empty HookCaller means "no hooks" (unit tests, and any runtime built without them).
using HookCaller =
    std::function<nlohmann::json(const AgentDef& agent, std::string_view name, const nlohmann::json& payload)>;

} // namespace hearth::runtime

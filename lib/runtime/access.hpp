// Access rules over the invoker (docs/auth.md "Access"; seed 002 "Use invokers for access"):
// who may invoke an agent or a workflow, and which workspace paths an invocation is granted.
// Evaluated below the edge for HTTP and CLI alike: denials are 403 over HTTP, exit 1 on the CLI.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace hearth::runtime {

/// The rule of `access` that `invoker` fails, e.g. "access.kinds", "access.ids",
/// "access.meta.team"; nullopt when allowed (or when `access` is null). Rules:
/// {"kinds": [..], "ids": [..] (a trailing * matches a prefix), "meta": {key: value | [values]}};
/// every rule present must hold. A null invoker fails the first rule present (fail closed).
std::optional<std::string> access_denied_by(const nlohmann::json& access,
                                            const nlohmann::json& invoker);

/// Throws errors::access_denied naming `target` and the rule when access_denied_by says so.
void check_access(const nlohmann::json& access, const nlohmann::json& invoker,
                  const std::string& target);

/// The workspace grant of an invocation (`access.workspace`): `all`, or paths relative to the
/// workspace with `{{invoker.id}}` / `{{invoker.meta.<key>}}` filled in. The sandbox mounts them;
/// file tools are confined to them. Paths that would escape (`..`, absolute) are dropped.
struct WorkspaceGrant {
  bool all = true;
  std::vector<std::string> paths{};
  nlohmann::json to_json() const;
};

/// The grant `access` gives `invoker` (all when `access.workspace` is absent).
WorkspaceGrant workspace_grant(const nlohmann::json& access, const nlohmann::json& invoker);

/// The invoker of one agent invocation after profile selection (seed 002): `requested` is the
/// authenticated invoker, `context` the request's context object; `may_select` whether the caller
/// may select profiles. Returns the invoker to use; throws errors::access_denied
/// ("invoker.profiles") when a profile is asked for but not allowed or unknown.
nlohmann::json select_profile(const nlohmann::json& invoker_config, const nlohmann::json& requested,
                              const nlohmann::json& context, bool may_select,
                              const std::string& target);

/// Limits on what `invoker.resolve` may answer (docs/auth.md "Profiles and resolve").
inline constexpr std::size_t k_max_resolver_output = 64 * 1024; // bytes of stdout
inline constexpr std::size_t k_max_context_values = 64;          // keys of its `context`

/// An invocation's identity after profiles and resolve (seed 002): the invoker and the Agent
/// Invocation Context Values the resolver set (an object, empty when none). The values reach the
/// turn's tools (`HEARTH_CONTEXT`), workflow scripts (`ctx.context`) and the run/session record.
struct Invocation {
  nlohmann::json invoker{};
  nlohmann::json context = nlohmann::json::object();
};

/// select_profile, then agent.json `invoker.resolve` when set: an executable ({"command": [...],
/// "timeoutMs"? (default 5000, at most 60000)}, run in `agent_dir` as route-auth `exec` entries
/// are: trusted server code, outside the sandbox) that reads {context, defaultInvoker,
/// selectedProfile} as JSON on stdin and prints {"invoker": {id, kind?, label?, meta?},
/// "context"?: {key: value, ...}}. Its invoker replaces the one selected. Fails closed: a resolver
/// that does not start, exits non-zero, times out, prints more than k_max_resolver_output bytes,
/// or answers anything but that shape denies with errors::access_denied ("invoker.resolve: …"),
/// which is 403 over HTTP and exit 1 on the CLI. `target` names the agent in messages.
Invocation resolve_invocation(const nlohmann::json& invoker_config,
                              const std::filesystem::path& agent_dir,
                              const nlohmann::json& authenticated, const nlohmann::json& context,
                              bool may_select, const std::string& target);

/// The grant both `a` and `b` allow: `all` with anything is the other; two path lists keep each
/// path of one that lies inside (or is) a path of the other.
WorkspaceGrant intersect(const WorkspaceGrant& a, const WorkspaceGrant& b);

} // namespace hearth::runtime

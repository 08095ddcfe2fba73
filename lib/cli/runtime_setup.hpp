// Building a runtime for a resolved project: the compiled manifest, the store (with crash recovery)
// and the model/provider context. Used by the runtime child and the HTTP server.
#pragma once

#include "config/config.hpp"
#include "runtime/link.hpp"
#include "runtime/runtime.hpp"
#include "store/store.hpp"

#include <memory>

namespace hearth::cli {

/// Owns a store and the runtime over it.
class RuntimeHost {
public:
  /// Loads `<root>/.hearth/compile/compiled-agent-manifest.json` (which `compile` wrote), opens the
  /// project's store and ends runs a dead runtime left active — unless `serving` (`hearth start`,
  /// the dev server child): then the runtime is durable (Runtime::set_durable; not on a
  /// `memory:` store, from which nothing can resume) and the server
  /// takes those runs over instead (Server::resume_abandoned_runs). Checks the sandboxes (stderr
  /// warnings for `none`); with `production` (hearth start) a bubblewrap agent without bwrap on the
  /// host is sandbox_unavailable and never falls back. Throws hearth::Error.
  explicit RuntimeHost(const config::Project& project, bool production = false,
                       bool serving = false);

  runtime::Runtime& runtime() { return *m_runtime; }
  store::Store& store() { return *m_store; }
  /// The compiled manifest's bytes as loaded (the warm runtime's identity hashes them).
  const std::string& manifest_text() const { return m_manifest_text; }

private:
  std::string m_manifest_text{};
  std::unique_ptr<store::Store> m_store;
  std::unique_ptr<runtime::Runtime> m_runtime;
};

/// (agent or "(workflow scripts)", effective backend) for every agent of a compiled manifest;
/// `production` keeps bubblewrap when bwrap is missing (dev falls back to "none").
std::vector<std::pair<std::string, std::string>> sandbox_backends(const nlohmann::json& compiled,
                                                                 bool production);

/// The arguments after `runtime` that make the child resolve the same project as `flags` did
/// here (absolute --root, --config and --env).
std::vector<std::string> runtime_args(const config::Project& project, const config::ProjectFlags& flags);

/// The warm runtime identity (runtime/warm.hpp make_identity) of a runtime for `project` that
/// loaded `manifest_text`, in this process's environment now (after env files were applied).
nlohmann::json warm_identity(const config::Project& project, const std::string& manifest_text);

/// The runtime for `hearth run` / `hearth connect` of `project` (compiled already): the warm
/// runtime of a running `hearth dev` of the project when its identity matches what a child
/// would be, else a new runtime child (not yet ready: call wait_ready()). HEARTH_NO_WARM=1 skips
/// the warm runtime; HEARTH_DEBUG_WARM=1 says on stderr which was used and why (docs/ipc.md
/// "Warm runtime"). Throws what runtime::Child throws.
std::unique_ptr<runtime::Link> open_runtime(const config::Project& project,
                                            const config::ProjectFlags& flags);

/// The invoker of CLI invocations (`hearth run`, `hearth connect`; seed 002):
/// {"id": "local:<user>", "kind": "local", "label": "<user>"}.
nlohmann::json local_invoker();

/// The request context that selects invoker profile `profile_id` (seed 002's
/// `invoker.profileId`), for `--profile` of `hearth run` and `hearth connect`. The local user may
/// select profiles, as `localDev` callers may (docs/auth.md "Profiles and resolve").
nlohmann::json profile_context(const std::string& profile_id);

/// The runtime context of `project`: default model and providers from hearth.json (commands get
/// only the sandbox's env allow-list, so no key list is needed).
runtime::RuntimeContext runtime_context(const config::Project& project);

/// `j[key]` when `j` is an object holding `key`, else `fallback`: `json::value` without the
/// deep copy (the root agent of a large project holds hundreds of tools and their schemas).
/// The reference lives as long as `j` or `fallback`.
const nlohmann::json& member_or(const nlohmann::json& j, const char* key,
                                const nlohmann::json& fallback);
/// Shared empty values to pass as member_or's fallback.
const nlohmann::json& empty_array();
const nlohmann::json& empty_object();

} // namespace hearth::cli

// Runtime construction; see runtime_setup.hpp.
#include "cli/runtime_setup.hpp"

#include "core/errors.hpp"
#include "core/fs.hpp"
#include "manifest/manifest.hpp"
#include "runtime/program.hpp"
#include "runtime/child.hpp"
#include "runtime/program_runner.hpp"
#include "runtime/warm.hpp"
#include "runtime/telemetry.hpp"
#include "sandbox/sandbox.hpp"

#include <algorithm>
#include <iostream>

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace hearth::cli {

nlohmann::json local_invoker() {
  std::string user;
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_name != nullptr)
    user = pw->pw_name;
  if (user.empty())
    if (const char* env = std::getenv("USER")) user = env;
  if (user.empty()) user = "uid" + std::to_string(::getuid());
  return {{"id", "local:" + user}, {"kind", "local"}, {"label", user}};
}

nlohmann::json profile_context(const std::string& profile_id) {
  return {{"invoker.profileId", profile_id}};
}

runtime::RuntimeContext runtime_context(const config::Project& project) {
  runtime::RuntimeContext context{.project_root = project.root,
                                  .workspaces_dir = project.workspaces_dir(),
                                  .default_model = project.model,
                                  .env = providers::process_env()};
  context.workspaces = {.retain_runs = project.workspaces.retain_runs,
                        .max_age_days = project.workspaces.max_age_days};
  for (const auto& [id, p] : project.providers)
    context.providers[id] = {.id = id, .api = p.api, .base_url = p.base_url,
                             .api_key_env = p.api_key_env, .headers = p.headers};
  return context;
}

std::vector<std::string> runtime_args(const config::Project& project,
                                      const config::ProjectFlags& flags) {
  std::vector<std::string> args{"--root", project.root.string()};
  if (project.config_file) args.insert(args.end(), {"--config", project.config_file->string()});
  for (const auto& file : project.env_files)
    if (!flags.env.empty()) args.insert(args.end(), {"--env", file.string()});
  return args;
}

nlohmann::json warm_identity(const config::Project& project, const std::string& manifest_text) {
  runtime::IdentityInputs inputs{.root = project.root.string(),
                                 .manifest_text = manifest_text,
                                 .store_location = project.store.location()};
  if (project.config_file) {
    inputs.config_path = project.config_file->string();
    try {
      inputs.config_text = fs::read_file(*project.config_file);
    } catch (const std::exception&) { // unreadable now: a digest of nothing, which then differs
    }
  }
  return runtime::make_identity(inputs);
}

std::unique_ptr<runtime::Link> open_runtime(const config::Project& project,
                                            const config::ProjectFlags& flags) {
  const auto flag = [](const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr && std::string_view(value) == "1";
  };
  const bool debug = flag("HEARTH_DEBUG_WARM");
  std::string why;
  if (flag("HEARTH_NO_WARM")) {
    why = "HEARTH_NO_WARM=1";
  } else if (project.store.location().rfind("memory:", 0) == 0) {
    why = "the store is in memory (a dev server's is not this process's)";
  } else {
    std::string manifest_text;
    try {
      manifest_text = fs::read_file(manifest::artifacts_for(project.root).compiled_manifest);
    } catch (const std::exception& e) {
      why = std::string("no compiled manifest to compare (") + e.what() + ")";
    }
    if (why.empty()) {
      auto warm = runtime::WarmClient::connect(project.root,
                                               warm_identity(project, manifest_text), why);
      if (warm) {
        if (debug)
          std::cerr << "hearth: warm runtime: using the dev server's (pid "
                    << warm->hello().value("pid", 0) << ")" << std::endl;
        return warm;
      }
    }
  }
  if (debug) std::cerr << "hearth: warm runtime: not used: " << why << std::endl;
  return std::make_unique<runtime::Child>(runtime_args(project, flags));
}

const nlohmann::json& member_or(const nlohmann::json& j, const char* key,
                                const nlohmann::json& fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  return it == j.end() ? fallback : *it;
}

const nlohmann::json& empty_array() {
  static const nlohmann::json empty = nlohmann::json::array();
  return empty;
}

const nlohmann::json& empty_object() {
  static const nlohmann::json empty = nlohmann::json::object();
  return empty;
}

std::vector<std::pair<std::string, std::string>> sandbox_backends(const nlohmann::json& compiled,
                                                                 bool production) {
  std::vector<std::pair<std::string, std::string>> out;
  std::function<void(const nlohmann::json&)> visit = [&](const nlohmann::json& agent) {
    const auto settings = sandbox::merge(
        {}, member_or(member_or(agent, "sandbox", empty_object()), "policy", empty_object()));
    out.emplace_back(agent.value("name", ""), sandbox::effective_backend(settings, !production));
    for (const auto& sub : member_or(agent, "subagents", empty_array())) visit(sub);
  };
  for (const auto& agent : member_or(compiled, "agents", empty_array())) visit(agent);
  if (!member_or(compiled, "workflows", empty_array()).empty())
    out.emplace_back("(workflow scripts)",
                     sandbox::effective_backend(
                         sandbox::merge({}, member_or(compiled, "sandbox", empty_object())),
                         !production));
  return out;
}

/// The names of the agents (and subagents) of `compiled` whose `access` sets a workspace grant.
std::vector<std::string> agents_with_grants(const nlohmann::json& compiled) {
  std::vector<std::string> out;
  std::function<void(const nlohmann::json&)> visit = [&](const nlohmann::json& agent) {
    const auto& access = member_or(agent, "access", empty_object());
    if (access.is_object() && access.contains("workspace")) out.push_back(agent.value("name", ""));
    for (const auto& sub : member_or(agent, "subagents", empty_array())) visit(sub);
  };
  for (const auto& agent : member_or(compiled, "agents", empty_array())) visit(agent);
  return out;
}

void check_sandboxes(const nlohmann::json& compiled, bool production) {
  const auto granted = agents_with_grants(compiled);
  for (const auto& [name, backend] : sandbox_backends(compiled, production))
    if (backend == "none" && std::find(granted.begin(), granted.end(), name) != granted.end())
      std::cerr << "hearth: warning: agent " << name
                << " has workspace grants (access.workspace) but sandbox backend \"none\", which "
                   "cannot confine a process: its commands are refused for invokers whose grant "
                   "is not `all` (docs/sandbox.md \"Workspace grants\")."
                << std::endl;
  bool warned_fallback = false;
  for (const auto& [name, backend] : sandbox_backends(compiled, production)) {
    if (backend == "bubblewrap" && !sandbox::find_bwrap()) // production only (dev fell back)
      throw errors::sandbox_unavailable(
          "bubblewrap", "bwrap is not installed (Debian package `" +
                            std::string(sandbox::k_bwrap_package) + "`), needed by " + name);
    if (backend != "none") continue;
    if (!sandbox::find_bwrap() && !warned_fallback) {
      std::cerr << "hearth: warning: bwrap is not installed (Debian package `"
                << sandbox::k_bwrap_package
                << "`): commands of agents run WITHOUT a sandbox in this dev runtime; `hearth "
                   "start` refuses to run this way."
                << std::endl;
      warned_fallback = true;
    } else if (sandbox::find_bwrap()) {
      std::cerr << "hearth: warning: sandbox backend \"none\" for " << name
                << ": its commands run unisolated, as hearth's own user with hearth's files."
                << std::endl;
    }
  }
}

RuntimeHost::RuntimeHost(const config::Project& project, bool production, bool serving) {
  const auto artifacts = manifest::artifacts_for(project.root);
  const auto compiled = manifest::load(artifacts.compiled_manifest, &m_manifest_text);
  if (compiled.value("status", "") != "ready")
    throw errors::build_failed(
        compiled.value("diagnosticsSummary", nlohmann::json::object()).value("errors", 0),
        compiled.value("diagnosticsSummary", nlohmann::json::object()).value("warnings", 0),
        fs::display_path(artifacts.diagnostics, project.root));
  check_sandboxes(compiled, production);
  auto program = runtime::load_program(compiled, project.root);
  m_store = store::open_store(project.store.location(), project.root);
  if (!serving) m_store->recover_abandoned_runs(); // resumable runs are left to a server
  auto context = runtime_context(project);
  context.sandbox_fail_closed = production;
  // Hooks and trace sinks (issue 12 §4-5): hooks run sandboxed like tools; `telemetry.otlp`
  // exports spans from a background thread, flushed when the runtime ends.
  std::optional<runtime::OtlpSettings> otlp;
  if (!project.telemetry.otlp_endpoint.empty())
    otlp = runtime::OtlpSettings{.endpoint = project.telemetry.otlp_endpoint,
                                 .headers = project.telemetry.otlp_headers};
  context.telemetry = std::make_shared<runtime::Telemetry>(project.root, production, std::move(otlp));
  m_runtime = std::make_unique<runtime::Runtime>(std::move(program), std::move(context), *m_store);
  runtime::install_program_runner(*m_runtime);
  // Nothing resumes from a `memory:` store: it is gone with the process. Its runs write no
  // checkpoints, and a graceful stop lets them finish (or cancels them) instead of leaving them
  // suspended for a next start that cannot see them (docs/runtime.md "Durable runs").
  m_runtime->set_durable(serving && project.store.kind != config::StoreConfig::Kind::memory);
}

} // namespace hearth::cli

// `hearth sandbox exec <agent> [--] <command...>`: runs a command inside the same sandbox a session
// of that agent gets (backend, limits, network, env allow-list, read-only paths, a workspace seeded
// like a session's at .hearth/workspaces/sandbox-exec-<agent>/), with stdio inherited, so a tool
// that needs more can be debugged by hand (docs/sandbox.md "Debugging").
#include "cli/commands/commands.hpp"
#include "cli/compile_report.hpp"
#include "core/errors.hpp"
#include "runtime/agent_tools.hpp"
#include "sandbox/sandbox.hpp"
#include "sandbox/workspace.hpp"

#include <functional>
#include <iostream>

namespace hearth::cli {
namespace {
namespace stdfs = std::filesystem;

struct SandboxExecOptions {
  std::string agent{};
  std::vector<std::string> command{};
  config::ProjectFlags project{};
};

/// The compiled agent named `name` (subagents included), or null.
const nlohmann::json* find_agent(const nlohmann::json& agents, const std::string& name) {
  for (const auto& a : agents) {
    if (a.value("name", "") == name) return &a;
    if (!a.contains("subagents") || !a["subagents"].is_array()) continue;
    if (const auto* sub = find_agent(a["subagents"], name)) return sub;
  }
  return nullptr;
}

int run_sandbox_exec(const SandboxExecOptions& opts) {
  const auto project = resolve_project(opts.project);
  const auto result = compile_reporting(project, /*quiet=*/true);
  if (!result) return exit_code(ExitCode::failure);
  const auto agents = result->manifest.value("agents", nlohmann::json::array());
  const auto* agent = find_agent(agents, opts.agent);
  if (agent == nullptr)
    throw errors::usage("No agent named \"" + opts.agent + "\".",
                        "Run `hearth info` to list the agents.");
  const auto& sandbox_json = (*agent)["sandbox"];
  auto policy = runtime::agent_policy(
      sandbox::merge({}, sandbox_json.value("policy", nlohmann::json::object())), project.root,
      /*fail_closed=*/false);
  if (policy.settings.backend == "none")
    std::cerr << "hearth: warning: sandbox backend \"none\": the command runs unisolated."
              << std::endl;
  std::vector<sandbox::Seed> seeds;
  if (sandbox_json.value("workspace", nlohmann::json()).is_string())
    seeds.push_back({.source = project.root / sandbox_json["workspace"].get<std::string>(),
                     .destination = "."});
  const auto workspace = sandbox::Workspace::prepare(
      project.workspaces_dir() / ("sandbox-exec-" + opts.agent), seeds);
  policy.workspace = workspace.root();
  // The agent's tool directories, read-only as each tool would have its own.
  for (const auto& tool : agent->value("tools", nlohmann::json::array()))
    if (tool.value("kind", "") == "authored" && tool.value("cwd", "") != "")
      policy.reads.push_back(project.root / tool["cwd"].get<std::string>());
  auto command = opts.command;
  if (command.empty()) command = {"bash"};
  return sandbox::exec({.argv = command,
                 .cwd = workspace.root(),
                 .hearth_env = {"HEARTH_AGENT=" + opts.agent,
                                "HEARTH_WORKSPACE=" + workspace.root().string()}},
                       policy);
}

} // namespace

void register_sandbox(CLI::App& app, Dispatch& dispatch) {
  auto* cmd = app.add_subcommand("sandbox", "Inspect the sandbox agents' commands run in");
  cmd->require_subcommand(1);
  auto opts = std::make_shared<SandboxExecOptions>();
  auto* exec = cmd->add_subcommand(
      "exec", "Run a command (default: bash) inside the sandbox a session of AGENT gets");
  set_completion(exec->add_option("agent", opts->agent, "Agent name")->required(), "agents");
  exec->add_option("command", opts->command, "The command and its arguments (after --)");
  exec->prefix_command(false);
  add_project_flags(*exec, opts->project);
  exec->callback([&dispatch, opts] { dispatch.run = [opts] { return run_sandbox_exec(*opts); }; });
}

} // namespace hearth::cli

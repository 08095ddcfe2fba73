// `hearth mcp [--root DIR]`: serves the project as an MCP server over stdio (issue 13 §6;
// docs/mcp.md "hearth as an MCP server"): compiles it silently, hosts its runtime in this process
// (as `hearth start` does) and speaks newline-delimited JSON-RPC on stdin/stdout; logs and
// diagnostics go to stderr only. Exits 0 at EOF on stdin, 128+signo on SIGINT/SIGTERM.
#include "cli/commands/commands.hpp"
#include "cli/compile_report.hpp"
#include "cli/runtime_setup.hpp"
#include "mcp/server_stdio.hpp"

namespace hearth::cli {
namespace {

int run_mcp(const config::ProjectFlags& flags) {
  const auto project = resolve_project(flags);
  if (!compile_reporting(project, /*quiet=*/true))
    return exit_code(ExitCode::failure);
  RuntimeHost host(project);
  // The client that started us is the local user (as for `hearth run`): it may select profiles.
  return mcp::serve_stdio(host.runtime(), {.invoker = local_invoker(), .select_profiles = true});
}

} // namespace

void register_mcp(CLI::App& app, Dispatch& dispatch) {
  auto flags = std::make_shared<config::ProjectFlags>();
  auto* cmd = app.add_subcommand("mcp", "Serve the project as an MCP server over stdio");
  add_project_flags(*cmd, *flags);
  cmd->callback([&dispatch, flags] { dispatch.run = [flags] { return run_mcp(*flags); }; });
}

} // namespace hearth::cli

// `hearth runtime` (hidden): the child process the CLI spawns for run and connect. It loads the
// compiled manifest, opens the store, recovers runs a crashed runtime left active, and serves
// JSON-RPC on stdin/stdout (docs/ipc.md). Only entered with HEARTH_INTERNAL_IPC=1.
#include "cli/commands/commands.hpp"
#include "cli/runtime_setup.hpp"
#include "cli/terminal.hpp"
#include "core/errors.hpp"
#include "runtime/stdio_server.hpp"

#include <cstdlib>
#include <iostream>
#include <unistd.h>

namespace hearth::cli {
namespace {

/// Tells the parent why start-up failed (it waits for `ready`), then exits 1.
int startup_failed(const Error& e) {
  terminal::print_error(e.info());
  const nlohmann::json note = {{"jsonrpc", "2.0"},
                               {"method", "error"},
                               {"params", {{"type", e.info().type}, {"message", e.info().message}}}};
  const std::string line = note.dump() + "\n";
  [[maybe_unused]] const auto written = ::write(STDOUT_FILENO, line.data(), line.size());
  return exit_code(ExitCode::failure);
}

int run_runtime(const config::ProjectFlags& flags) {
  const char* gate = std::getenv("HEARTH_INTERNAL_IPC");
  if (gate == nullptr || std::string_view(gate) != "1")
    throw errors::usage("`hearth runtime` is internal: the CLI starts it for run and connect.",
                        "Use `hearth run <workflow>` or `hearth connect <agent> <id>`.");
  std::unique_ptr<RuntimeHost> host;
  try {
    host = std::make_unique<RuntimeHost>(resolve_project(flags));
  } catch (const Error& e) {
    return startup_failed(e);
  }
  return runtime::serve_stdio(host->runtime());
}

} // namespace

void register_runtime(CLI::App& app, Dispatch& dispatch) {
  auto flags = std::make_shared<config::ProjectFlags>();
  auto* cmd = app.add_subcommand("runtime", "Internal: the runtime child process");
  cmd->group(""); // hidden
  add_project_flags(*cmd, *flags);
  cmd->callback([&dispatch, flags] { dispatch.run = [flags] { return run_runtime(*flags); }; });
}

} // namespace hearth::cli

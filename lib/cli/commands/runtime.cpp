// `hearth runtime` (hidden): the child process the CLI spawns for run and connect. It loads the
// compiled manifest, opens the store, recovers runs a crashed runtime left active, and serves
// JSON-RPC on stdin/stdout (docs/ipc.md). With --listen it also serves HTTP (the serving mode
// `hearth dev` supervises, docs/ipc.md §5). Only entered with HEARTH_INTERNAL_IPC=1.
#include "cli/commands/commands.hpp"
#include "cli/runtime_setup.hpp"
#include "cli/terminal.hpp"
#include "core/errors.hpp"
#include "runtime/stdio_server.hpp"
#include "server/auth/setup.hpp"
#include "server/child.hpp"

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

struct ServingFlags {
  std::string listen{}; // HOST:PORT; empty: stdio mode
  bool reuse_port = false;
  bool dev = false;
};

int run_runtime(const config::ProjectFlags& flags, const ServingFlags& serving) {
  const char* gate = std::getenv("HEARTH_INTERNAL_IPC");
  if (gate == nullptr || std::string_view(gate) != "1")
    throw errors::usage("`hearth runtime` is internal: the CLI starts it for run and connect.",
                        "Use `hearth run <workflow>` or `hearth connect <agent> <id>`.");
  std::unique_ptr<RuntimeHost> host;
  config::Project project;
  try {
    project = resolve_project(flags);
    host = std::make_unique<RuntimeHost>(project, false, /*serving=*/!serving.listen.empty());
  } catch (const Error& e) {
    return startup_failed(e);
  }
  if (serving.listen.empty()) return runtime::serve_stdio(host->runtime());
  server::ServerOptions options{.reuse_port = serving.reuse_port, .dev = serving.dev};
  server::apply_limits(project.server, options);
  try {
    server::parse_listen(serving.listen, options);
    options.auth = std::make_shared<const server::auth::Config>(server::auth::load_config(
        project, {.dev = serving.dev, .bound_host = options.host}));
    // `hearth dev`'s child also serves the warm runtime (docs/ipc.md "Warm runtime").
    std::unique_ptr<runtime::WarmServer> warm;
    if (serving.dev)
      warm = std::make_unique<runtime::WarmServer>(
          runtime::warm_dir(project.root), host->runtime(),
          warm_identity(project, host->manifest_text()));
    return server::serve_child(host->runtime(), options, warm.get());
  } catch (const Error& e) { // bind failures come before `ready`
    return startup_failed(e);
  }
}

} // namespace

void register_runtime(CLI::App& app, Dispatch& dispatch) {
  auto flags = std::make_shared<config::ProjectFlags>();
  auto serving = std::make_shared<ServingFlags>();
  auto* cmd = app.add_subcommand("runtime", "Internal: the runtime child process");
  cmd->group(""); // hidden
  add_project_flags(*cmd, *flags);
  cmd->add_option("--listen", serving->listen, "Serve HTTP on HOST:PORT (serving mode)");
  cmd->add_flag("--reuse-port", serving->reuse_port, "Set SO_REUSEPORT on the listening socket");
  cmd->add_flag("--dev", serving->dev, "Development mode (dev fields in error envelopes)");
  cmd->callback([&dispatch, flags, serving] {
    dispatch.run = [flags, serving] { return run_runtime(*flags, *serving); };
  });
}

} // namespace hearth::cli

// `hearth start [DIR]`: serves a `hearth build` output (DIR, default dist/) over HTTP in this
// process, with no watcher: production mode (no `dev` in error envelopes). SIGINT exits 130,
// SIGTERM 143, after draining in-flight requests (bounded).
#include "cli/commands/commands.hpp"
#include "cli/runtime_setup.hpp"
#include "core/errors.hpp"
#include "core/process.hpp"
#include "core/signals.hpp"
#include "server/auth/setup.hpp"
#include "server/child.hpp"
#include "server/server.hpp"

#include <poll.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace hearth::cli {
namespace {

constexpr int k_default_start_port = 3000;
// How often a replica on PostgreSQL looks for runs whose owner's lease expired.
constexpr auto k_take_over_sweep = std::chrono::seconds(1);
constexpr const char* k_build_marker = ".hearth-build.json";

struct StartOptions {
  std::string dir = "dist";
  std::optional<std::string> host{};
  std::optional<int> port{};
  bool insecure_no_auth = false;
};

/// --port, else $PORT when it is a port number, else 3000.
int start_port(const StartOptions& opts) {
  if (opts.port) return *opts.port;
  if (const char* env = std::getenv("PORT")) {
    const std::string text = env;
    if (!text.empty() && text.size() <= 5 && text.find_first_not_of("0123456789") == std::string::npos &&
        std::stoi(text) <= 65535)
      return std::stoi(text);
  }
  return k_default_start_port;
}

int run_start(const StartOptions& opts) {
  const auto dir = std::filesystem::absolute(opts.dir).lexically_normal();
  if (!std::filesystem::exists(dir / k_build_marker) ||
      !std::filesystem::exists(dir / ".hearth" / "compile" / "compiled-agent-manifest.json"))
    throw errors::start_no_build(dir.string());
  // The store and workspaces live outside the build output, which `hearth build` replaces:
  // $HEARTH_STATE_DIR, else ./.hearth where start runs (docs/deploy.md). Set in the environment
  // so the runtime child and the tools it starts see the same directory.
  if (const char* env = std::getenv("HEARTH_STATE_DIR"); !env || !*env)
    ::setenv("HEARTH_STATE_DIR", (std::filesystem::current_path() / ".hearth").c_str(), 1);
  config::ProjectFlags flags;
  flags.root = dir.string();
  const auto project = resolve_project(flags);
  RuntimeHost host(project, /*production=*/true, /*serving=*/true);
  server::ServerOptions options;
  server::apply_limits(project.server, options);
  // Loopback unless asked: --host, else hearth.json `host` (the Dockerfile passes 0.0.0.0).
  options.host = opts.host.value_or(project.host_configured ? project.host : "127.0.0.1");
  options.port = start_port(opts);
  options.schedules = true; // production fires schedules on their cron cadence (docs/triggers.md)
  options.auth = std::make_shared<const server::auth::Config>(server::auth::load_config(
      project, {.insecure_no_auth = opts.insecure_no_auth, .bound_host = options.host}));
  if (opts.insecure_no_auth)
    std::cerr << "hearth: warning: --insecure-no-auth: every route is open to anyone who can "
                 "reach this port"
              << std::endl;
  else if (!server::auth::auth_configured(project))
    std::cerr << "hearth: no auth configured, so every route but GET /eve/v1/health answers 401; "
                 "add \"auth\" to hearth.json (docs/auth.md) or pass --insecure-no-auth"
              << std::endl;
  signals::SignalPipe signal_pipe;
  server::Server server(host.runtime(), options);
  server.start();
  // Durable runs: runs whose runtime died (kill -9, a crash, a SIGTERM past the drain bound)
  // continue from their last completed step (docs/runtime.md "Durable runs").
  if (const auto resumed = server.resume_abandoned_runs(); resumed > 0)
    std::cerr << "hearth: resuming " << resumed << " run(s) whose runtime stopped" << std::endl;
  const bool wildcard = options.host == "0.0.0.0" || options.host == "::";
  // One write: the scheduler's and dispatcher's threads log too, and tests and supervisors
  // read this line whole.
  std::cerr << ("hearth: listening on " + server.url() + (wildcard ? " (all interfaces)" : "") +
                "\n")
            << std::flush;
  std::cerr << ("hearth: store " +
                (project.store.kind == config::StoreConfig::Kind::memory
                     ? std::string("memory: (nothing survives a restart)")
                     : host.runtime().store().location()) +
                "\n")
            << std::flush;
  // Replicas on PostgreSQL: runs of a replica that died (its lease expired) are taken over
  // while serving, not only at start (docs/deploy.md "PostgreSQL").
  const bool replicated = project.store.kind == config::StoreConfig::Kind::postgres;
  auto next_sweep = std::chrono::steady_clock::now() + k_take_over_sweep;
  for (;;) {
    pollfd fds[1] = {{signal_pipe.fd(), POLLIN, 0}};
    if (replicated && std::chrono::steady_clock::now() >= next_sweep) {
      next_sweep = std::chrono::steady_clock::now() + k_take_over_sweep;
      try {
        if (const auto resumed = server.resume_abandoned_runs(); resumed > 0)
          std::cerr << "hearth: taking over " << resumed << " run(s) of a replica that stopped"
                    << std::endl;
      } catch (const Error& e) { // the database is unreachable: the next sweep tries again
        std::cerr << "hearth: take-over sweep failed: " << e.what() << std::endl;
      }
    }
    if (::poll(fds, 1, replicated ? 250 : 1000) <= 0) continue;
    if (const auto signo = signal_pipe.take()) {
      std::cerr << "hearth: stopping" << std::endl;
      // Durable runs stop at their next step boundary and stay active: the next start on this
      // store resumes them (docs/deploy.md). The drain waits for them within its bound.
      host.runtime().suspend_runs();
      bool drained = server.shutdown(server::k_drain_bound);
      const int code = 128 + *signo;
      // Other runs still executing (programmable ones, requests not drained) end cancelled
      // before their tools are stopped, never `completed` on a killed tool's error result.
      // Resumable ones past the bound stay active and resume from their last checkpoint.
      if (!host.runtime().cancel_active_runs("hearth start received signal " +
                                                 std::to_string(*signo) + ".",
                                             /*keep_resumable=*/true)
               .empty())
        drained = false;
      if (host.runtime().active_run_count() > 0) drained = false;
      if (!drained) {
        process::stop_all_groups(); // tools and scripts of the requests still running
        std::cerr << std::flush;
        std::_Exit(code); // requests still running; their runs ended cancelled above
      }
      return code;
    }
  }
}

} // namespace

void register_start(CLI::App& app, Dispatch& dispatch) {
  auto opts = std::make_shared<StartOptions>();
  auto* cmd = app.add_subcommand("start", "Serve a `hearth build` output over HTTP (no watcher)");
  set_completion(cmd->add_option("dir", opts->dir, "Build output directory (default: dist)"),
                 "dirs");
  cmd->add_option("--host", opts->host, "Address to bind (default: hearth.json host, else 127.0.0.1)");
  cmd->add_flag("--insecure-no-auth", opts->insecure_no_auth,
                "Serve every route without authentication (explicit opt-out; prints a warning)");
  cmd->add_option("--port", opts->port, "Port (default: $PORT, else 3000)")
      ->check(CLI::Range(0, 65535));
  cmd->callback([&dispatch, opts] { dispatch.run = [opts] { return run_start(*opts); }; });
}

} // namespace hearth::cli

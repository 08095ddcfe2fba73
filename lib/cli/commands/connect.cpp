// `hearth connect <agent> <instance-id>`: one prompt per stdin line to a durable agent instance;
// results as JSON on stdout, events on stderr, an error keeps the session open (seed page 15).
#include "cli/commands/commands.hpp"
#include "core/json.hpp"
#include "cli/compile_report.hpp"
#include "cli/event_printer.hpp"
#include "cli/interrupts.hpp"
#include "cli/line_reader.hpp"
#include "cli/runtime_setup.hpp"
#include "cli/terminal.hpp"
#include "core/errors.hpp"
#include "runtime/child.hpp"

#include <atomic>
#include <csignal>
#include <iostream>

namespace hearth::cli {
namespace {

struct ConnectOptions {
  std::string agent{};
  std::string instance_id{};
  std::string session = "default";
  std::string model{};
  config::ProjectFlags project{};
};

int connect(const ConnectOptions& opts) {
  const auto project = resolve_project(opts.project);
  const auto compiled = compile_reporting(project, /*quiet=*/true);
  if (!compiled) return exit_code(ExitCode::failure);
  // An unknown agent can never succeed: refuse it before starting anything (Flue's
  // "Connection error" exits 1 too).
  std::vector<std::string> agents;
  for (const auto& a : compiled->manifest.value("agents", nlohmann::json::array()))
    agents.push_back(a.value("name", ""));
  if (std::find(agents.begin(), agents.end(), opts.agent) == agents.end())
    throw errors::agent_not_found(opts.agent, agents);
  runtime::Child child(runtime_args(project, opts.project));
  LineReader reader("› ");
  // Ctrl-C during a turn cancels that turn (agent.cancel; the prompt comes back). A second Ctrl-C,
  // one at an idle prompt, or SIGTERM stops the runtime and exits 128+signo.
  std::atomic<bool> in_turn{false}, cancelling{false};
  InterruptWatcher interrupts(
      [&child, &reader](int) {
        child.kill();
        reader.interrupt();
      },
      [&](int signo) {
        if (signo != SIGINT || !in_turn || cancelling.exchange(true)) return false;
        child.notify("agent.cancel", {{"agent", opts.agent}, {"instanceId", opts.instance_id}});
        terminal::warn("cancelling the turn (Ctrl-C again to exit)");
        return true;
      });
  try {
    child.wait_ready();
    terminal::info("connected to " + opts.agent + "/" + opts.instance_id +
                   (opts.session == "default" ? "" : " (session " + opts.session + ")") +
                   ". Enter a prompt per line; Ctrl-D to exit.");
    while (const auto line = reader.next()) {
      if (line->find_first_not_of(" \t\r") == std::string::npos) continue;
      EventPrinter printer(std::cerr);
      nlohmann::json params = {{"agent", opts.agent}, {"instanceId", opts.instance_id},
                               {"session", opts.session}, {"message", *line}};
      if (!opts.model.empty()) params["model"] = opts.model;
      params["invoker"] = local_invoker();
      in_turn = true;
      try {
        const auto reply = child.request("agent.prompt", params,
                                         [&](const nlohmann::json& e) { printer.print(e); });
        in_turn = false;
        printer.flush();
        std::cout << hearth::dump_json(reply.value("result", nlohmann::json()), 2) << '\n' << std::flush;
      } catch (const Error& e) {
        in_turn = false;
        printer.flush();
        if (interrupts.signal() || child.exit_status()) throw;
        if (e.info().type == "cancelled") terminal::warn("turn cancelled");
        else terminal::print_error(e.info()); // a failed prompt keeps the session open
      }
      cancelling = false;
    }
    if (const auto code = interrupts.exit_code()) return *code; // Ctrl-C at the prompt
    return exit_code(ExitCode::ok);
  } catch (const Error&) {
    if (const auto code = interrupts.exit_code()) return *code;
    throw;
  }
}

} // namespace

void register_connect(CLI::App& app, Dispatch& dispatch) {
  auto opts = std::make_shared<ConnectOptions>();
  auto* cmd = app.add_subcommand("connect", "Talk to one agent instance, a prompt per line");
  set_completion(cmd->add_option("agent", opts->agent, "Agent name")->required(), "agents");
  cmd->add_option("instance-id", opts->instance_id, "Instance id (e.g. local or a thread id)")
      ->required();
  cmd->add_option("--session", opts->session, "Session name within the instance (default: default)");
  cmd->add_option("--model", opts->model, "Use this provider/model (e.g. mock/echo)");
  add_project_flags(*cmd, opts->project);
  cmd->callback([&dispatch, opts] { dispatch.run = [opts] { return connect(*opts); }; });
}

} // namespace hearth::cli

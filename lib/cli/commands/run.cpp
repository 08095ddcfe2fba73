// `hearth run <workflow>`: compiles the project silently, reaches a runtime (the warm one of a
// running `hearth dev`, else a child of its own; docs/ipc.md "Warm runtime"), invokes one
// workflow and prints its result as JSON on stdout; events stream on stderr (seed page 15).
#include "cli/commands/commands.hpp"
#include "core/json.hpp"
#include "cli/compile_report.hpp"
#include "cli/event_printer.hpp"
#include "cli/interrupts.hpp"
#include "cli/runtime_setup.hpp"
#include "cli/terminal.hpp"
#include "core/errors.hpp"
#include "runtime/link.hpp"

#include <iostream>

namespace hearth::cli {
namespace {

struct RunOptions {
  std::string workflow{};
  std::string payload = "{}";
  std::string model{};
  int timeout_ms = 0; // bounds any workflow; for a script it overrides the sidecar's timeoutMs
  std::string profile{}; // the workflow agent's invoker profile id (seed 002)
  std::vector<std::string> approve{}; // approvals: tools (or "all") whose requests are approved
  std::vector<std::string> deny{};    // approvals: tools (or "all") whose requests are denied
  config::ProjectFlags project{};
};

int run_workflow(const RunOptions& opts) {
  // Invalid payload JSON is rejected before anything else (seed page 15: "validated at parse time").
  const auto payload = hearth::parse_json_or_discarded(opts.payload);
  if (payload.is_discarded())
    throw errors::invalid_flag("--payload", "not valid JSON: " + opts.payload,
                               "Quote the JSON for your shell, e.g. --payload '{\"name\": \"World\"}'.");
  const auto project = resolve_project(opts.project);
  // The verdict only: the runtime loads the manifest itself (manifest::compile).
  if (!compile_reporting(project, /*quiet=*/true, /*load_manifest=*/false))
    return exit_code(ExitCode::failure);
  // The warm runtime of a `hearth dev` of this project when it is the same, else a child.
  const auto link = open_runtime(project, opts.project);
  auto& child = *link;
  // Ctrl-C: a warm link's signal handler shuts its socket down itself; a child needs a thread
  // to stop it.
  std::optional<InterruptWatcher> watcher;
  if (const int socket = child.interrupt_socket(); socket >= 0)
    watcher.emplace(socket);
  else
    watcher.emplace([&child](int) { child.kill(); });
  const auto& interrupts = *watcher;
  try {
    child.wait_ready();
    terminal::info(terminal::style("1", "workflow " + opts.workflow));
    EventPrinter printer(std::cerr);
    nlohmann::json params = {{"workflow", opts.workflow}, {"payload", payload},
                             {"invoker", local_invoker()}};
    if (!opts.model.empty()) params["model"] = opts.model;
    if (opts.timeout_ms > 0) params["timeoutMs"] = opts.timeout_ms;
    if (!opts.profile.empty()) params["context"] = profile_context(opts.profile);
    params["approve"] = opts.approve;
    params["deny"] = opts.deny;
    auto shown = printer.types(); // the runtime streams only these (docs/ipc.md `eventTypes`)
    shown.push_back("run_start");
    params["eventTypes"] = shown;
    const auto reply = child.request("workflow.run", params, [&](const nlohmann::json& event) {
      if (event.value("type", "") == "run_start")
        terminal::info(terminal::style("2", "run " + event.value("runId", "")));
      printer.print(event);
    });
    printer.flush();
    std::cout << hearth::dump_json(reply.value("result", nlohmann::json()), 2) << '\n' << std::flush;
    return exit_code(ExitCode::ok);
  } catch (const Error&) {
    if (const auto code = interrupts.exit_code()) {
      terminal::info("interrupted; the run was cancelled");
      return *code;
    }
    throw;
  }
}

} // namespace

void register_run(CLI::App& app, Dispatch& dispatch) {
  auto opts = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand("run", "Build the project and invoke one workflow");
  set_completion(cmd->add_option("workflow", opts->workflow, "Workflow name")->required(),
                 "workflows");
  cmd->add_option("--payload", opts->payload, "JSON payload (default: {})");
  cmd->add_option("--model", opts->model, "Use this provider/model for every agent (e.g. mock/echo)");
  cmd->add_option("--timeout", opts->timeout_ms,
                  "Stop the workflow after MS milliseconds (default: a script's timeoutMs)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--profile", opts->profile,
                  "Invoke as this invoker profile of the workflow's agent (invoker.profiles[].id)");
  // approvals: without them, the run fails at its first Approval Request (naming it).
  cmd->add_option("--approve", opts->approve, "Approve calls of TOOL that need approval (or all); repeatable")
      ->option_text("TOOL|all")
      ->allow_extra_args(false);
  cmd->add_option("--deny", opts->deny, "Deny calls of TOOL that need approval (or all); repeatable")
      ->option_text("TOOL|all")
      ->allow_extra_args(false);
  add_project_flags(*cmd, opts->project);
  add_target_flag(*cmd);
  cmd->footer("With `hearth dev` of the project running, the run uses its warm runtime when it is "
              "the same as a runtime of its own would be (hearth, hearth.json, compiled manifest, "
              "store, environment), else starts one. HEARTH_NO_WARM=1: always start one; "
              "HEARTH_DEBUG_WARM=1: say which and why (docs/ipc.md \"Warm runtime\").");
  cmd->callback([&dispatch, opts] { dispatch.run = [opts] { return run_workflow(*opts); }; });
}

} // namespace hearth::cli

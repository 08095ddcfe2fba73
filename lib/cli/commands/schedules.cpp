// `hearth schedules run <name>`: compiles the project and runs one fire of a schedule now, to the
// end, as `hearth start` would at its cron time (a fresh agent session, invoker {kind:
// "schedule"}); prints {scheduleId, sessionIds, status, result|error} on stdout. `hearth
// schedules list` prints each schedule's next fire time and its recent fires (docs/triggers.md).
#include "cli/commands/commands.hpp"
#include "cli/compile_report.hpp"
#include "cli/runtime_setup.hpp"
#include "cli/terminal.hpp"
#include "core/cron.hpp"
#include "core/json.hpp"
#include "runtime/runtime.hpp"
#include "triggers/scheduler.hpp"

#include <iostream>

namespace hearth::cli {
namespace {

struct SchedulesOptions {
  std::string name{};
  bool json = false;
  config::ProjectFlags project{};
};

int run_schedule(const SchedulesOptions& opts) {
  const auto project = resolve_project(opts.project);
  if (!compile_reporting(project, /*quiet=*/true)) return exit_code(ExitCode::failure);
  RuntimeHost host(project);
  triggers::Scheduler scheduler(host.runtime(), [](std::function<void()> task) { task(); },
                                triggers::Clock::from_env(),
                                triggers::load_schedules(host.runtime().program().schedules));
  terminal::info(terminal::style("1", "schedule " + opts.name));
  const auto out = scheduler.run_now(opts.name);
  std::cout << hearth::dump_json(out, 2) << '\n' << std::flush;
  return exit_code(out.value("status", "") == "done" ? ExitCode::ok : ExitCode::failure);
}

int list_schedules(const SchedulesOptions& opts) {
  const auto project = resolve_project(opts.project);
  if (!compile_reporting(project, /*quiet=*/true)) return exit_code(ExitCode::failure);
  RuntimeHost host(project);
  const auto clock = triggers::Clock::from_env();
  auto list = nlohmann::json::array();
  for (const auto& s : triggers::load_schedules(host.runtime().program().schedules)) {
    const auto next = cron::next_after(s.spec, clock.now_ms() / 1000);
    auto fires = nlohmann::json::array();
    for (const auto& f : host.store().list_fires(s.name, 20))
      fires.push_back({{"scheduledAt", cron::iso(f.scheduled_ms / 1000)}, {"trigger", f.trigger},
                       {"status", f.status}, {"sessionId", f.session_id}, {"firedAt", f.fired_at},
                       {"endedAt", f.ended_at.empty() ? nlohmann::json() : nlohmann::json(f.ended_at)}});
    list.push_back({{"name", s.name}, {"cron", s.cron}, {"catchUp", s.catch_up},
                    {"overlap", s.overlap},
                    {"nextFireAt", next ? nlohmann::json(cron::iso(*next)) : nlohmann::json()},
                    {"fires", fires}});
  }
  if (opts.json) {
    std::cout << hearth::dump_json(list, 2) << '\n';
    return exit_code(ExitCode::ok);
  }
  for (const auto& s : list) {
    std::cout << s["name"].get<std::string>() << "  " << s["cron"].get<std::string>() << "  next "
              << (s["nextFireAt"].is_string() ? s["nextFireAt"].get<std::string>() : "never") << '\n';
    for (const auto& f : s["fires"])
      std::cout << "  " << f["scheduledAt"].get<std::string>() << "  " << f["trigger"].get<std::string>()
                << "  " << f["status"].get<std::string>() << "  " << f["sessionId"].get<std::string>()
                << '\n';
  }
  return exit_code(ExitCode::ok);
}

} // namespace

void register_schedules(CLI::App& app, Dispatch& dispatch) {
  auto* cmd = app.add_subcommand("schedules", "Run a schedule now, or list schedules and their fires");
  cmd->require_subcommand(1);
  auto run_opts = std::make_shared<SchedulesOptions>();
  auto* run = cmd->add_subcommand("run", "Fire one schedule now and wait for its session");
  run->add_option("name", run_opts->name, "Schedule name (schedules/<name>.md)")->required();
  add_project_flags(*run, run_opts->project);
  run->callback([&dispatch, run_opts] { dispatch.run = [run_opts] { return run_schedule(*run_opts); }; });
  auto list_opts = std::make_shared<SchedulesOptions>();
  auto* list = cmd->add_subcommand("list", "Schedules with their next fire time and recent fires");
  list->add_flag("--json", list_opts->json, "Print JSON on stdout");
  add_project_flags(*list, list_opts->project);
  list->callback([&dispatch, list_opts] { dispatch.run = [list_opts] { return list_schedules(*list_opts); }; });
}

} // namespace hearth::cli

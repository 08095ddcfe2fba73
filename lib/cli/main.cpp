// cli::main: registers the subcommands (only the one named first, when that suffices), catches
// unknown commands itself (CLI11 2.1 only says "The following arguments were not expected"),
// parses, and runs the chosen command inside the program's only `try` (STYLE.md §2).
#include "cli/main.hpp"

#include "cli/commands/commands.hpp"
#include "cli/terminal.hpp"
#include "core/errors.hpp"
#include "core/process.hpp"
#include "core/text.hpp"

#include <iostream>
#include <malloc.h>
#include <optional>
#include <string_view>
#include <utility>

namespace hearth::cli {
namespace {

constexpr const char* k_description =
    "hearth: build, run and serve AI agents (Flue and Eve compatible, no Node needed)";

/// The commands a user can type, in help order (hidden ones excluded).
std::vector<std::string> visible_commands(const CLI::App& app) {
  std::vector<std::string> names;
  for (const auto* sub : app.get_subcommands({}))
    if (!sub->get_group().empty()) names.push_back(sub->get_name());
  return names;
}

bool is_command(const CLI::App& app, std::string_view name) {
  for (const auto* sub : app.get_subcommands({}))
    if (sub->get_name() == name) return true;
  return false;
}

/// The program's usage, whatever subcommand was parsed (CLI11's help() would delegate to it).
std::string usage(const CLI::App& app) {
  return app.get_formatter()->make_help(&app, "hearth", CLI::AppFormatMode::Normal);
}

/// `hearth help [command]`: usage of the program or of one command, on stdout.
void register_help(CLI::App& app, Dispatch& dispatch) {
  auto command = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("help", "Show help for hearth or for one command");
  cmd->add_option("command", *command, "The command to explain");
  cmd->callback([&app, &dispatch, command] {
    dispatch.run = [&app, command] {
      if (command->empty()) {
        std::cout << usage(app);
        return exit_code(ExitCode::ok);
      }
      if (!is_command(app, *command)) {
        const auto near = text::nearest(*command, visible_commands(app));
        throw errors::unknown_command(*command, near.value_or(""));
      }
      std::cout << app.get_subcommand(*command)->help("hearth");
      return exit_code(ExitCode::ok);
    };
  });
}

using Register = void (*)(CLI::App&, Dispatch&);

/// Every command, in help order, with the name its register function gives it.
constexpr std::pair<std::string_view, Register> k_commands[] = {
    {"init", register_init},       {"dev", register_dev},
    {"run", register_run},         {"connect", register_connect},
    {"info", register_info},       {"build", register_build},
    {"start", register_start},     {"logs", register_logs},
    {"eval", register_eval},       {"mcp", register_mcp},
    {"sandbox", register_sandbox}, {"gc", register_gc},
    {"connections", register_connections}, {"schedules", register_schedules},
    {"completion", register_completion},   {"help", register_help},
    {"__complete", register_complete},     {"runtime", register_runtime}};

/// The command `argv[1]` names when it can be parsed without the others: every command but
/// `help` and `completion`, which describe the whole tree. Building all of them costs ~2 million
/// instructions of CLI11 per process, paid twice by `hearth run` (CLI and runtime child).
std::optional<Register> sole_command(int argc, char** argv) {
  if (argc < 2) return std::nullopt;
  const std::string_view name = argv[1];
  if (name == "help" || name == "completion") return std::nullopt;
  for (const auto& [command, add] : k_commands)
    if (command == name) return add;
  return std::nullopt;
}

/// Registers every command, or only `only` (see sole_command).
void build_app(CLI::App& app, Dispatch& dispatch, std::optional<Register> only) {
  app.set_version_flag("-v,--version", std::string("hearth ") + HEARTH_VERSION,
                       "Print the version and exit");
  app.set_help_flag("-h,--help", "Print this help and exit");
  app.require_subcommand(0, 1);
  app.footer("Run `hearth help <command>` or `hearth <command> --help` for a command's flags.\n"
             "Docs: docs/ in the source tree; exit codes: 0 ok, 1 failure, 2 `logs` saw a failing "
             "run, 130 SIGINT, 143 SIGTERM.\n");
  app.get_formatter()->column_width(28);
  app.get_formatter()->label("SUBCOMMAND", "COMMAND");
  if (only) {
    (*only)(app, dispatch);
  } else {
    for (const auto& [command, add] : k_commands) add(app, dispatch);
  }
  for (auto* sub : app.get_subcommands({})) {
    sub->get_formatter()->column_width(28);
    if (!sub->get_group().empty()) sub->group("Commands");
    if (!sub->get_footer().empty() && sub->get_footer().back() != '\n')
      sub->footer(sub->get_footer() + "\n");
    if (!sub->get_help_ptr()) sub->set_help_flag("-h,--help", "Print this help and exit");
  }
}

/// The first argument that is not a flag names the command; returns it when unknown.
std::optional<std::string> unknown_command_in(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") return std::nullopt;
    if (!arg.empty() && arg[0] == '-') continue;
    if (is_command(app, arg)) return std::nullopt;
    return std::string(arg);
  }
  return std::nullopt;
}

int run(int argc, char** argv) {
  // `hearth --version` alone needs none of the command tree (issue 17 §1: start-up).
  if (argc == 2 && (std::string_view(argv[1]) == "--version" || std::string_view(argv[1]) == "-v")) {
    std::cout << "hearth " << HEARTH_VERSION << '\n';
    return exit_code(ExitCode::ok);
  }
  CLI::App app(k_description, "hearth");
  Dispatch dispatch;
  build_app(app, dispatch, sole_command(argc, argv));

  if (const auto unknown = unknown_command_in(app, argc, argv)) {
    const auto near = text::nearest(*unknown, visible_commands(app));
    terminal::print_error(errors::unknown_command(*unknown, near.value_or("")).info());
    std::cerr << '\n' << usage(app);
    return exit_code(ExitCode::failure);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e); // --help, --version: stdout, exit 0
    throw errors::usage(e.what());
  }
  if (!dispatch.run) { // bare `hearth`: usage on stderr, as for any usage mistake
    std::cerr << usage(app);
    return exit_code(ExitCode::failure);
  }
  // Orphaned grandchildren (tools, scripts) are reparented to us, so stopping a process group
  // reaps every member; PID 1 in containers often does not reap. Only commands run children.
  process::become_subreaper();
  // glibc gave freed memory back to the kernel after every run (about 24 madvise calls per
  // `?wait=result` run, each a TLB shootdown on every CPU: 16 % of a serving process's time,
  // issue 17 §3). Keep up to 8 MiB free at the top of each arena instead, and serve blocks up to
  // 1 MiB from the heap rather than a fresh mapping each time. Idle processes are unaffected.
  ::mallopt(M_TRIM_THRESHOLD, 8 << 20);
  ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
  return dispatch.run();
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const Error& e) {
    terminal::print_error(e.info());
    return exit_code(e.info().exit_code);
  } catch (const std::exception& e) {
    terminal::print_error(errors::internal_error(e.what()).info());
    return exit_code(ExitCode::failure);
  }
}

} // namespace hearth::cli

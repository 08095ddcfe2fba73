// What every subcommand file shares: the dispatch slot its callback fills, the registration
// functions cli::main calls, and helpers for flags whose values completion must know.
#pragma once

#include "config/config.hpp"
#include "core/error.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace hearth::cli {

/// Filled by the callback of the subcommand that was parsed; cli::main runs it inside its only
/// `try`. Returns the process exit code.
struct Dispatch {
  std::function<int()> run{};
};

// One per file under lib/cli/commands/, called in this order by cli::main (the help order).
void register_init(CLI::App& app, Dispatch& dispatch);
void register_dev(CLI::App& app, Dispatch& dispatch);
void register_info(CLI::App& app, Dispatch& dispatch);
void register_build(CLI::App& app, Dispatch& dispatch);
void register_start(CLI::App& app, Dispatch& dispatch);
void register_eval(CLI::App& app, Dispatch& dispatch); // evals under evals/ (issue 16 §4)
void register_run(CLI::App& app, Dispatch& dispatch);
void register_connect(CLI::App& app, Dispatch& dispatch);
void register_logs(CLI::App& app, Dispatch& dispatch);
void register_mcp(CLI::App& app, Dispatch& dispatch); // MCP server over stdio (issue 13 §6)
void register_sandbox(CLI::App& app, Dispatch& dispatch); // sandbox exec
void register_gc(CLI::App& app, Dispatch& dispatch);
void register_connections(CLI::App& app, Dispatch& dispatch); // connections list|call (issue 13)
void register_schedules(CLI::App& app, Dispatch& dispatch); // triggers: schedules run|list
void register_completion(CLI::App& app, Dispatch& dispatch);
void register_runtime(CLI::App& app, Dispatch& dispatch); // hidden: the runtime child
void register_complete(CLI::App& app, Dispatch& dispatch); // hidden `__complete`

/// Adds --root, --output, --config and --env to `cmd`, writing into `flags`. `with_server` adds
/// --port and --host too (dev, start).
void add_project_flags(CLI::App& cmd, config::ProjectFlags& flags, bool with_server = false);

/// `--target TARGET` as Flue 0.11's run/build/dev/connect take it (seed 003: `flue dev --target
/// node`): `node` prints a note on stderr and changes nothing; any other value is a usage error
/// (exit 1). Scripts written for Flue keep working unchanged.
void add_target_flag(CLI::App& cmd);

/// Resolves the project for the parsed flags from the current directory, then loads its env
/// files (shell values win). Throws hearth::Error.
config::Project resolve_project(const config::ProjectFlags& flags);

/// Adds an option whose value must be one of `choices`; completion scripts offer them.
CLI::Option* add_choice_option(CLI::App& cmd, const std::string& name, std::string& value,
                               const std::vector<std::string>& choices,
                               const std::string& description);

/// The fixed values of `option` (empty when it takes free text).
const std::vector<std::string>& choices_of(const CLI::Option* option);

/// Says how completion fills `option`'s value: "workflows" or "agents" (from the project, via the
/// hidden `hearth __complete <kind>`), "files" or "dirs".
void set_completion(CLI::Option* option, const std::string& kind);

/// The completion kind of `option`, or empty.
std::string completion_of(const CLI::Option* option);

} // namespace hearth::cli

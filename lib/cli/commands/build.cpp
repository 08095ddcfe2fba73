// lib/cli/commands/build.cpp: `hearth build [--output DIR]` compiles the project and writes a
// self-contained deployable directory (manifest::write_bundle). Any discovery error blocks the
// build: the full report goes to stderr with the diagnostics file's path, exit 1 (Eve's
// `eve build`, peers/eve transcripts/diag/*_build.txt, plus the path Eve 0.80.1 forgets).
#include "cli/commands/commands.hpp"
#include "cli/compile_report.hpp"
#include "cli/terminal.hpp"
#include "core/errors.hpp"
#include "core/fs.hpp"
#include "manifest/bundle.hpp"
#include "manifest/manifest.hpp"

#include <iostream>

namespace hearth::cli {
namespace {

struct BuildOptions {
  config::ProjectFlags project{}; // --output is one of the shared project flags
};

int run_build(const BuildOptions& opts) {
  const auto project = resolve_project(opts.project);
  const auto compiled = compile_reporting(project, /*quiet=*/false);
  if (!compiled) return exit_code(ExitCode::failure);
  const auto bundle = manifest::write_bundle(project, project.output, "/proc/self/exe", &compiled->manifest);
  terminal::success("built output at " + fs::display_path(bundle.output, std::filesystem::current_path()));
  return exit_code(ExitCode::ok);
}

} // namespace

void register_build(CLI::App& app, Dispatch& dispatch) {
  auto opts = std::make_shared<BuildOptions>();
  auto* cmd = app.add_subcommand("build", "Compile the project into a deployable directory (default dist/)");
  add_project_flags(*cmd, opts->project);
  add_target_flag(*cmd);
  cmd->footer("The output holds the authored files, the compiled manifest, bin/hearth, a Dockerfile and a "
              "README; `bin/hearth info --root <output>` reads it back.");
  cmd->callback([&dispatch, opts] { dispatch.run = [opts] { return run_build(*opts); }; });
}

} // namespace hearth::cli

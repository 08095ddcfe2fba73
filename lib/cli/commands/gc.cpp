// `hearth gc [--dry-run] [--json]`: applies the workspace retention (hearth.json `workspaces`:
// retainRuns, maxAgeDays) by hand and prints what it removed. Runs apply it themselves as they
// end; gc is for workspaces an older hearth, a crash or a changed retention left behind.
#include "cli/commands/commands.hpp"
#include "cli/terminal.hpp"
#include "core/errors.hpp"
#include "core/fs.hpp"
#include "core/json.hpp"
#include "runtime/workspace_gc.hpp"
#include "store/store.hpp"

#include <iostream>

namespace hearth::cli {
namespace {

struct GcOptions {
  bool dry_run = false;
  bool json = false;
  config::ProjectFlags project{};
};

std::string megabytes(std::uintmax_t bytes) {
  char out[32];
  std::snprintf(out, sizeof out, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return out;
}

int run_gc(const GcOptions& opts) {
  const auto project = resolve_project(opts.project);
  const auto dir = project.workspaces_dir();
  const runtime::WorkspaceRetention retention{.retain_runs = project.workspaces.retain_runs,
                                              .max_age_days = project.workspaces.max_age_days};
  runtime::GcResult result;
  if (std::filesystem::is_directory(dir)) {
    // A memory store knows no run of another process: only the age grace protects a workspace
    // in use, so say which store decided.
    auto store = store::open_store(project.store.location(), project.root);
    result = runtime::prune_workspaces(dir, *store, retention, opts.dry_run);
  }
  const auto cwd = std::filesystem::current_path();
  if (opts.json) {
    nlohmann::json removed = nlohmann::json::array();
    for (const auto& path : result.removed) removed.push_back(fs::display_path(path, cwd));
    std::cout << dump_json({{"dryRun", opts.dry_run}, {"removed", removed}, {"kept", result.kept},
                            {"bytes", result.bytes}, {"failures", result.failures}},
                           2)
              << '\n';
  } else {
    for (const auto& path : result.removed)
      std::cout << (opts.dry_run ? "would remove " : "removed ") << fs::display_path(path, cwd)
                << '\n';
    for (const auto& failure : result.failures) terminal::warn("could not remove " + failure);
    terminal::info(std::string(opts.dry_run ? "would remove " : "removed ") +
                   std::to_string(result.removed.size()) + " workspace(s), " +
                   megabytes(result.bytes) + "; kept " + std::to_string(result.kept) +
                   " (retainRuns " + std::to_string(retention.retain_runs) + ", maxAgeDays " +
                   nlohmann::json(retention.max_age_days).dump() + ")");
  }
  if (!result.failures.empty()) throw errors::gc_failed(result.failures.front(), "see above");
  return exit_code(ExitCode::ok);
}

} // namespace

void register_gc(CLI::App& app, Dispatch& dispatch) {
  auto opts = std::make_shared<GcOptions>();
  auto* cmd = app.add_subcommand("gc", "Remove workspaces of finished runs past the retention");
  cmd->add_flag("--dry-run", opts->dry_run, "Print what would be removed; remove nothing");
  cmd->add_flag("--json", opts->json, "Print the result as JSON on stdout");
  add_project_flags(*cmd, opts->project);
  cmd->footer("Retention: hearth.json `workspaces.retainRuns` (default 100) and "
              "`workspaces.maxAgeDays` (default 30). Workspaces of active runs are kept.");
  cmd->callback([&dispatch, opts] { dispatch.run = [opts] { return run_gc(*opts); }; });
}

} // namespace hearth::cli

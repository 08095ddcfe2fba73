// Retention of workflow-run workspaces (.hearth/workspaces/run_*): the workspaces of finished runs
// past `retainRuns` (newest first) or older than `maxAgeDays` are removed, when a run ends and by
// `hearth gc` (docs/runtime.md, "Workspaces"; hearth.json `workspaces`).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace hearth::store {
class Store;
}

namespace hearth::runtime {

struct WorkspaceRetention {
  int retain_runs = 100;    // workspaces of the newest finished runs kept
  double max_age_days = 30; // workspaces not modified for longer go; 0: no age limit
};

/// A workspace whose run the store does not know (another store, `memory:`) counts as finished
/// once it has not been modified for this long.
inline constexpr std::chrono::seconds k_unknown_run_grace{60};

struct GcResult {
  std::vector<std::filesystem::path> removed{}; // removed (or, with dry_run, to remove)
  std::size_t kept = 0;                         // run workspaces left
  /// Of those, kept only because their run is active (or unknown and recent): they go at a
  /// later pass, so a caller that skips passes while nothing changes must not skip the next.
  std::size_t held = 0;
  std::uintmax_t bytes = 0;                     // size of the removed files
  std::vector<std::string> failures{};          // "path: reason" for removals that failed
};

/// Applies `retention` to the `run_*` directories of `workspaces_dir` (other entries, agent
/// session workspaces and symlinks, are never touched). A run the store reports active is kept
/// whatever its age. With `dry_run` nothing is removed. Never follows symlinks; bounded by the
/// directory's entries. Throws nothing but std::bad_alloc: failures are reported in the result.
GcResult prune_workspaces(const std::filesystem::path& workspaces_dir, store::Store& store,
                          const WorkspaceRetention& retention, bool dry_run = false);

} // namespace hearth::runtime

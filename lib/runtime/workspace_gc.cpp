// Workspace retention; see workspace_gc.hpp.
#include "runtime/workspace_gc.hpp"

#include "core/text.hpp"
#include "store/store.hpp"

#include <algorithm>
#include <system_error>

namespace hearth::runtime {
namespace {
namespace stdfs = std::filesystem;

struct Candidate {
  std::string run_id{};
  stdfs::path path{};
  stdfs::file_time_type modified{};
};

/// Bytes of the regular files under `dir` (symlinks not followed).
std::uintmax_t size_of(const stdfs::path& dir) {
  std::uintmax_t total = 0;
  std::error_code ec;
  for (auto it = stdfs::recursive_directory_iterator(dir, ec);
       !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec) && !it->is_symlink(size_ec)) {
      const auto n = it->file_size(size_ec);
      if (!size_ec) total += n;
    }
  }
  return total;
}

} // namespace

GcResult prune_workspaces(const stdfs::path& workspaces_dir, store::Store& store,
                          const WorkspaceRetention& retention, bool dry_run) {
  GcResult result;
  std::vector<Candidate> runs;
  std::error_code ec;
  for (auto it = stdfs::directory_iterator(workspaces_dir, ec);
       !ec && it != stdfs::directory_iterator(); it.increment(ec)) {
    const auto name = it->path().filename().string();
    std::error_code type_ec;
    if (!text::starts_with(name, "run_") || it->is_symlink(type_ec) ||
        !it->is_directory(type_ec))
      continue;
    runs.push_back({.run_id = name, .path = it->path(), .modified = it->last_write_time(type_ec)});
  }
  // Run ids are ULIDs: by name is by start time. Newest first.
  std::sort(runs.begin(), runs.end(),
            [](const Candidate& a, const Candidate& b) { return a.run_id > b.run_id; });
  const auto now = stdfs::file_time_type::clock::now();
  const auto max_age = std::chrono::duration_cast<stdfs::file_time_type::duration>(
      std::chrono::duration<double, std::ratio<86400>>(retention.max_age_days));
  int finished_kept = 0;
  for (const auto& run : runs) {
    const bool too_old = retention.max_age_days > 0 && now - run.modified > max_age;
    const bool over_count = finished_kept >= retention.retain_runs;
    // Whether the run is still going: only asked for workspaces that would otherwise go.
    bool active = false;
    if (too_old || over_count) {
      try {
        const auto record = store.get_run(run.run_id);
        active = record ? record->status == store::RunStatus::active
                        : now - run.modified < k_unknown_run_grace;
      } catch (const std::exception&) {
        active = true; // the store cannot tell: keep it
      }
    }
    if (active || (!too_old && !over_count)) {
      if (!active) ++finished_kept;
      if (active) ++result.held;
      ++result.kept;
      continue;
    }
    const auto bytes = size_of(run.path);
    if (!dry_run) {
      std::error_code rm_ec;
      stdfs::remove_all(run.path, rm_ec);
      if (rm_ec) {
        result.failures.push_back(run.path.string() + ": " + rm_ec.message());
        ++result.kept;
        continue;
      }
    }
    result.bytes += bytes;
    result.removed.push_back(run.path);
  }
  return result;
}

} // namespace hearth::runtime

// Session workspaces: the one directory a session's built-in tools may touch
// (`.hearth/workspaces/<session>/`), seeded from `sandbox/workspace/**` and the skills (seed page 06,
// "Workspace seeding rules"). Every path a model sends goes through `resolve`.
#pragma once

#include <filesystem>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth::sandbox {

/// One seed: copy the tree at `source` into the workspace at `destination` (relative).
struct Seed {
  std::filesystem::path source{};
  std::filesystem::path destination{};
};

class Workspace {
public:
  /// Creates `root` if needed and copies in every seed file the workspace does not have yet, so a
  /// resumed session keeps its own edits. Throws hearth::Error io_error.
  static Workspace prepare(const std::filesystem::path& root, const std::vector<Seed>& seeds);

  /// Opens an existing workspace directory without seeding.
  explicit Workspace(std::filesystem::path root);

  const std::filesystem::path& root() const noexcept { return m_root; }

  /// The absolute path for `user_path` (relative to the root, `/workspace/...` as a sandboxed
  /// command sees it, or absolute inside the root), with
  /// symlinks resolved for the part that exists. Throws hearth::Error path_outside_workspace when
  /// it escapes the root by `..`, an absolute path or a symlink.
  std::filesystem::path resolve(std::string_view user_path) const;

  /// `absolute` relative to the root, '/' separated ("." for the root itself).
  std::string relative(const std::filesystem::path& absolute) const;

private:
  std::filesystem::path m_root; // canonical
};

} // namespace hearth::sandbox

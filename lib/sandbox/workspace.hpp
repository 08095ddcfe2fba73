// Session workspaces: the one directory a session's built-in tools may touch
// (`.hearth/workspaces/<session>/`), seeded from `sandbox/workspace/**` and the skills (seed page 06,
// "Workspace seeding rules"). Every path a model sends goes through `resolve`.
#pragma once

#include <filesystem>
#include <memory>
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

  /// As prepare, but nothing touches the disk until the workspace is first used: resolve(),
  /// confine(), sandbox::use_workspace (bash, authored tools, hooks) and materialize() create and
  /// seed it then, once. A workflow run whose turn calls no tool makes no directory (issue 17 §3).
  static Workspace lazy(const std::filesystem::path& root, std::vector<Seed> seeds);

  /// Opens an existing workspace directory without seeding.
  explicit Workspace(std::filesystem::path root);

  /// The workspace directory (canonical). For a lazy workspace it may not exist yet: whoever
  /// hands it to a process or lists it calls materialize() first.
  const std::filesystem::path& root() const noexcept { return m_root; }

  /// Creates and seeds a lazy workspace on first call (thread-safe; later calls cost a mutex);
  /// no-op for the others. Throws hearth::Error io_error (the next call tries again).
  void materialize() const;

  /// The absolute path for `user_path` (relative to the root, `/workspace/...` as a sandboxed
  /// command sees it, or absolute inside the root), with
  /// symlinks resolved for the part that exists. Throws hearth::Error path_outside_workspace when
  /// it escapes the root by `..`, an absolute path or a symlink.
  std::filesystem::path resolve(std::string_view user_path) const;

  /// `absolute` relative to the root, '/' separated ("." for the root itself).
  std::string relative(const std::filesystem::path& absolute) const;

  /// Confines this view of the workspace to `grants` (docs/auth.md "Workspace grants"): paths
  /// relative to the root, as runtime::workspace_grant computes them (no `..`, not absolute).
  /// A grant that does not exist yet is created as an empty directory, so the invoker has a place
  /// to work and the sandbox something to mount. Grants are resolved once, symlinks included; one
  /// that resolves outside the root is dropped (fail closed: less is granted, never more).
  /// After it, `resolve` refuses every path that is neither inside a grant nor a directory on the
  /// way to one (the root, `customers/` for `customers/acme`). Throws hearth::Error io_error.
  void confine(const std::vector<std::string>& grants);

  /// Whether `confine` was called (the grant is not `all`).
  bool confined() const noexcept { return m_confined; }

  /// The granted subtrees as canonical host paths inside the root (empty when nothing is
  /// granted); meaningful only when confined().
  const std::vector<std::filesystem::path>& granted() const noexcept { return m_granted; }

  /// The grants as the invoker reads them, root-relative and comma separated ("customers/acme").
  std::string grants_text() const;

  /// How far the invocation reaches the canonical host path `resolved`: `granted` (may read and
  /// write it: anywhere inside the root when not confined, else inside or equal to a granted
  /// subtree), `way` (a directory leading to a grant: may be traversed, nothing in it listed) or
  /// `none` (outside the root, or beside every grant).
  enum class Reach { none, way, granted };
  Reach reach(const std::filesystem::path& resolved) const;

private:
  Workspace() = default; // lazy() sets the root itself
  struct Pending; // the seeds of a lazy workspace not created yet

  std::filesystem::path m_root; // canonical
  std::shared_ptr<Pending> m_pending{}; // null once created (or never lazy)
  bool m_confined = false;
  std::vector<std::filesystem::path> m_granted{}; // canonical, inside m_root
};

} // namespace hearth::sandbox

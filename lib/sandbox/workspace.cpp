// Session workspaces; see workspace.hpp.
#include "sandbox/workspace.hpp"

#include "core/errors.hpp"

#include <algorithm>
#include <mutex>
#include <string>
#include <unordered_map>

namespace hearth::sandbox {
namespace stdfs = std::filesystem;

namespace {

bool inside(const stdfs::path& path, const stdfs::path& root) {
  const auto rel = path.lexically_relative(root);
  return !rel.empty() && *rel.begin() != "..";
}

void copy_missing(const stdfs::path& source, const stdfs::path& destination) {
  std::error_code ec;
  if (stdfs::is_regular_file(source, ec)) {
    if (!stdfs::exists(destination, ec)) {
      stdfs::create_directories(destination.parent_path(), ec);
      stdfs::copy_file(source, destination, ec);
      if (ec) throw errors::io_error("seed workspace file", destination.string(), ec.message());
    }
    return;
  }
  if (!stdfs::is_directory(source, ec)) return;
  for (auto it = stdfs::recursive_directory_iterator(source, ec);
       !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
    // Symlinks and specials are not seeded: a link's target may be anywhere (/etc/passwd).
    if (it->symlink_status(ec).type() != stdfs::file_type::regular) continue;
    const auto target = destination / it->path().lexically_relative(source);
    if (stdfs::exists(target, ec)) continue;
    stdfs::create_directories(target.parent_path(), ec);
    stdfs::copy_file(it->path(), target, ec);
    if (ec) throw errors::io_error("seed workspace file", target.string(), ec.message());
  }
}

/// weakly_canonical(dir), remembered for the process (at most k_remembered directories): the
/// few directories that hold workspaces do not move while hearth runs. Should one be replaced
/// by a link after all, paths resolved through it fall outside the remembered root and are
/// refused, never granted.
stdfs::path canonical_directory(const stdfs::path& dir) {
  constexpr std::size_t k_remembered = 64;
  static std::mutex mutex;
  static std::unordered_map<std::string, stdfs::path> known;
  std::lock_guard lock(mutex);
  if (const auto it = known.find(dir.native()); it != known.end()) return it->second;
  auto canonical = stdfs::weakly_canonical(dir);
  if (known.size() >= k_remembered) known.clear();
  known.emplace(dir.native(), canonical);
  return canonical;
}

} // namespace

Workspace Workspace::prepare(const stdfs::path& root, const std::vector<Seed>& seeds) {
  std::error_code ec;
  stdfs::create_directories(root, ec);
  if (ec) throw errors::io_error("create workspace", root.string(), ec.message());
  Workspace workspace(root);
  for (const auto& seed : seeds) copy_missing(seed.source, workspace.m_root / seed.destination);
  return workspace;
}

Workspace::Workspace(stdfs::path root) : m_root(stdfs::weakly_canonical(std::move(root))) {}

struct Workspace::Pending {
  std::mutex mutex{};
  std::vector<Seed> seeds{};
  bool done = false;
};

Workspace Workspace::lazy(const stdfs::path& root, std::vector<Seed> seeds) {
  Workspace workspace;
  const auto name = root.filename();
  // A run's workspace is one new name in a directory every run shares: its canonical form is
  // that directory's (remembered) plus the name. Canonicalizing the whole path cost a stat and a
  // readlink per component at every run (issue 17 §3). A name that already exists as a symlink
  // is not followed: resolve() then refuses what lies behind it (fail closed).
  if (root.is_absolute() && !name.empty() && name != "." && name != "..")
    workspace.m_root = canonical_directory(root.parent_path()) / name;
  else
    workspace.m_root = stdfs::weakly_canonical(root);
  workspace.m_pending = std::make_shared<Pending>();
  workspace.m_pending->seeds = std::move(seeds);
  return workspace;
}

void Workspace::materialize() const {
  if (!m_pending) return;
  std::lock_guard lock(m_pending->mutex);
  if (m_pending->done) return;
  std::error_code ec;
  stdfs::create_directories(m_root, ec);
  if (ec) throw errors::io_error("create workspace", m_root.string(), ec.message());
  for (const auto& seed : m_pending->seeds) copy_missing(seed.source, m_root / seed.destination);
  m_pending->done = true;
}

stdfs::path Workspace::resolve(std::string_view user_path) const {
  materialize();
  // One path space (docs/sandbox.md): `/workspace/x` is the workspace file `x`, as inside a
  // sandboxed command, where the workspace is mounted at /workspace.
  constexpr std::string_view mount = "/workspace";
  if (user_path.substr(0, mount.size()) == mount &&
      (user_path.size() == mount.size() || user_path[mount.size()] == '/') &&
      !inside(stdfs::path(user_path).lexically_normal(), m_root)) { // a host path stays one
    auto rest = user_path.substr(mount.size());
    while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
    if (rest.empty()) return m_root;
    return resolve(rest); // relative now: a second /workspace prefix is a plain directory name
  }
  const stdfs::path requested(user_path);
  const stdfs::path joined =
      (requested.is_absolute() ? requested : m_root / requested).lexically_normal();
  // weakly_canonical follows symlinks in the existing prefix, so a link pointing out is caught.
  std::error_code ec;
  stdfs::path resolved = stdfs::weakly_canonical(joined, ec);
  if (ec) resolved = joined;
  std::string s = resolved.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  resolved = s;
  if (resolved != m_root && !inside(resolved, m_root))
    throw errors::path_outside_workspace(user_path);
  // The directories leading to a grant stay reachable (glob/grep from the root, a cwd); walkers
  // list nothing in them but the granted subtrees (reach() == way).
  if (reach(resolved) == Reach::none) throw errors::path_not_granted(user_path, grants_text());
  return resolved;
}

void Workspace::confine(const std::vector<std::string>& grants) {
  materialize(); // grants are created and resolved inside the root
  m_confined = true;
  m_granted.clear();
  for (const auto& grant : grants) {
    const stdfs::path joined = (m_root / grant).lexically_normal();
    if (!inside(joined, m_root)) continue;
    std::error_code ec;
    const auto resolved = stdfs::weakly_canonical(joined, ec);
    if (ec || !inside(resolved, m_root)) continue; // a symlink out of the root: not granted
    if (!stdfs::exists(resolved, ec)) {
      stdfs::create_directories(resolved, ec);
      if (ec) throw errors::io_error("create granted directory", resolved.string(), ec.message());
      // Created through the resolved path: check again that nothing swapped a link in between.
      const auto again = stdfs::weakly_canonical(joined, ec);
      if (ec || again != resolved) continue;
    }
    if (std::find(m_granted.begin(), m_granted.end(), resolved) == m_granted.end())
      m_granted.push_back(resolved);
  }
}

std::string Workspace::grants_text() const {
  std::string out;
  for (const auto& g : m_granted) out += (out.empty() ? "" : ", ") + relative(g);
  return out;
}

Workspace::Reach Workspace::reach(const stdfs::path& resolved) const {
  if (!inside(resolved, m_root)) return Reach::none; // inside() holds for the root itself
  if (!m_confined) return Reach::granted;
  for (const auto& g : m_granted)
    if (inside(resolved, g)) return Reach::granted;
  for (const auto& g : m_granted)
    if (inside(g, resolved)) return Reach::way;
  return resolved == m_root ? Reach::way : Reach::none;
}

std::string Workspace::relative(const stdfs::path& absolute) const {
  if (absolute == m_root) return ".";
  return absolute.lexically_relative(m_root).generic_string();
}

} // namespace hearth::sandbox

// InotifyWatcher: one watch per directory (see watcher.hpp). Watching directories, not files, is
// what keeps atomic-rename saves visible: the renamed-over inode is gone, but the directory sees
// IN_MOVED_TO for the name (Flue 0.11 loses these after the first `sed -i`).
#include "watch/watcher.hpp"

#include "core/errors.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/inotify.h>
#include <unistd.h>

namespace hearth::watch {
namespace {

constexpr std::uint32_t k_dir_mask = IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO | IN_DELETE |
                                     IN_MOVED_FROM | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |
                                     IN_ONLYDIR | IN_EXCL_UNLINK;

ChangeKind kind_of(std::uint32_t mask) {
  if (mask & (IN_DELETE | IN_MOVED_FROM)) return ChangeKind::deleted;
  if (mask & (IN_CREATE | IN_MOVED_TO)) return ChangeKind::created;
  return ChangeKind::modified;
}

/// Keeps the last kind per path, in first-seen order (an editor's save is several events), and
/// drops paths created and deleted within the batch (sed -i's and vim's temporaries).
void coalesce(std::vector<Change>& changes) {
  std::vector<Change> out;
  std::vector<bool> transient;
  for (auto& change : changes) {
    auto same = std::find_if(out.begin(), out.end(),
                             [&](const Change& c) { return c.path == change.path; });
    if (same == out.end()) {
      transient.push_back(false);
      out.push_back(std::move(change));
      continue;
    }
    auto gone = transient[static_cast<std::size_t>(same - out.begin())];
    if (same->kind == ChangeKind::created && change.kind == ChangeKind::deleted) gone = true;
    else if (change.kind == ChangeKind::created) gone = false;
    if (!(same->kind == ChangeKind::created && change.kind == ChangeKind::modified))
      same->kind = change.kind;
  }
  changes.clear();
  for (std::size_t i = 0; i < out.size(); ++i)
    if (!transient[i]) changes.push_back(std::move(out[i]));
}

} // namespace

InotifyWatcher::InotifyWatcher(IgnoreRules rules) : m_rules(std::move(rules)) {
  m_fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (m_fd < 0) throw errors::watch_failed(m_rules.root.string(), std::strerror(errno));
  if (::inotify_add_watch(m_fd, m_rules.root.c_str(), k_dir_mask) < 0) {
    const int err = errno;
    ::close(m_fd);
    throw errors::watch_failed(m_rules.root.string(), std::strerror(err));
  }
  std::vector<Change> ignored;
  add_tree(m_rules.root, false, ignored);
}

InotifyWatcher::~InotifyWatcher() {
  if (m_fd >= 0) ::close(m_fd);
}

void InotifyWatcher::add_tree(const std::filesystem::path& dir, bool report,
                              std::vector<Change>& out) {
  const int wd = ::inotify_add_watch(m_fd, dir.c_str(), k_dir_mask);
  if (wd < 0) return; // vanished meanwhile, or not a directory: nothing to watch
  m_dirs[wd] = dir;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, std::filesystem::directory_options::skip_permission_denied, ec);
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const auto& path = it->path();
    if (is_ignored(m_rules, path)) continue;
    std::error_code type_ec;
    if (it->is_directory(type_ec) && !it->is_symlink(type_ec)) add_tree(path, report, out);
    else if (report) out.push_back({.path = path, .kind = ChangeKind::created});
  }
}

void InotifyWatcher::rescan(std::vector<Change>& out) {
  std::vector<Change> ignored;
  add_tree(m_rules.root, false, ignored);
  out.push_back({.path = m_rules.root, .kind = ChangeKind::rescan});
}

std::vector<Change> InotifyWatcher::take() {
  std::vector<Change> out;
  alignas(struct inotify_event) char buffer[16 * 1024];
  for (;;) {
    const ssize_t n = ::read(m_fd, buffer, sizeof buffer);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      break; // EAGAIN: drained
    }
    for (ssize_t at = 0; at < n;) {
      const auto* event = reinterpret_cast<const struct inotify_event*>(buffer + at);
      at += static_cast<ssize_t>(sizeof(struct inotify_event) + event->len);
      if (event->mask & IN_Q_OVERFLOW) {
        rescan(out);
        continue;
      }
      const auto dir = m_dirs.find(event->wd);
      if (dir == m_dirs.end()) continue;
      if (event->mask & IN_IGNORED) {
        m_dirs.erase(dir);
        continue;
      }
      if (event->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
        if (dir->second == m_rules.root)
          out.push_back({.path = m_rules.root, .kind = ChangeKind::deleted});
        continue;
      }
      if (event->len == 0) continue;
      const auto path = dir->second / event->name;
      if (is_ignored(m_rules, path)) continue;
      if (event->mask & IN_ISDIR) {
        if (event->mask & (IN_CREATE | IN_MOVED_TO)) add_tree(path, true, out);
        if (event->mask & IN_MOVED_FROM) // moved away: its watches would report stale paths
          for (auto w = m_dirs.begin(); w != m_dirs.end();) {
            const auto rel = w->second.lexically_relative(path);
            if (!rel.empty() && *rel.begin() != "..") {
              ::inotify_rm_watch(m_fd, w->first);
              w = m_dirs.erase(w);
            } else {
              ++w;
            }
          }
      }
      out.push_back({.path = path, .kind = kind_of(event->mask)});
    }
  }
  coalesce(out);
  return out;
}

} // namespace hearth::watch

// File watching for `hearth dev` (STYLE.md §5, "Watching"): one `Watcher` interface with an
// inotify implementation, a polling fallback and a fake for tests, plus the ignore rules that keep
// build outputs, VCS and dependency dirs and editor temporaries from triggering rebuilds.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hearth::watch {

/// What happened to a path. `rescan` means events were lost (queue overflow): treat everything as
/// changed.
enum class ChangeKind { created, modified, deleted, rescan };

/// One change, with an absolute path (the root for `rescan`).
struct Change {
  std::filesystem::path path{};
  ChangeKind kind = ChangeKind::modified;
};

/// "created", "modified", "deleted" or "rescan".
const char* to_string(ChangeKind kind);

/// What not to watch. Paths are absolute and normalised.
struct IgnoreRules {
  std::filesystem::path root{};                     // the watched tree
  std::vector<std::filesystem::path> ignored_dirs{}; // e.g. the output dir, <root>/.hearth
};

/// True when `path` (absolute, under rules.root) must not trigger a rebuild: it is inside an
/// ignored dir, any component under the root is a dot-dir (.git, .hearth, .idea, ...) or a
/// dependency dir (node_modules, .venv, __pycache__, ...), or its name is an editor temporary
/// (`*~`, `*.swp`, `*.swx`, `4913`, `.#*`, `#*#`, JetBrains `*___jb_tmp___`), or a dot-file
/// other than `.env*`. Paths outside the root are ignored.
bool is_ignored(const IgnoreRules& rules, const std::filesystem::path& path);

/// A source of changes under one root. Single-threaded: one owner polls fd() and calls take().
class Watcher {
public:
  virtual ~Watcher() = default;
  /// A descriptor that polls readable (POLLIN) when take() has something; -1 when the owner must
  /// call take() periodically instead (PollingWatcher).
  virtual int fd() const = 0;
  /// The changes since the last call, without blocking, ignored paths left out. Never throws for
  /// a vanished file; a lost root is reported as a `deleted` change of the root.
  virtual std::vector<Change> take() = 0;
};

/// inotify on every directory of the tree (recursively, adding watches for directories created or
/// moved in later). Watches directories rather than files, so atomic-rename saves (`sed -i`, vim,
/// JetBrains) keep being seen: it reacts to IN_CLOSE_WRITE, IN_CREATE, IN_MOVED_TO, IN_DELETE,
/// IN_MOVED_FROM and IN_ATTRIB. IN_Q_OVERFLOW re-adds every watch and reports `rescan`.
class InotifyWatcher : public Watcher {
public:
  /// Starts watching. Throws errors::watch_failed when inotify is unavailable or the root
  /// cannot be watched.
  explicit InotifyWatcher(IgnoreRules rules);
  ~InotifyWatcher() override;
  InotifyWatcher(const InotifyWatcher&) = delete;
  InotifyWatcher& operator=(const InotifyWatcher&) = delete;

  int fd() const override { return m_fd; }
  std::vector<Change> take() override;

  /// How many directories are watched (for tests and diagnostics).
  std::size_t watch_count() const { return m_dirs.size(); }

private:
  /// Watches `dir` and every non-ignored directory below it; reports files found in directories
  /// that appeared after the first scan (`report` true), since their creation events were missed.
  void add_tree(const std::filesystem::path& dir, bool report, std::vector<Change>& out);
  void rescan(std::vector<Change>& out);

  IgnoreRules m_rules;
  int m_fd = -1;
  std::map<int, std::filesystem::path> m_dirs{}; // watch descriptor -> directory
};

/// Compares (mtime, size) snapshots of the tree on every take(): for file systems without
/// inotify (some network and container mounts). fd() is -1.
class PollingWatcher : public Watcher {
public:
  explicit PollingWatcher(IgnoreRules rules);
  int fd() const override { return -1; }
  std::vector<Change> take() override;

private:
  struct Stamp {
    std::filesystem::file_time_type mtime{};
    std::uintmax_t size = 0;
    bool operator==(const Stamp&) const = default;
  };
  std::map<std::filesystem::path, Stamp> snapshot() const;

  IgnoreRules m_rules;
  std::map<std::filesystem::path, Stamp> m_last{};
};

/// A watcher fed by the test: push() queues a change and makes fd() readable. Thread-safe push.
class FakeWatcher : public Watcher {
public:
  FakeWatcher();
  ~FakeWatcher() override;
  FakeWatcher(const FakeWatcher&) = delete;
  FakeWatcher& operator=(const FakeWatcher&) = delete;

  void push(Change change);
  int fd() const override { return m_read_fd; }
  std::vector<Change> take() override;

private:
  int m_read_fd = -1;
  int m_write_fd = -1;
  std::mutex m_mutex;
  std::vector<Change> m_pending{};
};

/// The best watcher for `rules.root`: inotify, or polling when inotify cannot start.
std::unique_ptr<Watcher> make_watcher(IgnoreRules rules);

} // namespace hearth::watch

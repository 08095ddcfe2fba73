// PollingWatcher and FakeWatcher (see watcher.hpp), and the choice between inotify and polling.
#include "watch/watcher.hpp"

#include "core/error.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace hearth::watch {

PollingWatcher::PollingWatcher(IgnoreRules rules) : m_rules(std::move(rules)) {
  m_last = snapshot();
}

std::map<std::filesystem::path, PollingWatcher::Stamp> PollingWatcher::snapshot() const {
  std::map<std::filesystem::path, Stamp> files;
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(
      m_rules.root, std::filesystem::directory_options::skip_permission_denied, ec);
  for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code stat_ec;
    if (is_ignored(m_rules, it->path())) {
      if (it->is_directory(stat_ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(stat_ec)) continue;
    const auto mtime = it->last_write_time(stat_ec);
    const auto size = it->file_size(stat_ec);
    if (!stat_ec) files[it->path()] = Stamp{.mtime = mtime, .size = size};
  }
  return files;
}

std::vector<Change> PollingWatcher::take() {
  auto now = snapshot();
  std::vector<Change> out;
  for (const auto& [path, stamp] : now) {
    const auto before = m_last.find(path);
    if (before == m_last.end()) out.push_back({.path = path, .kind = ChangeKind::created});
    else if (!(before->second == stamp)) out.push_back({.path = path, .kind = ChangeKind::modified});
  }
  for (const auto& [path, stamp] : m_last)
    if (!now.count(path)) out.push_back({.path = path, .kind = ChangeKind::deleted});
  m_last = std::move(now);
  return out;
}

FakeWatcher::FakeWatcher() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("pipe2 failed");
  m_read_fd = fds[0];
  m_write_fd = fds[1];
}

FakeWatcher::~FakeWatcher() {
  ::close(m_read_fd);
  ::close(m_write_fd);
}

void FakeWatcher::push(Change change) {
  std::lock_guard lock(m_mutex);
  m_pending.push_back(std::move(change));
  const char byte = 1;
  [[maybe_unused]] const auto written = ::write(m_write_fd, &byte, 1);
}

std::vector<Change> FakeWatcher::take() {
  char drain[64];
  while (::read(m_read_fd, drain, sizeof drain) > 0) {
  }
  std::lock_guard lock(m_mutex);
  return std::exchange(m_pending, {});
}

std::unique_ptr<Watcher> make_watcher(IgnoreRules rules) {
  try {
    return std::make_unique<InotifyWatcher>(rules);
  } catch (const Error&) {
    return std::make_unique<PollingWatcher>(std::move(rules));
  }
}

} // namespace hearth::watch

// Stream waiters, async listeners and the cross-process poller: see watchers.hpp.
#include "store/watchers.hpp"

#include <algorithm>

namespace hearth::store {

StreamWatchers::StreamWatchers(PollFn poll, std::chrono::milliseconds interval)
    : m_poll(std::move(poll)), m_interval(interval) {
  if (m_poll) m_poller = std::thread([this] { poll_loop(); });
}

StreamWatchers::~StreamWatchers() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_poll_cv.notify_all();
  if (m_poller.joinable()) m_poller.join();
}

void StreamWatchers::advance(Watch& watch, Tail tail, Fired& fired) {
  const bool moved = tail.last_seq > watch.tail.last_seq || (tail.closed && !watch.tail.closed);
  watch.tail.last_seq = std::max(watch.tail.last_seq, tail.last_seq);
  watch.tail.closed = watch.tail.closed || tail.closed;
  if (moved) watch.cv.notify_all();
  for (auto it = watch.listeners.begin(); it != watch.listeners.end();) {
    if (watch.tail.last_seq > it->second.after_seq || watch.tail.closed) {
      fired.push_back(std::move(it->second.wake));
      it = watch.listeners.erase(it);
    } else {
      ++it;
    }
  }
}

void StreamWatchers::drop_if_unused(Watches::iterator it) {
  if (it->second.waiters == 0 && it->second.listeners.empty()) m_watches.erase(it);
}

void StreamWatchers::notify(std::string_view path, Tail tail) {
  Fired fired;
  {
    std::lock_guard lock(m_mutex);
    if (m_watches.empty()) return;
    const auto it = m_watches.find(path);
    if (it == m_watches.end()) return;
    advance(it->second, tail, fired);
    drop_if_unused(it);
  }
  for (auto& wake : fired) wake();
}

void StreamWatchers::release(Watches::iterator it) {
  --it->second.waiters;
  --m_waiting;
  drop_if_unused(it);
}

bool StreamWatchers::wait(std::string_view path, std::int64_t after_seq,
                          std::chrono::steady_clock::time_point deadline, const ProbeFn& probe) {
  std::unique_lock lock(m_mutex);
  auto it = m_watches.find(path);
  if (it == m_watches.end()) it = m_watches.try_emplace(std::string(path)).first;
  ++it->second.waiters;
  ++m_waiting;
  const bool first_watch = m_watches.size() == 1 && it->second.waiters == 1 &&
                           it->second.listeners.empty();
  lock.unlock();
  // Registered before probing: an append committed after the probe will notify this watch,
  // and one committed before it is in the probe's answer. Nothing falls in between.
  Tail now;
  try {
    now = probe(path);
  } catch (...) {
    lock.lock();
    release(it);
    throw;
  }
  Fired fired;
  lock.lock();
  Watch& watch = it->second;
  advance(watch, now, fired);
  if (first_watch) m_poll_cv.notify_all();
  if (!fired.empty()) { // listeners this probe satisfied: wake them outside the lock
    lock.unlock();
    for (auto& w : fired) w();
    lock.lock();
  }
  const bool ready = watch.cv.wait_until(lock, deadline, [&] {
    return watch.tail.last_seq > after_seq || watch.tail.closed;
  });
  release(it);
  return ready;
}

std::uint64_t StreamWatchers::listen(std::string_view path, std::int64_t after_seq,
                                     std::function<void()> wake, const ProbeFn& probe) {
  std::unique_lock lock(m_mutex);
  auto it = m_watches.find(path);
  if (it == m_watches.end()) it = m_watches.try_emplace(std::string(path)).first;
  const auto id = m_next_listener++;
  it->second.listeners.emplace(id, Listener{after_seq, std::move(wake)});
  m_listener_paths.emplace(id, it->first);
  const bool first_watch = m_watches.size() == 1 && it->second.listeners.size() == 1 &&
                           it->second.waiters == 0;
  lock.unlock();
  // Registered before probing, as in wait(): nothing falls between the probe and a notify.
  Tail now;
  try {
    now = probe(path);
  } catch (...) {
    cancel(id);
    throw;
  }
  Fired fired;
  lock.lock();
  if (const auto found = m_watches.find(path); found != m_watches.end()) {
    advance(found->second, now, fired);
    drop_if_unused(found);
  }
  if (first_watch) m_poll_cv.notify_all();
  lock.unlock();
  for (auto& w : fired) w();
  return id;
}

void StreamWatchers::cancel(std::uint64_t id) {
  std::lock_guard lock(m_mutex);
  const auto p = m_listener_paths.find(id);
  if (p == m_listener_paths.end()) return;
  const auto it = m_watches.find(p->second);
  m_listener_paths.erase(p);
  if (it == m_watches.end()) return;
  it->second.listeners.erase(id);
  drop_if_unused(it);
}

std::size_t StreamWatchers::watching() const {
  std::lock_guard lock(m_mutex);
  std::size_t n = m_waiting;
  for (const auto& [path, watch] : m_watches) n += watch.listeners.size();
  return n;
}

std::vector<std::string> StreamWatchers::watched_paths() const {
  std::lock_guard lock(m_mutex);
  std::vector<std::string> paths;
  paths.reserve(m_watches.size());
  for (const auto& [path, watch] : m_watches) paths.push_back(path);
  return paths;
}

void StreamWatchers::poll_loop() {
  std::unique_lock lock(m_mutex);
  while (!m_stop) {
    // Idle (no waiters): sleep until one arrives. Otherwise tick on a fixed grid of intervals,
    // so an append lands on average half an interval before the next tick (a waiter probed the
    // database itself when it arrived, so an immediate tick would tell it nothing new).
    m_poll_cv.wait(lock, [&] { return m_stop || !m_watches.empty(); });
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    const auto next_tick = std::chrono::steady_clock::time_point(
        (std::chrono::duration_cast<std::chrono::milliseconds>(now) / m_interval + 1) * m_interval);
    if (m_poll_cv.wait_until(lock, next_tick, [&] { return m_stop; })) break;
    if (m_watches.empty()) continue;
    std::vector<std::string> paths;
    paths.reserve(m_watches.size());
    for (const auto& [path, watch] : m_watches) paths.push_back(path);
    lock.unlock();
    std::vector<std::pair<std::string, Tail>> tails;
    try {
      tails = m_poll(paths);
    } catch (...) {
      // A transient failure (e.g. the file is locked for a checkpoint): retry at the next tick.
      // Waiters still end at their deadlines, so nothing hangs.
    }
    lock.lock();
    Fired fired;
    for (const auto& [path, tail] : tails)
      if (const auto it = m_watches.find(path); it != m_watches.end()) {
        advance(it->second, tail, fired);
        drop_if_unused(it);
      }
    if (!fired.empty()) {
      lock.unlock();
      for (auto& w : fired) w();
      lock.lock();
    }
  }
}

} // namespace hearth::store

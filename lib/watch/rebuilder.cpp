// Debouncer and Rebuilder; see rebuilder.hpp.
#include "watch/rebuilder.hpp"

#include <algorithm>

namespace hearth::watch {

Debouncer::Debouncer(std::chrono::milliseconds quiet, std::chrono::milliseconds max_wait)
    : m_quiet(quiet), m_max_wait(std::max(quiet, max_wait)) {}

void Debouncer::note(Clock::time_point now) {
  if (!m_first) m_first = now;
  m_last = now;
}

std::optional<Debouncer::Clock::time_point> Debouncer::deadline() const {
  if (!m_first) return std::nullopt;
  return std::min(m_last + m_quiet, *m_first + m_max_wait);
}

bool Debouncer::fire(Clock::time_point now) {
  const auto due = deadline();
  if (!due || now < *due) return false;
  m_first.reset();
  return true;
}

Rebuilder::Rebuilder(std::function<void()> build)
    : m_build(std::move(build)), m_thread([this] { loop(); }) {}

Rebuilder::~Rebuilder() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
    m_queued = false;
  }
  m_cv.notify_all();
  m_thread.join();
}

void Rebuilder::request() {
  {
    std::lock_guard lock(m_mutex);
    if (m_stopping) return;
    m_queued = true; // picked up at once when idle, after the running build otherwise
  }
  m_cv.notify_all();
}

bool Rebuilder::busy() const {
  std::lock_guard lock(m_mutex);
  return m_running || m_queued;
}

bool Rebuilder::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(m_mutex);
  return m_cv.wait_for(lock, timeout, [this] { return !m_running && !m_queued; });
}

void Rebuilder::cancel_queued() {
  {
    std::lock_guard lock(m_mutex);
    m_queued = false;
  }
  m_cv.notify_all();
}

void Rebuilder::loop() {
  std::unique_lock lock(m_mutex);
  for (;;) {
    m_cv.wait(lock, [this] { return m_queued || m_stopping; });
    if (m_stopping) return;
    m_queued = false;
    m_running = true;
    lock.unlock();
    m_build();
    lock.lock();
    m_running = false;
    m_cv.notify_all();
  }
}

} // namespace hearth::watch

// Cancellation helpers; see cancel.hpp.
#include "core/cancel.hpp"

#include <condition_variable>
#include <cstdint>
#include <sys/eventfd.h>
#include <unistd.h>
#include <vector>

namespace hearth::cancel {

bool sleep_for(std::stop_token token, std::chrono::milliseconds duration) {
  if (token.stop_requested()) return true;
  // No wait at all: a zero wait_for still registers a stop callback and enters the kernel.
  if (duration <= std::chrono::milliseconds::zero()) return false;
  std::mutex mutex;
  std::condition_variable_any cv;
  std::unique_lock lock(mutex);
  // wait_for with a stop token wakes on request_stop(); the predicate is "stopped".
  return cv.wait_for(lock, token, duration, [&] { return token.stop_requested(); });
}

StopFd::StopFd(std::stop_token token) {
  if (!token.stop_possible()) return;
  m_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (m_fd < 0) return; // out of descriptors: callers then only see the token at their deadline
  const int fd = m_fd;
  // Runs on the cancelling thread (or here, if already stopped): one async-signal-safe write.
  m_callback.emplace(std::move(token), std::function<void()>([fd] {
                       const std::uint64_t one = 1;
                       [[maybe_unused]] const auto n = ::write(fd, &one, sizeof one);
                     }));
}

StopFd::~StopFd() {
  m_callback.reset(); // waits for a running callback, so the fd is not written after close
  if (m_fd >= 0) ::close(m_fd);
}

Registry::Entry Registry::enter(const std::string& key) {
  auto slot = std::make_shared<Slot>();
  slot->key = key;
  std::lock_guard lock(m_mutex);
  m_slots.emplace(key, slot);
  return Entry(*this, std::move(slot));
}

std::size_t Registry::cancel(const std::string& key) {
  std::vector<std::shared_ptr<Slot>> found;
  {
    std::lock_guard lock(m_mutex);
    const auto [first, last] = m_slots.equal_range(key);
    for (auto it = first; it != last; ++it) found.push_back(it->second);
  }
  // Outside the lock: stop callbacks may take other locks (an HTTP client's socket mutex).
  for (const auto& slot : found) slot->source.request_stop();
  return found.size();
}

std::size_t Registry::size() const {
  std::lock_guard lock(m_mutex);
  return m_slots.size();
}

void Registry::leave(const std::shared_ptr<Slot>& slot) noexcept {
  std::lock_guard lock(m_mutex);
  const auto [first, last] = m_slots.equal_range(slot->key);
  for (auto it = first; it != last; ++it)
    if (it->second == slot) {
      m_slots.erase(it);
      return;
    }
}

Registry::Entry::~Entry() {
  if (m_registry != nullptr && m_slot) m_registry->leave(m_slot);
}

} // namespace hearth::cancel

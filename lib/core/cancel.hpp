// Cancellation (issue 12 §6; docs/runtime.md "Cancellation"): a running turn or run owns a
// std::stop_source; everything it starts (model streams, tool processes, subagent turns) gets the
// std::stop_token and gives up within a second of request_stop(). This header adds what blocking
// code needs to observe a token: an interruptible sleep, an eventfd for poll() loops, and the
// registry that finds the work to cancel by a key (an agent stream path, a run stream path).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>

namespace hearth::cancel {

/// Sleeps up to `duration`, waking as soon as `token` is stopped. Returns true when it woke
/// because the token was stopped (also when it already was), false when the time passed.
bool sleep_for(std::stop_token token, std::chrono::milliseconds duration);

/// An eventfd that polls readable (POLLIN) once `token` is stopped, for code that waits in
/// poll(): add fd() to the set. fd() is -1 when the token can never be stopped (a default
/// std::stop_token), so callers simply skip it. Not copyable; the fd is closed by the destructor.
class StopFd {
public:
  explicit StopFd(std::stop_token token);
  ~StopFd();
  StopFd(const StopFd&) = delete;
  StopFd& operator=(const StopFd&) = delete;

  int fd() const noexcept { return m_fd; }

private:
  int m_fd = -1;
  std::optional<std::stop_callback<std::function<void()>>> m_callback{};
};

/// Running work by key, so a route or an IPC notification can cancel it. Thread-safe.
class Registry {
public:
  class Entry;

  /// Registers one piece of running work under `key` (several may share a key; cancel() stops
  /// them all). The returned Entry owns the stop source and unregisters it when destroyed.
  Entry enter(const std::string& key);

  /// Requests stop on every entry registered under `key`. Returns how many there were (0: none
  /// running, nothing happens; a later enter() under the key starts uncancelled).
  std::size_t cancel(const std::string& key);

  /// How many entries are registered (all keys).
  std::size_t size() const;

private:
  struct Slot {
    std::string key{};
    std::stop_source source{};
  };
  void leave(const std::shared_ptr<Slot>& slot) noexcept;

  mutable std::mutex m_mutex;
  std::multimap<std::string, std::shared_ptr<Slot>> m_slots{};
};

/// One registration (see Registry::enter). Movable; unregisters on destruction.
class Registry::Entry {
public:
  Entry(Registry& registry, std::shared_ptr<Slot> slot)
      : m_registry(&registry), m_slot(std::move(slot)) {}
  ~Entry();
  Entry(Entry&& other) noexcept
      : m_registry(std::exchange(other.m_registry, nullptr)), m_slot(std::move(other.m_slot)) {}
  Entry& operator=(Entry&&) = delete;
  Entry(const Entry&) = delete;
  Entry& operator=(const Entry&) = delete;

  /// The token the registered work observes.
  std::stop_token token() const { return m_slot->source.get_token(); }
  /// Stops this work (a timeout, a caller giving up); the same as Registry::cancel for it alone.
  void request_stop() { m_slot->source.request_stop(); }
  bool stop_requested() const { return m_slot->source.stop_requested(); }

private:
  Registry* m_registry;
  std::shared_ptr<Slot> m_slot;
};

} // namespace hearth::cancel

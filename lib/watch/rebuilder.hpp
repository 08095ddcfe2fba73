// Coalescing changes into rebuilds (STYLE.md §5, "Coalesce"): a trailing debounce (150 ms of
// quiet, capped so a stream of writes cannot postpone the rebuild forever), and a scheduler that
// runs one rebuild at a time with at most one queued behind it (Flue's createRebuilder).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

namespace hearth::watch {

/// Dev's debounce (seed page 15: "Rebuilds are debounced 150 ms").
inline constexpr std::chrono::milliseconds k_debounce{150};

/// A trailing debounce driven by the caller's clock (so tests need no sleeps).
class Debouncer {
public:
  using Clock = std::chrono::steady_clock;

  /// Fires `quiet` after the last change, or `max_wait` after the first one of a burst.
  explicit Debouncer(std::chrono::milliseconds quiet = k_debounce,
                     std::chrono::milliseconds max_wait = std::chrono::seconds(1));

  /// Records a change seen at `now`.
  void note(Clock::time_point now);

  /// When the pending burst is due, or nullopt when nothing is pending (for a poll timeout).
  std::optional<Clock::time_point> deadline() const;

  /// True once per burst, when `now` has reached deadline(); then nothing is pending.
  bool fire(Clock::time_point now);

private:
  std::chrono::milliseconds m_quiet;
  std::chrono::milliseconds m_max_wait;
  std::optional<Clock::time_point> m_first{};
  Clock::time_point m_last{};
};

/// Runs `build` on its own thread, one at a time: request() while a build runs queues exactly one
/// follow-up, however many requests arrive (they all want "the latest tree", which one more build
/// gives). `build` must not throw (the dev loop reports its own errors).
class Rebuilder {
public:
  explicit Rebuilder(std::function<void()> build);
  /// Drops a queued build and waits for the running one.
  ~Rebuilder();
  Rebuilder(const Rebuilder&) = delete;
  Rebuilder& operator=(const Rebuilder&) = delete;

  /// Starts a build now when idle, else queues one (a no-op when one is already queued).
  void request();

  /// True while a build runs or is queued.
  bool busy() const;

  /// Blocks until no build runs or is queued, up to `timeout`; true when idle.
  bool wait_idle(std::chrono::milliseconds timeout);

  /// Drops the queued build, if any (shutting down).
  void cancel_queued();

private:
  void loop();

  std::function<void()> m_build;
  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_running = false;
  bool m_queued = false;
  bool m_stopping = false;
  std::thread m_thread;
};

} // namespace hearth::watch

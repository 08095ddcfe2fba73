// Long-poll/SSE/NDJSON followers waiting for new stream events. Waiters block on a condition
// variable per watched path (no connection, no spinning); in-process appends wake them at once,
// and one shared poller thread notices appends made by other processes. Private to lib/store.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace hearth::store {

/// What a waiter needs to know about a stream.
struct Tail {
  std::int64_t last_seq = -1;
  bool closed = false;
};

class StreamWatchers {
public:
  /// Reads the current tails of `paths` (missing streams may be left out). Called by the poller
  /// thread only; may return nothing when it knows the database has not changed since last time.
  using PollFn = std::function<std::vector<std::pair<std::string, Tail>>(
      const std::vector<std::string>& paths)>;
  /// Reads one stream's tail now (the waiter's own check before it sleeps).
  using ProbeFn = std::function<Tail(std::string_view path)>;

  /// Without `poll` (in-memory stores) no thread is started: only in-process appends exist.
  StreamWatchers(PollFn poll, std::chrono::milliseconds interval);
  ~StreamWatchers(); // stops and joins the poller
  StreamWatchers(const StreamWatchers&) = delete;
  StreamWatchers& operator=(const StreamWatchers&) = delete;

  /// Publishes a committed change to `path`; wakes only that path's waiters. Cheap when none.
  void notify(std::string_view path, Tail tail);

  /// Blocks until `path` has an event after `after_seq` or is closed (true) or `deadline`
  /// passes (false). Rethrows what `probe` throws.
  bool wait(std::string_view path, std::int64_t after_seq,
            std::chrono::steady_clock::time_point deadline, const ProbeFn& probe);

  /// The asynchronous form of wait(): calls `wake` once, from whichever thread sees the change
  /// (possibly inline, before listen() returns), when `path` has an event after `after_seq` or is
  /// closed. No thread blocks meanwhile. Returns an id for cancel(). Rethrows what `probe` throws.
  /// `wake` must be cheap and must not call back into this object. Call cancel(id) once done
  /// with every id, fired or not (it frees the id's bookkeeping).
  std::uint64_t listen(std::string_view path, std::int64_t after_seq, std::function<void()> wake,
                       const ProbeFn& probe);

  /// Forgets listener `id` if it has not fired yet. A `wake` already running may still finish
  /// after cancel() returns, so it must only touch state it keeps alive itself.
  void cancel(std::uint64_t id);

  /// The paths someone waits on or listens to now (to re-read after missed notifications).
  std::vector<std::string> watched_paths() const;

  /// Blocking waiters plus pending listeners (a gauge for tests and logs).
  std::size_t watching() const;

private:
  struct Listener {
    std::int64_t after_seq = -1;
    std::function<void()> wake{};
  };
  struct Watch {
    int waiters = 0;
    Tail tail{};
    std::condition_variable cv{};
    std::map<std::uint64_t, Listener> listeners{};
  };
  using Watches = std::map<std::string, Watch, std::less<>>;
  using Fired = std::vector<std::function<void()>>;

  // Merges `tail` into `watch` (under m_mutex); wakes its waiters if it moved and moves the
  // listeners it satisfies into `fired` (called by the caller once the lock is released).
  static void advance(Watch& watch, Tail tail, Fired& fired);
  void drop_if_unused(Watches::iterator it); // under m_mutex
  void release(Watches::iterator it); // under m_mutex
  void poll_loop();

  PollFn m_poll;
  std::chrono::milliseconds m_interval;
  mutable std::mutex m_mutex;
  Watches m_watches;
  std::map<std::uint64_t, std::string> m_listener_paths{};
  std::uint64_t m_next_listener = 1;
  std::size_t m_waiting = 0;
  std::condition_variable m_poll_cv; // wakes the poller: first waiter arrived, or stop
  bool m_stop = false;
  std::thread m_poller; // last: starts after everything above is constructed
};

} // namespace hearth::store

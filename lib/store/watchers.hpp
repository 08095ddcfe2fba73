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

private:
  struct Watch {
    int waiters = 0;
    Tail tail{};
    std::condition_variable cv{};
  };
  using Watches = std::map<std::string, Watch, std::less<>>;

  // Merges `tail` into `watch` (under m_mutex); wakes its waiters if it moved.
  static void advance(Watch& watch, Tail tail);
  void release(Watches::iterator it); // under m_mutex
  void poll_loop();

  PollFn m_poll;
  std::chrono::milliseconds m_interval;
  std::mutex m_mutex;
  Watches m_watches;
  std::condition_variable m_poll_cv; // wakes the poller: first waiter arrived, or stop
  bool m_stop = false;
  std::thread m_poller; // last: starts after everything above is constructed
};

} // namespace hearth::store

// Threads for the HTTP server: an elastic pool for request handlers (a `?wait=result` request holds
// a thread for its whole run, so the pool grows on demand up to a cap instead of starving short
// requests; parked readers hold none) and a bounded executor for admitted background work (202
// runs and prompts).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace hearth::server {

/// A task runs on an idle thread, or on a new one while fewer than `max`
/// exist; beyond that it waits in the queue. Threads idle for `idle_exit` exit (down to `min`).
/// Threads have small stacks (2 MiB) so a thousand parked readers stay cheap.
class ElasticPool final {
public:
  ElasticPool(std::size_t min, std::size_t max,
              std::chrono::milliseconds idle_exit = std::chrono::seconds(30));
  ~ElasticPool();

  void enqueue(std::function<void()> fn);
  /// Runs every queued task, then waits for all threads to exit.
  void shutdown();

  std::size_t threads() const;

private:
  static void* thread_main(void* self);
  void work();
  bool spawn(); // with m_mutex held

  const std::size_t m_min;
  const std::size_t m_max;
  const std::chrono::milliseconds m_idle_exit;
  mutable std::mutex m_mutex;
  std::condition_variable m_work;
  std::condition_variable m_exited;
  std::deque<std::function<void()>> m_queue;
  std::size_t m_threads = 0;
  std::size_t m_idle = 0;
  bool m_shutdown = false;
};

/// A fixed set of workers over a bounded queue. Tasks never throw out of a worker: anything
/// escaping a task is swallowed after `on_error` sees it (a failing run only errors itself).
class Executor {
public:
  Executor(std::size_t workers, std::size_t queue_limit);
  ~Executor(); // drain(0) then join

  /// Queues `task`. Throws errors::server_busy when the queue is full or the executor stopped.
  void submit(std::function<void()> task);

  /// Waits until every queued and running task finished, or `deadline`; true when idle.
  bool drain(std::chrono::steady_clock::time_point deadline);

  /// Refuses new tasks from now on (queued ones still run).
  void close();

  std::size_t pending() const;

private:
  void work();

  const std::size_t m_limit;
  mutable std::mutex m_mutex;
  std::condition_variable m_work;
  std::condition_variable m_idle;
  std::deque<std::function<void()>> m_queue;
  std::size_t m_running = 0;
  bool m_closed = false;
  bool m_stop = false;
  std::vector<std::thread> m_threads;
};

} // namespace hearth::server

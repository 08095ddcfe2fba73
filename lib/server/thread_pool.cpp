// The server's thread pools; see thread_pool.hpp.
#include "server/thread_pool.hpp"

#include "core/errors.hpp"

#include <pthread.h>
#include <csignal>

namespace hearth::server {

namespace {
#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t k_stack_bytes = 8u << 20; // ASan frames are much larger
#else
constexpr std::size_t k_stack_bytes = 2u << 20;
#endif
} // namespace

ElasticPool::ElasticPool(std::size_t min, std::size_t max, std::chrono::milliseconds idle_exit)
    : m_min(min), m_max(max < 1 ? 1 : max), m_idle_exit(idle_exit) {
  std::lock_guard lock(m_mutex);
  for (std::size_t i = 0; i < m_min; ++i) spawn();
}

ElasticPool::~ElasticPool() { shutdown(); }

std::size_t ElasticPool::threads() const {
  std::lock_guard lock(m_mutex);
  return m_threads;
}

bool ElasticPool::spawn() {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return false;
  pthread_attr_setstacksize(&attr, k_stack_bytes);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  const bool ok = pthread_create(&thread, &attr, &ElasticPool::thread_main, this) == 0;
  pthread_attr_destroy(&attr);
  if (ok) ++m_threads;
  return ok;
}

void* ElasticPool::thread_main(void* self) {
  // A client that hangs up mid-response must give EPIPE, not kill the process: the signal is
  // directed at the writing thread, where it stays blocked.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  static_cast<ElasticPool*>(self)->work();
  return nullptr;
}

void ElasticPool::enqueue(std::function<void()> fn) {
  std::lock_guard lock(m_mutex);
  m_queue.push_back(std::move(fn));
  // Every idle thread may already be claimed by an earlier queued task.
  if (m_idle < m_queue.size() && m_threads < m_max && !spawn() && m_threads == 0) {
    // No thread could be created at all: run inline rather than never.
    auto task = std::move(m_queue.back());
    m_queue.pop_back();
    m_mutex.unlock();
    task();
    m_mutex.lock();
    return;
  }
  m_work.notify_one();
}

void ElasticPool::work() {
  std::unique_lock lock(m_mutex);
  for (;;) {
    ++m_idle;
    const bool woke = m_work.wait_for(lock, m_idle_exit,
                                      [this] { return m_shutdown || !m_queue.empty(); });
    --m_idle;
    if (m_queue.empty() && (m_shutdown || (!woke && m_threads > m_min))) break;
    if (m_queue.empty()) continue;
    auto task = std::move(m_queue.front());
    m_queue.pop_front();
    lock.unlock();
    try {
      task();
    } catch (...) { // tasks handle their own errors; never let one kill the pool
    }
    lock.lock();
  }
  --m_threads;
  m_exited.notify_all();
}

void ElasticPool::shutdown() {
  std::unique_lock lock(m_mutex);
  m_shutdown = true;
  m_work.notify_all();
  m_exited.wait(lock, [this] { return m_threads == 0; });
}

Executor::Executor(std::size_t workers, std::size_t queue_limit) : m_limit(queue_limit) {
  for (std::size_t i = 0; i < (workers < 1 ? 1 : workers); ++i)
    m_threads.emplace_back([this] { work(); });
}

Executor::~Executor() {
  {
    std::lock_guard lock(m_mutex);
    m_closed = true;
    m_stop = true;
  }
  m_work.notify_all();
  for (auto& t : m_threads) t.join();
}

void Executor::submit(std::function<void()> task) {
  {
    std::lock_guard lock(m_mutex);
    if (m_closed || m_queue.size() >= m_limit) throw errors::server_busy(m_queue.size());
    m_queue.push_back(std::move(task));
  }
  m_work.notify_one();
}

void Executor::work() {
  std::unique_lock lock(m_mutex);
  for (;;) {
    m_work.wait(lock, [this] { return m_stop || !m_queue.empty(); });
    if (m_queue.empty()) return; // stopping and nothing left
    auto task = std::move(m_queue.front());
    m_queue.pop_front();
    ++m_running;
    lock.unlock();
    try {
      task();
    } catch (...) { // tasks record their own failures; the executor must survive any of them
    }
    lock.lock();
    --m_running;
    if (m_queue.empty() && m_running == 0) m_idle.notify_all();
  }
}

bool Executor::drain(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(m_mutex);
  return m_idle.wait_until(lock, deadline, [this] { return m_queue.empty() && m_running == 0; });
}

void Executor::close() {
  std::lock_guard lock(m_mutex);
  m_closed = true;
}

std::size_t Executor::pending() const {
  std::lock_guard lock(m_mutex);
  return m_queue.size() + m_running;
}

} // namespace hearth::server

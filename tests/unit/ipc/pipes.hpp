// Test helpers for ipc: owned pipe pairs, a raw line-level endpoint, and waiting with deadlines.
#pragma once

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <fcntl.h>
#include <mutex>
#include <poll.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace ipc_test {

using namespace std::chrono_literals;

/// A pipe whose ends close on destruction (or earlier through close_read/close_write).
struct OwnedPipe {
  int read = -1;
  int write = -1;
  OwnedPipe() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    read = fds[0];
    write = fds[1];
  }
  ~OwnedPipe() {
    close_read();
    close_write();
  }
  OwnedPipe(const OwnedPipe&) = delete;
  OwnedPipe& operator=(const OwnedPipe&) = delete;
  void close_read() {
    if (read >= 0) ::close(read);
    read = -1;
  }
  void close_write() {
    if (write >= 0) ::close(write);
    write = -1;
  }
};

/// The far side of a Peer, driven by hand: it writes raw bytes and reads raw lines.
class RawEnd {
public:
  RawEnd(int read_fd, int write_fd) : m_read(read_fd), m_write(write_fd) {}

  void send(const std::string& bytes) const {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const auto wrote = ::write(m_write, bytes.data() + done, bytes.size() - done);
      REQUIRE(wrote > 0);
      done += static_cast<std::size_t>(wrote);
    }
  }

  void send_json(const nlohmann::json& message) const { send(message.dump() + "\n"); }

  /// The next line within `timeout`, or "" on EOF/timeout.
  std::string line(std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto newline = m_buffer.find('\n');
      if (newline != std::string::npos) {
        auto out = m_buffer.substr(0, newline);
        m_buffer.erase(0, newline + 1);
        return out;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd p{m_read, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      const auto got = ::read(m_read, chunk, sizeof chunk);
      if (got <= 0) return "";
      m_buffer.append(chunk, static_cast<std::size_t>(got));
    }
  }

  nlohmann::json message(std::chrono::milliseconds timeout = 10s) {
    const auto text = line(timeout);
    REQUIRE_MESSAGE(!text.empty(), "no message arrived");
    return nlohmann::json::parse(text);
  }

private:
  int m_read;
  int m_write;
  std::string m_buffer{};
};

/// A thread-safe list of received items to wait on with a deadline.
template <class T> class Inbox {
public:
  void push(T item) {
    {
      std::lock_guard lock(m_mutex);
      m_items.push_back(std::move(item));
    }
    m_cv.notify_all();
  }
  /// Waits until at least `count` items arrived; returns a copy of them all.
  std::vector<T> wait_for(std::size_t count, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(m_mutex);
    m_cv.wait_for(lock, timeout, [&] { return m_items.size() >= count; });
    return m_items;
  }
  std::vector<T> items() {
    std::lock_guard lock(m_mutex);
    return m_items;
  }

private:
  std::mutex m_mutex;
  std::condition_variable m_cv;
  std::vector<T> m_items{};
};

} // namespace ipc_test

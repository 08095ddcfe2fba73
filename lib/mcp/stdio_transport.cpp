// The stdio transport; see transports.hpp.
#include "mcp/transports.hpp"

#include "core/errors.hpp"
#include "core/process.hpp"
#include "core/signals.hpp"
#include "core/text.hpp"
#include "ipc/json_lines.hpp"

#include <atomic>
#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <deque>
#include <mutex>
#include <poll.h>
#include <sys/eventfd.h>
#include <thread>
#include <unistd.h>

namespace hearth::mcp {
namespace {
using nlohmann::json;

constexpr std::size_t k_stderr_tail_lines = 8;
constexpr std::size_t k_stderr_line_bytes = 2048;

class StdioTransport final : public Transport {
public:
  explicit StdioTransport(StdioSpec spec) : m_spec(std::move(spec)) {}
  ~StdioTransport() override {
    close();
    {
      std::lock_guard lock(m_join_mutex);
      if (m_reader.joinable()) {
        if (m_reader_id.load() == std::this_thread::get_id()) m_reader.detach();
        else m_reader.join();
      }
    }
    if (m_wake >= 0) ::close(m_wake);
  }

  void start(Sink sink, Closed closed, Closed failed) override {
    m_sink = std::move(sink);
    m_closed_cb = std::move(closed);
    m_failed_cb = std::move(failed);
    auto policy = m_spec.policy;
    if (!m_spec.cwd.empty()) policy.reads.push_back(m_spec.cwd);
    try {
      const std::function<std::unique_ptr<process::Process>()> spawn = [&] {
        // die_with_parent: a runtime killed with SIGKILL takes its servers along (the spawn runs
        // on the pool's long-lived spawner thread, see StdioSpec::spawn_on).
        return sandbox::start({.argv = m_spec.argv, .cwd = m_spec.cwd, .hearth_env = m_spec.env,
                               .die_with_parent = true},
                              policy);
      };
      m_process = m_spec.spawn_on ? m_spec.spawn_on(spawn) : spawn();
    } catch (const Error& e) {
      throw errors::mcp_connection_failed(m_spec.connection, e.info().message);
    }
    if (const int in = m_process->stdin_fd(); in >= 0)
      ::fcntl(in, F_SETFL, ::fcntl(in, F_GETFL) | O_NONBLOCK);
    m_wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    m_reader = std::thread([this] {
      m_reader_id = std::this_thread::get_id();
      read_loop();
    });
    m_reader_id = m_reader.get_id();
  }

  /// Writes one line without blocking past `timeout` or `cancel`: stdin is non-blocking and
  /// polled. A line cut in the middle leaves the stream unusable, so the session is then ended
  /// (the closed callback) and later sends fail.
  void send(const json& message, std::stop_token cancel, std::chrono::milliseconds timeout) override {
    const auto method = message.contains("method") && message["method"].is_string()
                            ? message["method"].get<std::string>()
                            : std::string("a reply");
    const auto line = ipc::encode_line(message);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(m_write_mutex, std::defer_lock);
    while (!lock.try_lock()) { // another writer holds the pipe: wait, within our own bounds
      if (cancel.stop_requested() || m_closing || std::chrono::steady_clock::now() >= deadline)
        throw errors::mcp_closed(m_spec.connection, method, "the server is not reading its stdin");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (m_closing || m_broken || !m_process || m_process->stdin_fd() < 0)
      throw errors::mcp_closed(m_spec.connection, method, "the server is not running");
    const int fd = m_process->stdin_fd();
    signals::SigpipeGuard guard;
    std::string_view data = line;
    std::string problem;
    while (!data.empty() && problem.empty()) {
      const auto wrote = ::write(fd, data.data(), data.size());
      if (wrote > 0) {
        data.remove_prefix(static_cast<std::size_t>(wrote));
        continue;
      }
      if (wrote < 0 && errno == EINTR) continue;
      if (!(wrote < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) {
        problem = "the server stopped reading its stdin";
        break;
      }
      const auto now = std::chrono::steady_clock::now();
      if (cancel.stop_requested() || m_closing) problem = "the write was stopped";
      else if (now >= deadline)
        problem = "the server did not read its stdin within " + std::to_string(timeout.count()) + " ms";
      if (!problem.empty()) break;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
      pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
      ::poll(&p, 1, static_cast<int>(std::clamp<long long>(left, 1, 50)));
    }
    if (problem.empty()) return;
    const bool partial = data.size() != line.size();
    if (partial || problem.find("did not read") != std::string::npos) {
      m_broken = true; // a half-written line (or a stuck server): the stream is unusable
      lock.unlock();
      if (!m_closing && m_closed_cb) m_closed_cb(problem);
    }
    throw errors::mcp_closed(m_spec.connection, method, problem);
  }

  /// A second caller waits for the first to finish stopping the server, then (unless it is the
  /// reader thread itself) for the reader thread to end, so nothing calls the sink afterwards.
  void close() noexcept override {
    m_closing = true;
    {
      std::lock_guard lock(m_close_mutex);
      if (!m_stopped) {
        m_stopped = true;
        stop_server();
      }
    }
    if (m_reader_id.load() == std::this_thread::get_id()) return; // the reader ends by itself
    std::lock_guard lock(m_join_mutex);
    if (m_reader.joinable()) m_reader.join();
  }

  void stop_server() noexcept {
    if (!m_process) return;
    try {
      m_process->close_stdin(); // the spec's shutdown: stdin closed, then signals
      if (!m_process->wait_for(std::chrono::milliseconds(300)))
        m_process->stop(std::chrono::milliseconds(300));
      else
        m_process->stop(std::chrono::milliseconds(0)); // the rest of its group
    } catch (...) {
    }
    if (m_wake >= 0) {
      const std::uint64_t one = 1;
      [[maybe_unused]] const auto n = ::write(m_wake, &one, sizeof one);
    }
  }

  json describe() const override {
    json j = {{"transport", "stdio"}};
    if (m_process) j["pid"] = m_process->pid();
    return j;
  }

private:
  void stderr_line(std::string line) {
    if (line.size() > k_stderr_line_bytes) line.resize(k_stderr_line_bytes);
    line = text::to_utf8(line);
    if (text::trim(line).empty()) return;
    if (m_spec.on_stderr) m_spec.on_stderr(line);
    std::lock_guard lock(m_tail_mutex);
    m_tail.push_back(std::move(line));
    if (m_tail.size() > k_stderr_tail_lines) m_tail.pop_front();
  }

  std::string tail() {
    std::lock_guard lock(m_tail_mutex);
    std::string out;
    for (const auto& l : m_tail) out += (out.empty() ? "" : "\n") + l;
    return out;
  }

  void read_loop() {
    ipc::LineSplitter lines("MCP server " + m_spec.connection, m_spec.max_line_bytes);
    std::string err_buffer;
    int out_fd = m_process->stdout_fd(), err_fd = m_process->stderr_fd();
    std::string reason;
    char chunk[65536];
    while (out_fd >= 0) {
      pollfd fds[3] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}, {m_wake, POLLIN, 0}};
      const int rc = ::poll(fds, 3, -1);
      if (rc < 0) {
        if (errno == EINTR) continue;
        reason = "poll failed";
        break;
      }
      if (fds[2].revents) return; // close(): the owner reports the end
      if (err_fd >= 0 && fds[1].revents) {
        const auto got = ::read(err_fd, chunk, sizeof chunk);
        if (got <= 0 && !(got < 0 && (errno == EINTR || errno == EAGAIN))) {
          err_fd = -1;
        } else if (got > 0) {
          err_buffer.append(chunk, static_cast<std::size_t>(got));
          for (auto nl = err_buffer.find('\n'); nl != std::string::npos; nl = err_buffer.find('\n')) {
            stderr_line(err_buffer.substr(0, nl));
            err_buffer.erase(0, nl + 1);
          }
          if (err_buffer.size() > k_stderr_line_bytes) {
            stderr_line(err_buffer);
            err_buffer.clear();
          }
        }
      }
      if (!fds[0].revents) continue;
      const auto got = ::read(out_fd, chunk, sizeof chunk);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) {
        out_fd = -1;
        break;
      }
      std::string problem;
      try {
        lines.feed(std::string_view(chunk, static_cast<std::size_t>(got)));
        while (auto line = lines.next()) {
          if (m_closing) return; // close(): nothing more is dispatched
          if (text::trim(*line).empty()) continue;
          json message = ipc::decode_line(*line, "MCP server " + m_spec.connection);
          m_sink(std::move(message), json());
        }
      } catch (const Error& e) {
        problem = e.info().message; // not JSON or an oversized line
      } catch (const std::exception& e) {
        problem = std::string("a message hearth could not handle: ") + e.what();
      } catch (...) {
        problem = "a message hearth could not handle";
      }
      if (!problem.empty()) {
        // Reported out of band: the owner closes the session (fail closed).
        if (!m_closing && m_failed_cb) m_failed_cb(problem);
        return;
      }
    }
    if (m_closing) return;
    if (!err_buffer.empty()) stderr_line(err_buffer);
    const auto status = m_process->wait_for(std::chrono::milliseconds(500));
    if (reason.empty())
      reason = status ? "the server exited (" + status->describe() + ")"
                      : std::string("the server closed its stdout");
    // The server's stderr went to the runtime log line by line (on_stderr); it stays out of the
    // reason, which reaches the model and /eve/v1/info: a server's words are not hearth's.
    if (const auto last = tail(); !last.empty()) {
      if (m_spec.log) m_spec.log("warn", reason + "; its stderr ended with:\n" + last);
      reason += "; see the runtime log for its stderr";
    }
    m_closed_cb(reason);
  }

  StdioSpec m_spec;
  Sink m_sink{};
  Closed m_closed_cb{};
  Closed m_failed_cb{};
  std::unique_ptr<process::Process> m_process{};
  std::mutex m_write_mutex;
  std::atomic<bool> m_closing{false};
  std::atomic<bool> m_broken{false}; // a write failed half-way or timed out
  std::mutex m_close_mutex; // held while stopping the server
  bool m_stopped = false;   // under m_close_mutex
  std::mutex m_join_mutex;  // held while joining the reader
  std::atomic<std::thread::id> m_reader_id{};
  int m_wake = -1;
  std::thread m_reader{};
  std::mutex m_tail_mutex;
  std::deque<std::string> m_tail{};
};

} // namespace

std::unique_ptr<Transport> make_stdio_transport(StdioSpec spec) {
  return std::make_unique<StdioTransport>(std::move(spec));
}

} // namespace hearth::mcp

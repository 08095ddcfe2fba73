// `hearth mcp` over stdio; see server_stdio.hpp.
#include "mcp/server_stdio.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"
#include "core/process.hpp"
#include "core/signals.hpp"
#include "ipc/json_lines.hpp"
#include "ipc/rpc.hpp"
#include "runtime/runtime.hpp"

#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <functional>
#include <iostream>
#include <list>
#include <mutex>
#include <poll.h>
#include <thread>
#include <unistd.h>

namespace hearth::mcp {
namespace {
using nlohmann::json;

/// Writes whole lines to the protocol fd; a reader that went away makes later writes no-ops.
class Writer {
public:
  explicit Writer(int fd) : m_fd(fd) {}
  void send(const json& message) {
    const auto line = ipc::encode_line(message);
    std::lock_guard lock(m_mutex);
    if (m_broken)
      return;
    signals::SigpipeGuard guard;
    std::size_t done = 0;
    while (done < line.size()) {
      const auto n = ::write(m_fd, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        m_broken = true;
        return;
      }
      done += static_cast<std::size_t>(n);
    }
  }

private:
  int m_fd;
  std::mutex m_mutex;
  bool m_broken = false;
};

struct Worker {
  std::thread thread;
  std::shared_ptr<std::atomic<bool>> done;
};

} // namespace

int serve_stdio(runtime::Runtime& runtime, const Caller& caller) {
  signals::SignalPipe signal_pipe;
  // The protocol gets a private copy of stdout; fd 1 then points at stderr (as the runtime
  // child's stdio server does), so a stray write lands in the log, never in the protocol.
  const int protocol_out = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  Writer writer(protocol_out);
  Session session(runtime, caller);
  std::list<Worker> workers;
  auto reap = [&workers](bool all) {
    for (auto it = workers.begin(); it != workers.end();) {
      if (all || it->done->load()) {
        it->thread.join();
        it = workers.erase(it);
      } else {
        ++it;
      }
    }
  };
  // Whatever way the loop ends, no call thread is left running (a joinable std::thread would
  // terminate the process).
  struct JoinAll {
    Session& session;
    std::function<void(bool)> reap;
    ~JoinAll() {
      session.close();
      reap(true);
    }
  } join_all{session, reap};
  const Emit emit = [&writer](const json& m) { writer.send(m); };
  auto dispatch = [&](const json& message) {
    const bool call = message.is_object() &&
                      message.value("method", json()) == json("tools/call") &&
                      message.contains("id");
    if (call && workers.size() >= k_max_calls_per_session) {
      // Every slot has a thread (finished ones are reaped between reads): refuse at once. A call
      // must never run on this loop, which reads cancellations, pings and signals.
      writer.send(ipc::error_reply(
          message["id"],
          std::make_exception_ptr(errors::mcp_calls_busy(k_max_calls_per_session))));
      return;
    }
    if (!call) {
      if (auto reply = session.handle(message, std::nullopt, emit))
        writer.send(*reply);
      return;
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    workers.push_back({std::thread([&session, &writer, emit, message, done] {
                         try {
                           if (auto reply = session.handle(message, std::nullopt, emit))
                             writer.send(*reply);
                         } catch (...) { // handle() does not throw; a failing write is ignored
                         }
                         done->store(true);
                       }),
                       done});
  };

  std::string buffer;
  char chunk[65536];
  int signo = 0;
  for (;;) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {signal_pipe.fd(), POLLIN, 0}};
    const int ready = ::poll(fds, 2, 200);
    reap(false);
    if (ready < 0 && errno != EINTR)
      break;
    if (ready <= 0)
      continue;
    if (fds[1].revents != 0) {
      if (const auto s = signal_pipe.take()) {
        signo = *s;
        break;
      }
    }
    if (fds[0].revents == 0)
      continue;
    const auto n = ::read(STDIN_FILENO, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (n <= 0)
      break; // EOF (or a dead stdin): the client is gone
    buffer.append(chunk, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (auto nl = buffer.find('\n'); nl != std::string::npos; nl = buffer.find('\n', start)) {
      std::string_view line(buffer.data() + start, nl - start);
      start = nl + 1;
      if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
      if (line.find_first_not_of(" \t") == std::string_view::npos)
        continue;
      const auto message = hearth::parse_json_or_discarded(line);
      if (message.is_discarded()) {
        writer.send(ipc::make_error(nullptr, ipc::code::parse_error, "Parse error"));
        continue;
      }
      dispatch(message);
    }
    buffer.erase(0, start);
    if (buffer.size() > k_max_stdio_line) {
      throw errors::mcp_stdio_line_too_long(k_max_stdio_line);
    }
  }
  if (signo != 0) {
    // As the runtime child does on a signal: runs end cancelled before their tools are stopped,
    // then every tool/script process group goes; workers may be mid-turn, the store is consistent.
    session.close();
    runtime.cancel_active_runs("hearth mcp received signal " + std::to_string(signo) + ".");
    process::stop_all_groups();
    std::cerr << std::flush;
    ::_exit(128 + signo);
  }
  // EOF: the client is gone. Calls in flight are cancelled (turns give up within about a
  // second) and waited for, so no tool outlives us.
  session.close();
  reap(true);
  runtime.cancel_active_runs("The MCP client closed stdin.");
  ::close(protocol_out);
  return 0;
}

} // namespace hearth::mcp

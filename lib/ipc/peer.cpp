// ipc::Peer: reader thread (parse, route), writer thread (queue -> fd, started on first need),
// workers (request handlers).
// See peer.hpp for the threading contract and docs/ipc.md for the wire format.
#include "ipc/peer.hpp"
#include "core/json.hpp"

#include "core/errors.hpp"
#include "core/signals.hpp"
#include "core/text.hpp"

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <system_error>
#include <unistd.h>

namespace hearth::ipc {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// One pending request. Failures are kept by value and thrown as copies by the waiting thread, so
// no exception object is shared between threads.
struct Peer::Call {
  std::string method{};
  NotificationHandler on_notification{};
  bool done = false;
  json result{};
  std::optional<RemoteError> remote{}; // an error reply
  std::optional<Error> failure{};      // the connection ended
  std::condition_variable cv{};
};

namespace {

int make_eventfd() {
  const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) throw errors::internal_error(std::string("eventfd: ") + std::strerror(errno));
  return fd;
}

void signal_eventfd(int fd) {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto ignored = ::write(fd, &one, sizeof one);
}

int set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  return flags;
}

bool valid_id(const json& id) { return id.is_string() || id.is_number() || id.is_null(); }

} // namespace

Peer::Peer(int read_fd, int write_fd, PeerOptions options)
    : m_read_fd(read_fd), m_write_fd(write_fd), m_options(std::move(options)) {
  m_wake_fd = make_eventfd();
  m_writer_wake_fd = make_eventfd();
  m_read_flags = set_nonblocking(m_read_fd);
  m_write_flags = m_write_fd == m_read_fd ? m_read_flags : set_nonblocking(m_write_fd);
}

Peer::~Peer() {
  close();
  if (m_reader.joinable()) m_reader.join();
  {
    std::lock_guard lock(m_work_mutex);
    m_work_stopping = true;
  }
  m_work_cv.notify_all();
  for (auto& worker : m_workers) worker.join(); // their replies are queued before the writer stops
  {
    std::lock_guard lock(m_out_mutex);
    m_out_stopping = true;
    m_flush_deadline = Clock::now() + m_options.flush_timeout;
  }
  m_out_cv.notify_all();
  signal_eventfd(m_writer_wake_fd);
  if (m_writer.joinable()) m_writer.join();
  if (m_read_flags >= 0) ::fcntl(m_read_fd, F_SETFL, m_read_flags);
  if (m_write_flags >= 0) ::fcntl(m_write_fd, F_SETFL, m_write_flags);
  ::close(m_wake_fd);
  ::close(m_writer_wake_fd);
}

void Peer::on_request(const std::string& method, RequestHandler handler) {
  std::lock_guard lock(m_mutex);
  m_request_handlers[method] = std::move(handler);
}

void Peer::on_notification(const std::string& method, NotificationHandler handler) {
  std::lock_guard lock(m_mutex);
  m_notification_handlers[method] = std::move(handler);
}

void Peer::on_any_notification(NotificationHandler handler) {
  std::lock_guard lock(m_mutex);
  m_any_notification = std::move(handler);
}

void Peer::start() {
  if (m_started.exchange(true)) throw errors::internal_error("ipc::Peer::start called twice");
  m_reader = std::thread([this] { read_loop(); });
}

void Peer::run() {
  if (m_started.exchange(true)) throw errors::internal_error("ipc::Peer::run called after start");
  read_loop();
}

json Peer::request(std::string_view method, json params, CallOptions options) {
  if (!m_started) throw errors::internal_error("ipc::Peer::request called before start()");
  auto call = std::make_shared<Call>();
  call->method = std::string(method);
  call->on_notification = std::move(options.on_notification);
  std::int64_t id = 0;
  {
    std::lock_guard lock(m_mutex);
    // A peer closed by an error (a garbage line read before this request) reports that error,
    // as the calls pending at the time got it, whichever came first.
    if (m_closed && m_close_error) throw Error(m_close_error->info());
    if (m_closed) throw errors::ipc_closed(m_options.name, method, *m_close_reason);
    id = ++m_next_id;
    m_pending[id] = call;
  }
  const bool queued = enqueue(make_request(id, method, params));
  std::unique_lock lock(m_mutex);
  if (!queued && !call->done) {
    m_pending.erase(id);
    throw errors::ipc_closed(m_options.name, method, "the connection can no longer be written");
  }
  const auto timeout = options.timeout.count() > 0 ? options.timeout : m_options.default_timeout;
  const auto done = [&] { return call->done; };
  if (timeout.count() > 0) {
    if (!call->cv.wait_for(lock, timeout, done)) {
      m_pending.erase(id); // a late reply finds no call and is dropped
      throw errors::ipc_timeout(m_options.name, method, timeout.count());
    }
  } else {
    call->cv.wait(lock, done);
  }
  // Rebuilt from their fields: a copied runtime_error would share its refcounted message string
  // with the reader thread's object.
  const auto& remote = call->remote;
  if (remote)
    throw RemoteError(remote->info(), remote->code(), remote->remote_message(), remote->data());
  if (call->failure) throw Error(call->failure->info());
  return std::move(call->result);
}

bool Peer::notify(std::string_view method, json params) {
  return enqueue(make_notification(method, params));
}

bool Peer::notify_tagged(const json& request_id, std::string_view method, json params) {
  if (params.is_null()) params = json::object();
  if (!params.is_object())
    throw errors::internal_error("ipc::Peer::notify_tagged needs object params");
  params[std::string(k_request_id_key)] = request_id;
  return enqueue(make_notification(method, params));
}

void Peer::close() {
  fail_all("the connection was closed on this side");
  signal_eventfd(m_wake_fd);
}

bool Peer::is_closed() const {
  std::lock_guard lock(m_mutex);
  return m_closed;
}

std::optional<std::string> Peer::close_reason() const {
  std::lock_guard lock(m_mutex);
  return m_close_reason;
}

bool Peer::wait_closed(std::chrono::milliseconds timeout) {
  std::unique_lock lock(m_mutex);
  return m_closed_cv.wait_for(lock, timeout, [this] { return m_closed; });
}

void Peer::fail_all(const std::string& reason, const std::optional<Error>& error) {
  std::map<std::int64_t, std::shared_ptr<Call>> pending;
  {
    std::lock_guard lock(m_mutex);
    if (!m_closed) {
      m_closed = true;
      m_close_reason = reason;
      m_close_error = error;
    }
    pending.swap(m_pending);
    for (auto& [id, call] : pending) {
      call->failure =
          error ? *error : errors::ipc_closed(m_options.name, call->method, *m_close_reason);
      call->done = true;
      call->cv.notify_all();
    }
  }
  m_closed_cv.notify_all();
}

void Peer::diagnostic(std::string_view text) const {
  if (m_options.on_diagnostic) m_options.on_diagnostic(text);
}

// --- reading -----------------------------------------------------------------------------------

void Peer::read_loop() {
  LineSplitter splitter(m_options.name, m_options.max_line_bytes);
  std::vector<char> buffer(64 * 1024);
  try {
    for (;;) {
      std::array<pollfd, 2> fds{{{m_read_fd, POLLIN, 0}, {m_wake_fd, POLLIN, 0}}};
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        throw errors::internal_error(std::string("poll: ") + std::strerror(errno));
      }
      if (fds[1].revents != 0) return; // close(): the reason is already recorded
      const auto got = ::read(m_read_fd, buffer.data(), buffer.size());
      if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (got <= 0) {
        std::string reason = got == 0
                                 ? "it closed its output"
                                 : "reading failed (" + std::string(std::strerror(errno)) + ")";
        if (!text::trim(splitter.partial()).empty()) reason += " in the middle of a message";
        if (m_options.describe_eof) {
          const auto exit = m_options.describe_eof();
          if (!exit.empty()) reason += "; " + exit;
        }
        fail_all(reason);
        return;
      }
      splitter.feed(std::string_view(buffer.data(), static_cast<std::size_t>(got)));
      while (auto line = splitter.next()) handle_line(*line);
    }
  } catch (const Error& e) {
    // A protocol error ends the connection: tell the other side (best effort), fail our calls.
    enqueue(make_error(nullptr, code::parse_error, e.what()));
    fail_all(e.what(), e);
  } catch (const std::exception& e) {
    fail_all(std::string("the reader failed: ") + e.what());
  }
}

void Peer::handle_line(const std::string& line) {
  if (text::trim(line).empty()) return; // tolerate blank lines between messages
  handle_message(decode_line(line, m_options.name));
}

void Peer::handle_message(json message) {
  const json id = message.contains("id") && valid_id(message["id"]) ? message["id"] : json(nullptr);
  const auto invalid = [&](const std::string& why) {
    diagnostic("invalid message from " + m_options.name + ": " + why);
    enqueue(make_error(id, code::invalid_request, "Invalid Request: " + why));
  };
  if (message.contains("jsonrpc") && message["jsonrpc"] != k_version)
    return invalid("\"jsonrpc\" must be \"2.0\"");
  if (message.contains("method")) {
    if (!message["method"].is_string()) return invalid("\"method\" must be a string");
    json params = message.contains("params") ? std::move(message["params"]) : json(nullptr);
    if (!params.is_null() && !params.is_structured())
      return invalid("\"params\" must be an object or an array");
    auto method = message["method"].get<std::string>();
    if (!message.contains("id"))
      return handle_notification({.method = std::move(method), .params = std::move(params)});
    if (!valid_id(message["id"])) return invalid("\"id\" must be a string, a number or null");
    return dispatch_request({.id = id, .method = std::move(method), .params = std::move(params)});
  }
  if (message.contains("result") || message.contains("error")) return handle_reply(message);
  invalid("a message needs \"method\", \"result\" or \"error\"");
}

void Peer::handle_reply(const json& message) {
  const json id = message.value("id", json(nullptr));
  std::lock_guard lock(m_mutex);
  const auto it = id.is_number_integer() ? m_pending.find(id.get<std::int64_t>()) : m_pending.end();
  if (it == m_pending.end()) {
    diagnostic("dropped a reply from " + m_options.name + " with unknown or expired id " +
               hearth::dump_json(id));
    return;
  }
  auto call = it->second;
  m_pending.erase(it);
  if (message.contains("error"))
    call->remote = remote_error(m_options.name, call->method, message["error"]);
  else
    call->result = message["result"];
  call->done = true;
  call->cv.notify_all();
}

void Peer::handle_notification(Notification notification) {
  NotificationHandler handler;
  {
    std::lock_guard lock(m_mutex);
    const auto& params = notification.params;
    const std::string tag(k_request_id_key);
    if (params.is_object() && params.contains(tag) && params[tag].is_number_integer()) {
      const auto it = m_pending.find(params[tag].get<std::int64_t>());
      if (it != m_pending.end()) handler = it->second->on_notification;
    }
    if (!handler) {
      const auto it = m_notification_handlers.find(notification.method);
      handler = it != m_notification_handlers.end() ? it->second : m_any_notification;
    }
  }
  if (!handler) {
    diagnostic("ignored notification `" + notification.method + "` from " + m_options.name);
    return;
  }
  try {
    handler(notification);
  } catch (const std::exception& e) {
    diagnostic("notification handler for `" + notification.method + "` failed: " + e.what());
  }
}

// --- request handlers --------------------------------------------------------------------------

void Peer::dispatch_request(Request request) {
  RequestHandler handler;
  {
    std::lock_guard lock(m_mutex);
    const auto it = m_request_handlers.find(request.method);
    if (it != m_request_handlers.end()) handler = it->second;
  }
  if (!handler) {
    enqueue(make_error(request.id, code::method_not_found, "Method not found: " + request.method));
    return;
  }
  std::lock_guard lock(m_work_mutex);
  if (m_work_stopping) return;
  m_work.emplace_back(std::move(request), std::move(handler));
  // One worker per queued request: a handler blocked on a nested request must never hold up
  // another incoming request (that could be the one it waits for).
  if (m_work.size() > m_idle_workers)
    m_workers.emplace_back([this] { work_loop(); });
  else
    m_work_cv.notify_one();
}

void Peer::work_loop() {
  for (;;) {
    std::unique_lock lock(m_work_mutex);
    ++m_idle_workers;
    m_work_cv.wait(lock, [this] { return m_work_stopping || !m_work.empty(); });
    --m_idle_workers;
    if (m_work_stopping) return;
    auto [request, handler] = std::move(m_work.front());
    m_work.pop_front();
    lock.unlock();
    json reply;
    try {
      reply = make_result(request.id, handler(request));
    } catch (...) {
      reply = error_reply(request.id, std::current_exception());
    }
    enqueue(reply);
  }
}

// --- writing -----------------------------------------------------------------------------------

bool Peer::enqueue(const json& message) {
  auto line = encode_line(message);
  {
    std::unique_lock lock(m_out_mutex);
    if (m_out_stopping || m_out_failed) return false;
    if (m_out.empty() && !m_writing) {
      // Fast path: nothing is queued or being written, so write here without blocking (the fd is
      // O_NONBLOCK) and save two thread hand-offs; whatever the pipe does not take is queued.
      signals::SigpipeGuard guard;
      const auto wrote = ::write(m_write_fd, line.data(), line.size());
      if (wrote == static_cast<ssize_t>(line.size())) return true;
      if (wrote > 0) line.erase(0, static_cast<std::size_t>(wrote));
      // On an error the writer thread retries, sees the same error and closes the peer.
    }
    m_out.push_back(std::move(line));
    // The writer thread starts with the first message the fd does not take at once: most
    // conversations (a `hearth run`, a warm connection) never fill the pipe and never need it.
    if (!m_writer.joinable()) {
      try {
        m_writer = std::thread([this] { write_loop(); });
      } catch (const std::system_error&) {
        m_out_failed = true;
        m_out.clear();
      }
    }
    if (m_out_failed) {
      lock.unlock();
      fail_all("no thread could be started to write to it");
      return false;
    }
  }
  m_out_cv.notify_one();
  return true;
}

void Peer::write_loop() {
  // This thread only writes: keep SIGPIPE blocked for its whole life so a dead reader gives EPIPE.
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);
  for (;;) {
    std::string batch;
    {
      std::unique_lock lock(m_out_mutex);
      m_out_cv.wait(lock, [this] { return m_out_stopping || !m_out.empty(); });
      if (m_out.empty()) return;
      while (!m_out.empty() && batch.size() < (1u << 20)) { // batch small lines into one write
        batch += m_out.front();
        m_out.pop_front();
      }
      m_writing = true; // keeps enqueue's fast path from overtaking this batch
    }
    const int error = write_bytes(batch);
    {
      std::lock_guard lock(m_out_mutex);
      m_writing = false;
      if (error == 0) continue;
      m_out_failed = true;
      m_out.clear();
    }
    if (error > 0)
      fail_all("writing to it failed (" + std::string(std::strerror(error)) + ")");
    return;
  }
}

// Writes all of `data`; 0 when done, an errno on failure, -1 when the flush deadline passed.
int Peer::write_bytes(std::string_view data) {
  while (!data.empty()) {
    const auto wrote = ::write(m_write_fd, data.data(), data.size());
    if (wrote > 0) {
      data.remove_prefix(static_cast<std::size_t>(wrote));
      continue;
    }
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return errno;
    bool stopping = false;
    Clock::time_point deadline{};
    {
      std::lock_guard lock(m_out_mutex);
      stopping = m_out_stopping;
      deadline = m_flush_deadline;
    }
    if (stopping) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return -1;
      pollfd p{m_write_fd, POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));
    } else {
      std::array<pollfd, 2> fds{{{m_write_fd, POLLOUT, 0}, {m_writer_wake_fd, POLLIN, 0}}};
      ::poll(fds.data(), fds.size(), -1);
    }
  }
  return 0;
}

} // namespace hearth::ipc

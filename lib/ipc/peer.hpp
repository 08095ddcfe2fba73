// ipc::Peer: one JSON-RPC 2.0 endpoint over a pair of fds with newline-delimited JSON framing
// (docs/ipc.md). It serves CLI <-> runtime, runtime <-> workflow scripts, runtime <-> MCP servers.
#pragma once

#include "ipc/json_lines.hpp"
#include "ipc/rpc.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace hearth::ipc {

/// An incoming request; `id` is the sender's (number or string), echoed in the reply.
struct Request {
  nlohmann::json id{};
  std::string method{};
  nlohmann::json params{}; // null when the message had none
};

/// An incoming notification (a message without id).
struct Notification {
  std::string method{};
  nlohmann::json params{};
};

/// Returns the result of a request, or throws (see error_reply in rpc.hpp for the mapping).
using RequestHandler = std::function<nlohmann::json(const Request&)>;
using NotificationHandler = std::function<void(const Notification&)>;

struct PeerOptions {
  std::string name = "the other side"; // the other side in messages: "the runtime", "MCP server x"
  std::size_t max_line_bytes = k_max_line_bytes;
  std::chrono::milliseconds default_timeout{0};  // request() timeout when none is given; 0 = none
  std::chrono::milliseconds flush_timeout{1000}; // how long ~Peer tries to write queued messages
  std::function<std::string()> describe_eof{};   // appended at EOF, e.g. "it exited with signal 9"
  std::function<void(std::string_view)> on_diagnostic{}; // dropped messages, late replies, ...
};

struct CallOptions {
  std::chrono::milliseconds timeout{0}; // 0: PeerOptions::default_timeout
  NotificationHandler on_notification{}; // notifications with params.requestId == this request's id
};

/// A JSON-RPC endpoint. Register handlers, then start(). A reader thread parses incoming lines in
/// order: replies complete their request(); notifications run their handler on the reader thread
/// (in arrival order; they must not wait on this peer); requests run on worker threads (one per
/// concurrently running request, reused), so a handler may itself call request() on this peer
/// (nested traffic) without deadlock. Sends are thread-safe and never block the caller on a full
/// pipe: a message is written at once when nothing is queued, else queued for the writer thread,
/// which starts with the first message the fd does not take at once.
/// EOF, a protocol error (bad JSON, oversized line) or a write failure closes the peer and fails
/// every pending request (errors::ipc_closed, or the ipc_protocol_error itself). Both fds are
/// switched to O_NONBLOCK (restored by the destructor); they are not owned and must outlive it.
class Peer {
public:
  Peer(int read_fd, int write_fd, PeerOptions options = {});
  /// Closes, joins the reader and the workers (running handlers must return), then writes what is
  /// queued for up to flush_timeout.
  ~Peer();
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  /// Handles requests for `method` (replacing an earlier handler). Unknown methods get -32601.
  void on_request(const std::string& method, RequestHandler handler);

  /// Handles notifications for `method`; others go to the fallback, else on_diagnostic.
  void on_notification(const std::string& method, NotificationHandler handler);

  /// Handles notifications no method handler took.
  void on_any_notification(NotificationHandler handler);

  /// Starts the reader thread. Call once, after registering handlers.
  void start();

  /// Instead of start(): reads on the calling thread until the connection ends (EOF, a
  /// protocol or read error, or close() from another thread, e.g. a handler's), then returns.
  /// For a thread that would otherwise only wait for the end, such as the warm server's
  /// connection thread. Call once, after registering handlers.
  void run();

  /// Sends a request and blocks until its reply. Returns `result`; throws RemoteError for an
  /// `error` reply, errors::ipc_timeout after the timeout (a late reply is then dropped),
  /// errors::ipc_closed when the connection ends first or is already closed.
  nlohmann::json request(std::string_view method, nlohmann::json params = nlohmann::json::object(),
                         CallOptions options = {});

  /// Queues a notification. Returns false when the connection can no longer write.
  bool notify(std::string_view method, nlohmann::json params = nlohmann::json::object());

  /// Queues a notification tagged with `request_id` (params.requestId, params must be an object),
  /// e.g. the `event` notifications a `workflow.run` handler streams before its reply.
  bool notify_tagged(const nlohmann::json& request_id, std::string_view method,
                     nlohmann::json params);

  /// Closes the connection from our side: stops reading and fails pending requests. Idempotent.
  void close();

  /// True once EOF, an error or close() ended the connection.
  bool is_closed() const;

  /// Why the connection ended, once it has.
  std::optional<std::string> close_reason() const;

  /// Blocks until the connection ends or `timeout` passes; true when closed.
  bool wait_closed(std::chrono::milliseconds timeout);

private:
  struct Call;
  void read_loop();
  void write_loop();
  void work_loop();
  void handle_line(const std::string& line);
  void handle_message(nlohmann::json message);
  void handle_reply(const nlohmann::json& message);
  void handle_notification(Notification notification);
  void dispatch_request(Request request);
  bool enqueue(const nlohmann::json& message);
  int write_bytes(std::string_view data);
  void fail_all(const std::string& reason, const std::optional<Error>& error = std::nullopt);
  void diagnostic(std::string_view text) const;

  int m_read_fd;
  int m_write_fd;
  int m_wake_fd = -1;        // eventfd: readable once close() stops the reader
  int m_writer_wake_fd = -1; // eventfd: readable once ~Peer stops the writer
  int m_read_flags = 0;
  int m_write_flags = 0;
  PeerOptions m_options;

  mutable std::mutex m_mutex; // handlers, pending calls, closed state
  std::condition_variable m_closed_cv;
  std::map<std::string, RequestHandler, std::less<>> m_request_handlers{};
  std::map<std::string, NotificationHandler, std::less<>> m_notification_handlers{};
  NotificationHandler m_any_notification{};
  std::map<std::int64_t, std::shared_ptr<Call>> m_pending{};
  std::int64_t m_next_id = 0;
  bool m_closed = false;
  std::optional<std::string> m_close_reason{};
  std::optional<Error> m_close_error{}; // what closed it, when that was an error (protocol, read)

  std::mutex m_out_mutex; // outgoing queue
  std::condition_variable m_out_cv;
  std::deque<std::string> m_out{};
  bool m_out_stopping = false;
  bool m_out_failed = false;
  bool m_writing = false; // the writer thread holds a batch it has not finished writing
  std::chrono::steady_clock::time_point m_flush_deadline{};

  std::mutex m_work_mutex; // incoming requests waiting for a worker
  std::condition_variable m_work_cv;
  std::deque<std::pair<Request, RequestHandler>> m_work{};
  std::size_t m_idle_workers = 0;
  bool m_work_stopping = false;
  std::vector<std::thread> m_workers{};

  std::thread m_reader{};
  std::thread m_writer{};
  std::atomic<bool> m_started{false};
};

} // namespace hearth::ipc

// The HTTP server: Boost.Beast's request parser over Asio (the only file that includes them), one
// coroutine per connection on a strand, handlers on an elastic pool, parked readers as timers plus
// store watches (no thread each), an exception handler rendering the error catalogue, security
// headers on every response, and a bounded graceful shutdown. See server.hpp and docs/http.md.
#include "server/server.hpp"

#include "core/errors.hpp"
#include "mcp/connections.hpp"
#include "runtime/runtime.hpp"
#include "server/context.hpp"
#include "store/store.hpp"
#include "triggers/channel_config.hpp"
#include "triggers/dispatcher.hpp"
#include "triggers/scheduler.hpp"

#include <cstdlib>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <condition_variable>
#include <cstdio>
#include <linux/filter.h>
#include <mutex>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unordered_set>

namespace hearth::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

constexpr int k_io_threads = 2;
constexpr std::size_t k_step_threads = 2;
constexpr std::size_t k_watch_buffer_cap = 64u << 10; // bytes read ahead while a reader is parked
constexpr std::size_t k_linger_bytes = 8u << 20; // least discarded after an early error answer

/// Parked readers each hold a socket: lift the soft descriptor limit to the hard one.
void raise_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

/// Steers every new connection of the SO_REUSEPORT group to the socket at index 1 (the newest
/// generation while a reload overlaps two; out of range, the kernel falls back to its hash). A
/// listener that closes resets the connections queued on it, so the retiring generation must
/// stop receiving them before it closes: with this, `hearth dev` reloads drop no connection.
void steer_to_newest(int listen_fd) {
  sock_filter code[] = {BPF_STMT(BPF_LD | BPF_W | BPF_IMM, 1), BPF_STMT(BPF_RET | BPF_A, 0)};
  sock_fprog prog{.len = 2, .filter = code};
  ::setsockopt(listen_fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog);
}

/// A parse error of the request itself (answered 400), not EOF or a transport error.
bool is_parse_error(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

std::string reason_phrase(int status) {
  const auto reason = bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(status)));
  return reason.empty() ? std::string("Unknown") : std::string(reason);
}

/// One connection: its stream, read buffer and the state a parked reader shares with the socket
/// watch and shutdown (all touched on the connection's strand only).
struct Conn {
  explicit Conn(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::shared_ptr<asio::steady_timer> park{}; // the current wait of a parked reader
  bool idle = false;       // waiting for the first byte of the next request
  bool watching = false;   // a read is pending to notice the peer closing
  bool stop_watch = false; // that read is being cancelled on purpose
  bool peer_gone = false;
  std::atomic<bool> gone{false}; // peer_gone, readable off the strand (skips queued steps)
};

/// Runs `fn` on `pool` and resumes the coroutine on its own executor afterwards. `fn` must not
/// throw.
template <class Fn>
asio::awaitable<void> offload(ElasticPool& pool, Fn fn) {
  co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
      [&pool, &fn](auto handler) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        pool.enqueue([shared, &fn] {
          fn();
          auto ex = asio::get_associated_executor(*shared);
          asio::post(ex, [shared]() mutable { (*shared)(); });
        });
      },
      asio::use_awaitable);
}

} // namespace

class ServerImpl {
public:
  ServerImpl(runtime::Runtime& runtime, ServerOptions options)
      : m_options(std::move(options)),
        m_auth(m_options.auth ? m_options.auth : std::make_shared<const auth::Config>()),
        m_ctx{runtime, m_options, m_executor, m_stopping, *m_auth}, // m_executor: bound, built next
        m_executor(m_options.run_workers, m_options.run_queue),
        m_handlers(4, std::max<std::size_t>(8, m_options.handler_threads)),
        m_steps(k_step_threads, k_step_threads) {
    raise_fd_limit();
    mount_triggers();
    mount_flue(m_router, m_ctx);
    mount_eve(m_router, m_ctx);
    mount_mcp(m_router, m_ctx);
    mount_channels(m_router, m_ctx, m_channels);
  }

  ~ServerImpl() {
    if (m_dispatcher) m_dispatcher->stop();
    if (m_scheduler) m_scheduler->stop();
    if (m_acceptor && !m_stopped) shutdown(std::chrono::seconds(10));
    m_io.stop();
    if (m_serving.joinable()) m_serving.join();
  }

  int bind() {
    error_code ec;
    tcp::resolver resolver(m_io);
    const auto results = resolver.resolve(m_options.host, std::to_string(m_options.port),
                                          tcp::resolver::passive, ec);
    if (ec || results.empty())
      throw errors::server_bind_failed(m_options.host, m_options.port,
                                       ec ? ec.message() : "no address");
    const tcp::endpoint endpoint = results.begin()->endpoint();
    m_acceptor.emplace(m_io);
    m_acceptor->open(endpoint.protocol(), ec);
    if (!ec) m_acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && m_options.reuse_port) {
      int yes = 1;
      if (::setsockopt(m_acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &yes, sizeof yes))
        ec = error_code(errno, boost::system::system_category());
    }
    if (!ec) m_acceptor->bind(endpoint, ec);
    if (!ec) m_acceptor->listen(SOMAXCONN, ec);
    if (ec) {
      m_acceptor.reset();
      throw errors::server_bind_failed(m_options.host, m_options.port, ec.message());
    }
    if (m_options.reuse_port) steer_to_newest(m_acceptor->native_handle()); // after joining
    m_port = m_acceptor->local_endpoint().port();
    start_triggers(); // only once the port is ours: a failed second `hearth start` runs nothing
    return m_port;
  }

  void serve() {
    asio::co_spawn(m_io, accept_loop(), asio::detached);
    std::vector<std::thread> extra;
    for (int i = 1; i < k_io_threads; ++i) extra.emplace_back([this] { m_io.run(); });
    m_io.run();
    for (auto& t : extra) t.join();
  }

  void start() {
    bind();
    // OAuth consent of connections (issue 13 §4) comes back to this server's callback route:
    // HEARTH_PUBLIC_URL when hearth is reached through a proxy, else the listening URL.
    if (const auto& pool = m_ctx.runtime.context().connections) {
      const char* public_url = std::getenv("HEARTH_PUBLIC_URL");
      pool->set_callback_base(public_url && *public_url ? std::string(public_url) : url());
    }
    m_serving = std::thread([this] { serve(); });
  }

  std::size_t resume_abandoned_runs() {
    auto& rt = m_ctx.runtime;
    const auto taken = rt.take_over_abandoned_runs();
    for (const auto& run_id : taken) {
      try {
        m_executor.submit([&rt, run_id] {
          try {
            rt.execute_run(run_id, "", {});
          } catch (...) { // execute_run ended the run (or left it to the next runtime)
          }
        });
      } catch (const Error&) { // queue full: left active and ours; the next start takes it
      }
    }
    return taken.size();
  }

  bool shutdown(std::chrono::milliseconds grace) {
    const auto deadline = Clock::now() + grace;
    // No drain takes another dispatch (the rest stays queued for the next start), no new fires;
    // turns already running finish with the executor's drain.
    m_dispatcher->stop();
    m_scheduler->stop();
    m_stopping.store(true);
    m_stopped = true;
    m_executor.close();
    // With --reuse-port, new connections already go to the next generation (steer_to_newest), so
    // closing the listener resets nothing; answers from now on say `Connection: close`.
    asio::post(m_io, [this] {
      if (m_acceptor) m_acceptor->close();
    });
    {
      std::lock_guard lock(m_conns_mutex);
      for (const auto& conn : m_conns) wake_for_shutdown(conn);
    }
    bool finished;
    {
      std::unique_lock lock(m_conns_mutex);
      finished = m_conns_cv.wait_until(lock, deadline, [&] { return m_conns.empty(); });
    }
    m_io.stop();
    if (m_serving.joinable() && m_serving.get_id() != std::this_thread::get_id()) m_serving.join();
    return m_executor.drain(deadline) && finished;
  }

  int port() const { return m_port; }
  std::string url() const {
    const bool wildcard = m_options.host == "0.0.0.0" || m_options.host == "::";
    return "http://" + (wildcard ? std::string("127.0.0.1") : m_options.host) + ":" +
           std::to_string(m_port);
  }
  std::size_t connections() const {
    std::lock_guard lock(m_conns_mutex);
    return m_conns.size();
  }
  std::size_t streams() const { return m_streams.load(); }

private:
  // --- triggers (issue 14) ---------------------------------------------------------------------

  /// The dispatcher and scheduler over the executor, and the channels with their body limits.
  void mount_triggers() {
    m_body_limit_max = m_options.max_body_bytes;
    auto submit = [this](std::function<void()> task) { m_executor.submit(std::move(task)); };
    m_dispatcher = std::make_unique<triggers::Dispatcher>(m_ctx.runtime, submit);
    const auto& program = m_ctx.runtime.program();
    m_scheduler = std::make_unique<triggers::Scheduler>(
        m_ctx.runtime, submit, triggers::Clock::from_env(), triggers::load_schedules(program.schedules));
    m_ctx.dispatcher = m_dispatcher.get();
    m_ctx.scheduler = m_scheduler.get();
    m_ctx.channels = &m_channels;
    for (const auto& c : program.channels) {
      std::vector<std::string> problems; // discovery reported them; such a channel is not served
      if (auto def = triggers::parse_channel(c.value("name", ""), c.value("path", ""),
                                             c.value("config", json::object()), problems)) {
        m_body_limit_max = std::max(m_body_limit_max, def->body_limit);
        m_channels.push_back(std::move(*def));
      }
    }
  }

  /// After a successful bind: resume dispatches dead processes left (`start` only: dev
  /// generations overlap on reload), sweep for unrun ones, and start the schedules' clock.
  void start_triggers() {
    if (m_triggers_started) return;
    m_triggers_started = true;
    if (!m_options.dev) {
      try {
        m_dispatcher->resume();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "hearth: could not resume dispatches: %s\n", e.what());
      }
    }
    m_dispatcher->start_sweep(std::chrono::seconds(3));
    if (m_options.schedules) m_scheduler->start();
  }
  bool m_triggers_started = false;

  /// The body limit of `path`: its channel's (Slack 1 MiB, GitHub 25 MiB, ...) or the server's.
  std::size_t body_limit_for(const std::string& path) const {
    for (const auto& c : m_channels) {
      const auto prefix = "/channels/" + c.name + "/";
      if (path.compare(0, prefix.size(), prefix) == 0) return c.body_limit;
    }
    return m_options.max_body_bytes;
  }

  // --- accepting -------------------------------------------------------------------------------

  asio::awaitable<void> accept_loop() {
    for (;;) {
      error_code ec;
      auto accepted = co_await m_acceptor->async_accept(
          asio::make_strand(m_io), asio::redirect_error(asio::use_awaitable, ec));
      tcp::socket socket(std::move(accepted));
      if (m_stopping.load() || ec == asio::error::operation_aborted || !m_acceptor->is_open())
        co_return;
      if (ec) { // EMFILE and friends: back off a little instead of spinning
        asio::steady_timer pause(m_io, std::chrono::milliseconds(50));
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec); // no Nagle + delayed-ACK stalls
      auto conn = std::make_shared<Conn>(std::move(socket));
      {
        std::lock_guard lock(m_conns_mutex);
        if (m_conns.size() >= m_options.max_connections) {
          refuse(*conn);
          continue;
        }
        m_conns.insert(conn);
      }
      asio::co_spawn(conn->stream.get_executor(), session(conn), asio::detached);
    }
  }

  /// Past max_connections: a short 503 (best effort, never blocks) and close.
  void refuse(Conn& conn) {
    Response res;
    Request req;
    render_error(req, res, m_ctx, errors::streams_busy("connections", m_options.max_connections));
    const auto text = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                      "Connection: close\r\nContent-Length: " +
                      std::to_string(res.body.size()) + "\r\n\r\n" + res.body;
    error_code ec;
    auto& socket = conn.stream.socket();
    socket.non_blocking(true, ec);
    socket.write_some(asio::buffer(text), ec);
    socket.close(ec);
  }

  void wake_for_shutdown(const std::shared_ptr<Conn>& conn) {
    asio::post(conn->stream.get_executor(), [conn] {
      if (conn->park) conn->park->cancel();
      if (conn->idle) {
        error_code ec;
        conn->stream.socket().cancel(ec);
      }
    });
  }

  void forget(const std::shared_ptr<Conn>& conn) {
    {
      std::lock_guard lock(m_conns_mutex);
      m_conns.erase(conn);
    }
    m_conns_cv.notify_all();
  }

  // --- one connection --------------------------------------------------------------------------

  asio::awaitable<void> session(std::shared_ptr<Conn> conn) {
    try {
      co_await serve_connection(conn);
    } catch (...) { // a bug in here closes this connection only
    }
    error_code ec;
    conn->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    conn->stream.socket().close(ec);
    forget(conn);
  }

  /// Minimal request for answering before the request was fully read (envelope choice only).
  Request early_request(const bhttp::request_parser<bhttp::string_body>& parser) const {
    Request req;
    req.local_port = m_port;
    const auto& msg = parser.get();
    req.method = std::string(msg.method_string());
    const auto target = std::string_view(msg.target().data(), msg.target().size());
    std::string raw;
    if (!split_target(target.substr(0, std::min(target.size(), m_options.max_url_bytes)), raw,
                      req.path, req.query))
      req.path.clear();
    req.headers.emplace_back("Host", std::string(msg[bhttp::field::host]));
    return req;
  }

  /// True when the first line in the buffer (the request line) is longer than max_url_bytes.
  bool request_line_too_long(const Conn& conn) const {
    const auto data = conn.buffer.data();
    const std::string_view text(static_cast<const char*>(data.data()), data.size());
    const auto eol = text.find('\n');
    return (eol == std::string_view::npos ? text.size() : eol) > m_options.max_url_bytes;
  }

  asio::awaitable<void> serve_connection(std::shared_ptr<Conn> conn) {
    for (;;) {
      if (m_stopping.load()) co_return;
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(m_options.max_header_bytes));
      parser.body_limit(m_body_limit_max); // narrowed per route once the target is known
      conn->idle = conn->buffer.size() == 0;
      conn->stream.expires_after(conn->idle ? m_options.keep_alive_timeout : m_options.io_timeout);
      error_code ec;
      co_await bhttp::async_read_header(conn->stream, conn->buffer, parser,
                                        asio::redirect_error(asio::use_awaitable, ec));
      conn->idle = false;
      if (ec) {
        if (ec == bhttp::error::header_limit) {
          // Beast consumes the request line once it is parsed: a target means headers overflowed.
          if (parser.get().target().empty() && request_line_too_long(*conn))
            co_await answer_error(conn, early_request(parser),
                                  errors::uri_too_long(m_options.max_url_bytes));
          else
            co_await answer_error(conn, early_request(parser),
                                  errors::headers_too_large(m_options.max_header_bytes));
        } else if (ec == bhttp::error::body_limit) {
          co_await answer_error(conn, early_request(parser),
                                errors::payload_too_large(body_limit_for(early_request(parser).path)));
        } else if (is_parse_error(ec)) {
          co_await answer_error(conn, early_request(parser),
                                errors::bad_framing("The request is malformed (" + ec.message() +
                                                    ")."));
        }
        co_return; // EOF, timeout, reset, shutdown: just close
      }
      auto& msg = parser.get();
      Request req = early_request(parser);
      req.headers.clear();
      req.target = std::string(msg.target());
      for (const auto& field : msg)
        req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      {
        error_code addr_ec;
        const auto remote = conn->stream.socket().remote_endpoint(addr_ec);
        if (!addr_ec) req.remote_addr = remote.address().to_string();
      }
      bool keep_alive = msg.keep_alive();
      const bool http11 = msg.version() >= 11;
      req.http_version = http11 ? 11 : 10;

      // Checks that need the whole header; each answers and closes (the body is not read).
      std::string raw_path;
      std::optional<Error> refusal;
      if (req.target.size() > m_options.max_url_bytes) {
        refusal = errors::uri_too_long(m_options.max_url_bytes);
      } else if (!split_target(req.target, raw_path, req.path, req.query)) {
        refusal = errors::bad_framing("The request target must start with '/'.");
      } else if (const auto problem = framing_problem(req)) {
        refusal = errors::bad_framing(*problem);
      } else if (const auto encoding = req.get_header_value("Content-Encoding");
                 !encoding.empty() && !iequals(encoding, "identity")) {
        refusal = errors::unsupported_content_encoding(encoding);
      }
      if (!refusal) {
        const auto limit = body_limit_for(req.path);
        const auto length = parser.content_length();
        if (length && *length > limit) refusal = errors::payload_too_large(limit);
        else parser.body_limit(limit);
      }
      if (refusal) {
        co_await answer_error(conn, req, *refusal);
        co_return;
      }

      // A request with a body is authenticated before the body is read, so an unauthenticated
      // client cannot make the server buffer up to max_body_bytes (docs/http.md).
      // Headers admit() sets (CORS) stay on the response the handler then completes.
      // When the whole body came with the headers (a Content-Length body no larger than what the
      // header read already holds, no 100-continue), there is nothing left to withhold: it is
      // parsed from the buffer, and the auth walk runs on the handler thread just before the
      // handler, one hand-off to the pool instead of two (each a pair of thread wake-ups, issue 17
      // §3). A refusal is still answered with `Connection: close`.
      const auto declared = parser.content_length();
      const bool body_buffered =
          !parser.is_done() && declared && conn->buffer.size() >= *declared &&
          !iequals(req.get_header_value("Expect"), "100-continue");
      Response res;
      std::optional<auth::Decision> admitted;
      if (!parser.is_done() && !body_buffered) {
        co_await offload(m_handlers, [&] { admit_with_body(req, res, admitted); });
        if (!admitted) {
          co_await answer_and_linger(conn, req, res);
          co_return;
        }
      }

      if (!parser.is_done()) {
        if (http11 && iequals(req.get_header_value("Expect"), "100-continue")) {
          static const std::string k_continue = "HTTP/1.1 100 Continue\r\n\r\n";
          if (!co_await write(conn, k_continue)) co_return;
        }
        conn->stream.expires_after(m_options.io_timeout);
        co_await bhttp::async_read(conn->stream, conn->buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
        if (ec == bhttp::error::body_limit) {
          co_await answer_error(conn, req, errors::payload_too_large(body_limit_for(req.path)));
          co_return;
        }
        if (ec) {
          if (is_parse_error(ec))
            co_await answer_error(conn, req,
                                  errors::bad_framing("The request body is malformed (" +
                                                      ec.message() + ")."));
          co_return;
        }
      }
      req.body = std::move(parser.get().body());

      bool refused = false;
      co_await offload(m_handlers, [&] {
        if (body_buffered && !admit_with_body(req, res, admitted)) {
          refused = true;
          return;
        }
        handle(req, raw_path, res, std::move(admitted));
      });
      if (refused) {
        co_await answer_and_linger(conn, req, res);
        co_return;
      }
      if (res.producer) {
        if (!co_await serve_producer(conn, req, res, http11, keep_alive)) co_return;
      } else if (!co_await write_response(conn, req, res, keep_alive)) {
        co_return;
      }
      if (!keep_alive || m_stopping.load()) co_return;
    }
  }

  /// The auth walk for a request with a body, on a handler thread: true, with the decision in
  /// `admitted`, when it may go on; else the refusal (or the walk's failure) is in `res`.
  bool admit_with_body(const Request& req, Response& res,
                       std::optional<auth::Decision>& admitted) noexcept {
    try {
      if (admit(req, res, m_ctx)) admitted = current_auth();
    } catch (const std::exception& e) {
      render_error(req, res, m_ctx, errors::internal_error(e.what()));
    }
    return admitted.has_value();
  }

  /// Conflicting framing that a proxy in front might read differently (request smuggling).
  static std::optional<std::string> framing_problem(const Request& req) {
    std::optional<std::string> length;
    bool chunked = false;
    for (const auto& [name, value] : req.headers) {
      if (iequals(name, "Content-Length")) {
        if (length && *length != value) return "Conflicting Content-Length headers.";
        length = value;
      } else if (iequals(name, "Transfer-Encoding")) {
        chunked = true;
      }
    }
    if (length && chunked) return "Content-Length together with Transfer-Encoding.";
    return std::nullopt;
  }

  /// Routes and runs the handler (on a pool thread); every failure becomes a catalogue answer.
  /// `admitted`: the decision admit() took before the body was read (requests with a body).
  void handle(Request& req, const std::string& raw_path, Response& res,
              std::optional<auth::Decision> admitted) noexcept {
    try {
      try {
        if (admitted) adopt_auth(std::move(*admitted));
        else if (!admit(req, res, m_ctx)) return; // Host/Origin/CORS, then route auth (auth_glue.cpp)
        auto match = m_router.match(req.method, raw_path, m_options.max_param_bytes);
        if (match.outcome == Router::Outcome::matched) {
          req.matches.clear();
          req.matches.push_back(req.path);
          for (auto& p : match.params) req.matches.push_back(std::move(p));
          (*match.handler)(req, res);
        } else if (match.outcome == Router::Outcome::method_not_allowed) {
          std::string allow;
          for (const auto& m : match.allowed) allow += (allow.empty() ? "" : ", ") + m;
          res.set_header("Allow", allow);
          throw errors::method_not_allowed(req.method, match.allowed);
        } else {
          not_found(req, res);
        }
      } catch (const Error& error) {
        res.body.clear();
        res.producer.reset();
        render_error(req, res, m_ctx, error);
      } catch (const std::exception& e) {
        res.body.clear();
        res.producer.reset();
        render_error(req, res, m_ctx, errors::internal_error(e.what()));
      }
    } catch (...) {
      res = Response{};
      res.status = 500;
      res.set_content(R"({"error":{"type":"internal_error","message":"Internal error.","details":""}})",
                      "application/json");
    }
  }

  void not_found(const Request& req, Response& res) const {
    if (is_eve_path(req.path)) { // h3's shape, as Eve 0.80.1 answers unknown routes
      const auto shown = req.path.substr(0, 1024);
      send_json(res, 404, {{"error", true}, {"status", 404},
                           {"message", "Cannot find any route matching [" + req.method + "] " +
                                           base_url(req, m_ctx) + shown}});
      return;
    }
    render_error(req, res, m_ctx, errors::route_not_found(req.method, req.path.substr(0, 1024)));
  }

  // --- writing ---------------------------------------------------------------------------------

  asio::awaitable<bool> write(const std::shared_ptr<Conn>& conn, const std::string& bytes) {
    error_code ec;
    conn->stream.expires_after(m_options.io_timeout);
    co_await asio::async_write(conn->stream, asio::buffer(bytes),
                               asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  }

  /// Status line and headers; `length` < 0: no Content-Length (chunked or close-delimited).
  std::string head(const Response& res, long long length, bool chunked, bool close,
                   bool http10_keep_alive) const {
    std::string out = "HTTP/1.1 " + std::to_string(res.status) + " " + reason_phrase(res.status) +
                      "\r\n";
    for (const auto& [name, value] : res.headers) {
      if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") ||
          iequals(name, "Connection"))
        continue;
      out += name + ": " + value + "\r\n";
    }
    if (!res.has_header("X-Content-Type-Options")) out += "X-Content-Type-Options: nosniff\r\n";
    if (!res.has_header("Cross-Origin-Resource-Policy"))
      out += "Cross-Origin-Resource-Policy: cross-origin\r\n";
    if (length >= 0) out += "Content-Length: " + std::to_string(length) + "\r\n";
    if (chunked) out += "Transfer-Encoding: chunked\r\n";
    if (close) out += "Connection: close\r\n";
    else if (http10_keep_alive) out += "Connection: keep-alive\r\n";
    out += "\r\n";
    return out;
  }

  asio::awaitable<bool> write_response(const std::shared_ptr<Conn>& conn, const Request& req,
                                       Response& res, bool& keep_alive) {
    if (m_stopping.load()) keep_alive = false;
    const bool no_body = res.status == 204 || res.status == 304 || res.status < 200;
    std::string out = head(res, no_body ? -1 : static_cast<long long>(res.body.size()), false,
                           !keep_alive, keep_alive && req.http_version < 11);
    if (req.method != "HEAD" && !no_body) out += res.body;
    co_return co_await write(conn, out);
  }

  asio::awaitable<void> answer_error(const std::shared_ptr<Conn>& conn, const Request& req,
                                     const Error& error) {
    Response res;
    render_error(req, res, m_ctx, error);
    co_await answer_and_linger(conn, req, res);
  }

  /// Answers `res` with `Connection: close` while the request's body is still unread.
  asio::awaitable<void> answer_and_linger(const std::shared_ptr<Conn>& conn, const Request& req,
                                          Response& res) {
    bool keep_alive = false;
    if (!co_await write_response(conn, req, res, keep_alive)) co_return;
    // Lingering close: stop sending, then discard what the client still sends (bounded in bytes
    // and time) so the answer is not lost to a reset when we close with unread data queued.
    error_code ec;
    conn->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    // A blocking client that sends a whole oversized body before reading would otherwise see a
    // broken pipe instead of the 413; reading and dropping costs no memory.
    std::size_t discarded = 0;
    const std::size_t cap = std::max<std::size_t>(k_linger_bytes, 4 * m_options.max_body_bytes);
    const auto until = Clock::now() + std::chrono::seconds(10);
    std::vector<char> sink(16u << 10);
    while (!ec && discarded < cap && Clock::now() < until) {
      conn->stream.expires_at(until);
      discarded += co_await conn->stream.async_read_some(
          asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  // --- parked readers --------------------------------------------------------------------------

  /// Serves a Producer: steps it on the step pool, parks it between steps on a timer plus a store
  /// watch, and keeps a read pending on the socket so a closed peer ends it at once. Returns
  /// false when the connection must close.
  asio::awaitable<bool> serve_producer(std::shared_ptr<Conn> conn, const Request& req,
                                       Response& res, bool http11, bool& keep_alive) {
    if (m_streams.fetch_add(1) >= m_options.max_streams) {
      --m_streams;
      Response busy;
      render_error(req, busy, m_ctx, errors::streams_busy("parked readers", m_options.max_streams));
      co_return co_await write_response(conn, req, busy, keep_alive) && keep_alive;
    }
    struct Release {
      std::atomic<std::size_t>& n;
      ~Release() { --n; }
    } release{m_streams};
    auto producer = res.producer;
    const bool chunked = producer->chunked();
    if (chunked) {
      if (!http11 || m_stopping.load()) keep_alive = false;
      std::string out = head(res, -1, http11, !keep_alive, false);
      if (req.method == "HEAD") co_return co_await write(conn, out) && keep_alive;
      if (!co_await write(conn, out)) co_return false;
    }
    watch_peer(conn);
    bool ok = true;
    for (;;) {
      std::string out;
      std::optional<Wake> wake;
      std::optional<Error> failure;
      co_await offload(m_steps, [&]() noexcept {
        if (conn->gone.load()) return; // the client left while this step was queued
        try {
          wake = producer->step(res, out, m_stopping.load());
        } catch (const Error& e) {
          failure = e;
        } catch (const std::exception& e) {
          failure = errors::internal_error(e.what());
        } catch (...) {
          failure = errors::internal_error("unknown exception");
        }
      });
      if (conn->peer_gone) {
        ok = false;
        break;
      }
      if (failure) {
        if (chunked) { // the head is out: end the stream early; the client reconnects
          wake.reset();
          keep_alive = false;
        } else {
          res = Response{};
          render_error(req, res, m_ctx, *failure);
        }
      }
      if (chunked && !out.empty()) {
        if (http11) {
          char size[32];
          std::snprintf(size, sizeof size, "%zx\r\n", out.size());
          out = size + out + "\r\n";
        }
        if (!co_await write(conn, out)) {
          ok = false;
          break;
        }
      }
      if (!wake) {
        if (chunked) {
          ok = !http11 || co_await write(conn, "0\r\n\r\n");
        } else {
          res.producer.reset();
          co_await stop_watching(conn);
          if (conn->peer_gone) co_return false;
          co_return co_await write_response(conn, req, res, keep_alive) && keep_alive;
        }
        break;
      }
      co_await park(conn, *wake);
      if (conn->peer_gone) {
        ok = false;
        break;
      }
    }
    co_await stop_watching(conn);
    co_return ok && !conn->peer_gone && keep_alive;
  }

  /// Waits for `wake` (store event or deadline); shutdown and a closed peer cancel it.
  asio::awaitable<void> park(std::shared_ptr<Conn> conn, const Wake& wake) {
    auto ex = conn->stream.get_executor();
    auto timer = std::make_shared<asio::steady_timer>(ex);
    timer->expires_at(wake.until);
    conn->park = timer;
    std::shared_ptr<void> watch;
    if (!wake.path.empty() && wake.until > Clock::now()) {
      std::weak_ptr<asio::steady_timer> weak = timer;
      try {
        watch = m_ctx.runtime.store().watch_events(wake.path, wake.after_seq, [weak, ex] {
          asio::post(ex, [weak] {
            if (auto t = weak.lock()) t->cancel();
          });
        });
      } catch (...) { // the store is failing: the deadline still ends the wait
      }
    } else if (wake.watch && wake.until > Clock::now()) { // e.g. an MCP call's queue (routes_mcp)
      std::weak_ptr<asio::steady_timer> weak = timer;
      watch = wake.watch([weak, ex] {
        asio::post(ex, [weak] {
          if (auto t = weak.lock()) t->cancel();
        });
      });
    }
    if (!m_stopping.load() && !conn->peer_gone) {
      error_code ec;
      co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    conn->park.reset();
  }

  /// Keeps one read pending on the socket while a reader is parked: EOF or an error marks the
  /// peer gone and wakes the reader; bytes (a pipelined next request) are kept for later.
  void watch_peer(std::shared_ptr<Conn> conn) {
    if (conn->watching || conn->peer_gone || conn->buffer.size() >= k_watch_buffer_cap) return;
    conn->watching = true;
    auto space = conn->buffer.prepare(4096);
    conn->stream.socket().async_read_some(space, [this, conn](error_code ec, std::size_t n) {
      conn->watching = false;
      if (!ec) {
        conn->buffer.commit(n);
        if (!conn->stop_watch) watch_peer(conn);
      } else if (!(ec == asio::error::operation_aborted && conn->stop_watch)) {
        // Close at once: the descriptor is freed now even if this reader's next step is still
        // queued behind others; pending writes fail and the coroutine ends.
        conn->peer_gone = true;
        conn->gone = true;
        error_code ignored;
        conn->stream.socket().close(ignored);
      }
      if (conn->park) conn->park->cancel();
    });
  }

  asio::awaitable<void> stop_watching(std::shared_ptr<Conn> conn) {
    if (conn->watching) {
      conn->stop_watch = true;
      error_code ec;
      conn->stream.socket().cancel(ec);
      auto timer = std::make_shared<asio::steady_timer>(conn->stream.get_executor());
      while (conn->watching) {
        timer->expires_after(std::chrono::seconds(1));
        conn->park = timer;
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        conn->park.reset();
      }
      conn->stop_watch = false;
    }
  }

  ServerOptions m_options;
  std::atomic<bool> m_stopping{false};
  bool m_stopped = false;
  std::shared_ptr<const auth::Config> m_auth;
  ServerContext m_ctx;
  // Triggers: declared before the executor so queued fires and dispatches finish before they go.
  std::unique_ptr<triggers::Dispatcher> m_dispatcher;
  std::unique_ptr<triggers::Scheduler> m_scheduler;
  std::vector<triggers::ChannelDef> m_channels; // routes hold references: never resized after mount
  std::size_t m_body_limit_max = 0;
  // Queued and running turns hold the route state the router owns (routes_eve.cpp's Eve): the
  // executor is declared after the router so it finishes them before the router goes.
  Router m_router;
  Executor m_executor;
  mutable std::mutex m_conns_mutex;
  std::condition_variable m_conns_cv;
  std::unordered_set<std::shared_ptr<Conn>> m_conns;
  std::atomic<std::size_t> m_streams{0};
  int m_port = -1;
  // Destroyed in reverse: the pools finish their tasks (which post to m_io) before m_io goes, and
  // m_io destroys suspended connection coroutines before anything above.
  asio::io_context m_io{k_io_threads};
  std::optional<tcp::acceptor> m_acceptor;
  ElasticPool m_handlers;
  ElasticPool m_steps;
  std::thread m_serving;
};

Server::Server(runtime::Runtime& runtime, ServerOptions options)
    : m_impl(std::make_unique<ServerImpl>(runtime, std::move(options))) {}
Server::~Server() = default;
int Server::bind() { return m_impl->bind(); }
void Server::serve() { m_impl->serve(); }
void Server::start() { m_impl->start(); }

std::size_t Server::resume_abandoned_runs() { return m_impl->resume_abandoned_runs(); }
bool Server::shutdown(std::chrono::milliseconds grace) { return m_impl->shutdown(grace); }
int Server::port() const { return m_impl->port(); }
std::string Server::url() const { return m_impl->url(); }
std::size_t Server::connections() const { return m_impl->connections(); }
std::size_t Server::streams() const { return m_impl->streams(); }

} // namespace hearth::server

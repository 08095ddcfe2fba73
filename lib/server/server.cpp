// The HTTP server: httplib over an elastic connection pool, one exception handler rendering the
// error catalogue, security headers on every response, and a bounded graceful shutdown.
#include "server/server.hpp"

#include "core/errors.hpp"
#include "runtime/runtime.hpp"
#include "server/context.hpp"

#include <cerrno>
#include <cstring>
#include <future>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>

namespace hearth::server {
namespace {

/// Parked readers each hold a socket: lift the soft descriptor limit to the hard one.
void raise_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

void not_found(const httplib::Request& req, httplib::Response& res, const ServerContext& ctx) {
  if (is_eve_path(req.path)) { // h3's shape, as Eve 0.80.1 answers unknown routes
    send_json(res, 404, {{"error", true}, {"status", 404},
                         {"message", "Cannot find any route matching [" + req.method + "] " +
                                         base_url(req, ctx) + req.path}});
    return;
  }
  render_error(req, res, ctx, errors::route_not_found(req.method, req.path));
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

} // namespace

class ServerImpl {
public:
  ServerImpl(runtime::Runtime& runtime, ServerOptions options)
      : m_options(std::move(options)),
        m_executor(m_options.run_workers, m_options.run_queue),
        m_auth(m_options.auth ? m_options.auth : std::make_shared<const auth::Config>()),
        m_ctx{runtime, m_options, m_executor, m_stopping, *m_auth} {
    raise_fd_limit();
    const auto max = m_options.max_connections;
    m_http.new_task_queue = [max] { return new ElasticPool(4, max); };
    m_http.set_payload_max_length(m_options.max_body_bytes);
    m_http.set_keep_alive_max_count(1000);
    m_http.set_tcp_nodelay(true); // no Nagle + delayed-ACK stalls (40 ms) between small writes
    m_http.set_read_timeout(30, 0);
    m_http.set_write_timeout(30, 0);
    m_http.set_default_headers({{"X-Content-Type-Options", "nosniff"},
                                {"Cross-Origin-Resource-Policy", "cross-origin"}});
    const bool reuse_port = m_options.reuse_port;
    m_http.set_socket_options([this, reuse_port](socket_t sock) {
      m_listen_fd = sock; // the last socket created is the listener (httplib binds one)
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      if (reuse_port) ::setsockopt(sock, SOL_SOCKET, SO_REUSEPORT, &yes, sizeof yes);
    });
    m_http.set_exception_handler(
        [this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
          try {
            std::rethrow_exception(ep);
          } catch (const Error& error) {
            render_error(req, res, m_ctx, error);
          } catch (const std::exception& e) {
            render_error(req, res, m_ctx, errors::internal_error(e.what()));
          } catch (...) {
            render_error(req, res, m_ctx, errors::internal_error("unknown exception"));
          }
        });
    m_http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty() || res.is_chunked_content_provider_) return;
      if (res.status == 404) return not_found(req, res, m_ctx);
      if (res.status == 413)
        return render_error(req, res, m_ctx, errors::payload_too_large(m_options.max_body_bytes));
      if (res.status == 400)
        return render_error(req, res, m_ctx, errors::invalid_request("The request is malformed."));
    });
    m_http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      return admit(req, res, m_ctx) ? httplib::Server::HandlerResponse::Unhandled
                                    : httplib::Server::HandlerResponse::Handled;
    });
    m_http.set_post_routing_handler([this](const httplib::Request&, httplib::Response& res) {
      if (m_stopping.load()) res.set_header("Connection", "close");
    });
    mount_flue(m_http, m_ctx);
    mount_eve(m_http, m_ctx);
  }

  ~ServerImpl() {
    if (m_serving.valid()) shutdown(std::chrono::seconds(10));
  }

  int bind() {
    const int port = m_options.port == 0 ? m_http.bind_to_any_port(m_options.host)
                                         : (m_http.bind_to_port(m_options.host, m_options.port)
                                                ? m_options.port
                                                : -1);
    if (port < 0)
      throw errors::server_bind_failed(m_options.host, m_options.port, std::strerror(errno));
    // httplib listens with a backlog of 5; a burst of readers connecting at once would see
    // dropped handshakes and 1 s retransmits. listen() again just raises the backlog.
    if (m_listen_fd >= 0) ::listen(m_listen_fd, SOMAXCONN);
    if (m_listen_fd >= 0 && m_options.reuse_port) steer_to_newest(m_listen_fd); // after joining
    m_port = port;
    return port;
  }

  void serve() { m_http.listen_after_bind(); }

  void start() {
    bind();
    m_serving = std::async(std::launch::async, [this] { m_http.listen_after_bind(); });
    // listen_after_bind() flips is_running() once it accepts; bounded wait.
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (!m_http.is_running() && Clock::now() < deadline &&
           m_serving.wait_for(std::chrono::milliseconds(1)) == std::future_status::timeout) {
    }
  }

  bool shutdown(std::chrono::milliseconds grace) {
    const auto deadline = Clock::now() + grace;
    m_stopping.store(true);
    m_executor.close();
    // With --reuse-port, new connections already go to the next generation (steer_to_newest), so
    // closing the listener resets nothing; responses from now on say `Connection: close`.
    m_http.stop(); // closes the listener; keep-alive loops end; chunked loops see shutdown
    bool finished = true;
    if (m_serving.valid()) {
      finished = m_serving.wait_until(deadline) == std::future_status::ready;
      if (finished) m_serving.get();
    }
    return m_executor.drain(deadline) && finished;
  }

  int port() const { return m_port; }
  std::string url() const {
    const bool wildcard = m_options.host == "0.0.0.0" || m_options.host == "::";
    return "http://" + (wildcard ? std::string("127.0.0.1") : m_options.host) + ":" +
           std::to_string(m_port);
  }

private:
  ServerOptions m_options;
  std::atomic<bool> m_stopping{false};
  Executor m_executor;
  std::shared_ptr<const auth::Config> m_auth;
  ServerContext m_ctx;
  httplib::Server m_http;
  std::future<void> m_serving;
  int m_port = -1;
  int m_listen_fd = -1;
};

Server::Server(runtime::Runtime& runtime, ServerOptions options)
    : m_impl(std::make_unique<ServerImpl>(runtime, std::move(options))) {}
Server::~Server() = default;
int Server::bind() { return m_impl->bind(); }
void Server::serve() { m_impl->serve(); }
void Server::start() { m_impl->start(); }
bool Server::shutdown(std::chrono::milliseconds grace) { return m_impl->shutdown(grace); }
int Server::port() const { return m_impl->port(); }
std::string Server::url() const { return m_impl->url(); }

} // namespace hearth::server

// The HTTP server (ARCHITECTURE.md §8): an event-driven HTTP/1.1 server (Boost.Beast parser over
// Asio, confined to server.cpp) speaking Flue 0.11's routes (/workflows, /runs, /agents,
// /openapi.json) and Eve 0.80.1's (/eve/v1/...) over one runtime and one store. Parked readers
// (long-poll, SSE, NDJSON follow) hold no thread. docs/http.md describes every route, header,
// error and limit.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace hearth::runtime {
class Runtime;
}

namespace hearth::server {

namespace auth {
struct Config;
}

/// Default port of `hearth dev` (ARCHITECTURE.md §8).
inline constexpr int k_default_dev_port = 3583;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = k_default_dev_port; // 0: the kernel picks a free port (see Server::port())
  bool reuse_port = false;       // SO_REUSEPORT, so a new dev child can bind beside the old one
  bool dev = false;              // Flue envelopes carry `dev`; /eve/v1/info says "development"
  std::size_t max_body_bytes = 16u << 20; // decoded body bytes; larger gets 413 (Flue images ≤14 MiB)
  std::size_t max_connections = 16384;    // open connections; past it new ones get 503 and close
  std::size_t max_streams = 12288;        // parked readers (long-poll, SSE, NDJSON); past it 503
  std::size_t max_header_bytes = 64u << 10; // request line + headers; past it 431 (414 for the URL)
  std::size_t max_url_bytes = 8192;       // request target; past it 414
  std::size_t max_param_bytes = 512;      // one path parameter (an id); past it 404
  std::size_t handler_threads = 256;      // request handlers (a ?wait=result holds one per run)
  std::chrono::milliseconds keep_alive_timeout{5'000}; // idle keep-alive connection closes after
  std::chrono::milliseconds io_timeout{30'000};        // reading a request / writing an answer
  std::size_t run_workers = 8;            // background executor for 202 admissions
  std::size_t run_queue = 4096;           // admissions waiting beyond that get 503
  std::chrono::milliseconds long_poll_timeout{30'000}; // Flue 0.11: 30 s
  std::chrono::milliseconds sse_heartbeat{15'000};     // Flue 0.11: 15 s
  std::chrono::milliseconds sse_lifetime{60'000};      // DS: close SSE roughly every 60 s
  std::chrono::milliseconds eve_heartbeat{10'000};     // Eve 0.80.1 streamControlVersion=1
  std::chrono::milliseconds eve_lease{60'000};         // Eve 0.80.1: lease ends after 60 s
  std::chrono::milliseconds eve_unleased_limit{600'000}; // bound on a follow read without control
  bool schedules = false; // fire schedules on their cron cadence (`hearth start`; dev never does)
  // Route auth (server/auth/auth.hpp). Null fails closed: every route but health answers 401.
  std::shared_ptr<const auth::Config> auth{};
};

class ServerImpl;

/// Serves one runtime over HTTP. Thread-safe to shut down from any thread. Throws nothing after
/// bind(): malformed requests get 4xx answers from the error catalogue.
class Server {
public:
  Server(runtime::Runtime& runtime, ServerOptions options);
  ~Server(); // shuts down (bounded) if still serving
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds the listening socket (SO_REUSEADDR, plus SO_REUSEPORT when asked) and returns the
  /// bound port. Throws errors::server_bind_failed.
  int bind();

  /// Accepts connections until shutdown(); returns then. Call bind() first.
  void serve();

  /// bind() then serve() on a background thread; returns once the socket listens.
  void start();

  /// Durable runs (docs/runtime.md "Durable runs"): takes over the resumable runs whose runtime
  /// died (Runtime::take_over_abandoned_runs) and continues each on the run executor, as if just
  /// admitted. Call once after start(). Returns how many were taken over; throws store errors.
  std::size_t resume_abandoned_runs();

  /// Stops accepting, wakes and ends parked stream reads at once, closes idle connections, then
  /// waits up to `grace` for in-flight requests (answered with `Connection: close`) and admitted
  /// background runs. Returns true when everything finished.
  bool shutdown(std::chrono::milliseconds grace);

  int port() const;
  /// Open connections and parked readers right now (gauges for logs and tests).
  std::size_t connections() const;
  std::size_t streams() const;
  /// `http://host:port` (a wildcard host is shown as 127.0.0.1).
  std::string url() const;

private:
  std::unique_ptr<ServerImpl> m_impl;
};

} // namespace hearth::server

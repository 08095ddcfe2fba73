// The Streamable HTTP transport; see transports.hpp. Uses the HTTP pieces of lib/providers
// (split_base_url, redact_url, the SSE parser) over cpp-httplib, as the model clients do.
#include "mcp/transports.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"
#include "core/text.hpp"
#include "providers/http.hpp"
#include "providers/sse.hpp"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace hearth::mcp {
namespace {
using nlohmann::json;

constexpr std::size_t k_max_error_body = 4096;
constexpr int k_max_resumptions = 5;
constexpr long long k_default_retry_ms = 1000;
constexpr long long k_max_retry_ms = 10'000;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string header(const httplib::Headers& headers, const char* name) {
  for (const auto& [k, v] : headers)
    if (lower(k) == lower(name)) return v;
  return {};
}

/// The connection's endpoint: scheme, host and the path (with its query string, which belongs to
/// the endpoint). Throws mcp_config_invalid when `url` is not an http(s) URL.
providers::BaseUrl endpoint_of(const HttpSpec& spec) {
  providers::BaseUrl base;
  try {
    base = providers::split_base_url(spec.connection, spec.url);
  } catch (const Error&) {
    throw errors::mcp_config_invalid(spec.connection, "\"url\" is not an http(s) URL.");
  }
  if (base.path_prefix.empty()) base.path_prefix = "/";
  if (const auto q = spec.url.find('?'); q != std::string::npos) base.path_prefix += spec.url.substr(q);
  return base;
}

/// Joins `thread`, or detaches it when the transport is destroyed on that very thread (its last
/// callback dropped the final reference).
void join_or_detach(std::thread& thread) {
  if (!thread.joinable()) return;
  if (thread.get_id() == std::this_thread::get_id()) thread.detach();
  else thread.join();
}

class HttpTransport final : public Transport {
public:
  explicit HttpTransport(HttpSpec spec)
      : m_spec(std::move(spec)), m_base(endpoint_of(m_spec)) {}
  ~HttpTransport() override {
    close();
    join_or_detach(m_listener);
  }

  void start(Sink sink, Closed closed, Closed failed) override {
    m_sink = std::move(sink);
    m_closed_cb = std::move(closed);
    m_failed_cb = std::move(failed);
  }

  void set_protocol_version(const std::string& version) override {
    {
      std::lock_guard lock(m_mutex);
      m_version = version;
    }
    // The handshake is done: open the standalone GET stream for server-initiated messages.
    if (!m_listener.joinable() && !m_closing) m_listener = std::thread([this] { listen_loop(); });
  }

  void send(const json& message, std::stop_token cancel,
            std::chrono::milliseconds timeout) override {
    if (m_closing) throw errors::mcp_closed(m_spec.connection, method_of(message), "closed");
    const bool is_request = message.contains("method") && message.contains("id");
    const json id = is_request ? message["id"] : json();
    auto deadline = std::chrono::steady_clock::now() + timeout;
    Exchange ex{.request_id = id};
    std::string sent_token; // the OAuth token of the last POST, "" none
    const auto post = [&] {
      auto headers = base_headers();
      sent_token.clear();
      if (!m_spec.token && headers.count("Authorization")) sent_token = headers.find("Authorization")->second.substr(7);
      headers.emplace("Content-Type", "application/json");
      headers.emplace("Accept", "application/json, text/event-stream");
      perform("POST", headers, dump_json(message), ex, cancel, deadline);
    };
    const auto timed_out = [&] {
      if (ex.timed_out)
        throw errors::mcp_timeout(m_spec.connection, method_of(message), timeout.count());
    };
    post();
    timed_out();
    const auto step_up = [&] { // 403 insufficient_scope: sign in again for the scope it names
      return ex.status == 403 &&
             header(ex.headers, "WWW-Authenticate").find("insufficient_scope") != std::string::npos;
    };
    if ((ex.status == 401 || step_up()) && m_spec.oauth && !m_spec.token) { // sign in, then again
      const auto token = m_spec.oauth(header(ex.headers, "WWW-Authenticate"), sent_token);
      {
        std::lock_guard lock(m_mutex);
        m_oauth_token = token;
      }
      // Signing in may have waited for a person: the request gets its whole timeout again.
      deadline = std::chrono::steady_clock::now() + timeout;
      ex = Exchange{.request_id = id};
      post();
      timed_out();
    }
    if (ex.status == 202 || ex.status == 204) return;
    if (ex.status == 404 && has_session()) {
      // The server forgot the session: it must be initialized again (the pool restarts it).
      expire("the server ended the session (HTTP 404)");
      throw errors::mcp_closed(m_spec.connection, method_of(message),
                               "the server ended the session (HTTP 404)");
    }
    if (ex.status == 401 || ex.status == 403) {
      // RFC 9728: the challenge may name the protected resource metadata: say what the server
      // wants instead of its body.
      const auto challenge = header(ex.headers, "WWW-Authenticate");
      std::string problem = ex.status == 401 ? "the server requires authorization" : "the token was refused";
      if (const auto at = challenge.find("resource_metadata=\""); at != std::string::npos) {
        const auto start = at + 19, end = challenge.find('"', start);
        if (end != std::string::npos && end - start < 2048)
          problem += " (OAuth; resource metadata " + text::to_utf8(challenge.substr(start, end - start)) + ")";
      }
      problem += m_spec.token ? "; check the token in auth.tokenEnv"
                              : "; give a token through auth.tokenEnv or configure auth.oauth";
      throw errors::mcp_http_error(m_spec.connection, ex.status, problem);
    }
    if (ex.status < 200 || ex.status >= 300) {
      // The body is the server's text: the runtime log gets it, the model a generic message.
      if (!ex.error_body.empty()) log_body("HTTP " + std::to_string(ex.status) + " answered", ex.error_body);
      throw errors::mcp_http_error(m_spec.connection, ex.status,
                                   ex.problem.empty() ? "the request failed (the body is in the runtime log)"
                                                      : ex.problem);
    }
    if (const auto sid = header(ex.headers, "Mcp-Session-Id"); !sid.empty()) {
      std::lock_guard lock(m_mutex);
      if (sid.size() <= 1024) m_session = sid;
    }
    // A request answered by an SSE stream that broke before the answer: resume it (GET with
    // Last-Event-ID after the server's `retry`), a few times.
    for (int attempt = 0; is_request && ex.sse && !ex.answered && !ex.last_event_id.empty() &&
                          attempt < k_max_resumptions;
         ++attempt) {
      const auto wait = std::chrono::milliseconds(
          std::min(ex.retry_ms >= 0 ? ex.retry_ms : k_default_retry_ms, k_max_retry_ms));
      {
        std::mutex m;
        std::condition_variable_any cv;
        std::unique_lock lock(m);
        cv.wait_for(lock, cancel, wait, [&] { return cancel.stop_requested(); });
      }
      if (cancel.stop_requested()) return;
      if (std::chrono::steady_clock::now() >= deadline) return;
      auto get_headers = base_headers();
      get_headers.emplace("Accept", "text/event-stream");
      get_headers.emplace("Last-Event-ID", ex.last_event_id);
      const auto last = ex.last_event_id;
      ex.status = 0;
      ex.sse = false;
      perform("GET", get_headers, "", ex, cancel, deadline);
      timed_out();
      if (ex.status < 200 || ex.status >= 300) {
        if (m_spec.log)
          m_spec.log("warn", "resuming the stream after event " + last + " got HTTP " +
                                 std::to_string(ex.status));
        return; // the request then times out
      }
    }
  }

  void close() noexcept override {
    if (m_closing.exchange(true)) return;
    m_listen_stop.request_stop();
    if (m_listener.joinable() && m_listener.get_id() != std::this_thread::get_id()) m_listener.join();
    std::string session;
    {
      std::lock_guard lock(m_mutex);
      session = m_session;
    }
    if (session.empty()) return;
    try {
      httplib::Client client(m_base.scheme_host_port);
      client.set_connection_timeout(std::chrono::seconds(2));
      client.set_read_timeout(std::chrono::seconds(2));
      auto headers = base_headers();
      client.Delete(m_base.path_prefix, headers);
    } catch (...) {
    }
  }

  json describe() const override {
    std::lock_guard lock(m_mutex);
    json j = {{"transport", "http"}, {"url", providers::redact_url(m_spec.url)}};
    if (!m_session.empty()) j["sessionId"] = m_session;
    return j;
  }

private:
  struct Exchange {
    json request_id{};
    int status = 0;
    httplib::Headers headers{};
    bool sse = false;
    bool answered = false;
    std::string last_event_id{};
    long long retry_ms = -1;
    std::string error_body{};
    std::string problem{};
    bool timed_out = false; // the overall deadline passed while the body was still coming
  };

  static std::string method_of(const json& message) {
    return message.contains("method") && message["method"].is_string()
               ? message["method"].get<std::string>()
               : std::string("a reply");
  }

  /// The standalone GET stream (server requests and notifications outside any POST): reopened
  /// after the stream's `retry` with Last-Event-ID; given up on a 4xx (the server offers none)
  /// or after 5 failures in a row.
  void listen_loop() {
    const auto stop = m_listen_stop.get_token();
    std::string last_id;
    long long retry = k_default_retry_ms;
    for (int failures = 0; !stop.stop_requested() && failures < 5;) {
      Exchange ex;
      try {
        auto headers = base_headers();
        headers.emplace("Accept", "text/event-stream");
        if (!last_id.empty()) headers.emplace("Last-Event-ID", last_id);
        perform("GET", headers, "", ex, stop, std::chrono::steady_clock::now() + std::chrono::hours(24));
      } catch (const Error&) {
        ++failures;
      }
      if (stop.stop_requested()) return;
      if (ex.status >= 400 && ex.status < 500) return; // no standalone stream here
      if (!ex.sse || ex.status < 200 || ex.status >= 300) ++failures;
      else failures = 0;
      if (!ex.last_event_id.empty()) last_id = ex.last_event_id;
      if (ex.retry_ms >= 0) retry = ex.retry_ms;
      std::mutex m;
      std::condition_variable_any cv;
      std::unique_lock lock(m);
      cv.wait_for(lock, stop, std::chrono::milliseconds(std::min(std::max(retry, 100LL), k_max_retry_ms)),
                  [] { return false; });
    }
  }

  bool has_session() const {
    std::lock_guard lock(m_mutex);
    return !m_session.empty();
  }

  void expire(const std::string& reason) {
    {
      std::lock_guard lock(m_mutex);
      m_session.clear();
    }
    if (m_closed_cb) m_closed_cb(reason);
  }

  httplib::Headers base_headers() const {
    httplib::Headers headers;
    for (const auto& [k, v] : m_spec.headers) headers.emplace(k, v);
    // OAuth: the token held or stored for the connection (refreshed ahead of its expiry).
    std::string current;
    if (!m_spec.token && m_spec.oauth_current) current = m_spec.oauth_current();
    std::lock_guard lock(m_mutex);
    if (!m_session.empty()) headers.emplace("Mcp-Session-Id", m_session);
    if (!m_version.empty()) headers.emplace("MCP-Protocol-Version", m_version);
    if (m_spec.token) headers.emplace("Authorization", "Bearer " + m_spec.token());
    else if (!current.empty()) headers.emplace("Authorization", "Bearer " + current);
    else if (!m_oauth_token.empty()) headers.emplace("Authorization", "Bearer " + m_oauth_token);
    return headers;
  }

  void deliver(Exchange& ex, std::string_view body) {
    json message = parse_json_or_discarded(body);
    if (message.is_discarded()) {
      fail("a message that is not JSON");
      log_body("a message that is not JSON", body);
      return;
    }
    if (message.is_array()) { // a batch (2025-03-26 servers)
      for (auto& m : message) deliver_one(ex, std::move(m));
      return;
    }
    deliver_one(ex, std::move(message));
  }

  void deliver_one(Exchange& ex, json message) {
    if (!ex.request_id.is_null() && message.is_object() && message.contains("id") &&
        message["id"] == ex.request_id && !message.contains("method"))
      ex.answered = true;
    dispatch(std::move(message), ex.request_id);
  }

  /// Hands one message to the client; anything the sink throws fails the session (never
  /// escapes a transport thread).
  void dispatch(json message, const json& related) {
    if (m_closing) return;
    try {
      m_sink(std::move(message), related);
    } catch (const std::exception& e) {
      fail(std::string("a message hearth could not handle: ") + e.what());
    } catch (...) {
      fail("a message hearth could not handle");
    }
  }

  void fail(const std::string& reason) noexcept {
    if (m_closing || !m_failed_cb) return;
    try {
      m_failed_cb(reason);
    } catch (...) {
    }
  }

  void log_body(const std::string& what, std::string_view body) const {
    if (m_spec.log) m_spec.log("warn", what + ": " + text::to_utf8(body.substr(0, 200)));
  }

  void perform(const std::string& method, const httplib::Headers& headers, std::string body,
               Exchange& ex, std::stop_token cancel,
               std::chrono::steady_clock::time_point deadline) {
    httplib::Client client(m_base.scheme_host_port);
    client.set_connection_timeout(std::chrono::seconds(10));
    const auto left = std::max<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()),
        std::chrono::milliseconds(1));
    client.set_read_timeout(left);
    client.set_write_timeout(std::chrono::seconds(30));
    client.set_keep_alive(false);
    std::stop_callback abort(cancel, [&client] { client.stop(); });
    std::string json_body;
    bool too_big = false;
    providers::SseParser parser(
        [&](const providers::SseEvent& event) {
          if (!event.id.empty()) ex.last_event_id = event.id.substr(0, 1024);
          if (event.data.empty()) return; // priming events carry only an id
          if (event.event.empty() || event.event == "message") deliver(ex, event.data);
        },
        m_spec.max_message_bytes);
    httplib::Request req;
    req.method = method;
    req.path = m_base.path_prefix;
    req.headers = headers;
    req.body = std::move(body);
    req.response_handler = [&ex](const httplib::Response& res) {
      ex.status = res.status;
      ex.headers = res.headers;
      ex.sse = lower(header(res.headers, "Content-Type")).find("text/event-stream") != std::string::npos;
      return true;
    };
    req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
      if (cancel.stop_requested() || m_closing) return false;
      // The read timeout restarts with every chunk (SSE keepalive comments): the request's
      // deadline is checked here too.
      if (std::chrono::steady_clock::now() >= deadline) {
        ex.timed_out = true;
        return false;
      }
      if (ex.status < 200 || ex.status >= 300) {
        ex.error_body.append(data, std::min(n, k_max_error_body - std::min(k_max_error_body, ex.error_body.size())));
        return true;
      }
      if (ex.sse) {
        try {
          parser.feed(std::string_view(data, n));
        } catch (const Error& e) {
          ex.problem = e.info().message;
          fail("an SSE event larger than " + std::to_string(m_spec.max_message_bytes) + " bytes");
          return false;
        }
        // Once our request is answered the stream has served its purpose (a resumed GET
        // stream may stay open for server messages we do not listen to).
        return !ex.answered;
      }
      if (json_body.size() + n > m_spec.max_message_bytes) {
        too_big = true;
        return false;
      }
      json_body.append(data, n);
      return true;
    };
    httplib::Response res;
    httplib::Error error = httplib::Error::Success;
    client.send(req, res, error);
    ex.retry_ms = parser.retry_ms();
    if (ex.timed_out) return;
    if (too_big) {
      fail("an answer larger than " + std::to_string(m_spec.max_message_bytes) + " bytes");
      return;
    }
    if (cancel.stop_requested()) return;
    if (ex.status == 0 || error == httplib::Error::Read) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ex.timed_out = true;
        return;
      }
    }
    if (ex.status == 0) {
      if (error == httplib::Error::Success || error == httplib::Error::Canceled) return;
      throw errors::mcp_http_error(m_spec.connection, 0, httplib::to_string(error));
    }
    if (ex.sse) {
      try {
        parser.finish();
      } catch (const Error&) {
      }
    } else if (ex.status >= 200 && ex.status < 300 && !text::trim(json_body).empty()) {
      deliver(ex, json_body);
    }
    ex.error_body = text::to_utf8(ex.error_body);
  }

  HttpSpec m_spec;
  providers::BaseUrl m_base{};
  Sink m_sink{};
  Closed m_closed_cb{};
  Closed m_failed_cb{};
  mutable std::mutex m_mutex;
  std::string m_session{};
  std::string m_version{};
  std::atomic<bool> m_closing{false};
  std::stop_source m_listen_stop{};
  std::thread m_listener{};
  std::string m_oauth_token{}; // from m_spec.oauth; never logged
};

class LegacySseTransport final : public Transport {
public:
  explicit LegacySseTransport(HttpSpec spec)
      : m_spec(std::move(spec)), m_base(endpoint_of(m_spec)) {}
  ~LegacySseTransport() override {
    close();
    join_or_detach(m_reader);
  }

  void start(Sink sink, Closed closed, Closed failed) override {
    m_sink = std::move(sink);
    m_closed_cb = std::move(closed);
    m_failed_cb = std::move(failed);
    httplib::Headers headers;
    for (const auto& [k, v] : m_spec.headers) headers.emplace(k, v);
    if (m_spec.token)
      headers.emplace("Authorization", "Bearer " + m_spec.token());
    headers.emplace("Accept", "text/event-stream");
    m_stream = std::make_unique<httplib::Client>(m_base.scheme_host_port);
    m_stream->set_connection_timeout(std::chrono::seconds(10));
    m_stream->set_read_timeout(std::chrono::hours(24)); // the stream stays open; close() stops it
    m_reader = std::thread([this, headers] { read_stream(headers); });
    std::unique_lock lock(m_mutex);
    if (!m_cv.wait_for(lock, std::chrono::seconds(10), [&] { return !m_endpoint.empty() || m_ended; }) ||
        m_endpoint.empty()) {
      const auto why = m_end_reason.empty() ? std::string("no endpoint event within 10 s") : m_end_reason;
      lock.unlock();
      close();
      throw errors::mcp_connection_failed(m_spec.connection, "legacy SSE: " + why);
    }
  }

  void send(const json& message, std::stop_token cancel, std::chrono::milliseconds) override {
    std::string endpoint;
    {
      std::lock_guard lock(m_mutex);
      if (m_ended || m_closing) throw errors::mcp_closed(m_spec.connection, method_of(message), "the stream ended");
      endpoint = m_endpoint;
    }
    httplib::Client client(m_base.scheme_host_port);
    client.set_connection_timeout(std::chrono::seconds(10));
    client.set_read_timeout(std::chrono::seconds(30));
    std::stop_callback abort(cancel, [&client] { client.stop(); });
    httplib::Headers headers;
    for (const auto& [k, v] : m_spec.headers) headers.emplace(k, v);
    if (m_spec.token) headers.emplace("Authorization", "Bearer " + m_spec.token());
    const auto res = client.Post(endpoint, headers, dump_json(message), "application/json");
    if (cancel.stop_requested()) return;
    if (!res)
      throw errors::mcp_http_error(m_spec.connection, 0, httplib::to_string(res.error()));
    if (res->status < 200 || res->status >= 300) {
      if (m_spec.log)
        m_spec.log("warn", "HTTP " + std::to_string(res->status) + " answered: " +
                               text::to_utf8(res->body.substr(0, k_max_error_body)));
      throw errors::mcp_http_error(m_spec.connection, res->status,
                                   "the request failed (the body is in the runtime log)");
    }
  }

  void close() noexcept override {
    if (m_closing.exchange(true)) return;
    if (m_stream) m_stream->stop();
    if (m_reader.joinable() && m_reader.get_id() != std::this_thread::get_id()) m_reader.join();
  }

  json describe() const override {
    std::lock_guard lock(m_mutex);
    return {{"transport", "sse"}, {"url", providers::redact_url(m_spec.url)}};
  }

private:
  static std::string method_of(const json& message) {
    return message.contains("method") && message["method"].is_string()
               ? message["method"].get<std::string>()
               : std::string("a reply");
  }

  void fail(const std::string& reason) noexcept {
    if (m_closing || !m_failed_cb) return;
    try {
      m_failed_cb(reason);
    } catch (...) {
    }
  }

  /// The endpoint event's URI as a path on the same origin, or "" when it points elsewhere.
  std::string endpoint_path(std::string uri) const {
    if (uri.rfind("http://", 0) == 0 || uri.rfind("https://", 0) == 0) {
      if (uri.rfind(m_base.scheme_host_port + "/", 0) != 0) return {};
      uri.erase(0, m_base.scheme_host_port.size());
    }
    if (uri.empty() || uri.front() != '/') {
      // relative to the SSE URL's directory
      auto dir = m_base.path_prefix.substr(0, m_base.path_prefix.find('?'));
      dir.erase(dir.rfind('/') + 1);
      uri = dir + uri;
    }
    if (uri.size() > 2048 || uri.find_first_of("\r\n ") != std::string::npos) return {};
    return uri;
  }

  void read_stream(const httplib::Headers& headers) {
    int status = 0;
    providers::SseParser parser(
        [&](const providers::SseEvent& event) {
          if (event.event == "endpoint") {
            const auto path = endpoint_path(std::string(text::trim(event.data)));
            std::lock_guard lock(m_mutex);
            if (path.empty()) {
              m_end_reason = "the endpoint event names another origin or a bad URI";
            } else if (m_endpoint.empty()) {
              m_endpoint = path;
            }
            m_cv.notify_all();
            return;
          }
          if (event.data.empty() || !(event.event.empty() || event.event == "message")) return;
          json message = parse_json_or_discarded(event.data);
          if (message.is_discarded()) {
            if (m_spec.log)
              m_spec.log("warn", "a message that is not JSON: " + text::to_utf8(event.data.substr(0, 200)));
            fail("a message that is not JSON");
            return;
          }
          if (m_closing) return;
          try {
            m_sink(std::move(message), json());
          } catch (const std::exception& e) {
            fail(std::string("a message hearth could not handle: ") + e.what());
          } catch (...) {
            fail("a message hearth could not handle");
          }
        },
        m_spec.max_message_bytes);
    std::string error_body;
    const auto res = m_stream->Get(
        m_base.path_prefix, headers,
        [&](const httplib::Response& r) {
          status = r.status;
          return true;
        },
        [&](const char* data, std::size_t n) {
          if (m_closing) return false;
          if (status < 200 || status >= 300) {
            error_body.append(data, std::min(n, k_max_error_body - std::min(k_max_error_body, error_body.size())));
            return true;
          }
          try {
            parser.feed(std::string_view(data, n));
          } catch (const Error&) {
            fail("an SSE event larger than " + std::to_string(m_spec.max_message_bytes) + " bytes");
            return false;
          }
          return true;
        });
    std::string reason;
    if (!res && status == 0) reason = "GET failed: " + httplib::to_string(res.error());
    else if (status < 200 || status >= 300) {
      reason = "GET answered HTTP " + std::to_string(status);
      if (m_spec.log && !error_body.empty())
        m_spec.log("warn", reason + ": " + text::to_utf8(error_body));
    }
    else reason = "the server closed the SSE stream";
    bool report = false;
    {
      std::lock_guard lock(m_mutex);
      m_ended = true;
      if (m_end_reason.empty()) m_end_reason = reason;
      report = !m_endpoint.empty() && !m_closing;
      m_cv.notify_all();
    }
    if (report && m_closed_cb) m_closed_cb(reason);
  }

  HttpSpec m_spec;
  providers::BaseUrl m_base{};
  Sink m_sink{};
  Closed m_closed_cb{};
  Closed m_failed_cb{};
  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  std::string m_endpoint{};
  std::string m_end_reason{};
  bool m_ended = false;
  std::atomic<bool> m_closing{false};
  std::unique_ptr<httplib::Client> m_stream{};
  std::thread m_reader{};
};

} // namespace

bool prefers_legacy_sse(const std::string& url) {
  auto path = url.substr(0, url.find_first_of("?#"));
  while (!path.empty() && path.back() == '/') path.pop_back();
  return path.size() >= 4 && path.compare(path.size() - 4, 4, "/sse") == 0;
}

std::unique_ptr<Transport> make_legacy_sse_transport(HttpSpec spec) {
  return std::make_unique<LegacySseTransport>(std::move(spec));
}

std::unique_ptr<Transport> make_http_transport(HttpSpec spec) {
  return std::make_unique<HttpTransport>(std::move(spec));
}

} // namespace hearth::mcp

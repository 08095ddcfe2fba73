// hearth's own small HTTP request/response types and router (no Boost here: only server.cpp sees
// Beast/Asio). Handlers fill a Response; long-lived readers (long-poll, SSE, NDJSON follow) hand
// the server a Producer instead, which it steps whenever the store stream it waits on moves, so a
// parked reader holds no thread (docs/http.md "Limits and parked readers").
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth::server {

using Clock = std::chrono::steady_clock;

/// One parsed request. `path` is the percent-decoded path (no query); `matches[0]` is the path
/// and `matches[1..]` the decoded `:param` segments of the matched route (httplib's naming).
struct Request {
  std::string method{};
  std::string target{}; // as received: path and query, undecoded
  std::string path{};
  std::vector<std::pair<std::string, std::string>> query{};   // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers{}; // names as received
  std::string body{};
  std::string remote_addr{};
  int local_port = 0;
  int http_version = 11; // 10 or 11
  std::vector<std::string> matches{};

  /// True when the query has `name`.
  bool has_param(std::string_view name) const;
  /// The first value of query parameter `name`, or "".
  std::string get_param_value(std::string_view name) const;
  /// The first value of header `name` (case-insensitive), or "".
  std::string get_header_value(std::string_view name) const;
  /// True when header `name` is present.
  bool has_header(std::string_view name) const;
};

class Response;

/// What a parked reader waits for next: an event on store stream `path` after `after_seq`, or
/// `until`, whichever comes first (shutdown and a closed peer wake it too). An empty `path` waits
/// for `until` only (a time in the past: step again at once).
struct Wake {
  std::string path{};
  std::int64_t after_seq = -1;
  Clock::time_point until{};
  /// Another source that may wake the reader before `until` (with an empty `path`): called once
  /// when the reader parks with the function that wakes it (callable from any thread, once or
  /// more); the handle it returns is released when the reader wakes, after which the function
  /// must no longer be called. May call the function at once (something is ready already).
  std::function<std::shared_ptr<void>(std::function<void()> wake)> watch{};
};

/// A long-lived answer. The server calls step() on a worker thread when the reader is first
/// served and each time it is woken; step() never blocks.
class Producer {
public:
  virtual ~Producer() = default;
  /// True: the head (status, headers of the Response) is sent at once and the bytes step()
  /// appends to `out` are written as they come (SSE, NDJSON). False: nothing is sent until
  /// step() finishes, having filled the Response (long-poll).
  virtual bool chunked() const = 0;
  /// Produces what is ready. Returns the next Wake, or nullopt when the answer is complete.
  /// `stopping`: the server is shutting down; finish now. May throw hearth::Error before the
  /// head is sent (deferred producers), rendered as usual.
  virtual std::optional<Wake> step(Response& res, std::string& out, bool stopping) = 0;
};

/// The answer to one request: status, headers, body — or a Producer.
class Response {
public:
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};
  std::shared_ptr<Producer> producer{};

  /// Sets header `name` (replacing one of the same name, case-insensitive).
  void set_header(std::string_view name, std::string_view value);
  /// The value of header `name`, or "".
  std::string get_header_value(std::string_view name) const;
  bool has_header(std::string_view name) const;
  /// Sets body and Content-Type.
  void set_content(std::string content, std::string_view content_type);
};

/// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b);

/// Percent-decodes `text`; with `plus_is_space`, '+' becomes ' ' (query strings). Invalid escapes
/// are kept as they are.
std::string url_decode(std::string_view text, bool plus_is_space);

/// Splits `target` into the raw path, the decoded path and the decoded query parameters. False
/// when the target is not in origin form (does not start with '/').
bool split_target(std::string_view target, std::string& raw_path, std::string& path,
                  std::vector<std::pair<std::string, std::string>>& query);

using Handler = std::function<void(const Request&, Response&)>;

/// Routes by path segments: patterns like `/runs/:runId` (a `:name` segment matches one
/// non-empty segment). No regex, no recursion; matching is linear in the path length.
class Router {
public:
  /// `allowed`: methods the route serves (HEAD is served by a GET route). With `strict_methods`
  /// a path match with another method is a 405 with Allow (Flue); without it the route does not
  /// match other methods at all (Eve: unknown method falls through to the 404).
  void add(const std::string& pattern, std::vector<std::string> allowed, Handler handler,
           bool strict_methods = true);

  enum class Outcome { matched, method_not_allowed, not_found };
  struct Match {
    Outcome outcome = Outcome::not_found;
    const Handler* handler = nullptr;
    std::vector<std::string> params{};  // decoded segments for `:name`, in order
    std::vector<std::string> allowed{}; // for method_not_allowed
  };

  /// Matches the segments of `raw_path` (undecoded, no query; each segment is decoded after the
  /// split, so `%2F` stays inside its segment). A parameter longer than `max_param_bytes` never matches
  /// (an id that long cannot exist): not_found.
  Match match(std::string_view method, std::string_view raw_path,
              std::size_t max_param_bytes) const;

private:
  struct Route {
    std::vector<std::string> segments{}; // ":x" for parameters
    std::vector<std::string> allowed{};
    Handler handler{};
    bool strict = true;
  };
  std::vector<Route> m_routes;
};

} // namespace hearth::server

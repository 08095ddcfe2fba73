// HTTP driving of a target (target.hpp): bounded requests through cpp-httplib, Eve session streams
// read as NDJSON with reconnects, Flue run streams read page by page.
#include "eval/target.hpp"

#include "core/errors.hpp"
#include "core/errors_eval.hpp"
#include "core/json.hpp"
#include "core/text.hpp"
#include "core/url.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <thread>

namespace hearth::eval {
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

struct Reply {
  int status = 0;
  std::string body{};
  std::string error{}; // transport error, "" when a response arrived
  httplib::Headers headers{};
};

/// {origin, path prefix} of a target URL; url_problem() was checked first.
std::pair<std::string, std::string> split(const std::string& url) {
  const auto scheme = url.find("://");
  const auto slash = url.find('/', scheme + 3);
  if (slash == std::string::npos) return {url, ""};
  auto prefix = url.substr(slash);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  return {url.substr(0, slash), prefix};
}

/// The server's message in an error body: Flue's {"error":{"type","message"}}, Eve's
/// {"ok":false,"error":"…","code"}, else the text (bounded).
std::string body_message(const std::string& body) {
  const auto doc = parse_json_or_discarded(body);
  if (doc.is_object() && doc.contains("error")) {
    const auto& e = doc["error"];
    if (e.is_object())
      return e.value("type", std::string("error")) + ": " + e.value("message", std::string());
    if (e.is_string())
      return (doc.contains("code") && doc["code"].is_string() ? doc["code"].get<std::string>() + ": "
                                                              : std::string()) +
             e.get<std::string>();
  }
  return text::to_utf8(body.substr(0, 500));
}

milliseconds remaining(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  return std::max(left, milliseconds(0));
}

class Http {
public:
  explicit Http(const TargetConfig& target) : m_target(target) {
    const auto [origin, prefix] = split(target.url);
    m_prefix = prefix;
    m_client = std::make_unique<httplib::Client>(origin);
    m_client->set_connection_timeout(std::chrono::seconds(5));
    m_client->set_write_timeout(std::chrono::seconds(30));
    m_client->set_keep_alive(true);
  }

  void stop() { m_client->stop(); }

  /// One request; the body is kept up to `max_bytes` (more is an error). `on_chunk`, when set,
  /// receives a 2xx body instead and may return false to stop reading.
  Reply send(const std::string& method, const std::string& path, const std::string& body,
             milliseconds read_timeout,
             const std::function<bool(std::string_view)>& on_chunk = {},
             std::size_t max_bytes = k_max_body_bytes) {
    // At most an hour: httplib turns the timeout into an int of milliseconds for poll().
    m_client->set_read_timeout(std::clamp(read_timeout, milliseconds(50), milliseconds(3'600'000)));
    Reply reply;
    httplib::Request req;
    req.method = method;
    req.path = m_prefix + path;
    for (const auto& [k, v] : m_target.headers) req.headers.emplace(k, v);
    if (method == "POST") {
      req.headers.emplace("Content-Type", "application/json");
      req.body = body;
    }
    bool too_large = false;
    req.response_handler = [&reply](const httplib::Response& res) {
      reply.status = res.status;
      reply.headers = res.headers;
      return true;
    };
    req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
      if (on_chunk && reply.status >= 200 && reply.status < 300)
        return on_chunk(std::string_view(data, n));
      if (reply.body.size() + n > max_bytes) {
        too_large = true;
        return false;
      }
      reply.body.append(data, n);
      return true;
    };
    httplib::Response res;
    httplib::Error error = httplib::Error::Success;
    m_client->send(req, res, error);
    if (too_large) reply.error = "the answer is larger than " + std::to_string(max_bytes) + " bytes";
    else if (error != httplib::Error::Success && error != httplib::Error::Canceled)
      reply.error = httplib::to_string(error);
    return reply;
  }

  std::string url(const std::string& path) const { return m_target.url + path; }

private:
  const TargetConfig& m_target;
  std::string m_prefix{};
  std::unique_ptr<httplib::Client> m_client{};
};

std::string header(const Reply& reply, const std::string& name) {
  for (const auto& [k, v] : reply.headers)
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      return v;
  return "";
}

std::int64_t int_of(const json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number()) return 0;
  return obj[key].get<std::int64_t>();
}

void add_tool_call(Observation& seen, std::string name, json input) {
  if (seen.tool_calls.size() < k_max_tool_calls)
    seen.tool_calls.push_back({std::move(name), std::move(input)});
}

void set_text(Observation& seen, const std::string& text) {
  seen.text = text.size() > k_max_output_bytes ? text.substr(0, k_max_output_bytes) : text;
}

} // namespace

std::string url_problem(const std::string& url) {
  if (url.size() > 2000) return "longer than 2000 characters";
  if (!text::starts_with(url, "http://") && !text::starts_with(url, "https://"))
    return "not an http:// or https:// URL";
  const auto scheme = url.find("://");
  const auto host_end = url.find_first_of("/?#", scheme + 3);
  if (host_end == scheme + 3 || url.size() == scheme + 3) return "no host";
  if (url.find_first_of("?# \t\r\n") != std::string::npos)
    return "a query, fragment or whitespace is not allowed";
  return "";
}

bool feed_eve_event(const json& event, Observation& seen, std::string& failure) {
  if (!event.is_object() || !event.contains("type") || !event["type"].is_string()) return false;
  const auto type = event["type"].get<std::string>();
  const json data = event.contains("data") && event["data"].is_object() ? event["data"] : json::object();
  if (type == "step.started") {
    ++seen.steps;
  } else if (type == "step.completed") {
    const json usage = data.contains("usage") ? data["usage"] : json::object();
    seen.input_tokens += int_of(usage, "inputTokens");
    seen.output_tokens += int_of(usage, "outputTokens");
  } else if (type == "message.completed") {
    if (data.contains("message") && data["message"].is_string()) set_text(seen, data["message"].get<std::string>());
  } else if (type == "result.completed") {
    if (data.contains("result")) seen.data = data["result"];
  } else if (type == "actions.requested") {
    if (data.contains("actions") && data["actions"].is_array())
      for (const auto& a : data["actions"]) {
        if (!a.is_object()) continue;
        const auto kind = a.value("kind", std::string("tool-call"));
        const json input = a.contains("input") ? a["input"] : json::object();
        if (kind == "load-skill") add_tool_call(seen, "load_skill", input);
        else if (a.contains("toolName") && a["toolName"].is_string())
          add_tool_call(seen, a["toolName"].get<std::string>(), input);
      }
  } else if (type == "turn.failed") {
    failure = "the turn failed: " + data.value("code", std::string("ERROR")) + ": " +
              data.value("message", std::string("(no message)"));
    return true;
  } else if (type == "turn.cancelled") {
    failure = "the turn was cancelled";
    return true;
  } else if (type == "turn.waiting" && data.value("on", std::string()) == "input") {
    failure = "the turn waits for input (an approval or a question); evals cannot answer it";
    return true;
  } else if (type == "session.completed") {
    failure = "the session ended before the turn did";
    return true;
  } else if (type == "session.waiting") {
    return true;
  }
  return false;
}

void feed_flue_event(const json& event, Observation& seen) {
  if (!event.is_object() || !event.contains("type") || !event["type"].is_string()) return;
  const auto type = event["type"].get<std::string>();
  if (type == "turn_request") {
    ++seen.steps;
  } else if (type == "turn") {
    const json usage = event.contains("usage") ? event["usage"] : json::object();
    seen.input_tokens += int_of(usage, "input");
    seen.output_tokens += int_of(usage, "output");
  } else if (type == "tool_start") {
    const auto name = event.value("toolName", std::string());
    if (!name.empty() && name != "finish")
      add_tool_call(seen, name, event.contains("args") ? event["args"] : json::object());
  }
}

// --- Eve sessions ----------------------------------------------------------------------------

struct AgentSession::Impl {
  TargetConfig target;
  std::string eval_id;
  LogSink log;
  Http http;
  std::string session_id{};
  std::size_t index = 0; // Eve events read so far (the next read's startIndex)

  Impl(TargetConfig t, std::string id, LogSink l)
      : target(std::move(t)), eval_id(std::move(id)), log(std::move(l)), http(target) {}

  [[noreturn]] void fail(const std::string& what) { throw errors::eval_target_failed(eval_id, what); }

  /// Asks the target to stop the running turn (best effort) and throws eval_timeout.
  [[noreturn]] void time_out(long long timeout_ms) {
    if (!session_id.empty())
      http.send("POST", "/eve/v1/session/" + percent_encode(session_id) + "/cancel", "{}",
                milliseconds(2000));
    throw errors::eval_timeout(eval_id, timeout_ms);
  }

  void post(const std::string& message, const json& schema, Clock::time_point deadline) {
    json body = {{"message", message}};
    if (!schema.is_null()) body["outputSchema"] = schema;
    const auto path = session_id.empty() ? std::string("/eve/v1/session")
                                         : "/eve/v1/session/" + percent_encode(session_id);
    const auto reply = http.send("POST", path, dump_json(body),
                                 std::min(remaining(deadline), milliseconds(30'000)), {}, 1u << 20);
    if (!reply.error.empty()) fail("POST " + http.url(path) + ": " + reply.error);
    if (reply.status < 200 || reply.status >= 300)
      fail("POST " + http.url(path) + " answered " + std::to_string(reply.status) + ": " +
           body_message(reply.body));
    if (session_id.empty()) {
      const auto doc = parse_json_or_discarded(reply.body);
      if (!doc.is_object() || !doc.contains("sessionId") || !doc["sessionId"].is_string() ||
          doc["sessionId"].get<std::string>().empty() || doc["sessionId"].get<std::string>().size() > 200)
        fail("POST " + http.url(path) + " answered no sessionId");
      session_id = doc["sessionId"].get<std::string>();
      if (log) log("session " + session_id);
    }
  }

  /// Reads the stream from `index` until the turn ends.
  void read_turn(Observation& seen, Clock::time_point deadline, long long timeout_ms) {
    std::string failure;
    bool done = false;
    int connect_failures = 0;
    std::string buffer;
    std::size_t events = 0;
    while (!done) {
      if (Clock::now() >= deadline) time_out(timeout_ms);
      const auto path = "/eve/v1/session/" + percent_encode(session_id) +
                        "/stream?startIndex=" + std::to_string(index) + "&streamControlVersion=1";
      buffer.clear();
      bool bad_line = false;
      const auto on_chunk = [&](std::string_view chunk) {
        buffer.append(chunk);
        for (auto nl = buffer.find('\n'); nl != std::string::npos; nl = buffer.find('\n')) {
          const auto line = buffer.substr(0, nl);
          buffer.erase(0, nl + 1);
          if (text::trim(line).empty()) continue;
          const auto event = parse_json_or_discarded(line);
          if (!event.is_object()) {
            bad_line = true;
            return false;
          }
          if (event.contains("$eve")) return false; // lease ended: read again from `index`
          ++index;
          if (++events > k_max_events) {
            bad_line = true;
            return false;
          }
          if (log && event.contains("type") && event["type"].is_string())
            log(event["type"].get<std::string>());
          if (feed_eve_event(event, seen, failure)) {
            done = true;
            return false;
          }
        }
        if (buffer.size() > k_max_stream_line_bytes) {
          bad_line = true;
          return false;
        }
        return true;
      };
      const auto read_timeout = std::clamp(remaining(deadline), milliseconds(50), milliseconds(15'000));
      const auto reply = http.send("GET", path, "", read_timeout, on_chunk);
      if (bad_line)
        fail("the session stream sent a line that is not a JSON event (or too many events)");
      if (done) break;
      if (!reply.error.empty()) {
        if (reply.error.find("Read") != std::string::npos) continue; // idle past read_timeout
        if (++connect_failures > 3) fail("GET " + http.url(path) + ": " + reply.error);
        std::this_thread::sleep_for(milliseconds(100));
        continue;
      }
      if (reply.status != 200)
        fail("GET " + http.url(path) + " answered " + std::to_string(reply.status) + ": " +
             body_message(reply.body));
    }
    if (!failure.empty()) fail(failure);
  }
};

AgentSession::AgentSession(TargetConfig target, std::string eval_id, LogSink log)
    : m_impl(std::make_unique<Impl>(std::move(target), std::move(eval_id), std::move(log))) {}
AgentSession::~AgentSession() = default;

const std::string& AgentSession::session_id() const { return m_impl->session_id; }

void AgentSession::prompt(const std::string& message, const json& output_schema, Observation& seen,
                          Clock::time_point deadline) {
  const auto timeout_ms = remaining(deadline).count();
  const auto started = Clock::now();
  seen.last_input = message;
  seen.text.clear();
  seen.data = json();
  m_impl->post(message, output_schema, deadline);
  m_impl->read_turn(seen, deadline, timeout_ms);
  seen.latency_ms += std::chrono::duration<double, std::milli>(Clock::now() - started).count();
}

// --- workflows -------------------------------------------------------------------------------

void run_workflow(const TargetConfig& target, const std::string& eval_id, const std::string& name,
                  const json& payload, Observation& seen, Clock::time_point deadline,
                  const LogSink& log) {
  const auto timeout_ms = remaining(deadline).count();
  const auto fail = [&eval_id](const std::string& what) {
    throw errors::eval_target_failed(eval_id, what);
  };
  Http http(target);
  const auto path = "/workflows/" + percent_encode(name) + "?wait=result";
  const auto started = Clock::now();
  seen.last_input = dump_json(payload);
  const auto reply = http.send("POST", path, dump_json(payload), remaining(deadline), {}, k_max_body_bytes);
  seen.latency_ms += std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  if (Clock::now() >= deadline) throw errors::eval_timeout(eval_id, timeout_ms);
  if (!reply.error.empty()) fail("POST " + http.url(path) + ": " + reply.error);
  if (reply.status != 200)
    fail("workflow \"" + name + "\" answered " + std::to_string(reply.status) + ": " +
         body_message(reply.body));
  const auto doc = parse_json_or_discarded(reply.body);
  if (!doc.is_object()) fail("POST " + http.url(path) + " answered a body that is not a JSON object");
  const json result = doc.contains("result") ? doc["result"] : json();
  seen.data = result;
  set_text(seen, result.is_string() ? result.get<std::string>() : dump_json(result));
  const auto run_id = doc.value("runId", std::string());
  if (log) log("run " + run_id);
  if (run_id.empty() || run_id.size() > 200) return; // a server without run streams: no details
  std::string offset = "-1";
  for (std::size_t page = 0; page < 1000; ++page) {
    const auto events_path = "/runs/" + percent_encode(run_id) + "?offset=" + percent_encode(offset);
    const auto got = http.send("GET", events_path, "",
                               std::clamp(remaining(deadline), milliseconds(1000), milliseconds(30'000)));
    if (!got.error.empty() || got.status != 200) {
      if (log) log("run events unavailable: " + (got.error.empty() ? std::to_string(got.status) : got.error));
      return;
    }
    const auto events = parse_json_or_discarded(got.body);
    if (!events.is_array()) return;
    for (const auto& e : events) {
      if (log && e.is_object() && e.contains("type") && e["type"].is_string())
        log(e["type"].get<std::string>());
      feed_flue_event(e, seen);
    }
    const auto next = header(got, "Stream-Next-Offset");
    const bool up_to_date = header(got, "Stream-Up-To-Date") == "true";
    if (events.empty() || up_to_date || next.empty() || next == offset) return;
    offset = next;
  }
}

} // namespace hearth::eval

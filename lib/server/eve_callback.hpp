// Eve 0.80.1's session `callback` (issue 16 §5; eve/dist/src/channel/session-callback.js,
// subagents/parent-notification.js, execution/session-callback-request.js): a caller (in Eve, a
// parent deployment delegating to this one as a remote subagent) names where the settled turn is
// reported. POST /eve/v1/session and POST /eve/v1/session/:id accept
//   callback: {callId, subagentName, token, url}   (all non-empty strings, no other key)
// where `url` is absolute, its path ends in `/eve/v1/callback/<token>` and its host is not a
// private or reserved IP literal (loopback is allowed, as Eve allows it). When the turn that
// delivery started settles (completes, fails or is cancelled; not while it waits for input),
// one JSON POST goes to `url` (docs/http.md "Session callbacks").
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace hearth::server {

/// Validates a request's `callback` as Eve 0.80.1 does and returns it ({callId, subagentName,
/// token, url}). Throws errors::eve_invalid_request (HTTP 400 {ok:false, error}) with Eve's
/// message, "Invalid callback metadata: callback.<field>: <problem>[; ...]". hearth refuses more
/// than Eve in three ways, each with its own problem text: a scheme other than http/https (Eve
/// accepts it and fails when it posts), user info in the URL, and fields over 2048 bytes.
nlohmann::json parse_eve_callback(const nlohmann::json& value);

/// The settled turn a callback reports.
struct SettledTurn {
  enum class Kind { completed, failed, cancelled } kind = Kind::completed;
  nlohmann::json output{};  // completed: the turn's text or structured result
  std::string message{};    // failed: the error's message
  nlohmann::json usage{};   // the turn's usage ({input, output, cacheRead, cacheWrite}) or null
};

/// Eve's body for `turn` of session `session_id`: {callId, kind: "turn.completed", outcome:
/// {kind: "parked", result: {kind: "succeeded", output}, usageDelta}, output, sessionId,
/// subagentName}, or kind "turn.failed" with `error` {code: "SUBAGENT_EXECUTION_FAILED",
/// message} and result {kind: "failed", error} (a cancelled turn: result {kind: "cancelled"},
/// message "The agent invocation was cancelled."). usageDelta: {cacheReadTokens,
/// cacheWriteTokens, inputTokens, outputTokens}.
nlohmann::json eve_callback_body(const nlohmann::json& callback, const std::string& session_id,
                                 const SettledTurn& turn);

/// Posts callback bodies from one background thread, so neither a turn nor a request thread
/// ever waits on a caller's server. Each POST: Content-Type application/json and nothing else
/// (no credentials; Eve does not sign callbacks), connect timeout 5 s, read and write timeouts
/// 10 s, the whole attempt at most 30 s (Eve's), redirects not followed (a 3xx is a failure, as
/// Eve's `redirect: "error"`), the response body read at most 64 KiB and ignored. Transport
/// failures, 408, 429 and 5xx are retried, 3 attempts in all (1 s then 4 s apart); other
/// answers are final. At most 256 bodies wait; more are dropped and logged.
class CallbackSender {
public:
  struct Limits {
    std::size_t max_queue = 256;
    int attempts = 3;
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds io_timeout{10000};
    std::chrono::milliseconds total{30000};
    std::chrono::milliseconds first_backoff{1000};
  };
  CallbackSender();
  explicit CallbackSender(Limits limits);
  ~CallbackSender(); // stops: an attempt in flight is cut, what waits is dropped
  CallbackSender(const CallbackSender&) = delete;
  CallbackSender& operator=(const CallbackSender&) = delete;

  /// Queues one POST of `body` to `url` (validated by parse_eve_callback); false when full.
  bool push(std::string url, nlohmann::json body);

private:
  struct Item {
    std::string url;
    std::string body;
  };
  void loop(std::stop_token stop);
  /// One attempt: the HTTP status, or 0 for a transport failure or timeout.
  int post_once(const Item& item, std::stop_token stop);

  Limits m_limits;
  std::mutex m_mutex{};
  std::condition_variable_any m_wake{};
  std::deque<Item> m_queue{};
  std::jthread m_thread; // last: its loop uses the members above
};

} // namespace hearth::server

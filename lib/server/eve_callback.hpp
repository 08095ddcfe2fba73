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
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

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

/// Posts callback bodies off the turn and request threads, so neither ever waits on a caller's
/// server. Each POST: Content-Type application/json and nothing else (no credentials; Eve does
/// not sign callbacks), connect timeout 5 s, read and write timeouts 10 s, the whole attempt at
/// most 30 s (Eve's), redirects not followed (a 3xx is a failure, as Eve's `redirect: "error"`),
/// the response body read at most 64 KiB and ignored. Transport failures, 408, 429 and 5xx are
/// retried, 3 attempts in all (1 s then 4 s apart); other answers are final.
///
/// Scheduling: `workers` threads; each callback has a due time and a retry is queued again with
/// its backoff instead of holding a worker; at most one POST per host is in flight, so a slow or
/// failing receiver holds one worker and never delays other hosts' callbacks. At most
/// `max_queue` callbacks wait, `max_per_host` of them for one host; more are dropped and logged.
///
/// Addresses: a host name is resolved here (at most `resolve_timeout`); when any of its addresses
/// is private or reserved (as parse_eve_callback's literal check, IPv4-mapped IPv6 included) the
/// callback fails without a retry; otherwise the POST connects to exactly one of them (the first
/// IPv4 one, else the first; the Host header and the TLS name stay the URL's), so a rebinding
/// name cannot move it.
///
/// Stopping: ~CallbackSender lets what is queued go on for at most `drain`, then cuts attempts in
/// flight (from another thread than the destructor's: it never waits on a connect or a name
/// lookup) and returns within about `drain` + 1 s. Each callback not delivered by then is logged
/// (token redacted) and reported as `dropped`.
class CallbackSender {
public:
  enum class Outcome { sent, failed, dropped };
  /// Called once per pushed callback, with the key given to push: from a worker (sent, failed)
  /// or the destructor (dropped); never after the destructor returned. Must not throw.
  using Done = std::function<void(const std::string& key, Outcome outcome)>;
  /// Resolves a host name to numeric address texts (tests replace getaddrinfo with it). It may
  /// outlive the sender (it runs on a detached thread so a slow lookup is abandoned, not waited
  /// for): it must own what it uses. Throwing or returning none is a transport failure.
  using Resolver = std::function<std::vector<std::string>(const std::string& host)>;
  struct Limits {
    std::size_t max_queue = 256;
    std::size_t max_per_host = 64;
    int attempts = 3;
    int workers = 4;
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds io_timeout{10000};
    std::chrono::milliseconds total{30000};
    std::chrono::milliseconds first_backoff{1000};
    std::chrono::milliseconds resolve_timeout{5000};
    std::chrono::milliseconds drain{3000};
  };
  CallbackSender();
  explicit CallbackSender(Limits limits, Done on_done = {}, Resolver resolver = {});
  ~CallbackSender();
  CallbackSender(const CallbackSender&) = delete;
  CallbackSender& operator=(const CallbackSender&) = delete;

  /// Queues one POST of `body` to `url` (validated by parse_eve_callback); false when full.
  /// `key` names it to on_done.
  bool push(std::string url, nlohmann::json body, std::string key = {});

  struct State; // shared with the workers, which may outlive the sender by one cut attempt

private:
  std::shared_ptr<State> m_state;
};

} // namespace hearth::server

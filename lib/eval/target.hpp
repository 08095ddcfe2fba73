// The server an eval drives over HTTP (docs/evals.md "Targets"): agents through Eve sessions
// (POST /eve/v1/session, GET …/stream NDJSON), workflows through Flue's POST /workflows/:name
// ?wait=result and the run's Durable Stream. Works against `hearth dev`/`start` and any
// Eve/Flue-compatible server; every body read is bounded.
#pragma once

#include "eval/checks.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace hearth::eval {

using Clock = std::chrono::steady_clock;

/// Per-eval log lines (verbose output, JUnit system-out).
using LogSink = std::function<void(const std::string& line)>;

/// Largest HTTP answer body read (a run's event page, an error envelope).
inline constexpr std::size_t k_max_body_bytes = 32u << 20;
/// Largest NDJSON line of an Eve stream.
inline constexpr std::size_t k_max_stream_line_bytes = 8u << 20;
/// Events read per eval before it is refused (a runaway agent).
inline constexpr std::size_t k_max_events = 200000;

/// Where and how to reach the target.
struct TargetConfig {
  std::string url{};                            // "http://127.0.0.1:3583", optionally with a path
  std::map<std::string, std::string> headers{}; // e.g. Authorization (HEARTH_EVAL_TOKEN)
};

/// "" when `url` is an http(s) URL hearth can drive, else why not.
std::string url_problem(const std::string& url);

/// One Eve session of the target's root agent: successive prompts continue its history.
/// Not thread-safe; one per eval (or per script session).
class AgentSession {
public:
  AgentSession(TargetConfig target, std::string eval_id, LogSink log);
  ~AgentSession();
  AgentSession(const AgentSession&) = delete;
  AgentSession& operator=(const AgentSession&) = delete;

  /// Sends `message` (with `output_schema` when not null) and reads the session's stream until
  /// the turn ends; adds what the turn did to `seen` (text and data are the turn's). Throws
  /// errors::eval_timeout at `deadline` (after asking the target to cancel the turn),
  /// errors::eval_target_failed for an HTTP error, a failed turn, or a turn parked on input.
  void prompt(const std::string& message, const nlohmann::json& output_schema, Observation& seen,
              Clock::time_point deadline);

  /// The Eve session id ("" before the first prompt).
  const std::string& session_id() const;

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

/// Runs workflow `name` with `payload` (POST /workflows/:name?wait=result), then reads its run's
/// events to fill `seen` (tool calls, steps, tokens). Throws as AgentSession::prompt.
void run_workflow(const TargetConfig& target, const std::string& eval_id, const std::string& name,
                  const nlohmann::json& payload, Observation& seen, Clock::time_point deadline,
                  const LogSink& log);

/// Feeds one Eve session event into `seen` (unit-tested): step.started, step.completed usage,
/// message.completed, result.completed, actions.requested. Returns true when the turn is over
/// (session.waiting, or `failure` set: turn.failed, turn.cancelled, turn.waiting on input,
/// session.completed).
bool feed_eve_event(const nlohmann::json& event, Observation& seen, std::string& failure);

/// Feeds one Flue run event (flat `{type, …}`) into `seen`: turn_request, turn usage, tool_start.
void feed_flue_event(const nlohmann::json& event, Observation& seen);

} // namespace hearth::eval

// Eve 0.80.1's NDJSON session events (peers/eve/REPORT.md §6, stream version 26) projected from
// the runtime's one internal record: the Flue-shaped events of the session's agent stream
// `agents/<root agent>/<sessionId>` (ARCHITECTURE.md §6). The Eve routes add two markers of their
// own to that stream: `submission` (a delivered message) and `session_end` (a reset).
#pragma once

#include "store/store.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace hearth::server {

/// Marker appended before each Eve turn: {submissionId, message, parts}.
inline constexpr const char* k_submission_event = "submission";
/// Marker appended when a session is reset (then the stream is closed): {reason}.
inline constexpr const char* k_session_end_event = "session_end";
/// The eve version hearth's Eve wire shapes follow.
inline constexpr const char* k_eve_version = "0.80.1";

/// Turns internal events, fed in stream order from seq 0, into Eve events
/// `{data, type, meta{at, id, deliveryIds}}`. Deterministic: the same stream always projects to
/// the same events with the same ids, so `startIndex` reconnects are exact.
class EveProjector {
public:
  EveProjector(std::string stream_path, std::string agent_name, std::string continuation_token);

  /// Projects `event`, appending zero or more Eve events to `out`.
  void feed(const store::Event& event, std::vector<nlohmann::json>& out);

  /// The last internal seq fed (-1 before any).
  std::int64_t last_seq() const noexcept { return m_last_seq; }

  /// Subagent streams (issue 16 §3): project only the child session of task `task_id` (Eve's
  /// `<sessionId>.<taskId>`, subagent.called's childSessionId) out of the parent's stream, as its
  /// own session: the parent's task_start opens it (session.started with `parent` lineage,
  /// turn.started, message.received), the child's own events follow as a root session's would,
  /// and the parent's `task` closes it (turn.completed or turn.failed, session.waiting). Call
  /// before the first feed.
  void follow_child(std::string task_id, std::string parent_session_id);
  /// Child mode: the child's task_start was seen.
  bool child_seen() const noexcept { return m_child_seen; }
  /// Child mode: the child's task ended (its stream is complete).
  bool child_done() const noexcept { return m_child_done; }

private:
  /// `delivery`: meta carries deliveryIds (Eve leaves them off its HITL events, peers t18).
  void emit(std::vector<nlohmann::json>& out, const store::Event& source, std::string type,
            nlohmann::json data, bool delivery = true);
  nlohmann::json turn_fields() const;
  nlohmann::json step_fields() const;
  nlohmann::json usage_totals() const;
  void begin_turn(const store::Event& event, std::vector<nlohmann::json>& out);
  void feed_input(const store::Event& event, std::vector<nlohmann::json>& out);

  std::string m_path;
  std::string m_agent;
  std::string m_token;
  std::int64_t m_last_seq = -1;
  int m_emitted_for_seq = 0; // Eve events projected from the current internal event
  bool m_started = false;
  bool m_in_turn = false;
  bool m_need_message = false; // no submission marker: take message.received from the user message
  bool m_step_open = false;
  bool m_parked = false;   // approvals: the turn waits for input (turn_parked)
  bool m_resuming = false; // approvals: turn_resumed seen; the next operation_start continues it
  bool m_restate_waiting = false; // a …/compact on a parked turn: its `idle` says waiting again
  /// MCP elicitation: questions of running tool calls announced as input.requested, whose
  /// input_response becomes input.resolved (at most 64 remembered).
  std::vector<std::string> m_live_requests{};
  int m_turn = -1;
  int m_step = -1;
  nlohmann::json m_delivery_ids = nlohmann::json::array();
  nlohmann::json m_pending{}; // the submission marker's data, until its turn begins
  std::string m_reasoning{};
  long long m_input = 0, m_output = 0, m_cache_read = 0, m_cache_write = 0;
  std::string m_child_task{};      // child mode: the task whose session this projects
  std::string m_child_parent{};    // child mode: the parent's session id
  bool m_child_seen = false;
  bool m_child_done = false;
  bool m_child_own = false;        // child mode: the event being fed is the child's own
  /// Child mode: handles the event (true) or says it is not the child's (false, dropped).
  bool feed_child(const store::Event& event, std::vector<nlohmann::json>& out);
};

/// One Eve event as Eve serializes it: keys in the order data, type, meta.
std::string eve_line(const nlohmann::json& event);

/// A UUIDv4 (Eve's deliveryId shape).
std::string uuid4();

/// Eve's message field (a string, or text/file parts) as text plus `parts`, or throws
/// errors::eve_invalid_request with Eve's wording.
struct EveMessage {
  std::string text{};
  nlohmann::json parts = nlohmann::json::array();
};
EveMessage parse_eve_message(const nlohmann::json& message);

} // namespace hearth::server

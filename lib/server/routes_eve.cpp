// Eve 0.80.1's routes (seed pages 13 and 20; peers/eve/REPORT.md §5–7). A session is an instance
// of the root agent whose id is the sessionId; its events are the agent stream projected by
// EveProjector. Input is accepted in both the seed's shape (continuationToken) and 0.80.1's.
#include "core/errors.hpp"
#include "core/json.hpp"
#include "core/ids.hpp"
#include "mcp/oauth.hpp"
#include "runtime/events.hpp"
#include "runtime/runtime.hpp"
#include "server/context.hpp"
#include "server/eve_callback.hpp"
#include "server/eve_info.hpp"
#include "server/eve_projection.hpp"
#include "store/store.hpp"

#include <iostream>
#include <map>
#include <optional>
#include <mutex>

namespace hearth::server {
namespace {

constexpr const char* k_workflow_id = "workflow//eve//workflowEntry";
constexpr const char* k_stream_version = "26";
constexpr auto k_reset_wait = std::chrono::seconds(30);

/// One lock per session: a turn holds it from its marker to its last event, so markers and
/// operations interleave in delivery order; reset waits for it (bounded).
class SessionLocks {
public:
  std::timed_mutex& get(const std::string& id) {
    std::lock_guard lock(m_mutex);
    auto& slot = m_locks[id];
    if (!slot) slot = std::make_unique<std::timed_mutex>();
    return *slot;
  }

private:
  std::mutex m_mutex;
  std::map<std::string, std::unique_ptr<std::timed_mutex>> m_locks;
};

struct Eve {
  // clang 14 (fuzz build): no paren-init
  explicit Eve(ServerContext& context)
      : ctx(context),
        callbacks(CallbackSender::Limits{},
                  [this](const std::string& key, CallbackSender::Outcome o) { delivered(key, o); }) {
    requeue_callbacks();
  }
  ServerContext& ctx;
  SessionLocks locks{};
  CallbackSender callbacks; // session callbacks, posted off the turn and request threads

  const std::string& root() const { return ctx.runtime.program().root_agent; }
  store::SessionKey key(const std::string& id) const {
    return {.agent = root(), .instance_id = id};
  }
  std::string path(const std::string& id) const {
    return runtime::Runtime::agent_stream(root(), id);
  }
  /// The session's callback record (issue 16 §5), a stream of its own that no route serves (the
  /// callback's token stays off the session's readable streams): `bound` {callback} when a
  /// delivery named one, `unbound` when a later message named none, `sent` once it was queued.
  std::string callback_path(const std::string& id) const { return "eve-callbacks/" + root() + "/" + id; }
  /// The callback outbox (issue 16 review, finding 6), a stream no route serves: `pending`
  /// {id, url, body} when a settled turn's callback is queued, then `sent` or `failed` {id} from
  /// the sender. A callback still pending when the server stopped (the sender drains for 3 s,
  /// then logs what it drops) is queued again when the server starts.
  std::string outbox_path() const { return "eve-callbacks/" + root(); }

  /// Queues a settled turn's callback, stored pending first.
  void queue_callback(const std::string& url, const json& body) {
    const auto key = ids::make_id("cb");
    auto& store = ctx.runtime.store();
    store.create_stream(outbox_path());
    store.append(outbox_path(), {.type = "pending", .data = {{"id", key}, {"url", url}, {"body", body}}});
    if (!callbacks.push(url, body, key)) delivered(key, CallbackSender::Outcome::failed); // full: logged
  }

  void delivered(const std::string& key, CallbackSender::Outcome outcome) {
    if (outcome == CallbackSender::Outcome::dropped) return; // stays pending: sent after a restart
    try {
      ctx.runtime.store().append(outbox_path(),
                                 {.type = outcome == CallbackSender::Outcome::sent ? "sent" : "failed",
                                  .data = {{"id", key}}});
    } catch (const std::exception& e) {
      std::cerr << "hearth: warning: session callback outcome not stored: " << e.what() << std::endl;
    }
  }

  /// On start: the outbox's pending callbacks (its newest 8192 events are read) are queued again.
  void requeue_callbacks() {
    try {
      auto& store = ctx.runtime.store();
      const auto info = store.stream_info(outbox_path());
      if (!info || info->last_seq < 0) return;
      std::map<std::string, json> pending; // id -> event data, in id (ULID: time) order
      for (std::int64_t after = std::max<std::int64_t>(-1, info->last_seq - 8192); after < info->last_seq;) {
        auto page = store.read(outbox_path(), after, 512);
        if (page.events.empty()) break;
        for (const auto& e : page.events) {
          const auto id = e.data.is_object() ? e.data.value("id", "") : std::string();
          if (e.type == "pending") pending[id] = e.data;
          else pending.erase(id);
        }
        after = page.next_seq;
      }
      for (const auto& [id, data] : pending)
        if (data.contains("url") && data["url"].is_string() && data.contains("body"))
          callbacks.push(data["url"].get<std::string>(), data["body"], id);
    } catch (const std::exception& e) {
      std::cerr << "hearth: warning: pending session callbacks not queued again: " << e.what() << std::endl;
    }
  }
  /// Session routes serve the root agent; one whose agent.json says "http": false has none (404).
  void require_http() const {
    if (ctx.runtime.agent(root()).http_disabled) throw errors::agent_not_found(root(), {});
  }
};

void no_store(Response& res) { res.set_header("cache-control", "no-store"); }

json eve_body(const Request& req, bool allow_empty) {
  const bool blank = req.body.find_first_not_of(" \t\r\n") == std::string::npos;
  if (blank) {
    if (allow_empty) return json::object();
    throw errors::eve_invalid_request("Invalid JSON body.");
  }
  json body;
  try {
    body = hearth::parse_json(req.body);
  } catch (const json::parse_error& e) {
    const std::string what = e.what();
    if (what.find("deeper than") != std::string::npos) // name the limit (hearth::k_max_json_depth)
      throw errors::eve_invalid_request("Invalid JSON body: nesting is deeper than " +
                                        std::to_string(hearth::k_max_json_depth) + " levels.");
    throw errors::eve_invalid_request("Invalid JSON body.");
  }
  if (!body.is_object()) throw errors::eve_invalid_request("Expected a JSON object.");
  return body;
}

/// Eve's clientContext as text (string, strings joined by lines, or JSON): the model reads it
/// before the turn's message, for that turn only; it is never stored (seed 003: "Not persisted
/// to durable history"). "" when absent.
std::string client_context(const json& body) {
  if (!body.contains("clientContext") || body["clientContext"].is_null()) return {};
  const auto& c = body["clientContext"];
  std::string context;
  if (c.is_string()) {
    context = c.get<std::string>();
  } else if (c.is_array()) {
    for (const auto& item : c)
      context += (context.empty() ? "" : "\n") + (item.is_string() ? item.get<std::string>()
                                                                   : wire(item));
  } else {
    context = wire(c);
  }
  return context;
}

/// The invocation of a turn: route auth, then a profile from `context` (or an object
/// clientContext), then the agent's resolver.
runtime::Invocation session_invocation(Eve& eve, const json& body) {
  json context = body.value("context", json());
  if (!context.is_object() && body.contains("clientContext") && body["clientContext"].is_object())
    context = body["clientContext"];
  return agent_invocation(eve.ctx.runtime.agent(eve.root()), context);
}

/// Closes a turn the runtime failed outside its own error handling, so a stream reader always
/// reaches a boundary event.
void close_failed_turn(store::Store& store, const std::string& path, const std::string& session_id,
                       const std::exception& e) {
  runtime::EventLog log(store, path);
  const runtime::Envelope envelope{.instance_id = session_id, .session = "default"};
  log.emit("operation",
           {{"operationKind", "prompt"}, {"isError", true},
            {"error", {{"type", "internal_error"}, {"message", e.what()}, {"details", ""}}}},
           envelope);
  log.emit("idle", json::object(), envelope);
}

/// The newest event of the session's callback record, if any.
std::optional<store::Event> last_callback_event(Eve& eve, const std::string& session_id) {
  auto& store = eve.ctx.runtime.store();
  const auto path = eve.callback_path(session_id);
  const auto info = store.stream_info(path);
  if (!info || info->last_seq < 0) return std::nullopt;
  auto page = store.read(path, info->last_seq - 1, 1);
  if (page.events.empty()) return std::nullopt;
  return page.events.front();
}

/// Inside the session lock, before a delivery runs: a callback binds to the turn it starts (or,
/// for inputResponses, the parked turn it resumes); a message without one ends the binding of
/// an earlier turn that never settled. Stored, so a turn resumed after a restart still reports.
void bind_callback(Eve& eve, const std::string& session_id, const json& callback, bool new_turn) {
  auto& store = eve.ctx.runtime.store();
  const auto path = eve.callback_path(session_id);
  if (!callback.is_null()) {
    store.create_stream(path);
    store.append(path, {.type = "bound", .data = {{"callback", callback}}});
    return;
  }
  if (!new_turn) return;
  const auto last = last_callback_event(eve, session_id);
  if (last && last->type == "bound") store.append(path, {.type = "unbound", .data = json::object()});
}

/// A turn of the session settled: its bound callback (if any) is queued, once.
void settle_callback(Eve& eve, const std::string& session_id, const SettledTurn& turn) {
  try {
    const auto last = last_callback_event(eve, session_id);
    if (!last || last->type != "bound" || !last->data.contains("callback")) return;
    const auto& callback = last->data["callback"];
    eve.ctx.runtime.store().append(eve.callback_path(session_id), {.type = "sent", .data = json::object()});
    eve.queue_callback(callback.value("url", ""), eve_callback_body(callback, session_id, turn));
  } catch (const std::exception& e) { // never fails the turn
    std::cerr << "hearth: warning: session callback of " << session_id << " not sent: " << e.what()
              << std::endl;
  }
}

/// Settles the callback from a turn's result (TurnResult::to_json); a waiting turn has not settled.
void settle_result(Eve& eve, const std::string& session_id, const json& result) {
  if (!result.is_object() || result.value("status", "") == "waiting") return;
  settle_callback(eve, session_id,
                  {.kind = SettledTurn::Kind::completed,
                   .output = result.contains("data") ? result["data"] : json(result.value("text", "")),
                   .usage = result.value("usage", json())});
}

void settle_error(Eve& eve, const std::string& session_id, const Error& e) {
  settle_callback(eve, session_id,
                  {.kind = e.info().type == "cancelled" ? SettledTurn::Kind::cancelled
                                                        : SettledTurn::Kind::failed,
                   .message = e.info().message});
}

/// Inside the session lock: the submission marker, then the prompt.
void run_message_turn(Eve& eve, const std::string& session_id, const std::string& delivery_id,
                      const EveMessage& message, const std::string& prompt,
                      const std::string& context, const json& output_schema,
                      const runtime::Invocation& invocation, const json& callback) {
  auto& rt = eve.ctx.runtime;
  auto& store = rt.store();
  const auto path = eve.path(session_id);
  const auto& invoker = invocation.invoker;
  json submission = {{"submissionId", delivery_id}, {"message", message.text},
                     {"parts", message.parts}, {"invoker", invoker}};
  if (!invocation.context.empty()) submission["context"] = invocation.context; // resolve's values
  store.append(path, {.type = k_submission_event, .data = std::move(submission)});
  bind_callback(eve, session_id, callback, true);
  try {
    settle_result(eve, session_id,
                  rt.prompt_agent(eve.root(), session_id, "default", prompt, output_schema, "", {},
                                  invoker, invocation.context, {}, {}, context));
  } catch (const Error& e) { // recorded on the stream by the runtime (operation isError, idle)
    settle_error(eve, session_id, e);
  } catch (const std::exception& e) {
    close_failed_turn(store, path, session_id, e);
    settle_callback(eve, session_id, {.kind = SettledTurn::Kind::failed, .message = e.what()});
  }
}

/// Runs one turn on the executor (see run_message_turn).
void submit_turn(Eve& eve, const std::string& session_id, const std::string& delivery_id,
                 const EveMessage& message, const std::string& prompt, const std::string& context,
                 const json& output_schema, const runtime::Invocation& invocation,
                 const json& callback) {
  auto& ctx = eve.ctx;
  ctx.executor.submit([&eve, session_id, delivery_id, message, prompt, context, output_schema,
                       invocation, callback] {
    std::lock_guard turn(eve.locks.get(session_id));
    const auto info = eve.ctx.runtime.store().stream_info(eve.path(session_id));
    if (!info || info->closed) return; // reset while queued
    run_message_turn(eve, session_id, delivery_id, message, prompt, context, output_schema,
                     invocation, callback);
  });
}

std::string text_field(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_string()
             ? object[key].get<std::string>()
             : std::string();
}

/// approvals: `inputResponses` answer the parked turn's requests, which then resumes. Responses
/// naming no pending request of this session (stale, unknown) reach the model as a user
/// message, as Eve does (peers/eve/REPORT.md §5).
void submit_responses(Eve& eve, const std::string& session_id, const std::string& delivery_id,
                      const json& responses, const EveMessage& message, const std::string& prompt,
                      const std::string& context, const runtime::Invocation& invocation,
                      const json& callback) {
  eve.ctx.executor.submit([&eve, session_id, delivery_id, responses, message, prompt, context,
                           invocation, callback] {
    const auto& invoker = invocation.invoker;
    auto& rt = eve.ctx.runtime;
    auto& store = rt.store();
    const auto path = eve.path(session_id);
    std::lock_guard turn(eve.locks.get(session_id));
    const auto info = store.stream_info(path);
    if (!info || info->closed) return; // reset while queued
    bool matched = false;
    for (const auto& r : responses) {
      const auto id = text_field(r, "requestId");
      const auto record = id.empty() ? std::nullopt : store.get_approval(id);
      if (!record || record->owner != path || record->status != "pending") continue;
      const auto option = text_field(r, "optionId");
      const auto text = text_field(r, "text").substr(0, 20000); // what the model reads, bounded
      runtime::InputAnswer answer{.request_id = id, .invoker = invoker};
      if (record->kind == "question") {
        answer.answer = option.empty() ? text : option;
        answer.option_id = option;
      } else {
        answer.decision = option == "approve" ? "approve" : "deny";
        if (option != "approve") answer.reason = text;
      }
      try {
        rt.answer_input(path, answer);
        matched = true;
      } catch (const Error&) { // decided meanwhile: nothing to record
      }
    }
    if (!matched) return run_message_turn(eve, session_id, delivery_id, message, prompt, context,
                                          json(), invocation, callback);
    bind_callback(eve, session_id, callback, false);
    try {
      settle_result(eve, session_id, rt.resume_session(eve.root(), session_id, "default", {}, invoker));
    } catch (const Error& e) { // recorded on the stream by the runtime
      settle_error(eve, session_id, e);
    } catch (const std::exception& e) {
      close_failed_turn(store, path, session_id, e);
      settle_callback(eve, session_id, {.kind = SettledTurn::Kind::failed, .message = e.what()});
    }
  });
}

/// MCP elicitation (issue 13 §3): a response to a question of a tool call that is still running
/// (runtime::is_live_request) is recorded at once, here: that call waits for it while its turn
/// holds the session, so queueing it behind the turn would only time the call out. False when
/// `response` names no such pending request of this session.
bool answer_live(Eve& eve, const std::string& session_id, const json& response, const json& invoker) {
  const auto id = text_field(response, "requestId");
  if (id.empty()) return false;
  const auto record = eve.ctx.runtime.store().get_approval(id);
  if (!record || record->owner != eve.path(session_id) || record->status != "pending" ||
      !runtime::is_live_request(*record))
    return false;
  const auto option = text_field(response, "optionId");
  runtime::InputAnswer answer{.request_id = id, .invoker = invoker};
  answer.answer = option.empty() ? text_field(response, "text").substr(0, 20000) : option;
  answer.option_id = option;
  try {
    eve.ctx.runtime.answer_input(eve.path(session_id), answer);
  } catch (const Error&) { // decided meanwhile: nothing to record
  }
  return true;
}

/// A valid W3C `traceparent` of the caller continues its trace in the session's next turn.
void continue_caller_trace(const Request& req, Eve& eve, const std::string& id) {
  if (const auto parent = runtime::parse_traceparent(req.get_header_value("traceparent")))
    eve.ctx.runtime.continue_trace(eve.path(id), *parent);
}

/// The request's `callback` without the legacy (protocol 1) `taskId` Eve splits off first.
json callback_field(const json& body) {
  json callback = body["callback"];
  if (callback.is_object()) callback.erase("taskId");
  return callback;
}

void create_session(const Request& req, Response& res, Eve& eve) {
  const auto body = eve_body(req, true);
  if (body.contains("inputResponses"))
    throw errors::eve_invalid_request("'inputResponses' is only accepted for an existing session.");
  // Eve validates the callback before it looks at a message-free create; with a callback, the
  // caller's remote agent protocol version (absent: 1) must be one this side speaks (1 or 2).
  const json callback = body.contains("callback") ? parse_eve_callback(callback_field(body)) : json();
  json protocol;
  if (!callback.is_null()) {
    const json version = body.value("protocolVersion", json());
    if (!version.is_null() && !version.is_number())
      throw errors::eve_invalid_request("Expected 'protocolVersion' to be a number.");
    protocol = version.is_null() ? json(1) : version;
    if (protocol != 1 && protocol != 2) {
      no_store(res);
      send_json(res, 409, {{"code", "REMOTE_AGENT_PROTOCOL_MISMATCH"},
                           {"error", "This deployment speaks eve remote agent protocol 2, but the "
                                     "caller speaks protocol " + wire(protocol) + ". Upgrade both "
                                     "deployments to the same eve release."},
                           {"ok", false}, {"protocolVersion", 2}});
      return;
    }
  }
  const bool has_message = body.contains("message") && !body["message"].is_null();
  if (!has_message && (body.contains("clientContext") || body.contains("callback") ||
                       body.contains("outputSchema")))
    throw errors::eve_invalid_request("Creating a session without a message does not accept "
                                      "'clientContext', 'callback', or 'outputSchema'.");
  EveMessage message;
  if (has_message) message = parse_eve_message(body["message"]);
  const json schema = body.contains("outputSchema") && body["outputSchema"].is_object()
                          ? body["outputSchema"] : json();
  const auto invocation = session_invocation(eve, body);
  auto& store = eve.ctx.runtime.store();
  const auto id = ids::make_id("wrun");
  store.save_session(eve.key(id), json::array(), 0);
  const auto token = store.rotate_continuation_token(eve.key(id));
  store.create_stream(eve.path(id));
  if (has_message) continue_caller_trace(req, eve, id);
  if (has_message)
    submit_turn(eve, id, uuid4(), message, message.text, client_context(body), schema, invocation,
                callback);
  res.set_header("x-eve-session-id", id);
  no_store(res);
  json accepted = {{"ok", true}, {"sessionId", id}, {"continuationToken", token},
                  {"status", "accepted"}};
  if (!protocol.is_null()) accepted["protocolVersion"] = protocol; // Eve's createdSessionBody
  send_json(res, 202, accepted);
}

/// 409 session_not_active unless the session exists and was not reset. An unknown id is 409
/// too, as Eve 0.80.1 answers it (peers: eve REPORT §5); streams keep the seed's 404.
void require_active(Eve& eve, const std::string& id) {
  auto& store = eve.ctx.runtime.store();
  if (!store.load_session(eve.key(id))) throw errors::eve_session_not_active();
  const auto info = store.stream_info(eve.path(id));
  if (!info || info->closed) throw errors::eve_session_not_active();
}

void follow_up(const Request& req, Response& res, Eve& eve) {
  const std::string id = req.matches[1];
  const auto body = eve_body(req, false);
  const bool has_message = body.contains("message") && !body["message"].is_null() &&
                           !(body["message"].is_string() && body["message"] == "");
  const bool has_responses = body.contains("inputResponses") &&
                             body["inputResponses"].is_array() && !body["inputResponses"].empty();
  if (has_responses && body["inputResponses"].size() > 100) // approvals: bounded per delivery
    throw errors::eve_invalid_request("Expected at most 100 'inputResponses'.");
  if (has_message && has_responses)
    throw errors::eve_invalid_request("'message' and 'inputResponses' are mutually exclusive.");
  if (!has_message && !has_responses)
    throw errors::eve_invalid_request(
        "Expected a non-empty 'message' or a non-empty 'inputResponses' array.");
  if (body.contains("turnPolicy") && body["turnPolicy"] != "queue" && body["turnPolicy"] != "steer")
    throw errors::eve_invalid_request("Expected 'turnPolicy' to be either 'queue' or 'steer'.");
  const json callback = body.contains("callback") ? parse_eve_callback(callback_field(body)) : json();
  EveMessage message;
  if (has_message) {
    message = parse_eve_message(body["message"]);
  } else {
    message.text = "Input responses: " + wire(body["inputResponses"]);
    message.parts.push_back({{"text", message.text}, {"type", "text"}});
  }
  require_active(eve, id);
  if (body.contains("continuationToken") && body["continuationToken"].is_string() &&
      !body["continuationToken"].get<std::string>().empty() &&
      !eve.ctx.runtime.store().check_continuation_token(
          eve.key(id), body["continuationToken"].get<std::string>()))
    throw errors::eve_stale_token();
  const json schema = body.contains("outputSchema") && body["outputSchema"].is_object()
                          ? body["outputSchema"] : json();
  const auto delivery = uuid4();
  continue_caller_trace(req, eve, id);
  if (has_responses) {
    const auto invocation = session_invocation(eve, body);
    json rest = json::array();
    for (const auto& r : body["inputResponses"])
      if (!answer_live(eve, id, r, invocation.invoker)) rest.push_back(r);
    if (!rest.empty())
      submit_responses(eve, id, delivery, rest, message, message.text, client_context(body),
                       invocation, callback);
  } else
    submit_turn(eve, id, delivery, message, message.text, client_context(body), schema,
                session_invocation(eve, body), callback);
  res.set_header("x-eve-session-id", id);
  no_store(res);
  send_json(res, 202, {{"ok", true}, {"sessionId", id}, {"status", "accepted"},
                       {"deliveryId", delivery}});
}

bool is_active(Eve& eve, const std::string& id) {
  auto& store = eve.ctx.runtime.store();
  if (!store.load_session(eve.key(id))) return false;
  const auto info = store.stream_info(eve.path(id));
  return info && !info->closed;
}

void cancel(const Request& req, Response& res, Eve& eve) {
  const std::string id = req.matches[1];
  session_invocation(eve, json::object()); // the agent's access rules (403), as sending does
  no_store(res);
  if (!is_active(eve, id)) {
    send_json(res, 200, {{"ok", true}, {"status", "no_active_turn"}});
    return;
  }
  // 202 as Eve answers, also when idle. A running turn stops within ~1 s: its stream then shows
  // turn.cancelled and session.waiting (docs/http.md); turns queued behind it still run.
  eve.ctx.runtime.cancel_turn(eve.root(), id);
  send_json(res, 202, {{"ok", true}, {"sessionId", id}, {"status", "accepted"}});
}

/// Compaction (issue 16 §1): `POST …/compact` and `…/clear` answer 202 {ok, sessionId, status:
/// "accepted"} as Eve 0.80.1 does (peers: eve http_dev/63-65); the work runs after the session's
/// queued turns, and the stream shows compaction.requested, compaction.completed (or
/// context.cleared), then session.waiting. An unknown or reset session: 200 {ok, status:
/// "no_active_session"}, the answer eve/client's Compact/ClearResponseSchema takes (as reset's).
void compact_or_clear(const Request& req, Response& res, Eve& eve, bool clear) {
  const std::string id = req.matches[1];
  const auto invocation = session_invocation(eve, json::object()); // access rules, as sending
  no_store(res);
  if (!is_active(eve, id)) {
    send_json(res, 200, {{"ok", true}, {"status", "no_active_session"}});
    return;
  }
  eve.ctx.executor.submit([&eve, id, clear, invocation] {
    auto& rt = eve.ctx.runtime;
    const auto path = eve.path(id);
    std::lock_guard turn(eve.locks.get(id));
    const auto info = rt.store().stream_info(path);
    if (!info || info->closed) return; // reset while queued
    try {
      rt.compact_session(eve.root(), id, "default", clear, {}, invocation.invoker);
    } catch (const Error&) { // recorded on the stream (compaction {error}, idle)
    } catch (const std::exception& e) {
      close_failed_turn(rt.store(), path, id, e);
    }
  });
  send_json(res, 202, {{"ok", true}, {"sessionId", id}, {"status", "accepted"}});
}

void compact(const Request& req, Response& res, Eve& eve) { compact_or_clear(req, res, eve, false); }
void clear(const Request& req, Response& res, Eve& eve) { compact_or_clear(req, res, eve, true); }

void reset(const Request& req, Response& res, Eve& eve) {
  const std::string id = req.matches[1];
  session_invocation(eve, json::object()); // the agent's access rules (403), as sending does
  no_store(res);
  if (!is_active(eve, id)) {
    send_json(res, 200, {{"ok", true}, {"status", "no_active_session"}});
    return;
  }
  std::unique_lock turn(eve.locks.get(id), std::defer_lock);
  if (!turn.try_lock_for(k_reset_wait)) throw errors::eve_session_busy();
  auto& store = eve.ctx.runtime.store();
  const auto path = eve.path(id);
  const auto body = eve_body(req, true);
  json data = json::object();
  if (body.contains("reason") && body["reason"].is_string()) data["reason"] = body["reason"];
  store.append_batch(path, {{.type = k_session_end_event, .data = data}}, true);
  send_json(res, 200, {{"ok", true}, {"previousSessionId", id}, {"status", "reset"}});
}

struct StreamQuery {
  long long start = 0;
  bool bounded = false;
  bool tail_header = false;
  bool control = false;
};

StreamQuery stream_query(const Request& req) {
  StreamQuery q;
  if (req.has_param("startIndex")) {
    const auto text = req.get_param_value("startIndex");
    const std::size_t digits = !text.empty() && text[0] == '-' ? 1 : 0;
    if (text.size() <= digits || text.size() > 15 ||
        text.find_first_not_of("0123456789", digits) != std::string::npos)
      throw errors::eve_invalid_request("Expected startIndex to be an integer.");
    q.start = std::stoll(text);
  }
  const auto follow = req.get_param_value("follow");
  const auto tail = req.get_param_value("includeTailIndex");
  q.tail_header = tail == "1" || tail == "true";
  q.bounded = follow == "false" || follow == "0" || q.tail_header;
  q.tail_header = q.tail_header || q.bounded;
  q.control = req.get_param_value("streamControlVersion") == "1";
  return q;
}

/// Projects every event of the session stream after `projector.last_seq()` into `out`.
/// Returns whether the stream is closed and fully read.
bool project_more(store::Store& store, const std::string& path, EveProjector& projector,
                  std::vector<json>& out) {
  for (;;) {
    const auto page = store.read(path, projector.last_seq(), 1000);
    for (const auto& e : page.events) projector.feed(e, out);
    if (page.up_to_date) return page.closed;
  }
}

/// A follow read: NDJSON lines as the session's events arrive; with streamControlVersion=1,
/// newline heartbeats and a lease-ended line when the lease runs out.
class EveFollow final : public Producer {
public:
  EveFollow(ServerContext& ctx, std::string path, std::shared_ptr<EveProjector> projector,
            std::shared_ptr<std::vector<json>> events, std::size_t next, bool closed, bool control)
      : m_ctx(ctx), m_path(std::move(path)), m_projector(std::move(projector)),
        m_events(std::move(events)), m_next(next), m_closed(closed), m_control(control),
        m_last_write(Clock::now()),
        m_end(Clock::now() + (control ? ctx.options.eve_lease : ctx.options.eve_unleased_limit)) {}

  bool chunked() const override { return true; }

  std::optional<Wake> step(Response&, std::string& out, bool stopping) override {
    auto& store = m_ctx.runtime.store();
    if (!m_opened) out = "\n";
    m_opened = true;
    if (!m_closed)
      m_closed = project_more(store, m_path, *m_projector, *m_events) || m_projector->child_done();
    for (; m_next < m_events->size(); ++m_next) out += eve_line((*m_events)[m_next]);
    // Sent lines are not needed again: keep memory flat on long follows.
    if (m_next == m_events->size()) {
      m_events->clear();
      m_next = 0;
    }
    const auto now = Clock::now();
    if (out.empty() && m_control && now - m_last_write >= m_ctx.options.eve_heartbeat) out = "\n";
    if (!out.empty()) m_last_write = now;
    if (m_closed || stopping || now >= m_end) {
      if (m_control && !m_closed) out += "{\"$eve\":\"stream.lease-ended\",\"version\":1}\n";
      return std::nullopt;
    }
    auto until = m_end;
    if (m_control) until = std::min(until, m_last_write + m_ctx.options.eve_heartbeat);
    return Wake{m_path, m_projector->last_seq(), until};
  }

private:
  ServerContext& m_ctx;
  std::string m_path;
  std::shared_ptr<EveProjector> m_projector;
  std::shared_ptr<std::vector<json>> m_events;
  std::size_t m_next;
  bool m_closed;
  bool m_control;
  bool m_opened = false;
  Clock::time_point m_last_write;
  Clock::time_point m_end;
};

void stream(const Request& req, Response& res, Eve& eve) {
  const std::string id = req.matches[1];
  session_invocation(eve, json::object()); // the agent's access rules (403), as sending does
  const auto q = stream_query(req);
  auto& ctx = eve.ctx;
  auto& store = ctx.runtime.store();
  // A subagent's session `<sessionId>.<taskId>` (subagent.called's childSessionId): the child's
  // events out of its parent's stream, projected as a session of its own (issue 16 §3).
  const auto dot = id.find('.');
  const std::string parent_id = dot == std::string::npos ? id : id.substr(0, dot);
  const std::string task_id = dot == std::string::npos ? std::string() : id.substr(dot + 1);
  if (dot != std::string::npos && (task_id.empty() || task_id.size() > 128)) throw errors::eve_session_not_found();
  const auto session = store.load_session(eve.key(parent_id));
  if (!session) throw errors::eve_session_not_found();
  const auto path = eve.path(parent_id);
  auto projector = std::make_shared<EveProjector>(path, eve.root(),
                                                  task_id.empty() ? session->continuation_token
                                                                  : id + ":0");
  if (!task_id.empty()) projector->follow_child(task_id, parent_id);
  auto events = std::make_shared<std::vector<json>>();
  bool closed = project_more(store, path, *projector, *events);
  if (!task_id.empty()) {
    if (!projector->child_seen()) throw errors::eve_session_not_found();
    closed = closed || projector->child_done();
  }
  const auto count = static_cast<long long>(events->size());
  const long long start = q.start >= 0 ? q.start : std::max(0LL, count + q.start);
  res.set_header("cache-control", "no-store, no-transform");
  res.set_header("x-accel-buffering", "no");
  res.set_header("x-eve-session-id", id);
  res.set_header("x-eve-stream-format", "ndjson");
  res.set_header("x-eve-stream-version", k_stream_version);
  const char* content_type = "application/x-ndjson; charset=utf-8";
  if (q.bounded) {
    res.set_header("x-eve-stream-tail-index", std::to_string(count - 1));
    std::string body = "\n";
    for (long long i = start; i < count; ++i) body += eve_line((*events)[static_cast<std::size_t>(i)]);
    res.status = 200;
    res.set_content(body, content_type);
    return;
  }
  res.set_header("Content-Type", content_type);
  res.producer = std::make_shared<EveFollow>(ctx, path, std::move(projector), std::move(events),
                                             static_cast<std::size_t>(start), closed, q.control);
}

} // namespace

void mount_eve(Router& router, ServerContext& ctx) {
  auto eve = std::make_shared<Eve>(ctx);
  using Req = const Request&;
  using Res = Response&;
  // Eve (h3) answers an unknown method with its 404: these routes match their methods only.
  router.add("/eve/v1/health", {"GET"}, [](Req, Res res) {
    send_json(res, 200, {{"ok", true}, {"status", "ready"}, {"workflowId", k_workflow_id}});
  }, false);
  router.add("/eve/v1/info", {"GET"}, [eve](Req, Res res) {
    no_store(res);
    res.status = 200;
    res.set_content(wire(eve_info_document(eve->ctx.runtime.program(), eve->ctx.options.dev,
                                                 eve->ctx.runtime.context().connections.get())),
                    "application/json; charset=utf-8");
  }, false);
  auto session_route = [eve](void (*handler)(Req, Res, Eve&)) {
    return [eve, handler](Req req, Res res) {
      eve->require_http();
      handler(req, res, *eve);
    };
  };
  // MCP OAuth consent (issue 13 §4; Eve 0.80.1 lists this route): the authorization server sends
  // the browser back here; the one-use token in the path names the waiting sign-in, so the route
  // needs no other credential (auth_glue.cpp lets it through route auth).
  router.add("/eve/v1/connections/:name/callback/:token", {"GET"}, [](Req req, Res res) {
    no_store(res);
    const bool ok = req.method == "GET" && mcp::oauth::complete_callback(req.matches[1], req.matches[2],
                                                  req.get_param_value("state"),
                                                  req.get_param_value("code"),
                                                  req.get_param_value("error"));
    res.status = ok ? 200 : 404;
    res.set_content(ok ? "Authorized. You can close this window and go back to hearth.\n"
                       : "This authorization link is unknown or was already used.\n",
                    "text/plain; charset=utf-8");
  }, false);
  router.add("/eve/v1/session", {"POST"}, session_route(create_session), false);
  router.add("/eve/v1/session/:id", {"POST"}, session_route(follow_up), false);
  router.add("/eve/v1/session/:id/cancel", {"POST"}, session_route(cancel), false);
  router.add("/eve/v1/session/:id/reset", {"POST"}, session_route(reset), false);
  router.add("/eve/v1/session/:id/compact", {"POST"}, session_route(compact), false);
  router.add("/eve/v1/session/:id/clear", {"POST"}, session_route(clear), false);
  router.add("/eve/v1/session/:id/stream", {"GET"}, session_route(stream), false);
}

} // namespace hearth::server

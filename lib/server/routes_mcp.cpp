// `/mcp`: hearth as an MCP server over Streamable HTTP (issue 13 §6; MCP spec 2025-11-25
// "Transports / Streamable HTTP"; docs/mcp.md "hearth as an MCP server"). The protocol itself is
// lib/mcp/server.cpp; this file is the transport: sessions by `Mcp-Session-Id`, the
// `MCP-Protocol-Version` check, JSON or SSE answers. Route auth and the Host/Origin checks
// (DNS-rebinding protection) ran before the handler (auth_glue.cpp admit()).
#include "core/errors.hpp"
#include "core/ids.hpp"
#include "core/json.hpp"
#include "ipc/rpc.hpp"
#include "mcp/server.hpp"
#include "server/context.hpp"

#include <deque>
#include <map>
#include <mutex>

namespace hearth::server {
namespace {

/// Sessions alive at once, and how long an unused one lives.
constexpr std::size_t k_max_sessions = 256;
constexpr auto k_session_idle = std::chrono::minutes(30);
/// How often a streamed call's queue is looked at (the call runs on the executor).
constexpr auto k_stream_poll = std::chrono::milliseconds(20);
/// Notifications queued for a slow SSE reader beyond this many bytes are dropped (the reply never).
constexpr std::size_t k_max_queued_bytes = 8u << 20;

std::string random_session_id() {
  unsigned char bytes[16];
  ids::random_bytes(bytes, sizeof bytes);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (const auto b : bytes) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

struct Entry {
  std::shared_ptr<mcp::Session> session{};
  std::string owner{}; // the invoker id that initialized it: nobody else may use it
  Clock::time_point last_used{};
};

class Sessions {
public:
  /// Registers `session`; expires idle sessions first, and when every slot is still taken ends
  /// the least recently used session that runs no call (its client gets 404 and initializes
  /// again). Throws mcp_sessions_full when every session runs a call.
  std::string add(std::shared_ptr<mcp::Session> session, std::string owner) {
    std::lock_guard lock(m_mutex);
    expire_locked(Clock::now());
    if (m_map.size() >= k_max_sessions) {
      auto oldest = m_map.end();
      for (auto it = m_map.begin(); it != m_map.end(); ++it)
        if (it->second.session->calls_in_flight() == 0 &&
            (oldest == m_map.end() || it->second.last_used < oldest->second.last_used))
          oldest = it;
      if (oldest == m_map.end())
        throw errors::mcp_sessions_full(k_max_sessions);
      m_map.erase(oldest);
    }
    auto id = random_session_id();
    m_map[id] = {std::move(session), std::move(owner), Clock::now()};
    return id;
  }

  /// The live session `id` of `owner`, or null.
  std::shared_ptr<mcp::Session> find(const std::string& id, const std::string& owner) {
    std::lock_guard lock(m_mutex);
    expire_locked(Clock::now());
    const auto it = m_map.find(id);
    if (it == m_map.end() || it->second.owner != owner)
      return nullptr;
    it->second.last_used = Clock::now();
    return it->second.session;
  }

  std::shared_ptr<mcp::Session> erase(const std::string& id, const std::string& owner) {
    std::lock_guard lock(m_mutex);
    const auto it = m_map.find(id);
    if (it == m_map.end() || it->second.owner != owner)
      return nullptr;
    auto session = it->second.session;
    m_map.erase(it);
    return session;
  }

private:
  void expire_locked(Clock::time_point now) {
    for (auto it = m_map.begin(); it != m_map.end();) {
      if (now - it->second.last_used > k_session_idle && it->second.session->calls_in_flight() == 0)
        it = m_map.erase(it);
      else
        ++it;
    }
  }

  std::mutex m_mutex;
  std::map<std::string, Entry> m_map{};
};

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// A transport error as the body MCP clients read: a JSON-RPC error (id null) with the
/// catalogue's type, at the error's HTTP status.
void send_rpc_error(Response& res, const Error& e, int code = ipc::code::hearth_error) {
  res.status = e.info().http_status;
  res.set_content(wire(ipc::make_error(nullptr, code, e.info().message,
                                       {{"type", e.info().type}, {"details", e.info().details}})),
                  "application/json");
}

mcp::Caller caller_now() {
  const auto& decision = current_auth();
  return {.invoker =
              decision.invoker.id.empty() ? nlohmann::json(nullptr) : decision.invoker.to_json(),
          .select_profiles = decision.select_profiles};
}

std::string owner_now() { return current_auth().invoker.id; }

/// The SSE answer to one request: the call runs on the executor and queues its notifications
/// and reply; step() writes what is queued (spec: the stream ends after the reply).
class CallStream final : public Producer {
public:
  struct Queue {
    std::mutex mutex;
    std::deque<std::string> frames{};
    std::size_t bytes = 0;
    bool done = false;
  };

  CallStream(std::shared_ptr<Queue> queue, std::shared_ptr<mcp::Session> session,
             std::chrono::milliseconds heartbeat)
      : m_queue(std::move(queue)), m_session(std::move(session)), m_heartbeat(heartbeat),
        m_last_frame(Clock::now()) {}

  static std::string frame(const nlohmann::json& message) {
    return "event: message\ndata: " + wire(message) + "\n\n";
  }

  bool chunked() const override { return true; }

  std::optional<Wake> step(Response&, std::string& out, bool stopping) override {
    bool done = false;
    {
      std::lock_guard lock(m_queue->mutex);
      while (!m_queue->frames.empty()) {
        out += m_queue->frames.front();
        m_queue->frames.pop_front();
      }
      m_queue->bytes = 0;
      done = m_queue->done;
    }
    const auto now = Clock::now();
    if (!out.empty())
      m_last_frame = now;
    if (done)
      return std::nullopt;
    if (stopping) { // the server shuts down: the call is cancelled, the stream ends
      m_session->cancel_all();
      return std::nullopt;
    }
    if (now - m_last_frame >= m_heartbeat) {
      out += ": keep-alive\n\n";
      m_last_frame = now;
    }
    return Wake{"", -1, now + k_stream_poll};
  }

private:
  std::shared_ptr<Queue> m_queue;
  std::shared_ptr<mcp::Session> m_session;
  std::chrono::milliseconds m_heartbeat;
  Clock::time_point m_last_frame;
};

struct Accepts {
  bool json = false;
  bool sse = false;
};

Accepts accepts(const Request& req) {
  const auto accept = lower(req.get_header_value("Accept"));
  if (accept.empty())
    return {true, true};
  const bool any = accept.find("*/*") != std::string::npos;
  return {any || accept.find("application/json") != std::string::npos ||
              accept.find("application/*") != std::string::npos,
          any || accept.find("text/event-stream") != std::string::npos ||
              accept.find("text/*") != std::string::npos};
}

void require_json(const Request& req) {
  const auto type = req.get_header_value("Content-Type");
  auto base = lower(type.substr(0, type.find(';')));
  while (!base.empty() && base.back() == ' ')
    base.pop_back();
  if (base != "application/json")
    throw errors::unsupported_media_type(type);
}

void post_mcp(const Request& req, Response& res, ServerContext& ctx, Sessions& sessions) {
  // An allowed cross-origin page (server.cors.origins) must be able to read the session id.
  if (res.has_header("Access-Control-Expose-Headers"))
    res.set_header("Access-Control-Expose-Headers",
                   res.get_header_value("Access-Control-Expose-Headers") + ", Mcp-Session-Id");
  const auto accept = accepts(req);
  if (!accept.json && !accept.sse)
    throw errors::mcp_not_acceptable(req.get_header_value("Accept"));
  require_json(req);
  const auto message = hearth::parse_json_or_discarded(req.body);
  if (message.is_discarded()) {
    res.status = 400;
    res.set_content(wire(ipc::make_error(nullptr, ipc::code::parse_error, "Parse error")),
                    "application/json");
    return;
  }
  if (!message.is_object()) {
    // JSON-RPC batches were removed in 2025-06-18.
    res.status = 400;
    res.set_content(wire(ipc::make_error(nullptr, ipc::code::invalid_request,
                                         "Invalid Request: one JSON-RPC message per POST")),
                    "application/json");
    return;
  }
  const bool request = message.contains("method") && message.contains("id");
  const auto caller = caller_now();
  std::shared_ptr<mcp::Session> session;
  std::string session_id;
  if (request && message.value("method", nlohmann::json()) == nlohmann::json("initialize")) {
    session = std::make_shared<mcp::Session>(ctx.runtime, caller);
    auto reply = session->handle(message, caller, {});
    if (reply && reply->contains("result")) {
      session_id = sessions.add(session, owner_now());
      res.set_header("Mcp-Session-Id", session_id);
    }
    send_json(res, 200, reply.value_or(nlohmann::json()));
    return;
  }
  session_id = req.get_header_value("Mcp-Session-Id");
  if (session_id.empty())
    return send_rpc_error(res, errors::mcp_session_required());
  session = sessions.find(session_id, owner_now());
  if (!session)
    return send_rpc_error(res, errors::mcp_session_not_found(), -32001);
  if (req.has_header("MCP-Protocol-Version")) {
    const auto version = req.get_header_value("MCP-Protocol-Version");
    if (!mcp::accepted_header_version(version))
      return send_rpc_error(
          res, errors::mcp_protocol_version_unsupported(version, mcp::supported_versions_text()));
  }
  if (!request) { // a notification or a response: accepted, nothing to answer (spec: 202)
    session->handle(message, caller, {});
    res.status = 202;
    return;
  }
  const bool stream = accept.sse && (!accept.json || session->call_may_notify(message));
  if (!stream) {
    send_json(res, 200, session->handle(message, caller, {}).value_or(nlohmann::json()));
    return;
  }
  auto queue = std::make_shared<CallStream::Queue>();
  ctx.executor.submit([session, message, caller, queue] {
    const mcp::Emit emit = [&queue](const nlohmann::json& note) {
      auto frame = CallStream::frame(note);
      std::lock_guard lock(queue->mutex);
      if (queue->bytes + frame.size() > k_max_queued_bytes)
        return; // a slow reader loses notes
      queue->bytes += frame.size();
      queue->frames.push_back(std::move(frame));
    };
    auto reply = session->handle(message, caller, emit);
    std::lock_guard lock(queue->mutex);
    if (reply)
      queue->frames.push_back(CallStream::frame(*reply));
    queue->done = true;
  }); // throws server_busy when the executor's queue is full: answered as an error
  res.status = 200;
  res.set_header("Content-Type", "text/event-stream");
  res.set_header("Cache-Control", "no-cache");
  res.set_header("Mcp-Session-Id", session_id);
  res.producer = std::make_shared<CallStream>(queue, session, ctx.options.sse_heartbeat);
}

void delete_mcp(const Request& req, Response& res, Sessions& sessions) {
  const auto session_id = req.get_header_value("Mcp-Session-Id");
  if (session_id.empty())
    return send_rpc_error(res, errors::mcp_session_required());
  const auto session = sessions.erase(session_id, owner_now());
  if (!session)
    return send_rpc_error(res, errors::mcp_session_not_found(), -32001);
  session->close();
  res.status = 200;
}

} // namespace

void mount_mcp(Router& router, ServerContext& ctx) {
  auto sessions = std::make_shared<Sessions>();
  // GET (the server→client stream) is not offered: 405 with Allow (spec: "or 405").
  router.add("/mcp", {"POST", "DELETE"}, [&ctx, sessions](const Request& req, Response& res) {
    if (req.method == "DELETE")
      return delete_mcp(req, res, *sessions);
    post_mcp(req, res, ctx, *sessions);
  });
}

} // namespace hearth::server

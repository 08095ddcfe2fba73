// What every route file shares: the runtime, the options, the executor, the shutdown flag, and
// the helpers that parse bodies and render answers (server/responses.cpp).
#pragma once

#include "core/error.hpp"
#include "runtime/access.hpp"
#include "server/auth/auth.hpp"
#include "server/server.hpp"
#include "server/http.hpp"
#include "server/thread_pool.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace hearth::runtime {
struct AgentDef;
}
namespace hearth::triggers {
class Dispatcher;
class Scheduler;
struct ChannelDef;
} // namespace hearth::triggers

namespace hearth::server {

using nlohmann::json;

struct ServerContext {
  runtime::Runtime& runtime;
  const ServerOptions& options;
  Executor& executor;
  std::atomic<bool>& stopping; // set by shutdown(): parked readers are woken and end
  const auth::Config& auth;     // route auth and browser checks (auth_glue.cpp)
  // Triggers (issue 14): durable dispatch and the scheduler, owned by the server.
  triggers::Dispatcher* dispatcher = nullptr;
  triggers::Scheduler* scheduler = nullptr;
  /// The channels served (never resized after mount): only their declared paths skip route auth.
  const std::vector<triggers::ChannelDef>* channels = nullptr;
};

// --- responses (responses.cpp) ----------------------------------------------------------------

/// `value` serialized for the wire: compact, invalid UTF-8 replaced rather than thrown on.
std::string wire(const json& value);

/// Sets status and a JSON body (`application/json`).
void send_json(Response& res, int status, const json& body);

/// True for requests answered in Eve's shapes (paths under /eve/).
bool is_eve_path(const std::string& path);

/// Renders `error` as Flue's `{"error":{type,message,details[,dev]}}` (dev only in dev mode) or,
/// on Eve paths, as Eve's `{"ok":false,"error":message[,"code"]}`; adds `Allow` for 405s.
void render_error(const Request& req, Response& res, const ServerContext& ctx,
                  const hearth::Error& error, int status_override = 0);

/// `http://<Host header>` of the request (falls back to the server's own address).
std::string base_url(const Request& req, const ServerContext& ctx);

/// Parses the request body as JSON. An empty body gives `empty`. Throws invalid_json (Flue
/// wording) for text that does not parse.
json parse_body(const Request& req, const json& empty);

// --- auth glue (auth_glue.cpp): the only place the transport meets lib/server/auth -------------

/// Before routing, on the thread that then runs the handler: Host/Origin/CORS checks, then the
/// auth walk. Returns true to continue; false when `res` already holds the answer (preflight 204,
/// 401 + WWW-Authenticate, 403, 415).
bool admit(const Request& req, Response& res, const ServerContext& ctx);

/// The decision admit() accepted for the request this thread is handling (invoker, entry).
const auth::Decision& current_auth();

/// Makes `decision` (accepted by admit() on another pool thread, before the body was read) the
/// current one for the handler about to run on this thread.
void adopt_auth(auth::Decision decision);

/// The invocation of `agent` by the current caller: the authenticated invoker, a profile selected
/// through `context` (seed 002's four keys) and agent.json `invoker.resolve` (which may also set
/// context values). Throws errors::access_denied (403).
runtime::Invocation agent_invocation(const runtime::AgentDef& agent, const json& context);

// --- route groups -----------------------------------------------------------------------------

/// Flue 0.11: POST /workflows/:name, GET|HEAD /runs/:runId, POST|GET|HEAD /agents/:name/:id,
/// GET /openapi.json (routes_flue.cpp).
void mount_flue(Router& router, ServerContext& ctx);

/// Channels: POST /channels/<name><suffix> per declared route, and (dev) POST
/// /eve/v1/dev/schedules/:name (routes_channels.cpp; docs/triggers.md).
void mount_channels(Router& router, ServerContext& ctx,
                    const std::vector<triggers::ChannelDef>& channels);

/// Eve 0.80.1: /eve/v1/health, /info, /session, /session/:id, .../cancel, .../reset,
/// .../stream (routes_eve.cpp).
void mount_eve(Router& router, ServerContext& ctx);

/// MCP Streamable HTTP: POST|DELETE /mcp, hearth as an MCP server (routes_mcp.cpp, issue 13 §6).
void mount_mcp(Router& router, ServerContext& ctx);

} // namespace hearth::server

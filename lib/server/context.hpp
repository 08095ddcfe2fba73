// What every route file shares: the runtime, the options, the executor, the shutdown flag, and
// the helpers that parse bodies and render answers (server/responses.cpp).
#pragma once

#include "core/error.hpp"
#include "server/auth/auth.hpp"
#include "server/server.hpp"
#include "server/thread_pool.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace hearth::runtime {
struct AgentDef;
}

namespace hearth::server {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct ServerContext {
  runtime::Runtime& runtime;
  const ServerOptions& options;
  Executor& executor;
  std::atomic<bool>& stopping; // set by shutdown(): parked readers end within one slice
  const auth::Config& auth;     // route auth and browser checks (auth_glue.cpp)
};

/// The longest a parked reader sleeps before re-checking `stopping` and its client.
inline constexpr std::chrono::milliseconds k_wait_slice{500};

// --- responses (responses.cpp) ----------------------------------------------------------------

/// `value` serialized for the wire: compact, invalid UTF-8 replaced rather than thrown on.
std::string wire(const json& value);

/// Sets status and a JSON body (`application/json`).
void send_json(httplib::Response& res, int status, const json& body);

/// True for requests answered in Eve's shapes (paths under /eve/).
bool is_eve_path(const std::string& path);

/// Renders `error` as Flue's `{"error":{type,message,details[,dev]}}` (dev only in dev mode) or,
/// on Eve paths, as Eve's `{"ok":false,"error":message[,"code"]}`; adds `Allow` for 405s.
void render_error(const httplib::Request& req, httplib::Response& res, const ServerContext& ctx,
                  const hearth::Error& error, int status_override = 0);

/// `http://<Host header>` of the request (falls back to the server's own address).
std::string base_url(const httplib::Request& req, const ServerContext& ctx);

/// Parses the request body as JSON. An empty body gives `empty`. Throws invalid_json (Flue
/// wording) for text that does not parse.
json parse_body(const httplib::Request& req, const json& empty);

/// Registers `handler` on `pattern` for every method httplib routes; methods not in `allowed`
/// answer 405 with `Allow` (httplib itself would answer 404). HEAD is served by GET handlers.
void route(httplib::Server& http, const std::string& pattern,
           const std::vector<std::string>& allowed,
           std::function<void(const httplib::Request&, httplib::Response&)> handler);

// --- auth glue (auth_glue.cpp): the only place httplib meets lib/server/auth -------------------

/// Before routing: Host/Origin/CORS checks, then the auth walk. Returns true to continue; false
/// when `res` already holds the answer (preflight 204, 401 + WWW-Authenticate, 403, 415).
bool admit(const httplib::Request& req, httplib::Response& res, const ServerContext& ctx);

/// The decision admit() accepted for the request this thread is handling (invoker, entry).
const auth::Decision& current_auth();

/// The invoker of an invocation of `agent` by the current caller: the authenticated invoker,
/// a profile selected through `context` (seed 002's four keys) and agent.json `invoker.resolve`.
/// Throws errors::access_denied (403).
json agent_invoker(const runtime::AgentDef& agent, const json& context);

// --- route groups -----------------------------------------------------------------------------

/// Flue 0.11: POST /workflows/:name, GET|HEAD /runs/:runId, POST|GET|HEAD /agents/:name/:id,
/// GET /openapi.json (routes_flue.cpp).
void mount_flue(httplib::Server& http, ServerContext& ctx);

/// Eve 0.80.1: /eve/v1/health, /info, /session, /session/:id, .../cancel, .../reset,
/// .../stream (routes_eve.cpp).
void mount_eve(httplib::Server& http, ServerContext& ctx);

} // namespace hearth::server

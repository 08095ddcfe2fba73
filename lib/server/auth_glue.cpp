// The thin glue between the HTTP transport (server/http.hpp) and lib/server/auth (transport-neutral):
// builds auth::Request from a request, applies the browser checks and the auth walk before
// routing, and keeps the accepted Decision for the handler running on this thread.
#include "core/errors.hpp"
#include "runtime/access.hpp"
#include "runtime/definitions.hpp"
#include "server/context.hpp"
#include "triggers/channel_config.hpp"

namespace hearth::server {
namespace {

/// The server runs admit() and the route handler on the same pool thread, one request at a time
/// (ServerImpl::handle), so the accepted decision travels to the handler here; a request with a
/// body is admitted before its body is read and its decision adopted by the handler thread.
thread_local auth::Decision t_decision;

bool is_health(const Request& req) {
  return req.path == "/eve/v1/health" && (req.method == "GET" || req.method == "HEAD");
}

/// GET /eve/v1/connections/<name>/callback/<token> (routes_eve.cpp): exactly those segments of
/// the raw (undecoded) path, as the router matches them, and GET only (the router serves HEAD
/// with the GET handler: a HEAD must not reach the one-use route without credentials).
bool is_connection_callback(const Request& req) {
  if (req.method != "GET") return false;
  const std::string_view path = std::string_view(req.target).substr(0, req.target.find('?'));
  const std::string_view prefix = "/eve/v1/connections/";
  if (path.substr(0, prefix.size()) != prefix) return false;
  const auto name_end = path.find('/', prefix.size());
  if (name_end == std::string_view::npos || name_end == prefix.size()) return false;
  const std::string_view middle = "/callback/";
  if (path.substr(name_end, middle.size()) != middle) return false;
  const auto token = path.substr(name_end + middle.size());
  return !token.empty() && token.find('/') == std::string_view::npos;
}

/// True when `path` is exactly a declared channel route (`/channels/<name><suffix>`, any method:
/// a wrong method is the router's 405).
bool is_channel_route(const ServerContext& ctx, const std::string& path) {
  if (ctx.channels == nullptr || path.rfind("/channels/", 0) != 0) return false;
  for (const auto& channel : *ctx.channels)
    for (const auto& route : channel.routes)
      if (path == "/channels/" + channel.name + route.suffix) return true;
  return false;
}

} // namespace

bool admit(const Request& req, Response& res, const ServerContext& ctx) {
  const auto query_at = req.target.find('?');
  auth::Request request{
      .method = req.method,
      .path = req.path,
      .query = query_at == std::string::npos ? std::string_view()
                                             : std::string_view(req.target).substr(query_at + 1),
      .header = [&req](std::string_view name) { return req.get_header_value(name); },
      .peer_address = req.remote_addr,
      .peer_loopback = auth::is_loopback_address(req.remote_addr),
      .protocol = is_eve_path(req.path) ? auth::Protocol::eve : auth::Protocol::flue,
      .health = is_health(req)};
  t_decision = auth::Decision{};
  const auto browser = auth::check_browser(ctx.auth, request);
  for (const auto& [name, value] : browser.headers) res.set_header(name, value);
  if (browser.status != 0) {
    if (browser.error) {
      render_error(req, res, ctx, *browser.error);
    } else {
      res.status = browser.status;
    }
    return false;
  }
  if (is_connection_callback(req)) {
    // MCP OAuth consent (issue 13 §4): a browser coming back from an authorization server
    // carries no hearth credential; the route's one-use token names the waiting sign-in.
    t_decision = auth::Decision{.allowed = true,
                                .invoker = auth::Invoker{.id = "oauth-callback", .kind = "connection"}};
    return true;
  }
  if (is_channel_route(ctx, req.path)) {
    // Channels authenticate each delivery by its signature (routes_channels.cpp), not by route
    // auth: providers send no credentials hearth's auth entries know. Only declared channel
    // paths: any other /channels/... path is authenticated like every route, before its body.
    t_decision = auth::Decision{.allowed = true,
                                .invoker = auth::Invoker{.id = "channel", .kind = "channel"}};
    return true;
  }
  auto decision = auth::authenticate(ctx.auth, request);
  if (!decision.allowed) {
    if (!decision.www_authenticate.empty())
      res.set_header("WWW-Authenticate", decision.www_authenticate);
    render_error(req, res, ctx, *decision.error);
    return false;
  }
  t_decision = std::move(decision);
  return true;
}

const auth::Decision& current_auth() { return t_decision; }

void adopt_auth(auth::Decision decision) { t_decision = std::move(decision); }

runtime::Invocation agent_invocation(const runtime::AgentDef& agent, const json& context) {
  const auto target = "agent \"" + agent.name + "\"";
  auto invocation = runtime::resolve_invocation(agent.invoker, agent.directory,
                                                t_decision.invoker.to_json(), context,
                                                t_decision.select_profiles, target);
  runtime::check_access(agent.access, invocation.invoker, target); // 403 now, not in the turn
  return invocation;
}

} // namespace hearth::server

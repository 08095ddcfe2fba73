// Rendering answers: one error catalogue, two envelopes (Flue's and Eve's), the JSON body parser
// See context.hpp.
#include "core/errors.hpp"
#include "core/json.hpp"
#include "server/context.hpp"

#include <algorithm>
#include <set>

namespace hearth::server {

std::string wire(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

void send_json(Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(wire(body), "application/json");
}

bool is_eve_path(const std::string& path) { return path.rfind("/eve/", 0) == 0; }

namespace {

/// Eve sends `code` only on its coded errors (session state, auth); validation 400s have none.
bool eve_has_code(const std::string& type) {
  static const std::set<std::string> coded = {"session_not_active", "session_not_ready",
                                              "session_expired",    "unauthorized",      "forbidden",
                                              "payload_too_large",  "server_busy",
                                              "internal_error"};
  return coded.count(type) > 0;
}

} // namespace

void render_error(const Request& req, Response& res, const ServerContext& ctx,
                  const hearth::Error& error, int status_override) {
  const auto& info = error.info();
  const int status = status_override != 0 ? status_override : info.http_status;
  if (is_eve_path(req.path)) {
    json body = {{"ok", false}, {"error", info.message}};
    if (eve_has_code(info.type)) body["code"] = info.type;
    if (status == 409 || status == 404) res.set_header("cache-control", "no-store");
    send_json(res, status, body);
    return;
  }
  json inner = {{"type", info.type}, {"message", info.message}, {"details", info.details}};
  if (ctx.options.dev && !info.dev.empty()) inner["dev"] = info.dev;
  send_json(res, status, {{"error", inner}});
}

std::string base_url(const Request& req, const ServerContext& ctx) {
  const auto host = req.get_header_value("Host");
  if (!host.empty() && host.find_first_of(" /\\\r\n") == std::string::npos) return "http://" + host;
  const bool wildcard = ctx.options.host == "0.0.0.0" || ctx.options.host == "::";
  return "http://" + (wildcard ? std::string("127.0.0.1") : ctx.options.host) + ":" +
         std::to_string(req.local_port);
}

json parse_body(const Request& req, const json& empty) {
  const auto& body = req.body;
  if (std::all_of(body.begin(), body.end(),
                  [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }))
    return empty;
  try {
    return hearth::parse_json(body);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." -> after the id.
    if (const auto cut = what.find("] "); cut != std::string::npos) what = what.substr(cut + 2);
    throw errors::invalid_json(what);
  }
}

} // namespace hearth::server

// Channel routes (seed 003, "Flue channels": POST /channels/:name/:suffix with 200/400/401/404/
// 405/413/415), the dev schedule trigger (Eve: POST /eve/v1/dev/schedules/:name) and durable
// dispatch over HTTP. Channels authenticate by signature, not by route auth (auth_glue.cpp);
// the body limit per channel is applied by the transport (server.cpp) before the body is read.
#include "core/errors.hpp"
#include "core/json.hpp"
#include "core/process.hpp"
#include "runtime/runtime.hpp"
#include "server/context.hpp"
#include "triggers/channels.hpp"
#include "triggers/dispatcher.hpp"
#include "triggers/scheduler.hpp"

#include <cstdlib>
#include <iostream>

namespace hearth::server {
namespace {

constexpr std::size_t k_handler_output_cap = 1u << 20;
constexpr std::size_t k_max_handler_dispatches = 32;

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json channel_invoker(const triggers::ChannelDef& c) {
  return {{"id", c.name}, {"kind", "channel"}, {"label", "channel " + c.name}};
}

/// Runs the channel's handler executable: stdin handler_input(), stdout
/// {"dispatch": [{agent?, id, input, idempotencyKey?}], "response": {status?, body?}}.
json ask_handler(const ServerContext& ctx, const triggers::ChannelDef& c, const json& input) {
  auto argv = c.handler;
  const auto cwd = (ctx.runtime.context().project_root / c.path).parent_path();
  if (argv[0].find('/') != std::string::npos && argv[0][0] != '/') argv[0] = (cwd / argv[0]).string();
  const auto r = process::run_capture(argv, hearth::dump_json(input) + "\n",
                                      std::chrono::milliseconds(c.handler_timeout_ms), std::nullopt,
                                      cwd, k_handler_output_cap);
  if (r.timed_out) throw errors::channel_handler_failed(c.name, "timed out");
  if (r.exit_code != 0)
    throw errors::channel_handler_failed(c.name, "exited " + std::to_string(r.exit_code));
  if (r.out.find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
  auto answer = hearth::parse_json_or_discarded(r.out);
  if (!answer.is_object()) throw errors::channel_handler_failed(c.name, "stdout is not a JSON object");
  return answer;
}

void deliver(const Request& req, Response& res, ServerContext& ctx, const triggers::ChannelDef& c,
             const triggers::ChannelRoute& route) {
  const char* secret = std::getenv(c.secret_env.c_str());
  if (!secret || !*secret) throw errors::channel_secret_missing(c.name, c.secret_env);
  const auto delivery = triggers::receive(
      c, route, [&req](std::string_view name) { return req.get_header_value(name); }, req.body,
      secret, now_s());
  if (delivery.handshake) {
    send_json(res, 200, *delivery.handshake);
    return;
  }
  std::vector<triggers::PlannedDispatch> planned;
  json reply;
  if (!c.handler.empty()) {
    const auto answer = ask_handler(ctx, c, triggers::handler_input(c, route, delivery));
    const auto list = answer.value("dispatch", json::array());
    if (!list.is_array() || list.size() > k_max_handler_dispatches)
      throw errors::channel_handler_failed(c.name, "\"dispatch\" must be an array (at most 32)");
    for (const auto& d : list) {
      if (!d.is_object() || !d.contains("id") || !d["id"].is_string())
        throw errors::channel_handler_failed(c.name, "each dispatch needs a string \"id\"");
      planned.push_back({.agent = d.value("agent", std::string()),
                         .id = d["id"].get<std::string>(),
                         .input = d.value("input", json()),
                         .idempotency_key = d.value("idempotencyKey", std::string())});
    }
    if (answer.contains("response") && answer["response"].is_object()) reply = answer["response"];
  } else {
    planned = triggers::plan(c, delivery);
  }
  json receipts = json::array();
  for (auto& p : planned)
    receipts.push_back(ctx.dispatcher->dispatch({.agent = p.agent,
                                                 .instance_id = p.id,
                                                 .input = std::move(p.input),
                                                 .idempotency_key = p.idempotency_key,
                                                 .source = "channel:" + c.name,
                                                 .invoker = channel_invoker(c),
                                                 .conversation_key = delivery.conversation_key}));
  if (reply.is_object()) {
    const auto status = reply.value("status", 200);
    send_json(res, status >= 200 && status < 600 ? status : 200, reply.value("body", json::object()));
    return;
  }
  if (receipts.empty()) {
    res.status = 200; // acknowledged: nothing to dispatch for this event
    return;
  }
  send_json(res, 200, {{"ok", true}, {"dispatches", receipts}});
}

void dev_fire(const Request& req, Response& res, ServerContext& ctx) {
  send_json(res, 202, ctx.scheduler->fire_now(req.matches[1]));
}

} // namespace

void mount_channels(Router& router, ServerContext& ctx, const std::vector<triggers::ChannelDef>& channels) {
  for (const auto& c : channels)
    for (const auto& r : c.routes)
      router.add("/channels/" + c.name + r.suffix, {r.method},
                 [&ctx, &c, &r](const Request& req, Response& res) { deliver(req, res, ctx, c, r); });
  if (ctx.options.dev && ctx.scheduler)
    router.add("/eve/v1/dev/schedules/:name", {"POST"},
               [&ctx](const Request& req, Response& res) { dev_fire(req, res, ctx); });
}

} // namespace hearth::server

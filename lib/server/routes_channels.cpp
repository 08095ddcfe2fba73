// Channel routes (seed 003, "Flue channels": POST /channels/:name/:suffix with 200/400/401/404/
// 405/413/415), the dev schedule trigger (Eve: POST /eve/v1/dev/schedules/:name, nested names
// too) and durable dispatch over HTTP. Channels authenticate by signature, not by route auth
// (auth_glue.cpp); the body limit per channel is applied by the transport (server.cpp) before the
// body is read.
#include "core/errors.hpp"
#include "core/json.hpp"
#include "runtime/agent_tools.hpp"
#include "runtime/runtime.hpp"
#include "sandbox/sandbox.hpp"
#include "server/context.hpp"
#include "triggers/channels.hpp"
#include "triggers/dispatcher.hpp"
#include "triggers/scheduler.hpp"

#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>

namespace hearth::server {
namespace {

constexpr std::size_t k_max_handler_dispatches = 32;
/// Nested schedule names (agent/schedules/ops/daily.md -> ops/daily): segments the dev route takes.
constexpr int k_max_schedule_depth = 8;

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json channel_invoker(const triggers::ChannelDef& c) {
  return {{"id", c.name}, {"kind", "channel"}, {"label", "channel " + c.name}};
}

constexpr int k_max_running_handlers = 4; // per channel

/// One running handler of a channel, for the duration of a delivery; throws streams_busy
/// (503) when the channel already runs k_max_running_handlers.
class HandlerSlot {
public:
  explicit HandlerSlot(std::string channel) : m_channel(std::move(channel)) {
    std::lock_guard lock(mutex());
    auto& running = counts()[m_channel];
    if (running >= k_max_running_handlers)
      throw errors::streams_busy("handlers of channel " + m_channel, k_max_running_handlers);
    ++running;
  }
  ~HandlerSlot() {
    std::lock_guard lock(mutex());
    if (--counts()[m_channel] == 0) counts().erase(m_channel);
  }
  HandlerSlot(const HandlerSlot&) = delete;
  HandlerSlot& operator=(const HandlerSlot&) = delete;

private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::map<std::string, int>& counts() {
    static std::map<std::string, int> c;
    return c;
  }
  std::string m_channel;
};

/// Runs the channel's handler executable in the sandbox, as tools run (docs/triggers.md
/// "handler"): the root agent's sandbox settings, but only the handler's declared `env` names
/// (never the server's other variables, never the signing secret) plus PATH, HOME, LANG, TZ and
/// HEARTH_*; no workspace; the spec's and the program's directories read-only; stdout and stderr
/// capped at k_handler_output_cap; killed at `timeoutMs`. stdin handler_input(), stdout
/// {"dispatch": [{agent?, id, input, idempotencyKey?}], "response": {status?, body?}}.
json ask_handler(const ServerContext& ctx, const triggers::ChannelDef& c, const json& input) {
  const auto& rt = ctx.runtime;
  auto argv = c.handler;
  const auto cwd = (rt.context().project_root / c.path).parent_path().lexically_normal();
  if (argv[0].find('/') != std::string::npos && argv[0][0] != '/')
    argv[0] = (cwd / argv[0]).lexically_normal().string();
  auto settings = rt.agent(rt.program().root_agent).sandbox;
  settings.env = c.handler_env;
  settings.limits.output_bytes = static_cast<long long>(triggers::k_handler_output_cap);
  auto policy = runtime::agent_policy(settings, rt.context().project_root,
                                      rt.context().sandbox_fail_closed);
  policy.reads.push_back(cwd);
  if (argv[0][0] == '/') policy.reads.push_back(std::filesystem::path(argv[0]).parent_path());
  sandbox::Result r;
  try {
    r = sandbox::run({.argv = argv,
                      .input = hearth::dump_json(input) + "\n",
                      .cwd = cwd,
                      .timeout = std::chrono::milliseconds(c.handler_timeout_ms),
                      .hearth_env = {"HEARTH_CHANNEL=" + c.name}},
                     policy);
  } catch (const Error& e) {
    throw errors::channel_handler_failed(c.name, "could not start: " + e.info().message);
  }
  if (r.capture.timed_out)
    throw errors::channel_handler_failed(
        c.name, "timed out after " + std::to_string(c.handler_timeout_ms) + " ms");
  if (r.capture.exit_code != 0)
    throw errors::channel_handler_failed(c.name, "exited " + std::to_string(r.capture.exit_code) +
                                                     (r.limit.empty() ? "" : " (" + r.limit + ")"));
  if (r.capture.out_truncated)
    throw errors::channel_handler_failed(
        c.name, "stdout is over " + std::to_string(triggers::k_handler_output_cap) + " bytes");
  if (r.capture.out.find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
  auto answer = hearth::parse_json_or_discarded(r.capture.out);
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
    // A captured signed delivery re-posted many times must not pin every request thread on
    // handlers: at most k_max_running_handlers per channel, the rest 503 (providers retry).
    const HandlerSlot slot(c.name);
    const auto answer = ask_handler(ctx, c, triggers::handler_input(c, route, delivery));
    const auto list = answer.value("dispatch", json::array());
    if (!list.is_array() || list.size() > k_max_handler_dispatches)
      throw errors::channel_handler_failed(c.name, "\"dispatch\" must be an array (at most 32)");
    for (const auto& d : list) {
      if (!d.is_object() || !d.contains("id") || !d["id"].is_string())
        throw errors::channel_handler_failed(c.name, "each dispatch needs a string \"id\"");
      // Keys live in this channel's namespace (a handler never claims another channel's or an
      // HTTP caller's key); without one, a provider's retry of the same signed delivery is still
      // one dispatch: the delivery's dedup key and the dispatch's place in the list.
      auto key = d.contains("idempotencyKey") && d["idempotencyKey"].is_string()
                     ? d["idempotencyKey"].get<std::string>()
                     : std::string();
      if (!key.empty()) key = c.name + ":h:" + key;
      else if (!delivery.dedup_key.empty())
        key = c.name + ":" + delivery.dedup_key + ":" + std::to_string(planned.size());
      planned.push_back({.agent = d.value("agent", std::string()),
                         .id = d["id"].get<std::string>(),
                         .input = d.value("input", json()),
                         .idempotency_key = std::move(key)});
    }
    if (answer.contains("response") && answer["response"].is_object()) reply = answer["response"];
    // Checked before anything is admitted: a bad reply must not leave half a delivery behind.
    if (reply.is_object() && reply.contains("status") && !reply["status"].is_number_integer())
      throw errors::channel_handler_failed(c.name, "\"response.status\" must be an integer");
  } else {
    planned = triggers::plan(c, delivery);
  }
  // Access rules at admission, as for HTTP callers (403 before anything is admitted).
  std::vector<runtime::Invocation> invocations;
  for (const auto& p : planned) invocations.push_back(ctx.dispatcher->invocation(p.agent, channel_invoker(c)));
  std::string ids;
  for (std::size_t i = 0; i < planned.size(); ++i) {
    auto& p = planned[i];
    json receipt;
    try {
      receipt = ctx.dispatcher->dispatch({.agent = p.agent,
                                          .instance_id = p.id,
                                          .input = std::move(p.input),
                                          .idempotency_key = p.idempotency_key,
                                          .source = "channel:" + c.name,
                                          .invoker = invocations[i].invoker,
                                          .conversation_key = delivery.conversation_key,
                                          .context = invocations[i].context});
    } catch (const Error& e) {
      // The same signed delivery whose unsigned parts differ (a redelivery's fresh
      // X-GitHub-Delivery id, resolver values of the moment): the provider is retrying what was
      // admitted, so it gets the seed's 200, not a 409 it does not know.
      if (e.info().type != "dispatch_conflict") throw;
      std::cerr << "hearth: channel " + c.name + " delivery replayed with different unsigned "
                   "fields; the first admission stands\n"
                << std::flush;
      continue;
    }
    const auto id = receipt.value("dispatchId", "");
    ids += (ids.empty() ? "" : ", ") + id;
    std::cerr << "hearth: channel " + c.name + " delivery " +
                     (delivery.delivery_id.empty() ? std::string("-") : delivery.delivery_id) +
                     (receipt.value("replayed", false) ? " replayed " : " dispatched ") + id + "\n"
              << std::flush;
  }
  // The seed's answer: an empty 200 when the callback returns nothing; the dispatch ids are in
  // the log and in a header (never in the body the provider reads).
  if (!ids.empty()) res.set_header("Hearth-Dispatch-Ids", ids);
  if (reply.is_object()) {
    const auto status = reply.value("status", 200);
    send_json(res, status >= 200 && status < 600 ? status : 200, reply.value("body", json::object()));
    return;
  }
  res.status = 200;
}

void dev_fire(const Request& req, Response& res, ServerContext& ctx) {
  std::string name; // ops/daily from /eve/v1/dev/schedules/ops/daily (or ops%2Fdaily)
  for (std::size_t i = 1; i < req.matches.size(); ++i) name += (i > 1 ? "/" : "") + std::string(req.matches[i]);
  send_json(res, 202, ctx.scheduler->fire_now(name));
}

} // namespace

void mount_channels(Router& router, ServerContext& ctx, const std::vector<triggers::ChannelDef>& channels) {
  for (const auto& c : channels)
    for (const auto& r : c.routes)
      router.add("/channels/" + c.name + r.suffix, {r.method},
                 [&ctx, &c, &r](const Request& req, Response& res) { deliver(req, res, ctx, c, r); });
  if (ctx.options.dev && ctx.scheduler) {
    std::string pattern = "/eve/v1/dev/schedules";
    for (int depth = 1; depth <= k_max_schedule_depth; ++depth) {
      pattern += "/:s" + std::to_string(depth);
      router.add(pattern, {"POST"}, [&ctx](const Request& req, Response& res) { dev_fire(req, res, ctx); });
    }
  }
}

} // namespace hearth::server

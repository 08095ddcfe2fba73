// Receiving one channel delivery (seed 003, "Flue channels"): verify the exact bytes, answer the
// provider's handshakes, parse the payload, derive its conversation key, and plan the dispatches
// a `dispatch` mapping asks for. Transport-neutral: the server gives headers and the raw body.
#pragma once

#include "triggers/channel_config.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::triggers {

using HeaderFn = std::function<std::string(std::string_view name)>;

/// A verified, parsed delivery. `payload` has short-lived capabilities removed (scrub()).
struct Delivery {
  std::string event{};            // provider event name (GitHub X-GitHub-Event, Slack event.type, ...)
  std::string action{};           // GitHub payload.action, else ""
  std::string delivery_id{};      // provider delivery/event id, or ""
  std::string conversation_key{}; // slack:v1:... / github:v1:... or ""
  std::string dedup_key{};        // from signed material only: Slack event_id, else a sha256 of
                                  // the signed bytes (never an unsigned header)
  nlohmann::json payload{};
  std::optional<nlohmann::json> handshake{}; // answered internally (url_verification, ping)
};

/// One dispatch a delivery asks for.
struct PlannedDispatch {
  std::string agent{}; // "" : the root agent
  std::string id{};
  nlohmann::json input{};
  std::string idempotency_key{};
};

/// Verifies `body` (the exact bytes) with `secret`, then parses it for `route`. Throws
/// errors::channel_signature_invalid (401: signature, timestamp window), channel_media_type (415)
/// or channel_payload_invalid (400). `now_s`: seconds since the epoch.
Delivery receive(const ChannelDef& channel, const ChannelRoute& route, const HeaderFn& header,
                 std::string_view body, std::string_view secret, std::int64_t now_s);

/// The dispatches `channel.dispatch` asks for (none when its `events` filter skips the event,
/// a `{{path}}` of the id template is missing, null or "", or the id is empty, over 200 bytes or
/// has control characters). Idempotency key: `<channel>:<dedup key>`, where the dedup key
/// comes from signed material only (Slack `event_id`; else sha256 of the body, of
/// `{timestamp}.{body}` for timestamped webhooks, or of Slack's timestamp + signature), so a
/// captured delivery re-posted with a fresh unsigned delivery header is still a replay.
std::vector<PlannedDispatch> plan(const ChannelDef& channel, const Delivery& delivery);

/// The JSON a `handler` executable reads on stdin: {channel, type, surface, event, action,
/// deliveryId, conversationKey, payload}.
nlohmann::json handler_input(const ChannelDef& channel, const ChannelRoute& route,
                             const Delivery& delivery);

/// Removes, in place and without recursion, members that are short-lived capabilities or
/// secrets (token, response_url, response_urls, trigger_id, ...) at any depth.
void scrub(nlohmann::json& value);

/// `{{path}}` templates over `context`: a string that is exactly one `{{path}}` becomes the value
/// there (any JSON type); other strings interpolate values as text; objects and arrays render
/// member by member. A missing path renders as null / "".
nlohmann::json render(const nlohmann::json& tmpl, const nlohmann::json& context);

/// Slack's and GitHub's conversation keys (seed 003, "Conversation keys").
std::string slack_conversation_key(std::string_view team, std::string_view channel,
                                   std::string_view thread_ts);
std::string github_conversation_key(std::string_view owner, std::string_view repo,
                                    std::int64_t issue);

} // namespace hearth::triggers

// Channel specs (`channels/<name>.json`, `agent/channels/<name>.json`; docs/triggers.md): what a
// channel verifies, which routes it answers and what it does with a verified delivery. Pure data
// and validation, so discovery (diagnostics), the manifest (routes) and the server share it.
#pragma once

#include "triggers/signatures.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace hearth::triggers {

enum class ChannelType { slack, github, webhook };

/// `handler.timeoutMs`: default and largest value (ms).
inline constexpr int k_default_handler_timeout_ms = 5'000;
inline constexpr int k_max_handler_timeout_ms = 10'000;
/// Bytes of a handler's stdout (and stderr) kept; more fails the delivery (502).
inline constexpr std::size_t k_handler_output_cap = 256u << 10;

/// One HTTP route a channel answers: `POST /channels/<name><suffix>`.
struct ChannelRoute {
  std::string method = "POST";
  std::string suffix{};  // "/events", "/interactions", "/commands", "/webhook", or `path`
  std::string surface{}; // events | interactions | commands | webhook
};

/// `dispatch`: which agent instance a verified delivery goes to, with which input.
struct DispatchMapping {
  std::string agent{};                   // "" : the root agent
  std::string id = "{{conversationKey}}"; // instance id template
  nlohmann::json input = nullptr;        // input template; null: the default input
  std::vector<std::string> events{};     // only these event names dispatch (empty: every one)
};

struct ChannelDef {
  std::string name{};
  std::string path{};                    // project-relative spec path
  ChannelType type = ChannelType::webhook;
  std::string secret_env{};
  std::size_t body_limit = 0;
  std::vector<ChannelRoute> routes{};
  std::optional<DispatchMapping> dispatch{};
  std::vector<std::string> handler{};    // argv; a relative program resolves against the spec's dir
  /// The handler runs on the delivery's request thread (docs/triggers.md "handler"): bounded by
  /// `timeoutMs` (default 5 s, at most 10 s: GitHub wants an answer within 10 s).
  int handler_timeout_ms = k_default_handler_timeout_ms;
  std::vector<std::string> handler_env{}; // `handler.env`: variable names passed to the handler
  // webhook only
  std::string signature_header{};
  GenericScheme scheme{};
  std::string timestamp_header{};
  std::string event_header{};
  std::string delivery_header{};         // its value is the idempotency key when set
};

/// Default body limits (seed 003: Slack 1 MiB, GitHub 25 MiB; generic webhooks 1 MiB).
inline constexpr std::size_t k_slack_body_limit = 1u << 20;
inline constexpr std::size_t k_github_body_limit = 25u << 20;
inline constexpr std::size_t k_webhook_body_limit = 1u << 20;
inline constexpr std::size_t k_max_body_limit = 64u << 20;

/// True for a spec that is Eve's own HTTP channel (`agent/channels/eve.json`: `auth` only), which
/// is configuration of /eve/v1, not a webhook channel.
bool is_eve_channel(const std::string& name, const nlohmann::json& config);

/// Parses channel `name`'s spec. Returns nullopt and appends one sentence per problem to
/// `problems` when it cannot be served (unknown type, missing secretEnv, bad limits, ...).
std::optional<ChannelDef> parse_channel(const std::string& name, const std::string& path,
                                        const nlohmann::json& config,
                                        std::vector<std::string>& problems);

/// `"slack" | "github" | "webhook"`.
std::string to_string(ChannelType type);

} // namespace hearth::triggers

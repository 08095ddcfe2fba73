// The HTTP layer shared by the HTTP model clients: one streamed JSON POST with timeouts, retries
// (429, 5xx, 529, `retry-after`, `x-should-retry`) and error mapping to the catalogue.
#pragma once

#include "providers/provider.hpp"

#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace hearth::providers {

/// A base URL split for httplib: "https://host:443/v1/" -> {"https://host:443", "/v1"}.
struct BaseUrl {
  std::string scheme_host_port{};
  std::string path_prefix{}; // no trailing slash; empty for the root
};

/// Splits `base_url`. Throws hearth::Error provider_config_invalid naming `provider` when it is
/// not an http(s) URL.
BaseUrl split_base_url(std::string_view provider, std::string_view base_url);

/// `url` without user info and query string, safe to log.
std::string redact_url(std::string_view url);

/// One POST to a model API.
struct PostRequest {
  std::string provider{}; // provider id, for messages
  std::string base_url{}; // as configured, e.g. "https://api.openai.com/v1"
  std::string path{};     // appended to the base URL's path, e.g. "/chat/completions"
  std::map<std::string, std::string> headers{};
  std::string body{};    // JSON text
  std::string key_env{}; // the variable the key came from: named by auth errors
  std::string secret{};  // the key: scrubbed from every message
  std::stop_token cancel{}; // once stopped: the connection is shut down, turn_cancelled thrown
};

/// Sends `request`, retrying 408/409/429/5xx/529 and connection failures (honouring retry-after,
/// retry-after-ms and x-should-retry) until a 2xx arrives; then hands each body piece of that
/// response to `on_body` (which may throw; the exception propagates). Blocks; never retries once a
/// 2xx body started. Throws hearth::Error provider_* entries for every other outcome, and
/// errors::turn_cancelled when `request.cancel` is stopped (the socket is shut down at once, a
/// retry back-off is cut short).
void post_streaming(const PostRequest& request, const ProviderSettings& settings,
                    const std::function<void(std::string_view)>& on_body);

/// The human message inside a provider error body (OpenAI, Anthropic or plain text), with
/// `secret` scrubbed; at most 500 characters.
std::string error_body_message(std::string_view body, std::string_view secret);

} // namespace hearth::providers

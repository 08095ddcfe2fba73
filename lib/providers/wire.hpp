// Helpers shared by the wire clients (openai_chat, anthropic_messages): the resolved endpoint,
// modelOptions mapping, tool-call finishing and small stream utilities.
#pragma once

#include "providers/provider.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::providers {

/// A provider after configuration, defaults and the environment were applied.
struct Endpoint {
  std::string id{};       // provider id, e.g. "openrouter"
  std::string api{};      // "openai-chat" | "anthropic-messages"
  std::string base_url{}; // full base URL, e.g. "https://openrouter.ai/api/v1"
  std::string key_env{};  // where the key came from (may be empty: no key needed)
  std::string key{};      // the secret; never logged or shown
  std::map<std::string, std::string> headers{};
};

/// "maxOutputTokens" -> "max_output_tokens"; snake_case stays as it is.
std::string camel_to_snake(std::string_view name);

/// Copies agent.json modelOptions into a request body: `aliases` renames keys first (e.g.
/// maxTokens -> max_tokens), other keys go camel -> snake; `providerOptions.<k>` for each k in
/// `provider_keys` is merged last, verbatim but for the same key conversion.
void apply_model_options(Json& body, const Json& options,
                         const std::map<std::string, std::string>& aliases,
                         const std::vector<std::string>& provider_keys);

/// A finished tool call: empty arguments become "{}"; `input` is their parse, else null with
/// `input_error` set.
ToolCall finish_tool_call(std::string id, std::string name, std::string arguments);

/// Parses one SSE data payload as a JSON object. Throws provider_stream_invalid quoting it.
Json parse_stream_json(std::string_view data);

/// Calls `f(args...)` when the callback is set.
template <typename F, typename... Args> void notify(const F& f, Args&&... args) {
  if (f)
    f(std::forward<Args>(args)...);
}

/// The string at `j[key]`, or "" when absent or not a string.
std::string string_at(const Json& j, const char* key);

/// The integer at `j[key]`, or 0 when absent or not a number.
std::int64_t int_at(const Json& j, const char* key);

} // namespace hearth::providers

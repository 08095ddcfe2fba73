// The provider factory: built-in ids, hearth.json `providers` entries, base URLs and keys from the
// environment (docs/providers.md).
#include "providers/provider.hpp"

#include "core/errors.hpp"
#include "providers/anthropic_messages.hpp"
#include "providers/mock.hpp"
#include "providers/openai_chat.hpp"

#include <cstdlib>

namespace hearth::providers {
namespace {

constexpr const char* k_openai_chat = "openai-chat";
constexpr const char* k_anthropic_messages = "anthropic-messages";

struct Builtin {
  const char* id;
  const char* api;
  const char* base_url;
  const char* key_env;  // "" : no key needed
  const char* base_env; // "" : no variable overrides the base URL
};

constexpr Builtin k_builtins[] = {
    {"openai", k_openai_chat, "https://api.openai.com/v1", "OPENAI_API_KEY", "OPENAI_BASE_URL"},
    {"openrouter", k_openai_chat, "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", ""},
    {"ollama", k_openai_chat, "http://127.0.0.1:11434/v1", "", ""},
    {"gateway", k_openai_chat, "https://ai-gateway.vercel.sh/v1", "AI_GATEWAY_API_KEY", ""},
    {"anthropic", k_anthropic_messages, "https://api.anthropic.com", "ANTHROPIC_API_KEY",
     "ANTHROPIC_BASE_URL"},
};

const Builtin* find_builtin(std::string_view id) {
  for (const auto& b : k_builtins)
    if (id == b.id)
      return &b;
  return nullptr;
}

std::optional<std::string> non_empty(const EnvLookup& env, std::string_view name) {
  if (!env || name.empty())
    return std::nullopt;
  auto v = env(name);
  if (v && v->empty())
    return std::nullopt;
  return v;
}

Endpoint resolve(std::string_view id, const ProviderConfig* cfg, const Builtin* builtin,
                 const EnvLookup& env) {
  Endpoint e{.id = std::string(id)};
  e.api = cfg && !cfg->api.empty() ? cfg->api : builtin ? builtin->api : "";
  if (e.api.empty())
    throw errors::provider_config_invalid(id, "`api` is required");
  if (e.api != k_openai_chat && e.api != k_anthropic_messages)
    throw errors::provider_config_invalid(id, "unknown api \"" + e.api + "\"");
  if (cfg && !cfg->base_url.empty())
    e.base_url = cfg->base_url;
  else if (const auto v = builtin ? non_empty(env, builtin->base_env) : std::nullopt)
    e.base_url = *v;
  else if (builtin)
    e.base_url = builtin->base_url;
  else
    throw errors::provider_config_invalid(id, "`baseUrl` is required");
  e.key_env = cfg && !cfg->api_key_env.empty() ? cfg->api_key_env : builtin ? builtin->key_env : "";
  if (!e.key_env.empty()) {
    const auto key = non_empty(env, e.key_env);
    if (!key)
      throw errors::provider_missing_key(id, e.key_env);
    e.key = *key;
  }
  if (cfg)
    e.headers = cfg->headers;
  return e;
}

} // namespace

Message user_message(std::string text) { return {.role = Role::user, .text = std::move(text)}; }

Message assistant_message(std::string text, std::vector<ToolCall> tool_calls) {
  return {.role = Role::assistant, .text = std::move(text), .tool_calls = std::move(tool_calls)};
}

Message tool_result(std::string tool_call_id, std::string content, bool is_error,
                    std::string tool_name) {
  return {.role = Role::tool,
          .text = std::move(content),
          .tool_call_id = std::move(tool_call_id),
          .tool_name = std::move(tool_name),
          .is_error = is_error};
}

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr)
      return std::nullopt;
    return std::string(v);
  };
}

ModelRef parse_model(std::string_view model_string) {
  const auto slash = model_string.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == model_string.size())
    throw errors::model_invalid(model_string);
  return {.provider = std::string(model_string.substr(0, slash)),
          .model = std::string(model_string.substr(slash + 1))};
}

std::vector<std::string> builtin_provider_ids() {
  std::vector<std::string> ids;
  for (const auto& b : k_builtins)
    ids.emplace_back(b.id);
  ids.emplace_back("mock");
  return ids;
}

std::unique_ptr<Provider> make_provider(std::string_view id,
                                        const std::map<std::string, ProviderConfig>& configured,
                                        const EnvLookup& env, const ProviderSettings& settings) {
  if (id == "mock")
    return make_mock(env, settings.mock_script);
  const auto it = configured.find(std::string(id));
  const ProviderConfig* cfg = it != configured.end() ? &it->second : nullptr;
  const Builtin* builtin = find_builtin(id);
  if (!cfg && !builtin) {
    auto available = builtin_provider_ids();
    for (const auto& [name, c] : configured)
      available.push_back(name);
    throw errors::provider_unknown(id, available);
  }
  auto endpoint = resolve(id, cfg, builtin, env);
  if (endpoint.api == k_anthropic_messages)
    return make_anthropic_messages(std::move(endpoint), settings);
  return make_openai_chat(std::move(endpoint), settings);
}

} // namespace hearth::providers

// The error catalogue (declared in core/errors.hpp), providers part (lib/providers): model
// strings, the HTTP model clients and the mock provider.
#include "core/errors.hpp"

#include "core/text.hpp"

namespace hearth::errors {

using std::string;

// --- providers (model strings, HTTP model clients, mock) ---------------------------------------

Error model_invalid(std::string_view model_string) {
  return Error({.type = "model_invalid",
                .message = "Invalid model \"" + string(model_string) +
                           "\": model strings are `provider/model`.",
                .details = "For example \"openai/gpt-4o\", \"anthropic/claude-sonnet-4-5\", "
                           "\"ollama/llama3.2\" or \"mock/echo\"; see docs/providers.md.",
                .http_status = 400});
}

Error provider_unknown(std::string_view id, const std::vector<std::string>& available) {
  return Error({.type = "provider_unknown",
                .message = "Model provider \"" + string(id) + "\" is not known.",
                .details = "Use a built-in provider or declare it in hearth.json `providers` "
                           "({\"api\": \"openai-chat\", \"baseUrl\": ...}).",
                .dev = "Available providers: " + text::quote_list(available) + ".",
                .http_status = 400});
}

Error provider_config_invalid(std::string_view id, std::string_view problem) {
  return Error({.type = "config_invalid",
                .message = "Invalid provider \"" + string(id) + "\" in hearth.json: " +
                           string(problem),
                .details = "`api` is \"openai-chat\" or \"anthropic-messages\"; see "
                           "docs/providers.md."});
}

Error provider_missing_key(std::string_view provider, std::string_view env_var) {
  return Error({.type = "provider_missing_key",
                .message = "No API key for model provider \"" + string(provider) + "\".",
                .details = "Set " + string(env_var) + " in the environment or in the project's "
                           ".env / .env.local file."});
}

Error provider_auth_failed(std::string_view provider, int status, std::string_view env_var,
                           std::string_view provider_message) {
  return Error({.type = "provider_auth_failed",
                .message = "Model provider \"" + string(provider) + "\" rejected the API key (" +
                           std::to_string(status) + "): " + string(provider_message),
                .details = env_var.empty()
                               ? string("Check the provider's credentials.")
                               : "Check " + string(env_var) + ": it must hold a valid key for " +
                                     string(provider) + ".",
                .http_status = 502});
}

Error provider_bad_request(std::string_view provider, int status,
                           std::string_view provider_message) {
  return Error({.type = "provider_bad_request",
                .message = "Model provider \"" + string(provider) + "\" rejected the request (" +
                           std::to_string(status) + "): " + string(provider_message),
                .details = "Check the model name and agent.json `modelOptions`.",
                .http_status = 502});
}

Error provider_rate_limited(std::string_view provider, std::string_view provider_message,
                            int attempts) {
  return Error({.type = "provider_rate_limited",
                .message = "Model provider \"" + string(provider) + "\" is rate limiting requests (" +
                           std::to_string(attempts) + " attempt" + (attempts == 1 ? "" : "s") +
                           "): " + string(provider_message),
                .details = "Wait and try again, or lower the request rate.",
                .http_status = 429});
}

Error provider_quota_exceeded(std::string_view provider, std::string_view provider_message) {
  return Error({.type = "provider_quota_exceeded",
                .message = "Model provider \"" + string(provider) + "\" reports the quota is used "
                           "up: " + string(provider_message),
                .details = "Check the plan and billing details of the provider account.",
                .http_status = 429});
}

Error provider_unavailable(std::string_view provider, int status,
                           std::string_view provider_message, int attempts) {
  return Error({.type = "provider_unavailable",
                .message = "Model provider \"" + string(provider) + "\" is unavailable (" +
                           std::to_string(status) + ", " + std::to_string(attempts) + " attempt" +
                           (attempts == 1 ? "" : "s") + "): " + string(provider_message),
                .details = "The provider is overloaded or failing; try again later.",
                .http_status = 503});
}

Error provider_http_error(std::string_view provider, int status,
                          std::string_view provider_message) {
  return Error({.type = "provider_error",
                .message = "Model provider \"" + string(provider) + "\" answered HTTP " +
                           std::to_string(status) + ": " + string(provider_message),
                .details = "Check the provider's base URL and the model name.",
                .http_status = 502});
}

Error provider_connection_failed(std::string_view provider, std::string_view url,
                                 std::string_view reason, int attempts) {
  return Error({.type = "provider_connection_failed",
                .message = "Could not reach model provider \"" + string(provider) + "\" at " +
                           string(url) + ": " + string(reason) + " (" + std::to_string(attempts) +
                           " attempt" + (attempts == 1 ? "" : "s") + ").",
                .details = "Check the network and the provider's base URL (hearth.json "
                           "`providers.<id>.baseUrl` or the *_BASE_URL variable).",
                .http_status = 502});
}

Error provider_stream_invalid(std::string_view problem) {
  return Error({.type = "provider_stream_invalid",
                .message = "The model response stream is invalid: " + string(problem),
                .details = "The base URL may point at a server that does not speak this API.",
                .http_status = 502});
}

Error provider_stream_error(std::string_view provider, std::string_view provider_message) {
  return Error({.type = "provider_error",
                .message = "Model provider \"" + string(provider) + "\" failed mid-response: " +
                           string(provider_message),
                .details = "Try again; the provider aborted the response stream.",
                .http_status = 502});
}

Error mock_model_unknown(std::string_view model) {
  return Error({.type = "model_invalid",
                .message = "The mock provider has no model \"" + string(model) + "\".",
                .details = "Use \"mock/echo\" or \"mock/script\".",
                .http_status = 400});
}

Error mock_script_not_found(std::string_view path) {
  return Error({.type = "mock_script_not_found",
                .message = path.empty() ? string("mock/script has no script to replay.")
                                        : "mock/script has no script: " + string(path) +
                                              " does not exist.",
                .details = "Set HEARTH_MOCK_SCRIPT to a JSONL file, or write mock.jsonl beside "
                           "agent.json (one step per line)."});
}

Error mock_script_invalid(std::string_view where, std::string_view problem) {
  return Error({.type = "mock_script_invalid",
                .message = "Invalid mock script step at " + string(where) + ": " + string(problem),
                .details = "Each line is {\"text\": ...}, {\"toolCalls\": [{\"name\", \"input\"}]} "
                           "or {\"result\": {...}}."});
}

Error mock_script_exhausted(std::string_view path, std::size_t steps, std::size_t step) {
  return Error({.type = "mock_script_exhausted",
                .message = "mock/script ran past the end of " + string(path) + ": step " +
                           std::to_string(step) + " was requested but the script has " +
                           std::to_string(steps) + " step" + (steps == 1 ? "" : "s") + ".",
                .details = "Add a step to the script, or end the run sooner (a final text step "
                           "or a `result` step ends the agent loop)."});
}

} // namespace hearth::errors

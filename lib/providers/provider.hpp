// The provider-neutral model step API: one Provider call runs one model step (request -> streamed
// deltas -> StepResult). Built-in providers speak OpenAI Chat Completions, Anthropic Messages, or
// answer locally (`mock`). Model strings are `provider/model` (docs/providers.md).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::providers {

using Json = nlohmann::json;

/// One tool call the model made. `arguments` is the raw JSON text as received ("{}" when the
/// model sent none); `input` is its parse, or null with `input_error` set when it is not JSON.
struct ToolCall {
  std::string id{};
  std::string name{};
  std::string arguments{};
  Json input{};
  std::optional<std::string> input_error{};
};

enum class Role { user, assistant, tool };

/// One history entry. user: `text`. assistant: `text` and `tool_calls`. tool (a tool result):
/// `tool_call_id`, `tool_name` (optional), `text` (the result content), `is_error`.
struct Message {
  Role role = Role::user;
  std::string text{};
  std::vector<ToolCall> tool_calls{};
  std::string tool_call_id{};
  std::string tool_name{};
  bool is_error = false;
};

/// Builders for the three message kinds.
Message user_message(std::string text);
Message assistant_message(std::string text, std::vector<ToolCall> tool_calls = {});
Message tool_result(std::string tool_call_id, std::string content, bool is_error = false,
                    std::string tool_name = {});

/// A tool offered to the model; `parameters` is a JSON Schema object, never null, shared with the
/// tool it came from (runtime::SharedSchema: never changed once made). `parameters_chars` is the
/// size of its compact JSON text when the caller knows it (serialized once per process for the
/// built-ins), else 0: a size estimate need not serialize it again. `parameters_text`, when set,
/// is that compact text (dump_json), shared like the schema: a step's turn_request event writes
/// it instead of copying the schema (issue 17 §3).
struct ToolSpec {
  std::string name{};
  std::string description{};
  std::shared_ptr<const Json> parameters = std::make_shared<const Json>(Json::object());
  std::size_t parameters_chars = 0;
  std::shared_ptr<const std::string> parameters_text{};
};

/// One model step. `model` is the part of the model string after the first slash. `options` is
/// agent.json `modelOptions` (JSON object): temperature, topP, maxTokens / maxOutputTokens,
/// stopSequences, seed, ... (camelCase becomes snake_case on the wire) and
/// `providerOptions.<provider id | openai | anthropic>`, merged verbatim into the request body.
struct StepRequest {
  std::string model{};
  std::string system{};
  std::vector<Message> messages{};
  std::vector<ToolSpec> tools{};
  Json options = Json::object();
  /// Stopped when the turn is cancelled: step() then aborts its stream (HTTP: the socket is shut
  /// down; mock: its delay or streaming stops) and throws errors::turn_cancelled within ~1 s.
  std::stop_token cancel{};
};

/// Token counts for one step. `input` excludes cache reads (OpenAI's prompt_tokens minus
/// cached_tokens; Anthropic's input_tokens); `total` is the provider's total, else the sum.
struct Usage {
  std::int64_t input = 0;
  std::int64_t output = 0;
  std::int64_t cache_read = 0;
  std::int64_t cache_write = 0;
  std::int64_t total = 0;
};

/// What one step produced. `stop_reason` uses Flue's vocabulary: "stop", "toolUse", "length",
/// or the provider's own word when it has no equivalent; `raw_stop_reason` is as received.
struct StepResult {
  std::string text{};
  std::vector<ToolCall> tool_calls{};
  Usage usage{};
  std::string stop_reason{};
  std::string raw_stop_reason{};
  std::string provider{}; // provider id, e.g. "openai"
  std::string model{};    // the model the provider reports, else the requested one
  std::string response_id{};
  std::string thinking{}; // reasoning text, when the provider streams it
};

/// Streaming callbacks, all optional, called on the calling thread while step() runs. `index` is
/// the tool call's position in StepResult::tool_calls. Deltas concatenate to the final values.
struct StreamSink {
  std::function<void(std::string_view delta)> on_text_delta{};
  std::function<void(std::string_view delta)> on_thinking_delta{};
  std::function<void(std::size_t index, std::string_view id, std::string_view name)>
      on_tool_call_start{};
  std::function<void(std::size_t index, std::string_view arguments_delta)> on_tool_call_delta{};
  std::function<void(std::size_t index, const ToolCall& call)> on_tool_call_end{};
};

/// A model client. One object may serve many steps (a run or a connect session); step() blocks
/// until the step ends and throws hearth::Error (provider_* / mock_* catalogue entries) on failure,
/// errors::turn_cancelled once `request.cancel` is stopped.
class Provider {
public:
  virtual ~Provider() = default;
  virtual StepResult step(const StepRequest& request, const StreamSink& sink) = 0;
  /// The provider id this object was built for ("openai", "mock", a hearth.json id...).
  virtual const std::string& id() const = 0;
};

/// One provider entry, as hearth.json `providers.<id>` declares it (mirrors
/// config::ProviderConfig). Empty strings mean "the built-in default".
struct ProviderConfig {
  std::string id{};
  std::string api{}; // "openai-chat" or "anthropic-messages"
  std::string base_url{};
  std::string api_key_env{};
  std::map<std::string, std::string> headers{};
};

/// Reads an environment variable; std::nullopt when unset. Tests pass a map-backed lookup.
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;

/// The lookup over the process environment (getenv).
EnvLookup process_env();

/// Network behaviour of the HTTP providers. Backoff doubles from `backoff_base` up to
/// `backoff_max`; a `retry-after` above `max_retry_after` is not waited for (the error is raised).
struct HttpOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds read_timeout{300'000}; // between bytes: models may think for minutes
  std::chrono::milliseconds write_timeout{30'000};
  int max_retries = 2; // attempts = 1 + max_retries
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_max{8'000};
  std::chrono::milliseconds max_retry_after{60'000};
};

/// Everything a provider may need besides its configuration.
struct ProviderSettings {
  HttpOptions http{};
  /// mock/script's script when HEARTH_MOCK_SCRIPT is unset (the harness passes mock.jsonl
  /// beside agent.json).
  std::filesystem::path mock_script{};
  /// Diagnostic lines (redacted URL, retries); never carries keys. May be empty.
  std::function<void(std::string_view line)> log{};
};

/// A model string split at its first slash: "gateway/openai/gpt-5" -> {"gateway", "openai/gpt-5"}.
struct ModelRef {
  std::string provider{};
  std::string model{};
};

/// Splits `model_string`. Throws hearth::Error model_invalid when there is no slash or either
/// side is empty.
ModelRef parse_model(std::string_view model_string);

/// The provider ids that need no configuration: openai, openrouter, ollama, gateway, anthropic,
/// mock.
std::vector<std::string> builtin_provider_ids();

/// Builds the provider for `id`. `configured` holds hearth.json `providers` (keyed by id; its
/// entries override a built-in of the same id field by field). Resolves the base URL and reads the
/// API key through `env` now. Throws hearth::Error: provider_unknown, provider_config_invalid
/// (unknown `api`), provider_missing_key (names the variable to set).
std::unique_ptr<Provider> make_provider(std::string_view id,
                                        const std::map<std::string, ProviderConfig>& configured,
                                        const EnvLookup& env,
                                        const ProviderSettings& settings = {});

} // namespace hearth::providers

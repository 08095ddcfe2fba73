// OpenAI Chat Completions (`openai-chat`): request building, the streamed-chunk assembler and the
// provider that joins them over HTTP. Also serves OpenRouter, Ollama, the AI Gateway and any
// OpenAI-compatible server declared in hearth.json.
#pragma once

#include "providers/stream_provider.hpp"

#include <map>
#include <memory>

namespace hearth::providers {

/// The /chat/completions body for `request` (stream: true, stream_options.include_usage).
/// `provider_id` picks `providerOptions.<id>` and, for "openai", max_completion_tokens.
Json openai_chat_body(const StepRequest& request, std::string_view provider_id);

/// Folds chat.completion.chunk events into a StepResult, streaming deltas to the sink as they
/// arrive. Tool calls accumulate by `index`; usage comes from any chunk that carries it.
class OpenAiChatAssembler final : public StreamAssembler {
public:
  OpenAiChatAssembler(std::string provider_id, const StreamSink& sink);

  /// Consumes one SSE event. Throws provider_stream_invalid (non-JSON data) or
  /// provider_stream_error (an `error` object inside the stream).
  void on_event(const SseEvent& event) override;

  /// The assembled step. Throws provider_stream_invalid when the stream ended before a
  /// finish_reason or `[DONE]`.
  StepResult finish() override;

private:
  struct PartialCall {
    std::string id{}, name{}, arguments{};
    bool started = false;
    std::size_t position = 0;
  };
  void on_tool_delta(const Json& item);

  std::map<std::int64_t, PartialCall> m_calls{};
  bool m_seen_chunk = false;
  bool m_done = false;
};

/// The provider for an `openai-chat` endpoint.
std::unique_ptr<Provider> make_openai_chat(Endpoint endpoint, ProviderSettings settings);

} // namespace hearth::providers

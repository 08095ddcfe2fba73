// Anthropic Messages (`anthropic-messages`): request building, the streamed-event assembler and
// the provider that joins them over HTTP (https://docs.anthropic.com/en/api/messages-streaming).
#pragma once

#include "providers/stream_provider.hpp"

#include <map>
#include <memory>

namespace hearth::providers {

/// Default `max_tokens` (the Messages API requires one) when modelOptions sets none.
inline constexpr int k_anthropic_default_max_tokens = 4096;

/// The /v1/messages body for `request`: `system` on top, tool results as user `tool_result`
/// blocks, consecutive user-side turns merged so roles alternate.
Json anthropic_messages_body(const StepRequest& request, std::string_view provider_id);

/// Folds Messages stream events into a StepResult, streaming deltas to the sink. tool_use input
/// is the concatenated input_json_delta pieces; usage is message_start's merged with
/// message_delta's (message_delta wins).
class AnthropicAssembler final : public StreamAssembler {
public:
  AnthropicAssembler(std::string provider_id, const StreamSink& sink);

  /// Consumes one SSE event. Throws provider_stream_invalid (non-JSON data) or
  /// provider_stream_error (an `error` event, e.g. overloaded_error).
  void on_event(const SseEvent& event) override;

  /// The assembled step. Throws provider_stream_invalid when the stream ended early.
  StepResult finish() override;

private:
  struct Block {
    std::string type{}, id{}, name{}, json{};
    Json start_input{};
    std::size_t call_position = 0;
    bool ended = false;
  };
  void on_block_start(const Json& j);
  void on_block_delta(const Json& j);
  void end_block(Block& block);
  void read_usage(const Json& usage);

  std::map<std::int64_t, Block> m_blocks{};
  bool m_started = false;
  bool m_stopped = false;
};

/// The provider for an `anthropic-messages` endpoint.
std::unique_ptr<Provider> make_anthropic_messages(Endpoint endpoint, ProviderSettings settings);

} // namespace hearth::providers

// The base of the HTTP model clients that stream SSE (openai-chat, anthropic-messages): one
// streamed JSON POST a step with the endpoint's headers, retries and status/error mapping
// (post_streaming), cancellation and SSE bounds (SseParser). A client gives only its wire format:
// the path, the body, its own headers and the assembler of its stream events.
#pragma once

#include "providers/provider.hpp"
#include "providers/sse.hpp"
#include "providers/wire.hpp"

#include <map>
#include <memory>
#include <string>

namespace hearth::providers {

/// Folds the SSE events of one streamed response into a StepResult, streaming deltas to the sink
/// as they arrive (OpenAiChatAssembler, AnthropicAssembler).
class StreamAssembler {
public:
  virtual ~StreamAssembler() = default;

  /// Consumes one SSE event. Throws provider_stream_invalid (data it cannot use) or
  /// provider_stream_error (the provider reported an error inside the stream).
  virtual void on_event(const SseEvent& event) = 0;

  /// The assembled step. Throws provider_stream_invalid when the stream ended early.
  virtual StepResult finish() = 0;

protected:
  /// `provider_id` names the provider in errors and in the result; `sink` outlives the assembler.
  StreamAssembler(std::string provider_id, const StreamSink& sink);

  std::string m_provider;
  const StreamSink& m_sink;
  StepResult m_result{};
};

/// A Provider for one endpoint of an SSE streaming API.
class StreamProvider : public Provider {
public:
  StreamProvider(Endpoint endpoint, ProviderSettings settings);

  const std::string& id() const override { return m_endpoint.id; }

  /// POSTs body(request) to path() with the endpoint's headers, Content-Type application/json,
  /// Accept text/event-stream and add_headers(); feeds the response's SSE events to a fresh
  /// assembler() and returns its step, whose `model` defaults to request.model. Throws as
  /// post_streaming (provider_* errors, turn_cancelled), SseParser and the assembler.
  StepResult step(const StepRequest& request, const StreamSink& sink) final;

protected:
  using Headers = std::map<std::string, std::string>;

  /// The path appended to the base URL's path, e.g. "/chat/completions".
  virtual std::string path() const = 0;

  /// The request body for `request`.
  virtual Json body(const StepRequest& request) const = 0;

  /// Adds the API's own headers (authentication, version) to `headers`, which hold the
  /// endpoint's headers and the JSON / event-stream content types.
  virtual void add_headers(Headers& headers) const = 0;

  /// A fresh assembler for one response, streaming deltas to `sink`.
  virtual std::unique_ptr<StreamAssembler> assembler(const StreamSink& sink) const = 0;

  /// The endpoint this provider was built for.
  const Endpoint& endpoint() const noexcept { return m_endpoint; }

private:
  Endpoint m_endpoint;
  ProviderSettings m_settings;
};

} // namespace hearth::providers

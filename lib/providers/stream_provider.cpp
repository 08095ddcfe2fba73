// The SSE model client base: see stream_provider.hpp.
#include "providers/stream_provider.hpp"
#include "core/json.hpp"

#include "providers/http.hpp"

namespace hearth::providers {

StreamAssembler::StreamAssembler(std::string provider_id, const StreamSink& sink)
    : m_provider(std::move(provider_id)), m_sink(sink) {}

StreamProvider::StreamProvider(Endpoint endpoint, ProviderSettings settings)
    : m_endpoint(std::move(endpoint)), m_settings(std::move(settings)) {}

StepResult StreamProvider::step(const StepRequest& request, const StreamSink& sink) {
  PostRequest post{.provider = m_endpoint.id,
                   .base_url = m_endpoint.base_url,
                   .path = path(),
                   .headers = m_endpoint.headers,
                   .body = dump_json(body(request)),
                   .key_env = m_endpoint.key_env,
                   .secret = m_endpoint.key,
                   .cancel = request.cancel};
  post.headers["Content-Type"] = "application/json";
  post.headers["Accept"] = "text/event-stream";
  add_headers(post.headers);
  const auto events = assembler(sink);
  SseParser parser([&](const SseEvent& e) { events->on_event(e); });
  post_streaming(post, m_settings, [&](std::string_view bytes) { parser.feed(bytes); });
  parser.finish();
  auto result = events->finish();
  if (result.model.empty())
    result.model = request.model;
  return result;
}

} // namespace hearth::providers

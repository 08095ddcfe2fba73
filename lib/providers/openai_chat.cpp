// OpenAI Chat Completions over SSE: see openai_chat.hpp. Chunk shapes: fixtures/SOURCES.md and
// https://platform.openai.com/docs/api-reference/chat-streaming.
#include "providers/openai_chat.hpp"
#include "core/json.hpp"

#include "core/errors.hpp"
#include "core/text.hpp"
#include "providers/http.hpp"

namespace hearth::providers {
namespace {

Json wire_message(const Message& m) {
  switch (m.role) {
  case Role::user:
    return {{"role", "user"}, {"content", m.text}};
  case Role::tool:
    return {{"role", "tool"}, {"tool_call_id", m.tool_call_id}, {"content", m.text}};
  case Role::assistant:
    break;
  }
  Json out = {{"role", "assistant"}, {"content", m.text.empty() ? Json(nullptr) : Json(m.text)}};
  for (const auto& c : m.tool_calls)
    out["tool_calls"].push_back({{"id", c.id},
                                 {"type", "function"},
                                 {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
  return out;
}

std::string normalize_stop(std::string_view raw, bool has_calls) {
  if (has_calls || raw == "tool_calls" || raw == "function_call")
    return "toolUse";
  if (raw == "stop" || raw.empty())
    return "stop";
  if (raw == "length")
    return "length";
  return std::string(raw);
}

class OpenAiChatProvider final : public StreamProvider {
public:
  using StreamProvider::StreamProvider;

private:
  std::string path() const override { return "/chat/completions"; }
  Json body(const StepRequest& request) const override {
    return openai_chat_body(request, endpoint().id);
  }
  void add_headers(Headers& headers) const override {
    if (!endpoint().key.empty())
      headers["Authorization"] = "Bearer " + endpoint().key;
  }
  std::unique_ptr<StreamAssembler> assembler(const StreamSink& sink) const override {
    return std::make_unique<OpenAiChatAssembler>(endpoint().id, sink);
  }
};

} // namespace

Json openai_chat_body(const StepRequest& request, std::string_view provider_id) {
  Json body = {{"model", request.model},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}},
               {"messages", Json::array()}};
  if (!request.system.empty())
    body["messages"].push_back({{"role", "system"}, {"content", request.system}});
  for (const auto& m : request.messages)
    body["messages"].push_back(wire_message(m));
  for (const auto& t : request.tools) {
    Json fn = {{"name", t.name}, {"parameters", *t.parameters}};
    if (!t.description.empty())
      fn["description"] = t.description;
    body["tools"].push_back({{"type", "function"}, {"function", fn}});
  }
  // OpenAI's reasoning models reject max_tokens; compatible servers mostly know only max_tokens.
  const std::string max_key = provider_id == "openai" ? "max_completion_tokens" : "max_tokens";
  apply_model_options(
      body, request.options,
      {{"maxTokens", max_key}, {"maxOutputTokens", max_key}, {"stopSequences", "stop"}},
      {std::string(provider_id), "openai"});
  return body;
}

OpenAiChatAssembler::OpenAiChatAssembler(std::string provider_id, const StreamSink& sink)
    : StreamAssembler(std::move(provider_id), sink) {}

void OpenAiChatAssembler::on_event(const SseEvent& event) {
  const auto data = text::trim(event.data);
  if (data == "[DONE]") {
    m_done = true;
    return;
  }
  const auto chunk = parse_stream_json(data);
  if (const auto err = chunk.find("error"); err != chunk.end() && !err->is_null())
    throw errors::provider_stream_error(m_provider, error_body_message(dump_json(chunk), ""));
  m_seen_chunk = true;
  if (m_result.response_id.empty())
    m_result.response_id = string_at(chunk, "id");
  if (m_result.model.empty())
    m_result.model = string_at(chunk, "model");
  if (const auto u = chunk.find("usage"); u != chunk.end() && u->is_object()) {
    const auto cached = u->contains("prompt_tokens_details")
                            ? int_at((*u)["prompt_tokens_details"], "cached_tokens")
                            : 0;
    m_result.usage.input = int_at(*u, "prompt_tokens") - cached;
    m_result.usage.output = int_at(*u, "completion_tokens");
    m_result.usage.cache_read = cached;
    m_result.usage.total = int_at(*u, "total_tokens");
    if (m_result.usage.total == 0)
      m_result.usage.total = m_result.usage.input + m_result.usage.output + cached;
  }
  const auto choices = chunk.find("choices");
  if (choices == chunk.end() || !choices->is_array())
    return;
  for (const auto& choice : *choices) {
    if (!choice.is_object() || int_at(choice, "index") != 0)
      continue; // n > 1: first choice only
    if (const auto r = string_at(choice, "finish_reason"); !r.empty())
      m_result.raw_stop_reason = r;
    const auto delta = choice.find("delta");
    if (delta == choice.end() || !delta->is_object())
      continue;
    for (const char* key : {"reasoning_content", "reasoning"})
      if (const auto t = string_at(*delta, key); !t.empty()) {
        m_result.thinking += t;
        notify(m_sink.on_thinking_delta, t);
      }
    for (const char* key : {"content", "refusal"})
      if (const auto t = string_at(*delta, key); !t.empty()) {
        m_result.text += t;
        notify(m_sink.on_text_delta, t);
      }
    if (const auto calls = delta->find("tool_calls"); calls != delta->end() && calls->is_array())
      for (const auto& item : *calls)
        if (item.is_object())
          on_tool_delta(item);
  }
}

void OpenAiChatAssembler::on_tool_delta(const Json& item) {
  const auto index =
      item.contains("index") ? int_at(item, "index") : static_cast<std::int64_t>(m_calls.size());
  auto [it, inserted] = m_calls.try_emplace(index);
  auto& call = it->second;
  if (inserted)
    call.position = m_calls.size() - 1;
  // Compatible servers repeat id:"" or name:"" on continuation deltas: empty means absent.
  if (const auto id = string_at(item, "id"); !id.empty() && call.id.empty())
    call.id = id;
  std::string piece;
  if (const auto fn = item.find("function"); fn != item.end() && fn->is_object()) {
    if (const auto name = string_at(*fn, "name"); !name.empty() && call.name.empty())
      call.name = name;
    piece = string_at(*fn, "arguments");
    call.arguments += piece;
  }
  if (!call.started && !call.name.empty()) {
    call.started = true;
    notify(m_sink.on_tool_call_start, call.position, call.id, call.name);
    piece = call.arguments; // whatever arrived before the name
  }
  if (call.started && !piece.empty())
    notify(m_sink.on_tool_call_delta, call.position, piece);
}

StepResult OpenAiChatAssembler::finish() {
  if (!m_seen_chunk)
    throw errors::provider_stream_invalid("the stream ended without a completion chunk");
  if (!m_done && m_result.raw_stop_reason.empty())
    throw errors::provider_stream_invalid("the stream ended before the completion finished");
  std::vector<const PartialCall*> ordered(m_calls.size());
  for (const auto& [index, call] : m_calls)
    ordered[call.position] = &call;
  for (const auto* call : ordered) {
    auto id = call->id.empty() ? "call_" + std::to_string(call->position) : call->id;
    if (!call->started)
      notify(m_sink.on_tool_call_start, call->position, id, call->name);
    m_result.tool_calls.push_back(finish_tool_call(std::move(id), call->name, call->arguments));
    notify(m_sink.on_tool_call_end, call->position, m_result.tool_calls.back());
  }
  m_result.provider = m_provider;
  m_result.stop_reason = normalize_stop(m_result.raw_stop_reason, !m_result.tool_calls.empty());
  return std::move(m_result);
}

std::unique_ptr<Provider> make_openai_chat(Endpoint endpoint, ProviderSettings settings) {
  return std::make_unique<OpenAiChatProvider>(std::move(endpoint), std::move(settings));
}

} // namespace hearth::providers

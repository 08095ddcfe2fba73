// Anthropic Messages over SSE: see anthropic_messages.hpp. Event order and quirks (ping, trailing
// spaces in data lines, "" first input_json_delta): fixtures/SOURCES.md.
#include "providers/anthropic_messages.hpp"
#include "core/json.hpp"

#include "core/errors.hpp"
#include "providers/http.hpp"

namespace hearth::providers {
namespace {

Json content_blocks(const Message& m) {
  Json blocks = Json::array();
  if (m.role == Role::tool) {
    Json block = {{"type", "tool_result"}, {"tool_use_id", m.tool_call_id}, {"content", m.text}};
    if (m.is_error)
      block["is_error"] = true;
    blocks.push_back(std::move(block));
    return blocks;
  }
  if (!m.text.empty())
    blocks.push_back({{"type", "text"}, {"text", m.text}});
  for (const auto& c : m.tool_calls)
    blocks.push_back({{"type", "tool_use"},
                      {"id", c.id},
                      {"name", c.name},
                      {"input", c.input.is_object() ? c.input : Json::object()}});
  return blocks;
}

std::string normalize_stop(std::string_view raw, bool has_calls) {
  if (has_calls || raw == "tool_use")
    return "toolUse";
  if (raw == "end_turn" || raw == "stop_sequence" || raw.empty())
    return "stop";
  if (raw == "max_tokens")
    return "length";
  return std::string(raw);
}

class AnthropicProvider final : public StreamProvider {
public:
  using StreamProvider::StreamProvider;

private:
  std::string path() const override { return "/v1/messages"; }
  Json body(const StepRequest& request) const override {
    return anthropic_messages_body(request, endpoint().id);
  }
  void add_headers(Headers& headers) const override {
    if (!headers.count("anthropic-version"))
      headers["anthropic-version"] = "2023-06-01";
    if (!endpoint().key.empty())
      headers["x-api-key"] = endpoint().key;
  }
  std::unique_ptr<StreamAssembler> assembler(const StreamSink& sink) const override {
    return std::make_unique<AnthropicAssembler>(endpoint().id, sink);
  }
};

} // namespace

Json anthropic_messages_body(const StepRequest& request, std::string_view provider_id) {
  Json body = {{"model", request.model},
               {"max_tokens", k_anthropic_default_max_tokens},
               {"stream", true},
               {"messages", Json::array()}};
  if (!request.system.empty())
    body["system"] = request.system;
  auto& messages = body["messages"];
  for (const auto& m : request.messages) {
    const std::string role = m.role == Role::assistant ? "assistant" : "user";
    auto blocks = content_blocks(m);
    if (blocks.empty())
      continue; // the API rejects empty content
    if (!messages.empty() && messages.back()["role"] == role) {
      for (auto& b : blocks)
        messages.back()["content"].push_back(std::move(b));
    } else {
      messages.push_back({{"role", role}, {"content", std::move(blocks)}});
    }
  }
  for (const auto& t : request.tools) {
    Json tool = {{"name", t.name},
                 {"input_schema", t.parameters->is_object() && !t.parameters->empty()
                                      ? *t.parameters
                                      : Json{{"type", "object"}, {"properties", Json::object()}}}};
    if (!t.description.empty())
      tool["description"] = t.description;
    body["tools"].push_back(std::move(tool));
  }
  apply_model_options(body, request.options,
                      {{"maxTokens", "max_tokens"},
                       {"maxOutputTokens", "max_tokens"},
                       {"stopSequences", "stop_sequences"}},
                      {std::string(provider_id), "anthropic"});
  return body;
}

AnthropicAssembler::AnthropicAssembler(std::string provider_id, const StreamSink& sink)
    : StreamAssembler(std::move(provider_id), sink) {}

void AnthropicAssembler::on_event(const SseEvent& event) {
  const auto j = parse_stream_json(event.data);
  const auto type = string_at(j, "type");
  if (type == "error" || event.event == "error") {
    throw errors::provider_stream_error(m_provider, error_body_message(dump_json(j), ""));
  } else if (type == "message_start") {
    m_started = true;
    const auto msg = j.find("message");
    if (msg == j.end() || !msg->is_object())
      return;
    m_result.response_id = string_at(*msg, "id");
    m_result.model = string_at(*msg, "model");
    if (const auto u = msg->find("usage"); u != msg->end())
      read_usage(*u);
  } else if (type == "content_block_start") {
    on_block_start(j);
  } else if (type == "content_block_delta") {
    on_block_delta(j);
  } else if (type == "content_block_stop") {
    if (const auto it = m_blocks.find(int_at(j, "index")); it != m_blocks.end())
      end_block(it->second);
  } else if (type == "message_delta") {
    if (const auto d = j.find("delta"); d != j.end() && d->is_object())
      if (const auto r = string_at(*d, "stop_reason"); !r.empty())
        m_result.raw_stop_reason = r;
    if (const auto u = j.find("usage"); u != j.end())
      read_usage(*u);
  } else if (type == "message_stop") {
    m_stopped = true;
  } // ping and future event types are ignored
}

void AnthropicAssembler::on_block_start(const Json& j) {
  const auto cb = j.find("content_block");
  if (cb == j.end() || !cb->is_object())
    return;
  Block block{
      .type = string_at(*cb, "type"), .id = string_at(*cb, "id"), .name = string_at(*cb, "name")};
  if (block.type == "tool_use") {
    block.start_input = cb->contains("input") ? (*cb)["input"] : Json();
    block.call_position = m_result.tool_calls.size() + [&] {
      std::size_t open = 0; // tool calls started but not yet ended
      for (const auto& [i, b] : m_blocks)
        open += b.type == "tool_use" && !b.ended;
      return open;
    }();
    notify(m_sink.on_tool_call_start, block.call_position, block.id, block.name);
  } else if (block.type == "text" || block.type == "thinking") {
    // A start block may already carry text (non-incremental servers): treat it as a delta.
    const auto t = string_at(*cb, block.type == "text" ? "text" : "thinking");
    if (!t.empty()) {
      (block.type == "text" ? m_result.text : m_result.thinking) += t;
      notify(block.type == "text" ? m_sink.on_text_delta : m_sink.on_thinking_delta, t);
    }
  }
  m_blocks[int_at(j, "index")] = std::move(block);
}

void AnthropicAssembler::on_block_delta(const Json& j) {
  const auto it = m_blocks.find(int_at(j, "index"));
  const auto d = j.find("delta");
  if (it == m_blocks.end() || d == j.end() || !d->is_object())
    return;
  auto& block = it->second;
  const auto type = string_at(*d, "type");
  if (type == "text_delta") {
    const auto t = string_at(*d, "text");
    m_result.text += t;
    if (!t.empty())
      notify(m_sink.on_text_delta, t);
  } else if (type == "thinking_delta") {
    const auto t = string_at(*d, "thinking");
    m_result.thinking += t;
    if (!t.empty())
      notify(m_sink.on_thinking_delta, t);
  } else if (type == "input_json_delta") {
    const auto piece = string_at(*d, "partial_json");
    block.json += piece;
    if (!piece.empty())
      notify(m_sink.on_tool_call_delta, block.call_position, piece);
  }
}

void AnthropicAssembler::end_block(Block& block) {
  if (block.ended || block.type != "tool_use") {
    block.ended = true;
    return;
  }
  block.ended = true;
  auto arguments = block.json;
  if (arguments.empty() && block.start_input.is_object() && !block.start_input.empty())
    arguments = dump_json(block.start_input); // input given whole in content_block_start
  m_result.tool_calls.push_back(finish_tool_call(block.id, block.name, std::move(arguments)));
  notify(m_sink.on_tool_call_end, m_result.tool_calls.size() - 1, m_result.tool_calls.back());
}

void AnthropicAssembler::read_usage(const Json& usage) {
  if (!usage.is_object())
    return;
  auto& u = m_result.usage;
  const auto take = [&](const char* key, std::int64_t& into) {
    if (const auto it = usage.find(key); it != usage.end() && it->is_number())
      into = it->get<std::int64_t>();
  };
  take("input_tokens", u.input);
  take("output_tokens", u.output);
  take("cache_read_input_tokens", u.cache_read);
  take("cache_creation_input_tokens", u.cache_write);
  u.total = u.input + u.output + u.cache_read + u.cache_write;
}

StepResult AnthropicAssembler::finish() {
  if (!m_started)
    throw errors::provider_stream_invalid("the stream ended without message_start");
  if (!m_stopped && m_result.raw_stop_reason.empty())
    throw errors::provider_stream_invalid("the stream ended before message_stop");
  for (auto& [index, block] : m_blocks)
    end_block(block); // a server that skipped block stops
  m_result.provider = m_provider;
  m_result.stop_reason = normalize_stop(m_result.raw_stop_reason, !m_result.tool_calls.empty());
  return std::move(m_result);
}

std::unique_ptr<Provider> make_anthropic_messages(Endpoint endpoint, ProviderSettings settings) {
  return std::make_unique<AnthropicProvider>(std::move(endpoint), std::move(settings));
}

} // namespace hearth::providers

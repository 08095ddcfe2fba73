// The harness's model step: the request (system prompt, tools, the cached view of the history,
// bounded to the window) and its streamed answer as events. See harness_internal.hpp.
#include "runtime/harness_internal.hpp"
#include "core/json.hpp"

#include <algorithm>

namespace hearth::runtime::harness {
namespace {

/// The concatenated text parts of a Flue message's content.
std::string content_text(const json& message) {
  std::string out;
  const auto& content = message.value("content", json::array());
  if (content.is_string()) return content.get<std::string>();
  for (const auto& part : content)
    if (part.value("type", "") == "text") out += part.value("text", "");
  return out;
}

/// One Flue-shaped message as the provider-neutral one; nullopt for what is not sent (markers).
std::optional<providers::Message> to_provider_message(const json& m) {
  const auto role = m.value("role", "");
  if (role == "user") return providers::user_message(content_text(m));
  if (role == "assistant") {
    std::vector<providers::ToolCall> calls;
    for (const auto& part : m.value("content", json::array()))
      if (part.value("type", "") == "toolCall")
        calls.push_back({.id = part.value("id", ""),
                         .name = part.value("name", ""),
                         .arguments = dump_json(part.value("arguments", json::object())),
                         .input = part.value("arguments", json::object())});
    return providers::assistant_message(content_text(m), std::move(calls));
  }
  if (role == "toolResult")
    return providers::tool_result(m.value("toolCallId", ""), content_text(m),
                                  m.value("isError", false), m.value("toolName", ""));
  return std::nullopt;
}

std::size_t provider_chars(const providers::Message& m) {
  std::size_t n = m.text.size();
  for (const auto& c : m.tool_calls) n += c.name.size() + c.arguments.size();
  return n;
}

} // namespace

providers::StepResult TurnRunner::model_step(const json& messages, const Envelope& envelope) {
  sync_view(messages);
  providers::StepRequest request{.model = m_model.model,
                                 .system = m_system,
                                 .options = m_agent.model_options.is_object()
                                                ? m_agent.model_options
                                                : json::object(),
                                 .cancel = m_scope.context.cancel};
  // The cached view is lent to the request (no copy of the history per step) and taken back below.
  const bool has_context = !m_options.client_context.empty() && m_user_sent &&
                           *m_user_sent < m_sent.size();
  const bool over = m_compaction.enabled &&
                    m_sent_chars + m_fixed_chars > budget_chars();
  std::size_t context_at = m_user_sent.value_or(0);
  if (over) { // still above the window after compaction (huge recent turns): a bounded copy
    request.messages = m_sent;
    const auto dropped = bound_request(
        request.messages, budget_chars() > m_fixed_chars ? budget_chars() - m_fixed_chars : 1024,
        m_sent_prefix);
    if (dropped.count > 0 && context_at >= dropped.from) // the user message moved (or went)
      context_at = context_at >= dropped.from + dropped.count ? context_at - dropped.count + 1
                                                             : dropped.from + 1;
  } else {
    request.messages = std::move(m_sent);
  }
  if (has_context) // the ephemeral client context, for this request only
    request.messages.insert(request.messages.begin() +
                                static_cast<std::ptrdiff_t>(std::min(context_at, request.messages.size())),
                            providers::user_message("Client context:\n" + m_options.client_context));
  struct GiveBack { // the tools and the view return to the cache however the step ends
    TurnRunner& self;
    providers::StepRequest& request;
    bool lent, context;
    ~GiveBack() {
      self.m_tool_specs = std::move(request.tools);
      if (!lent) return;
      if (context && *self.m_user_sent < request.messages.size())
        request.messages.erase(request.messages.begin() + static_cast<std::ptrdiff_t>(*self.m_user_sent));
      self.m_sent = std::move(request.messages);
    }
  } give_back{*this, request, !over, has_context};
  request.tools = std::move(m_tool_specs); // lent like the view: no copy of the schemas per step
  // The turn_request's tools as text, each schema as serialized once (prepare_schema) rather than
  // a copy of its DOM per step (issue 17 §3); keys in the order a DOM would write them.
  std::string tools = "[";
  for (const auto& t : request.tools) {
    if (tools.size() > 1) tools += ',';
    tools += R"({"description":)";
    tools += quote_json(t.description);
    tools += R"(,"name":)";
    tools += quote_json(t.name);
    tools += R"(,"parameters":)";
    tools += t.parameters_text ? *t.parameters_text : dump_json(*t.parameters);
    tools += '}';
  }
  tools += ']';
  std::int64_t sent_tokens = estimated_tokens();
  if (over) {
    std::size_t n = m_fixed_chars;
    for (const auto& m : request.messages) {
      n += m.text.size();
      for (const auto& c : m.tool_calls) n += c.name.size() + c.arguments.size();
    }
    sent_tokens = tokens_for_chars(n);
  }
  // {estimatedTokens, messageCount, systemPrompt, tools}, as text beside the event's DOM.
  std::string input = R"({"estimatedTokens":)" + std::to_string(sent_tokens) +
                      R"(,"messageCount":)" + std::to_string(request.messages.size()) +
                      R"(,"systemPrompt":)" + quote_json(request.system) + R"(,"tools":)";
  input += tools;
  input += '}';
  json turn_request = json_member("model", m_model.model);
  turn_request["provider"] = m_model.provider;
  m_scope.events.emit("turn_request", std::move(turn_request), envelope,
                      {{.key = "input", .value = std::move(input), .raw = true}});
  json message = json_member("role", "assistant");
  message["content"] = json::array();
  message["provider"] = m_model.provider;
  message["model"] = m_model.model;
  m_scope.events.emit("message_start", json_member("message", std::move(message)), envelope);
  providers::StreamSink sink;
  sink.on_text_delta = [&](std::string_view delta) {
    m_scope.events.emit("text_delta", json_member("text", delta), envelope);
  };
  sink.on_thinking_delta = [&](std::string_view delta) {
    m_scope.events.emit("thinking_delta", json_member("delta", delta), envelope);
  };
  sink.on_tool_call_start = [&](std::size_t index, std::string_view id, std::string_view name) {
    m_scope.events.emit("message_update",
                        {{"assistantMessageEvent", {{"type", "toolcall_start"}, {"contentIndex", index},
                                                    {"id", id}, {"name", name}}}},
                        envelope);
  };
  sink.on_tool_call_end = [&](std::size_t index, const providers::ToolCall& call) {
    m_scope.events.emit("message_update",
                        {{"assistantMessageEvent",
                          {{"type", "toolcall_end"}, {"contentIndex", index},
                           {"toolCall", {{"id", call.id}, {"name", call.name},
                                         {"arguments", call.input.is_null() ? json::object()
                                                                            : call.input}}}}}},
                        envelope);
  };
  auto& client = m_scope.models.get(m_model.provider, m_agent.mock_script);
  m_scope.events.flush(); // the step's request is committed before it is sent
  auto step = client.step(request, sink);
  if (step.provider.empty()) step.provider = m_model.provider;
  if (step.model.empty()) step.model = m_model.model;
  return step;
}

// the cached view ---------------------------------------------------------------------------------
// The model's view of the history is cached as provider messages (m_sent), extended by the
// messages added since the last step; a marker (a compaction checkpoint or a clear) restarts it
// from that marker's view. A step then costs O(new messages), not O(history) (issue 16 §2).

void TurnRunner::sync_view(const json& messages) {
  const auto n = messages.size();
  if (n < m_seen) { // replaced (a resumed checkpoint): start over
    m_seen = 0;
    m_sent.clear();
    m_sent_chars = 0;
    m_sent_prefix = 0;
    m_user_sent.reset();
    m_view_calls.clear();
  }
  std::optional<std::size_t> marker;
  for (std::size_t i = m_seen; i < n; ++i)
    if (is_marker(messages[i])) marker = i;
  std::size_t from = m_seen;
  if (marker) {
    const auto view = view_at(messages, *marker);
    m_sent.clear();
    m_sent_chars = 0;
    m_user_sent.reset();
    for (const auto& m : view.prefix)
      if (auto converted = to_provider_message(m)) {
        m_sent_chars += provider_chars(*converted);
        m_sent.push_back(std::move(*converted));
      }
    m_sent_prefix = m_sent.size();
    from = view.tail_from;
  }
  if (marker) m_view_calls.clear();
  for (std::size_t i = from; i < n; ++i) {
    if (is_marker(messages[i])) continue;
    if (auto converted = to_provider_message(messages[i])) {
      // A result whose call is not in the view (a clear or compaction landed between a parked
      // call and its result) is not sent: providers refuse a result without its call.
      if (converted->role == providers::Role::tool &&
          !m_view_calls.count(converted->tool_call_id))
        continue;
      for (const auto& call : converted->tool_calls) m_view_calls.insert(call.id);
      if (m_user_index && *m_user_index == i) m_user_sent = m_sent.size();
      m_sent_chars += provider_chars(*converted);
      m_sent.push_back(std::move(*converted));
    }
  }
  m_seen = n;
}

std::int64_t TurnRunner::estimated_tokens() const {
  return tokens_for_chars(m_sent_chars + m_fixed_chars);
}

std::int64_t TurnRunner::window_tokens() const {
  return m_compaction.context_window_tokens > 0 ? m_compaction.context_window_tokens
                                                : context_window(m_model, m_scope.context.env);
}

std::int64_t TurnRunner::trigger_tokens() const {
  return static_cast<std::int64_t>(static_cast<double>(window_tokens()) * m_compaction.threshold_percent);
}

std::size_t TurnRunner::budget_chars() const {
  return static_cast<std::size_t>(window_tokens()) * 4 / 10 * 9;
}

} // namespace hearth::runtime::harness

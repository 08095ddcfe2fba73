// The mock provider: see mock.hpp. Ids are `call_mock_<n>` (n counts from 1 per provider object)
// and usage is estimated as ceil(chars / 4), as eve's mockModel and Pi's faux provider do.
#include "providers/mock.hpp"
#include "core/json.hpp"

#include "core/cancel.hpp"
#include "core/errors.hpp"
#include "providers/schema_sample.hpp"
#include "providers/wire.hpp"

#include <algorithm>
#include <fstream>
#include <mutex>

namespace hearth::providers {
namespace {

std::int64_t estimate_tokens(std::size_t chars) {
  return static_cast<std::int64_t>((chars + 3) / 4);
}

struct ScriptStep {
  std::string text{};
  std::vector<std::pair<std::string, Json>> calls{}; // name, input
  std::chrono::milliseconds delay{0};                 // `delayMs`: held open before answering
};

ScriptStep parse_step(const Json& j, const std::string& where) {
  if (!j.is_object())
    throw errors::mock_script_invalid(where, "a step must be a JSON object");
  ScriptStep step;
  if (j.contains("text")) {
    if (!j["text"].is_string())
      throw errors::mock_script_invalid(where, "\"text\" must be a string");
    step.text = j["text"].get<std::string>();
  }
  if (j.contains("toolCalls")) {
    if (!j["toolCalls"].is_array())
      throw errors::mock_script_invalid(where, "\"toolCalls\" must be an array");
    for (const auto& c : j["toolCalls"]) {
      if (!c.is_object() || !c.contains("name") || !c["name"].is_string())
        throw errors::mock_script_invalid(where, "each tool call needs a string \"name\"");
      step.calls.emplace_back(c["name"].get<std::string>(), c.value("input", Json::object()));
    }
  }
  if (j.contains("result"))
    step.calls.emplace_back(k_finish_tool, j["result"]);
  if (j.contains("delayMs")) {
    const auto& d = j["delayMs"];
    if (!d.is_number_integer() || d.get<long long>() < 0 ||
        d.get<long long>() > k_max_mock_delay_ms)
      throw errors::mock_script_invalid(where, "\"delayMs\" must be an integer from 0 to " +
                                                   std::to_string(k_max_mock_delay_ms));
    step.delay = std::chrono::milliseconds(d.get<long long>());
  }
  if (!j.contains("text") && !j.contains("toolCalls") && !j.contains("result"))
    throw errors::mock_script_invalid(where, "expected \"text\", \"toolCalls\" or \"result\"");
  return step;
}

std::vector<ScriptStep> load_script(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (path.empty() || !in)
    throw errors::mock_script_not_found(path.string());
  std::vector<ScriptStep> steps;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    const auto where = path.string() + ":" + std::to_string(n);
    const auto j = hearth::parse_json_or_discarded(line);
    if (j.is_discarded())
      throw errors::mock_script_invalid(where, "the line is not JSON");
    steps.push_back(parse_step(j, where));
  }
  return steps;
}

std::size_t request_chars(const StepRequest& r) {
  std::size_t n = r.system.size();
  for (const auto& m : r.messages) {
    n += m.text.size();
    for (const auto& c : m.tool_calls)
      n += c.name.size() + c.arguments.size();
  }
  for (const auto& t : r.tools)
    n += t.name.size() + t.description.size() +
         (t.parameters_chars > 0 ? t.parameters_chars : dump_json(*t.parameters).size());
  return n;
}

void stream_text(const std::string& text, const StreamSink& sink, const std::stop_token& cancel) {
  if (text.empty() || !sink.on_text_delta)
    return;
  const std::size_t piece = std::max<std::size_t>(1, (text.size() + 2) / 3); // about 3 deltas
  for (std::size_t i = 0; i < text.size();) {
    if (cancel.stop_requested())
      throw errors::turn_cancelled(); // between chunks, as a real stream would stop
    auto end = std::min(text.size(), i + piece);
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
      ++end;
    sink.on_text_delta(std::string_view(text).substr(i, end - i)); // whole UTF-8 sequences
    i = end;
  }
}

class MockProvider final : public Provider {
public:
  MockProvider(EnvLookup env, std::filesystem::path script)
      : m_env(std::move(env)), m_script_path(std::move(script)) {}

  const std::string& id() const override { return m_id; }

  StepResult step(const StepRequest& request, const StreamSink& sink) override {
    std::lock_guard lock(m_mutex);
    ScriptStep answer;
    if (request.model == "echo")
      answer = echo(request);
    else if (request.model == "script")
      answer = offered_only(request, next_script_step(request));
    else
      throw errors::mock_model_unknown(request.model);
    // A step held open (`delayMs`) is where tests cancel a model stream.
    if (cancel::sleep_for(request.cancel, answer.delay))
      throw errors::turn_cancelled();
    return emit(request, answer, sink);
  }

private:
  static ScriptStep echo(const StepRequest& request) {
    for (const auto& t : request.tools)
      if (t.name == k_finish_tool)
        return {.calls = {{k_finish_tool, schema_sample(*t.parameters)}}};
    for (auto it = request.messages.rbegin(); it != request.messages.rend(); ++it)
      if (it->role == Role::user)
        return {.text = it->text};
    return {.text = ""};
  }

  /// A `result` step where no `finish` tool is offered (a plain chat turn) answers with the
  /// result as JSON text, so one script can serve a workflow and a connect session.
  static ScriptStep offered_only(const StepRequest& request, ScriptStep step) {
    const bool finish_offered = std::any_of(request.tools.begin(), request.tools.end(),
                                            [](const ToolSpec& t) { return t.name == k_finish_tool; });
    if (finish_offered) return step;
    for (auto it = step.calls.begin(); it != step.calls.end();) {
      if (it->first == k_finish_tool) {
        step.text += (step.text.empty() ? "" : "\n") + dump_json(it->second);
        it = step.calls.erase(it);
      } else {
        ++it;
      }
    }
    return step;
  }

  /// The next line: past the lines this client gave and past the assistant steps already in
  /// the history, so a run resumed by a new runtime (a new client) continues its script.
  ScriptStep next_script_step(const StepRequest& request) {
    const auto answered = static_cast<std::size_t>(
        std::count_if(request.messages.begin(), request.messages.end(),
                      [](const Message& m) { return m.role == Role::assistant; }));
    m_cursor = std::max(m_cursor, answered);
    if (!m_script) {
      const auto from_env = m_env ? m_env("HEARTH_MOCK_SCRIPT") : std::nullopt;
      if (from_env && !from_env->empty())
        m_script_path = *from_env;
      m_script = load_script(m_script_path);
    }
    if (m_cursor >= m_script->size())
      throw errors::mock_script_exhausted(m_script_path.string(), m_script->size(), m_cursor + 1);
    return (*m_script)[m_cursor++];
  }

  StepResult emit(const StepRequest& request, const ScriptStep& answer, const StreamSink& sink) {
    StepResult r{.text = answer.text, .provider = m_id, .model = request.model};
    r.response_id = "mock_response_" + std::to_string(++m_steps);
    stream_text(r.text, sink, request.cancel);
    std::size_t out_chars = r.text.size();
    for (const auto& [name, input] : answer.calls) {
      const auto index = r.tool_calls.size();
      auto call = finish_tool_call("call_mock_" + std::to_string(++m_calls), name, dump_json(input));
      notify(sink.on_tool_call_start, index, call.id, call.name);
      notify(sink.on_tool_call_delta, index, call.arguments);
      out_chars += call.name.size() + call.arguments.size();
      r.tool_calls.push_back(std::move(call));
      notify(sink.on_tool_call_end, index, r.tool_calls.back());
    }
    r.stop_reason = r.raw_stop_reason = r.tool_calls.empty() ? "stop" : "toolUse";
    r.usage.input = estimate_tokens(request_chars(request));
    r.usage.output = estimate_tokens(out_chars);
    r.usage.total = r.usage.input + r.usage.output;
    return r;
  }

  const std::string m_id = "mock";
  EnvLookup m_env;
  std::filesystem::path m_script_path;
  std::optional<std::vector<ScriptStep>> m_script{};
  std::size_t m_cursor = 0;
  std::size_t m_steps = 0;
  std::size_t m_calls = 0;
  std::mutex m_mutex{};
};

} // namespace

std::unique_ptr<Provider> make_mock(EnvLookup env, std::filesystem::path script) {
  return std::make_unique<MockProvider>(std::move(env), std::move(script));
}

} // namespace hearth::providers

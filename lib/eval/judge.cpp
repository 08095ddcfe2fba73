// The LLM judge (judge.hpp): a fixed rubric prompt, a `finish` tool for the verdict, and a
// tolerant reading of what the model answered.
#include "eval/judge.hpp"

#include "core/errors.hpp"
#include "core/errors_eval.hpp"
#include "core/json.hpp"

#include <algorithm>
#include <memory>

namespace hearth::eval {
using nlohmann::json;

namespace {

constexpr const char* k_system =
    "You are a strict evaluator of an AI agent's answer. Read the criteria, the user's input and "
    "the agent's output. Decide how well the output meets the criteria, as a score from 0 (not at "
    "all) to 1 (fully). Call the `finish` tool with {\"score\": number, \"reason\": string}; if you "
    "cannot call tools, answer with that JSON object only.";

const std::shared_ptr<const json>& verdict_schema() {
  static const auto schema = std::make_shared<const json>(json{
      {"type", "object"},
      {"properties",
       {{"score", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}},
        {"reason", {{"type", "string"}}}}},
      {"required", json::array({"score", "reason"})}});
  return schema;
}

std::optional<JudgeVerdict> from_object(const json& obj) {
  if (!obj.is_object() || !obj.contains("score") || !obj["score"].is_number()) return std::nullopt;
  JudgeVerdict v;
  v.score = std::clamp(obj["score"].get<double>(), 0.0, 1.0);
  if (obj.contains("reason") && obj["reason"].is_string())
    v.reason = obj["reason"].get<std::string>().substr(0, 2000);
  return v;
}

} // namespace

JudgeVerdict parse_verdict(const providers::StepResult& step) {
  for (const auto& call : step.tool_calls)
    if (call.name == "finish")
      if (auto v = from_object(call.input)) return *v;
  if (auto v = from_object(parse_json_or_discarded(step.text))) return *v;
  // A JSON object inside prose: from the first '{' to the last '}'.
  const auto open = step.text.find('{');
  const auto close = step.text.rfind('}');
  if (open != std::string::npos && close != std::string::npos && close > open)
    if (auto v = from_object(parse_json_or_discarded(step.text.substr(open, close - open + 1))))
      return *v;
  throw errors::eval_judge_failed("the answer holds no {\"score\", \"reason\"}: \"" +
                                  step.text.substr(0, 200) + "\"");
}

Judge make_judge(JudgeConfig config) {
  return [config = std::move(config)](const JudgeRequest& request) {
    const auto model_string = request.model.empty() ? config.default_model : request.model;
    if (model_string.empty())
      throw errors::eval_judge_failed("no model: set the agent's model or the check's \"model\"");
    const auto ref = providers::parse_model(model_string);
    providers::ProviderSettings settings;
    settings.mock_script = config.mock_script;
    auto provider = providers::make_provider(ref.provider, config.providers,
                                             config.env ? config.env : providers::process_env(),
                                             settings);
    providers::StepRequest step;
    step.model = ref.model;
    step.system = k_system;
    std::string prompt = "Criteria:\n" + request.criteria + "\n\n";
    if (!request.input.empty()) prompt += "User input:\n" + request.input.substr(0, 64u << 10) + "\n\n";
    prompt += "Agent output:\n" + request.output.substr(0, 256u << 10);
    step.messages.push_back(providers::user_message(std::move(prompt)));
    step.tools.push_back({.name = "finish",
                          .description = "Report the verdict: score 0..1 and a one-sentence reason.",
                          .parameters = verdict_schema()});
    auto verdict = parse_verdict(provider->step(step, {}));
    verdict.model = model_string;
    return verdict;
  };
}

} // namespace hearth::eval

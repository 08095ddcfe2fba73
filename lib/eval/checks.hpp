// What an eval observed of one agent session or workflow run, and the checks over it
// (docs/evals.md "Checks"). Pure functions: unit-tested without a server.
#pragma once

#include "eval/eval.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace hearth::eval {

/// Bounds on what is kept of a target's answers.
inline constexpr std::size_t k_max_output_bytes = 1u << 20; // the output text
inline constexpr std::size_t k_max_tool_calls = 1000;       // tool calls recorded per eval

/// One tool call the agent made.
struct ToolCallSeen {
  std::string name{};
  nlohmann::json input{};
};

/// What the target did for one eval (all turns of an agent session, or one workflow run).
struct Observation {
  std::string text{};          // the last assistant message (agent) or the result as text (workflow)
  nlohmann::json data{};       // the structured result (outputSchema / workflow result), or null
  std::vector<ToolCallSeen> tool_calls{};
  std::int64_t steps = 0;      // model steps
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  double latency_ms = 0;       // wall time of the requests, as the runner saw it
  std::string last_input{};    // the last user message sent (the judge sees it)

  /// {text, data?, toolCalls: [{name, input}], steps, tokens: {input, output}, latencyMs}.
  nlohmann::json to_json() const;
};

/// The outcome of one check.
struct CheckResult {
  std::string name{};
  std::string kind{};
  bool passed = false;
  double score = 0;    // 0..1
  bool soft = false;
  double threshold = 1.0;
  std::string message{}; // why it failed, or what was measured

  /// {name, kind, passed, score, soft, threshold, message}.
  nlohmann::json to_json() const;
};

/// An LLM judge: scores `output` (answer to `input`) against `criteria` with `model` (empty: the
/// agent's). Returns {score 0..1, reason}. Throws hearth::Error (eval_judge_failed, provider_*).
struct JudgeRequest {
  std::string criteria{};
  std::string input{};
  std::string output{};
  std::string model{};
};
struct JudgeVerdict {
  double score = 0;
  std::string reason{};
  std::string model{};
};
using Judge = std::function<JudgeVerdict(const JudgeRequest&)>;

/// Evaluates `check` over `seen`. A gate passes or fails; a soft check passes when its score is at
/// or above its threshold. `judge` is needed for `judge` checks (a missing one fails the check).
/// Never throws for input shapes; a judge's hearth::Error propagates (the eval errors).
CheckResult evaluate(const Check& check, const Observation& seen, const Judge& judge = {});

/// True when `actual` contains `expected` partially: objects by key (recursively, iteratively),
/// arrays element by element with the same length, scalars by equality.
bool json_contains(const nlohmann::json& actual, const nlohmann::json& expected);

/// "" when `pattern` compiles as a POSIX extended regular expression (`icase`: case-insensitive),
/// else why not.
std::string regex_problem(const std::string& pattern, bool icase);

/// True when POSIX extended regex `pattern` matches somewhere in `text`. glibc's matcher does not
/// recurse over the input, so a long output cannot overflow the stack. False on a bad pattern.
bool regex_search(const std::string& pattern, bool icase, const std::string& text);

} // namespace hearth::eval

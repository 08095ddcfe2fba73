// The LLM judge of evals (docs/evals.md "LLM judge"): one model step through the project's own
// providers (hearth.json `providers`, the agent's model by default) that scores an output against
// criteria by calling a `finish` tool with {score, reason}.
#pragma once

#include "eval/checks.hpp"
#include "providers/provider.hpp"

#include <filesystem>
#include <map>
#include <string>

namespace hearth::eval {

/// Where the judge's model comes from.
struct JudgeConfig {
  std::string default_model{}; // the root agent's model (compiled manifest), else hearth.json's
  std::map<std::string, providers::ProviderConfig> providers{};
  providers::EnvLookup env{};
  std::filesystem::path mock_script{}; // mock/script's script (the agent's mock.jsonl)
};

/// A judge over `config`. Each call builds its provider (thread-safe across evals). Throws
/// errors::eval_judge_failed when no model is known or the answer has no score, and the
/// provider catalogue's errors (missing key, HTTP failures) as they are.
Judge make_judge(JudgeConfig config);

/// The verdict in a judge's step: a `finish` call's {score, reason}, else a JSON object with a
/// numeric `score` in the text. Scores are clamped to 0..1. Throws errors::eval_judge_failed.
JudgeVerdict parse_verdict(const providers::StepResult& step);

} // namespace hearth::eval

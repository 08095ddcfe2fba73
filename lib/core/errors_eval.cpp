// The error catalogue's entries for `hearth eval` (declared in core/errors_eval.hpp; lib/eval,
// docs/evals.md).
#include "core/errors_eval.hpp"

namespace hearth::errors {

// --- evals (lib/eval, `hearth eval`, docs/evals.md; issue 16 §4) -------------------------------

Error eval_config(std::string_view type, std::string_view message, std::string_view hint) {
  return Error({.type = std::string(type),
                .message = std::string(message),
                .details = std::string(hint),
                .http_status = 400,
                .exit_code = ExitCode::run_failed}); // Eve: 2 = configuration error
}

Error eval_invalid(std::string_view path, std::string_view problem) {
  return Error({.type = "eval_invalid",
                .message = std::string(path.substr(0, 500)) + ": " +
                           std::string(problem.substr(0, 1000)),
                .details = "Fix the eval file (docs/evals.md describes its format).",
                .http_status = 400});
}

Error eval_timeout(std::string_view id, long long ms) {
  return Error({.type = "eval_timeout",
                .message = "Eval \"" + std::string(id.substr(0, 200)) + "\" ran past its timeout of " +
                           std::to_string(ms) + " ms.",
                .details = "Raise --timeout (or the eval's timeoutMs), or make the agent faster.",
                .http_status = 504});
}

Error eval_target_failed(std::string_view id, std::string_view what) {
  return Error({.type = "eval_target_failed",
                .message = "Eval \"" + std::string(id.substr(0, 200)) + "\": " +
                           std::string(what.substr(0, 2000)),
                .details = "Check the target's logs (hearth logs, or the server's stderr).",
                .http_status = 502});
}

Error eval_script_failed(std::string_view id, std::string_view what, std::string_view details) {
  return Error({.type = "eval_script_failed",
                .message = "Eval \"" + std::string(id.substr(0, 200)) + "\" failed: " +
                           std::string(what.substr(0, 2000)),
                .details = std::string(details.substr(0, 4000)),
                .http_status = 500});
}

Error eval_judge_failed(std::string_view problem) {
  return Error({.type = "eval_judge_failed",
                .message = "The LLM judge gave no score: " + std::string(problem.substr(0, 1000)),
                .details = "The judge must call `finish` with {score, reason} or answer that JSON; "
                           "check the judge's model (docs/evals.md \"LLM judge\").",
                .http_status = 502});
}

} // namespace hearth::errors

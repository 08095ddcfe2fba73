// The error catalogue's entries for `hearth eval` (lib/eval, docs/evals.md; issue 16 §4). Part of
// core/errors (defined in errors_eval.cpp), declared apart so that adding them does not rebuild
// every file that includes core/errors.hpp.
#pragma once

#include "core/error.hpp"

#include <string_view>

namespace hearth::errors {

/// A configuration error of `hearth eval` (Eve's exit code 2): no evals discovered, none matching
/// the filters, an invalid flag value. `type` is eval_no_evals, eval_no_match or invalid_flag.
Error eval_config(std::string_view type, std::string_view message, std::string_view hint);

/// An eval file that cannot be used (`path`: too large, bad JSON or frontmatter, an unknown
/// check, a regex over its bound): that eval errors, the others still run. Type `eval_invalid`.
Error eval_invalid(std::string_view path, std::string_view problem);

/// Eval `id` ran past its `--timeout` of `ms` milliseconds. Type `eval_timeout`.
Error eval_timeout(std::string_view id, long long ms);

/// The target failed eval `id`'s request (`what`: an HTTP status and the server's message, a
/// failed turn or run, a connection error). Type `eval_target_failed`.
Error eval_target_failed(std::string_view id, std::string_view what);

/// Executable eval `id` failed (`what`: its error reply, its exit status, a protocol error;
/// `details`: its stderr tail or traceback). Type `eval_script_failed`.
Error eval_script_failed(std::string_view id, std::string_view what, std::string_view details);

/// The LLM judge could not give a score (`problem`: the provider's error, an answer with no
/// score). Type `eval_judge_failed`.
Error eval_judge_failed(std::string_view problem);

} // namespace hearth::errors

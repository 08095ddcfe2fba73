// Running evals (docs/evals.md "Running"): each eval against the target with its timeout, at most
// `max_concurrency` at once, and the pass/fail/error decision (Eve's gate and soft semantics).
#pragma once

#include "eval/checks.hpp"
#include "eval/eval.hpp"
#include "eval/target.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace hearth::eval {

/// Default per-eval timeout when neither --timeout nor the eval's `timeoutMs` is given.
inline constexpr long long k_default_timeout_ms = 120'000;
/// Log lines kept per eval (JSON, JUnit system-out); more are counted, not kept.
inline constexpr std::size_t k_max_log_lines = 2000;

enum class Status { passed, failed, errored };

/// "passed", "failed" or "errored".
std::string to_string(Status status);

struct EvalResult {
  std::string id{};
  std::string relative{};
  Kind kind = Kind::agent;
  std::vector<std::string> tags{};
  Status status = Status::errored;
  double score = 0;            // mean of the check scores (1 with no checks)
  bool below_threshold = false; // a soft check (or a script's score) missed its threshold
  std::vector<CheckResult> checks{};
  std::optional<ErrorInfo> error{}; // why it errored
  Observation seen{};
  double duration_ms = 0;
  std::vector<std::string> logs{};
  std::size_t dropped_logs = 0;

  /// The JSON report entry (docs/evals.md "--json").
  nlohmann::json to_json() const;
};

struct RunOptions {
  TargetConfig target{};
  std::optional<long long> timeout_ms{}; // --timeout; 0 means no limit
  std::size_t max_concurrency = 8;
  bool strict = false;
  Judge judge{};
  std::filesystem::path project_root{}; // scripts run here
  std::string root_agent{};             // the agent Eve sessions serve ("" when unknown)
  /// Called for each log line of an eval as it happens (--verbose), from worker threads.
  std::function<void(const std::string& id, const std::string& line)> on_log{};
  /// Called once per eval when it ends, from worker threads (a progress line).
  std::function<void(const EvalResult& result)> on_done{};
};

/// Runs every eval of `evals` (in parallel, bounded) and returns their results in the same order.
/// Never throws for an eval's failure: that eval's result is `errored` with the error.
std::vector<EvalResult> run_all(const std::vector<Eval>& evals, const RunOptions& options);

/// Runs one eval. Never throws hearth::Error (the result is errored instead).
EvalResult run_one(const Eval& eval, const RunOptions& options);

/// Sets `result.status`, `score` and `below_threshold` from its checks (unless errored): failed
/// when a gate check failed, or with `strict` when a soft check missed its threshold.
void decide(EvalResult& result, bool strict);

/// Runs executable eval `eval` over the ctx protocol (docs/evals.md "Executable evals"), adding
/// its checks, observation and logs to `result`. Throws hearth::Error (eval_timeout,
/// eval_script_failed, spawn_failed) for the runner to record.
void run_script(const Eval& eval, const RunOptions& options, Clock::time_point deadline,
                long long timeout_ms, EvalResult& result, const LogSink& log);

} // namespace hearth::eval

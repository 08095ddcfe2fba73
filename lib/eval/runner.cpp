// Running evals (runner.hpp): a bounded worker pool over the eval list; per eval a deadline, the
// target calls, the checks, and the decision.
#include "eval/runner.hpp"

#include "core/errors.hpp"
#include "core/errors_eval.hpp"

#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>

namespace hearth::eval {
using nlohmann::json;

std::string to_string(Status status) {
  switch (status) {
  case Status::passed: return "passed";
  case Status::failed: return "failed";
  case Status::errored: return "errored";
  }
  return "errored";
}

json EvalResult::to_json() const {
  json checks_json = json::array();
  for (const auto& c : checks) checks_json.push_back(c.to_json());
  json out = {{"id", id},
              {"path", relative},
              {"kind", eval::to_string(kind)},
              {"tags", tags},
              {"status", eval::to_string(status)},
              {"score", score},
              {"belowThreshold", below_threshold},
              {"durationMs", std::llround(duration_ms)},
              {"checks", checks_json},
              {"output", seen.to_json()},
              {"logs", logs}};
  if (dropped_logs > 0) out["droppedLogs"] = dropped_logs;
  if (error) {
    out["error"] = {{"type", error->type}, {"message", error->message}};
    if (!error->details.empty()) out["error"]["details"] = error->details;
  }
  return out;
}

void decide(EvalResult& result, bool strict) {
  double total = 0;
  bool gate_failed = false;
  result.below_threshold = false;
  for (const auto& c : result.checks) {
    total += c.score;
    if (c.soft && !c.passed) result.below_threshold = true;
    if (!c.soft && !c.passed) gate_failed = true;
  }
  result.score = result.checks.empty() ? (result.error ? 0.0 : 1.0)
                                       : total / static_cast<double>(result.checks.size());
  if (result.error) {
    result.status = Status::errored;
    return;
  }
  result.status = gate_failed || (strict && result.below_threshold) ? Status::failed : Status::passed;
}

EvalResult run_one(const Eval& eval, const RunOptions& options) {
  EvalResult result{.id = eval.id, .relative = eval.relative, .kind = eval.kind, .tags = eval.tags};
  std::mutex log_mutex;
  const LogSink log = [&](const std::string& line) {
    std::lock_guard lock(log_mutex);
    if (result.logs.size() < k_max_log_lines) result.logs.push_back(line);
    else ++result.dropped_logs;
    if (options.on_log) options.on_log(eval.id, line);
  };
  const auto started = Clock::now();
  // --timeout wins over the eval's timeoutMs; 0 means no limit.
  const long long timeout_ms = options.timeout_ms.value_or(eval.timeout_ms.value_or(k_default_timeout_ms));
  const auto deadline = timeout_ms > 0 ? started + std::chrono::milliseconds(timeout_ms)
                                       : Clock::time_point::max();
  try {
    if (eval.invalid) throw *eval.invalid;
    if (eval.kind == Kind::agent) {
      AgentSession session(options.target, eval.id, log);
      for (std::size_t i = 0; i < eval.messages.size(); ++i) {
        const auto steps = result.seen.steps;
        const auto calls = result.seen.tool_calls.size();
        const bool last = i + 1 == eval.messages.size();
        session.prompt(eval.messages[i], last ? eval.output_schema : json(), result.seen, deadline);
        log("turn: " + std::to_string(result.seen.steps - steps) + " step(s), " +
            std::to_string(result.seen.tool_calls.size() - calls) + " tool call(s)");
      }
    } else if (eval.kind == Kind::workflow) {
      run_workflow(options.target, eval.id, eval.workflow, eval.payload, result.seen, deadline, log);
    } else {
      run_script(eval, options, deadline, timeout_ms, result, log);
    }
    for (const auto& check : eval.checks) {
      auto r = evaluate(check, result.seen, options.judge);
      log(std::string(r.passed ? "ok   " : "FAIL ") + r.name + ": " + r.message);
      result.checks.push_back(std::move(r));
    }
  } catch (const Error& e) {
    result.error = e.info();
    log("error: " + e.info().message);
  } catch (const std::exception& e) {
    result.error = errors::internal_error(e.what()).info();
    log(std::string("error: ") + e.what());
  }
  result.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  decide(result, options.strict);
  return result;
}

std::vector<EvalResult> run_all(const std::vector<Eval>& evals, const RunOptions& options) {
  std::vector<EvalResult> results(evals.size());
  std::atomic<std::size_t> next{0};
  const auto worker = [&] {
    for (auto i = next++; i < evals.size(); i = next++) {
      results[i] = run_one(evals[i], options);
      if (options.on_done) options.on_done(results[i]);
    }
  };
  const auto workers = std::max<std::size_t>(1, std::min(options.max_concurrency, evals.size()));
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < workers; ++i) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  return results;
}

} // namespace hearth::eval

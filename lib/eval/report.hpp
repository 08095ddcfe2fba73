// Reports of an eval run (docs/evals.md "Output"): the terminal table, the --json document and
// JUnit XML for CI.
#pragma once

#include "eval/runner.hpp"

#include <string>
#include <vector>

namespace hearth::eval {

/// Counts over a run.
struct Summary {
  std::size_t total = 0, passed = 0, failed = 0, errored = 0, below_threshold = 0;
  double duration_ms = 0;
};

Summary summarize(const std::vector<EvalResult>& results, double duration_ms);

/// The process exit code for `results` (Eve): 0 all passed, 1 any failed or errored.
int exit_code_for(const std::vector<EvalResult>& results);

/// The terminal table: one line per eval (status, id, score, time, first problem), then a
/// summary line. `color` adds ANSI colours.
std::string render_table(const std::vector<EvalResult>& results, const Summary& summary, bool strict,
                         bool color);

/// The --json document: {ok, strict, target, summary: {...}, evals: [EvalResult::to_json]}.
nlohmann::json render_json(const std::vector<EvalResult>& results, const Summary& summary,
                           bool strict, const std::string& target);

/// JUnit XML: <testsuites> with one <testsuite name="hearth eval"> of one <testcase> per eval
/// (classname "evals.<dir>", name the eval id, time in seconds); a failed eval has <failure>, an
/// errored one <error>; logs go to <system-out>. Text and attributes are escaped, characters XML
/// forbids are replaced, invalid UTF-8 is repaired.
std::string render_junit(const std::vector<EvalResult>& results, const Summary& summary,
                         const std::string& timestamp);

/// `text` safe inside an XML attribute or element (escapes & < > " ', replaces control
/// characters other than tab, newline and carriage return with U+FFFD, repairs UTF-8).
std::string xml_escape(std::string_view text);

} // namespace hearth::eval

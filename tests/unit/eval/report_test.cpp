// Eval reports (lib/eval/report.cpp) and the pass/fail decision (lib/eval/runner.cpp).
#include "eval/report.hpp"

#include <doctest/doctest.h>

using namespace hearth::eval;

namespace {
EvalResult result(const std::string& id, std::vector<CheckResult> checks) {
  EvalResult r{.id = id, .relative = "evals/" + id + ".eval.json"};
  r.checks = std::move(checks);
  r.duration_ms = 1234.0;
  return r;
}
CheckResult gate(bool passed) { return {.name = "contains \"x\"", .kind = "contains", .passed = passed, .score = passed ? 1.0 : 0.0, .message = passed ? "ok" : "\"x\" not found"}; }
CheckResult soft(double score) {
  return {.name = "judge", .kind = "judge", .passed = score >= 0.5, .score = score, .soft = true, .threshold = 0.5, .message = "meh"};
}
} // namespace

TEST_SUITE("eval") {

TEST_CASE("gate checks fail an eval; soft ones only under --strict") {
  auto r = result("a", {gate(true), soft(0.2)});
  decide(r, false);
  CHECK(r.status == Status::passed);
  CHECK(r.below_threshold);
  CHECK(r.score == doctest::Approx(0.6));
  decide(r, true);
  CHECK(r.status == Status::failed);
  auto f = result("b", {gate(false)});
  decide(f, false);
  CHECK(f.status == Status::failed);
  auto e = result("c", {});
  e.error = hearth::ErrorInfo{.type = "eval_timeout", .message = "too slow"};
  decide(e, false);
  CHECK(e.status == Status::errored);
  CHECK(exit_code_for({r}) == 1);
  decide(r, false);
  CHECK(exit_code_for({r}) == 0);
}

TEST_CASE("xml_escape escapes markup and replaces what XML forbids") {
  CHECK(xml_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&apos;");
  CHECK(xml_escape(std::string("x\x01y\tz\n", 6)) == "x\xEF\xBF\xBDy\tz\n");
  CHECK(xml_escape("\xEF\xBF\xBF") == "\xEF\xBF\xBD");
  CHECK(xml_escape("\xff") == "\xEF\xBF\xBD"); // invalid UTF-8 repaired
}

TEST_CASE("JUnit XML counts tests, failures and errors and escapes messages") {
  auto pass = result("greeting", {gate(true)});
  auto fail = result("weather/tool", {gate(false)});
  auto err = result("broken", {});
  err.error = hearth::ErrorInfo{.type = "eval_invalid", .message = "evals/broken.eval.json: <bad> & \"worse\""};
  err.logs = {"error: \x02 boom"};
  for (auto* r : {&pass, &fail, &err}) decide(*r, false);
  const std::vector<EvalResult> all = {pass, fail, err};
  const auto xml = render_junit(all, summarize(all, 2000), "2026-12-01T02:00:00");
  CHECK(xml.find("<testsuites name=\"hearth eval\" tests=\"3\" failures=\"1\" errors=\"1\" skipped=\"0\" time=\"2.000\">") != std::string::npos);
  CHECK(xml.find("<testcase name=\"weather/tool\" classname=\"evals.weather\"") != std::string::npos);
  CHECK(xml.find("<failure message=\"contains &quot;x&quot;: &quot;x&quot; not found\" type=\"check\">") != std::string::npos);
  CHECK(xml.find("<error message=\"evals/broken.eval.json: &lt;bad&gt; &amp; &quot;worse&quot;\" type=\"eval_invalid\">") != std::string::npos);
  CHECK(xml.find("<testcase name=\"greeting\" classname=\"evals\" file=\"evals/greeting.eval.json\" time=\"1.234\"/>") != std::string::npos);
  CHECK(xml.find('\x02') == std::string::npos);
}

TEST_CASE("the JSON report and the table carry every eval and the counts") {
  auto pass = result("greeting", {gate(true), soft(0.1)});
  decide(pass, false);
  const std::vector<EvalResult> all = {pass};
  const auto s = summarize(all, 10);
  const auto doc = render_json(all, s, false, "http://127.0.0.1:1");
  CHECK(doc["ok"] == true);
  CHECK(doc["summary"]["belowThreshold"] == 1);
  CHECK(doc["evals"][0]["checks"].size() == 2);
  CHECK(doc["evals"][0]["status"] == "passed");
  const auto table = render_table(all, s, false, false);
  CHECK(table.find("PASS") != std::string::npos);
  CHECK(table.find("1 eval: 1 passed, 0 failed, 0 errored, 1 below threshold (not failing without --strict)") != std::string::npos);
}

} // TEST_SUITE

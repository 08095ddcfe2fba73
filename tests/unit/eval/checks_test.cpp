// Check evaluation (lib/eval/checks.cpp) and Eve/Flue event reading (lib/eval/target.cpp).
#include "eval/checks.hpp"
#include "eval/judge.hpp"
#include "eval/target.hpp"

#include "core/error.hpp"

#include <doctest/doctest.h>

using hearth::eval::Check;
using hearth::eval::evaluate;
using hearth::eval::Observation;
using nlohmann::json;

namespace {
Check check_of(const json& c) { return hearth::eval::parse_checks(json::array({c}), "t.eval.json").at(0); }

Observation weather() {
  Observation seen;
  seen.text = "It is 72°F and sunny in San Francisco.";
  seen.tool_calls = {{"load_skill", {{"name", "get-weather"}}},
                     {"get_weather", {{"city", "San Francisco"}, {"units", {{"temp", "F"}}}}}};
  seen.steps = 3;
  seen.input_tokens = 100;
  seen.output_tokens = 20;
  seen.latency_ms = 250;
  return seen;
}
} // namespace

TEST_SUITE("eval") {

TEST_CASE("text checks: contains, notContains, matches") {
  const auto seen = weather();
  CHECK(evaluate(check_of({{"contains", "sunny"}}), seen).passed);
  CHECK_FALSE(evaluate(check_of({{"contains", "SUNNY"}}), seen).passed);
  CHECK(evaluate(check_of({{"contains", "SUNNY"}, {"ignoreCase", true}}), seen).passed);
  const auto partial = evaluate(check_of({{"contains", {"sunny", "snow", "rain", "72"}}}), seen);
  CHECK_FALSE(partial.passed);
  CHECK(partial.score == doctest::Approx(0.5));
  CHECK(partial.message.find("\"snow\" not found") == 0);
  CHECK(evaluate(check_of({{"contains", {"sunny", "snow"}}, {"soft", true}, {"threshold", 0.5}}), seen).passed);
  CHECK_FALSE(evaluate(check_of({{"notContains", "sunny"}}), seen).passed);
  CHECK(evaluate(check_of({{"notContains", "error"}}), seen).passed);
  CHECK(evaluate(check_of({{"matches", "[0-9]+°F"}}), seen).passed);
  CHECK(evaluate(check_of({{"matches", "^it is"}, {"flags", "i"}}), seen).passed);
  CHECK_FALSE(evaluate(check_of({{"matches", "^sunny"}}), seen).passed);
}

TEST_CASE("a long output cannot overflow the regex matcher") {
  Observation seen;
  seen.text = std::string(200000, 'a') + "b";
  CHECK(evaluate(check_of({{"matches", "(a|aa)*b$"}}), seen).passed);
}

TEST_CASE("structured checks: equals and schema over data, or the text as JSON") {
  Observation seen;
  seen.data = {{"greeting", "Hello"}, {"n", 2}};
  CHECK(evaluate(check_of({{"equals", {{"greeting", "Hello"}, {"n", 2.0}}}}), seen).passed);
  CHECK(evaluate(check_of({{"equals", "Hello"}, {"path", "/greeting"}}), seen).passed);
  CHECK_FALSE(evaluate(check_of({{"equals", "Bye"}, {"path", "/greeting"}}), seen).passed);
  CHECK_FALSE(evaluate(check_of({{"equals", "x"}, {"path", "/missing"}}), seen).passed);
  const json schema = {{"type", "object"}, {"required", {"greeting"}},
                       {"properties", {{"greeting", {{"type", "string"}}}}}};
  CHECK(evaluate(check_of({{"schema", schema}}), seen).passed);
  seen.data = json();
  seen.text = R"({"greeting": 5})";
  const auto r = evaluate(check_of({{"schema", schema}}), seen);
  CHECK_FALSE(r.passed);
  CHECK(r.message.find("/greeting") != std::string::npos);
  seen.text = "plain words";
  CHECK_FALSE(evaluate(check_of({{"schema", schema}}), seen).passed);
}

TEST_CASE("tool checks match names, partial arguments and argument regexes") {
  const auto seen = weather();
  CHECK(evaluate(check_of({{"toolCalled", "get_weather"}}), seen).passed);
  CHECK(evaluate(check_of({{"toolCalled", "get_weather"}, {"args", {{"units", {{"temp", "F"}}}}}}), seen).passed);
  CHECK_FALSE(evaluate(check_of({{"toolCalled", "get_weather"}, {"args", {{"city", "Paris"}}}}), seen).passed);
  CHECK(evaluate(check_of({{"toolCalled", "get_weather"}, {"argsMatch", "francisco"}, {"ignoreCase", true}}), seen).passed);
  const auto missing = evaluate(check_of({{"toolCalled", "bash"}}), seen);
  CHECK_FALSE(missing.passed);
  CHECK(missing.message.find("(called: load_skill get_weather)") != std::string::npos);
  CHECK(evaluate(check_of({{"toolNotCalled", "bash"}}), seen).passed);
  CHECK_FALSE(evaluate(check_of({{"toolNotCalled", "load_skill"}}), seen).passed);
}

TEST_CASE("budget checks: steps, tokens, latency") {
  const auto seen = weather();
  CHECK(evaluate(check_of({{"maxSteps", 3}}), seen).passed);
  CHECK_FALSE(evaluate(check_of({{"maxSteps", 2}}), seen).passed);
  CHECK(evaluate(check_of({{"maxTokens", 120}}), seen).passed);
  CHECK_FALSE(evaluate(check_of({{"maxTokens", 119}}), seen).passed);
  CHECK_FALSE(evaluate(check_of({{"maxLatencyMs", 100}}), seen).passed);
  CHECK(evaluate(check_of({{"maxLatencyMs", 100}, {"soft", true}, {"threshold", 0}}), seen).passed);
}

TEST_CASE("judge checks are soft by default and score through the judge") {
  const auto seen = weather();
  const auto c = check_of({{"judge", "Mentions the temperature"}});
  CHECK(c.soft);
  CHECK(c.threshold == doctest::Approx(0.5));
  std::string asked;
  const hearth::eval::Judge judge = [&](const hearth::eval::JudgeRequest& r) {
    asked = r.output;
    return hearth::eval::JudgeVerdict{.score = 0.25, .reason = "vague", .model = "mock/echo"};
  };
  const auto r = evaluate(c, seen, judge);
  CHECK(asked == seen.text);
  CHECK(r.score == doctest::Approx(0.25));
  CHECK_FALSE(r.passed);
  CHECK_FALSE(evaluate(c, seen).passed); // no judge
}

TEST_CASE("json_contains is partial on objects, exact on arrays, and iterative") {
  using hearth::eval::json_contains;
  CHECK(json_contains({{"a", 1}, {"b", {{"c", 2}, {"d", 3}}}}, {{"b", {{"c", 2}}}}));
  CHECK_FALSE(json_contains({{"a", {1, 2}}}, {{"a", {1}}}));
  CHECK(json_contains(json::array({1, 2}), json::array({1, 2})));
  json deep = 1;
  for (int i = 0; i < 600; ++i) { // deeper than the parser's limit; compared without recursion
    json outer = json::array();
    outer.push_back(std::move(deep));
    deep = std::move(outer);
  }
  CHECK(json_contains(deep, deep));
}

TEST_CASE("Eve events fill an observation; the turn ends on session.waiting or a failure") {
  Observation seen;
  std::string failure;
  const auto feed = [&](const json& e) { return hearth::eval::feed_eve_event(e, seen, failure); };
  CHECK_FALSE(feed({{"type", "step.started"}, {"data", json::object()}}));
  CHECK_FALSE(feed({{"type", "actions.requested"},
                    {"data", {{"actions", {{{"kind", "tool-call"}, {"toolName", "get_weather"},
                                            {"input", {{"city", "Paris"}}}},
                                           {{"kind", "load-skill"}, {"input", {{"name", "w"}}}}}}}}}));
  CHECK_FALSE(feed({{"type", "step.completed"},
                    {"data", {{"usage", {{"inputTokens", 10}, {"outputTokens", 5}}}}}}));
  CHECK_FALSE(feed({{"type", "message.completed"}, {"data", {{"message", "Sunny"}}}}));
  CHECK_FALSE(feed({{"type", "result.completed"}, {"data", {{"result", {{"ok", true}}}}}}));
  CHECK(feed({{"type", "session.waiting"}, {"data", json::object()}}));
  CHECK(failure.empty());
  CHECK(seen.steps == 1);
  CHECK(seen.input_tokens == 10);
  CHECK(seen.text == "Sunny");
  CHECK(seen.data == json{{"ok", true}});
  REQUIRE(seen.tool_calls.size() == 2);
  CHECK(seen.tool_calls[1].name == "load_skill");
  CHECK(feed({{"type", "turn.failed"}, {"data", {{"code", "MODEL_ERROR"}, {"message", "boom"}}}}));
  CHECK(failure.find("MODEL_ERROR: boom") != std::string::npos);
  failure.clear();
  CHECK(feed({{"type", "turn.waiting"}, {"data", {{"on", "input"}}}}));
  CHECK_FALSE(failure.empty());
  CHECK_FALSE(feed(json("garbage")));
}

TEST_CASE("Flue run events fill steps, tokens and tool calls (finish is no tool call)") {
  Observation seen;
  hearth::eval::feed_flue_event({{"type", "turn_request"}}, seen);
  hearth::eval::feed_flue_event({{"type", "tool_start"}, {"toolName", "get_weather"}, {"args", {{"city", "SF"}}}}, seen);
  hearth::eval::feed_flue_event({{"type", "tool_start"}, {"toolName", "finish"}}, seen);
  hearth::eval::feed_flue_event({{"type", "turn"}, {"usage", {{"input", 7}, {"output", 3}}}}, seen);
  CHECK(seen.steps == 1);
  CHECK(seen.input_tokens + seen.output_tokens == 10);
  REQUIRE(seen.tool_calls.size() == 1);
  CHECK(seen.tool_calls[0].input == json{{"city", "SF"}});
}

TEST_CASE("the judge's verdict comes from a finish call or JSON in the text") {
  hearth::providers::StepResult step;
  step.tool_calls.push_back({.id = "c", .name = "finish", .input = {{"score", 0.8}, {"reason", "good"}}});
  CHECK(hearth::eval::parse_verdict(step).score == doctest::Approx(0.8));
  step.tool_calls.clear();
  step.text = "Verdict: {\"score\": 7, \"reason\": \"ok\"} done";
  CHECK(hearth::eval::parse_verdict(step).score == doctest::Approx(1.0)); // clamped
  step.text = "I think it is fine.";
  CHECK_THROWS_AS(hearth::eval::parse_verdict(step), hearth::Error);
}

TEST_CASE("target URLs must be http(s) without query or fragment") {
  CHECK(hearth::eval::url_problem("http://127.0.0.1:3583").empty());
  CHECK(hearth::eval::url_problem("https://agents.example.com/base/").empty());
  CHECK_FALSE(hearth::eval::url_problem("ftp://x").empty());
  CHECK_FALSE(hearth::eval::url_problem("http://").empty());
  CHECK_FALSE(hearth::eval::url_problem("http://x/?a=1").empty());
}

} // TEST_SUITE

// runtime/policy: the policy pipeline before every tool call (seed 001 "Policy and approvals").
#include "runtime/policy.hpp"
#include "runtime/definitions.hpp"

#include "core/error.hpp"

#include <doctest/doctest.h>

using namespace hearth::runtime;
using nlohmann::json;

TEST_SUITE("runtime.policy") {

TEST_CASE("rules match by tool glob, invoker fields and arguments") {
  const auto rules = parse_policy(json::parse(R"([
    {"tool": "bash", "invoker": {"kind": "user"}, "args": {"command": "rm *"}, "decision": "deny",
     "reason": "no deleting", "name": "no-rm"}
  ])"));
  REQUIRE(rules.size() == 1);
  const json user = {{"id", "ada"}, {"kind", "user"}};
  CHECK(rule_matches(rules[0], "bash", {{"command", "rm -rf /"}}, user));
  CHECK_FALSE(rule_matches(rules[0], "bash", {{"command", "ls"}}, user));
  CHECK_FALSE(rule_matches(rules[0], "bash", {{"command", "rm x"}}, {{"kind", "service"}}));
  CHECK_FALSE(rule_matches(rules[0], "bash", {{"command", "rm x"}}, json())); // no invoker
  CHECK_FALSE(rule_matches(rules[0], "write_file", {{"command", "rm x"}}, user));
  const auto exact = parse_policy(json::parse(R"([{"tool": "get_*", "args": {"n": 3}, "decision": "allow"}])"));
  CHECK(rule_matches(exact[0], "get_weather", {{"n", 3}}, json()));
  CHECK_FALSE(rule_matches(exact[0], "get_weather", {{"n", "3"}}, json()));
}

TEST_CASE("each source yields each of the four decisions") {
  const auto rules = parse_policy(json::parse(R"([
    {"tool": "danger", "decision": "deny", "reason": "never run danger"},
    {"tool": "flaky", "decision": "retryable-failure", "retryAfterMs": 2500},
    {"tool": "gated", "decision": "require-approval"},
    {"tool": "*", "decision": "allow"}
  ])"));
  auto decide = [&](const std::string& tool) {
    return evaluate_policy({.tool = tool, .tool_call_id = "c1"}, rules, nullptr, {});
  };
  const auto denied = decide("danger");
  CHECK(denied.decision == PolicyDecision::deny);
  CHECK(denied.source == "rule");
  CHECK(denied.rule == "policy[0]");
  CHECK(denied.reason == "never run danger");
  const auto flaky = decide("flaky");
  CHECK(flaky.decision == PolicyDecision::retryable_failure);
  CHECK(flaky.retry_after_ms == 2500);
  CHECK(flaky.to_event({.tool = "flaky", .tool_call_id = "c1"})["retryAfterMs"] == 2500);
  CHECK(decide("gated").decision == PolicyDecision::require_approval);
  CHECK(decide("other").decision == PolicyDecision::allow);
  CHECK(decide("other").source == "rule");
  CHECK(evaluate_policy({.tool = "x"}, {}, nullptr, {}).source == "default");
}

TEST_CASE("approval setting: always every call, once until approved in the session") {
  PolicyInput always{.tool = "t", .approval = "always", .approved_once = true};
  CHECK(evaluate_policy(always, {}, nullptr, {}).decision == PolicyDecision::require_approval);
  CHECK(evaluate_policy(always, {}, nullptr, {}).source == "approval");
  PolicyInput once{.tool = "t", .approval = "once"};
  CHECK(evaluate_policy(once, {}, nullptr, {}).decision == PolicyDecision::require_approval);
  once.approved_once = true;
  CHECK(evaluate_policy(once, {}, nullptr, {}).decision == PolicyDecision::allow);
}

TEST_CASE("the strictest opinion wins: an allow rule never waives a tool's approval") {
  const auto allow_all = parse_policy(json::parse(R"([{"decision": "allow"}])"));
  PolicyInput always{.tool = "t", .approval = "always"};
  CHECK(evaluate_policy(always, allow_all, nullptr, {}).decision == PolicyDecision::require_approval);
  const auto deny_all = parse_policy(json::parse(R"([{"decision": "deny"}])"));
  CHECK(evaluate_policy(always, deny_all, nullptr, {}).decision == PolicyDecision::deny);
}

TEST_CASE("the policy hook decides after the rules; null or junk is no opinion") {
  AgentDef agent{.name = "a"};
  json answer;
  json seen;
  HookCaller hook = [&](const AgentDef&, std::string_view name, const json& payload) {
    CHECK(name == "policy");
    seen = payload;
    return answer;
  };
  PolicyInput input{.tool = "t", .tool_call_id = "c9", .args = {{"x", 1}}};
  answer = {{"decision", "deny"}, {"reason", "hook says no"}};
  auto out = evaluate_policy(input, {}, &agent, hook);
  CHECK(out.decision == PolicyDecision::deny);
  CHECK(out.source == "hook");
  CHECK(out.reason == "hook says no");
  CHECK(seen["toolCallId"] == "c9");
  CHECK(seen["args"]["x"] == 1);
  answer = {{"decision", "require-approval"}};
  CHECK(evaluate_policy(input, {}, &agent, hook).decision == PolicyDecision::require_approval);
  answer = {{"decision", "retryable-failure"}};
  CHECK(evaluate_policy(input, {}, &agent, hook).decision == PolicyDecision::retryable_failure);
  answer = nullptr;
  CHECK(evaluate_policy(input, {}, &agent, hook).source == "default");
  answer = {{"decision", "maybe"}};
  CHECK(evaluate_policy(input, {}, &agent, hook).decision == PolicyDecision::allow);
  // Once a rule denies, the hook is not asked.
  seen = nullptr;
  const auto deny = parse_policy(json::parse(R"([{"decision": "deny"}])"));
  answer = {{"decision", "allow"}};
  CHECK(evaluate_policy(input, deny, &agent, hook).decision == PolicyDecision::deny);
  CHECK(seen.is_null());
}

TEST_CASE("invalid policies are refused with the rule named") {
  CHECK_THROWS_WITH_AS(parse_policy(json::object()), doctest::Contains("must be an array"),
                       hearth::Error);
  CHECK_THROWS_WITH_AS(parse_policy(json::parse(R"([{"tool": "x", "decision": "perhaps"}])")),
                       doctest::Contains("policy[0].decision"), hearth::Error);
  CHECK_THROWS_WITH_AS(parse_policy(json::parse(R"([{"decision": "deny"}, {"decision": "deny", "tools": "x"}])")),
                       doctest::Contains("policy[1] has unknown key \"tools\""), hearth::Error);
  CHECK_THROWS_WITH_AS(parse_policy(json::parse(R"([{"decision": "deny", "invoker": {"kind": 1}}])")),
                       doctest::Contains("policy[0].invoker.kind"), hearth::Error);
  CHECK(parse_policy(json()).empty());
}

} // TEST_SUITE

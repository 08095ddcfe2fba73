// The policy pipeline; see policy.hpp.
#include "runtime/policy.hpp"

#include "core/errors.hpp"

#include <fnmatch.h>

namespace hearth::runtime {
namespace {
using nlohmann::json;

bool glob(const std::string& pattern, std::string_view text) {
  return ::fnmatch(pattern.c_str(), std::string(text).c_str(), 0) == 0;
}

int strictness(PolicyDecision d) {
  switch (d) {
  case PolicyDecision::allow: return 0;
  case PolicyDecision::require_approval: return 1;
  case PolicyDecision::retryable_failure: return 2;
  case PolicyDecision::deny: return 3;
  }
  return 3;
}

std::string at(std::size_t index, const char* key) {
  return "policy[" + std::to_string(index) + "]" + (key[0] ? std::string(".") + key : "");
}

PolicyRule parse_rule(const json& item, std::size_t index) {
  if (!item.is_object()) throw errors::policy_invalid(at(index, "") + " must be an object.");
  for (const auto& [key, value] : item.items())
    if (key != "tool" && key != "invoker" && key != "args" && key != "decision" &&
        key != "reason" && key != "name" && key != "retryAfterMs")
      throw errors::policy_invalid(at(index, "") + " has unknown key \"" + key + "\".");
  PolicyRule rule;
  rule.name = at(index, "");
  if (item.contains("name")) {
    if (!item["name"].is_string()) throw errors::policy_invalid(at(index, "name") + " must be a string.");
    rule.name = item["name"].get<std::string>();
  }
  if (item.contains("tool")) {
    if (!item["tool"].is_string()) throw errors::policy_invalid(at(index, "tool") + " must be a glob string.");
    rule.tool = item["tool"].get<std::string>();
  }
  if (item.contains("invoker")) {
    const auto& inv = item["invoker"];
    if (!inv.is_object()) throw errors::policy_invalid(at(index, "invoker") + " must be an object.");
    for (const auto& [key, value] : inv.items())
      if (!value.is_string())
        throw errors::policy_invalid(at(index, "invoker") + "." + key + " must be a glob string.");
    rule.invoker = inv;
  }
  if (item.contains("args")) {
    if (!item["args"].is_object()) throw errors::policy_invalid(at(index, "args") + " must be an object.");
    rule.args = item["args"];
  }
  const auto decision = item.contains("decision") && item["decision"].is_string()
                            ? parse_decision(item["decision"].get<std::string>())
                            : std::nullopt;
  if (!decision)
    throw errors::policy_invalid(at(index, "decision") + " must be \"allow\", \"deny\", "
                                 "\"require-approval\" or \"retryable-failure\".");
  rule.decision = *decision;
  if (item.contains("reason")) {
    if (!item["reason"].is_string()) throw errors::policy_invalid(at(index, "reason") + " must be a string.");
    rule.reason = item["reason"].get<std::string>();
  }
  if (item.contains("retryAfterMs")) {
    const auto& r = item["retryAfterMs"];
    if (!r.is_number_integer() || r.get<long long>() < 0 || r.get<long long>() > 86'400'000)
      throw errors::policy_invalid(at(index, "retryAfterMs") + " must be an integer in 0..86400000.");
    rule.retry_after_ms = r.get<int>();
  }
  return rule;
}

/// The hook's answer as an opinion, or nullopt (null, malformed, unknown decision).
std::optional<PolicyOutcome> hook_opinion(const json& answer) {
  if (!answer.is_object() || !answer.contains("decision") || !answer["decision"].is_string())
    return std::nullopt;
  const auto decision = parse_decision(answer["decision"].get<std::string>());
  if (!decision) return std::nullopt;
  PolicyOutcome out{.decision = *decision, .source = "hook"};
  if (answer.contains("reason") && answer["reason"].is_string())
    out.reason = answer["reason"].get<std::string>().substr(0, 2000);
  if (out.reason.empty()) out.reason = "decided by the policy hook";
  out.retry_after_ms = k_default_retry_after_ms;
  if (answer.contains("retryAfterMs") && answer["retryAfterMs"].is_number_integer()) {
    const auto ms = answer["retryAfterMs"].get<long long>();
    if (ms >= 0 && ms <= 86'400'000) out.retry_after_ms = static_cast<int>(ms);
  }
  return out;
}

} // namespace

std::string_view to_string(PolicyDecision decision) {
  switch (decision) {
  case PolicyDecision::allow: return "allow";
  case PolicyDecision::deny: return "deny";
  case PolicyDecision::require_approval: return "require-approval";
  case PolicyDecision::retryable_failure: return "retryable-failure";
  }
  return "deny";
}

std::optional<PolicyDecision> parse_decision(std::string_view text) {
  if (text == "allow") return PolicyDecision::allow;
  if (text == "deny") return PolicyDecision::deny;
  if (text == "require-approval") return PolicyDecision::require_approval;
  if (text == "retryable-failure") return PolicyDecision::retryable_failure;
  return std::nullopt;
}

std::vector<PolicyRule> parse_policy(const json& policy) {
  std::vector<PolicyRule> rules;
  if (policy.is_null()) return rules;
  if (!policy.is_array()) throw errors::policy_invalid("\"policy\" must be an array of rules.");
  if (policy.size() > k_max_policy_rules)
    throw errors::policy_invalid("at most " + std::to_string(k_max_policy_rules) + " rules.");
  for (std::size_t i = 0; i < policy.size(); ++i) rules.push_back(parse_rule(policy[i], i));
  return rules;
}

bool rule_matches(const PolicyRule& rule, std::string_view tool, const json& args,
                  const json& invoker) {
  if (!glob(rule.tool, tool)) return false;
  if (rule.invoker.is_object()) {
    for (const auto& [key, pattern] : rule.invoker.items()) {
      if (!invoker.is_object() || !invoker.contains(key) || !invoker[key].is_string()) return false;
      if (!glob(pattern.get<std::string>(), invoker[key].get<std::string>())) return false;
    }
  }
  if (rule.args.is_object()) {
    for (const auto& [key, pattern] : rule.args.items()) {
      if (!args.is_object() || !args.contains(key)) return false;
      const auto& value = args[key];
      if (pattern.is_string()) {
        if (!value.is_string() || !glob(pattern.get<std::string>(), value.get<std::string>()))
          return false;
      } else if (pattern != value) {
        return false;
      }
    }
  }
  return true;
}

json PolicyOutcome::to_event(const PolicyInput& input) const {
  json event = {{"toolName", input.tool}, {"toolCallId", input.tool_call_id},
                {"decision", to_string(decision)}, {"reason", reason}, {"source", source}};
  if (!rule.empty()) event["rule"] = rule;
  if (decision == PolicyDecision::retryable_failure) event["retryAfterMs"] = retry_after_ms;
  return event;
}

PolicyOutcome evaluate_policy(const PolicyInput& input, const std::vector<PolicyRule>& rules,
                              const AgentDef* agent, const HookCaller& call_hook) {
  std::optional<PolicyOutcome> best;
  auto consider = [&](PolicyOutcome opinion) {
    if (!best || strictness(opinion.decision) > strictness(best->decision)) best = std::move(opinion);
  };
  if (input.approval == "always")
    consider({.decision = PolicyDecision::require_approval,
              .reason = "tool \"" + input.tool + "\" requires approval for every call",
              .source = "approval"});
  else if (input.approval == "once" && !input.approved_once)
    consider({.decision = PolicyDecision::require_approval,
              .reason = "tool \"" + input.tool + "\" requires approval once per session",
              .source = "approval"});
  for (const auto& rule : rules) {
    if (!rule_matches(rule, input.tool, input.args, input.invoker)) continue;
    consider({.decision = rule.decision,
              .reason = rule.reason.empty() ? "policy rule " + rule.name : rule.reason,
              .source = "rule",
              .rule = rule.name,
              .retry_after_ms = rule.retry_after_ms});
    break; // the first matching rule decides
  }
  if (call_hook && agent && !(best && best->decision == PolicyDecision::deny)) {
    json payload = {{"toolName", input.tool}, {"toolCallId", input.tool_call_id},
                    {"args", input.args}, {"invoker", input.invoker}, {"session", input.session},
                    {"runId", input.run_id},
                    {"decision", best ? std::string(to_string(best->decision)) : "allow"}};
    json answer;
    try {
      answer = call_hook(*agent, "policy", payload);
    } catch (const std::exception&) { // a failing hook has no opinion (it reports itself)
    }
    if (auto opinion = hook_opinion(answer)) consider(std::move(*opinion));
  }
  if (!best) return {};
  if (best->decision != PolicyDecision::retryable_failure) best->retry_after_ms = 0;
  return *best;
}

} // namespace hearth::runtime

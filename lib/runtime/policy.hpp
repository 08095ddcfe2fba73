// The policy pipeline (seed 001 "Policy and approvals"; issue 12 §1; ARCHITECTURE.md §11): one
// function the harness calls before every tool-like call (built-in and authored tools, subagent
// calls). Its result is data (decision + reason + source + rule), recorded as a `policy_decision`
// event before anything runs. Sources, in order:
//   1. the tool's `approval` setting: `always` -> require-approval; `once` -> require-approval
//      until approved once in this session; `never` -> no opinion;
//   2. agent.json `policy` rules: the first rule that matches decides;
//   3. the agent's `policy` hook (hooks/policy): {"decision", "reason"} or null (no opinion).
// The strictest opinion wins (deny > retryable-failure > require-approval > allow), so a rule or
// a hook can forbid what a tool's `approval` lets through, but never waive an approval the tool's
// author asked for. No opinion at all: allow (source "default").
#pragma once

#include "runtime/hooks.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::runtime {

struct AgentDef;

enum class PolicyDecision { allow, deny, require_approval, retryable_failure };

/// "allow" | "deny" | "require-approval" | "retryable-failure".
std::string_view to_string(PolicyDecision decision);
/// The decision named `text`, or nullopt.
std::optional<PolicyDecision> parse_decision(std::string_view text);

/// Back-off hint of a retryable-failure when the rule or hook gives none.
inline constexpr int k_default_retry_after_ms = 1000;
/// Most rules one agent.json `policy` may hold (bounds evaluation per tool call).
inline constexpr std::size_t k_max_policy_rules = 256;

/// One agent.json `policy` rule:
///   {"tool": "<glob>", "invoker": {"kind": "<glob>", "id": "<glob>", ...},
///    "args": {"<argument>": <glob string | exact JSON>}, "decision": "...",
///    "reason": "...", "name": "...", "retryAfterMs": n}
/// Every key but `decision` is optional; an absent key matches everything. Globs use `*` and `?`
/// (fnmatch, no path semantics). `invoker` keys compare against the invoker's string fields (a
/// missing invoker or field never matches). `args` keys compare top-level arguments: a string
/// pattern globs a string argument; any other pattern must equal the argument exactly.
struct PolicyRule {
  std::string name{};  // `name`, else "policy[<index>]"
  std::string tool = "*";
  nlohmann::json invoker{}; // object of globs, or null
  nlohmann::json args{};    // object, or null
  PolicyDecision decision = PolicyDecision::allow;
  std::string reason{};
  int retry_after_ms = k_default_retry_after_ms;
};

/// Parses agent.json `policy` (null: no rules). Throws errors::policy_invalid naming the first
/// problem (`policy[2].decision must be ...`). Bounded: at most k_max_policy_rules rules.
std::vector<PolicyRule> parse_policy(const nlohmann::json& policy);

/// Whether `rule` matches a call of `tool` with `args` by `invoker` (null when unknown).
bool rule_matches(const PolicyRule& rule, std::string_view tool, const nlohmann::json& args,
                  const nlohmann::json& invoker);

/// One tool call as the pipeline sees it.
struct PolicyInput {
  std::string tool{};
  std::string tool_call_id{};
  nlohmann::json args = nlohmann::json::object();
  std::string approval = "never"; // the tool's setting: never | once | always
  bool approved_once = false;     // `once`: already approved in this session
  nlohmann::json invoker{};
  std::string session{};          // for the hook's payload
  std::string run_id{};
};

/// The pipeline's answer: what to do and why. `source` is "approval" | "rule" | "hook" |
/// "default"; `rule` names the deciding rule (source "rule") else is empty.
struct PolicyOutcome {
  PolicyDecision decision = PolicyDecision::allow;
  std::string reason{};
  std::string source = "default";
  std::string rule{};
  int retry_after_ms = 0; // retryable-failure only
  /// The `policy_decision` event body {toolName, toolCallId, decision, reason, source, rule?,
  /// retryAfterMs?}.
  nlohmann::json to_event(const PolicyInput& input) const;
};

/// Runs the pipeline (see the top of this file). `call_hook` may be empty (no hooks); the hook
/// gets {toolName, toolCallId, args, invoker, agent, session, runId, decision} (the decision so
/// far) and may answer {"decision", "reason"?, "retryAfterMs"?}; anything else is no opinion.
/// The hook is not called once a deny is certain. Never throws for a hook's answer.
PolicyOutcome evaluate_policy(const PolicyInput& input, const std::vector<PolicyRule>& rules,
                              const AgentDef* agent, const HookCaller& call_hook);

} // namespace hearth::runtime

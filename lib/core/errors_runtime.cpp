// The error catalogue (declared in core/errors.hpp), runtime part: templates, models and turns,
// agents and workflows, the sandbox, run states, approvals and policy, hooks, cancellation and
// durable runs. Wording follows Flue's errors.ts and the seed pages.
#include "core/errors.hpp"

#include "core/text.hpp"

namespace hearth::errors {

using std::string;

// --- runtime ------------------------------------------------------------------------------

Error template_missing_key(std::string_view workflow, std::string_view path) {
  return Error({.type = "invalid_payload",
                .message = "Workflow \"" + string(workflow) + "\" needs `" + string(path) +
                           "`, which the payload does not have.",
                .details = "Pass it in the payload, e.g. --payload '{\"" +
                           string(path.substr(path.find('.') == std::string_view::npos
                                                  ? path.size()
                                                  : path.find('.') + 1)) +
                           "\": ...}'.",
                .http_status = 400});
}

Error template_invalid(std::string_view workflow, std::string_view problem) {
  return Error({.type = "invalid_workflow",
                .message = "The template of workflow \"" + string(workflow) + "\" is invalid: " +
                           string(problem) + ".",
                .details = "Templates substitute `{{payload.<path>}}`; write `\\{{` for a literal `{{`."});
}

Error path_outside_workspace(std::string_view path) {
  return Error({.type = "path_outside_workspace",
                .message = "Path \"" + string(path) + "\" is outside the session workspace.",
                .details = "Use a path relative to the workspace root; `..` and absolute paths "
                           "elsewhere are refused.",
                .http_status = 403});
}

Error model_missing(std::string_view agent) {
  return Error({.type = "model_missing",
                .message = "No model is configured for agent \"" + string(agent) + "\".",
                .details = "Set `model` in the agent's agent.json or in hearth.json (e.g. "
                           "\"openai/gpt-4o\", or \"mock/echo\" offline), or pass --model."});
}

Error max_steps_exceeded(std::string_view agent, int max_steps) {
  return Error({.type = "max_steps_exceeded",
                .message = "Agent \"" + string(agent) + "\" did not finish within " +
                           std::to_string(max_steps) + " steps.",
                .details = "Raise `maxSteps` in agent.json (or the workflow's frontmatter), or "
                           "make the task smaller."});
}

Error agent_gave_up(std::string_view agent, std::string_view reason) {
  return Error({.type = "agent_gave_up",
                .message = "Agent \"" + string(agent) + "\" gave up: " + string(reason),
                .details = "The model decided it cannot complete the task; check the prompt and "
                           "the tools it has."});
}

Error result_invalid(std::string_view agent, int attempts) {
  return Error({.type = "result_invalid",
                .message = "Agent \"" + string(agent) + "\" did not return a result matching the "
                           "schema after " + std::to_string(attempts) + " attempts.",
                .details = "Simplify the `result` schema or describe the expected output in the "
                           "prompt."});
}

Error workflow_not_found(std::string_view name, const std::vector<std::string>& available) {
  return Error({.type = "workflow_not_found",
                .message = "Workflow \"" + string(name) + "\" is not registered.",
                .details = "Verify the workflow name is correct.",
                .dev = "Available workflows: " +
                       (available.empty() ? string("(none)") : text::quote_list(available)) +
                       ".\nWorkflows are loaded from the project's \"workflows/\" directory.",
                .http_status = 404});
}

Error agent_not_found(std::string_view name, const std::vector<std::string>& available) {
  return Error({.type = "agent_not_found",
                .message = "Agent \"" + string(name) + "\" is not registered.",
                .details = "Verify the agent name is correct.",
                .dev = "Available agents: " +
                       (available.empty() ? string("(none)") : text::quote_list(available)) + ".",
                .http_status = 404});
}

Error runtime_not_ready(std::string_view reason) {
  return Error({.type = "runtime_not_ready",
                .message = "The runtime did not start: " + string(reason) + ".",
                .details = "Its log is above; run `hearth info` to check the project."});
}

// --- sandbox ---------------------------------------------------------------------------------

Error sandbox_unavailable(std::string_view backend, std::string_view reason) {
  return Error({.type = "sandbox_unavailable",
                .message = "The " + string(backend) + " sandbox is not available: " +
                           string(reason) + ".",
                .details = "Install bwrap (Debian/Ubuntu: apt-get install bubblewrap), or set "
                           "\"sandbox\": {\"backend\": \"none\"} in hearth.json to run commands "
                           "without isolation (docs/sandbox.md)."});
}

Error sandbox_unknown_backend(std::string_view backend) {
  return Error({.type = "sandbox_unknown_backend",
                .message = "Unknown sandbox backend \"" + string(backend) + "\".",
                .details = "Use \"bubblewrap\" (the default) or \"none\" (docs/sandbox.md)."});
}

Error sandbox_config_invalid(std::string_view field, std::string_view problem) {
  return Error({.type = "sandbox_config_invalid",
                .message = "Invalid sandbox setting `" + string(field) + "`: " + string(problem) + ".",
                .details = "See docs/sandbox.md for every option."});
}

// --- hardening: run states, floods, gc (issue 9) ---------------------------------------------

Error run_cancelled(std::string_view details) {
  return Error({.type = "cancelled",
                .message = "The run was cancelled.",
                .details = string(details),
                .http_status = 503});
}

// approvals ------------------------------------------------------------------------------------

Error approval_required(std::string_view tool, std::string_view approval_id) {
  return Error({.type = "approval_required",
                .message = "Tool \"" + std::string(tool) + "\" requires approval (" +
                           std::string(approval_id) + ") and nobody can decide it in this run.",
                .details = "Run again with --approve " + std::string(tool) +
                           " (or --approve all), or --deny " + std::string(tool) + ".",
                .http_status = 409});
}

Error approval_not_found(std::string_view approval_id) {
  return Error({.type = "approval_not_found",
                .message = "Approval \"" + std::string(approval_id) + "\" was not found.",
                .details = "Verify the approval id: it is the approvalId of an approval_request event "
                           "of this stream.",
                .http_status = 404});
}

Error approval_already_decided(std::string_view approval_id, std::string_view status) {
  return Error({.type = "approval_already_decided",
                .message = "Approval \"" + std::string(approval_id) + "\" was already decided (" +
                           std::string(status) + ").",
                .details = "A decision is final; nothing was changed.",
                .http_status = 409});
}

Error approval_decision_invalid(std::string_view problem) {
  return Error({.type = "invalid_request",
                .message = "Request is malformed.",
                .details = "Expected {\"decision\": \"approve\" | \"deny\", \"reason\"?: string}: " +
                           std::string(problem),
                .http_status = 400});
}

Error policy_invalid(std::string_view problem) {
  return Error({.type = "policy_invalid",
                .message = "agent.json `policy` is invalid: " + std::string(problem),
                .details = "See docs/runtime.md, \"Policy and approvals\"."});
}

// --- lifecycle hooks and traces --------------------------------------------------------------

Error hook_rejected(std::string_view agent, std::string_view hook, std::string_view reason) {
  return Error({.type = "hook_rejected",
                .message = "The request hook of agent \"" + string(agent) +
                           "\" rejected the turn: " + string(reason),
                .details = "The hook " + string(hook) + " answered {\"reject\": ...}.",
                .http_status = 403});
}

Error hook_failed(std::string_view hook, std::string_view problem) {
  return Error({.type = "hook_failed",
                .message = "Hook " + string(hook) + " failed: " + string(problem),
                .details = "The hook's answer was ignored; the turn went on without it."});
}

// --- cancellation (issue 12 §6) ------------------------------------------------------------------

Error turn_cancelled(std::string_view details) {
  return Error({.type = "cancelled",
                .message = "The turn was cancelled.",
                .details = details.empty() ? std::string("Send the next message to go on.")
                                           : string(details),
                .http_status = 409});
}

// --- Durable runs (issue 15 §1) ---------------------------------------------------------------

Error runtime_crashed(std::string_view details) {
  return Error({.type = "runtime_crashed",
                .message = "The runtime exited before the run finished.",
                .details = string(details),
                .http_status = 500});
}

Error run_suspended() {
  return Error({.type = "suspended",
                .message = "The run stopped at a step boundary: its runtime is shutting down.",
                .details = "The run stays active; the next `hearth start` on this store resumes it "
                           "from its last completed step.",
                .http_status = 503});
}

Error run_taken_over(std::string_view run_id) {
  return Error({.type = "run_taken_over",
                .message = "Run " + string(run_id) + " was taken over by another runtime.",
                .details = "Its owner was presumed dead and the run resumed elsewhere; this "
                           "process stops writing it.",
                .http_status = 409});
}

} // namespace hearth::errors

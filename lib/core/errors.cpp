// The error catalogue: see errors.hpp. Wording follows Flue's errors.ts and the seed pages.
#include "core/errors.hpp"
#include "core/errors_eval.hpp"

#include "core/text.hpp"

namespace hearth::errors {

using std::string;

Error usage(std::string_view message, std::string_view hint) {
  return Error({.type = "usage", .message = string(message), .details = string(hint),
                .http_status = 400});
}

Error no_project(std::string_view root) {
  return Error({.type = "no_project",
                .message = "No hearth project in " + string(root) +
                           ": expected hearth.json, agent/, agents/ or workflows/.",
                .details = "Run `hearth init` to scaffold one, or pass `--root DIR`.",
                .http_status = 404});
}

Error unknown_command(std::string_view command, std::string_view suggestion) {
  return Error({.type = "unknown_command",
                .message = "Unknown command `" + string(command) + "`.",
                .details = suggestion.empty() ? "Run `hearth --help` to see the commands."
                                              : "Did you mean `hearth " + string(suggestion) + "`?",
                .http_status = 400});
}

Error invalid_flag(std::string_view flag, std::string_view problem, std::string_view hint) {
  return Error({.type = "invalid_flag",
                .message = "Invalid " + string(flag) + ": " + string(problem),
                .details = string(hint),
                .http_status = 400});
}

Error internal_error(std::string_view what) {
  return Error({.type = "internal_error",
                .message = "An internal error occurred.",
                .details = "The server encountered an unexpected error while handling this request.",
                .dev = string(what)});
}

Error io_error(std::string_view action, std::string_view path, std::string_view reason) {
  return Error({.type = "io_error",
                .message = "Could not " + string(action) + " " + string(path) + ": " +
                           string(reason) + ".",
                .details = "Check that the path exists and that you may read and write it."});
}

Error config_not_found(std::string_view path) {
  return Error({.type = "config_not_found",
                .message = "Config file not found: " + string(path),
                .details = "`--config` resolves relative to the current directory; check the path."});
}

Error config_syntax(std::string_view where, std::string_view problem) {
  return Error({.type = "config_invalid",
                .message = "Invalid config in " + string(where) + ": " + string(problem),
                .details = "hearth.json must be one JSON object; see docs/hearth.schema.json."});
}

Error config_invalid(std::string_view file, std::string_view field, std::string_view problem) {
  return Error({.type = "config_invalid",
                .message = "Invalid config in " + string(file) + " at " + string(field) + ": " +
                           string(problem),
                .details = "Fix the field, or remove it to use the default; the schema is "
                           "docs/hearth.schema.json."});
}

Error output_is_root(std::string_view which, std::string_view path) {
  return Error({.type = "config_invalid",
                .message = "`output` resolves to the " + string(which) + " (" + string(path) + ").",
                .details = "Build artifacts must go in a separate directory, e.g. `dist/`."});
}

Error env_flag_repeated() {
  return Error({.type = "usage",
                .message = "`--env` was given more than once.",
                .details = "Pass a single alternate env file; merge the files if you need both.",
                .http_status = 400});
}

Error env_file_not_found(std::string_view path) {
  return Error({.type = "env_file_not_found",
                .message = "--env points at a path that doesn't exist: " + string(path),
                .details = "The path resolves from the current directory; check it, or drop `--env` "
                           "to load the project's .env files."});
}

Error env_syntax(std::string_view where, std::string_view problem) {
  return Error({.type = "env_invalid",
                .message = "Invalid env file " + string(where) + ": " + string(problem),
                .details = "Lines look like `KEY=value`, `export KEY=\"value\"` or `# comment`."});
}

Error template_not_found(std::string_view name, const std::vector<std::string>& available) {
  return Error({.type = "template_not_found",
                .message = "Template \"" + string(name) + "\" does not exist.",
                .details = "Run `hearth init --list-templates` to see the templates.",
                .dev = "Available templates: " + text::quote_list(available) + ".",
                .http_status = 404});
}

Error init_conflicts(std::string_view dir, const std::vector<std::string>& conflicts) {
  string list;
  for (const auto& c : conflicts) list += "\n  " + c;
  return Error({.type = "init_conflicts",
                .message = "hearth init would overwrite " + std::to_string(conflicts.size()) +
                           " existing file" + (conflicts.size() == 1 ? "" : "s") + " in " +
                           string(dir) + ":" + list,
                .details = "Re-run with --force to overwrite them, or init into a new directory."});
}

Error init_dir_not_empty(std::string_view dir) {
  return Error({.type = "init_dir_not_empty",
                .message = "Directory " + string(dir) + " is not empty and holds no hearth project.",
                .details = "Run `hearth init <new-dir>` to scaffold into a new directory."});
}

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

// --- store (runs, event streams, sessions, submissions; lib/store) ----------------------------

Error store_location_invalid(std::string_view location) {
  return Error({.type = "store_location_invalid",
                .message = "Unsupported store location \"" + string(location) + "\".",
                .details = "Use `sqlite:<path>` (e.g. `sqlite:.hearth/state.db`) or `memory:`."});
}

Error store_open_failed(std::string_view path, std::string_view reason) {
  return Error({.type = "store_unavailable",
                .message = "Could not open the state database " + string(path) + ": " +
                           string(reason) + ".",
                .details = "Check that the directory exists and is writable, or choose another "
                           "store location.",
                .http_status = 503});
}

Error store_corrupt(std::string_view path, std::string_view reason) {
  return Error({.type = "store_corrupt",
                .message = "The state database " + string(path) + " is unreadable: " +
                           string(reason) + ".",
                .details = "Move the file aside (hearth creates a fresh one) or restore a backup.",
                .http_status = 503});
}

Error store_foreign(std::string_view path) {
  return Error({.type = "store_corrupt",
                .message = "The file " + string(path) + " is a SQLite database that hearth did not "
                           "create.",
                .details = "Point the store at a new file; hearth will not write into another "
                           "program's database.",
                .http_status = 503});
}

Error store_too_new(std::string_view path, long long found, long long supported) {
  return Error({.type = "store_schema_too_new",
                .message = "The state database " + string(path) + " has schema version " +
                           std::to_string(found) + ", but this hearth supports up to version " +
                           std::to_string(supported) + ".",
                .details = "It was written by a newer hearth. Upgrade hearth, or move the file "
                           "aside to start with a fresh store.",
                .http_status = 503});
}

Error store_failed(std::string_view path, std::string_view operation, std::string_view reason) {
  return Error({.type = "store_unavailable",
                .message = "The state database could not " + string(operation) + ".",
                .details = "Retry; if it persists, check disk space and file permissions.",
                .dev = string(path) + ": " + string(reason),
                .http_status = 503});
}

Error invalid_offset(std::string_view text) {
  return Error({.type = "invalid_request",
                .message = "Invalid offset format.",
                .details = "Use -1 (start), now (tail) or an offset returned by the server.",
                .dev = "Offset received: \"" + string(text.substr(0, 80)) + "\".",
                .http_status = 400});
}

Error stream_not_found(std::string_view path) {
  return Error({.type = "stream_not_found",
                .message = "Stream \"" + string(path) + "\" was not found.",
                .details = "Streams exist once their run starts or their agent receives a prompt.",
                .http_status = 404});
}

Error stream_closed(std::string_view path) {
  return Error({.type = "stream_closed",
                .message = "Stream \"" + string(path) + "\" is closed.",
                .details = "A closed stream accepts no more events; its run has ended.",
                .http_status = 409});
}

Error run_not_found(std::string_view run_id) {
  return Error({.type = "run_not_found",
                .message = "Run \"" + string(run_id) + "\" was not found.",
                .details = "Verify the run id is correct and its history is still available.",
                .http_status = 404});
}

Error runtime_not_ready(std::string_view reason) {
  return Error({.type = "runtime_not_ready",
                .message = "The runtime did not start: " + string(reason) + ".",
                .details = "Its log is above; run `hearth info` to check the project."});
}

// --- providers (model strings, HTTP model clients, mock) ---------------------------------------

Error model_invalid(std::string_view model_string) {
  return Error({.type = "model_invalid",
                .message = "Invalid model \"" + string(model_string) +
                           "\": model strings are `provider/model`.",
                .details = "For example \"openai/gpt-4o\", \"anthropic/claude-sonnet-4-5\", "
                           "\"ollama/llama3.2\" or \"mock/echo\"; see docs/providers.md.",
                .http_status = 400});
}

Error provider_unknown(std::string_view id, const std::vector<std::string>& available) {
  return Error({.type = "provider_unknown",
                .message = "Model provider \"" + string(id) + "\" is not known.",
                .details = "Use a built-in provider or declare it in hearth.json `providers` "
                           "({\"api\": \"openai-chat\", \"baseUrl\": ...}).",
                .dev = "Available providers: " + text::quote_list(available) + ".",
                .http_status = 400});
}

Error provider_config_invalid(std::string_view id, std::string_view problem) {
  return Error({.type = "config_invalid",
                .message = "Invalid provider \"" + string(id) + "\" in hearth.json: " +
                           string(problem),
                .details = "`api` is \"openai-chat\" or \"anthropic-messages\"; see "
                           "docs/providers.md."});
}

Error provider_missing_key(std::string_view provider, std::string_view env_var) {
  return Error({.type = "provider_missing_key",
                .message = "No API key for model provider \"" + string(provider) + "\".",
                .details = "Set " + string(env_var) + " in the environment or in the project's "
                           ".env / .env.local file."});
}

Error provider_auth_failed(std::string_view provider, int status, std::string_view env_var,
                           std::string_view provider_message) {
  return Error({.type = "provider_auth_failed",
                .message = "Model provider \"" + string(provider) + "\" rejected the API key (" +
                           std::to_string(status) + "): " + string(provider_message),
                .details = env_var.empty()
                               ? string("Check the provider's credentials.")
                               : "Check " + string(env_var) + ": it must hold a valid key for " +
                                     string(provider) + ".",
                .http_status = 502});
}

Error provider_bad_request(std::string_view provider, int status,
                           std::string_view provider_message) {
  return Error({.type = "provider_bad_request",
                .message = "Model provider \"" + string(provider) + "\" rejected the request (" +
                           std::to_string(status) + "): " + string(provider_message),
                .details = "Check the model name and agent.json `modelOptions`.",
                .http_status = 502});
}

Error provider_rate_limited(std::string_view provider, std::string_view provider_message,
                            int attempts) {
  return Error({.type = "provider_rate_limited",
                .message = "Model provider \"" + string(provider) + "\" is rate limiting requests (" +
                           std::to_string(attempts) + " attempt" + (attempts == 1 ? "" : "s") +
                           "): " + string(provider_message),
                .details = "Wait and try again, or lower the request rate.",
                .http_status = 429});
}

Error provider_quota_exceeded(std::string_view provider, std::string_view provider_message) {
  return Error({.type = "provider_quota_exceeded",
                .message = "Model provider \"" + string(provider) + "\" reports the quota is used "
                           "up: " + string(provider_message),
                .details = "Check the plan and billing details of the provider account.",
                .http_status = 429});
}

Error provider_unavailable(std::string_view provider, int status,
                           std::string_view provider_message, int attempts) {
  return Error({.type = "provider_unavailable",
                .message = "Model provider \"" + string(provider) + "\" is unavailable (" +
                           std::to_string(status) + ", " + std::to_string(attempts) + " attempt" +
                           (attempts == 1 ? "" : "s") + "): " + string(provider_message),
                .details = "The provider is overloaded or failing; try again later.",
                .http_status = 503});
}

Error provider_http_error(std::string_view provider, int status,
                          std::string_view provider_message) {
  return Error({.type = "provider_error",
                .message = "Model provider \"" + string(provider) + "\" answered HTTP " +
                           std::to_string(status) + ": " + string(provider_message),
                .details = "Check the provider's base URL and the model name.",
                .http_status = 502});
}

Error provider_connection_failed(std::string_view provider, std::string_view url,
                                 std::string_view reason, int attempts) {
  return Error({.type = "provider_connection_failed",
                .message = "Could not reach model provider \"" + string(provider) + "\" at " +
                           string(url) + ": " + string(reason) + " (" + std::to_string(attempts) +
                           " attempt" + (attempts == 1 ? "" : "s") + ").",
                .details = "Check the network and the provider's base URL (hearth.json "
                           "`providers.<id>.baseUrl` or the *_BASE_URL variable).",
                .http_status = 502});
}

Error provider_stream_invalid(std::string_view problem) {
  return Error({.type = "provider_stream_invalid",
                .message = "The model response stream is invalid: " + string(problem),
                .details = "The base URL may point at a server that does not speak this API.",
                .http_status = 502});
}

Error provider_stream_error(std::string_view provider, std::string_view provider_message) {
  return Error({.type = "provider_error",
                .message = "Model provider \"" + string(provider) + "\" failed mid-response: " +
                           string(provider_message),
                .details = "Try again; the provider aborted the response stream.",
                .http_status = 502});
}

Error mock_model_unknown(std::string_view model) {
  return Error({.type = "model_invalid",
                .message = "The mock provider has no model \"" + string(model) + "\".",
                .details = "Use \"mock/echo\" or \"mock/script\".",
                .http_status = 400});
}

Error mock_script_not_found(std::string_view path) {
  return Error({.type = "mock_script_not_found",
                .message = path.empty() ? string("mock/script has no script to replay.")
                                        : "mock/script has no script: " + string(path) +
                                              " does not exist.",
                .details = "Set HEARTH_MOCK_SCRIPT to a JSONL file, or write mock.jsonl beside "
                           "agent.json (one step per line)."});
}

Error mock_script_invalid(std::string_view where, std::string_view problem) {
  return Error({.type = "mock_script_invalid",
                .message = "Invalid mock script step at " + string(where) + ": " + string(problem),
                .details = "Each line is {\"text\": ...}, {\"toolCalls\": [{\"name\", \"input\"}]} "
                           "or {\"result\": {...}}."});
}

Error mock_script_exhausted(std::string_view path, std::size_t steps, std::size_t step) {
  return Error({.type = "mock_script_exhausted",
                .message = "mock/script ran past the end of " + string(path) + ": step " +
                           std::to_string(step) + " was requested but the script has " +
                           std::to_string(steps) + " step" + (steps == 1 ? "" : "s") + ".",
                .details = "Add a step to the script, or end the run sooner (a final text step "
                           "or a `result` step ends the agent loop)."});
}

Error session_conflict(std::string_view session, long long expected, long long actual) {
  return Error({.type = "session_conflict",
                .message = "Session \"" + string(session) + "\" was changed concurrently.",
                .details = "Reload the session and retry.",
                .dev = "Expected version " + std::to_string(expected) + ", found " +
                       std::to_string(actual) + ".",
                .http_status = 409});
}

Error session_not_found(std::string_view session) {
  return Error({.type = "session_not_found",
                .message = "Session \"" + string(session) + "\" was not found.",
                .details = "Verify the session id is correct.",
                .http_status = 404});
}

Error submission_not_found(std::string_view submission_id) {
  return Error({.type = "submission_not_found",
                .message = "Submission \"" + string(submission_id) + "\" was not found.",
                .details = "Verify the submission id is correct.",
                .http_status = 404});
}

// --- process, signals and ipc (core/process, core/signals, lib/ipc) ---------------------------

Error spawn_failed(std::string_view program, std::string_view reason) {
  return Error({.type = "spawn_failed",
                .message = "Could not start `" + string(program) + "`: " + string(reason) + ".",
                .details = "Check that the program exists, is executable and is on PATH."});
}

Error signal_pipe_in_use() {
  return Error({.type = "internal_error",
                .message = "An internal error occurred.",
                .details = "Only one signal pipe may exist at a time.",
                .dev = "hearth::signals::SignalPipe constructed while another is alive."});
}

namespace {
// The first `limit` bytes of `raw` as printable, valid UTF-8: control bytes and broken sequences
// become '?', so the excerpt is safe to print and to put in a JSON envelope.
string printable_excerpt(std::string_view raw, std::size_t limit) {
  raw = raw.substr(0, limit);
  string out;
  for (std::size_t i = 0; i < raw.size();) {
    const auto c = static_cast<unsigned char>(raw[i]);
    const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3
                          : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= raw.size();
    for (std::size_t k = 1; ok && k < len; ++k)
      ok = (static_cast<unsigned char>(raw[i + k]) & 0xC0) == 0x80;
    if (ok && len == 1 && (c < 0x20 || c == 0x7F)) ok = false;
    out += ok ? string(raw.substr(i, len)) : "?";
    i += ok ? len : 1;
  }
  return out;
}
} // namespace

Error ipc_protocol(std::string_view peer, std::string_view problem, std::string_view line) {
  const auto excerpt = printable_excerpt(line, 200);
  return Error({.type = "ipc_protocol_error",
                .message = "Protocol error from " + string(peer) + ": " +
                           printable_excerpt(problem, 400) + ".",
                .details = "Each line on stdout must be one JSON-RPC 2.0 message; print logs to "
                           "stderr instead. See docs/ipc.md.",
                .dev = "Line (first " + std::to_string(std::min<std::size_t>(line.size(), 200)) +
                       " bytes): " + excerpt});
}

Error ipc_closed(std::string_view peer, std::string_view method, std::string_view reason) {
  return Error(
      {.type = "ipc_closed",
       .message = "Lost the connection to " + string(peer) +
                  (method.empty() ? string() : " during `" + string(method) + "`") + ": " +
                  string(reason) + ".",
       .details = "Check the output above for the cause; a crash prints its error on stderr."});
}

Error ipc_timeout(std::string_view peer, std::string_view method, long long timeout_ms) {
  return Error({.type = "ipc_timeout",
                .message = "No reply from " + string(peer) + " to `" + string(method) +
                           "` within " + std::to_string(timeout_ms) + " ms.",
                .details = "The other side may be stuck; check its logs, or allow more time.",
                .http_status = 504});
}

Error ipc_remote(std::string_view peer, std::string_view method, int code,
                 std::string_view message) {
  return Error({.type = "rpc_error",
                .message = string(peer) + " failed `" + string(method) + "`: " + string(message),
                .details = "JSON-RPC error " + std::to_string(code) + "; see docs/ipc.md.",
                .http_status = 502});
}

// --- discovery, manifest and build ----------------------------------------------------------

Error manifest_invalid(std::string_view path, std::string_view problem) {
  return Error({.type = "manifest_invalid",
                .message = "Cannot use the compiled manifest " + string(path) + ": " + string(problem) + ".",
                .details = "Run `hearth build` (or `hearth info`) to compile the project again."});
}

Error build_output_unsafe(std::string_view path, std::string_view reason) {
  return Error({.type = "build_output_unsafe",
                .message = "Refusing to write the build output to " + string(path) + ": " +
                           string(reason) + ".",
                .details = "Pass --output with a new directory, or remove the existing one."});
}

Error build_inputs_changed(std::string_view what) {
  return Error({.type = "build_inputs_changed",
                .message = "The project changed while it was being built (" + string(what) +
                           "): the output would not match its compiled manifest, so none was written.",
                .details = "Run `hearth build` again once the edits are saved."});
}

Error build_failed(std::size_t errors, std::size_t warnings, std::string_view diagnostics_path) {
  return Error({.type = "build_failed",
                .message = "Discovery failed with " + std::to_string(errors) + " error(s) and " +
                           std::to_string(warnings) + " warning(s).",
                .details = "Fix the errors above; the full report is in " + string(diagnostics_path) + "."});
}

// --- workflow scripts (runtime/program_runner, docs/workflow-protocol.md) ----------------------

Error workflow_script_exited(std::string_view workflow, std::string_view status,
                             std::string_view stderr_tail) {
  return Error({.type = "workflow_script_exited",
                .message = "Workflow \"" + string(workflow) + "\" ended with " + string(status) +
                           " before replying to `workflow.run`.",
                .details = stderr_tail.empty()
                               ? string("It wrote nothing on stderr. A script must answer "
                                        "`workflow.run` on stdout; see docs/workflow-protocol.md.")
                               : "Last lines of its stderr:\n" + string(stderr_tail)});
}

Error workflow_timeout(std::string_view workflow, long long timeout_ms) {
  return Error({.type = "workflow_timeout",
                .message = "Workflow \"" + string(workflow) + "\" did not finish within " +
                           std::to_string(timeout_ms) + " ms; its processes were stopped.",
                .details = "Raise `timeoutMs` in workflows/" + string(workflow) +
                           ".json or pass `hearth run --timeout MS`.",
                .http_status = 504});
}

Error workflow_protocol_error(std::string_view workflow, std::string_view problem,
                              std::string_view line) {
  return Error({.type = "workflow_protocol_error",
                .message = "Workflow \"" + string(workflow) + "\" broke the ctx protocol: " +
                           printable_excerpt(problem, 400) +
                           (line.empty() ? string(".") : ". Line: " + printable_excerpt(line, 200)),
                .details = "Every line a script writes on stdout must be one JSON-RPC 2.0 "
                           "message; write logs to stderr. See docs/workflow-protocol.md."});
}

Error workflow_failed(std::string_view workflow, std::string_view message,
                      std::string_view details) {
  return Error({.type = "workflow_failed",
                .message = "Workflow \"" + string(workflow) + "\" failed: " + string(message),
                .details = details.empty() ? string("The script answered `workflow.run` with an "
                                                    "error; see its stderr above.")
                                           : string(details)});
}

// --- server -----------------------------------------------------------------------------------

Error invalid_request(std::string_view problem) {
  return Error({.type = "invalid_request", .message = "Request is malformed.",
                .details = string(problem), .http_status = 400});
}

Error invalid_json(std::string_view parser_message) {
  return Error({.type = "invalid_json",
                .message = "Request body is not valid JSON.",
                .details = "The JSON parser reported: " + string(parser_message) +
                           "\nVerify the body is well-formed JSON, or omit the body entirely if "
                           "the request doesn't have a payload.",
                .http_status = 400});
}

Error unsupported_media_type(std::string_view content_type) {
  return Error({.type = "unsupported_media_type",
                .message = "Request body must be sent as application/json.",
                .details = "Received Content-Type: \"" + string(content_type) +
                           "\".\nSend the request body as JSON with the header \"Content-Type: "
                           "application/json\", or omit the body entirely (and the Content-Type "
                           "header) if the request doesn't have a payload.",
                .http_status = 415});
}

Error method_not_allowed(std::string_view method, const std::vector<std::string>& allowed) {
  return Error({.type = "method_not_allowed",
                .message = "HTTP method " + string(method) + " is not allowed on this endpoint.",
                .details = "This endpoint accepts " + text::quote_list(allowed) + " only.",
                .http_status = 405});
}

Error event_stream_not_found(std::string_view path) {
  return Error({.type = "stream_not_found",
                .message = "Event stream \"" + string(path) + "\" was not found.",
                .details = "Streams are created when their agent instance receives its first "
                           "prompt or their workflow run starts.",
                .http_status = 404});
}

Error route_not_found(std::string_view method, std::string_view path) {
  return Error({.type = "route_not_found",
                .message = "No route matches " + string(method) + " " + string(path) + ".",
                .details = "See /openapi.json for the invocation routes this server exposes.",
                .http_status = 404});
}

Error payload_too_large(std::size_t limit_bytes) {
  return Error({.type = "payload_too_large",
                .message = "Request body is too large.",
                .details = "The limit is " + std::to_string(limit_bytes) + " bytes.",
                .http_status = 413});
}

Error server_busy(std::size_t queued) {
  return Error({.type = "server_busy",
                .message = "The server is busy.",
                .details = "Too many admitted runs are waiting (" + std::to_string(queued) +
                           "); retry shortly.",
                .http_status = 503});
}

// --- HTTP hardening ---------------------------------------------------------------------------

Error uri_too_long(std::size_t limit_bytes) {
  return Error({.type = "uri_too_long",
                .message = "Request URL is too long.",
                .details = "The limit is " + std::to_string(limit_bytes) + " bytes.",
                .http_status = 414});
}

Error headers_too_large(std::size_t limit_bytes) {
  return Error({.type = "headers_too_large",
                .message = "Request headers are too large.",
                .details = "The limit is " + std::to_string(limit_bytes) + " bytes.",
                .http_status = 431});
}

Error bad_framing(std::string_view problem) {
  return Error({.type = "invalid_request", .message = "Request is malformed.",
                .details = string(problem), .http_status = 400});
}

Error unsupported_content_encoding(std::string_view encoding) {
  return Error({.type = "unsupported_media_type",
                .message = "Unsupported Content-Encoding \"" + string(encoding.substr(0, 64)) +
                           "\".",
                .details = "Send the request body uncompressed (identity).",
                .http_status = 415});
}

Error streams_busy(std::string_view what, std::size_t limit) {
  return Error({.type = "server_busy",
                .message = "The server is busy.",
                .details = "Too many " + string(what) + " (the limit is " +
                           std::to_string(limit) + "); retry shortly.",
                .http_status = 503});
}

Error server_bind_failed(std::string_view host, int port, std::string_view reason) {
  return Error({.type = "server_bind_failed",
                .message = "Could not listen on " + string(host) + ":" + std::to_string(port) +
                           ": " + string(reason) + ".",
                .details = "Pick another port with --port, or stop the process using this one."});
}

Error start_no_build(std::string_view dir) {
  return Error({.type = "build_not_found",
                .message = "No hearth build found in " + string(dir) + ".",
                .details = "Run `hearth build` first, then `hearth start <output dir>` (default "
                           "dist/)."});
}

Error eve_invalid_request(std::string_view problem) {
  return Error({.type = "invalid_request", .message = string(problem), .http_status = 400});
}

Error eve_stale_token() {
  return Error({.type = "invalid_request",
                .message = "The continuationToken is not current for this session.",
                .details = "Use the continuationToken from the latest session.waiting event, or "
                           "omit it.",
                .http_status = 400});
}

Error eve_session_not_found() {
  return Error({.type = "session_not_found", .message = "Session not found.",
                .http_status = 404});
}

Error eve_session_not_active() {
  return Error({.type = "session_not_active", .message = "The session is no longer active.",
                .http_status = 409});
}

Error eve_session_busy() {
  return Error({.type = "session_not_ready",
                .message = "The session is not ready to accept messages yet.",
                .http_status = 409});
}

// --- dev and logs --server ---------------------------------------------------------------------

Error dev_already_running(long long pid, std::string_view pid_file) {
  return Error({.type = "dev_already_running",
                .message = "A dev server is already running for this project (pid " +
                           std::to_string(pid) + ").",
                .details = "Stop it with `kill " + std::to_string(pid) +
                           "`, or use the running server.",
                .dev = "Pid file: " + string(pid_file) + "."});
}

Error watch_failed(std::string_view path, std::string_view reason) {
  return Error({.type = "watch_failed",
                .message = "Cannot watch " + string(path) + ": " + string(reason) + ".",
                .details = "On Linux, raise fs.inotify.max_user_watches or max_user_instances."});
}

Error invalid_header(std::string_view header, std::string_view problem) {
  return Error({.type = "invalid_header",
                .message = "Invalid --header \"" + string(header) + "\": " + string(problem) + ".",
                .details = "Use curl syntax, e.g. --header 'Authorization: Bearer TOKEN'."});
}

Error logs_http_error(std::string_view run_id, std::string_view url, int status,
                      std::string_view body) {
  return Error({.type = "logs_http_error",
                .message = "Failed to read events for run " + string(run_id) + ": HTTP Error " +
                           std::to_string(status) + " at " + string(url) +
                           (body.empty() ? string() : ": " + string(body.substr(0, 2000))),
                .details = status == 404 ? "Verify the run id and that --server points at the "
                                           "server that ran it."
                                         : "Check the server's logs and the --header values."});
}

Error logs_fetch_failed(std::string_view run_id, std::string_view url, std::string_view reason) {
  return Error({.type = "logs_fetch_failed",
                .message = "Failed to read events for run " + string(run_id) + ": " +
                           string(reason) + " (" + string(url) + ").",
                .details = "Is the server running? Start one with `hearth dev`, or pass --server."});
}

Error logs_bad_response(std::string_view run_id, std::string_view url, std::string_view problem) {
  return Error({.type = "logs_bad_response",
                .message = "Failed to read events for run " + string(run_id) + ": " +
                           string(problem) + " (" + string(url) + ").",
                .details = "--server must point at a hearth or Flue server (Durable Streams)."});
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

Error gc_failed(std::string_view path, std::string_view reason) {
  return Error({.type = "gc_failed",
                .message = "Could not remove " + string(path) + ": " + string(reason) + ".",
                .details = "Check the permissions of .hearth/workspaces/ and run `hearth gc` again."});
}

} // namespace hearth::errors

// --- route auth, invokers and access (lib/server/auth, seeds 002 and 003) ----------------------

namespace hearth::errors {

Error unauthorized() {
  return Error({.type = "unauthorized",
                .message = "Authorization is required for this route.",
                .details = "Send credentials the server accepts (see docs/auth.md), e.g. "
                           "\"Authorization: Bearer <token>\".",
                .http_status = 401});
}

Error invalid_credentials(std::string_view reason) {
  return Error({.type = "unauthorized",
                .message = "Authorization is required for this route.",
                .details = "The credentials sent were not accepted.",
                .dev = string(reason),
                .http_status = 401});
}

Error access_denied(std::string_view target, std::string_view rule) {
  return Error({.type = "forbidden",
                .message = "The caller may not invoke " + string(target) + " (" + string(rule) + ").",
                .details = "Denied by access rule " + string(rule) + ".",
                .http_status = 403});
}

Error origin_not_allowed(std::string_view origin) {
  return Error({.type = "forbidden",
                .message = "Cross-origin requests from \"" + string(origin) + "\" are not allowed.",
                .details = "Add the origin to hearth.json \"server\": {\"cors\": {\"origins\": "
                           "[...]}}.",
                .http_status = 403});
}

Error host_not_allowed(std::string_view host) {
  return Error({.type = "forbidden",
                .message = "Host \"" + string(host) + "\" is not allowed.",
                .details = "Use a loopback address, or add the name to hearth.json \"server\": "
                           "{\"hosts\": [...]}.",
                .http_status = 403});
}

Error simple_body_refused(std::string_view content_type) {
  return Error({.type = "unsupported_media_type",
                .message = "Request body must be sent as application/json.",
                .details = "Received Content-Type: \"" + string(content_type) +
                           "\". Bodies a web page can send without a CORS preflight are refused.",
                .http_status = 415});
}

Error auth_config_invalid(std::string_view where, std::string_view problem) {
  return Error({.type = "auth_config_invalid",
                .message = string(where) + ": " + string(problem),
                .details = "See docs/auth.md for the auth entries hearth understands."});
}

// workspace grants

Error path_not_granted(std::string_view path, std::string_view grants) {
  return Error({.type = "path_not_granted",
                .message = "Path \"" + string(path) +
                           "\" is outside this invocation's workspace grant (" +
                           (grants.empty() ? std::string("nothing granted") : string(grants)) + ").",
                .details = "The agent's `access.workspace` grants this invoker only those paths; "
                           "see docs/auth.md \"Workspace grants\".",
                .http_status = 403});
}

Error grant_unenforceable(std::string_view backend, std::string_view grants) {
  return Error({.type = "grant_unenforceable",
                .message = "The workspace grant (" +
                           (grants.empty() ? std::string("nothing granted") : string(grants)) +
                           ") cannot be enforced for commands under sandbox backend \"" +
                           string(backend) + "\"; the command was not run.",
                .details = "Install bwrap (Debian package `bubblewrap`) and use the bubblewrap "
                           "backend, or grant this invoker `all` (docs/sandbox.md).",
                .http_status = 403});
}

} // namespace hearth::errors

// approvals ------------------------------------------------------------------------------------

namespace hearth::errors {

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

} // namespace hearth::errors

// --- lifecycle hooks and traces --------------------------------------------------------------

namespace hearth::errors {

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

} // namespace hearth::errors

// --- cancellation (issue 12 §6) ------------------------------------------------------------------

namespace hearth::errors {

Error turn_cancelled(std::string_view details) {
  return Error({.type = "cancelled",
                .message = "The turn was cancelled.",
                .details = details.empty() ? std::string("Send the next message to go on.")
                                           : string(details),
                .http_status = 409});
}

} // namespace hearth::errors

// --- MCP server (issue 13 §6) --------------------------------------------------------------------

namespace hearth::errors {

Error mcp_session_required() {
  return Error({.type = "mcp_session_required",
                .message = "Bad Request: Mcp-Session-Id header is required.",
                .details = "Send the Mcp-Session-Id the initialize response carried, or start a "
                           "session with an initialize request.",
                .http_status = 400});
}

Error mcp_session_not_found() {
  return Error({.type = "mcp_session_not_found",
                .message = "Session not found.",
                .details = "The MCP session ended or expired; start a new one with initialize.",
                .http_status = 404});
}

Error mcp_protocol_version_unsupported(std::string_view version, std::string_view supported) {
  return Error({.type = "mcp_protocol_version_unsupported",
                .message = "Bad Request: Unsupported protocol version \"" +
                           string(version.substr(0, 64)) + "\".",
                .details = "Supported versions: " + string(supported) + ".",
                .http_status = 400});
}

Error mcp_sessions_full(std::size_t limit) {
  return Error({.type = "server_busy",
                .message = "Too many MCP sessions (" + std::to_string(limit) + ") are open.",
                .details = "End unused sessions with DELETE /mcp, or retry after idle ones expire.",
                .http_status = 503});
}

Error mcp_not_acceptable(std::string_view accept) {
  return Error({.type = "mcp_not_acceptable",
                .message = "Not Acceptable: the client must accept application/json and "
                           "text/event-stream.",
                .details = "Received Accept: \"" + string(accept.substr(0, 200)) + "\".",
                .http_status = 406});
}

Error mcp_invalid_message(std::string_view problem) {
  return Error({.type = "mcp_invalid_message",
                .message = "Invalid JSON-RPC message: " + string(problem),
                .details = "POST one JSON-RPC 2.0 request, notification or response per request "
                           "(MCP Streamable HTTP).",
                .http_status = 400});
}

Error mcp_calls_busy(std::size_t limit) {
  return Error({.type = "server_busy",
                .message = "This MCP session already runs " + std::to_string(limit) +
                           " tool calls.",
                .details = "Wait for one to finish, or cancel one with notifications/cancelled.",
                .http_status = 503});
}

Error mcp_tool_arguments(std::string_view tool, std::string_view problem) {
  return Error({.type = "invalid_request",
                .message = "Invalid arguments for tool \"" + string(tool.substr(0, 128)) + "\": " +
                           string(problem),
                .details = "See the tool's inputSchema in tools/list.",
                .http_status = 400});
}

Error mcp_stdio_line_too_long(std::size_t limit) {
  return Error({.type = "mcp_message_too_large",
                .message = "A message on stdin is longer than " + std::to_string(limit) +
                           " bytes.",
                .details = "hearth mcp reads one JSON-RPC message per line; it stopped because "
                           "the stream cannot be resynchronized.",
                .http_status = 413});
}

} // namespace hearth::errors

// --- MCP client (lib/mcp, issue 13 §1-§4) ---------------------------------------------------------

namespace hearth::errors {

Error mcp_connection_failed(std::string_view connection, std::string_view problem) {
  return Error({.type = "mcp_connection_failed",
                .message = "Connection \"" + string(connection) + "\" could not start: " +
                           string(problem),
                .details = "Check the connection file (command, args, url) and run "
                           "`hearth connections list` to see the server's own error.",
                .http_status = 502});
}

Error mcp_protocol_error(std::string_view connection, std::string_view problem) {
  return Error({.type = "mcp_protocol_error",
                .message = "Connection \"" + string(connection) +
                           "\" broke the MCP protocol: " + string(problem),
                .details = "The connection was closed; it restarts on next use.",
                .http_status = 502});
}

Error mcp_timeout(std::string_view connection, std::string_view method, long long timeout_ms) {
  return Error({.type = "mcp_timeout",
                .message = "Connection \"" + string(connection) + "\" did not answer `" +
                           string(method) + "` within " + std::to_string(timeout_ms) + " ms.",
                .details = "Raise the connection's timeoutMs, or check the server.",
                .http_status = 504});
}

Error mcp_remote_error(std::string_view connection, std::string_view method, int code,
                       std::string_view message) {
  return Error({.type = "mcp_remote_error",
                .message = "Connection \"" + string(connection) + "\" failed `" + string(method) +
                           "`: " + string(message),
                .details = "JSON-RPC error " + std::to_string(code) + " from the server.",
                .http_status = 502});
}

Error mcp_closed(std::string_view connection, std::string_view method, std::string_view reason) {
  return Error({.type = "mcp_closed",
                .message = "Connection \"" + string(connection) + "\" ended during `" +
                           string(method) + "`: " + string(reason),
                .details = "It is restarted on next use.",
                .http_status = 502});
}

Error mcp_backing_off(std::string_view connection, long long retry_in_ms, std::string_view last) {
  return Error({.type = "mcp_backing_off",
                .message = "Connection \"" + string(connection) + "\" failed recently (" +
                           string(last) + "); it is retried in " + std::to_string(retry_in_ms) +
                           " ms.",
                .details = "Fix the server or wait for the retry.",
                .http_status = 503});
}

Error mcp_connection_not_found(std::string_view agent, std::string_view name,
                               const std::vector<std::string>& available) {
  return Error({.type = "mcp_connection_not_found",
                .message = "Agent \"" + string(agent) + "\" has no connection \"" + string(name) +
                           "\".",
                .details = "Its connections: " +
                           (available.empty() ? string("(none)") : text::quote_list(available)) +
                           ". Connections are agent/connections/<name>.json files.",
                .http_status = 404});
}

Error mcp_tool_not_found(std::string_view connection, std::string_view tool) {
  return Error({.type = "mcp_tool_not_found",
                .message = "Connection \"" + string(connection) + "\" has no tool \"" +
                           string(tool) + "\".",
                .details = "Run `hearth connections list` to see its tools (tools.allow and "
                           "tools.block apply).",
                .http_status = 404});
}

Error mcp_config_invalid(std::string_view connection, std::string_view problem) {
  return Error({.type = "mcp_config_invalid",
                .message = "Connection \"" + string(connection) + "\": " + string(problem),
                .details = "See docs/mcp.md for the connection file fields."});
}

Error mcp_http_error(std::string_view connection, int status, std::string_view problem) {
  return Error({.type = "mcp_http_error",
                .message = "Connection \"" + string(connection) + "\" answered " +
                           (status > 0 ? "HTTP " + std::to_string(status) : string("nothing")) +
                           ": " + string(problem),
                .details = "Check the connection's url, headers and auth.",
                .http_status = 502});
}

} // namespace hearth::errors

// --- Triggers: schedules, channels, durable dispatch (issue 14) -----------------------------------

namespace hearth::errors {

Error dispatch_conflict(std::string_view key) {
  return Error({.type = "dispatch_conflict",
                .message = "Idempotency key \"" + string(key.substr(0, 200)) +
                           "\" was already used for a different dispatch.",
                .details = "Reuse a key only to retry the same id and input; use a new key for "
                           "new input.",
                .http_status = 409});
}

Error dispatch_not_found(std::string_view dispatch_id) {
  return Error({.type = "dispatch_not_found",
                .message = "Dispatch \"" + string(dispatch_id.substr(0, 200)) + "\" does not exist.",
                .details = "Dispatch ids are returned by admission as dispatchId.",
                .http_status = 404});
}

Error dispatch_invalid(std::string_view problem) {
  return Error({.type = "dispatch_invalid",
                .message = "The dispatch cannot be admitted: " + string(problem),
                .details = "A dispatch names an agent, an instance id and a JSON input.",
                .http_status = 400});
}

Error schedule_not_found(std::string_view name, const std::vector<std::string>& available) {
  return Error({.type = "schedule_not_found",
                .message = "Schedule \"" + string(name.substr(0, 200)) + "\" is not registered.",
                .details = "Verify the schedule name is correct.",
                .dev = "Available schedules: " + text::quote_list(available) + ".",
                .http_status = 404});
}

Error channel_signature_invalid(std::string_view reason) {
  return Error({.type = "signature_invalid",
                .message = "The request signature could not be verified.",
                .details = string(reason),
                .http_status = 401});
}

Error channel_payload_invalid(std::string_view problem) {
  return Error({.type = "invalid_payload",
                .message = "The delivery payload is malformed.",
                .details = string(problem),
                .http_status = 400});
}

Error channel_media_type(std::string_view content_type, std::string_view expected) {
  return Error({.type = "unsupported_media_type",
                .message = "Unsupported Content-Type \"" + string(content_type.substr(0, 200)) +
                           "\".",
                .details = "This channel route accepts " + string(expected) + ".",
                .http_status = 415});
}

Error channel_secret_missing(std::string_view channel, std::string_view env) {
  return Error({.type = "channel_not_configured",
                .message = "Channel \"" + string(channel) + "\" is not configured.",
                .details = "Deliveries are refused until its secret is set.",
                .dev = "Set the environment variable " + string(env) + " (the channel's secretEnv).",
                .http_status = 503});
}

Error channel_handler_failed(std::string_view channel, std::string_view problem) {
  return Error({.type = "channel_handler_failed",
                .message = "The handler of channel \"" + string(channel) + "\" failed.",
                .details = "See the server log.",
                .dev = string(problem),
                .http_status = 502});
}

} // namespace hearth::errors

// --- Durable runs (issue 15 §1) ---------------------------------------------------------------

namespace hearth::errors {

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

// triggers (issue 14, round 2)

namespace hearth::errors {

Error dispatch_stopped() {
  return Error({.type = "dispatch_stopped",
                .message = "The server is shutting down; the dispatch was not admitted.",
                .details = "Retry against the next server; nothing was recorded.",
                .http_status = 503});
}

Error schedule_task_mode(std::string_view schedule, std::string_view tool) {
  return Error({.type = "schedule_task_mode",
                .message = "Schedule \"" + string(schedule.substr(0, 200)) +
                           "\" runs in task mode: the approval for tool \"" +
                           string(tool.substr(0, 200)) + "\" was denied.",
                .details = "Scheduled fires cannot park for a human (seed 003). Drop the tool's "
                           "approval requirement, or let the schedule hand the work to a session.",
                .http_status = 403});
}

} // namespace hearth::errors

// postgres store (issue 15) ------------------------------------------------------------------

namespace hearth::errors {

Error store_postgres_foreign(std::string_view location) {
  return Error({.type = "store_corrupt",
                .message = "The PostgreSQL database " + std::string(location) +
                           " has tables hearth did not create.",
                .details = "Point the store at an empty database or schema (e.g. "
                           "?options=-csearch_path%3Dhearth); hearth will not write into another "
                           "program's tables.",
                .http_status = 503});
}

Error store_text_nul() {
  return Error({.type = "invalid_request",
                .message = "A value holds a NUL byte, which the PostgreSQL store cannot keep.",
                .details = "Remove the NUL byte (\\u0000) from the id or text.",
                .http_status = 400});
}

} // namespace hearth::errors

// --- evals (lib/eval, `hearth eval`, docs/evals.md; issue 16 §4) -------------------------------

namespace hearth::errors {

Error eval_config(std::string_view type, std::string_view message, std::string_view hint) {
  return Error({.type = std::string(type),
                .message = std::string(message),
                .details = std::string(hint),
                .http_status = 400,
                .exit_code = ExitCode::run_failed}); // Eve: 2 = configuration error
}

Error eval_invalid(std::string_view path, std::string_view problem) {
  return Error({.type = "eval_invalid",
                .message = std::string(path.substr(0, 500)) + ": " +
                           std::string(problem.substr(0, 1000)),
                .details = "Fix the eval file (docs/evals.md describes its format).",
                .http_status = 400});
}

Error eval_timeout(std::string_view id, long long ms) {
  return Error({.type = "eval_timeout",
                .message = "Eval \"" + std::string(id.substr(0, 200)) + "\" ran past its timeout of " +
                           std::to_string(ms) + " ms.",
                .details = "Raise --timeout (or the eval's timeoutMs), or make the agent faster.",
                .http_status = 504});
}

Error eval_target_failed(std::string_view id, std::string_view what) {
  return Error({.type = "eval_target_failed",
                .message = "Eval \"" + std::string(id.substr(0, 200)) + "\": " +
                           std::string(what.substr(0, 2000)),
                .details = "Check the target's logs (hearth logs, or the server's stderr).",
                .http_status = 502});
}

Error eval_script_failed(std::string_view id, std::string_view what, std::string_view details) {
  return Error({.type = "eval_script_failed",
                .message = "Eval \"" + std::string(id.substr(0, 200)) + "\" failed: " +
                           std::string(what.substr(0, 2000)),
                .details = std::string(details.substr(0, 4000)),
                .http_status = 500});
}

Error eval_judge_failed(std::string_view problem) {
  return Error({.type = "eval_judge_failed",
                .message = "The LLM judge gave no score: " + std::string(problem.substr(0, 1000)),
                .details = "The judge must call `finish` with {score, reason} or answer that JSON; "
                           "check the judge's model (docs/evals.md \"LLM judge\").",
                .http_status = 502});
}

} // namespace hearth::errors

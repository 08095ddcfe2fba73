// The error catalogue (Flue's errors.ts): every user-facing error is built here from data, so the
// CLI and the HTTP server word the same failure the same way. Call sites pass data only.
#pragma once

#include "core/error.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace hearth::errors {

/// A command-line usage mistake (bad flag, missing argument); exit 1.
Error usage(std::string_view message, std::string_view hint = "Run `hearth --help` for usage.");

/// `hearth <word>` where <word> is no command; `suggestion` may be empty.
Error unknown_command(std::string_view command, std::string_view suggestion);

/// A flag value that cannot be used, e.g. `--payload` that is not JSON.
Error invalid_flag(std::string_view flag, std::string_view problem, std::string_view hint);

/// An unexpected failure (a bug or an environment problem); HTTP 500.
Error internal_error(std::string_view what);

/// A file could not be read or written.
Error io_error(std::string_view action, std::string_view path, std::string_view reason);

// --- configuration (hearth.json, flags, .env files) -------------------------------------------

/// `hearth info` in a directory with no hearth.json and none of agent/, agents/, workflows/ or a
/// flat instructions.md: nothing to report; exit 1 (as `eve info` outside an agent project).
Error no_project(std::string_view root);

/// `--config FILE` names a file that does not exist.
Error config_not_found(std::string_view path);

/// hearth.json is not valid JSON; `where` is `file:line:column`.
Error config_syntax(std::string_view where, std::string_view problem);

/// hearth.json breaks its schema; `field` is a JSON pointer such as `/port`.
Error config_invalid(std::string_view file, std::string_view field, std::string_view problem);

/// `output` resolves onto the project root or the source root (seed page 16).
Error output_is_root(std::string_view which, std::string_view path);

/// `--env` was given more than once.
Error env_flag_repeated();

/// `--env FILE` names a file that does not exist.
Error env_file_not_found(std::string_view path);

/// A line of an env file cannot be parsed; `where` is `file:line`.
Error env_syntax(std::string_view where, std::string_view problem);

// --- init -------------------------------------------------------------------------------------

/// `hearth init --template NAME` with no such template.
Error template_not_found(std::string_view name, const std::vector<std::string>& available);

/// `hearth init` would overwrite files; `conflicts` are project-relative paths.
Error init_conflicts(std::string_view dir, const std::vector<std::string>& conflicts);

/// `hearth init .` in a non-empty directory that is not a project.
Error init_dir_not_empty(std::string_view dir);

// --- runtime ------------------------------------------------------------------------------

/// A workflow template references `{{payload.x}}` and the payload has no `x`.
Error template_missing_key(std::string_view workflow, std::string_view path);

/// A workflow template is malformed (unterminated `{{`, not a payload expression).
Error template_invalid(std::string_view workflow, std::string_view problem);

/// A built-in file tool was given a path outside the session workspace.
Error path_outside_workspace(std::string_view path);

/// No model is configured for `agent` (agent.json, workflow, hearth.json or --model).
Error model_missing(std::string_view agent);

/// A turn of `agent` used `max_steps` model calls without finishing.
Error max_steps_exceeded(std::string_view agent, int max_steps);

/// The model called `give_up` with `reason`.
Error agent_gave_up(std::string_view agent, std::string_view reason);

/// The model's result failed the schema `attempts` times.
Error result_invalid(std::string_view agent, int attempts);

/// No workflow `name`; `available` lists the registered ones (Flue's workflow_not_found).
Error workflow_not_found(std::string_view name, const std::vector<std::string>& available);

/// No agent `name`; `available` lists the registered ones (Flue's agent_not_found).
Error agent_not_found(std::string_view name, const std::vector<std::string>& available);

/// The runtime child did not report ready; `reason` says why (exit status, timeout, its error).
Error runtime_not_ready(std::string_view reason);

// --- providers (model strings, HTTP model clients, mock) ---------------------------------------

/// A model string that is not `provider/model`.
Error model_invalid(std::string_view model_string);

/// A provider id that is neither built in nor declared in hearth.json `providers`.
Error provider_unknown(std::string_view id, const std::vector<std::string>& available);

/// A hearth.json provider entry that cannot be used (e.g. an unknown `api`).
Error provider_config_invalid(std::string_view id, std::string_view problem);

/// The provider's API key variable is unset or empty; the hint names it ("Set OPENAI_API_KEY").
Error provider_missing_key(std::string_view provider, std::string_view env_var);

/// The provider rejected the key (401/403); the hint names the variable the key came from.
Error provider_auth_failed(std::string_view provider, int status, std::string_view env_var,
                           std::string_view provider_message);

/// The provider rejected the request (400, 404, 422...); quotes the provider's message.
Error provider_bad_request(std::string_view provider, int status,
                           std::string_view provider_message);

/// 429 still returned after `attempts` tries (or a retry-after too long to wait).
Error provider_rate_limited(std::string_view provider, std::string_view provider_message,
                            int attempts);

/// 429 `insufficient_quota`: billing, not load; never retried.
Error provider_quota_exceeded(std::string_view provider, std::string_view provider_message);

/// 5xx / 529 (overloaded) still returned after `attempts` tries.
Error provider_unavailable(std::string_view provider, int status,
                           std::string_view provider_message, int attempts);

/// Any other unexpected HTTP status.
Error provider_http_error(std::string_view provider, int status,
                          std::string_view provider_message);

/// No HTTP exchange: connection refused, DNS, TLS or a timeout; `url` is redacted.
Error provider_connection_failed(std::string_view provider, std::string_view url,
                                 std::string_view reason, int attempts);

/// The response stream could not be understood (bad SSE framing, non-JSON data, no answer).
Error provider_stream_invalid(std::string_view problem);

/// The provider reported an error inside an accepted stream (e.g. Anthropic `overloaded_error`).
Error provider_stream_error(std::string_view provider, std::string_view provider_message);

/// `mock/<model>` with a model mock does not have.
Error mock_model_unknown(std::string_view model);

/// mock/script has no script: neither HEARTH_MOCK_SCRIPT nor a mock.jsonl exists.
Error mock_script_not_found(std::string_view path);

/// A mock script line is not a step; `where` is `file:line`.
Error mock_script_invalid(std::string_view where, std::string_view problem);

/// The model asked for step `step` (1-based) of a script that has fewer.
Error mock_script_exhausted(std::string_view path, std::size_t steps, std::size_t step);

// --- store (runs, event streams, sessions, submissions; lib/store) ----------------------------

/// A store location that is neither `sqlite:<path>` nor `memory:`.
Error store_location_invalid(std::string_view location);

/// The database file (or its directory) could not be opened or created.
Error store_open_failed(std::string_view path, std::string_view reason);

/// The file exists but is not a readable SQLite database (truncated, garbage, encrypted).
Error store_corrupt(std::string_view path, std::string_view reason);

/// The file is a SQLite database that some other program owns.
Error store_foreign(std::string_view path);

/// The database was written by a newer hearth (schema `found` > `supported`).
Error store_too_new(std::string_view path, long long found, long long supported);

/// A database operation failed after the store opened (disk full, locked too long, I/O error).
Error store_failed(std::string_view path, std::string_view operation, std::string_view reason);

/// A Durable Streams offset that is not `-1`, `now` or `<16 digits>_<16 digits>`; HTTP 400.
Error invalid_offset(std::string_view text);

/// No event stream at `path` (e.g. `agents/triage/t1` before its first prompt); HTTP 404.
Error stream_not_found(std::string_view path);

/// An append to a stream that was closed (its run ended); HTTP 409.
Error stream_closed(std::string_view path);

/// No run with this id; HTTP 404 (Flue's wording).
Error run_not_found(std::string_view run_id);

/// A session save whose expected version is stale: someone saved in between; HTTP 409.
Error session_conflict(std::string_view session, long long expected, long long actual);

/// No saved session under this key; HTTP 404.
Error session_not_found(std::string_view session);

/// No submission with this id; HTTP 404.
Error submission_not_found(std::string_view submission_id);

// --- process, signals and ipc (core/process, core/signals, lib/ipc) ---------------------------

/// A child process could not be started; `reason` is the OS error ("No such file or directory").
Error spawn_failed(std::string_view program, std::string_view reason);

/// A second core::signals::SignalPipe while one is alive (the handler has one pipe).
Error signal_pipe_in_use();

/// The other side of a JSON-lines connection sent something that is not a protocol message;
/// `line` is quoted up to its first 200 bytes. `peer` names the other side ("the runtime").
Error ipc_protocol(std::string_view peer, std::string_view problem, std::string_view line);

/// The connection ended while a request waited (EOF, protocol error, write failure, close());
/// `reason` says why, e.g. "it exited with exit code 3".
Error ipc_closed(std::string_view peer, std::string_view method, std::string_view reason);

/// No reply to `method` within `timeout_ms` milliseconds.
Error ipc_timeout(std::string_view peer, std::string_view method, long long timeout_ms);

/// The other side answered `method` with a JSON-RPC error that is not a hearth error.
Error ipc_remote(std::string_view peer, std::string_view method, int code,
                 std::string_view message);

// --- discovery, manifest and build ----------------------------------------------------------

/// A compiled manifest cannot be used: missing, not JSON, or of another kind or version.
Error manifest_invalid(std::string_view path, std::string_view problem);

/// `hearth build --output DIR` would write over something it must not (the project, its sources,
/// or a directory that is not an earlier build output).
Error build_output_unsafe(std::string_view path, std::string_view reason);

/// `hearth build` saw the project's inputs change between its compile and the end of its copy
/// (`what`: the first file seen changed, or "the input tree"): the output would not match its
/// manifest, so none is written.
Error build_inputs_changed(std::string_view what);

/// `hearth build` found errors; the report was printed and written to `diagnostics_path`.
Error build_failed(std::size_t errors, std::size_t warnings, std::string_view diagnostics_path);

// --- workflow scripts (runtime/program_runner, docs/workflow-protocol.md) ----------------------

/// A workflow script exited (or closed its stdout) before answering `workflow.run`; `status` is
/// "exit code 3" or "signal 9 (Killed)"; `stderr_tail` is its last stderr lines (may be empty).
Error workflow_script_exited(std::string_view workflow, std::string_view status,
                             std::string_view stderr_tail);

/// A workflow script did not answer `workflow.run` within `timeout_ms`; its group was killed.
/// HTTP 504.
Error workflow_timeout(std::string_view workflow, long long timeout_ms);

/// A workflow script wrote something on stdout that is not a JSON-RPC message; `problem` is the
/// protocol error and `line` the offending line (quoted up to 200 bytes).
Error workflow_protocol_error(std::string_view workflow, std::string_view problem,
                              std::string_view line);

/// A workflow script answered `workflow.run` with an error that is not a hearth error (an
/// exception in the script); `details` carries its traceback or data when it sent one.
Error workflow_failed(std::string_view workflow, std::string_view message,
                      std::string_view details);

// --- server (lib/server: Flue and Eve HTTP routes, `hearth start`) ----------------------------

/// A request that fails validation (bad query value, body shape); HTTP 400, Flue's wording
/// "Request is malformed." with `problem` as the details.
Error invalid_request(std::string_view problem);

/// A request body that is not JSON; `parser_message` is the parser's complaint. HTTP 400.
Error invalid_json(std::string_view parser_message);

/// A body sent with a content type other than application/json; HTTP 415.
Error unsupported_media_type(std::string_view content_type);

/// `method` on a route that accepts only `allowed` (e.g. {"GET", "HEAD"}); HTTP 405. The server
/// adds the `Allow` header.
Error method_not_allowed(std::string_view method, const std::vector<std::string>& allowed);

/// A Durable Streams read of a stream that does not exist (Flue's wording); HTTP 404.
Error event_stream_not_found(std::string_view path);

/// No route matches; HTTP 404.
Error route_not_found(std::string_view method, std::string_view path);

/// A request body larger than `limit_bytes`; HTTP 413.
Error payload_too_large(std::size_t limit_bytes);

/// The background executor's queue is full; HTTP 503 (retry later).
Error server_busy(std::size_t queued);

// --- HTTP hardening (lib/server: limits and framing; docs/http.md "Limits") ------------------

/// The request target is longer than `limit_bytes` (server.maxUrlBytes); HTTP 414.
Error uri_too_long(std::size_t limit_bytes);

/// The request line and headers exceed `limit_bytes` (server.maxHeaderBytes); HTTP 431.
Error headers_too_large(std::size_t limit_bytes);

/// A request whose framing cannot be trusted (conflicting Content-Length, Content-Length with
/// Transfer-Encoding, a bad chunk); `problem` says which. HTTP 400, type invalid_request.
Error bad_framing(std::string_view problem);

/// A request body with a Content-Encoding hearth does not decode (Flue and Eve decode none);
/// HTTP 415.
Error unsupported_content_encoding(std::string_view encoding);

/// Too many parked readers (server.maxStreams) or connections (server.maxConnections); HTTP 503
/// with type server_busy.
Error streams_busy(std::string_view what, std::size_t limit);

/// The server could not bind `host:port`; `reason` is the OS error.
Error server_bind_failed(std::string_view host, int port, std::string_view reason);

/// `hearth start DIR` where DIR holds no `hearth build` output.
Error start_no_build(std::string_view dir);

/// Eve's 400 answers (eve 0.80.1 wording): `problem` is one of Eve's validation sentences,
/// chosen by the caller from the constants in server/eve_errors.hpp.
Error eve_invalid_request(std::string_view problem);

/// Eve: a follow-up with a continuationToken that is not the session's current one; HTTP 400.
Error eve_stale_token();

/// Eve: no session with this id (stream or follow-up); HTTP 404.
Error eve_session_not_found();

/// Eve: the session was reset or ended and takes no more messages; HTTP 409.
Error eve_session_not_active();

/// Eve: the session is busy (a turn holds it) past the wait bound; HTTP 409.
Error eve_session_busy();

// --- dev and logs --server (lib/watch, cli/commands/dev, cli/logs_server) ---------------------

/// A second `hearth dev` on a project whose pid file names a live process (seed page 19).
Error dev_already_running(long long pid, std::string_view pid_file);

/// The file watcher could not be set up or lost its source tree; `reason` is the OS error.
Error watch_failed(std::string_view path, std::string_view reason);

/// A `--header` value that is not `Name: value`, repeats a name, or sets the reserved `Accept`.
Error invalid_header(std::string_view header, std::string_view problem);

/// `hearth logs --server`: the server answered `status` for `url` (`body` quoted as sent).
Error logs_http_error(std::string_view run_id, std::string_view url, int status,
                      std::string_view body);

/// `hearth logs --server`: no answer from `url` (connection refused, timeout, ...).
Error logs_fetch_failed(std::string_view run_id, std::string_view url, std::string_view reason);

/// `hearth logs --server`: the server sent something that is not a Durable Streams page.
Error logs_bad_response(std::string_view run_id, std::string_view url, std::string_view problem);

// --- sandbox (lib/sandbox, docs/sandbox.md) ------------------------------------------------------

/// The sandbox backend `backend` cannot run here (`reason`: e.g. bwrap is not installed).
Error sandbox_unavailable(std::string_view backend, std::string_view reason);

/// `sandbox.backend` names no backend hearth has.
Error sandbox_unknown_backend(std::string_view backend);

/// A `sandbox` setting has the wrong type or value (`field` e.g. "limits.cpuSeconds").
Error sandbox_config_invalid(std::string_view field, std::string_view problem);

// --- hardening: run states, floods, gc (issue 9) ---------------------------------------------

/// A run ended because its runtime was stopped (signal, supervisor gone); `details` says how.
/// Type `cancelled`, the terminal error docs/runtime.md documents.
Error run_cancelled(std::string_view details);

/// `hearth gc`: `path` could not be removed (`reason` is the OS error).
Error gc_failed(std::string_view path, std::string_view reason);

} // namespace hearth::errors

// --- route auth, invokers and access (lib/server/auth, seeds 002 and 003) ----------------------

namespace hearth::errors {

/// No auth entry accepted the request (or none is configured: fail closed); HTTP 401. Eve's
/// wording ("Authorization is required for this route.", code "unauthorized").
Error unauthorized();

/// A credential was presented and is wrong (bad token, bad signature, expired JWT); HTTP 401.
/// `reason` is developer-only context (dev envelopes and logs), never the secret.
Error invalid_credentials(std::string_view reason);

/// An authenticated caller may not do this; `rule` names the rule that denied; HTTP 403.
Error access_denied(std::string_view target, std::string_view rule);

/// A browser request from an Origin not in `server.cors.origins`; HTTP 403.
Error origin_not_allowed(std::string_view origin);

/// A request whose Host is not a name this server answers to (DNS rebinding); HTTP 403.
Error host_not_allowed(std::string_view host);

/// A body a page can send without CORS preflight (text/plain, forms) on a JSON route; HTTP 415.
Error simple_body_refused(std::string_view content_type);

/// An `auth` entry (hearth.json, agent/channels/eve.json) that cannot be used; `where` names it.
Error auth_config_invalid(std::string_view where, std::string_view problem);

// workspace grants (access.workspace; docs/auth.md "Workspace grants")

/// A file tool or workflow fs call named `path`, which lies outside the invocation's workspace
/// grant (`grants`: the granted paths, e.g. "customers/acme"); HTTP 403.
Error path_not_granted(std::string_view path, std::string_view grants);

/// A command (bash, an executable tool, workflow `shell`) of an invocation whose workspace grant
/// is not `all` would run under a backend that cannot confine it (`none`); it is not run.
Error grant_unenforceable(std::string_view backend, std::string_view grants);

} // namespace hearth::errors

// approvals (policy pipeline, durable approvals, ask_question; issue 12 §1-3, seed 001) ---------

namespace hearth::errors {

/// A tool call required approval and nobody could decide it (`hearth run` without --approve,
/// a headless run with no decision route); names the tool and the Approval Request. Exit 1.
Error approval_required(std::string_view tool, std::string_view approval_id);

/// No Approval Request `approval_id` belongs to this agent instance or run; HTTP 404.
Error approval_not_found(std::string_view approval_id);

/// The Approval Request was already decided (`status` says how); HTTP 409.
Error approval_already_decided(std::string_view approval_id, std::string_view status);

/// A decision body that is not {"decision": "approve"|"deny", "reason"?: string}; HTTP 400.
Error approval_decision_invalid(std::string_view problem);

/// agent.json `policy` that cannot be used; `problem` says where (policy[2].decision, ...).
Error policy_invalid(std::string_view problem);

} // namespace hearth::errors

// --- lifecycle hooks and traces (lib/runtime/hooks, trace, otlp; issue 12 §4-5) ----------------

namespace hearth::errors {

/// A `request` hook answered {"reject": reason}: the turn does not start; HTTP 403.
Error hook_rejected(std::string_view agent, std::string_view hook, std::string_view reason);

/// A hook could not run or answered badly (`problem`); reported as an `error` event, never
/// thrown to the turn.
Error hook_failed(std::string_view hook, std::string_view problem);

} // namespace hearth::errors

// --- cancellation (issue 12 §6, docs/runtime.md "Cancellation") --------------------------------

namespace hearth::errors {

/// A turn stopped because it was cancelled (Eve `…/cancel`, Ctrl-C in `hearth connect`, a run's
/// cancellation or timeout). Type `cancelled`, as run_cancelled: Eve projects the errored
/// operation as `turn.cancelled`. `details` says who cancelled, when known; HTTP 409.
Error turn_cancelled(std::string_view details = {});

} // namespace hearth::errors

// --- MCP server (issue 13 §6, docs/mcp.md "hearth as an MCP server") ----------------------------

namespace hearth::errors {

/// A request to /mcp without `Mcp-Session-Id` after initialize; HTTP 400.
Error mcp_session_required();

/// `Mcp-Session-Id` names no live session (never issued, ended by DELETE, or expired); HTTP 404:
/// the client starts a new session with initialize.
Error mcp_session_not_found();

/// `MCP-Protocol-Version` names a version hearth does not speak; `supported` lists them. HTTP 400.
Error mcp_protocol_version_unsupported(std::string_view version, std::string_view supported);

/// Every MCP session slot is taken by a live session (`limit` of them); HTTP 503.
Error mcp_sessions_full(std::size_t limit);

/// The Accept header admits neither application/json nor text/event-stream; HTTP 406.
Error mcp_not_acceptable(std::string_view accept);

/// A POST body that is not one JSON-RPC message (not JSON, an array/batch, or no `jsonrpc`);
/// HTTP 400.
Error mcp_invalid_message(std::string_view problem);

/// A session already runs `limit` tool calls; the next one waits for one to finish.
Error mcp_calls_busy(std::size_t limit);

/// An argument of a tool call the tool cannot use (`problem`); a tool result with isError.
Error mcp_tool_arguments(std::string_view tool, std::string_view problem);

/// A line on `hearth mcp`'s stdin longer than `limit` bytes: the stream cannot be resynchronized.
Error mcp_stdio_line_too_long(std::size_t limit);

} // namespace hearth::errors

// --- MCP client (lib/mcp: connections, issue 13 §1-§4, docs/mcp.md "Connections (client)") -----

namespace hearth::errors {

/// Connection `connection` could not be started or initialized: `problem` says why (spawn
/// failure, the server exited, no common protocol version, a bad URL). HTTP 502.
Error mcp_connection_failed(std::string_view connection, std::string_view problem);

/// The server broke the protocol (`problem`: not JSON, an oversized line, a result of the wrong
/// shape, too many tools). The connection is closed (fail closed). HTTP 502.
Error mcp_protocol_error(std::string_view connection, std::string_view problem);

/// No answer to `method` within `timeout_ms` milliseconds. HTTP 504.
Error mcp_timeout(std::string_view connection, std::string_view method, long long timeout_ms);

/// The server answered `method` with a JSON-RPC error. HTTP 502.
Error mcp_remote_error(std::string_view connection, std::string_view method, int code,
                       std::string_view message);

/// The connection ended while `method` waited (`reason`: the process exited, a transport
/// failure). HTTP 502.
Error mcp_closed(std::string_view connection, std::string_view method, std::string_view reason);

/// The connection failed recently and waits `retry_in_ms` before the next start; `last` is the
/// last failure. HTTP 503.
Error mcp_backing_off(std::string_view connection, long long retry_in_ms, std::string_view last);

/// No connection `name` on agent `agent`; `available` lists its connections. HTTP 404.
Error mcp_connection_not_found(std::string_view agent, std::string_view name,
                               const std::vector<std::string>& available);

/// Connection `connection` has no tool `tool`. HTTP 404.
Error mcp_tool_not_found(std::string_view connection, std::string_view tool);

/// A connection file field the client cannot use (`problem`), e.g. auth.tokenEnv unset. HTTP 500.
Error mcp_config_invalid(std::string_view connection, std::string_view problem);

/// An HTTP answer the Streamable HTTP transport cannot use (status `status`, `problem`). HTTP 502.
Error mcp_http_error(std::string_view connection, int status, std::string_view problem);

} // namespace hearth::errors

// --- Triggers: schedules, channels, durable dispatch (issue 14, docs/triggers.md) ---------------

namespace hearth::errors {

/// An idempotency key already admitted a dispatch with a different instance id or input; HTTP 409.
Error dispatch_conflict(std::string_view key);

/// No dispatch `dispatch_id`; HTTP 404.
Error dispatch_not_found(std::string_view dispatch_id);

/// A dispatch that cannot be admitted (`problem`: no agent, bad id, ...); HTTP 400.
Error dispatch_invalid(std::string_view problem);

/// No schedule `name` (`available`: the discovered ones); HTTP 404, exit 1.
Error schedule_not_found(std::string_view name, const std::vector<std::string>& available);

/// A channel delivery whose signature (or signed timestamp) does not verify; HTTP 401. The
/// message never says which part failed beyond `reason`'s fixed words.
Error channel_signature_invalid(std::string_view reason);

/// A verified channel delivery whose body cannot be parsed as the provider sends it; HTTP 400.
Error channel_payload_invalid(std::string_view problem);

/// A channel delivery with a Content-Type the provider never sends there (`expected`); HTTP 415.
Error channel_media_type(std::string_view content_type, std::string_view expected);

/// A channel whose secret env var (`env`) is unset or empty: deliveries fail closed; HTTP 503.
Error channel_secret_missing(std::string_view channel, std::string_view env);

/// A channel `handler` that failed or answered badly (`problem`); HTTP 502.
Error channel_handler_failed(std::string_view channel, std::string_view problem);

} // namespace hearth::errors

// --- Durable runs (issue 15 §1, docs/runtime.md "Durable runs") -------------------------------

namespace hearth::errors {

/// A run's runtime exited before the run finished and it is not resumed (not resumable, or out
/// of attempts); `details` says which process and attempt. Type `runtime_crashed`.
Error runtime_crashed(std::string_view details);

/// A durable run stopped at a step boundary because its runtime is shutting down gracefully;
/// the run stays active and the next runtime resumes it. Never a run's end. Type `suspended`.
Error run_suspended();

/// Another runtime took run `run_id` over (its fence moved): this process stops writing it.
/// Never a run's end. Type `run_taken_over`.
Error run_taken_over(std::string_view run_id);

} // namespace hearth::errors

// triggers (issue 14, round 2)

namespace hearth::errors {

/// The server is shutting down: no new dispatch is admitted (nothing was recorded); HTTP 503.
Error dispatch_stopped();

/// An Approval Request in a scheduled fire: schedules run in task mode (seed 003) and cannot
/// park, so the request is denied at once (`tool` names the tool). Type `schedule_task_mode`.
Error schedule_task_mode(std::string_view schedule, std::string_view tool);

} // namespace hearth::errors

// postgres store (issue 15) ------------------------------------------------------------------

namespace hearth::errors {

/// The PostgreSQL database (`location`, password redacted) holds tables hearth did not create
/// (a `runs` table but no `hearth_schema` of ours): hearth never writes into them. Type
/// `store_corrupt`, HTTP 503, as for a foreign SQLite file.
Error store_postgres_foreign(std::string_view location);

/// A value to store holds a NUL byte, which PostgreSQL text cannot: refused (never cut short);
/// type `invalid_request`, HTTP 400.
Error store_text_nul();

} // namespace hearth::errors

// Programmable workflows (issue 5): one script process per run, in its own process group, speaking
// the ctx protocol (JSON-RPC 2.0 over its stdin/stdout, docs/workflow-protocol.md). The runtime
// asks `workflow.run`; the script calls back `agent.init`, `session.prompt`, `shell`, `log`, ...
#pragma once

#include "runtime/runtime.hpp"

#include <chrono>
#include <cstddef>

namespace hearth::runtime {

/// Protocol version given to scripts as HEARTH_PROTOCOL.
inline constexpr int k_workflow_protocol_version = 1;
/// Lines of a script's stderr quoted when it exits before replying.
inline constexpr std::size_t k_stderr_tail_lines = 20;
/// How long a script may take to exit after it replied (or closed its stdout) before its process
/// group is stopped.
inline constexpr std::chrono::milliseconds k_script_exit_grace{2000};

/// Runs programmable workflow `def` as run `run_id` with `payload`: starts `def.command` with cwd
/// at the project root and the tool environment (no provider keys) plus HEARTH_RUN_ID,
/// HEARTH_WORKFLOW and HEARTH_PROTOCOL; sends `workflow.run {runId, workflow, payload}`, serves
/// the script's ctx calls into `events` until it replies, and returns the reply's result. Each
/// stderr line becomes a `log` event at level warn. The script's process group never outlives
/// the call. Throws hearth::Error:
/// - the error the script replied with: its own hearth error type when it passed one on
///   (code -32000 with data.type), else workflow_failed;
/// - workflow_script_exited (exit status + last 20 stderr lines) when it ended before replying;
/// - workflow_timeout when `options.timeout_ms` (else `def.timeout_ms`) passed (the ctx calls in
///   flight are cancelled with the script, so their tools do not outlive the deadline);
/// - errors::turn_cancelled (type `cancelled`) when `options.cancel` was stopped (the script's
///   group gets SIGTERM at once);
/// - workflow_protocol_error quoting a stdout line that is not a JSON-RPC message;
/// - spawn_failed when the interpreter cannot start.
nlohmann::json run_program(const Runtime& runtime, const WorkflowDef& def,
                           const std::string& run_id, const nlohmann::json& payload,
                           const ProgramRunOptions& options, EventLog& events);

/// Installs run_program as `runtime`'s ProgramRunner (call wherever a Runtime is built). Makes
/// this process a child subreaper (process::become_subreaper) so killed groups are fully reaped.
void install_program_runner(Runtime& runtime);

} // namespace hearth::runtime

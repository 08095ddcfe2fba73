// The error catalogue (declared in core/errors.hpp), child-process part: spawn, the signal pipe,
// JSON-lines IPC (lib/ipc) and workflow scripts (runtime/program_runner), which share the
// printable excerpt of a bad protocol line.
#include "core/errors.hpp"

#include <algorithm>

namespace hearth::errors {

using std::string;

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

} // namespace hearth::errors

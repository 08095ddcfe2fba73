// The child's side of the CLI <-> runtime protocol (docs/ipc.md): JSON-RPC 2.0 over its
// stdin/stdout. Notifications: `ready`, `event` (tagged with the request id), `log`. Requests:
// `workflow.run`, `agent.prompt`, `shutdown`.
#pragma once

#include "runtime/runtime.hpp"

namespace hearth::runtime {

/// Serves requests on fds 0 and 1 until EOF or `shutdown`, then returns the exit code. Sends
/// `ready` first. SIGINT/SIGTERM end every active run this process owns as errored `cancelled`
/// before exiting 128+signo. Nothing else may write to stdout while it runs.
int serve_stdio(Runtime& runtime);

} // namespace hearth::runtime

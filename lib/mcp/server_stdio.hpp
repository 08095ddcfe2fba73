// `hearth mcp`'s transport (issue 13 §6; MCP spec 2025-11-25 "Transports / stdio"): one MCP
// session over the process's stdin/stdout, newline-delimited JSON-RPC, logs on stderr only.
#pragma once

#include "mcp/server.hpp"

#include <cstddef>

namespace hearth::runtime {
class Runtime;
}

namespace hearth::mcp {

/// Longest line read from stdin (bytes); a longer one ends the session (mcp_stdio_line_too_long).
inline constexpr std::size_t k_max_stdio_line = 16u << 20;

/// Serves one session on fds 0 (requests) and 1 (replies and notifications; fd 1 is pointed at
/// stderr afterwards so nothing else can corrupt the protocol). Requests are handled in order,
/// tools/call each on its own thread so ping and notifications/cancelled work while calls run.
/// A line that is not JSON gets a -32700 reply. Returns 0 at EOF on stdin after cancelling the
/// calls in flight and waiting for them to end; on SIGINT/SIGTERM cancels runs, stops every tool
/// process group and exits the process with 128+signo. Throws mcp_stdio_line_too_long.
int serve_stdio(runtime::Runtime& runtime, const Caller& caller);

} // namespace hearth::mcp

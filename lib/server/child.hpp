// The runtime child's serving mode (docs/ipc.md "Serving mode"): `hearth runtime --listen
// HOST:PORT [--reuse-port] [--dev]` serves HTTP and speaks JSON-RPC on stdin/stdout with the
// supervisor (`hearth dev`): `ready` once the socket listens, `shutdown` (or EOF) to drain and exit.
#pragma once

#include "config/config.hpp"
#include "runtime/warm.hpp"
#include "server/server.hpp"

#include <chrono>
#include <string>

namespace hearth::server {

/// How long `shutdown`, EOF or SIGTERM waits for in-flight requests and admitted runs.
inline constexpr std::chrono::seconds k_drain_bound{10};

/// Parses `HOST:PORT` (`[v6]:PORT` too; PORT 0..65535). Throws errors::invalid_flag.
void parse_listen(const std::string& text, ServerOptions& options);

/// Copies the limits hearth.json `server` sets (docs/http.md "Limits") into `options`.
void apply_limits(const config::ServerLimits& limits, ServerOptions& options);

/// Binds, notifies `ready {pid, version, url, port}` on stdout, serves until `shutdown`, EOF on
/// stdin or SIGINT/SIGTERM, then drains (bounded by k_drain_bound). Returns the exit code: 0 after
/// shutdown/EOF, 128+signo after a signal. Throws errors::server_bind_failed before `ready`.
/// `warm` (`hearth dev` only; may be null): the warm runtime's socket, started before `ready`,
/// no longer accepting once draining begins, stopped (its connections' work cancelled) after
/// the drain, and its socket removed on every way out (docs/ipc.md "Warm runtime").
int serve_child(runtime::Runtime& runtime, ServerOptions options,
                runtime::WarmServer* warm = nullptr);

} // namespace hearth::server

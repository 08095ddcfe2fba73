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

} // namespace hearth::errors

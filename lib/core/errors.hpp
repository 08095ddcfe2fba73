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

// --- discovery, manifest and build ----------------------------------------------------------

/// A compiled manifest cannot be used: missing, not JSON, or of another kind or version.
Error manifest_invalid(std::string_view path, std::string_view problem);

/// `hearth build --output DIR` would write over something it must not (the project, its sources,
/// or a directory that is not an earlier build output).
Error build_output_unsafe(std::string_view path, std::string_view reason);

/// `hearth build` found errors; the report was printed and written to `diagnostics_path`.
Error build_failed(std::size_t errors, std::size_t warnings, std::string_view diagnostics_path);

} // namespace hearth::errors

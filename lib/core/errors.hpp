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

/// No run with this id in the store (Flue's run_not_found).
Error run_not_found(std::string_view run_id);

/// The runtime child did not report ready; `reason` says why (exit status, timeout, its error).
Error runtime_not_ready(std::string_view reason);

} // namespace hearth::errors

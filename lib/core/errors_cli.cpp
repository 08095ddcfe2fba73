// The error catalogue (declared in core/errors.hpp), general and command-line part: usage and
// flags, internal and I/O errors, configuration and env files, init, discovery/manifest/build,
// dev and `logs --server`, gc. Wording follows Flue's errors.ts and the seed pages.
#include "core/errors.hpp"

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

Error gc_failed(std::string_view path, std::string_view reason) {
  return Error({.type = "gc_failed",
                .message = "Could not remove " + string(path) + ": " + string(reason) + ".",
                .details = "Check the permissions of .hearth/workspaces/ and run `hearth gc` again."});
}

} // namespace hearth::errors

// The error catalogue: see errors.hpp. Wording follows Flue's errors.ts and the seed pages.
#include "core/errors.hpp"

#include "core/text.hpp"

namespace hearth::errors {

using std::string;

Error usage(std::string_view message, std::string_view hint) {
  return Error({.type = "usage", .message = string(message), .details = string(hint),
                .http_status = 400});
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

// --- store (runs, event streams, sessions, submissions; lib/store) ----------------------------

Error store_location_invalid(std::string_view location) {
  return Error({.type = "store_location_invalid",
                .message = "Unsupported store location \"" + string(location) + "\".",
                .details = "Use `sqlite:<path>` (e.g. `sqlite:.hearth/state.db`) or `memory:`."});
}

Error store_open_failed(std::string_view path, std::string_view reason) {
  return Error({.type = "store_unavailable",
                .message = "Could not open the state database " + string(path) + ": " +
                           string(reason) + ".",
                .details = "Check that the directory exists and is writable, or choose another "
                           "store location.",
                .http_status = 503});
}

Error store_corrupt(std::string_view path, std::string_view reason) {
  return Error({.type = "store_corrupt",
                .message = "The state database " + string(path) + " is unreadable: " +
                           string(reason) + ".",
                .details = "Move the file aside (hearth creates a fresh one) or restore a backup.",
                .http_status = 503});
}

Error store_foreign(std::string_view path) {
  return Error({.type = "store_corrupt",
                .message = "The file " + string(path) + " is a SQLite database that hearth did not "
                           "create.",
                .details = "Point the store at a new file; hearth will not write into another "
                           "program's database.",
                .http_status = 503});
}

Error store_too_new(std::string_view path, long long found, long long supported) {
  return Error({.type = "store_schema_too_new",
                .message = "The state database " + string(path) + " has schema version " +
                           std::to_string(found) + ", but this hearth supports up to version " +
                           std::to_string(supported) + ".",
                .details = "It was written by a newer hearth. Upgrade hearth, or move the file "
                           "aside to start with a fresh store.",
                .http_status = 503});
}

Error store_failed(std::string_view path, std::string_view operation, std::string_view reason) {
  return Error({.type = "store_unavailable",
                .message = "The state database could not " + string(operation) + ".",
                .details = "Retry; if it persists, check disk space and file permissions.",
                .dev = string(path) + ": " + string(reason),
                .http_status = 503});
}

Error invalid_offset(std::string_view text) {
  return Error({.type = "invalid_request",
                .message = "Invalid offset format.",
                .details = "Use -1 (start), now (tail) or an offset returned by the server.",
                .dev = "Offset received: \"" + string(text.substr(0, 80)) + "\".",
                .http_status = 400});
}

Error stream_not_found(std::string_view path) {
  return Error({.type = "stream_not_found",
                .message = "Stream \"" + string(path) + "\" was not found.",
                .details = "Streams exist once their run starts or their agent receives a prompt.",
                .http_status = 404});
}

Error stream_closed(std::string_view path) {
  return Error({.type = "stream_closed",
                .message = "Stream \"" + string(path) + "\" is closed.",
                .details = "A closed stream accepts no more events; its run has ended.",
                .http_status = 409});
}

Error run_not_found(std::string_view run_id) {
  return Error({.type = "run_not_found",
                .message = "Run \"" + string(run_id) + "\" was not found.",
                .details = "Verify the run id is correct and its history is still available.",
                .http_status = 404});
}

Error session_conflict(std::string_view session, long long expected, long long actual) {
  return Error({.type = "session_conflict",
                .message = "Session \"" + string(session) + "\" was changed concurrently.",
                .details = "Reload the session and retry.",
                .dev = "Expected version " + std::to_string(expected) + ", found " +
                       std::to_string(actual) + ".",
                .http_status = 409});
}

Error session_not_found(std::string_view session) {
  return Error({.type = "session_not_found",
                .message = "Session \"" + string(session) + "\" was not found.",
                .details = "Verify the session id is correct.",
                .http_status = 404});
}

Error submission_not_found(std::string_view submission_id) {
  return Error({.type = "submission_not_found",
                .message = "Submission \"" + string(submission_id) + "\" was not found.",
                .details = "Verify the submission id is correct.",
                .http_status = 404});
}

} // namespace hearth::errors

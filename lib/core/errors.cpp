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

} // namespace hearth::errors

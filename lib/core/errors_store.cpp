// The error catalogue (declared in core/errors.hpp), store part (lib/store): locations, SQLite
// and PostgreSQL files, event streams, runs, sessions and submissions.
#include "core/errors.hpp"

namespace hearth::errors {

using std::string;

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

// postgres store (issue 15) ------------------------------------------------------------------

Error store_postgres_foreign(std::string_view location) {
  return Error({.type = "store_corrupt",
                .message = "The PostgreSQL database " + std::string(location) +
                           " has tables hearth did not create.",
                .details = "Point the store at an empty database or schema (e.g. "
                           "?options=-csearch_path%3Dhearth); hearth will not write into another "
                           "program's tables.",
                .http_status = 503});
}

Error store_text_nul() {
  return Error({.type = "invalid_request",
                .message = "A value holds a NUL byte, which the PostgreSQL store cannot keep.",
                .details = "Remove the NUL byte (\\u0000) from the id or text.",
                .http_status = 400});
}

} // namespace hearth::errors

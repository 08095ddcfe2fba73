// The error catalogue (declared in core/errors.hpp), triggers part: durable dispatch, schedules
// and channels (issue 14, docs/triggers.md).
#include "core/errors.hpp"

#include "core/text.hpp"

namespace hearth::errors {

using std::string;

// --- Triggers: schedules, channels, durable dispatch (issue 14) -----------------------------------

Error dispatch_conflict(std::string_view key) {
  return Error({.type = "dispatch_conflict",
                .message = "Idempotency key \"" + string(key.substr(0, 200)) +
                           "\" was already used for a different dispatch.",
                .details = "Reuse a key only to retry the same id and input; use a new key for "
                           "new input.",
                .http_status = 409});
}

Error dispatch_not_found(std::string_view dispatch_id) {
  return Error({.type = "dispatch_not_found",
                .message = "Dispatch \"" + string(dispatch_id.substr(0, 200)) + "\" does not exist.",
                .details = "Dispatch ids are returned by admission as dispatchId.",
                .http_status = 404});
}

Error dispatch_invalid(std::string_view problem) {
  return Error({.type = "dispatch_invalid",
                .message = "The dispatch cannot be admitted: " + string(problem),
                .details = "A dispatch names an agent, an instance id and a JSON input.",
                .http_status = 400});
}

Error schedule_not_found(std::string_view name, const std::vector<std::string>& available) {
  return Error({.type = "schedule_not_found",
                .message = "Schedule \"" + string(name.substr(0, 200)) + "\" is not registered.",
                .details = "Verify the schedule name is correct.",
                .dev = "Available schedules: " + text::quote_list(available) + ".",
                .http_status = 404});
}

Error channel_signature_invalid(std::string_view reason) {
  return Error({.type = "signature_invalid",
                .message = "The request signature could not be verified.",
                .details = string(reason),
                .http_status = 401});
}

Error channel_payload_invalid(std::string_view problem) {
  return Error({.type = "invalid_payload",
                .message = "The delivery payload is malformed.",
                .details = string(problem),
                .http_status = 400});
}

Error channel_media_type(std::string_view content_type, std::string_view expected) {
  return Error({.type = "unsupported_media_type",
                .message = "Unsupported Content-Type \"" + string(content_type.substr(0, 200)) +
                           "\".",
                .details = "This channel route accepts " + string(expected) + ".",
                .http_status = 415});
}

Error channel_secret_missing(std::string_view channel, std::string_view env) {
  return Error({.type = "channel_not_configured",
                .message = "Channel \"" + string(channel) + "\" is not configured.",
                .details = "Deliveries are refused until its secret is set.",
                .dev = "Set the environment variable " + string(env) + " (the channel's secretEnv).",
                .http_status = 503});
}

Error channel_handler_failed(std::string_view channel, std::string_view problem) {
  return Error({.type = "channel_handler_failed",
                .message = "The handler of channel \"" + string(channel) + "\" failed.",
                .details = "See the server log.",
                .dev = string(problem),
                .http_status = 502});
}

// triggers (issue 14, round 2)

Error dispatch_stopped() {
  return Error({.type = "dispatch_stopped",
                .message = "The server is shutting down; the dispatch was not admitted.",
                .details = "Retry against the next server; nothing was recorded.",
                .http_status = 503});
}

Error schedule_task_mode(std::string_view schedule, std::string_view tool) {
  return Error({.type = "schedule_task_mode",
                .message = "Schedule \"" + string(schedule.substr(0, 200)) +
                           "\" runs in task mode: the approval for tool \"" +
                           string(tool.substr(0, 200)) + "\" was denied.",
                .details = "Scheduled fires cannot park for a human (seed 003). Drop the tool's "
                           "approval requirement, or let the schedule hand the work to a session.",
                .http_status = 403});
}

} // namespace hearth::errors

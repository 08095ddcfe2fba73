// `hearth logs <runId> --server URL`: reads a run's events from a running hearth (or Flue 0.11)
// server with the Durable Streams protocol: catch-up reads, then long-polls while following
// (seed page 15, `flue logs`; docs in peers/proto/PROTOCOL.md).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace hearth::cli {

struct ServerLogsOptions {
  std::string server{};               // base URL, e.g. http://127.0.0.1:3583 (a path prefix is kept)
  std::vector<std::string> headers{}; // --header 'Name: value', as typed
  std::string run_id{};
  std::optional<bool> follow{};       // nullopt: follow active runs (probe ?meta), replay others
  std::string since{};                // an offset, or a plain eventIndex; empty: the start
  std::set<std::string> types{};      // empty: all
  std::optional<long long> limit{};   // positive
  std::string format = "pretty";      // pretty (stderr) | ndjson (stdout, with `offset`)
};

/// Parses curl-style `Name: value` headers. Throws errors::invalid_header for a missing colon, an
/// empty or invalid name, a duplicate name (case-insensitive) or `Accept` (reserved: logs sets it).
std::vector<std::pair<std::string, std::string>>
parse_headers(const std::vector<std::string>& headers);

/// Splits `http[s]://host[:port][/prefix]` into the origin httplib connects to and the path
/// prefix (no trailing slash). Throws errors::invalid_flag for another scheme or no host.
std::pair<std::string, std::string> split_server_url(const std::string& url);

/// The `offset` query value for `--since`: digits are an eventIndex (Flue pads them), anything
/// else must be a Durable Streams offset. Empty gives "-1". Throws errors::invalid_offset.
std::string since_offset(const std::string& since);

/// Prints the run's events and returns the exit code: 0, 2 after a failing run_end, 130 when
/// interrupted. Throws errors::logs_http_error (a non-2xx answer, naming the URL and status),
/// logs_fetch_failed (no answer), logs_bad_response, invalid_header, invalid_offset.
int logs_from_server(const ServerLogsOptions& options);

} // namespace hearth::cli

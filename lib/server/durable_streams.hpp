// Durable Streams reads of one store stream (seed page 17 "Stream reads"; peers/proto PROTOCOL.md),
// as Flue 0.11 serves them at GET|HEAD /runs/:runId and /agents/:name/:id: catch-up JSON arrays,
// long-poll (200 / 204, 30 s) and SSE (`event: data` / `event: control` frames, 15 s heartbeat).
#pragma once

#include "server/context.hpp"

#include <cstdint>
#include <string>

namespace hearth::server {

/// `floor((now_ms - 1728432000000) / 20000)`; when the client echoed `client_cursor` and it is not
/// behind, the client's value plus 1–180 intervals of jitter (DS §10.1, Flue 0.11).
std::string stream_cursor(const std::string& client_cursor);

/// `"<base64(path)>:<start>:<end>[:c]"` with the quotes (Flue 0.11's ETag), `:c` when closed.
std::string stream_etag(const std::string& path, const std::string& start,
                        const std::string& end, bool closed);

/// Standard base64 (RFC 4648, padded).
std::string base64(std::string_view bytes);

/// Serves a DS read of store stream `path` from the request's `offset`, `live`, `tail` and
/// `cursor`. `missing` is thrown when the stream does not exist. Throws invalid_request for bad
/// query values (Flue's wording). Live reads set `res.producer` (the server parks them).
void serve_stream(const Request& req, Response& res, ServerContext& ctx,
                  const std::string& path, const hearth::Error& missing);

} // namespace hearth::server

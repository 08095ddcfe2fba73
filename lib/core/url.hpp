// URL text helpers shared by hearth's HTTP clients (logs -f, MCP OAuth, OpenAPI connections).
#pragma once

#include <string>
#include <string_view>

namespace hearth {

/// Percent-encodes every byte but the RFC 3986 §2.3 unreserved characters (ALPHA DIGIT - . _ ~),
/// so the result is safe in a path segment, a query name or value, and a form body. Never throws
/// (beyond std::bad_alloc).
std::string percent_encode(std::string_view text);

} // namespace hearth

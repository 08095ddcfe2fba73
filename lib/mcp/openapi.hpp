// OpenAPI 3.x connections (issue 13 §5; seed 003 "Connections": defineOpenAPIConnection): each
// allowed operation of a JSON spec becomes a tool whose input schema is built from its parameters
// and JSON request body, called over HTTP(S) with the connection's headers and token. Local $refs
// (#/...) are inlined to a bounded depth. docs/mcp.md "OpenAPI connections".
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <stop_token>
#include <string>
#include <vector>

namespace hearth::mcp::openapi {

/// Most operations one spec may give (the rest fail the connection, fail closed).
inline constexpr std::size_t k_max_operations = 512;
/// Largest response body read from the API.
inline constexpr std::size_t k_max_response_bytes = 4u << 20;

struct Parameter {
  std::string name{};
  std::string in{}; // path | query | header
  bool required = false;
};

struct Operation {
  std::string name{};        // operationId, else <method>_<path> with non-[A-Za-z0-9_-] as '_'
  std::string method{};      // GET, POST, ...
  std::string path{};        // "/pets/{id}"
  std::string description{}; // summary + description
  nlohmann::json input_schema = nlohmann::json::object(); // {type: object, properties, required}
  std::vector<Parameter> parameters{};
  bool has_body = false;     // a JSON request body, taken from the input's `body`
};

/// The operations of `spec` (an OpenAPI 3.x document) passing `allow` / `block` (names; '*' suffix
/// = prefix), in path order. Throws errors::mcp_config_invalid naming `connection` when the spec
/// is not OpenAPI 3.x or gives more than k_max_operations.
std::vector<Operation> operations(const std::string& connection, const nlohmann::json& spec,
                                  const std::vector<std::string>& allow,
                                  const std::vector<std::string>& block);

/// The server URL of `spec` (servers[0].url) when `base_url` is empty.
std::string base_url_of(const nlohmann::json& spec, const std::string& base_url);

/// Calls `op` at `base_url` with `arguments` (parameters by name, the body under `body`):
/// returns an MCP CallToolResult {content: [{type: text, text: body}], structuredContent?: the
/// JSON body when it is an object, isError: status >= 400}. Throws errors::mcp_http_error for a
/// transport failure, errors::turn_cancelled once `cancel` stops.
nlohmann::json call(const std::string& connection, const Operation& op, const std::string& base_url,
                    const std::map<std::string, std::string>& headers, const std::string& token,
                    const nlohmann::json& arguments, std::chrono::milliseconds timeout,
                    std::stop_token cancel);

} // namespace hearth::mcp::openapi

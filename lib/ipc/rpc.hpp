// JSON-RPC 2.0 message shapes and error codes (https://www.jsonrpc.org/specification), and how a
// hearth::Error travels inside an error reply so it round-trips (type, message, details).
#pragma once

#include "core/error.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace hearth::ipc {

/// Error codes. JSON-RPC reserves -32768..-32000; -32099..-32000 is for implementations.
namespace code {
inline constexpr int parse_error = -32700;      // the line is not JSON
inline constexpr int invalid_request = -32600;  // JSON, but not a request/notification/reply
inline constexpr int method_not_found = -32601; // no handler for the method
inline constexpr int invalid_params = -32602;   // the handler could not use the params
inline constexpr int internal_error = -32603;   // the handler failed unexpectedly
inline constexpr int hearth_error = -32000;     // a hearth::Error; data = {type, details, ...}
} // namespace code

/// Wire keys (docs/ipc.md).
inline constexpr std::string_view k_version = "2.0";
/// The params key that tags a notification with the id of the request it belongs to.
inline constexpr std::string_view k_request_id_key = "requestId";

/// Thrown by a request handler to answer with a specific JSON-RPC error.
class RpcError : public std::runtime_error {
public:
  RpcError(int code, const std::string& message, nlohmann::json data = nullptr)
      : std::runtime_error(message), m_code(code), m_data(std::move(data)) {}
  int code() const noexcept { return m_code; }
  const nlohmann::json& data() const noexcept { return m_data; }

private:
  int m_code;
  nlohmann::json m_data;
};

/// What Peer::request throws for an error reply. A hearth error (code -32000 with data.type)
/// comes back with the sender's type, message, details, dev and HTTP status; other codes become
/// `rpc_error`. Catch it as hearth::Error; code() and data() keep the wire values.
class RemoteError : public Error {
public:
  RemoteError(ErrorInfo info, int code, std::string remote_message, nlohmann::json data)
      : Error(std::move(info)), m_code(code), m_remote_message(std::move(remote_message)),
        m_data(std::move(data)) {}
  int code() const noexcept { return m_code; }
  /// The error's `message` as sent (info().message may add context for non-hearth errors).
  const std::string& remote_message() const noexcept { return m_remote_message; }
  const nlohmann::json& data() const noexcept { return m_data; }

private:
  int m_code;
  std::string m_remote_message;
  nlohmann::json m_data;
};

/// `{"jsonrpc":"2.0","id":id,"method":method[,"params":params]}`; null params are omitted.
nlohmann::json make_request(const nlohmann::json& id, std::string_view method,
                            const nlohmann::json& params);

/// `{"jsonrpc":"2.0","method":method[,"params":params]}`.
nlohmann::json make_notification(std::string_view method, const nlohmann::json& params);

/// `{"jsonrpc":"2.0","id":id,"result":result}`.
nlohmann::json make_result(const nlohmann::json& id, nlohmann::json result);

/// `{"jsonrpc":"2.0","id":id,"error":{"code","message"[,"data"]}}`.
nlohmann::json make_error(const nlohmann::json& id, int code, std::string_view message,
                          const nlohmann::json& data = nullptr);

/// The error reply for an exception thrown by a request handler: RpcError keeps its code;
/// RemoteError passes the remote error on; hearth::Error becomes code -32000 with
/// data {type, details[, dev], httpStatus}; nlohmann::json::exception (params of the wrong shape)
/// becomes -32602; anything else -32603 with what().
nlohmann::json error_reply(const nlohmann::json& id, std::exception_ptr error);

/// The exception a caller of `method` on `peer` sees for the reply's `error` member.
RemoteError remote_error(std::string_view peer, std::string_view method,
                         const nlohmann::json& error);

} // namespace hearth::ipc

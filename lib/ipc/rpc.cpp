// JSON-RPC 2.0 message construction and error mapping: see rpc.hpp.
#include "ipc/rpc.hpp"
#include "core/json.hpp"

#include "core/errors.hpp"

namespace hearth::ipc {

using nlohmann::json;

json make_request(const json& id, std::string_view method, const json& params) {
  json message = {{"jsonrpc", k_version}, {"id", id}, {"method", method}};
  if (!params.is_null()) message["params"] = params;
  return message;
}

json make_notification(std::string_view method, const json& params) {
  json message = {{"jsonrpc", k_version}, {"method", method}};
  if (!params.is_null()) message["params"] = params;
  return message;
}

json make_result(const json& id, json result) {
  return {{"jsonrpc", k_version}, {"id", id}, {"result", std::move(result)}};
}

json make_error(const json& id, int code, std::string_view message, const json& data) {
  json error = {{"code", code}, {"message", message}};
  if (!data.is_null()) error["data"] = data;
  return {{"jsonrpc", k_version}, {"id", id}, {"error", std::move(error)}};
}

json error_reply(const json& id, std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const RpcError& e) {
    return make_error(id, e.code(), e.what(), e.data());
  } catch (const RemoteError& e) {
    return make_error(id, e.code(), e.remote_message(), e.data());
  } catch (const Error& e) {
    const auto& info = e.info();
    json data = {{"type", info.type}, {"details", info.details}, {"httpStatus", info.http_status}};
    if (!info.dev.empty()) data["dev"] = info.dev;
    return make_error(id, code::hearth_error, info.message, data);
  } catch (const json::exception& e) {
    return make_error(id, code::invalid_params, std::string("Invalid params: ") + e.what());
  } catch (const std::exception& e) {
    return make_error(id, code::internal_error, e.what());
  } catch (...) {
    return make_error(id, code::internal_error, "unknown exception");
  }
}

RemoteError remote_error(std::string_view peer, std::string_view method, const json& error) {
  const int error_code = error.contains("code") && error["code"].is_number_integer()
                             ? error["code"].get<int>()
                             : code::internal_error;
  const std::string message = error.contains("message") && error["message"].is_string()
                                  ? error["message"].get<std::string>()
                                  : hearth::dump_json(error);
  const json data = error.contains("data") ? error["data"] : json(nullptr);
  if (error_code == code::hearth_error && data.is_object() && data.contains("type") &&
      data["type"].is_string()) {
    ErrorInfo info{.type = data["type"].get<std::string>(), .message = message};
    if (data.contains("details") && data["details"].is_string())
      info.details = data["details"].get<std::string>();
    if (data.contains("dev") && data["dev"].is_string()) info.dev = data["dev"].get<std::string>();
    if (data.contains("httpStatus") && data["httpStatus"].is_number_integer())
      info.http_status = data["httpStatus"].get<int>();
    return RemoteError(std::move(info), error_code, message, data);
  }
  return RemoteError(errors::ipc_remote(peer, method, error_code, message).info(), error_code,
                     message, data);
}

} // namespace hearth::ipc

// OpenAPI connections; see openapi.hpp.
#include "mcp/openapi.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"
#include "core/url.hpp"
#include "core/text.hpp"
#include "mcp/client.hpp"
#include "providers/http.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>

namespace hearth::mcp::openapi {
namespace {
using nlohmann::json;

constexpr int k_max_ref_depth = 16;
constexpr std::size_t k_max_schema_nodes = 4096;
/// One operation's input schema, serialized: the client's bound on a tool schema.
constexpr std::size_t k_max_operation_schema_bytes = Limits{}.max_schema_bytes;

/// `node` with local $refs into `spec` inlined, at most k_max_ref_depth refs deep (deeper, or
/// cyclic, refs become {}) and k_max_schema_nodes nodes in all. Iterative over a work list of
/// pointers into `spec`/`node` (never copies of subtrees). `bytes` counts the serialized size
/// built so far (shared by one operation's calls); past `max_bytes` it throws
/// mcp_config_invalid (fail closed: refs can multiply a small spec into gigabytes).
json inline_refs(const std::string& connection, const json& spec, const json& node,
                 std::size_t& bytes, std::size_t max_bytes) {
  struct Work {
    json* target;
    const json* source;
    int depth;
  };
  static const json empty = json::object();
  json out;
  std::vector<Work> work{{&out, &node, 0}};
  std::size_t nodes = 0;
  const auto spend = [&](std::size_t n) {
    bytes += n;
    if (bytes > max_bytes)
      throw errors::mcp_config_invalid(connection, "an operation's input schema, with its $refs inlined, is larger than " +
                                                       std::to_string(max_bytes) + " bytes.");
  };
  while (!work.empty()) {
    auto item = work.back();
    work.pop_back();
    if (++nodes > k_max_schema_nodes) {
      *item.target = json::object();
      spend(2);
      continue;
    }
    const json* source = item.source;
    int depth = item.depth;
    while (source->is_object() && source->contains("$ref") && (*source)["$ref"].is_string()) {
      const auto& ref = (*source)["$ref"].get_ref<const std::string&>();
      if (ref.rfind("#/", 0) != 0 || depth >= k_max_ref_depth) {
        source = &empty;
        break;
      }
      try {
        source = &spec.at(json::json_pointer(ref.substr(1)));
      } catch (const std::exception&) {
        source = &empty;
      }
      ++depth;
    }
    if (source->is_object()) {
      *item.target = json::object();
      spend(2);
      for (const auto& [k, v] : source->items()) {
        spend(k.size() + 4);
        (*item.target)[k] = nullptr;
        work.push_back({&(*item.target)[k], &v, depth});
      }
    } else if (source->is_array()) {
      *item.target = json::array();
      spend(2);
      auto& arr = *item.target;
      for (std::size_t i = 0; i < source->size(); ++i) arr.push_back(nullptr);
      for (std::size_t i = 0; i < source->size(); ++i) {
        spend(1);
        work.push_back({&arr[i], &(*source)[i], depth});
      }
    } else {
      spend(source->is_string() ? source->get_ref<const std::string&>().size() + 2 : 8);
      *item.target = *source;
    }
  }
  return out;
}

std::string sanitize(const std::string& s) {
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '-') out += static_cast<char>(c);
    else if (!out.empty() && out.back() != '_') out += '_';
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.empty() ? "operation" : out;
}

std::string as_text(const json& v) {
  return v.is_string() ? v.get<std::string>() : dump_json(v);
}

std::vector<Operation> operations_of(const std::string& connection, const json& spec,
                                     const std::vector<std::string>& allow,
                                     const std::vector<std::string>& block);

} // namespace

std::vector<Operation> operations(const std::string& connection, const json& spec,
                                  const std::vector<std::string>& allow,
                                  const std::vector<std::string>& block) {
  if (!spec.is_object() || !spec.contains("openapi") || !spec["openapi"].is_string() ||
      spec["openapi"].get<std::string>().rfind("3.", 0) != 0)
    throw errors::mcp_config_invalid(connection, "the spec is not an OpenAPI 3.x document (\"openapi\": \"3.x\").");
  try {
    return operations_of(connection, spec, allow, block);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) { // a value of the wrong type somewhere in the spec
    throw errors::mcp_config_invalid(connection, std::string("the spec is malformed: ") + e.what());
  }
}

namespace {
std::vector<Operation> operations_of(const std::string& connection, const json& spec,
                                     const std::vector<std::string>& allow,
                                     const std::vector<std::string>& block) {
  std::vector<Operation> out;
  const auto paths = spec.value("paths", json::object());
  if (!paths.is_object()) return out;
  for (const auto& [path, item] : paths.items()) {
    if (!item.is_object()) continue;
    const auto shared = item.value("parameters", json::array());
    for (const char* method : {"get", "put", "post", "delete", "patch", "head", "options"}) {
      if (!item.contains(method) || !item[method].is_object()) continue;
      const auto& op = item[method];
      Operation o{.method = text::to_utf8(method), .path = path};
      std::transform(o.method.begin(), o.method.end(), o.method.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      o.name = op.contains("operationId") && op["operationId"].is_string()
                   ? sanitize(op["operationId"].get<std::string>())
                   : sanitize(std::string(method) + "_" + path);
      if (!tool_allowed(o.name, allow, block)) continue;
      std::string desc = op.value("summary", json("")).is_string() ? op.value("summary", "") : "";
      if (op.contains("description") && op["description"].is_string())
        desc += (desc.empty() ? "" : "\n") + op["description"].get<std::string>();
      o.description = (desc.empty() ? o.method + " " + path : desc).substr(0, 8192);
      json properties = json::object(), required = json::array();
      std::size_t bytes = 0; // this operation's input schema, as built
      json params = json::array();
      for (const auto& p : shared) params.push_back(p);
      for (const auto& p : op.value("parameters", json::array())) params.push_back(p);
      for (const auto& raw : params) {
        const json p = inline_refs(connection, spec, raw, bytes, k_max_operation_schema_bytes);
        if (!p.is_object() || !p.contains("name") || !p["name"].is_string()) continue;
        const auto in = p.value("in", json("")).is_string() ? p.value("in", "") : "";
        if (in != "path" && in != "query" && in != "header") continue; // cookies: not sent
        Parameter param{.name = p["name"].get<std::string>(), .in = in,
                        .required = in == "path" || p.value("required", json(false)) == true};
        json schema = p.contains("schema") ? p["schema"] : json{{"type", "string"}};
        if (p.contains("description") && p["description"].is_string() && schema.is_object())
          schema["description"] = p["description"];
        std::erase_if(o.parameters, [&](const Parameter& q) { return q.name == param.name; });
        o.parameters.push_back(param);
        properties[param.name] = schema;
        if (param.required) required.push_back(param.name);
      }
      if (op.contains("requestBody")) {
        const json body = inline_refs(connection, spec, op["requestBody"], bytes, k_max_operation_schema_bytes);
        const auto content = body.is_object() ? body.value("content", json::object()) : json();
        if (content.is_object() && content.contains("application/json") &&
            content["application/json"].is_object()) {
          o.has_body = true;
          const auto& media = content["application/json"];
          properties["body"] = media.contains("schema") && media["schema"].is_object()
                                   ? media["schema"]
                                   : json::object();
          if (body.value("required", json(false)) == true) required.push_back("body");
        }
      }
      o.input_schema = {{"type", "object"}, {"properties", properties}};
      if (!required.empty()) o.input_schema["required"] = required;
      if (out.size() >= k_max_operations)
        throw errors::mcp_config_invalid(connection, "the spec gives more than " +
                                                         std::to_string(k_max_operations) + " operations.");
      out.push_back(std::move(o));
    }
  }
  return out;
}
} // namespace

std::string base_url_of(const json& spec, const std::string& base_url) {
  if (!base_url.empty()) return base_url;
  if (spec.contains("servers") && spec["servers"].is_array() && !spec["servers"].empty() &&
      spec["servers"][0].is_object() && spec["servers"][0].contains("url") &&
      spec["servers"][0]["url"].is_string())
    return spec["servers"][0]["url"].get<std::string>();
  return {};
}

json call(const std::string& connection, const Operation& op, const std::string& base_url,
          const std::map<std::string, std::string>& headers, const std::string& token,
          const json& arguments, std::chrono::milliseconds timeout, std::stop_token cancel) {
  providers::BaseUrl base;
  try {
    base = providers::split_base_url(connection, base_url);
  } catch (const Error&) {
    throw errors::mcp_config_invalid(connection, "\"baseUrl\" (or the spec's servers[0].url) is not an http(s) URL.");
  }
  std::string path = op.path, query;
  httplib::Headers request_headers;
  for (const auto& [k, v] : headers) request_headers.emplace(k, v);
  if (!token.empty()) request_headers.emplace("Authorization", "Bearer " + token);
  for (const auto& p : op.parameters) {
    if (!arguments.contains(p.name) || arguments[p.name].is_null()) continue;
    const auto value = as_text(arguments[p.name]);
    if (p.in == "path") {
      const auto mark = "{" + p.name + "}";
      for (auto pos = path.find(mark); pos != std::string::npos; pos = path.find(mark))
        path.replace(pos, mark.size(), percent_encode(value));
    } else if (p.in == "query") {
      query += (query.empty() ? "?" : "&") + percent_encode(p.name) + "=" + percent_encode(value);
    } else if (value.find_first_of("\r\n") == std::string::npos) {
      request_headers.emplace(p.name, value);
    }
  }
  httplib::Client client(base.scheme_host_port);
  client.set_connection_timeout(std::chrono::seconds(10));
  client.set_read_timeout(timeout);
  client.set_write_timeout(std::chrono::seconds(30));
  std::stop_callback abort(cancel, [&client] { client.stop(); });
  httplib::Request req;
  req.method = op.method;
  req.path = base.path_prefix + path + query;
  req.headers = request_headers;
  req.headers.emplace("Accept", "application/json, */*");
  if (op.has_body && arguments.contains("body")) {
    req.body = dump_json(arguments["body"]);
    req.headers.emplace("Content-Type", "application/json");
  }
  std::string body;
  bool too_big = false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
    // The read timeout restarts with every chunk: a trickling answer meets the deadline here.
    if (std::chrono::steady_clock::now() >= deadline) {
      timed_out = true;
      return false;
    }
    if (body.size() + n > k_max_response_bytes) {
      too_big = true;
      return false;
    }
    body.append(data, n);
    return !cancel.stop_requested();
  };
  int status = 0;
  req.response_handler = [&](const httplib::Response& res) {
    status = res.status;
    return true;
  };
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  client.send(req, res, error);
  if (cancel.stop_requested()) throw errors::turn_cancelled();
  if (timed_out || ((status == 0 || error == httplib::Error::Read) &&
                    std::chrono::steady_clock::now() >= deadline))
    throw errors::mcp_timeout(connection, op.name, timeout.count());
  if (status == 0) throw errors::mcp_http_error(connection, 0, httplib::to_string(error));
  body = text::to_utf8(body);
  if (too_big) body += "\n[response truncated at " + std::to_string(k_max_response_bytes) + " bytes]";
  json result = {{"content", {{{"type", "text"}, {"text", body.empty() ? "HTTP " + std::to_string(status) : body}}}}};
  const json parsed = too_big ? json(json::value_t::discarded) : parse_json_or_discarded(body);
  if (!parsed.is_discarded() && parsed.is_object()) result["structuredContent"] = parsed;
  if (status >= 400) {
    result["isError"] = true;
    result["content"][0]["text"] = "HTTP " + std::to_string(status) + ": " + result["content"][0]["text"].get<std::string>();
  }
  result["_meta"] = {{"httpStatus", status}};
  return result;
}

} // namespace hearth::mcp::openapi

// The MCP server core; see server.hpp.
#include "mcp/server.hpp"

#include "core/errors.hpp"
#include "core/ids.hpp"
#include "core/json.hpp"
#include "ipc/rpc.hpp"
#include "runtime/access.hpp"
#include "runtime/runtime.hpp"

#include <algorithm>
#include <array>
#include <set>

namespace hearth::mcp {
namespace {
using nlohmann::json;

constexpr std::array<std::string_view, 8> k_levels = {"debug", "info",     "notice", "warning",
                                                      "error", "critical", "alert",  "emergency"};

bool is_request(const json& m) { return m.contains("method") && m.contains("id"); }

/// A valid JSON-RPC id for MCP: a string or an integer (null is not allowed for requests).
bool valid_id(const json& id) { return id.is_string() || id.is_number_integer(); }

std::string cut(std::string text, std::size_t limit) {
  if (text.size() <= limit)
    return text;
  std::size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
    --end; // whole UTF-8
  text.resize(end);
  return text + "…";
}

/// An object schema (one a structuredContent object can conform to), else null.
json object_schema(const json& schema) {
  if (schema.is_object() && schema.value("type", json()) == json("object"))
    return schema;
  return nullptr;
}

json text_block(std::string text) { return {{"type", "text"}, {"text", std::move(text)}}; }

/// A tool error the model/client reads (spec: tool execution errors are results, not JSON-RPC
/// errors).
json tool_error(const Error& e) {
  std::string text = e.info().message;
  if (!e.info().details.empty())
    text += "\n" + e.info().details;
  return {{"content", json::array({text_block(cut(text, 4096))})},
          {"isError", true},
          {"_meta", {{"hearth/errorType", e.info().type}}}};
}

/// A result with its JSON as text and, for an object that fits, as structuredContent.
json tool_result(const json& value, bool structured_allowed) {
  const auto text = hearth::dump_json(value);
  json out = {{"isError", false}};
  if (text.size() > k_max_result_bytes) {
    out["content"] = json::array({text_block(cut(text, k_max_result_bytes))});
    out["_meta"] = {{"hearth/truncated", true}};
    return out;
  }
  out["content"] = json::array({text_block(text)});
  if (structured_allowed && value.is_object())
    out["structuredContent"] = value;
  return out;
}

bool session_id_ok(const std::string& s) {
  if (s.empty() || s.size() > k_max_session_id_bytes)
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':';
  });
}

json workflow_tool(const runtime::WorkflowDef& w, const std::string& name) {
  json def = {{"name", name},
              {"title", w.name},
              {"description", w.description.empty() ? "Runs the hearth workflow \"" + w.name + "\"."
                                                    : w.description},
              // hearth workflows declare no payload schema: any JSON object is a payload.
              {"inputSchema", {{"type", "object"}}}};
  if (const auto out = object_schema(w.result); !out.is_null())
    def["outputSchema"] = out;
  return def;
}

json agent_tool(const runtime::AgentDef& a, const std::string& name) {
  json def = {
      {"name", name},
      {"title", "agent " + a.name},
      {"description",
       (a.description.empty() ? "The hearth agent \"" + a.name + "\"." : a.description) +
           " Runs one turn with `message`; pass the same `sessionId` to continue a "
           "conversation."},
      {"inputSchema",
       {{"type", "object"},
        {"properties",
         {{"message", {{"type", "string"}, {"description", "The user message."}}},
          {"sessionId",
           {{"type", "string"},
            {"description", "The agent instance to continue (default: a new one; its id is in "
                            "the result's _meta)."},
            {"maxLength", k_max_session_id_bytes}}}}},
        {"required", {"message"}}}}};
  if (const auto out = object_schema(a.output_schema); !out.is_null())
    def["outputSchema"] = out;
  return def;
}

} // namespace

bool supported_version(std::string_view version) {
  return std::find(std::begin(k_protocol_versions), std::end(k_protocol_versions), version) !=
         std::end(k_protocol_versions);
}

std::string supported_versions_text() {
  std::string out;
  for (const auto v : k_protocol_versions)
    out += (out.empty() ? "" : ", ") + std::string(v);
  return out;
}

bool accepted_header_version(std::string_view version) {
  return supported_version(version) || version == "2025-03-26";
}

int log_level_index(std::string_view level) {
  for (std::size_t i = 0; i < k_levels.size(); ++i)
    if (k_levels[i] == level)
      return static_cast<int>(i);
  return -1;
}

std::string sanitize_tool_name(std::string_view name) {
  std::string out;
  for (const char c : name.substr(0, 128)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    out += ok ? c : '_';
  }
  return out.empty() ? std::string("_") : out;
}

std::vector<Tool> list_tools(const runtime::Runtime& runtime) {
  std::vector<Tool> tools;
  std::set<std::string> taken;
  auto unique = [&taken](std::string name) {
    if (taken.insert(name).second)
      return name;
    for (int n = 2;; ++n) {
      auto candidate = name.substr(0, 120) + "_" + std::to_string(n);
      if (taken.insert(candidate).second)
        return candidate;
    }
  };
  for (const auto& w : runtime.program().workflows) {
    if (!w.http)
      continue;
    const auto name = unique(sanitize_tool_name(w.name));
    tools.push_back({Tool::Kind::workflow, name, w.name, workflow_tool(w, name)});
  }
  for (const auto& a : runtime.program().agents) {
    if (!a.http)
      continue;
    const auto name = unique(sanitize_tool_name("agent_" + a.name));
    tools.push_back({Tool::Kind::agent, name, a.name, agent_tool(a, name)});
  }
  return tools;
}

// --- Session ----------------------------------------------------------------------------------

/// One tool call in flight: what to cancel (a run id once admitted, or an agent instance).
struct Session::Call {
  std::mutex mutex;
  std::string run_id{};
  std::string agent{};
  std::string instance{};
  bool cancelled = false;
};

Session::Session(runtime::Runtime& runtime, Caller caller)
    : m_runtime(runtime), m_caller(std::move(caller)), m_tools(list_tools(runtime)) {}

Session::~Session() { cancel_all(); }

std::string Session::protocol_version() const {
  std::lock_guard lock(m_mutex);
  return m_version;
}

std::size_t Session::calls_in_flight() const {
  std::lock_guard lock(m_mutex);
  return m_calls.size();
}

bool Session::call_may_notify(const json& message) const {
  if (!message.is_object() || message.value("method", json()) != json("tools/call"))
    return false;
  if (m_log_level.load() >= 0)
    return true;
  const auto params = message.value("params", json());
  return params.is_object() && params.contains("_meta") && params["_meta"].is_object() &&
         params["_meta"].contains("progressToken");
}

bool Session::was_cancelled(Call& call) {
  std::lock_guard lock(call.mutex);
  return call.cancelled;
}

void Session::cancel_call(Call& call) {
  std::string run_id, agent, instance;
  {
    std::lock_guard lock(call.mutex);
    call.cancelled = true;
    run_id = call.run_id;
    agent = call.agent;
    instance = call.instance;
  }
  if (!run_id.empty())
    m_runtime.cancel_run(run_id);
  if (!agent.empty())
    m_runtime.cancel_turn(agent, instance);
}

void Session::cancel_all() noexcept {
  std::vector<std::shared_ptr<Call>> calls;
  {
    std::lock_guard lock(m_mutex);
    for (const auto& [id, call] : m_calls)
      calls.push_back(call);
  }
  for (const auto& call : calls) {
    try {
      cancel_call(*call);
    } catch (...) { // cancelling is best effort; the call ends with its own error
    }
  }
}

void Session::close() noexcept {
  m_closed = true;
  cancel_all();
}

std::optional<json> Session::handle(const json& message, const std::optional<Caller>& caller,
                                    const Emit& emit) {
  if (!message.is_object() || message.value("jsonrpc", json()) != json("2.0"))
    return ipc::make_error(nullptr, ipc::code::invalid_request, "Invalid Request");
  if (!message.contains("method"))
    return std::nullopt; // a response: we send no requests
  if (!message["method"].is_string())
    return ipc::make_error(message.value("id", json()), ipc::code::invalid_request,
                           "Invalid Request");
  const auto method = message["method"].get<std::string>();
  const json params = message.value("params", json::object());
  if (!is_request(message)) { // notifications: never answered
    if (method == "notifications/initialized")
      return std::nullopt;
    if (method == "notifications/cancelled" && params.is_object())
      cancelled(params);
    return std::nullopt;
  }
  const json id = message["id"];
  if (!valid_id(id))
    return ipc::make_error(nullptr, ipc::code::invalid_request, "Invalid Request");
  try {
    if (!params.is_object())
      throw ipc::RpcError(ipc::code::invalid_params, "params must be an object");
    if (method == "initialize")
      return ipc::make_result(id, initialize(params));
    if (method == "ping")
      return ipc::make_result(id, json::object());
    if (!m_initialized.load())
      throw ipc::RpcError(ipc::code::invalid_request,
                          "Server not initialized: send initialize first");
    if (method == "tools/list")
      return ipc::make_result(id, tools_list(params));
    if (method == "tools/call")
      return ipc::make_result(id, tools_call(id, params, caller.value_or(m_caller), emit));
    if (method == "logging/setLevel")
      return ipc::make_result(id, set_level(params));
    throw ipc::RpcError(ipc::code::method_not_found, "Method not found: " + cut(method, 100));
  } catch (...) {
    return ipc::error_reply(id, std::current_exception());
  }
}

json Session::initialize(const json& params) {
  const auto requested = params.value("protocolVersion", json());
  if (!requested.is_string())
    throw ipc::RpcError(ipc::code::invalid_params, "protocolVersion must be a string");
  const auto asked = requested.get<std::string>();
  const std::string version =
      supported_version(asked) ? asked : std::string(k_protocol_versions[0]);
  {
    std::lock_guard lock(m_mutex);
    m_version = version;
  }
  m_initialized = true;
  return {{"protocolVersion", version},
          {"capabilities", {{"tools", {{"listChanged", false}}}, {"logging", json::object()}}},
          {"serverInfo", {{"name", "hearth"}, {"version", HEARTH_VERSION}}},
          {"instructions", "Each tool runs a hearth workflow (the tool's result is the run's "
                           "result) or one turn of a hearth agent (agent_<name>)."}};
}

json Session::tools_list(const json& params) const {
  std::size_t start = 0;
  if (params.contains("cursor") && !params["cursor"].is_null()) {
    const auto& c = params["cursor"];
    const auto text = c.is_string() ? c.get<std::string>() : std::string();
    if (text.empty() || text.size() > 9 ||
        text.find_first_not_of("0123456789") != std::string::npos)
      throw ipc::RpcError(ipc::code::invalid_params, "Invalid cursor");
    start = static_cast<std::size_t>(std::stoul(text));
    if (start > m_tools.size())
      throw ipc::RpcError(ipc::code::invalid_params, "Invalid cursor");
  }
  json tools = json::array();
  const auto end = std::min(m_tools.size(), start + k_tools_page);
  for (auto i = start; i < end; ++i)
    tools.push_back(m_tools[i].definition);
  json out = {{"tools", tools}};
  if (end < m_tools.size())
    out["nextCursor"] = std::to_string(end);
  return out;
}

json Session::set_level(const json& params) {
  const auto level = params.value("level", json());
  const int index = level.is_string() ? log_level_index(level.get<std::string>()) : -1;
  if (index < 0)
    throw ipc::RpcError(ipc::code::invalid_params,
                        "level must be one of debug, info, notice, warning, error, critical, "
                        "alert, emergency");
  m_log_level = index;
  return json::object();
}

void Session::cancelled(const json& params) {
  if (!params.contains("requestId") || !valid_id(params["requestId"]))
    return;
  std::shared_ptr<Call> call;
  {
    std::lock_guard lock(m_mutex);
    const auto key = params["requestId"].dump();
    const auto it = m_calls.find(key);
    if (it == m_calls.end()) {
      // Finished already, or still being dispatched (stdio hands calls to a thread; HTTP
      // requests race): remembered, bounded, so a call that registers later does not start.
      // Request ids are never reused within a session (spec), so a stale entry is harmless.
      if (key.size() <= 256 && m_early_cancels.insert(key).second) {
        m_early_order.push_back(key);
        if (m_early_order.size() > k_max_early_cancels) {
          m_early_cancels.erase(m_early_order.front());
          m_early_order.pop_front();
        }
      }
      return;
    }
    call = it->second;
  }
  cancel_call(*call);
}

json Session::tools_call(const json& id, const json& params, const Caller& caller,
                         const Emit& emit) {
  const auto name = params.value("name", json());
  if (!name.is_string())
    throw ipc::RpcError(ipc::code::invalid_params, "name must be a string");
  const auto found = std::find_if(m_tools.begin(), m_tools.end(),
                                  [&](const Tool& t) { return t.name == name.get<std::string>(); });
  if (found == m_tools.end())
    throw ipc::RpcError(ipc::code::invalid_params,
                        "Unknown tool: " + cut(name.get<std::string>(), 128));
  json arguments = params.value("arguments", json::object());
  if (arguments.is_null())
    arguments = json::object();
  if (!arguments.is_object())
    throw ipc::RpcError(ipc::code::invalid_params, "arguments must be an object");
  json progress_token;
  if (params.contains("_meta") && params["_meta"].is_object() &&
      params["_meta"].contains("progressToken")) {
    progress_token = params["_meta"]["progressToken"];
    // Echoed in every notification: bounded, or a 16 MiB token would be sent once per event.
    if ((!progress_token.is_string() && !progress_token.is_number_integer()) ||
        (progress_token.is_string() &&
         progress_token.get_ref<const std::string&>().size() > k_max_token_bytes))
      throw ipc::RpcError(ipc::code::invalid_params,
                          "progressToken must be an integer or a string of at most 1024 bytes");
  }

  auto call = std::make_shared<Call>();
  const auto key = id.dump();
  {
    std::lock_guard lock(m_mutex);
    if (m_calls.size() >= k_max_calls_per_session)
      return tool_error(errors::mcp_calls_busy(k_max_calls_per_session));
    if (m_closed.load())
      return tool_error(errors::turn_cancelled("The MCP session ended."));
    if (m_early_cancels.count(key) != 0)
      return tool_error(errors::turn_cancelled("The client cancelled the call before it started."));
    if (!m_calls.emplace(key, call).second)
      throw ipc::RpcError(ipc::code::invalid_request, "A call with this request id is in flight");
  }
  struct Leave {
    Session* self;
    std::string key;
    ~Leave() {
      std::lock_guard lock(self->m_mutex);
      self->m_calls.erase(key);
    }
  } leave{this, key};

  // Run events become progress notifications (progress = events so far) and, with logging on,
  // log messages (run/turn boundaries at info, errors at error, the rest at debug).
  std::mutex events_mutex; // a run's listener may be called from its subagents' threads too
  std::size_t events = 0;
  auto on_event = [&](const json& event) {
    if (!emit)
      return;
    std::lock_guard events_lock(events_mutex);
    ++events;
    const auto type = event.is_object() ? event.value("type", std::string()) : std::string();
    if (!progress_token.is_null())
      emit(ipc::make_notification(
          "notifications/progress",
          {{"progressToken", progress_token}, {"progress", events}, {"message", cut(type, 100)}}));
    const int threshold = m_log_level.load();
    if (threshold < 0)
      return;
    int level = 0; // debug
    if (type == "run_start" || type == "run_end" || type == "agent_start" || type == "agent_end" ||
        type == "operation")
      level = 1;
    if (type == "error" || (event.is_object() && event.value("isError", false)))
      level = 4;
    if (level < threshold)
      return;
    auto text = hearth::dump_json(event);
    json data = text.size() <= k_max_log_bytes ? event : json{{"type", type}, {"truncated", true}};
    emit(ipc::make_notification("notifications/message",
                                {{"level", k_levels[static_cast<std::size_t>(level)]},
                                 {"logger", "hearth." + found->target},
                                 {"data", data}}));
  };
  try {
    if (found->kind == Tool::Kind::workflow)
      return run_workflow(*found, arguments, caller, call, on_event);
    return run_agent(*found, arguments, caller, call, on_event);
  } catch (const Error& e) {
    return tool_error(e);
  } catch (const std::exception& e) {
    return tool_error(errors::internal_error(e.what()));
  }
}

json Session::run_workflow(const Tool& tool, const json& arguments, const Caller& caller,
                           const std::shared_ptr<Call>& call,
                           const std::function<void(const json&)>& on_event) {
  // The admission path of POST /workflows/:name (routes_flue.cpp): http: true, then the
  // invoker's profiles, invoker.resolve and the workflow's access rules (access_denied).
  const auto run_id =
      m_runtime.admit_run(tool.target, arguments, caller.invoker, nullptr, caller.select_profiles);
  {
    std::lock_guard lock(call->mutex);
    call->run_id = run_id;
  }
  std::atomic<bool> started{false};
  auto listener = [&](const json& event) {
    // A cancellation that arrived before the run executed (cancel_run found nothing to stop)
    // takes effect at its first event.
    if (!started.exchange(true) && was_cancelled(*call))
      m_runtime.cancel_run(run_id);
    on_event(event);
  };
  auto result = m_runtime.execute_run(run_id, "", listener);
  auto out = tool_result(result, true);
  out["_meta"]["hearth/runId"] = run_id;
  return out;
}

json Session::run_agent(const Tool& tool, const json& arguments, const Caller& caller,
                        const std::shared_ptr<Call>& call,
                        const std::function<void(const json&)>& on_event) {
  if (!arguments.contains("message") || !arguments["message"].is_string())
    throw errors::mcp_tool_arguments(tool.name, "`message` must be a string.");
  const auto message = arguments["message"].get<std::string>();
  if (message.size() > k_max_message_bytes)
    throw errors::mcp_tool_arguments(tool.name, "`message` is longer than 1 MiB.");
  std::string instance;
  if (arguments.contains("sessionId") && !arguments["sessionId"].is_null()) {
    if (!arguments["sessionId"].is_string() ||
        !session_id_ok(arguments["sessionId"].get<std::string>()))
      throw errors::mcp_tool_arguments(tool.name,
                                       "`sessionId` must be 1-128 characters of [A-Za-z0-9_.:-].");
    instance = arguments["sessionId"].get<std::string>();
  } else {
    instance = ids::make_id("mcp");
  }
  const auto& agent = m_runtime.agent(tool.target);
  // The access path of POST /agents/:name/:id (server/auth_glue.cpp agent_invocation).
  const auto target = "agent \"" + agent.name + "\"";
  const auto invocation = runtime::resolve_invocation(
      agent.invoker, agent.directory, caller.invoker, nullptr, caller.select_profiles, target);
  runtime::check_access(agent.access, invocation.invoker, target);
  {
    std::lock_guard lock(call->mutex);
    call->agent = agent.name;
    call->instance = instance;
  }
  std::atomic<bool> started{false};
  auto listener = [&](const json& event) {
    if (!started.exchange(true) && was_cancelled(*call))
      m_runtime.cancel_turn(agent.name, instance);
    on_event(event);
  };
  const auto result = m_runtime.prompt_agent(agent.name, instance, "default", message,
                                             object_schema(agent.output_schema), "", listener,
                                             invocation.invoker, invocation.context);
  json out;
  if (result.is_object() && result.contains("data")) {
    out = tool_result(result["data"], true);
  } else {
    const auto text = result.is_object() && result.contains("text") && result["text"].is_string()
                          ? result["text"].get<std::string>()
                          : hearth::dump_json(result);
    out = {{"content", json::array({text_block(cut(text, k_max_result_bytes))})},
           {"isError", false}};
  }
  out["_meta"]["hearth/sessionId"] = instance;
  return out;
}

} // namespace hearth::mcp

// The MCP client session; see client.hpp.
#include "mcp/client.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"
#include "ipc/rpc.hpp"

#include <algorithm>
#include <thread>

namespace hearth::mcp {
namespace {
using nlohmann::json;

std::string cut(std::string text, std::size_t max) {
  if (text.size() > max) text.resize(max);
  return text;
}

} // namespace

struct Client::Pending {
  std::string method{};
  bool done = false;
  json result{};
  std::optional<Error> error{};
  std::condition_variable_any cv{};
  // The progress handler captures the caller's frame: it runs only under progress_mutex and
  // while the request is still waiting; request() clears it (under the mutex) before returning.
  std::mutex progress_mutex{};
  ProgressHandler progress{};
  // The Elicitor, under progress_mutex too; its workers run while request() waits, which on
  // the way out stops them (elicit_stop) and waits until none is left (elicit_workers).
  Elicitor elicit{};
  std::stop_source elicit_stop{};
  int elicit_workers = 0;
  std::condition_variable elicit_cv{};
};

bool tool_allowed(const std::string& tool, const std::vector<std::string>& allow,
                  const std::vector<std::string>& block) {
  const auto matches = [&](const std::string& pattern) {
    if (!pattern.empty() && pattern.back() == '*')
      return tool.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
    return pattern == tool;
  };
  if (!allow.empty() && std::none_of(allow.begin(), allow.end(), matches)) return false;
  return std::none_of(block.begin(), block.end(), matches);
}

Client::Client(std::unique_ptr<Transport> transport, ClientOptions options)
    : m_transport(std::move(transport)), m_options(std::move(options)) {}

Client::~Client() {
  close();
  std::vector<std::future<void>> sampling;
  {
    std::lock_guard lock(m_sampling_mutex);
    sampling.swap(m_sampling);
  }
  sampling.clear(); // joins the workers (their model calls see m_sampling_stop)
  if (m_replier.joinable()) m_replier.join();
  // The transport's threads call back into this Client: destroy it (joining them) while the
  // rest of the Client still lives; m_transport, declared first, would otherwise die last.
  m_transport.reset();
}

void Client::log(std::string_view level, std::string_view text) const {
  if (m_options.log) m_options.log(level, text);
}

void Client::initialize(std::stop_token cancel) {
  {
    std::lock_guard lock(m_mutex);
    if (m_started) throw errors::internal_error("mcp::Client::initialize called twice");
    m_started = true;
  }
  m_replier = std::jthread([this](std::stop_token stop) { reply_loop(std::move(stop)); });
  m_transport->start([this](json message, const json& related) {
                       handle_message(std::move(message), related);
                     },
                     [this](const std::string& reason) { fail_all(reason, false); },
                     [this](const std::string& reason) { fail_all(reason, true); });
  json capabilities = json::object();
  if (!m_options.root_uri.empty()) capabilities["roots"] = {{"listChanged", false}};
  if (m_options.elicitation || m_options.elicitation_defaults)
    capabilities["elicitation"] = json::object(); // {} is form mode (2025-11-25 back-compat)
  if (m_options.sample) capabilities["sampling"] = json::object();
  const json params = {{"protocolVersion", k_protocol_latest},
                       {"capabilities", capabilities},
                       {"clientInfo", {{"name", "hearth"}, {"version", HEARTH_VERSION}}}};
  json result;
  try {
    result = request("initialize", params, m_options.init_timeout, cancel);
  } catch (const Error& e) {
    if (e.info().type == "mcp_timeout") throw;
    throw errors::mcp_connection_failed(m_options.name, e.info().message);
  }
  const auto version = result.value("protocolVersion", json()).is_string()
                           ? result["protocolVersion"].get<std::string>()
                           : std::string();
  if (std::find(std::begin(k_protocol_versions), std::end(k_protocol_versions), version) ==
      std::end(k_protocol_versions)) {
    close();
    throw errors::mcp_connection_failed(
        m_options.name, "the server speaks protocol version \"" + cut(version, 40) +
                            "\"; hearth speaks 2025-11-25, 2025-06-18 and 2025-03-26");
  }
  {
    std::lock_guard lock(m_mutex);
    m_protocol_version = version;
    if (result.contains("serverInfo") && result["serverInfo"].is_object())
      m_server_info = result["serverInfo"];
    if (result.contains("capabilities") && result["capabilities"].is_object())
      m_capabilities = result["capabilities"];
    if (result.contains("instructions") && result["instructions"].is_string())
      m_instructions = cut(result["instructions"].get<std::string>(), 8192);
  }
  m_transport->set_protocol_version(version);
  notify("notifications/initialized", json::object());
}

std::vector<ToolInfo> Client::list_tools() {
  std::vector<ToolInfo> tools;
  std::string cursor;
  for (std::size_t page = 0; page < m_options.limits.max_pages; ++page) {
    json params = json::object();
    if (!cursor.empty()) params["cursor"] = cursor;
    const json result = request("tools/list", params, m_options.request_timeout);
    const auto it = result.find("tools");
    if (it == result.end() || !it->is_array()) {
      close();
      throw errors::mcp_protocol_error(m_options.name, "tools/list answered without a tools array");
    }
    for (const auto& t : *it) {
      if (!t.is_object() || !t.contains("name") || !t["name"].is_string() ||
          t["name"].get_ref<const std::string&>().empty()) {
        log("warn", "skipped a tool without a name");
        continue;
      }
      ToolInfo info{.name = cut(t["name"].get<std::string>(), 256)};
      if (t.contains("title") && t["title"].is_string()) info.title = cut(t["title"].get<std::string>(), 256);
      if (t.contains("description") && t["description"].is_string())
        info.description = cut(t["description"].get<std::string>(), m_options.limits.max_description_bytes);
      if (t.contains("inputSchema") && t["inputSchema"].is_object()) {
        info.input_schema = t["inputSchema"];
        if (dump_json(info.input_schema).size() > m_options.limits.max_schema_bytes) {
          close();
          throw errors::mcp_protocol_error(
              m_options.name, "the input schema of tool \"" + info.name + "\" is larger than " +
                                  std::to_string(m_options.limits.max_schema_bytes) + " bytes");
        }
      } else {
        log("warn", "tool \"" + info.name + "\" has no inputSchema object; it takes {}");
        info.input_schema = {{"type", "object"}};
      }
      if (t.contains("outputSchema") && t["outputSchema"].is_object())
        info.output_schema = t["outputSchema"];
      if (t.contains("annotations") && t["annotations"].is_object())
        info.annotations = t["annotations"];
      if (tools.size() >= m_options.limits.max_tools) {
        close();
        throw errors::mcp_protocol_error(m_options.name,
                                         "it lists more than " +
                                             std::to_string(m_options.limits.max_tools) + " tools");
      }
      tools.push_back(std::move(info));
    }
    const auto next = result.find("nextCursor");
    if (next == result.end() || !next->is_string() || next->get_ref<const std::string&>().empty())
      return tools;
    cursor = cut(next->get<std::string>(), 4096);
  }
  log("warn", "tools/list has more than " + std::to_string(m_options.limits.max_pages) +
                  " pages; the rest is ignored");
  return tools;
}

json Client::call_tool(const std::string& name, const json& arguments,
                       std::chrono::milliseconds timeout, std::stop_token cancel,
                       ProgressHandler progress, Elicitor elicit) {
  json params = {{"name", name},
                 {"arguments", arguments.is_object() ? arguments : json::object()}};
  json result = request("tools/call", std::move(params), timeout, std::move(cancel),
                        std::move(progress), std::move(elicit));
  if (!result.contains("content") || !result["content"].is_array()) {
    if (result.contains("structuredContent")) {
      result["content"] = json::array(); // tolerated: structured-only results
    } else {
      throw errors::mcp_protocol_error(m_options.name, "tools/call answered without content");
    }
  }
  return result;
}

void Client::ping(std::chrono::milliseconds timeout) { request("ping", json::object(), timeout); }

json Client::request(const std::string& method, json params, std::chrono::milliseconds timeout,
                     std::stop_token cancel, ProgressHandler progress, Elicitor elicit) {
  auto pending = std::make_shared<Pending>();
  pending->method = method;
  pending->progress = std::move(progress);
  pending->elicit = std::move(elicit);
  std::int64_t id = 0;
  {
    std::lock_guard lock(m_mutex);
    if (m_closed) throw errors::mcp_closed(m_options.name, method, m_close_reason);
    if (m_pending.size() >= m_options.limits.max_pending)
      throw errors::mcp_closed(m_options.name, method,
                               "too many requests in flight (" +
                                   std::to_string(m_options.limits.max_pending) + ")");
    id = ++m_next_id;
    m_pending[id] = pending;
  }
  if (pending->progress) {
    if (!params.is_object()) params = json::object();
    params["_meta"]["progressToken"] = id;
  }
  struct ProgressOff { // on every way out: no progress call nor elicitation outlives this frame
    Pending& p;
    ~ProgressOff() {
      std::unique_lock lock(p.progress_mutex);
      p.progress = nullptr;
      p.elicit = nullptr;
      p.elicit_stop.request_stop();
      p.elicit_cv.wait(lock, [&] { return p.elicit_workers == 0; });
    }
  } progress_off{*pending};
  const auto forget = [&] {
    std::lock_guard lock(m_mutex);
    m_pending.erase(id);
  };
  const auto cancelled_notice = [&](const std::string& reason) {
    if (method == "initialize") return; // the spec: initialize is never cancelled
    notify("notifications/cancelled", {{"requestId", id}, {"reason", reason}});
  };
  if (timeout.count() <= 0) timeout = m_options.request_timeout;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  try {
    m_transport->send(ipc::make_request(id, method, params), cancel, timeout);
  } catch (const Error& e) {
    forget();
    if (cancel.stop_requested()) {
      cancelled_notice("the user stopped the turn");
      throw errors::turn_cancelled();
    }
    if (e.info().type == "mcp_timeout")
      cancelled_notice("timed out after " + std::to_string(timeout.count()) + " ms");
    throw;
  }
  std::unique_lock lock(m_mutex);
  const bool done = pending->cv.wait_until(lock, cancel, deadline, [&] { return pending->done; });
  if (!done) {
    m_pending.erase(id);
    lock.unlock();
    if (cancel.stop_requested()) {
      cancelled_notice("the user stopped the turn");
      throw errors::turn_cancelled();
    }
    cancelled_notice("timed out after " + std::to_string(timeout.count()) + " ms");
    throw errors::mcp_timeout(m_options.name, method, timeout.count());
  }
  m_pending.erase(id);
  if (pending->error) throw Error(pending->error->info());
  return std::move(pending->result);
}

bool Client::notify(const std::string& method, json params) {
  {
    std::lock_guard lock(m_mutex);
    if (m_closed) return false;
  }
  try {
    m_transport->send(ipc::make_notification(method, params), {}, m_options.request_timeout);
    return true;
  } catch (const Error& e) {
    log("warn", "could not send " + method + ": " + e.info().message);
    return false;
  }
}

void Client::handle_message(json message, const json& related) {
  if (!message.is_object() || message.value("jsonrpc", json()) != "2.0") {
    fail_all("a message that is not a JSON-RPC 2.0 object", true);
    return;
  }
  const bool has_id = message.contains("id") && !message["id"].is_null();
  const bool has_method = message.contains("method") && message["method"].is_string();
  if (has_method) {
    const auto method = message["method"].get<std::string>();
    const json params = message.contains("params") ? message["params"] : json::object();
    if (has_id) {
      answer_server_request(message["id"], method, params, related);
      return;
    }
    if (method == "notifications/progress" && params.is_object()) {
      const auto token = params.find("progressToken");
      if (token == params.end() || !token->is_number_integer()) return;
      std::shared_ptr<Pending> pending;
      {
        std::lock_guard lock(m_mutex);
        const auto it = m_pending.find(token->get<std::int64_t>());
        if (it != m_pending.end()) pending = it->second;
      }
      if (!pending) return;
      std::lock_guard lock(pending->progress_mutex);
      if (pending->progress) pending->progress(params);
    } else if (method == "notifications/message" && params.is_object()) {
      const auto level = params.value("level", json("info"));
      const auto data = params.contains("data") ? params["data"] : json();
      log(level.is_string() ? level.get<std::string>() : "info",
          cut(data.is_string() ? data.get<std::string>() : dump_json(data), 4096));
    }
    return; // other notifications (list_changed, resources/updated, ...) are not used yet
  }
  if (!has_id || !message["id"].is_number_integer()) {
    if (message.contains("error")) { // an error without id: a request we sent was unparseable
      log("warn", "the server reported an error without id: " + cut(dump_json(message), 500));
      return;
    }
    fail_all("a message that is neither request, notification nor reply", true);
    return;
  }
  const auto id = message["id"].get<std::int64_t>();
  std::lock_guard lock(m_mutex);
  const auto it = m_pending.find(id);
  if (it == m_pending.end()) return; // a late reply (timed out or cancelled)
  auto& pending = *it->second;
  if (message.contains("error") && message["error"].is_object()) {
    const auto& error = message["error"];
    const int code = error.value("code", json(0)).is_number_integer() ? error["code"].get<int>() : 0;
    const auto text = error.value("message", json("")).is_string()
                          ? error["message"].get<std::string>()
                          : std::string("(no message)");
    pending.error = errors::mcp_remote_error(m_options.name, pending.method, code, cut(text, 2000));
  } else if (message.contains("result") && message["result"].is_object()) {
    pending.result = std::move(message["result"]);
  } else {
    pending.error = errors::mcp_protocol_error(
        m_options.name, "the answer to `" + pending.method + "` has no result object");
  }
  pending.done = true;
  pending.cv.notify_all();
}

void Client::answer_server_request(const json& id, const std::string& method,
                                   const json& params, const json& related) {
  json reply;
  if (method == "ping") {
    reply = ipc::make_result(id, json::object());
  } else if (method == "roots/list") {
    json roots = json::array();
    if (!m_options.root_uri.empty())
      roots.push_back({{"uri", m_options.root_uri}, {"name", "workspace"}});
    reply = ipc::make_result(id, {{"roots", roots}});
  } else if (method == "elicitation/create") {
    if (start_elicitation(id, params, related)) return; // a tool call in flight asks its user
    reply = ipc::make_result(id, elicit_with_defaults(params));
  } else if (method == "sampling/createMessage" && m_options.sample) {
    start_sampling(id, params);
    return;
  } else if (method == "sampling/createMessage") {
    log("warn", "declined sampling/createMessage: the connection does not enable \"sampling\"");
    reply = ipc::make_error(id, -1,
                            "hearth declines sampling/createMessage: connections may not use the "
                            "agent's model");
  } else {
    reply = ipc::make_error(id, ipc::code::method_not_found, "hearth does not handle " + cut(method, 100));
  }
  queue_reply(std::move(reply), method);
}

json Client::elicit_with_defaults(const json& params) const {
  json content = json::object();
  bool complete = m_options.elicitation_defaults;
  const auto schema = params.is_object() ? params.value("requestedSchema", json::object()) : json::object();
  const auto properties = schema.is_object() ? schema.value("properties", json::object()) : json::object();
  if (complete && properties.is_object()) {
    for (const auto& [name, property] : properties.items())
      if (property.is_object() && property.contains("default")) content[name] = property["default"];
    if (schema.contains("required") && schema["required"].is_array())
      for (const auto& r : schema["required"])
        if (!r.is_string() || !content.contains(r.get<std::string>())) complete = false;
  } else {
    complete = false;
  }
  if (complete) return {{"action", "accept"}, {"content", content}};
  log("warn", "declined elicitation/create: no one can answer it here (a headless run, or no tool "
              "call of a session is waiting on this connection)");
  return {{"action", "decline"}};
}

bool Client::start_elicitation(const json& id, const json& params, const json& related) {
  // The question goes to exactly the call it belongs to: over HTTP the request whose answer
  // stream carried it; without that (stdio, the standalone stream) only when a single call is in
  // flight on the connection (the Client is shared by every session of the agent: guessing could
  // ask another session's user).
  std::shared_ptr<Pending> pending;
  Elicitor elicit;
  {
    std::lock_guard lock(m_mutex);
    std::shared_ptr<Pending> candidate;
    if (related.is_number_integer()) {
      const auto it = m_pending.find(related.get<std::int64_t>());
      if (it != m_pending.end()) candidate = it->second;
    } else if (related.is_null() && m_pending.size() == 1) {
      candidate = m_pending.begin()->second;
    }
    if (!candidate) return false;
    std::lock_guard plock(candidate->progress_mutex);
    if (!candidate->elicit) return false;
    if (m_elicitations.load() >= k_max_elicitations) {
      log("warn", "declined elicitation/create: too many questions waiting on this connection");
      return false;
    }
    pending = candidate;
    elicit = pending->elicit; // copied while its request waits (it waits for the worker)
    ++pending->elicit_workers;
    ++m_elicitations;
  }
  if (!pending) return false;
  const auto finish = [this](const std::shared_ptr<Pending>& p) {
    --m_elicitations;
    std::lock_guard lock(p->progress_mutex);
    --p->elicit_workers;
    p->elicit_cv.notify_all();
  };
  try {
    std::thread([this, pending, elicit = std::move(elicit), id, params, finish]() mutable {
      json reply;
      try {
        json result = elicit(params, pending->elicit_stop.get_token());
        if (!result.is_object() || !result.contains("action")) result = {{"action", "cancel"}};
        reply = ipc::make_result(id, std::move(result));
      } catch (const std::exception& e) {
        log("warn", std::string("elicitation/create failed: ") + cut(e.what(), 500));
        reply = ipc::make_result(id, {{"action", "cancel"}});
      }
      elicit = nullptr; // nothing of the caller's frame is used past this point
      queue_reply(std::move(reply), "elicitation/create");
      finish(pending);
    }).detach();
  } catch (const std::system_error&) { // no thread to run it on
    finish(pending);
    return false;
  }
  return true;
}

void Client::queue_reply(json reply, std::string_view method) {
  std::lock_guard lock(m_reply_mutex);
  if (m_replies.size() >= m_options.limits.max_pending) {
    log("warn", "dropped the answer to " + cut(std::string(method), 100) + ": too many answers waiting");
    return;
  }
  m_replies.push_back(std::move(reply));
  m_reply_cv.notify_all();
}

void Client::start_sampling(const json& id, const json& params) {
  std::lock_guard lock(m_sampling_mutex);
  std::erase_if(m_sampling, [](const std::future<void>& f) {
    return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  });
  if (m_sampling.size() >= k_max_sampling || m_sampling_stop.stop_requested()) {
    queue_reply(ipc::make_error(id, -1, "hearth is busy with other sampling requests of this server"),
                "sampling/createMessage");
    return;
  }
  try {
  m_sampling.push_back(std::async(std::launch::async, [this, id, params] {
    json reply;
    try {
      reply = ipc::make_result(id, m_options.sample(params, m_sampling_stop.get_token()));
    } catch (const Error& e) {
      reply = ipc::make_error(id, -1, cut(e.info().message, 2000));
    } catch (const std::exception& e) {
      reply = ipc::make_error(id, -1, std::string("sampling failed: ") + cut(e.what(), 500));
    }
    queue_reply(std::move(reply), "sampling/createMessage");
  }));
  } catch (const std::system_error&) { // no thread to run it on
    queue_reply(ipc::make_error(id, -1, "hearth could not start the sampling request"),
                "sampling/createMessage");
  }
}

void Client::reply_loop(std::stop_token stop) {
  for (;;) {
    json reply;
    {
      std::unique_lock lock(m_reply_mutex);
      if (!m_reply_cv.wait(lock, stop, [&] { return !m_replies.empty(); })) return;
      reply = std::move(m_replies.front());
      m_replies.pop_front();
    }
    try {
      m_transport->send(reply, stop, m_options.request_timeout);
    } catch (const std::exception& e) {
      log("warn", std::string("could not answer a server request: ") + e.what());
    }
  }
}

void Client::fail_all(const std::string& reason, bool protocol) {
  std::map<std::int64_t, std::shared_ptr<Pending>> pending;
  {
    std::lock_guard lock(m_mutex);
    if (m_closed) return;
    m_closed = true;
    m_close_reason = reason;
    pending.swap(m_pending);
    for (auto& [id, p] : pending) {
      p->error = protocol ? errors::mcp_protocol_error(m_options.name, reason)
                          : errors::mcp_closed(m_options.name, p->method, reason);
      p->done = true;
      p->cv.notify_all();
    }
  }
  if (protocol) log("error", "protocol error: " + reason + "; the connection is closed");
  if (protocol) m_transport->close();
}

void Client::close() noexcept {
  m_sampling_stop.request_stop();
  m_replier.request_stop();
  fail_all("the connection was closed by hearth", false);
  m_transport->close();
}

bool Client::alive() const {
  std::lock_guard lock(m_mutex);
  return !m_closed;
}

std::string Client::close_reason() const {
  std::lock_guard lock(m_mutex);
  return m_close_reason;
}

std::string Client::protocol_version() const {
  std::lock_guard lock(m_mutex);
  return m_protocol_version;
}

json Client::server_info() const {
  std::lock_guard lock(m_mutex);
  return m_server_info;
}

json Client::server_capabilities() const {
  std::lock_guard lock(m_mutex);
  return m_capabilities;
}

std::string Client::instructions() const {
  std::lock_guard lock(m_mutex);
  return m_instructions;
}

json Client::describe() const { return m_transport->describe(); }

} // namespace hearth::mcp

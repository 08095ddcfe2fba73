// The ctx methods of a workflow run; see workflow_context.hpp and docs/workflow-protocol.md.
#include "runtime/workflow_context.hpp"
#include "core/json.hpp"

#include "core/errors.hpp"
#include "core/fs.hpp"
#include "core/ids.hpp"
#include "core/process.hpp"
#include "core/text.hpp"
#include "ipc/peer.hpp"
#include "runtime/agent_tools.hpp"
#include "sandbox/sandbox.hpp"
#include "sandbox/workspace.hpp"
#include "store/store.hpp"

#include <chrono>

namespace hearth::runtime {
namespace {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

[[noreturn]] void bad_params(const std::string& method, const std::string& problem) {
  throw ipc::RpcError(ipc::code::invalid_params,
                      "Invalid params for `" + method + "`: " + problem + ".",
                      {{"type", "invalid_params"}});
}

[[noreturn]] void bad_handle(const std::string& message) {
  throw ipc::RpcError(ipc::code::invalid_params, message, {{"type", "invalid_handle"}});
}

/// Reads the string `key` of `params`; "" when optional and absent.
std::string string_param(const json& params, const char* key, const std::string& method,
                         bool required) {
  const auto it = params.find(key);
  if (it == params.end() || it->is_null()) {
    if (required) bad_params(method, std::string("`") + key + "` is required");
    return {};
  }
  if (!it->is_string()) bad_params(method, std::string("`") + key + "` must be a string");
  return it->get<std::string>();
}

/// The JSON Schema of `result`, or null; it must be an object when given.
json schema_param(const json& params, const std::string& method) {
  const auto it = params.find("result");
  if (it == params.end() || it->is_null()) return nullptr;
  if (!it->is_object()) bad_params(method, "`result` must be a JSON Schema object");
  return *it;
}

std::vector<std::string> names_of(const std::vector<SkillDef>& skills) {
  std::vector<std::string> names;
  for (const auto& s : skills) names.push_back(s.name);
  return names;
}

} // namespace

struct WorkflowContext::Harness {
  std::string handle{};
  std::string name{};
  AgentDef agent{};
  std::string model{};
  std::unique_ptr<sandbox::Workspace> workspace{};
};

struct WorkflowContext::Session {
  std::string handle{};
  std::string name{};
  std::shared_ptr<Harness> harness{};
  json messages = json::array();
  bool closed = false;
  std::mutex mutex{}; // one call at a time continues the conversation
};

WorkflowContext::WorkflowContext(const Runtime& runtime, std::string run_id,
                                 std::string model_override, EventLog& events,
                                 std::stop_token cancel, json context_values)
    : m_runtime(runtime), m_context(runtime.context()),
      m_model_override(std::move(model_override)), m_events(events), m_models(m_context) {
  m_context.run_id = std::move(run_id);
  m_context.cancel = std::move(cancel);
  if (context_values.is_object()) m_context.context_values = std::move(context_values);
  if (const auto record = runtime.store().get_run(m_context.run_id)) {
    m_context.invoker = record->invoker;
    m_durable = record->resumable;
    m_fence = record->fence;
    if (m_durable && record->attempts > 1) { // taken over: what completed is answered from here
      const auto checkpoint = runtime.store().run_checkpoint(m_context.run_id);
      if (checkpoint.is_object() && checkpoint.contains("journal") &&
          checkpoint["journal"].is_object())
        m_journal = checkpoint["journal"];
    }
    try {
      m_workflow_access = runtime.workflow(record->workflow).access;
    } catch (const Error&) { // a run of a workflow this program no longer has: no extra rules
    }
  }
}

WorkflowContext::~WorkflowContext() = default;

void WorkflowContext::install(ipc::Peer& peer) {
  for (const char* method : k_ctx_methods)
    peer.on_request(method, [this, name = std::string(method)](const ipc::Request& request) {
      return call(name, request.params);
    });
  // `log` may also come as a notification (no reply): cheaper for chatty scripts.
  peer.on_notification("log", [this](const ipc::Notification& n) { log(n.params); });
}

json WorkflowContext::call(const std::string& method, const json& raw) {
  using Method = json (WorkflowContext::*)(const json&);
  static const std::map<std::string, Method, std::less<>> methods = {
      {"agent.init", &WorkflowContext::agent_init},
      {"session.open", &WorkflowContext::session_open},
      {"session.close", &WorkflowContext::session_close},
      {"session.prompt", &WorkflowContext::session_prompt},
      {"session.task", &WorkflowContext::session_task},
      {"session.skill", &WorkflowContext::session_skill},
      {"shell", &WorkflowContext::shell},
      {"fs.read", &WorkflowContext::fs_read},
      {"fs.write", &WorkflowContext::fs_write},
      {"log", &WorkflowContext::log}};
  const auto it = methods.find(method);
  if (it == methods.end())
    throw ipc::RpcError(ipc::code::method_not_found, "Method not found: " + method,
                        {{"type", "method_not_found"}});
  if (!raw.is_null() && !raw.is_object()) bad_params(method, "params must be an object");
  const json params = raw.is_null() ? json::object() : raw;
  const bool journal = method == "session.prompt" || method == "session.task" ||
                       method == "session.skill" || method == "shell";
  if (!m_durable || !journal) return (this->*(it->second))(params);
  return journaled(method, params, [&] { return (this->*(it->second))(params); });
}

json WorkflowContext::journaled(const std::string& method, const json& params,
                                const std::function<json()>& live) {
  std::string order;
  json replay;
  {
    std::lock_guard lock(m_mutex);
    order = std::to_string(m_next_call++);
    if (m_replaying && m_journal.contains(order)) {
      if (m_journal[order].value("method", "") == method) {
        replay = m_journal[order];
      } else { // the script took another path: from here on everything runs
        m_replaying = false;
        for (auto it = m_journal.begin(); it != m_journal.end();)
          it = std::stoul(it.key()) >= std::stoul(order) ? m_journal.erase(it) : std::next(it);
      }
    }
  }
  if (!replay.is_null()) {
    if (replay.contains("messages") && method != "session.task")
      session_of(params, method)->messages = replay["messages"];
    return replay.value("result", json());
  }
  auto result = live();
  json entry = {{"method", method}, {"result", result}};
  if (method == "session.prompt" || method == "session.skill")
    entry["messages"] = session_of(params, method)->messages;
  std::lock_guard lock(m_mutex); // one writer at a time: a newer journal is never overwritten
  m_journal[order] = std::move(entry);
  if (!m_runtime.store().checkpoint_run(m_context.run_id, m_fence,
                                        {{"version", 1}, {"journal", m_journal}}))
    throw errors::run_taken_over(m_context.run_id);
  return result;
}

std::shared_ptr<WorkflowContext::Harness> WorkflowContext::harness_of(const json& params,
                                                                   const std::string& method) {
  const auto handle = params.value("harness", json());
  if (!handle.is_string()) bad_params(method, "`harness` must be a harness handle (a string)");
  std::lock_guard lock(m_mutex);
  const auto it = m_harnesses.find(handle.get<std::string>());
  if (it == m_harnesses.end())
    bad_handle("Unknown harness handle \"" + handle.get<std::string>() +
               "\"; call `agent.init` first and pass the `harness` it returns.");
  return it->second;
}

std::shared_ptr<WorkflowContext::Session> WorkflowContext::session_of(const json& params,
                                                                   const std::string& method) {
  const auto handle = params.value("session", json());
  if (!handle.is_string()) bad_params(method, "`session` must be a session handle (a string)");
  std::lock_guard lock(m_mutex);
  const auto it = m_sessions.find(handle.get<std::string>());
  if (it == m_sessions.end())
    bad_handle("Unknown session handle \"" + handle.get<std::string>() +
               "\"; call `session.open` first and pass the `session` it returns.");
  if (it->second->closed)
    bad_handle("Session handle \"" + it->first + "\" (session \"" + it->second->name +
               "\") is closed.");
  return it->second;
}

std::string WorkflowContext::model_for(const std::string& call_model, const Harness& harness) const {
  if (!m_model_override.empty()) return m_model_override; // `hearth run --model` wins
  if (!call_model.empty()) return call_model;
  return harness.model; // empty: the agent's, then hearth.json's
}

json WorkflowContext::agent_init(const json& params) {
  const std::string method = "agent.init";
  auto agent_name = string_param(params, "agent", method, false);
  if (agent_name.empty()) agent_name = m_runtime.program().root_agent;
  auto harness = std::make_shared<Harness>();
  harness->agent = m_runtime.agent(agent_name); // throws agent_not_found
  harness->name = string_param(params, "harness", method, false);
  if (harness->name.empty()) harness->name = "default";
  harness->model = string_param(params, "model", method, false);
  if (params.contains("instructions"))
    harness->agent.instructions = string_param(params, "instructions", method, false);
  if (params.contains("tools")) {
    const auto& wanted = params["tools"];
    if (!wanted.is_array()) bad_params(method, "`tools` must be an array of tool names");
    std::vector<ExecToolDef> kept;
    for (const auto& name : wanted) {
      if (!name.is_string()) bad_params(method, "`tools` must be an array of tool names");
      const auto found = std::find_if(harness->agent.tools.begin(), harness->agent.tools.end(),
                                      [&](const ExecToolDef& t) { return t.name == name; });
      if (found == harness->agent.tools.end()) {
        std::vector<std::string> names;
        for (const auto& t : harness->agent.tools) names.push_back(t.name);
        bad_params(method, "agent \"" + agent_name + "\" has no tool \"" + name.get<std::string>() +
                               "\" (its tools: " + text::quote_list(names) + ")");
      }
      kept.push_back(*found);
    }
    harness->agent.tools = std::move(kept);
  }
  {
    std::lock_guard lock(m_mutex);
    for (const auto& [handle, existing] : m_harnesses)
      if (existing->name == harness->name)
        bad_params(method, "harness \"" + harness->name +
                               "\" is already initialized in this run; pass another `harness` name");
    harness->handle = "h" + std::to_string(++m_next_handle);
    m_harnesses[harness->handle] = harness; // reserves the name while the workspace is prepared
  }
  // Run ids are ULIDs (already safe); harness names are the script's: hashed apart.
  const auto dir = harness->name == "default" ? safe_component(m_context.run_id)
                                              : workspace_name({m_context.run_id, harness->name});
  try {
    harness->workspace = std::make_unique<sandbox::Workspace>(invocation_workspace(
        m_context.workspaces_root() / dir, harness->agent,
        m_context.invoker, m_workflow_access));
  } catch (...) {
    std::lock_guard lock(m_mutex);
    m_harnesses.erase(harness->handle);
    throw;
  }
  return {{"harness", harness->handle}, {"name", harness->name}, {"agent", agent_name},
          {"workspace", harness->workspace->root().string()}};
}

json WorkflowContext::session_open(const json& params) {
  const std::string method = "session.open";
  const auto harness = harness_of(params, method);
  auto name = string_param(params, "name", method, false);
  if (name.empty()) name = "default";
  std::lock_guard lock(m_mutex);
  for (const auto& [handle, session] : m_sessions)
    if (session->harness == harness && session->name == name && !session->closed)
      return {{"session", handle}, {"name", name}}; // one conversation per name
  auto session = std::make_shared<Session>();
  session->handle = "s" + std::to_string(++m_next_handle);
  session->name = name;
  session->harness = harness;
  m_sessions[session->handle] = session;
  return {{"session", session->handle}, {"name", name}};
}

json WorkflowContext::session_close(const json& params) {
  const std::string method = "session.close";
  const auto session = session_of(params, method);
  std::lock_guard turn(session->mutex); // let a running prompt finish first
  std::lock_guard lock(m_mutex);
  session->closed = true;
  session->messages = json::array();
  return json::object();
}

json WorkflowContext::converse(Session& session, const std::string& kind, const std::string& text,
                               const json& result_schema, const std::string& model) {
  std::lock_guard turn(session.mutex);
  if (session.closed) bad_handle("Session handle \"" + session.handle + "\" is closed.");
  const auto& harness = *session.harness;
  const Envelope envelope{.run_id = m_context.run_id, .session = session.name,
                          .harness = harness.name, .operation_id = ids::make_id("op")};
  return run_operation(m_events, envelope, kind, [&](json& done) {
    TurnScope scope{m_context, m_models, m_events, *harness.workspace, envelope};
    const TurnOptions options{.model_override = model_for(model, harness),
                              .result_schema = result_schema,
                              .headless = true};
    const auto result = run_turn(scope, harness.agent, session.messages, text, options);
    json out = result.to_json();
    out["text"] = result.text;
    done = {{"result", result.to_json()}, {"usage", usage_json(result.usage)}};
    return out;
  });
}

json WorkflowContext::session_prompt(const json& params) {
  const std::string method = "session.prompt";
  const auto session = session_of(params, method);
  return converse(*session, "prompt", string_param(params, "text", method, true),
                  schema_param(params, method), string_param(params, "model", method, false));
}

json WorkflowContext::session_skill(const json& params) {
  const std::string method = "session.skill";
  const auto session = session_of(params, method);
  const auto name = string_param(params, "name", method, true);
  const auto& skills = session->harness->agent.skills;
  const auto skill = std::find_if(skills.begin(), skills.end(),
                                  [&](const SkillDef& s) { return s.name == name; });
  if (skill == skills.end())
    bad_params(method, "agent \"" + session->harness->agent.name + "\" has no skill \"" + name +
                           "\" (its skills: " + text::quote_list(names_of(skills)) + ")");
  std::string prompt = "Use the skill \"" + name + "\":\n\n" +
                       strip_frontmatter(fs::read_file(skill->file));
  if (params.contains("args") && !params["args"].is_null())
    prompt += "\n\nArguments:\n" + dump_json(params["args"], 2);
  return converse(*session, "skill", prompt, schema_param(params, method),
                  string_param(params, "model", method, false));
}

json WorkflowContext::session_task(const json& params) {
  const std::string method = "session.task";
  const auto session = session_of(params, method);
  const auto text = string_param(params, "text", method, true);
  const auto agent_name = string_param(params, "agent", method, true);
  const auto result_schema = schema_param(params, method);
  const auto& harness = *session->harness;
  // A subagent of the harness's agent first, then any agent of the project.
  const AgentDef* agent = nullptr;
  for (const auto& sub : harness.agent.subagents)
    if (sub.name == agent_name) agent = &sub;
  if (agent == nullptr) agent = &m_runtime.agent(agent_name); // throws agent_not_found
  const auto task_id = ids::make_id("task");
  const Envelope parent{.run_id = m_context.run_id, .session = session->name,
                        .harness = harness.name, .operation_id = ids::make_id("op")};
  Envelope child = parent;
  child.parent_session = session->name;
  child.session = session->name + "/" + agent_name + "/" + task_id;
  child.task_id = task_id;
  return run_operation(m_events, parent, "task", [&](json& done) {
    const auto started = Clock::now();
    m_events.emit("task_start", {{"taskId", task_id}, {"prompt", text}, {"agent", agent_name}},
                  parent);
    TurnScope scope{m_context, m_models, m_events, *harness.workspace, child};
    const TurnOptions options{.model_override = model_for("", harness),
                              .result_schema = result_schema,
                              .headless = true};
    json history = json::array(); // a task starts a fresh conversation
    try {
      const auto result = run_turn(scope, *agent, history, text, options);
      json out = result.to_json();
      out["text"] = result.text;
      m_events.emit("task", {{"taskId", task_id}, {"isError", false}, {"result", result.to_json()},
                             {"durationMs", elapsed_ms(started)}},
                    parent);
      done = {{"result", result.to_json()}, {"usage", usage_json(result.usage)}};
      return out;
    } catch (const Error& e) {
      m_events.emit("task", {{"taskId", task_id}, {"isError", true}, {"error", error_json(e)},
                             {"durationMs", elapsed_ms(started)}},
                    parent);
      throw;
    }
  });
}

json WorkflowContext::shell(const json& params) {
  const std::string method = "shell";
  const auto harness = harness_of(params, method);
  const auto command = string_param(params, "command", method, true);
  const auto cwd_param = string_param(params, "cwd", method, false);
  int timeout_ms = k_default_shell_timeout_ms;
  if (params.contains("timeoutMs")) {
    if (!params["timeoutMs"].is_number_integer() || params["timeoutMs"].get<long long>() < 1 ||
        params["timeoutMs"].get<long long>() > 24LL * 3600 * 1000)
      bad_params(method, "`timeoutMs` must be a positive integer (milliseconds, at most a day)");
    timeout_ms = params["timeoutMs"].get<int>();
  }
  const auto cwd = harness->workspace->resolve(cwd_param.empty() ? "." : cwd_param);
  const Envelope envelope{.run_id = m_context.run_id, .harness = harness->name,
                          .operation_id = ids::make_id("op")};
  return run_operation(
      m_events, envelope, "shell",
      [&](json& done) {
        const auto& values = m_context.context_values;
        const ToolContext tool{
            .workspace = harness->workspace.get(), .run_id = m_context.run_id,
            .agent = harness->agent.name,
            .invoker = m_context.invoker.is_null() ? std::string() : dump_json(m_context.invoker),
            .context = values.is_object() && !values.empty() ? dump_json(values) : std::string(),
            .traceparent = m_events.traceparent("", "", envelope.operation_id)};
        auto policy = agent_policy(harness->agent.sandbox, m_context.project_root,
                                   m_context.sandbox_fail_closed);
        sandbox::use_workspace(policy, *harness->workspace);
        const auto ran = sandbox::run({.argv = {"bash", "-c", command},
                                       .cwd = cwd,
                                       .timeout = std::chrono::milliseconds(timeout_ms),
                                       .hearth_env = tool_environment(tool),
                                       .cancel = m_context.cancel},
                                      policy);
        const auto& r = ran.capture;
        if (r.cancelled) throw errors::turn_cancelled("The workflow run was cancelled.");
        json out = {{"stdout", text::to_utf8(r.out)}, {"stderr", text::to_utf8(r.err)},
                    {"exitCode", r.exit_code}};
        if (r.timed_out) out["timedOut"] = true;
        if (!ran.limit.empty()) out["limit"] = ran.limit;
        done = {{"result", out}};
        return out;
      },
      {{"command", command}});
}

json WorkflowContext::fs_read(const json& params) {
  const std::string method = "fs.read";
  const auto harness = harness_of(params, method);
  const auto path = harness->workspace->resolve(string_param(params, "path", method, true));
  return {{"content", text::to_utf8(fs::read_file(path))}};
}

json WorkflowContext::fs_write(const json& params) {
  const std::string method = "fs.write";
  const auto harness = harness_of(params, method);
  const auto path = harness->workspace->resolve(string_param(params, "path", method, true));
  const auto content = params.value("content", json());
  if (!content.is_string()) bad_params(method, "`content` must be a string");
  std::filesystem::create_directories(path.parent_path());
  fs::write_file_atomic(path, content.get<std::string>());
  return {{"path", harness->workspace->relative(path)},
          {"bytes", content.get<std::string>().size()}};
}

json WorkflowContext::log(const json& params) {
  const std::string method = "log";
  const auto level = string_param(params, "level", method, false);
  if (!level.empty() && level != "info" && level != "warn" && level != "error")
    bad_params(method, "`level` must be \"info\", \"warn\" or \"error\"");
  json data = {{"level", level.empty() ? "info" : level},
               {"message", string_param(params, "message", method, true)}};
  if (params.contains("attributes") && !params["attributes"].is_null()) {
    if (!params["attributes"].is_object()) bad_params(method, "`attributes` must be an object");
    data["attributes"] = params["attributes"];
  }
  m_events.emit("log", std::move(data), Envelope{.run_id = m_context.run_id});
  return json::object();
}

} // namespace hearth::runtime

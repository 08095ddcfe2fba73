// Lowering: discovery structs -> the compiled manifest and the discovery manifest (docs/manifest.md).
// Pure functions; compile.cpp does the I/O.
#include "manifest/manifest.hpp"
#include "sandbox/sandbox.hpp"
#include "triggers/channel_config.hpp"

namespace hearth::manifest {
namespace {

using discovery::Agent;

nlohmann::json or_null(const std::string& s) { return s.empty() ? nlohmann::json() : nlohmann::json(s); }

template <class T> nlohmann::json or_null(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json();
}

nlohmann::json tool_set(const Agent& agent) {
  auto tools = nlohmann::json::array();
  auto authored = [&](const std::string& name) {
    for (const auto& t : agent.tools)
      if (t.name == name) return true;
    return false;
  };
  for (const auto& b : builtin_tools()) {
    if (authored(b["name"].get<std::string>())) continue; // an authored tool replaces the built-in
    // The schema lives once in the manifest's top-level `builtinTools`, not in every agent.
    tools.push_back({{"name", b["name"]}, {"kind", "builtin"}, {"description", b["description"]}});
  }
  for (const auto& sub : agent.subagents)
    tools.push_back({{"name", sub.name},
                     {"kind", "subagent"},
                     {"description", sub.description},
                     {"inputSchema", subagent_tool_schema()},
                     {"agent", sub.name}});
  for (const auto& t : agent.tools)
    tools.push_back({{"name", t.name},
                     {"kind", "authored"},
                     {"description", t.description},
                     {"inputSchema", t.input_schema},
                     {"command", t.command},
                     {"cwd", t.cwd},
                     {"spec", t.spec},
                     {"executable", or_null(t.executable)},
                     {"approval", t.approval},
                     {"timeoutMs", or_null(t.timeout_ms)},
                     {"sandbox", t.sandbox},
                     {"idempotent", t.idempotent}});
  return tools;
}

nlohmann::json lower_agent(const Agent& a, const nlohmann::json& project_sandbox) {
  nlohmann::json j;
  j["name"] = a.name;
  j["kind"] = a.kind;
  j["dir"] = a.dir;
  j["model"] = or_null(a.model);
  j["description"] = or_null(a.description);
  j["modelOptions"] = a.model_options;
  j["maxSteps"] = or_null(a.max_steps);
  if (a.connection_tool_threshold) j["connectionToolThreshold"] = *a.connection_tool_threshold;
  j["outputSchema"] = a.output_schema;
  j["compaction"] = a.compaction.is_null() ? nlohmann::json{{"thresholdPercent", 0.9}} : a.compaction;
  j["http"] = a.http;
  if (a.http_disabled) j["httpDisabled"] = true;
  if (!a.invoker.is_null()) j["invoker"] = a.invoker;
  if (!a.access.is_null()) j["access"] = a.access;
  if (!a.policy.is_null()) j["policy"] = a.policy;
  j["instructions"] = {{"text", a.instructions}, {"files", a.instruction_files}};
  j["tools"] = tool_set(a);
  auto skills = nlohmann::json::array();
  for (const auto& s : a.skills)
    skills.push_back({{"name", s.name},
                      {"description", s.description},
                      {"path", s.path},
                      {"dir", or_null(s.dir)},
                      {"files", s.files},
                      {"body", s.body}});
  j["skills"] = std::move(skills);
  auto connections = nlohmann::json::array();
  for (const auto& c : a.connections) {
    nlohmann::json conn = c.config;
    conn.erase("$schema");
    conn["name"] = c.name;
    conn["path"] = c.path;
    conn["transport"] = c.transport;
    if (c.project) conn["project"] = true; // tools named mcp__<server>__<tool> (docs/mcp.md)
    connections.push_back(std::move(conn));
  }
  j["connections"] = std::move(connections);
  auto subagents = nlohmann::json::array();
  for (const auto& s : a.subagents) subagents.push_back(lower_agent(s, project_sandbox));
  j["subagents"] = std::move(subagents);
  auto hooks = nlohmann::json::array();
  for (const auto& h : a.hooks) hooks.push_back({{"name", h.name}, {"path", h.path}});
  j["hooks"] = std::move(hooks);
  // The effective sandbox settings: hearth.json's with agent.json's over them (docs/sandbox.md).
  // Discovery has reported invalid values; they fall back to the defaults here.
  nlohmann::json policy;
  try {
    policy = sandbox::to_json(sandbox::merge(sandbox::merge({}, project_sandbox), a.sandbox));
  } catch (const std::exception&) {
    policy = sandbox::to_json({});
  }
  j["sandbox"] = {{"workspace", or_null(a.sandbox_workspace)}, {"files", a.sandbox_files},
                  {"policy", policy}};
  j["mock"] = or_null(a.mock);
  return j;
}

nlohmann::json lower_workflow(const discovery::Workflow& w) {
  nlohmann::json j = {{"name", w.name},
                      {"kind", w.kind},
                      {"path", w.path},
                      {"description", or_null(w.description)},
                      {"http", w.http}};
  if (!w.access.is_null()) j["access"] = w.access;
  if (w.kind == "declarative") {
    j["agent"] = or_null(w.agent);
    j["model"] = or_null(w.model);
    j["result"] = w.result;
    j["maxSteps"] = or_null(w.max_steps);
    j["maxAttempts"] = or_null(w.max_attempts);
    j["body"] = w.body;
  } else {
    j["executable"] = w.path;
    j["interpreter"] = or_null(w.interpreter);
    j["sidecar"] = or_null(w.sidecar);
    j["timeoutMs"] = or_null(w.timeout_ms);
  }
  return j;
}

nlohmann::json route(const char* method, const std::string& path, const char* kind,
                     const std::string& target) {
  return {{"method", method}, {"path", path}, {"kind", kind}, {"target", target}};
}

} // namespace

nlohmann::json to_manifest(const discovery::Discovery& found, const config::Project& project) {
  nlohmann::json m;
  m["kind"] = k_manifest_kind;
  m["version"] = k_manifest_version;
  m["hearthVersion"] = HEARTH_VERSION;
  m["status"] = found.errors() == 0 ? "ready" : "failed";
  m["name"] = project.name;
  m["layout"] = found.layout;
  m["sourceRoot"] = found.source_root;
  m["agentRoot"] = found.root ? nlohmann::json(found.root->dir) : nlohmann::json();
  m["model"] = or_null(project.model);
  m["rootAgent"] = found.root ? nlohmann::json(found.root->name) : nlohmann::json();
  m["builtinTools"] = builtin_tools();

  auto agents = nlohmann::json::array();
  if (found.root) agents.push_back(lower_agent(*found.root, project.sandbox));
  for (const auto& a : found.agents) agents.push_back(lower_agent(a, project.sandbox));
  try {
    m["sandbox"] = sandbox::to_json(sandbox::merge({}, project.sandbox));
  } catch (const std::exception&) {
    m["sandbox"] = sandbox::to_json({});
  }
  m["agents"] = std::move(agents);

  auto workflows = nlohmann::json::array();
  for (const auto& w : found.workflows) workflows.push_back(lower_workflow(w));
  m["workflows"] = std::move(workflows);

  auto schedules = nlohmann::json::array();
  auto channels = nlohmann::json::array();
  if (found.root) {
    for (const auto& s : found.root->schedules) {
      nlohmann::json j = {{"name", s.name},
                          {"path", s.path},
                          {"cron", s.cron},
                          {"description", or_null(s.description)},
                          {"agent", found.root->name},
                          {"prompt", s.prompt},
                          {"catchUp", s.catch_up},
                          {"overlap", s.overlap}};
      if (!s.run.empty()) { // a script run as the program workflow `schedule:<name>`
        j["run"] = s.run;
        j["interpreter"] = or_null(s.interpreter);
        j["workflow"] = "schedule:" + s.name;
      }
      schedules.push_back(std::move(j));
    }
    for (const auto& c : found.root->channels)
      channels.push_back({{"name", c.name}, {"path", c.path}, {"config", c.config}});
  }
  m["schedules"] = std::move(schedules);
  m["channels"] = std::move(channels);

  auto routes = nlohmann::json::array();
  bool runs = false;
  for (const auto& w : found.workflows)
    if (w.http) {
      routes.push_back(route("POST", "/workflows/" + w.name, "workflow", w.name));
      runs = true;
    }
  if (runs) {
    routes.push_back(route("GET", "/runs/:runId", "runs", ""));
    routes.push_back(route("HEAD", "/runs/:runId", "runs", ""));
  }
  auto expose = [&](const Agent& a) {
    if (!a.http) return;
    routes.push_back(route("POST", "/agents/" + a.name + "/:id", "agent", a.name));
    routes.push_back(route("GET", "/agents/" + a.name + "/:id", "agent", a.name));
  };
  if (found.root) expose(*found.root);
  for (const auto& a : found.agents) expose(a);
  // Only the routes a channel really answers (docs/triggers.md): POST /channels/<name><suffix>.
  for (const auto& c : m["channels"]) {
    const auto name = c["name"].get<std::string>();
    std::vector<std::string> problems;
    if (const auto def = triggers::parse_channel(name, c["path"].get<std::string>(), c["config"], problems))
      for (const auto& r : def->routes)
        routes.push_back(route(r.method.c_str(), "/channels/" + name + r.suffix, "channel", name));
  }
  if (found.root) {
    const auto& n = found.root->name;
    routes.push_back(route("POST", "/eve/v1/session", "eve", n));
    routes.push_back(route("POST", "/eve/v1/session/:sessionId", "eve", n));
    routes.push_back(route("GET", "/eve/v1/session/:sessionId/stream", "eve", n));
    routes.push_back(route("GET", "/eve/v1/health", "eve", n));
    routes.push_back(route("GET", "/eve/v1/info", "eve", n));
    m["messaging"] = {{"create", "/eve/v1/session"},
                      {"messages", "/eve/v1/session/:sessionId"},
                      {"stream", "/eve/v1/session/:sessionId/stream"}};
  } else {
    m["messaging"] = nullptr;
  }
  // hearth as an MCP server (lib/server/routes_mcp.cpp, issue 13 §6): always mounted.
  routes.push_back(route("POST", "/mcp", "mcp", ""));
  routes.push_back(route("DELETE", "/mcp", "mcp", ""));
  m["routes"] = std::move(routes);
  m["diagnosticsSummary"] = {{"errors", found.errors()}, {"warnings", found.warnings()}};
  return m;
}

nlohmann::json to_discovery_manifest(const discovery::Discovery& found) {
  std::function<nlohmann::json(const Agent&)> paths = [&](const Agent& a) {
    nlohmann::json j = {{"name", a.name}, {"kind", a.kind}, {"dir", a.dir}, {"config", a.has_config},
                        {"instructions", a.instruction_files}};
    auto list = [](const auto& items, auto field) {
      auto out = nlohmann::json::array();
      for (const auto& i : items) out.push_back({{"name", i.name}, {"path", field(i)}});
      return out;
    };
    j["tools"] = list(a.tools, [](const discovery::Tool& t) { return t.spec; });
    j["skills"] = list(a.skills, [](const discovery::Skill& s) { return s.path; });
    j["connections"] = list(a.connections, [](const discovery::Connection& c) { return c.path; });
    j["schedules"] = list(a.schedules, [](const discovery::Schedule& s) { return s.path; });
    j["channels"] = list(a.channels, [](const discovery::Channel& c) { return c.path; });
    j["hooks"] = list(a.hooks, [](const discovery::Hook& h) { return h.path; });
    j["sandboxWorkspace"] = or_null(a.sandbox_workspace);
    auto subs = nlohmann::json::array();
    for (const auto& s : a.subagents) subs.push_back(paths(s));
    j["subagents"] = std::move(subs);
    return j;
  };
  nlohmann::json m;
  m["kind"] = "hearth-agent-discovery-manifest";
  m["version"] = 1;
  m["layout"] = found.layout;
  m["sourceRoot"] = found.source_root;
  m["root"] = found.root ? paths(*found.root) : nlohmann::json();
  auto agents = nlohmann::json::array();
  for (const auto& a : found.agents) agents.push_back(paths(a));
  m["agents"] = std::move(agents);
  auto workflows = nlohmann::json::array();
  for (const auto& w : found.workflows)
    workflows.push_back({{"name", w.name}, {"kind", w.kind}, {"path", w.path}, {"sidecar", or_null(w.sidecar)}});
  m["workflows"] = std::move(workflows);
  m["diagnosticsSummary"] = {{"errors", found.errors()}, {"warnings", found.warnings()}};
  return m;
}

} // namespace hearth::manifest

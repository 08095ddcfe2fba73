// GET /eve/v1/info: Eve 0.80.1's agent-info document built from the compiled program.
#include "server/eve_info.hpp"

#include "mcp/connections.hpp"
#include "triggers/channel_config.hpp"

#include <fstream>
#include <iterator>

namespace hearth::server {
namespace {
using nlohmann::json;

const json k_app_owner = {{"kind", "application"}};

/// An Eve "source" of the application whose module binding points at `file` (Eve requires a
/// binding on module sources, with the same logical path and owner).
json module_source(const std::string& logical_path, const std::string& file) {
  return {{"logicalPath", logical_path},
          {"owner", k_app_owner},
          {"sourceId", logical_path},
          {"sourceKind", "module"},
          {"binding", {{"backing", {{"kind", "filesystem"}, {"externalDependencies", json::array()},
                                    {"sourcePath", file}}},
                       {"logicalPath", logical_path},
                       {"owner", k_app_owner}}}};
}

json markdown_source(const std::string& logical_path) {
  return {{"logicalPath", logical_path}, {"owner", k_app_owner}, {"sourceId", logical_path},
          {"sourceKind", "markdown"}};
}

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

} // namespace

json eve_info_document(const runtime::Program& program, bool dev, const mcp::Pool* pool) {
  const runtime::AgentDef* root = nullptr;
  for (const auto& a : program.agents)
    if (a.name == program.root_agent) root = &a;
  const runtime::AgentDef empty{.name = program.root_agent};
  const auto& agent = root != nullptr ? *root : empty;
  const auto dir = agent.directory.string();
  json tools = json::array(), skills = json::array(), subagents = json::array();
  json instructions = json::array();
  for (const auto& t : agent.tools) {
    json tool = module_source("tools/" + t.name + ".json",
                              t.command.empty() ? dir : t.command.front());
    tool.update({{"name", t.name}, {"description", t.description}, {"hasAuth", false},
                 {"hasExecute", true}, {"hasModelOutputProjection", false},
                 {"hasOutputSchema", false}, {"inputSchema", *t.input_schema},
                 {"requiresApproval", t.approval != "never"}});
    tools.push_back(tool);
  }
  for (const auto& sk : agent.skills) {
    json skill = markdown_source(sk.directory.empty() ? "skills/" + sk.name + ".md"
                                                      : "skills/" + sk.name + "/SKILL.md");
    skill.update({{"name", sk.name}, {"description", sk.description},
                  {"markdown", read_text(sk.file)}});
    skills.push_back(skill);
  }
  for (const auto& sub : agent.subagents) {
    json entry = module_source("subagents/" + sub.name, (sub.directory / "agent.json").string());
    entry.update({{"name", sub.name}, {"description", sub.description},
                  {"entryPath", sub.directory.string()}, {"nodeId", sub.name},
                  {"parentNodeId", "__root__"}, {"rootPath", sub.directory.string()},
                  {"summary", {{"channels", 0}, {"connections", sub.connections.size()}, {"hooks", sub.hooks.size()},
                               {"instructions", sub.instructions.empty() ? 0 : 1},
                               {"memories", 0}, {"schedules", 0},
                               {"skills", sub.skills.size()}, {"tools", sub.tools.size()}}}});
    subagents.push_back(entry);
  }
  json connections = json::array(); // issue 13: the MCP connections the runtime starts on use
  for (const auto& c : agent.connections) {
    if (!c.is_object() || !c.contains("name") || !c["name"].is_string()) continue;
    const auto name = c["name"].get<std::string>();
    json entry = module_source("connections/" + name + ".json",
                               (agent.directory / "connections" / (name + ".json")).string());
    entry.update({{"name", name},
                  {"kind", c.value("transport", json("")) == "openapi" ? "openapi" : "mcp"},
                  {"transport", c.value("transport", json("stdio"))},
                  {"description", c.contains("description") && c["description"].is_string()
                                      ? c["description"]
                                      : json("")},
                  {"requiresApproval", c.contains("approval") && c["approval"] != "never"},
                  {"startup", c.value("eager", json(false)) == true ? "eager" : "lazy"},
                  {"toolPrefix", std::string(c.value("project", json(false)) == true ? "mcp__" : "connection__") +
                                     name + "__"},
                  {"state", "idle"}});
    if (pool)
      for (const auto& s : pool->state(agent.name))
        if (s.value("name", "") == name) {
          entry["state"] = s["state"];
          if (s.contains("tools")) entry["tools"] = s["tools"];
          if (s.contains("lastError")) entry["lastError"] = s["lastError"];
        }
    connections.push_back(entry);
  }
  json hooks = json::array(); // the hooks the runtime calls (docs/runtime.md "Hooks")
  for (const auto& hook : agent.hooks) {
    const auto logical = hook.path.lexically_relative(agent.directory).generic_string();
    json entry = module_source(logical.empty() || logical.starts_with("..") ? "hooks/" + hook.name
                                                                           : logical,
                               hook.path.string());
    entry.update({{"name", hook.name}, {"event", hook.event}});
    hooks.push_back(entry);
  }
  if (!agent.instructions.empty()) {
    json entry = markdown_source("instructions.md");
    entry.update({{"name", "instructions"}, {"content", agent.instructions}, {"role", "system"}});
    instructions.push_back(entry);
  }
  const auto slash = agent.model.find('/');
  const auto provider = slash == std::string::npos ? std::string("unknown") : agent.model.substr(0, slash);
  json model = {{"id", agent.model}, {"routing", {{"kind", "external"}, {"provider", provider}}},
                {"endpoint", {{"kind", "external"}, {"provider", provider}}}};
  json sandbox = {{"logicalPath", "sandbox"},
                  {"owner", {{"kind", "framework"}, {"feature", "hearth:defaults"}}},
                  {"sourceId", "hearth:defaults:sandbox"},
                  {"sourceKind", "module"},
                  {"provider", "workspace"},
                  {"revisionHash", HEARTH_VERSION},
                  {"binding", {{"backing", {{"kind", "programmatic"}, {"moduleId", "sandbox"},
                                            {"registryId", "hearth:defaults"},
                                            {"revision", std::string("hearth@") + HEARTH_VERSION}}},
                               {"logicalPath", "sandbox"},
                               {"owner", {{"kind", "framework"}, {"feature", "hearth:defaults"}}}}}};
  json agent_doc = {{"agentRoot", dir},
                    {"appRoot", agent.directory.parent_path().string()},
                    {"config", module_source("agent.json", (agent.directory / "agent.json").string())},
                    {"model", model},
                    {"name", agent.name},
                    {"nodeId", "__root__"}};
  if (!agent.description.empty()) agent_doc["description"] = agent.description;
  if (!agent.output_schema.is_null()) agent_doc["outputSchema"] = agent.output_schema;
  // Triggers (issue 14): schedules with their cron, and the channel routes that answer.
  json schedules = json::array();
  for (const auto& s : program.schedules)
    schedules.push_back({{"name", s.value("name", "")}, {"cron", s.value("cron", "")},
                         {"logicalPath", s.value("path", "")}, {"mode", "markdown"}});
  json channel_routes = json::array();
  for (const auto& c : program.channels) {
    std::vector<std::string> problems;
    if (const auto def = triggers::parse_channel(c.value("name", ""), c.value("path", ""),
                                                 c.value("config", json::object()), problems))
      for (const auto& r : def->routes)
        channel_routes.push_back({{"name", def->name}, {"kind", triggers::to_string(def->type)},
                                  {"method", r.method}, {"urlPath", "/channels/" + def->name + r.suffix}});
  }
  return {{"kind", "eve-agent-info"},
          {"version", 5},
          {"mode", dev ? "development" : "production"},
          {"agent", agent_doc},
          {"capabilities", {{"devRoutes", dev}}},
          {"channels", {{"routes", channel_routes}, {"shadowed", json::array()}}},
          {"composition", {{"disabled", json::array()}, {"shadowed", json::array()}}},
          {"connections", connections},
          {"diagnostics", {{"discoveryErrors", 0}, {"discoveryWarnings", 0}}},
          {"hooks", hooks},
          {"instructions", {{"dynamic", json::array()}, {"static", instructions}}},
          {"kernelEffects", json::array()},
          {"memories", json::array()},
          {"remoteAgents", {{"entries", json::array()}, {"total", 0}}},
          {"sandbox", sandbox},
          {"schedules", schedules},
          {"skills", {{"dynamic", json::array()}, {"static", skills}}},
          {"subagents", {{"local", subagents}, {"total", subagents.size()}}},
          {"tools", {{"dynamic", json::array()}, {"static", tools}}},
          {"workspace", {{"resourceRoot", nullptr}, {"rootEntries", json::array()}}}};
}

} // namespace hearth::server

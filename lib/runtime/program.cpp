// Compiled manifest -> runtime definitions; see program.hpp.
#include "runtime/program.hpp"

#include "core/errors.hpp"
#include "runtime/hooks.hpp"

namespace hearth::runtime {
namespace {
namespace stdfs = std::filesystem;
using nlohmann::json;

std::string str(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int integer(const json& j, const char* key, int fallback) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int>() : fallback;
}

stdfs::path path_in(const stdfs::path& root, const std::string& relative) {
  if (relative.empty()) return {};
  return (stdfs::path(relative).is_absolute() ? stdfs::path(relative) : root / relative)
      .lexically_normal();
}

ExecToolDef load_tool(const json& t, const stdfs::path& root) {
  ExecToolDef tool{.name = str(t, "name"),
                   .description = str(t, "description"),
                   .input_schema = make_schema(t.value("inputSchema", json::object())),
                   .cwd = path_in(root, str(t, "cwd")),
                   .approval = t.value("approval", std::string("never")),
                   .timeout_ms = integer(t, "timeoutMs", k_default_tool_timeout_ms),
                   .sandbox = t.value("sandbox", json()),
                   .idempotent = t.value("idempotent", false)};
  for (const auto& arg : t.value("command", json::array())) tool.command.push_back(arg.get<std::string>());
  // A program written as a path is relative to the spec's directory (its cwd).
  if (!tool.command.empty() && tool.command.front().find('/') != std::string::npos &&
      !stdfs::path(tool.command.front()).is_absolute())
    tool.command.front() = (tool.cwd / tool.command.front()).lexically_normal().string();
  return tool;
}

AgentDef load_agent(const json& a, const stdfs::path& root) {
  AgentDef agent{.name = str(a, "name"),
                 .description = str(a, "description"),
                 .model = str(a, "model"),
                 .instructions = a.value("instructions", json::object()).value("text", std::string()),
                 .model_options = a.value("modelOptions", json::object()),
                 .max_steps = integer(a, "maxSteps", k_default_max_steps),
                 .connection_tool_threshold = integer(a, "connectionToolThreshold", 32),
                 .output_schema = a.value("outputSchema", json()),
                 .compaction = a.value("compaction", json()),
                 .http = a.value("http", false),
                 .http_disabled = a.value("httpDisabled", false),
                 .invoker = a.value("invoker", json()),
                 .access = a.value("access", json()),
                 .policy = a.value("policy", json()),
                 .directory = path_in(root, str(a, "dir"))};
  if (!agent.model_options.is_object()) agent.model_options = json::object();
  for (const auto& t : a.value("tools", json::array()))
    if (t.value("kind", "") == "authored") agent.tools.push_back(load_tool(t, root));
  for (const auto& s : a.value("skills", json::array()))
    agent.skills.push_back({.name = str(s, "name"),
                            .description = str(s, "description"),
                            .file = path_in(root, str(s, "path")),
                            .directory = path_in(root, str(s, "dir"))});
  for (const auto& sub : a.value("subagents", json::array()))
    agent.subagents.push_back(load_agent(sub, root));
  for (const auto& h : a.value("hooks", json::array()))
    agent.hooks.push_back({.name = str(h, "name"), .event = hook_event(str(h, "name")),
                           .path = path_in(root, str(h, "path"))});
  agent.workspace_seed = path_in(root, str(a.value("sandbox", json::object()), "workspace"));
  agent.sandbox = sandbox::merge({}, a.value("sandbox", json::object()).value("policy", json::object()));
  agent.mock_script = path_in(root, str(a, "mock"));
  if (a.contains("connections") && a["connections"].is_array()) agent.connections = a["connections"];
  return agent;
}

WorkflowDef load_workflow(const json& w, const stdfs::path& root, const json& project_sandbox) {
  WorkflowDef workflow{.name = str(w, "name"),
                       .kind = str(w, "kind") == "program" ? WorkflowKind::program
                                                           : WorkflowKind::declarative,
                       .description = str(w, "description"),
                       .agent = str(w, "agent"),
                       .model = str(w, "model"),
                       .result = w.value("result", json()),
                       .body = str(w, "body"),
                       .max_steps = integer(w, "maxSteps", 0),
                       .max_attempts = integer(w, "maxAttempts", k_default_max_attempts),
                       .http = w.value("http", false),
                       .timeout_ms = integer(w, "timeoutMs", 0),
                       .access = w.value("access", json())};
  if (workflow.kind == WorkflowKind::program) {
    workflow.executable = path_in(root, str(w, "executable"));
    const auto interpreter = str(w, "interpreter");
    if (!interpreter.empty()) workflow.command.push_back(interpreter);
    workflow.command.push_back(workflow.executable.string());
    workflow.sandbox = sandbox::merge({}, project_sandbox);
  }
  return workflow;
}

} // namespace

Program load_program(const json& manifest, const stdfs::path& root) {
  try {
    Program program{.root_agent = str(manifest, "rootAgent")};
    for (const auto& a : manifest.value("agents", json::array()))
      program.agents.push_back(load_agent(a, root));
    std::stable_partition(program.agents.begin(), program.agents.end(),
                          [&](const AgentDef& a) { return a.name == program.root_agent; });
    for (const auto& w : manifest.value("workflows", json::array()))
      program.workflows.push_back(load_workflow(w, root, manifest.value("sandbox", json::object())));
    program.schedules = manifest.value("schedules", json::array());
    // `run` schedules (docs/triggers.md): each fire is a run of a script workflow of its own,
    // `schedule:<name>` (no HTTP route; the manifest names it).
    for (const auto& s : program.schedules)
      if (s.is_object() && s.contains("workflow") && s["workflow"].is_string() && s.contains("run"))
        program.workflows.push_back(load_workflow(
            {{"name", s["workflow"]}, {"kind", "program"}, {"executable", s["run"]},
             {"interpreter", s.value("interpreter", json())},
             {"description", "schedule " + s.value("name", std::string())}},
            root, manifest.value("sandbox", json::object())));
    program.channels = manifest.value("channels", json::array());
    std::sort(program.workflows.begin(), program.workflows.end(),
              [](const WorkflowDef& x, const WorkflowDef& y) { return x.name < y.name; });
    return program;
  } catch (const json::exception& e) {
    throw errors::manifest_invalid(root.string(), e.what());
  }
}

} // namespace hearth::runtime

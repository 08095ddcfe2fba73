// discover(): layout resolution (nested agent/ or flat source root, seed page 06), named agents
// under agents/, workflows/ (declarative .md and programs), and project-wide name rules (page 05).
#include "discovery/walk.hpp"

#include "core/text.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

namespace hearth::discovery {
namespace stdfs = std::filesystem;
using detail::Context;
using detail::Entry;
using detail::extension_of;
using detail::stem_of;

namespace {

const std::vector<std::string> k_workflow_keys = {"description", "agent", "model",
                                                  "result",      "http",  "maxSteps",
                                                  "access",      "maxAttempts"};
const std::vector<std::string> k_sidecar_keys = {"$schema", "description", "http", "timeoutMs",
                                                 "access"};

bool has_shebang(const stdfs::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char head[2] = {0, 0};
  const auto n = std::fread(head, 1, 2, f);
  std::fclose(f);
  return n == 2 && head[0] == '#' && head[1] == '!';
}

void read_declarative(Context& ctx, Workflow& w, const stdfs::path& path) {
  auto fm = ctx.read_markdown(path);
  if (!fm) return;
  ctx.check_keys(fm->data, k_workflow_keys, path, "workflow frontmatter");
  if (auto d = ctx.string_field(fm->data, "description", path)) w.description = *d;
  if (auto a = ctx.string_field(fm->data, "agent", path)) w.agent = *a;
  if (auto m = ctx.string_field(fm->data, "model", path)) w.model = *m;
  if (auto h = ctx.bool_field(fm->data, "http", path)) w.http = *h;
  if (fm->data.contains("access")) w.access = fm->data["access"];
  w.max_steps = ctx.positive_int_field(fm->data, "maxSteps", path);
  w.max_attempts = ctx.positive_int_field(fm->data, "maxAttempts", path);
  if (fm->data.contains("result") && !fm->data["result"].is_null() &&
      ctx.check_schema(fm->data["result"], path, "result", false))
    w.result = fm->data["result"];
  w.body = std::move(fm->body);
  if (text::trim(w.body).empty())
    ctx.error("missing-field", "Workflow \"" + w.name + "\" has an empty prompt body.", path,
              "Write the prompt after the frontmatter; {{payload.<path>}} inserts payload values.");
}

void read_sidecar(Context& ctx, Workflow& w, const stdfs::path& path) {
  const auto json = ctx.read_json(path);
  if (!json) return;
  if (!json->is_object()) {
    ctx.error("invalid-field", "A workflow sidecar must be a JSON object.", path,
              "Write {\"description\": \"...\", \"http\": true}.");
    return;
  }
  ctx.check_keys(*json, k_sidecar_keys, path, "workflow sidecar");
  if (auto d = ctx.string_field(*json, "description", path)) w.description = *d;
  if (auto h = ctx.bool_field(*json, "http", path)) w.http = *h;
  if (json->contains("access")) w.access = (*json)["access"];
  w.timeout_ms = ctx.positive_int_field(*json, "timeoutMs", path);
}

void read_workflows(Context& ctx, Discovery& out, const stdfs::path& dir) {
  const auto entries = ctx.list(dir);
  std::set<std::string> program_stems;
  std::map<std::string, std::string> seen; // name -> path
  for (const auto& e : entries) {
    if (e.is_dir) {
      ctx.warning("unknown-entry", "Ignored: workflows/ is not recursive.", e.path,
                  "Move the workflow to workflows/<name>.md or workflows/<name>.<ext>.");
      continue;
    }
    const auto ext = extension_of(e.name);
    if (ext == ".json") continue; // sidecars are matched below
    Workflow w{.name = stem_of(e.name), .path = ctx.rel(e.path)};
    if (ext == ".md") {
      w.kind = "declarative";
    } else if (const auto interp = interpreter_for(ext)) {
      w.kind = "program";
      w.interpreter = *interp;
    } else if (e.executable && has_shebang(e.path)) {
      w.kind = "program";
    } else {
      ctx.warning("unknown-entry",
                  "Ignored: a workflow is a .md file, a .py/.js/.mjs/.sh script, or an executable "
                  "with a shebang.",
                  e.path, "Rename it or move it out of workflows/.");
      continue;
    }
    if (w.name.empty()) continue;
    if (const auto it = seen.find(w.name); it != seen.end()) {
      ctx.error("duplicate-name",
                "Workflow \"" + w.name + "\" is defined twice: by " + it->second + " and " + w.path + ".",
                e.path, "One file per basename: rename or remove one of them.");
      continue;
    }
    seen[w.name] = w.path;
    if (w.kind == "declarative") {
      read_declarative(ctx, w, e.path);
    } else {
      program_stems.insert(w.name);
      const auto sidecar = dir / (w.name + ".json");
      if (std::any_of(entries.begin(), entries.end(),
                      [&](const Entry& x) { return x.path == sidecar && x.is_file; })) {
        w.sidecar = ctx.rel(sidecar);
        read_sidecar(ctx, w, sidecar);
      }
    }
    out.workflows.push_back(std::move(w));
  }
  for (const auto& e : entries)
    if (e.is_file && extension_of(e.name) == ".json" && !program_stems.count(stem_of(e.name)))
      ctx.warning("unknown-entry", "Ignored: sidecar without a program workflow named \"" +
                                       stem_of(e.name) + "\".",
                  e.path, "A sidecar describes workflows/<name>.<ext>; declarative workflows use frontmatter.");
}

} // namespace

std::size_t Discovery::errors() const {
  return static_cast<std::size_t>(std::count_if(diagnostics.begin(), diagnostics.end(), [](const auto& d) {
    return d.severity == Severity::error;
  }));
}

std::size_t Discovery::warnings() const { return diagnostics.size() - errors(); }

const std::vector<std::string>& slot_names() {
  static const std::vector<std::string> names = {
      "agent.json", "instructions.md", "instructions", "tools",    "skills",
      "connections", "subagents",      "sandbox",      "schedules", "channels",
      "hooks",       "mock.jsonl"};
  return names;
}

Discovery discover(const config::Project& project) {
  Discovery out;
  Context ctx(project, out);
  const auto& src = project.source_root;
  out.source_root = ctx.rel(src);

  std::map<std::string, Entry> top;
  for (auto& e : ctx.list(src)) top[e.name] = e;
  const bool nested = top.count("agent") && top["agent"].is_dir;
  bool flat = false;
  if (!nested)
    for (const auto& slot : slot_names())
      if (top.count(slot)) flat = true;
  out.layout = nested ? "nested" : flat ? "flat" : "none";

  std::map<std::string, std::string> agent_names; // name -> dir
  if (nested || flat) {
    const auto dir = nested ? src / "agent" : src;
    out.root = detail::read_agent(ctx, dir, project.name, "root", flat);
    agent_names[project.name] = out.root->dir;
    if (project.name.find(':') != std::string::npos || project.name.empty())
      ctx.error("invalid-name", "Agent name \"" + project.name + "\" must be non-empty and not contain ':'.",
                project.config_file ? *project.config_file : project.root,
                "Set hearth.json \"name\" to a name without ':'.");
    // Flue's layout: channels/<name>.json at the source root belong to the root agent.
    if (nested && top.count("channels") && top["channels"].is_dir)
      detail::read_channels(ctx, *out.root, top["channels"].path);
    // Flue's connectMcpServer: connections/ at the source root, tools named mcp__<server>__<tool>.
    if (nested && top.count("connections") && top["connections"].is_dir)
      detail::read_project_connections(ctx, *out.root, top["connections"].path);
    if (nested)
      for (const auto& slot : slot_names())
        if (top.count(slot) && slot != "channels" && slot != "connections")
          ctx.warning("unknown-entry",
                      "Ignored: \"" + slot + "\" at the source root, because the root agent lives in agent/.",
                      top[slot].path, "Move it into agent/.");
  }

  if (top.count("agents") && top["agents"].is_dir) {
    for (const auto& e : ctx.list(src / "agents")) {
      if (!e.is_dir) {
        ctx.warning("unknown-entry", "Ignored: agents/ holds one directory per agent.", e.path,
                    "Create agents/<name>/ with agent.json and instructions.md.");
        continue;
      }
      if (e.name.find(':') != std::string::npos) {
        ctx.error("invalid-name", "Agent name \"" + e.name + "\" must not contain ':'.", e.path,
                  "Rename the directory.");
        continue;
      }
      if (const auto it = agent_names.find(e.name); it != agent_names.end()) {
        ctx.error("duplicate-name",
                  "Agent \"" + e.name + "\" is defined twice: by " + it->second + " and " + ctx.rel(e.path) + ".",
                  e.path, "The root agent is named by hearth.json \"name\" (or the directory); rename one.");
        continue;
      }
      out.agents.push_back(detail::read_agent(ctx, e.path, e.name, "agent", false));
      agent_names[e.name] = out.agents.back().dir;
    }
  }

  if (top.count("workflows") && top["workflows"].is_dir) read_workflows(ctx, out, src / "workflows");

  for (auto& w : out.workflows) {
    if (w.kind != "declarative") continue;
    if (w.agent.empty()) {
      if (out.root) w.agent = out.root->name;
      continue;
    }
    if (!agent_names.count(w.agent)) {
      std::vector<std::string> names;
      for (const auto& [n, d] : agent_names) names.push_back(n);
      ctx.error("workflow-agent-unknown", "Workflow \"" + w.name + "\" names agent \"" + w.agent +
                                              "\", which does not exist.",
                project.root / w.path,
                names.empty() ? "Create agent/ or agents/<name>/."
                              : "Available agents: " + text::quote_list(names) + ".");
    }
  }

  // A channel's `dispatch.agent` must name an agent (docs/triggers.md): a compile error, not a
  // 404 at the first delivery.
  if (out.root)
    for (const auto& c : out.root->channels) {
      const auto it = c.config.find("dispatch");
      if (it == c.config.end() || !it->is_object()) continue;
      const auto agent = it->find("agent");
      if (agent == it->end() || !agent->is_string() || agent->get<std::string>().empty() ||
          agent_names.count(agent->get<std::string>()))
        continue;
      std::vector<std::string> names;
      for (const auto& [n, d] : agent_names) names.push_back(n);
      ctx.error("channel-agent-unknown", "Channel \"" + c.name + "\" dispatches to agent \"" +
                                             agent->get<std::string>() + "\", which does not exist.",
                project.root / c.path, "Available agents: " + text::quote_list(names) + ".");
    }

  if (!out.root && out.agents.empty() && out.workflows.empty()) {
    const auto base = src.string();
    ctx.error("no-agent-or-workflow",
              "No agent or workflow files found. Expected at: " + base + "/agent/, " + base + "/agents/ or " +
                  base + "/workflows/",
              src, "Run `hearth init` to scaffold a project, or create agent/instructions.md.");
  }
  return out;
}

std::string to_string(Severity severity) { return severity == Severity::error ? "error" : "warning"; }

nlohmann::json to_json(const Diagnostic& d) {
  nlohmann::json j = {{"severity", to_string(d.severity)}, {"code", d.code}, {"message", d.message},
                      {"path", d.path}};
  if (d.line > 0) j["line"] = d.line;
  if (d.column > 0) j["column"] = d.column;
  j["hint"] = d.hint;
  return j;
}

std::string describe(const Diagnostic& d) {
  std::string where = d.path.empty() ? "" : d.path;
  if (!where.empty() && d.line > 0) where += ":" + std::to_string(d.line);
  if (!where.empty() && d.column > 0) where += ":" + std::to_string(d.column);
  std::string out = to_string(d.severity) + "[" + d.code + "] " + (where.empty() ? "" : where + ": ") + d.message;
  if (!d.hint.empty()) out += "\n  hint: " + d.hint;
  return out;
}

Diagnostic diagnostic_from_json(const nlohmann::json& j) {
  Diagnostic d;
  if (!j.is_object()) return d;
  d.severity = j.value("severity", "error") == "warning" ? Severity::warning : Severity::error;
  d.code = j.value("code", "");
  d.message = j.value("message", "");
  d.path = j.value("path", "");
  d.line = j.value("line", 0);
  d.column = j.value("column", 0);
  d.hint = j.value("hint", "");
  return d;
}

} // namespace hearth::discovery

// lib/cli/commands/info.cpp: `hearth info [--json] [--strict]` compiles the project (reusing
// unchanged artifacts) and prints what was discovered: Eve's `eve info` (seed page 19, peers/eve
// transcripts/cli/info*.txt) with Flue's routes. The report is the command's answer: stdout.
#include "cli/commands/commands.hpp"
#include "cli/runtime_setup.hpp"
#include "core/errors.hpp"
#include "core/json.hpp"
#include "cli/terminal.hpp"
#include "config/env_file.hpp"
#include "core/fs.hpp"
#include "manifest/manifest.hpp"
#include "runtime/hooks.hpp"
#include "sandbox/sandbox.hpp"
#include "core/cron.hpp"
#include "triggers/channel_config.hpp"
#include "triggers/scheduler.hpp"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sys/stat.h>
#include <map>
#include <iostream>
#include <sstream>

namespace hearth::cli {
namespace {

struct InfoOptions {
  bool json = false;
  bool strict = false;
  config::ProjectFlags project{};
};

std::vector<std::string> names_of(const nlohmann::json& items) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(i.value("name", ""));
  return out;
}

std::string join(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

/// What a hook of lifecycle `event` is called with (docs/runtime.md "Hooks").
nlohmann::json hook_receives(const std::string& event) {
  if (event == "request") return {"turn start (may reject or add context)"};
  if (event == "policy") return {"tool call", "subagent call", "connection call", "sandbox command"};
  if (event == "approval") return {"approval request (may decide)"};
  if (event == "trace") return {"TraceEvent batches"};
  if (event == "error") return {"turn error", "run error"};
  if (event == "finish") return {"turn end", "run end"};
  return nlohmann::json::array();
}

/// Every agent in the manifest, depth first: root, named agents, then their subagents.
void each_agent(const nlohmann::json& agents, const std::function<void(const nlohmann::json&, const std::string&)>& fn,
                const std::string& parent = "") {
  for (const auto& a : agents) {
    const auto path = parent.empty() ? a.value("name", "") : parent + "/" + a.value("name", "");
    fn(a, path);
    each_agent(a["subagents"], fn, path);
  }
}

/// Which source supplies each variable the env files mention: the highest-precedence file that
/// defines it, or "shell" when the process environment holds another value (the shell wins).
/// Values are never shown: they are credentials.
nlohmann::json env_keys(const config::Project& project) {
  auto keys = nlohmann::json::object();
  for (const auto& file : project.env_files) {
    const auto entries = config::parse_env(fs::read_file(file), file.string());
    for (const auto& entry : entries) {
      if (keys.contains(entry.key)) continue;
      const char* now = std::getenv(entry.key.c_str());
      keys[entry.key] = now && entry.value != now ? std::string("shell") : fs::display_path(file, project.root);
    }
  }
  return keys;
}

/// The `sandbox` member (docs/info.md): bwrap, a diagnosis when it is missing, and per agent the
/// backend under `hearth dev`/`run` and under `hearth start`, network and limits.
nlohmann::ordered_json sandbox_json(const nlohmann::json& m) {
  nlohmann::ordered_json j;
  const auto bwrap = sandbox::find_bwrap();
  j["bwrap"] = bwrap ? nlohmann::json(bwrap->string()) : nlohmann::json();
  const auto dev = sandbox_backends(m, false);
  const auto start = sandbox_backends(m, true);
  bool needs_bwrap = false;
  auto agents = nlohmann::ordered_json::array();
  std::function<void(const nlohmann::json&)> visit = [&](const nlohmann::json& a) {
    const auto& policy = member_or(member_or(a, "sandbox", empty_object()), "policy", empty_object());
    nlohmann::ordered_json e;
    e["agent"] = a.value("name", "");
    for (const auto& [name, backend] : dev)
      if (name == e["agent"]) e["backend"] = backend;
    for (const auto& [name, backend] : start)
      if (name == e["agent"]) e["startBackend"] = backend;
    needs_bwrap = needs_bwrap || e["startBackend"] == "bubblewrap";
    e["network"] = policy.value("network", "off");
    e["limits"] = policy.value("limits", nlohmann::json::object());
    agents.push_back(e);
    for (const auto& sub : member_or(a, "subagents", empty_array())) visit(sub);
  };
  for (const auto& a : member_or(m, "agents", empty_array())) visit(a);
  j["agents"] = std::move(agents);
  j["diagnosis"] = needs_bwrap && !bwrap
                       ? nlohmann::json(std::string("bwrap is not installed (Debian package `") +
                                        sandbox::k_bwrap_package +
                                        "`): `hearth dev` runs commands without a sandbox and "
                                        "`hearth start` refuses to start")
                       : nlohmann::json();
  return j;
}

nlohmann::ordered_json info_json(const config::Project& project, const manifest::CompileResult& result,
                                 const nlohmann::json& keys) {
  const auto& m = result.manifest;
  const auto abs = [&](const nlohmann::json& rel) {
    return rel.is_string() ? nlohmann::json(fs::absolute_from(project.root, rel.get<std::string>()).string())
                           : nlohmann::json();
  };
  const nlohmann::json* root = nullptr;
  for (const auto& a : m["agents"])
    if (a["kind"] == "root") root = &a;

  nlohmann::ordered_json j;
  j["appRoot"] = project.root.string();
  j["agentRoot"] = abs(m["agentRoot"]);
  j["sourceRoot"] = project.source_root.string();
  j["layout"] = m["layout"];
  j["status"] = result.status;
  j["name"] = m["name"];
  j["model"] = root ? (*root)["model"] : m["model"];
  j["instructions"] = root && !(*root)["instructions"]["files"].empty()
                          ? nlohmann::json(join((*root)["instructions"]["files"].get<std::vector<std::string>>()))
                          : nlohmann::json();

  auto agents = nlohmann::json::array();
  auto schemas_root = nlohmann::json::object();
  auto schemas_agents = nlohmann::json::object();
  auto schemas_subagents = nlohmann::json::object();
  auto connections = nlohmann::json::array();
  auto hooks = nlohmann::json::array();
  std::map<std::string, const nlohmann::json*> builtin_schemas;
  for (const auto& b : m["builtinTools"]) builtin_schemas[b.value("name", "")] = &b["inputSchema"];
  each_agent(m["agents"], [&](const nlohmann::json& a, const std::string& path) {
    auto schemas = nlohmann::json::object();
    for (const auto& t : a["tools"]) {
      const auto name = t.value("name", "");
      if (t.contains("inputSchema")) schemas[name] = t["inputSchema"];
      else if (const auto it = builtin_schemas.find(name); it != builtin_schemas.end()) schemas[name] = *it->second;
    }
    if (a["kind"] == "root") schemas_root = std::move(schemas);
    else if (a["kind"] == "agent") schemas_agents[path] = std::move(schemas);
    else schemas_subagents[path] = std::move(schemas);
    for (const auto& c : a["connections"])
      connections.push_back({{"name", c["name"]}, {"agent", path}, {"transport", c["transport"]},
                             {"path", c["path"]},
                             {"description", c.contains("description") && c["description"].is_string()
                                                 ? c["description"] : nlohmann::json("")},
                             // issue 13: info starts no server; `hearth connections list` does
                             {"start", c.value("eager", false) == true ? "eager" : "lazy"},
                             {"approval", c.contains("approval") ? c["approval"] : nlohmann::json("never")}});
    for (const auto& h : member_or(a, "hooks", empty_array())) {
      const auto event = runtime::hook_event(h.value("name", ""));
      hooks.push_back({{"name", h["name"]}, {"agent", path}, {"path", h["path"]},
                       {"event", event.empty() ? nlohmann::json() : nlohmann::json(event)},
                       {"receives", hook_receives(event)}});
    }
    agents.push_back({{"name", a["name"]},
                      {"path", path},
                      {"kind", a["kind"]},
                      {"dir", a["dir"]},
                      {"model", a["model"]},
                      {"description", a["description"]},
                      {"http", a["http"]},
                      {"tools", names_of(a["tools"])},
                      {"skills", names_of(a["skills"])},
                      {"subagents", names_of(a["subagents"])}});
  });
  j["agents"] = std::move(agents);
  j["tools"] = root ? nlohmann::json(names_of((*root)["tools"])) : nlohmann::json::array();
  j["toolInputSchemas"] = {{"root", schemas_root}, {"agents", schemas_agents}, {"subagents", schemas_subagents}};
  auto skills = nlohmann::json::array();
  if (root)
    for (const auto& s : (*root)["skills"]) skills.push_back(s["name"]);
  j["skills"] = std::move(skills);
  j["subagents"] = root ? nlohmann::json(names_of((*root)["subagents"])) : nlohmann::json::array();
  auto schedules = nlohmann::json::array();
  const auto now_s = triggers::Clock::from_env().now_ms() / 1000;
  for (const auto& s : m["schedules"]) {
    const auto spec = cron::parse(s["cron"].get<std::string>());
    const auto next = spec ? cron::next_after(*spec, now_s) : std::nullopt;
    schedules.push_back({{"name", s["name"]}, {"cron", s["cron"]}, {"path", s["path"]},
                         {"catchUp", s.value("catchUp", false)},
                         {"overlap", s.value("overlap", std::string("skip"))},
                         {"nextFireAt", next ? nlohmann::json(cron::iso(*next)) : nlohmann::json()}});
  }
  j["schedules"] = std::move(schedules);
  j["connections"] = std::move(connections);
  j["hooks"] = std::move(hooks);
  auto channels = nlohmann::json::array();
  for (const auto& c : m["channels"]) {
    std::vector<std::string> problems;
    const auto def = triggers::parse_channel(c["name"].get<std::string>(), c["path"].get<std::string>(),
                                             c["config"], problems);
    if (!def) continue; // Eve's own channel (agent/channels/eve.json): no webhook routes
    auto routes = nlohmann::json::array();
    for (const auto& r : def->routes)
      routes.push_back(r.method + " /channels/" + def->name + r.suffix);
    channels.push_back({{"name", c["name"]}, {"path", c["path"]}, {"type", triggers::to_string(def->type)},
                        {"urlPath", "/channels/" + c["name"].get<std::string>() + "/*"},
                        {"routes", routes}});
  }
  j["channels"] = std::move(channels);
  auto workflows = nlohmann::json::array();
  for (const auto& w : m["workflows"]) {
    nlohmann::json e = {{"name", w["name"]}, {"kind", w["kind"]}, {"path", w["path"]},
                        {"description", w["description"]}, {"http", w["http"]}};
    if (w["kind"] == "declarative") e["agent"] = w["agent"];
    else e["interpreter"] = w["interpreter"];
    workflows.push_back(std::move(e));
  }
  j["workflows"] = std::move(workflows);
  auto routes = nlohmann::json::array();
  for (const auto& r : m["routes"]) routes.push_back({{"method", r["method"]}, {"path", r["path"]}, {"kind", r["kind"]}});
  j["routes"] = std::move(routes);
  j["messaging"] = m["messaging"];
  const auto& art = result.artifacts;
  j["artifacts"] = {{"compiledManifest", art.compiled_manifest.string()},
                    {"discoveryManifest", art.discovery_manifest.string()},
                    {"diagnostics", art.diagnostics.string()},
                    {"metadata", art.metadata.string()},
                    {"output", project.output.string()}};
  auto env_files = nlohmann::json::array();
  for (const auto& f : project.env_files) env_files.push_back(f.string());
  j["envFiles"] = std::move(env_files);
  j["envKeys"] = keys;
  j["compile"] = {{"reused", result.reused}, {"inputHash", result.input_hash}};
  auto items = nlohmann::json::array();
  for (const auto& d : result.diagnostics) items.push_back(discovery::to_json(d));
  j["diagnostics"] = {{"errors", result.errors()}, {"warnings", result.warnings()}, {"items", std::move(items)}};
  j["sandbox"] = sandbox_json(m);
  return j;
}

std::string plural(std::size_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

void print_human(const nlohmann::ordered_json& j) {
  std::ostringstream o;
  auto row = [&](const std::string& label, const std::string& value) {
    o << label << std::string(label.size() < 20 ? 20 - label.size() : 1, ' ') << value << '\n';
  };
  auto str = [](const nlohmann::json& v, const char* none = "(none)") {
    return v.is_string() ? v.get<std::string>() : std::string(none);
  };
  o << "hearth v" << HEARTH_VERSION << "\nApplication\n";
  row("App Root", j["appRoot"]);
  row("Agent Root", str(j["agentRoot"]));
  row("Layout", j["layout"]);
  row("Model", str(j["model"]));
  row("Status", j["status"]);
  const auto& d = j["diagnostics"];
  row("Diagnostics", plural(d["errors"], "error") + ", " + plural(d["warnings"], "warning"));
  row("Instructions", str(j["instructions"], "none"));
  for (const auto& item : d["items"]) {
    const auto diag = discovery::diagnostic_from_json(item);
    std::string text = discovery::describe(diag);
    const auto color = diag.severity == discovery::Severity::error ? "31" : "33";
    const auto nl = text.find('\n');
    o << "  " << terminal::style(color, text.substr(0, nl), 1)
      << (nl == std::string::npos ? "" : terminal::style("2", text.substr(nl), 1)) << '\n';
  }

  o << "\nAgents (" << j["agents"].size() << ")\n";
  for (const auto& a : j["agents"])
    o << "  " << a["path"].get<std::string>() << "  " << a["kind"].get<std::string>() << "  "
      << a["dir"].get<std::string>() << "  model " << str(a["model"]) << "  http "
      << (a["http"].get<bool>() ? "on" : "off") << '\n';
  o << "\nTools\n";
  for (const auto& a : j["agents"])
    o << "  " << a["path"].get<std::string>() << ": " << join(a["tools"].get<std::vector<std::string>>()) << '\n';
  o << "\nSkills\n";
  for (const auto& a : j["agents"])
    if (!a["skills"].empty())
      o << "  " << a["path"].get<std::string>() << ": " << join(a["skills"].get<std::vector<std::string>>()) << '\n';
  o << "\nSubagents\n";
  for (const auto& a : j["agents"])
    if (a["kind"] == "subagent") o << "  " << a["path"].get<std::string>() << "  " << str(a["description"], "") << '\n';
  o << "\nSchedules (" << j["schedules"].size() << ")\n";
  for (const auto& s : j["schedules"])
    o << "  " << s["name"].get<std::string>() << "  " << s["cron"].get<std::string>() << "  next "
      << (s["nextFireAt"].is_string() ? s["nextFireAt"].get<std::string>() : std::string("never"))
      << '\n';
  o << "\nConnections (" << j["connections"].size() << ")\n";
  for (const auto& c : j["connections"])
    o << "  " << c["agent"].get<std::string>() << "/" << c["name"].get<std::string>() << "  "
      << c["transport"].get<std::string>() << "  " << c.value("start", "lazy") << " start"
      << (c.value("description", "").empty() ? "" : "  " + c["description"].get<std::string>())
      << '\n';
  o << "\nHooks (" << j["hooks"].size() << ")\n";
  for (const auto& h : j["hooks"])
    o << "  " << h["agent"].get<std::string>() << "/" << h["name"].get<std::string>() << "  "
      << (h["event"].is_string() ? h["event"].get<std::string>() + "  receives: " +
                                       join(h["receives"].get<std::vector<std::string>>())
                                 : std::string("never called (unknown hook name)"))
      << '\n';
  o << "\nChannels (" << j["channels"].size() << ")\n";
  for (const auto& c : j["channels"])
    o << "  " << c["name"].get<std::string>() << "  " << c["type"].get<std::string>() << "  "
      << join(c["routes"].get<std::vector<std::string>>()) << '\n';
  o << "\nWorkflows (" << j["workflows"].size() << ")\n";
  for (const auto& w : j["workflows"]) {
    o << "  " << w["name"].get<std::string>() << "  " << w["kind"].get<std::string>();
    if (w.contains("agent")) o << "  agent " << str(w["agent"]);
    if (w.contains("interpreter")) o << "  interpreter " << str(w["interpreter"], "direct");
    o << "  http " << (w["http"].get<bool>() ? "on" : "off") << '\n';
  }
  o << "\nRoutes\n";
  for (const auto& r : j["routes"])
    o << "  " << r["method"].get<std::string>() << " " << r["path"].get<std::string>() << '\n';
  if (j["messaging"].is_object()) {
    o << "\nMessaging\n";
    row("Create", "POST " + j["messaging"]["create"].get<std::string>());
    row("Messages", "POST " + j["messaging"]["messages"].get<std::string>());
    row("Stream", "GET " + j["messaging"]["stream"].get<std::string>());
  }
  o << "\nSandbox\n";
  row("bwrap", j["sandbox"]["bwrap"].is_string() ? j["sandbox"]["bwrap"].get<std::string>()
                                                 : std::string("(not installed)"));
  for (const auto& a : j["sandbox"]["agents"])
    o << "  " << a["agent"].get<std::string>() << "  " << a.value("backend", "")
      << (a.value("backend", "") != a.value("startBackend", "")
              ? " (start: " + a.value("startBackend", "") + ")"
              : std::string())
      << "  network " << a["network"].get<std::string>() << '\n';
  if (j["sandbox"]["diagnosis"].is_string())
    o << "  " << terminal::style("33", "warning: " + j["sandbox"]["diagnosis"].get<std::string>(), 1)
      << '\n';
  o << "\nArtifacts\n";
  row("Compiled Manifest", j["artifacts"]["compiledManifest"]);
  row("Discovery Manifest", j["artifacts"]["discoveryManifest"]);
  row("Diagnostics", j["artifacts"]["diagnostics"]);
  row("Metadata", j["artifacts"]["metadata"]);
  row("Output", j["artifacts"]["output"]);
  std::cout << o.str();
}

// --- the `info --json` cache (issue 17 §4) ---------------------------------------------------
// On a large project the report costs more than the input check: parsing the ~400 KB compiled
// manifest and printing the same again. While the artifacts are current, the report is a
// function of the manifest and of a few things outside it (paths, env files and variables, bwrap,
// the clock for schedules, the hearth binary that prints it), so .hearth/compile/info-cache.json
// keeps the last report with all of those as its key (line 1), the span of seconds its nextFireAt
// values hold for and the error count (line 2). Anything different, or a byte out of place, and the report is computed again.

/// size:mtime:inode of `path`, "-" when it cannot be stat'ed (an artifact edited by hand counts).
std::string file_identity(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "-";
  return std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_ino);
}

std::filesystem::path info_cache_path(const config::Project& project) {
  return project.root / ".hearth" / "compile" / "info-cache.json";
}

/// Everything the report depends on besides the manifest, which the input hash stands for:
/// among it the running binary itself (device, inode, size, mtime of /proc/self/exe), so a
/// rebuilt or upgraded hearth that prints another report never serves this one's.
std::string info_cache_key(const config::Project& project, const manifest::InputScan& scan,
                           const nlohmann::json& keys) {
  const auto art = manifest::artifacts_for(project.root);
  const auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return v ? nlohmann::json(v) : nlohmann::json();
  };
  auto env_files = nlohmann::json::array();
  for (const auto& f : project.env_files) env_files.push_back(f.string());
  const auto bwrap = sandbox::find_bwrap();
  struct stat exe {};
  const nlohmann::json binary =
      ::stat("/proc/self/exe", &exe) == 0
          ? nlohmann::json(std::to_string(exe.st_dev) + ":" + std::to_string(exe.st_ino) + ":" +
                           std::to_string(exe.st_size) + ":" + std::to_string(exe.st_mtim.tv_sec) +
                           "." + std::to_string(exe.st_mtim.tv_nsec))
          : nlohmann::json();
  if (binary.is_null()) return ""; // no way to tell this binary from another: no cache
  const nlohmann::json key = {
      {"hearth", HEARTH_VERSION},
      {"binary", binary},
      {"inputHash", scan.hash},
      {"inputInodes", scan.inodes},
      {"root", project.root.string()},
      {"sourceRoot", project.source_root.string()},
      {"output", project.output.string()},
      {"envFiles", std::move(env_files)},
      {"envKeys", keys},
      {"bwrap", bwrap ? nlohmann::json(bwrap->string()) : nlohmann::json()},
      {"clock", {env("HEARTH_CLOCK_SCALE"), env("HEARTH_CLOCK_EPOCH")}},
      {"artifacts",
       {file_identity(art.compiled_manifest), file_identity(art.diagnostics),
        file_identity(art.discovery_manifest), file_identity(art.metadata)}}};
  return hearth::dump_json(key);
}

/// The cached report for `key` when it holds at `now_s`, with the project's error count.
std::optional<std::pair<std::string, long long>> read_info_cache(const config::Project& project,
                                                                const std::string& key, long long now_s) {
  const auto path = info_cache_path(project);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (64LL << 20)) return std::nullopt;
  std::string text;
  try {
    text = fs::read_file(path);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const auto first = text.find('\n');
  if (first == std::string::npos || std::string_view(text).substr(0, first) != key) return std::nullopt;
  const auto second = text.find('\n', first + 1);
  if (second == std::string::npos) return std::nullopt;
  long long from = 0, until = 0, errors = 0;
  const std::string window = text.substr(first + 1, second - first - 1);
  if (std::sscanf(window.c_str(), "%lld %lld %lld", &from, &until, &errors) != 3) return std::nullopt;
  if (now_s < from || (until >= 0 && now_s >= until) || errors < 0) return std::nullopt;
  return std::pair{text.substr(second + 1), errors};
}

/// Saves `report` (what `info --json` printed) under `key`; best effort (a read-only tree is fine).
void write_info_cache(const config::Project& project, const std::string& key, const nlohmann::json& m,
                      long long now_s, std::size_t errors, const std::string& report) {
  // nextFireAt is the first fire after now: it holds until the earliest of them.
  long long until = -1;
  for (const auto& s : member_or(m, "schedules", empty_array())) {
    const auto expr = s.value("cron", std::string());
    const auto spec = cron::parse(expr);
    const auto next = spec ? cron::next_after(*spec, now_s) : std::nullopt;
    if (next && (until < 0 || *next < until)) until = *next;
  }
  try {
    fs::write_file_atomic(info_cache_path(project), key + "\n" + std::to_string(now_s) + " " +
                                                        std::to_string(until) + " " +
                                                        std::to_string(errors) + "\n" + report);
  } catch (const std::exception&) {
  }
}

/// A hearth.json, or any authored slot where discovery looks (agent/, agents/, workflows/, or
/// the flat layout's instructions.md) under the source root or the project root.
bool is_project(const config::Project& project) {
  if (project.config_file) return true;
  for (const auto& dir : {project.source_root, project.root})
    for (const char* slot : {"agent", "agents", "workflows", "instructions.md", "instructions"})
      if (std::filesystem::exists(dir / slot)) return true;
  return false;
}

int run_info(const InfoOptions& opts) {
  const auto project = resolve_project(opts.project); // config errors: exit 1
  if (!is_project(project)) throw errors::no_project(project.root.string());
  const auto scan = manifest::scan_inputs(project);
  const auto now_s = triggers::Clock::from_env().now_ms() / 1000; // as info_json's nextFireAt
  const auto keys = env_keys(project); // in the cache key and in the report: read once
  std::string cache_key;
  if (opts.json && manifest::artifacts_current(project, scan)) {
    cache_key = info_cache_key(project, scan, keys);
    if (const auto cached = cache_key.empty() ? std::nullopt : read_info_cache(project, cache_key, now_s)) {
      std::cout << cached->first << std::flush;
      return opts.strict && cached->second > 0 ? exit_code(ExitCode::failure) : exit_code(ExitCode::ok);
    }
  }
  manifest::CompileResult result;
  try {
    result = manifest::compile(project, &scan);
  } catch (const Error& e) {
    // Nothing could be compiled (e.g. .hearth/ is not writable): Eve's `unavailable` status.
    if (opts.json) {
      const nlohmann::ordered_json j = {{"appRoot", project.root.string()},
                                        {"status", "unavailable"},
                                        {"error", {{"type", e.info().type}, {"message", e.info().message}}}};
      std::cout << hearth::dump_json(j, 2) << '\n';
    }
    throw;
  }
  const auto j = info_json(project, result, keys);
  if (opts.json) {
    const auto report = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::cout << report;
    // Only a reused compile is cached: its report says so, as every later hit must.
    if (result.reused && !cache_key.empty())
      write_info_cache(project, cache_key, result.manifest, now_s, result.errors(), report);
  } else {
    print_human(j);
  }
  if (opts.strict && result.errors() > 0) return exit_code(ExitCode::failure);
  return exit_code(ExitCode::ok);
}

} // namespace

void register_info(CLI::App& app, Dispatch& dispatch) {
  auto opts = std::make_shared<InfoOptions>();
  auto* cmd = app.add_subcommand("info", "Discover and compile the project, then print what was found");
  cmd->add_flag("--json", opts->json, "Print the report as JSON (docs/info.md)");
  cmd->add_flag("--strict", opts->strict, "Exit 1 when discovery reports any error");
  add_project_flags(*cmd, opts->project);
  cmd->footer("Exit codes: 0 (also when the project has errors; see status), 1 with --strict and errors, "
              "on a configuration error, or outside a project (no hearth.json, agent/, agents/, workflows/).");
  cmd->callback([&dispatch, opts] { dispatch.run = [opts] { return run_info(*opts); }; });
}

} // namespace hearth::cli

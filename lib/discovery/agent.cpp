// Reads one agent root's slots (seed page 06 "Authored slot reference", page 12): agent.json,
// instructions, tools, skills, connections, subagents, sandbox, schedules, channels, hooks.
#include "discovery/walk.hpp"
#include "triggers/channel_config.hpp"

#include "core/error.hpp"
#include "core/text.hpp"
#include "runtime/policy.hpp"
#include "sandbox/sandbox.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

namespace hearth::discovery::detail {
namespace stdfs = std::filesystem;
namespace {

const std::vector<std::string> k_agent_keys = {"$schema",     "model",     "description",
                                               "modelOptions", "maxSteps", "outputSchema",
                                               "compaction",  "http",      "invokers",
                                               "sandbox",     "invoker",   "access",
                                               "policy",      "connectionToolThreshold"};
const std::vector<std::string> k_tool_keys = {"$schema", "description", "inputSchema", "command",
                                              "approval", "timeoutMs", "sandbox", "idempotent"};
const std::vector<std::string> k_skill_keys = {"name",     "description",   "license",
                                               "metadata", "allowed-tools", "compatibility"};
const std::vector<std::string> k_connection_keys = {
    "$schema", "description", "command", "args",      "env",  "cwd",  "url", "headers",
    "type",    "auth",        "tools",   "approval",  "timeoutMs", "eager", "elicitation",
    "spec",    "baseUrl",     "operations", "sampling"}; // issue 13 (docs/mcp.md)
const std::vector<std::string> k_schedule_keys = {"cron", "description", "catchUp", "overlap",
                                                  "run"};

/// Known script extensions: a file with one of these beside nothing is a stray executable.
bool is_script_name(std::string_view name) {
  for (const auto* ext : {".py", ".js", ".mjs", ".cjs", ".sh", ".ts", ".rb", ".pl"})
    if (name.size() > std::strlen(ext) && name.substr(name.size() - std::strlen(ext)) == ext)
      return true;
  return false;
}

/// `json[key]` when it is a valid sandbox object (see sandbox::merge), else an error diagnostic and
/// nullopt. `tool` limits it to what a tool spec may set: network, env, reads.
std::optional<nlohmann::json> sandbox_field(Context& ctx, const nlohmann::json& json,
                                            const stdfs::path& file, bool tool) {
  if (!json.contains("sandbox")) return std::nullopt;
  const auto& s = json["sandbox"];
  if (!s.is_object()) {
    ctx.error("invalid-field", "\"sandbox\" must be an object.", file,
              "See docs/sandbox.md, e.g. {\"network\": \"allow\"}.");
    return std::nullopt;
  }
  if (tool) ctx.check_keys(s, {"network", "env", "reads"}, file, "tool sandbox");
  else ctx.check_keys(s, {"backend", "network", "limits", "env", "reads"}, file, "agent.json sandbox");
  try {
    const auto merged = sandbox::merge({}, s);
    if (!tool) sandbox::make_backend(merged.backend);
  } catch (const Error& e) {
    ctx.error("invalid-field", e.info().message, file, "See docs/sandbox.md.");
    return std::nullopt;
  }
  return s;
}

/// Whether `program` (no '/') is found on PATH as an executable file.
bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  for (const auto& dir : text::split(path, ':')) {
    const auto candidate = (dir.empty() ? std::string(".") : dir) + "/" + program;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return true;
  }
  return false;
}

void read_config(Context& ctx, Agent& agent, const stdfs::path& file) {
  const auto json = ctx.read_json(file);
  if (!json) return;
  if (!json->is_object()) {
    ctx.error("invalid-field", "agent.json must be a JSON object.", file,
              "Write {\"model\": \"...\", \"description\": \"...\"}.");
    return;
  }
  agent.has_config = true;
  ctx.check_keys(*json, k_agent_keys, file, "agent.json");
  if (auto model = ctx.string_field(*json, "model", file)) agent.model = *model;
  if (auto d = ctx.string_field(*json, "description", file)) agent.description = *d;
  if (auto http = ctx.bool_field(*json, "http", file)) {
    agent.http = *http;
    agent.http_disabled = !*http;
  }
  if (json->contains("invoker")) agent.invoker = (*json)["invoker"];
  if (json->contains("access")) agent.access = (*json)["access"];
  if (json->contains("policy")) { // approvals: rules checked now, so a typo never fails open later
    try {
      runtime::parse_policy((*json)["policy"]);
      agent.policy = (*json)["policy"];
    } catch (const Error& e) {
      ctx.error("invalid-policy", e.info().message, file, e.info().details);
    }
  }
  agent.max_steps = ctx.positive_int_field(*json, "maxSteps", file);
  if (json->contains("connectionToolThreshold")) { // issue 13: see docs/mcp.md
    const auto& t = (*json)["connectionToolThreshold"];
    if (!t.is_number_integer() || t.get<long long>() < 0 || t.get<long long>() > 4096)
      ctx.error("invalid-field", "\"connectionToolThreshold\" must be an integer from 0 to 4096.", file,
                "Above this many connection tools the model gets only connection__search (default 32).");
    else agent.connection_tool_threshold = t.get<long long>();
  }
  if (json->contains("modelOptions")) {
    if (!(*json)["modelOptions"].is_object())
      ctx.error("invalid-field", "\"modelOptions\" must be an object.", file,
                "Provider options go under {\"providerOptions\": {...}}.");
    else agent.model_options = (*json)["modelOptions"];
  }
  if (json->contains("outputSchema") &&
      ctx.check_schema((*json)["outputSchema"], file, "outputSchema", false))
    agent.output_schema = (*json)["outputSchema"];
  if (json->contains("compaction")) { // issue 16 §1, docs/sessions.md
    const auto& c = (*json)["compaction"];
    bool ok = c.is_object() || c == false;
    if (c.is_object()) {
      ctx.check_keys(c, {"thresholdPercent", "enabled", "contextWindowTokens", "model",
                         "keepRecentTurns", "pinFirstMessage"},
                     file, "agent.json compaction");
      const auto number_in = [&](const char* key, double lo, double hi, bool integer) {
        if (!c.contains(key)) return true;
        const auto& v = c[key];
        if (integer ? !v.is_number_integer() : !v.is_number()) return false;
        const double d = v.get<double>();
        return integer ? d >= lo && d <= hi : d > lo && d <= hi;
      };
      ok = number_in("thresholdPercent", 0, 1, false) &&
           number_in("contextWindowTokens", 256, 1e9, true) &&
           number_in("keepRecentTurns", 0, 1000, true) &&
           (!c.contains("enabled") || c["enabled"].is_boolean()) &&
           (!c.contains("pinFirstMessage") || c["pinFirstMessage"].is_boolean()) &&
           (!c.contains("model") || (c["model"].is_string() &&
                                     c["model"].get<std::string>().find('/') != std::string::npos));
    }
    if (!ok)
      ctx.error("invalid-field",
                "\"compaction\" must be false or {\"thresholdPercent\": <number in (0, 1]>, "
                "\"contextWindowTokens\": <int 256..1e9>, \"model\": \"provider/model\", "
                "\"keepRecentTurns\": <int 0..1000>, \"pinFirstMessage\": <bool>, \"enabled\": <bool>}.",
                file, "Eve's default is {\"thresholdPercent\": 0.9}.");
    else agent.compaction = c;
  }
  if (auto s = sandbox_field(ctx, *json, file, false)) agent.sandbox = *s;
  if (json->contains("invokers") && !(*json)["invokers"].is_object())
    ctx.error("invalid-field", "\"invokers\" must be an object of invoker profiles.", file,
              "Write {\"invokers\": {\"<profile>\": {...}}}.");
}

void read_instructions(Context& ctx, Agent& agent, const stdfs::path& dir, bool has_file,
                       bool has_dir) {
  if (has_file) {
    const auto file = dir / "instructions.md";
    if (auto text = ctx.read(file)) {
      if (!is_text(*text)) {
        ctx.error("invalid-utf8", "File is not UTF-8 text (binary data or another encoding).", file,
                  "Save the file as UTF-8 text.");
      } else {
        agent.instructions = *text;
        agent.instruction_files.push_back(ctx.rel(file));
      }
    }
  }
  if (has_dir) {
    for (const auto& e : ctx.list(dir / "instructions")) {
      const auto ext = extension_of(e.name);
      if (!e.is_file || (ext != ".md" && ext != ".txt")) {
        ctx.warning("unknown-entry", "Ignored: instructions/ holds .md or .txt files only (not nested).",
                    e.path, "Move it out of instructions/.");
        continue;
      }
      auto text = ctx.read(e.path);
      if (!text) continue;
      if (!is_text(*text)) {
        ctx.error("invalid-utf8", "File is not UTF-8 text (binary data or another encoding).", e.path,
                  "Save the file as UTF-8 text.");
        continue;
      }
      if (!agent.instructions.empty() && agent.instructions.back() != '\n') agent.instructions += '\n';
      if (!agent.instructions.empty()) agent.instructions += '\n';
      agent.instructions += *text;
      agent.instruction_files.push_back(ctx.rel(e.path));
    }
  }
}

void read_tools(Context& ctx, Agent& agent, const stdfs::path& dir) {
  const auto files = ctx.walk(dir);
  // Group every file by (directory, stem) so a spec finds the executable beside it.
  std::map<std::string, std::vector<const WalkedFile*>> by_stem;
  for (const auto& f : files) {
    const auto slash = f.rel.rfind('/');
    const std::string parent = slash == std::string::npos ? "" : f.rel.substr(0, slash + 1);
    by_stem[parent + stem_of(f.entry.name)].push_back(&f);
  }
  std::map<std::string, std::string> seen; // tool name -> spec path
  for (const auto& [key, group] : by_stem) {
    const WalkedFile* spec = nullptr;
    std::vector<const WalkedFile*> others;
    for (const auto* f : group) {
      if (extension_of(f->entry.name) == ".json" && !spec) spec = f;
      else others.push_back(f);
    }
    if (!spec) {
      for (const auto* f : others) {
        if (f->entry.executable || is_script_name(f->entry.name))
          ctx.warning("executable-without-spec",
                      "Executable has no tool spec beside it, so no tool runs it.", f->entry.path,
                      "Add " + ctx.rel(f->entry.path.parent_path() / (stem_of(f->entry.name) + ".json")) +
                          " with a description and an inputSchema, or move it to lib/.");
        else
          ctx.warning("unknown-entry", "Ignored: tools/ holds JSON tool specs and their executables.",
                      f->entry.path, "Move it out of tools/.");
      }
      continue;
    }
    Tool tool;
    tool.name = key;
    std::replace(tool.name.begin(), tool.name.end(), '/', '-');
    tool.spec = ctx.rel(spec->entry.path);
    tool.cwd = ctx.rel(spec->entry.path.parent_path());
    const auto& path = spec->entry.path;
    if (!is_tool_name(tool.name)) {
      ctx.error("invalid-name",
                "Tool name \"" + tool.name + "\" is not usable: tool names are ASCII letters, digits, "
                "'_' and '-', start with a letter or digit, and are at most 64 characters.",
                path, "Rename the file.");
      continue;
    }
    if (const auto it = seen.find(tool.name); it != seen.end()) {
      ctx.error("duplicate-name",
                "Tool \"" + tool.name + "\" is defined twice: by " + it->second + " and " + tool.spec + ".",
                path, "Nested paths flatten with '-' (tools/a/b.json is a-b); rename one of them.");
      continue;
    }
    seen[tool.name] = tool.spec;
    if (others.size() > 1) {
      std::vector<std::string> names;
      for (const auto* o : others) names.push_back(o->entry.name);
      ctx.error("duplicate-name",
                "Tool \"" + tool.name + "\" has several executables beside its spec: " +
                    text::quote_list(names) + ".",
                path, "Keep one executable per spec basename.");
    }
    const auto json = ctx.read_json(path);
    if (!json) continue;
    if (!json->is_object()) {
      ctx.error("invalid-field", "A tool spec must be a JSON object.", path,
                "Write {\"description\": \"...\", \"inputSchema\": {\"type\": \"object\"}}.");
      continue;
    }
    ctx.check_keys(*json, k_tool_keys, path, "tool spec");
    bool ok = true;
    const auto description = ctx.string_field(*json, "description", path);
    if (!description || text::trim(*description).empty()) {
      ctx.error("missing-field", "Tool spec needs a non-empty \"description\".", path,
                "Describe for the model what the tool does.");
      ok = false;
    } else {
      tool.description = *description;
    }
    if (!json->contains("inputSchema")) {
      ctx.error("missing-field", "Tool spec needs an \"inputSchema\".", path,
                "Use {\"type\": \"object\", \"properties\": {}} for a tool without input.");
      ok = false;
    } else if (ctx.check_schema((*json)["inputSchema"], path, "inputSchema", true)) {
      tool.input_schema = (*json)["inputSchema"];
    } else {
      ok = false;
    }
    if (json->contains("approval")) {
      const auto& a = (*json)["approval"];
      if (a != "never" && a != "once" && a != "always") {
        ctx.error("invalid-field", "\"approval\" must be \"never\", \"once\" or \"always\".", path,
                  "The default is \"never\".");
        ok = false;
      } else {
        tool.approval = a.get<std::string>();
      }
    }
    tool.timeout_ms = ctx.positive_int_field(*json, "timeoutMs", path);
    if (auto idem = ctx.bool_field(*json, "idempotent", path)) tool.idempotent = *idem;
    if (auto s = sandbox_field(ctx, *json, path, true)) tool.sandbox = *s;
    if (others.size() >= 1) tool.executable = ctx.rel(others.front()->entry.path);
    if (json->contains("command")) {
      const auto& c = (*json)["command"];
      const bool valid = c.is_array() && !c.empty() &&
                         std::all_of(c.begin(), c.end(), [](const auto& v) {
                           return v.is_string() && !v.template get<std::string>().empty();
                         });
      if (!valid) {
        ctx.error("invalid-field", "\"command\" must be a non-empty array of non-empty strings (argv).",
                  path, "For example [\"python3\", \"get_weather.py\"].");
        continue;
      }
      for (const auto& v : c) tool.command.push_back(v.get<std::string>());
      const auto& program = tool.command.front();
      if (program.find('/') == std::string::npos) {
        if (!on_path(program))
          ctx.error("tool-command-missing", "Command \"" + program + "\" is not on PATH.", path,
                    "Install it, or point \"command\" at a file relative to the spec.");
      } else {
        const auto target = program.front() == '/' ? stdfs::path(program) : path.parent_path() / program;
        struct stat st {};
        if (::stat(target.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
          ctx.error("tool-command-missing", "Command \"" + program + "\" does not exist.", path,
                    "Paths in \"command\" are relative to the spec's directory.");
        else if ((st.st_mode & 0111) == 0)
          ctx.error("tool-command-not-executable", "Command \"" + program + "\" is not executable.",
                    path, "Run chmod +x on it.");
      }
    } else if (others.empty()) {
      ctx.error("tool-command-missing",
                "Tool \"" + tool.name + "\" has no \"command\" and no executable beside its spec.", path,
                "Add an executable named " + stem_of(spec->entry.name) +
                    ".<ext> (e.g. .py with a shebang) beside the spec, or set \"command\".");
      ok = false;
    } else {
      const auto& exe = *others.front();
      if (!exe.entry.executable) {
        ctx.error("tool-command-not-executable",
                  "Tool executable " + ctx.rel(exe.entry.path) + " is not executable.", exe.entry.path,
                  "Run chmod +x on it and start it with a shebang line (#!/usr/bin/env python3).");
        ok = false;
      }
      tool.command = {"./" + exe.entry.name};
    }
    if (ok) agent.tools.push_back(std::move(tool));
  }
}

void read_skills(Context& ctx, Agent& agent, const stdfs::path& dir) {
  std::map<std::string, std::string> seen;
  for (const auto& e : ctx.list(dir)) {
    Skill skill;
    stdfs::path md;
    if (e.is_file && extension_of(e.name) == ".md") {
      skill.name = stem_of(e.name);
      md = e.path;
    } else if (e.is_dir) {
      skill.name = e.name;
      md = e.path / "SKILL.md";
      struct stat st {};
      if (::stat(md.c_str(), &st) != 0) {
        ctx.warning("unknown-entry", "Ignored: a packaged skill directory needs a SKILL.md.", e.path,
                    "Add " + ctx.rel(md) + ".");
        continue;
      }
      skill.dir = ctx.rel(e.path);
      for (const auto& f : ctx.walk(e.path))
        if (f.rel != "SKILL.md") skill.files.push_back(f.rel);
    } else {
      ctx.warning("unknown-entry", "Ignored: skills/ holds <name>.md files and <name>/SKILL.md packages.",
                  e.path, "Move it out of skills/.");
      continue;
    }
    if (!is_tool_name(skill.name)) {
      ctx.error("invalid-name",
                "Skill \"" + skill.name + "\" has an illegal name. Expected ASCII letters, digits, "
                "underscores, and dashes only, starting with a letter or digit, up to 64 characters.",
                e.path, "Rename it.");
      continue;
    }
    skill.path = ctx.rel(md);
    if (const auto it = seen.find(skill.name); it != seen.end()) {
      ctx.error("duplicate-name",
                "Skill \"" + skill.name + "\" is defined twice: by " + it->second + " and " + skill.path + ".",
                e.path, "Keep either skills/<name>.md or skills/<name>/SKILL.md.");
      continue;
    }
    seen[skill.name] = skill.path;
    auto fm = ctx.read_markdown(md);
    if (!fm) continue;
    ctx.check_keys(fm->data, k_skill_keys, md, "skill frontmatter", true);
    if (auto d = ctx.string_field(fm->data, "description", md)) skill.description = *d;
    if (skill.description.empty()) skill.description = first_line(fm->body);
    if (skill.description.empty())
      ctx.warning("missing-field", "Skill \"" + skill.name + "\" has no description and no body.", md,
                  "Add frontmatter `description:` so the model knows when to load it.");
    skill.body = std::move(fm->body);
    skill.frontmatter = std::move(fm->data);
    agent.skills.push_back(std::move(skill));
  }
}

void read_connections(Context& ctx, Agent& agent, const stdfs::path& dir) {
  for (const auto& e : ctx.list(dir)) {
    if (!e.is_file || extension_of(e.name) != ".json") {
      ctx.warning("unknown-entry", "Ignored: connections/ holds <name>.json MCP server specs.", e.path,
                  "Move it out of connections/.");
      continue;
    }
    Connection c{.name = stem_of(e.name), .path = ctx.rel(e.path)};
    if (!is_tool_name(c.name)) {
      ctx.error("invalid-name", "Connection name \"" + c.name + "\" is not usable in tool names.", e.path,
                "Use ASCII letters, digits, '_' and '-'.");
      continue;
    }
    const auto json = ctx.read_json(e.path);
    if (!json) continue;
    if (!json->is_object()) {
      ctx.error("invalid-field", "A connection must be a JSON object.", e.path,
                "Write {\"command\": \"...\", \"args\": []} or {\"url\": \"https://...\"}.");
      continue;
    }
    ctx.check_keys(*json, k_connection_keys, e.path, "connection");
    if (json->value("type", nlohmann::json("mcp")) == "openapi") { // issue 13 §5
      const auto spec = ctx.string_field(*json, "spec", e.path);
      if (!spec) {
        ctx.error("invalid-field", "An OpenAPI connection needs \"spec\": a project-relative JSON file or an http(s) URL.",
                  e.path, "Write {\"type\": \"openapi\", \"spec\": \"openapi.json\", \"baseUrl\": \"https://...\"}.");
        continue;
      }
      c.transport = "openapi";
      c.config = *json;
      agent.connections.push_back(std::move(c));
      continue;
    }
    const bool has_command = json->contains("command"), has_url = json->contains("url");
    if (has_command == has_url) {
      ctx.error("invalid-field", "A connection needs exactly one of \"command\" (stdio) or \"url\" (HTTP).",
                e.path, "Write {\"command\": \"npx\", \"args\": [...]} or {\"url\": \"https://...\"}.");
      continue;
    }
    bool ok = true;
    auto strings_of = [&](const char* key, bool object) {
      if (!json->contains(key)) return;
      const auto& v = (*json)[key];
      const bool good = (object ? v.is_object() : v.is_array()) &&
                        std::all_of(v.begin(), v.end(), [](const auto& x) { return x.is_string(); });
      if (!good) {
        ok = false;
        ctx.error("invalid-field",
                  std::string("\"") + key + "\" must be " + (object ? "an object of strings." : "an array of strings."),
                  e.path, "Quote every value.");
      }
    };
    strings_of("args", false);
    strings_of("env", true);
    strings_of("headers", true);
    if (has_command) ok = ctx.string_field(*json, "command", e.path).has_value() && ok;
    if (has_url) {
      const auto url = ctx.string_field(*json, "url", e.path);
      if (!url || !(text::starts_with(*url, "http://") || text::starts_with(*url, "https://"))) {
        ok = false;
        ctx.error("invalid-field", "\"url\" must be an http:// or https:// URL.", e.path,
                  "For stdio servers use \"command\".");
      }
    }
    if (!ok) continue;
    c.transport = has_command ? "stdio" : "http";
    c.config = *json;
    agent.connections.push_back(std::move(c));
  }
}

void read_schedules(Context& ctx, Agent& agent, const stdfs::path& dir) {
  for (const auto& f : ctx.walk(dir)) {
    if (extension_of(f.entry.name) != ".md") {
      ctx.warning("unknown-entry", "Ignored: schedules/ holds .md files with `cron:` frontmatter.",
                  f.entry.path, "Move it out of schedules/.");
      continue;
    }
    Schedule s{.name = f.rel.substr(0, f.rel.size() - 3), .path = ctx.rel(f.entry.path)};
    auto fm = ctx.read_markdown(f.entry.path);
    if (!fm) continue;
    ctx.check_keys(fm->data, k_schedule_keys, f.entry.path, "schedule frontmatter");
    const auto cron = ctx.string_field(fm->data, "cron", f.entry.path);
    if (!cron) {
      ctx.error("missing-field", "Schedule \"" + s.name + "\" needs frontmatter declaring \"cron\".",
                f.entry.path, "Start the file with ---, cron: \"0 9 * * 1-5\", ---.");
      continue;
    }
    if (const auto problem = cron_problem(*cron); !problem.empty()) {
      ctx.error("cron-invalid", "Invalid cron \"" + *cron + "\": " + problem + ".", f.entry.path,
                "Use 5 fields: minute hour day-of-month month day-of-week, e.g. \"*/15 9-17 * * mon-fri\".");
      continue;
    }
    s.cron = *cron;
    if (auto d = ctx.string_field(fm->data, "description", f.entry.path)) s.description = *d;
    if (fm->data.contains("catchUp")) {
      if (!fm->data["catchUp"].is_boolean()) {
        ctx.error("invalid-field", "Schedule \"" + s.name + "\": \"catchUp\" must be true or false.",
                  f.entry.path, "true runs one fire missed while the server was down; false skips it.");
        continue;
      }
      s.catch_up = fm->data["catchUp"].get<bool>();
    }
    if (fm->data.contains("overlap")) {
      const auto& o = fm->data["overlap"];
      if (!o.is_string() || (o != "skip" && o != "queue")) {
        ctx.error("invalid-field", "Schedule \"" + s.name + "\": \"overlap\" must be \"skip\" or \"queue\".",
                  f.entry.path, "What a fire does while the previous one still runs.");
        continue;
      }
      s.overlap = o.get<std::string>();
    }
    s.prompt = std::move(fm->body);
    const bool has_body = !text::trim(s.prompt).empty();
    if (fm->data.contains("run")) {
      // Seed 003: exactly one of markdown or `run`; `run` names a script (relative to this
      // file) that runs over the ctx protocol like a script workflow.
      const auto run = ctx.string_field(fm->data, "run", f.entry.path);
      if (!run) continue;
      if (has_body) {
        ctx.error("invalid-field", "Schedule \"" + s.name + "\" has both a prompt body and \"run\".",
                  f.entry.path, "Give exactly one: the markdown prompt, or run: ./script.py.");
        continue;
      }
      const auto script = (f.entry.path.parent_path() / *run).lexically_normal();
      const auto rel = ctx.rel(script);
      std::error_code ec;
      if (run->empty() || rel.rfind("..", 0) == 0 || !stdfs::is_regular_file(script, ec)) {
        ctx.error("invalid-field", "Schedule \"" + s.name + "\": \"run\" must name a script file "
                  "inside the project (relative to the schedule's file).", f.entry.path,
                  "For example run: ./digest.py beside " + f.entry.name + ".");
        continue;
      }
      const auto interpreter = interpreter_for(extension_of(script.filename().string()));
      if (!interpreter && ::access(script.c_str(), X_OK) != 0) {
        ctx.error("invalid-field", "Schedule \"" + s.name + "\": \"run\" must be a .py/.js/.mjs/.sh "
                  "script or an executable.", f.entry.path, "chmod +x it, or use a known extension.");
        continue;
      }
      s.run = rel;
      s.interpreter = interpreter.value_or("");
      s.prompt.clear();
    } else if (!has_body) {
      ctx.error("missing-field", "Schedule \"" + s.name + "\" has no prompt body.", f.entry.path,
                "Write what the agent should do after the frontmatter, or run: ./script.py.");
      continue;
    }
    agent.schedules.push_back(std::move(s));
  }
}

} // namespace

void read_project_connections(Context& ctx, Agent& root, const stdfs::path& dir) {
  Agent project;
  read_connections(ctx, project, dir);
  for (auto& c : project.connections) {
    const bool clash = std::any_of(root.connections.begin(), root.connections.end(),
                                   [&](const Connection& o) { return o.name == c.name; });
    if (clash) {
      ctx.error("duplicate-name",
                "Connection \"" + c.name + "\" is defined in connections/ and in the root agent's connections/.",
                ctx.project().root / c.path, "Rename one of them.");
      continue;
    }
    c.project = true;
    root.connections.push_back(std::move(c));
  }
}

void read_channels(Context& ctx, Agent& agent, const stdfs::path& dir) {
  for (const auto& e : ctx.list(dir)) {
    if (!e.is_file || extension_of(e.name) != ".json") {
      ctx.warning("unknown-entry", "Ignored: channels/ holds <name>.json channel specs.", e.path,
                  "Move it out of channels/.");
      continue;
    }
    Channel c{.name = stem_of(e.name), .path = ctx.rel(e.path)};
    if (c.name.find(':') != std::string::npos) {
      ctx.error("invalid-name", "Channel name \"" + c.name + "\" must not contain ':'.", e.path,
                "Rename the file.");
      continue;
    }
    const auto json = ctx.read_json(e.path);
    if (!json) continue;
    if (!json->is_object()) {
      ctx.error("invalid-field", "A channel spec must be a JSON object.", e.path, "Write {...}.");
      continue;
    }
    c.config = *json;
    // Eve's own HTTP channel (agent/channels/eve.json: `auth`) configures /eve/v1, not a webhook.
    if (!triggers::is_eve_channel(c.name, c.config)) {
      std::vector<std::string> problems;
      if (!triggers::parse_channel(c.name, c.path, c.config, problems)) {
        for (const auto& problem : problems)
          ctx.error("channel-invalid", "Channel \"" + c.name + "\": " + problem, e.path,
                    "See docs/triggers.md for channel specs.");
        continue;
      }
    }
    if (std::any_of(agent.channels.begin(), agent.channels.end(),
                    [&](const Channel& other) { return other.name == c.name; })) {
      ctx.error("duplicate-name", "Channel \"" + c.name + "\" is defined twice.", e.path,
                "Keep one of channels/" + c.name + ".json and agent/channels/" + c.name + ".json.");
      continue;
    }
    agent.channels.push_back(std::move(c));
  }
}

namespace {

void read_sandbox(Context& ctx, Agent& agent, const stdfs::path& dir, bool has_skills) {
  for (const auto& e : ctx.list(dir)) {
    if (e.name == "workspace" && e.is_dir) {
      agent.sandbox_workspace = ctx.rel(e.path);
      for (const auto& f : ctx.walk(e.path)) agent.sandbox_files.push_back(f.rel);
      struct stat st {};
      if (has_skills && ::stat((e.path / "skills").c_str(), &st) == 0)
        ctx.error("sandbox-skills-conflict",
                  "sandbox/workspace/skills conflicts with skills/: skills are seeded at /workspace/skills.",
                  e.path / "skills", "Move these files under skills/ or rename the directory.");
      continue;
    }
    ctx.warning("unknown-entry", "Ignored: sandbox/ holds a workspace/ directory of seed files.", e.path,
                "Move it under sandbox/workspace/.");
  }
}

} // namespace

Agent read_agent(Context& ctx, const stdfs::path& dir, std::string name, std::string kind, bool flat) {
  Agent agent;
  agent.name = std::move(name);
  agent.kind = std::move(kind);
  agent.dir = ctx.rel(dir);
  const bool is_root = agent.kind == "root";
  std::map<std::string, Entry> slots;
  for (auto& e : ctx.list(dir)) slots[e.name] = e;
  auto has_dir = [&](const char* n) { return slots.count(n) && slots[n].is_dir; };
  auto has_file = [&](const char* n) { return slots.count(n) && slots[n].is_file; };

  if (has_file("agent.json")) read_config(ctx, agent, dir / "agent.json");
  if (agent.model.empty()) agent.model = ctx.project().model;
  if (agent.kind == "subagent" && text::trim(agent.description).empty())
    ctx.error("subagent-description-missing",
              "Subagent \"" + agent.name + "\" must define a non-empty description in agent.json.",
              has_file("agent.json") ? dir / "agent.json" : dir,
              "The parent sees the description when deciding to delegate: {\"description\": \"...\"}.");

  // Seed 003 (Eve instructions): instructions.md first, then instructions/ entries by name.
  const bool md = has_file("instructions.md"), instr_dir = has_dir("instructions");
  read_instructions(ctx, agent, dir, md, instr_dir);
  if (is_root && !md && !instr_dir)
    ctx.error("root-instructions-missing",
              "Expected authored instructions at \"instructions.md\" or \"instructions/\" directory.", dir,
              "Create " + ctx.rel(dir / "instructions.md") + " with the agent's system prompt.");

  if (has_dir("tools")) read_tools(ctx, agent, dir / "tools");
  if (has_dir("skills")) read_skills(ctx, agent, dir / "skills");
  if (has_dir("connections")) read_connections(ctx, agent, dir / "connections");
  if (has_dir("sandbox")) read_sandbox(ctx, agent, dir / "sandbox", has_dir("skills"));
  if (has_file("mock.jsonl")) agent.mock = ctx.rel(dir / "mock.jsonl");
  if (has_dir("hooks"))
    for (const auto& f : ctx.walk(dir / "hooks")) {
      std::string hook = f.rel.substr(0, f.rel.size() - extension_of(f.entry.name).size());
      std::replace(hook.begin(), hook.end(), '/', '-');
      agent.hooks.push_back({.name = hook, .path = ctx.rel(f.entry.path)});
    }
  for (const char* root_only : {"schedules", "channels"}) {
    if (!has_dir(root_only)) continue;
    if (!is_root) {
      ctx.error("root-only-slot",
                std::string(agent.kind == "subagent" ? "Local subagent packages" : "Named agents") +
                    " cannot define " + root_only + " at \"" + ctx.rel(dir / root_only) + "\".",
                dir / root_only, std::string(root_only) + "/ is root-agent only: move it to the root agent.");
      continue;
    }
    if (std::string_view(root_only) == "schedules") read_schedules(ctx, agent, dir / "schedules");
    else read_channels(ctx, agent, dir / "channels");
  }
  if (has_dir("subagents")) {
    for (const auto& e : ctx.list(dir / "subagents")) {
      if (!e.is_dir) {
        ctx.warning("unknown-entry", "Ignored: subagents/ holds one directory per subagent.", e.path,
                    "Create subagents/<id>/agent.json instead.");
        continue;
      }
      if (!is_tool_name(e.name)) {
        ctx.error("invalid-name",
                  "Subagent \"" + e.name + "\" has an unusable name: subagents are tools, so names are "
                  "ASCII letters, digits, '_' and '-', starting with a letter or digit.",
                  e.path, "Rename the directory.");
        continue;
      }
      agent.subagents.push_back(read_agent(ctx, e.path, e.name, "subagent", false));
    }
  }
  // Subagents are tools named by their id, in the same namespace as authored and built-in tools.
  for (const auto& sub : agent.subagents) {
    const auto clash = std::find_if(agent.tools.begin(), agent.tools.end(),
                                    [&](const Tool& t) { return t.name == sub.name; });
    const auto& builtins = builtin_tool_names();
    if (clash != agent.tools.end() || std::count(builtins.begin(), builtins.end(), sub.name))
      ctx.error("tool-subagent-collision",
                "Tool and subagent public name \"" + sub.name + "\" is shared by " +
                    (clash != agent.tools.end() ? "tool " + clash->spec : std::string("a built-in tool")) +
                    " and subagent " + sub.dir + ".",
                dir / "subagents" / sub.name, "Rename the subagent directory or the tool.");
  }
  for (const auto& tool : agent.tools) {
    const auto& builtins = builtin_tool_names();
    if (std::count(builtins.begin(), builtins.end(), tool.name))
      ctx.warning("tool-shadows-builtin", "Tool \"" + tool.name + "\" replaces the built-in tool of that name.",
                  ctx.project().root / tool.spec, "Rename it to keep the built-in.");
  }
  if (!flat) {
    static const std::vector<std::string> known = {"agent.json", "instructions.md", "instructions",
                                                   "tools",      "skills",          "connections",
                                                   "subagents",  "sandbox",         "schedules",
                                                   "channels",   "hooks",           "lib",
                                                   "mock.jsonl"};
    for (const auto& [n, e] : slots)
      if (std::find(known.begin(), known.end(), n) == known.end() ||
          (e.is_dir && (n == "agent.json" || n == "instructions.md" || n == "mock.jsonl")) ||
          (e.is_file && n != "agent.json" && n != "instructions.md" && n != "mock.jsonl"))
        ctx.warning("unknown-entry", "Ignored: \"" + n + "\" is not an agent slot.", e.path,
                    "Slots: " + text::quote_list(known) + ".");
  }
  return agent;
}

} // namespace hearth::discovery::detail

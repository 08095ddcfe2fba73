// bash, load_skill and executable tools; see agent_tools.hpp.
#include "runtime/agent_tools.hpp"
#include "core/json.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/process.hpp"
#include "core/text.hpp"
#include "sandbox/workspace.hpp"

#include <algorithm>

extern char** environ;

namespace hearth::runtime {
namespace {
namespace stdfs = std::filesystem;
using nlohmann::json;

std::string cap(std::string text, bool truncated = false) {
  if (text.size() > k_max_tool_output) {
    text.resize(k_max_tool_output);
    truncated = true;
  }
  if (truncated) text += "\n[output truncated]";
  return text;
}

bool secret(std::string_view name, const std::vector<std::string>& secret_env) {
  if (name.size() > 8 && name.substr(name.size() - 8) == "_API_KEY") return true;
  return std::find(secret_env.begin(), secret_env.end(), name) != secret_env.end();
}

/// Each stderr line of a tool becomes a log line.
void forward_stderr(const ToolContext& ctx, const std::string& err) {
  if (!ctx.log || err.empty()) return;
  for (const auto& line : text::split(err, '\n'))
    if (!text::trim(line).empty()) ctx.log("info", line);
}

} // namespace

std::vector<std::string> tool_environment(const ToolContext& context,
                                          const std::vector<std::string>& secret_env) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto name = entry.substr(0, entry.find('='));
    if (secret(name, secret_env) || text::starts_with(name, "HEARTH_")) continue;
    env.emplace_back(entry);
  }
  env.push_back("HEARTH_SESSION_ID=" + context.session_id);
  env.push_back("HEARTH_RUN_ID=" + context.run_id);
  env.push_back("HEARTH_WORKSPACE=" +
                (context.workspace ? context.workspace->root().string() : std::string()));
  env.push_back("HEARTH_AGENT=" + context.agent);
  if (!context.invoker.empty()) env.push_back("HEARTH_INVOKER=" + context.invoker);
  return env;
}

std::string strip_frontmatter(const std::string& markdown) {
  if (markdown.rfind("---", 0) != 0) return markdown;
  const auto first_nl = markdown.find('\n');
  if (first_nl == std::string::npos) return markdown;
  for (auto pos = first_nl + 1; pos < markdown.size();) {
    const auto nl = markdown.find('\n', pos);
    const auto line = text::trim(std::string_view(markdown).substr(
        pos, (nl == std::string::npos ? markdown.size() : nl) - pos));
    if (line == "---") {
      if (nl == std::string::npos) return "";
      auto body = markdown.substr(nl + 1);
      body.erase(0, body.find_first_not_of('\n'));
      return body;
    }
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return markdown;
}

Tool bash_tool(std::vector<std::string> secret_env) {
  Tool tool{.name = "bash",
            .description = "Run a shell command with bash in the session workspace. Returns the "
                           "exit code, stdout and stderr.",
            .input_schema = {{"type", "object"},
                             {"properties",
                              {{"command", {{"type", "string"}}},
                               {"timeoutMs", {{"type", "integer"}, {"minimum", 1}}}}},
                             {"required", {"command"}},
                             {"additionalProperties", false}}};
  tool.run = [secret_env](const json& input, const ToolContext& ctx) -> ToolOutcome {
    const int timeout = input.value("timeoutMs", k_default_bash_timeout_ms);
    process::CaptureResult r;
    try {
      r = process::run_capture({"bash", "-c", input.at("command").get<std::string>()}, "",
                               std::chrono::milliseconds(timeout),
                               tool_environment(ctx, secret_env), ctx.workspace->root());
    } catch (const Error& e) {
      return {.text = e.info().message, .is_error = true};
    }
    std::string out = "exit code: " + std::to_string(r.exit_code) + "\n";
    if (r.timed_out) out = "timed out after " + std::to_string(timeout) + " ms\n";
    if (!r.out.empty()) out += "stdout:\n" + r.out + (r.out.back() == '\n' ? "" : "\n");
    if (!r.err.empty()) out += "stderr:\n" + r.err;
    return {.text = cap(out, r.out_truncated || r.err_truncated),
            .is_error = r.timed_out || r.exit_code != 0,
            .details = {{"exitCode", r.exit_code}, {"timedOut", r.timed_out}}};
  };
  return tool;
}

Tool load_skill_tool(const std::vector<SkillDef>& skills) {
  json names = json::array();
  for (const auto& s : skills) names.push_back(s.name);
  Tool tool{.name = "load_skill",
            .description = "Load the full instructions of one of your skills by name.",
            .input_schema = {{"type", "object"},
                             {"properties", {{"name", {{"type", "string"}, {"enum", names}}}}},
                             {"required", {"name"}},
                             {"additionalProperties", false}}};
  tool.run = [skills](const json& input, const ToolContext&) -> ToolOutcome {
    const auto name = input.at("name").get<std::string>();
    const auto it = std::find_if(skills.begin(), skills.end(),
                                 [&](const SkillDef& s) { return s.name == name; });
    if (it == skills.end()) return {.text = "No skill named \"" + name + "\".", .is_error = true};
    std::string body;
    try {
      body = strip_frontmatter(fs::read_file(it->file));
    } catch (const Error& e) {
      return {.text = e.info().message, .is_error = true};
    }
    json siblings = json::array();
    if (!it->directory.empty()) {
      std::error_code ec;
      for (auto f = stdfs::recursive_directory_iterator(it->directory, ec);
           !ec && f != stdfs::recursive_directory_iterator(); f.increment(ec))
        if (f->is_regular_file(ec) && f->path() != it->file)
          siblings.push_back(f->path().lexically_relative(it->directory).generic_string());
      std::sort(siblings.begin(), siblings.end());
    }
    std::string text = body;
    if (!siblings.empty()) {
      text += "\n\nFiles in this skill (in the workspace under skills/" + name + "/):\n";
      for (const auto& s : siblings) text += "- " + s.get<std::string>() + "\n";
    }
    return {.text = text, .details = {{"skill", name}, {"files", siblings}}};
  };
  return tool;
}

Tool exec_tool(const ExecToolDef& def, std::vector<std::string> secret_env) {
  Tool tool{.name = def.name, .description = def.description, .input_schema = def.input_schema};
  tool.run = [def, secret_env](const json& input, const ToolContext& ctx) -> ToolOutcome {
    process::CaptureResult r;
    try {
      r = process::run_capture(def.command, input.dump(), std::chrono::milliseconds(def.timeout_ms),
                               tool_environment(ctx, secret_env), def.cwd);
    } catch (const Error& e) {
      return {.text = "Tool " + def.name + " could not start: " + e.info().message,
              .is_error = true};
    }
    forward_stderr(ctx, r.err);
    if (r.timed_out)
      return {.text = "Tool " + def.name + " timed out after " + std::to_string(def.timeout_ms) +
                      " ms and was stopped.",
              .is_error = true,
              .details = {{"timedOut", true}}};
    if (r.exit_code != 0) {
      std::string tail = r.err.size() > 2000 ? r.err.substr(r.err.size() - 2000) : r.err;
      return {.text = "Tool " + def.name + " failed (" + r.status.describe() + ")" +
                      (tail.empty() ? std::string(".") : ":\n" + tail),
              .is_error = true,
              .details = {{"exitCode", r.exit_code}}};
    }
    const auto out = std::string(text::trim(r.out));
    json details = {{"exitCode", 0}};
    const json parsed = hearth::parse_json_or_discarded(out);
    if (!parsed.is_discarded()) details["output"] = parsed;
    return {.text = cap(out, r.out_truncated), .details = details};
  };
  return tool;
}

} // namespace hearth::runtime

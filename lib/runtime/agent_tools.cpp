// bash, load_skill and executable tools; see agent_tools.hpp.
#include "runtime/agent_tools.hpp"
#include "core/json.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/json_schema.hpp"
#include "core/process.hpp"
#include "core/text.hpp"
#include "manifest/builtins.hpp"
#include "sandbox/sandbox.hpp"
#include "sandbox/workspace.hpp"

#include <algorithm>
#include <stdexcept>

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

/// `text` followed by the breached limit on its own line, when there is one.
std::string with_limit(std::string text, const std::string& limit) {
  if (limit.empty()) return text;
  return limit + "\n" + text;
}

/// Tool bytes become JSON strings: what is not UTF-8 is replaced by U+FFFD here, so the model
/// reads the rest (docs/runtime.md).
void utf8_output(process::CaptureResult& r) {
  r.out = text::to_utf8(r.out);
  r.err = text::to_utf8(r.err);
}

/// A tool's stderr becomes a bounded number of log events (StderrLog).
void forward_stderr(const ToolContext& ctx, const std::string& err) {
  if (!ctx.log || err.empty()) return;
  StderrLog log(ctx.log, "info");
  std::string_view rest(err);
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    log.line(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  log.finish();
}

} // namespace

void StderrLog::line(std::string_view text) {
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  if (text::trim(text).empty()) return;
  if (m_events >= k_max_stderr_events) {
    ++m_dropped_lines;
    m_dropped_bytes += text.size() + 1;
    return;
  }
  if (text.size() > k_stderr_chunk_bytes) text = text.substr(0, k_stderr_chunk_bytes);
  if (!m_pending.empty() && m_pending.size() + 1 + text.size() > k_stderr_chunk_bytes) flush();
  if (m_events >= k_max_stderr_events) { // flush() used the last event
    ++m_dropped_lines;
    m_dropped_bytes += text.size() + 1;
    return;
  }
  if (!m_pending.empty()) m_pending += '\n';
  m_pending += text;
}

void StderrLog::flush() {
  if (m_pending.empty()) return;
  const auto message = text::to_utf8(m_pending);
  m_pending.clear();
  ++m_events;
  m_emit(m_level, message);
}

void StderrLog::finish() {
  flush();
  if (m_dropped_lines == 0 || m_noted) return;
  m_noted = true;
  ++m_events;
  m_emit("warn", "[stderr truncated: at most " + std::to_string(k_max_stderr_events) +
                     " log events per tool call or script; " + std::to_string(m_dropped_lines) +
                     " more lines (" + std::to_string(m_dropped_bytes) + " bytes) dropped]");
}

sandbox::Policy agent_policy(const sandbox::Settings& settings,
                             const std::filesystem::path& project_root, bool fail_closed) {
  sandbox::Policy policy{.settings = settings, .project_root = project_root};
  policy.settings.backend = sandbox::effective_backend(settings, !fail_closed);
  return policy;
}

std::vector<std::string> tool_environment(const ToolContext& context) {
  std::vector<std::string> env;
  env.push_back("HEARTH_SESSION_ID=" + context.session_id);
  env.push_back("HEARTH_RUN_ID=" + context.run_id);
  env.push_back("HEARTH_WORKSPACE=" +
                (context.workspace ? context.workspace->root().string() : std::string()));
  env.push_back("HEARTH_AGENT=" + context.agent);
  if (!context.invoker.empty()) env.push_back("HEARTH_INVOKER=" + context.invoker);
  if (!context.context.empty()) env.push_back("HEARTH_CONTEXT=" + context.context);
  // The instance id: for channel dispatches, the provider conversation key (docs/triggers.md).
  if (!context.conversation_key.empty())
    env.push_back("HEARTH_CONVERSATION_KEY=" + context.conversation_key);
  if (!context.traceparent.empty()) env.push_back("TRACEPARENT=" + context.traceparent);
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

void prepare_schema(Tool& tool) {
  auto text = hearth::dump_json(*tool.input_schema);
  tool.schema_chars = text.size();
  tool.schema_text = std::make_shared<const std::string>(text);
  try {
    tool.validator = json_schema::shared_validator(*tool.input_schema, std::move(text));
  } catch (const std::invalid_argument&) {
    tool.validator = nullptr;
  }
}

Tool builtin_tool(std::string_view name) {
  static const auto prepared = [] { // every built-in, serialized and compiled once
    std::vector<Tool> tools;
    for (const auto& spec : manifest::builtin_tools()) {
      Tool tool{.name = spec["name"].get<std::string>(),
                .description = spec["description"].get<std::string>(),
                .input_schema = make_schema(spec["inputSchema"])};
      prepare_schema(tool);
      tools.push_back(std::move(tool));
    }
    return tools;
  }();
  for (const auto& tool : prepared)
    if (tool.name == name) return tool;
  throw std::out_of_range("no built-in tool named " + std::string(name));
}

Tool bash_tool(sandbox::Policy policy) {
  Tool tool = builtin_tool("bash");
  tool.run = [policy](const json& input, const ToolContext& ctx) -> ToolOutcome {
    const int timeout = input.value("timeoutMs", k_default_bash_timeout_ms);
    process::CaptureResult r;
    std::string limit;
    try {
      auto run_policy = policy;
      sandbox::use_workspace(run_policy, *ctx.workspace);
      auto ran = sandbox::run({.argv = {"bash", "-c", input.at("command").get<std::string>()},
                               .cwd = ctx.workspace->root(),
                               .timeout = std::chrono::milliseconds(timeout),
                               .hearth_env = tool_environment(ctx),
                               .cancel = ctx.cancel},
                              run_policy);
      r = std::move(ran.capture);
      limit = std::move(ran.limit);
    } catch (const Error& e) {
      return {.text = e.info().message, .is_error = true};
    }
    if (r.cancelled) return cancelled_outcome("bash");
    utf8_output(r);
    std::string out = "exit code: " + std::to_string(r.exit_code) + "\n";
    if (r.timed_out) out = "timed out after " + std::to_string(timeout) + " ms\n";
    if (!r.out.empty()) out += "stdout:\n" + r.out + (r.out.back() == '\n' ? "" : "\n");
    if (!r.err.empty()) out += "stderr:\n" + r.err;
    // What the stream shows (Eve's bash output: stdout, stderr, truncated, exitCode, status),
    // each stream capped like the model's text.
    const bool truncated = r.out_truncated || r.err_truncated || r.out.size() > k_max_tool_output ||
                           r.err.size() > k_max_tool_output;
    json details = {{"exitCode", r.exit_code},
                    {"timedOut", r.timed_out},
                    {"stdout", r.out.substr(0, k_max_tool_output)},
                    {"stderr", r.err.substr(0, k_max_tool_output)},
                    {"truncated", truncated},
                    {"status", r.timed_out ? "timed-out" : "completed"}};
    if (!limit.empty()) details["limit"] = limit;
    return {.text = cap(with_limit(out, limit), r.out_truncated || r.err_truncated),
            .is_error = r.timed_out || r.exit_code != 0 || !limit.empty(),
            .details = details};
  };
  return tool;
}

Tool load_skill_tool(const std::vector<SkillDef>& skills) {
  Tool tool = builtin_tool("load_skill"); // an unknown name is answered below, naming the skills
  tool.run = [skills](const json& input, const ToolContext&) -> ToolOutcome {
    const auto name = input.at("name").get<std::string>();
    const auto it = std::find_if(skills.begin(), skills.end(),
                                 [&](const SkillDef& s) { return s.name == name; });
    if (it == skills.end()) {
      std::vector<std::string> names;
      for (const auto& s : skills) names.push_back(s.name);
      return {.text = "No skill named \"" + name + "\". Your skills: " +
                      text::quote_list(names) + ".",
              .is_error = true};
    }
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

Tool exec_tool(const ExecToolDef& def, sandbox::Policy policy) {
  Tool tool{.name = def.name, .description = def.description, .input_schema = def.input_schema};
  if (!def.sandbox.is_null()) {
    const auto backend = policy.settings.backend; // a tool never picks its own backend
    policy.settings = sandbox::merge(policy.settings, def.sandbox);
    policy.settings.backend = backend;
  }
  if (!def.cwd.empty()) policy.reads.push_back(def.cwd);
  if (!def.command.empty() && stdfs::path(def.command.front()).is_absolute())
    policy.reads.push_back(stdfs::path(def.command.front()).parent_path());
  tool.run = [def, policy](const json& input, const ToolContext& ctx) -> ToolOutcome {
    process::CaptureResult r;
    std::string limit;
    try {
      auto run_policy = policy;
      if (ctx.workspace) sandbox::use_workspace(run_policy, *ctx.workspace);
      auto ran = sandbox::run({.argv = def.command,
                               .input = dump_json(input),
                               .cwd = def.cwd,
                               .timeout = std::chrono::milliseconds(def.timeout_ms),
                               .hearth_env = tool_environment(ctx),
                               .cancel = ctx.cancel},
                              run_policy);
      r = std::move(ran.capture);
      limit = std::move(ran.limit);
    } catch (const Error& e) {
      return {.text = "Tool " + def.name + " could not start: " + e.info().message,
              .is_error = true};
    }
    utf8_output(r);
    forward_stderr(ctx, r.err);
    if (r.cancelled) return cancelled_outcome(def.name);
    if (r.timed_out)
      return {.text = "Tool " + def.name + " timed out after " + std::to_string(def.timeout_ms) +
                      " ms and was stopped.",
              .is_error = true,
              .details = {{"timedOut", true}}};
    if (r.exit_code != 0 || !limit.empty()) {
      std::string tail = r.err.size() > 2000 ? r.err.substr(r.err.size() - 2000) : r.err;
      return {.text = "Tool " + def.name + " failed (" +
                      (limit.empty() ? r.status.describe() : limit) + ")" +
                      (tail.empty() ? std::string(".") : ":\n" + tail),
              .is_error = true,
              .details = {{"exitCode", r.exit_code}}};
    }
    const auto out = std::string(text::trim(r.out));
    json details = {{"exitCode", 0}};
    // The tool's return value as the stream shows it: its JSON, else its text.
    const json parsed = hearth::parse_json_or_discarded(out);
    details["output"] = parsed.is_discarded() ? json(cap(out, r.out_truncated)) : parsed;
    return {.text = cap(out, r.out_truncated), .details = details};
  };
  return tool;
}

} // namespace hearth::runtime

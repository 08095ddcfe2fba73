// Lifecycle hook runner; see hooks.hpp.
#include "runtime/hooks.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"
#include "core/text.hpp"
#include "runtime/agent_tools.hpp"
#include "runtime/definitions.hpp"
#include "sandbox/sandbox.hpp"

#include <algorithm>
#include <cctype>

#include <unistd.h>

namespace hearth::runtime {
namespace {
namespace stdfs = std::filesystem;
using nlohmann::json;

/// argv for a hook file: the file itself when executable, else its extension's interpreter.
std::vector<std::string> hook_command(const stdfs::path& path) {
  if (::access(path.c_str(), X_OK) == 0) return {path.string()};
  const auto ext = path.extension().string();
  if (ext == ".py") return {"python3", path.string()};
  if (ext == ".sh") return {"bash", path.string()};
  if (ext == ".js" || ext == ".mjs" || ext == ".cjs") return {"node", path.string()};
  return {};
}

std::string first_line(const std::string& text) {
  auto line = std::string(text::trim(text));
  if (const auto nl = line.find('\n'); nl != std::string::npos) line.resize(nl);
  if (line.size() > 300) line = line.substr(0, 300) + "...";
  return line;
}

} // namespace

std::string hook_event(std::string_view hook_name) {
  std::string name;
  for (char c : hook_name) name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name.rfind("on-", 0) == 0) name.erase(0, 3);
  else if (name.rfind("on_", 0) == 0) name.erase(0, 3);
  if (name == "turn") return "request";
  if (name == "end") return "finish";
  if (name == "event") return "trace";
  for (const char* event : k_hook_events)
    if (name == event) return event;
  return "";
}

const HookDef* find_hook(const AgentDef& agent, std::string_view event) {
  for (const auto& hook : agent.hooks)
    if (hook.event == event) return &hook;
  return nullptr;
}

HookRunner::HookRunner(stdfs::path project_root, bool fail_closed,
                       std::chrono::milliseconds timeout)
    : m_project_root(std::move(project_root)), m_fail_closed(fail_closed), m_timeout(timeout) {}

json HookRunner::run(const AgentDef& agent, std::string_view event, const json& payload,
                     const HookEnvironment& environment, const HookErrorSink& on_error) const noexcept {
  const HookDef* hook = find_hook(agent, event);
  if (hook == nullptr) return nullptr;
  auto fail = [&](const std::string& problem) -> json {
    try {
      if (on_error) on_error(hook->name, problem);
    } catch (const std::exception&) { // the report failed (store): the hook still gives null
    }
    return nullptr;
  };
  try {
    const auto argv = hook_command(hook->path);
    if (argv.empty())
      return fail("it is neither executable nor a .py/.sh/.js script (" + hook->path.string() + ")");
    auto policy = agent_policy(agent.sandbox, m_project_root, m_fail_closed);
    policy.reads.push_back(hook->path.parent_path());
    if (environment.confined != nullptr) sandbox::use_workspace(policy, *environment.confined);
    else policy.workspace = environment.workspace;
    auto& cap = policy.settings.limits.output_bytes;
    cap = cap > 0 ? std::min<long long>(cap, k_hook_output_bytes + 1) : k_hook_output_bytes + 1;
    std::vector<std::string> env{"HEARTH_HOOK=" + std::string(event), "HEARTH_AGENT=" + agent.name,
                                 "HEARTH_RUN_ID=" + environment.run_id,
                                 "HEARTH_SESSION_ID=" + environment.session_id};
    if (!environment.workspace.empty())
      env.push_back("HEARTH_WORKSPACE=" + environment.workspace.string());
    if (!environment.traceparent.empty()) env.push_back("TRACEPARENT=" + environment.traceparent);
    const auto ran = sandbox::run({.argv = argv,
                                   .input = dump_json(payload),
                                   .cwd = environment.workspace.empty() ? hook->path.parent_path()
                                                                        : environment.workspace,
                                   .timeout = m_timeout,
                                   .hearth_env = std::move(env)},
                                  policy);
    const auto& r = ran.capture;
    if (r.timed_out)
      return fail("it timed out after " + std::to_string(m_timeout.count()) + " ms and was stopped");
    if (!ran.limit.empty()) return fail(ran.limit);
    if (r.exit_code != 0)
      return fail(r.status.describe() + (r.err.empty() ? "" : ": " + first_line(text::to_utf8(r.err))));
    if (r.out_truncated || r.out.size() > k_hook_output_bytes)
      return fail("its answer is longer than " + std::to_string(k_hook_output_bytes) + " bytes");
    const auto out = text::trim(r.out);
    if (out.empty()) return nullptr;
    json answer = hearth::parse_json_or_discarded(out);
    if (answer.is_discarded())
      return fail("its answer is not JSON: " + first_line(text::to_utf8(std::string(out))));
    return answer;
  } catch (const Error& e) {
    return fail("it could not start: " + e.info().message);
  } catch (const std::exception& e) {
    return fail(std::string("it could not run: ") + e.what());
  }
}

HookCaller bind_hook_caller(std::shared_ptr<const HookRunner> runner, EventLog& events,
                            Envelope envelope, HookEnvironment environment) {
  if (!runner) return {};
  return [runner, &events, envelope = std::move(envelope),
          environment = std::move(environment)](const AgentDef& agent, std::string_view name,
                                                const json& payload) -> json {
    const auto on_error = [&](const std::string& hook, const std::string& problem) {
      const auto error = errors::hook_failed(hook, problem);
      events.emit("error", {{"error", error_json(error)}, {"source", "hook"}, {"hook", hook},
                            {"hookEvent", std::string(name)}},
                  envelope);
    };
    // No hook for this point (the common case): nothing runs, so nothing needs committing yet.
    if (find_hook(agent, name) == nullptr) return nullptr;
    events.flush(); // a hook is a program of the author's: it sees a committed stream
    HookEnvironment env = environment;
    if (env.traceparent.empty())
      env.traceparent = events.traceparent("", envelope.turn_id, envelope.operation_id);
    return runner->run(agent, name, payload, env, on_error);
  };
}

} // namespace hearth::runtime

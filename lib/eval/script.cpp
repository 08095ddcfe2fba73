// Executable evals (runner.hpp run_script): one process per eval speaking the ctx protocol of
// programmable workflows (docs/workflow-protocol.md, so templates/helpers/hearth_workflow.py works
// unchanged). The runner answers `agent.init`, `session.open|prompt|close` by driving the target's
// Eve sessions, `log`, and the eval methods `eval.judge` and `eval.check`.
#include "eval/runner.hpp"

#include "core/errors.hpp"
#include "core/errors_eval.hpp"
#include "core/ids.hpp"
#include "core/json.hpp"
#include "core/process.hpp"
#include "core/text.hpp"
#include "ipc/peer.hpp"

#include <atomic>
#include <cerrno>
#include <deque>
#include <map>
#include <mutex>
#include <poll.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace hearth::eval {
using nlohmann::json;

namespace {

constexpr std::size_t k_stderr_tail = 20;
constexpr std::size_t k_max_sessions = 100;

/// Reads the script's stderr into log lines, keeping the last few for an exit message.
class StderrReader {
public:
  StderrReader(int fd, LogSink log) : m_fd(fd), m_log(std::move(log)), m_thread([this] { pump(); }) {}
  ~StderrReader() { finish(); }
  StderrReader(const StderrReader&) = delete;
  StderrReader& operator=(const StderrReader&) = delete;
  void finish() {
    m_stopping = true;
    if (m_thread.joinable()) m_thread.join();
  }
  std::string tail() const {
    std::string out;
    for (const auto& l : m_tail) out += (out.empty() ? "" : "\n") + l;
    return out;
  }

private:
  void pump() {
    std::string buffer;
    char chunk[4096];
    for (;;) {
      pollfd p{m_fd, POLLIN, 0};
      const int rc = ::poll(&p, 1, 50);
      if (rc < 0 && errno == EINTR) continue;
      if (rc == 0) {
        if (m_stopping) break;
        continue;
      }
      const auto got = ::read(m_fd, chunk, sizeof chunk);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) break;
      buffer.append(chunk, static_cast<std::size_t>(got));
      for (auto nl = buffer.find('\n'); nl != std::string::npos; nl = buffer.find('\n')) {
        line(buffer.substr(0, nl));
        buffer.erase(0, nl + 1);
      }
      if (buffer.size() > 8192) {
        line(buffer);
        buffer.clear();
      }
    }
    if (!buffer.empty()) line(buffer);
  }
  void line(std::string text) {
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text::trim(text).empty()) return;
    text = text::to_utf8(text.substr(0, 8192));
    m_tail.push_back(text);
    if (m_tail.size() > k_stderr_tail) m_tail.pop_front();
    if (m_log) m_log("stderr: " + text);
  }

  int m_fd;
  LogSink m_log;
  std::deque<std::string> m_tail{};
  std::atomic<bool> m_stopping{false};
  std::thread m_thread;
};

[[noreturn]] void invalid_params(const std::string& message) {
  throw ipc::RpcError(ipc::code::invalid_params, message);
}

std::string string_param(const json& params, const char* key, bool required = true) {
  if (!params.is_object() || !params.contains(key)) {
    if (required) invalid_params(std::string("\"") + key + "\" is required");
    return "";
  }
  if (!params[key].is_string()) invalid_params(std::string("\"") + key + "\" must be a string");
  return params[key].get<std::string>();
}

/// The ctx calls of one script, served against the target.
class ScriptHost {
public:
  ScriptHost(const Eval& eval, const RunOptions& options, Clock::time_point deadline,
             EvalResult& result, const LogSink& log)
      : m_eval(eval), m_options(options), m_deadline(deadline), m_result(result), m_log(log) {}

  void install(ipc::Peer& peer) {
    peer.on_request("agent.init", [this](const ipc::Request& r) { return init(r.params); });
    peer.on_request("session.open", [this](const ipc::Request& r) { return open(r.params); });
    peer.on_request("session.prompt", [this](const ipc::Request& r) { return prompt(r.params); });
    peer.on_request("session.close", [this](const ipc::Request& r) {
      std::lock_guard lock(m_mutex);
      m_sessions.erase(string_param(r.params, "session"));
      return json::object();
    });
    peer.on_request("eval.judge", [this](const ipc::Request& r) { return judge(r.params); });
    peer.on_request("eval.check", [this](const ipc::Request& r) { return check(r.params); });
    peer.on_notification("log", [this](const ipc::Notification& n) {
      const auto& p = n.params;
      const auto level = p.is_object() ? p.value("level", std::string("info")) : std::string("info");
      const auto message = p.is_object() ? p.value("message", std::string()) : std::string();
      if (m_log) m_log("[" + level.substr(0, 10) + "] " + message.substr(0, 8192));
    });
  }

private:
  json init(const json& params) {
    for (const char* key : {"model", "instructions", "tools"})
      if (params.is_object() && params.contains(key))
        invalid_params(std::string("\"") + key +
                       "\" cannot be set over HTTP: evals drive the agent as it is served "
                       "(use eval.judge for a model call of your own)");
    const auto agent = string_param(params, "agent", false);
    if (!agent.empty() && !m_options.root_agent.empty() && agent != m_options.root_agent)
      invalid_params("evals drive the root agent \"" + m_options.root_agent + "\" (Eve sessions), not \"" +
                     agent + "\"");
    const auto name = params.is_object() ? params.value("harness", std::string("default")) : "default";
    return {{"harness", "h1"}, {"name", name}, {"agent", m_options.root_agent}, {"workspace", ""}};
  }

  json open(const json& params) {
    (void)string_param(params, "harness");
    auto name = string_param(params, "name", false);
    if (name.empty()) name = "default";
    std::lock_guard lock(m_mutex);
    const auto handle = "s:" + name.substr(0, 200);
    if (!m_sessions.count(handle)) {
      if (m_sessions.size() >= k_max_sessions) invalid_params("more than 100 sessions in one eval");
      auto slot = std::make_shared<Slot>();
      slot->session = std::make_unique<AgentSession>(m_options.target, m_eval.id, m_log);
      m_sessions[handle] = slot;
    }
    return {{"session", handle}, {"name", name}};
  }

  struct Slot {
    std::mutex mutex; // one turn at a time per session
    std::unique_ptr<AgentSession> session{};
  };

  json prompt(const json& params) {
    const auto handle = string_param(params, "session");
    const auto text = string_param(params, "text");
    if (text.size() > (1u << 20)) invalid_params("\"text\" is larger than 1 MiB");
    const json schema = params.contains("result") ? params["result"] : json();
    std::shared_ptr<Slot> slot;
    {
      std::lock_guard lock(m_mutex);
      const auto it = m_sessions.find(handle);
      if (it == m_sessions.end()) invalid_params("unknown session handle \"" + handle + "\"");
      slot = it->second;
    }
    Observation turn;
    {
      std::lock_guard lock(slot->mutex);
      slot->session->prompt(text, schema, turn, m_deadline);
    }
    {
      std::lock_guard lock(m_mutex);
      auto& seen = m_result.seen;
      seen.text = turn.text;
      seen.data = turn.data;
      seen.last_input = turn.last_input;
      seen.steps += turn.steps;
      seen.input_tokens += turn.input_tokens;
      seen.output_tokens += turn.output_tokens;
      seen.latency_ms += turn.latency_ms;
      for (const auto& c : turn.tool_calls)
        if (seen.tool_calls.size() < k_max_tool_calls) seen.tool_calls.push_back(c);
    }
    json out = turn.to_json();
    out["usage"] = {{"input", turn.input_tokens}, {"output", turn.output_tokens},
                    {"totalTokens", turn.input_tokens + turn.output_tokens}};
    out["model"] = json::object();
    if (turn.data.is_null()) out.erase("data");
    return out;
  }

  json judge(const json& params) {
    if (!m_options.judge) invalid_params("no judge is available");
    const auto criteria = string_param(params, "criteria");
    if (criteria.empty() || criteria.size() > 16384) invalid_params("\"criteria\" must be 1..16384 bytes");
    JudgeRequest request{.criteria = criteria,
                         .input = string_param(params, "input", false),
                         .output = string_param(params, "output", false),
                         .model = string_param(params, "model", false)};
    if (!params.contains("output")) {
      std::lock_guard lock(m_mutex);
      request.output = m_result.seen.data.is_null() ? m_result.seen.text : dump_json(m_result.seen.data);
      if (request.input.empty()) request.input = m_result.seen.last_input;
    }
    const auto verdict = m_options.judge(request);
    return {{"score", verdict.score}, {"reason", verdict.reason}, {"model", verdict.model}};
  }

  /// {checks: [...]} evaluated over what the eval observed so far; the results are recorded.
  json check(const json& params) {
    if (!params.is_object() || !params.contains("checks"))
      invalid_params("\"checks\" is required (a list of declarative checks)");
    std::vector<Check> checks;
    try {
      checks = parse_checks(params["checks"], m_eval.relative);
    } catch (const Error& e) {
      invalid_params(e.info().message);
    }
    Observation seen;
    {
      std::lock_guard lock(m_mutex);
      seen = m_result.seen;
    }
    json out = json::array();
    std::vector<CheckResult> results;
    for (const auto& c : checks) {
      results.push_back(evaluate(c, seen, m_options.judge));
      out.push_back(results.back().to_json());
    }
    std::lock_guard lock(m_mutex);
    for (auto& r : results)
      if (m_result.checks.size() < 1000) m_result.checks.push_back(std::move(r));
    return {{"results", out}};
  }

  const Eval& m_eval;
  const RunOptions& m_options;
  Clock::time_point m_deadline;
  EvalResult& m_result;
  const LogSink& m_log;
  std::mutex m_mutex;
  std::map<std::string, std::shared_ptr<Slot>> m_sessions{};
};

/// The script's reply to `workflow.run`, as checks (docs/evals.md "Executable evals").
void record_reply(const Eval& eval, const json& reply, EvalResult& result) {
  const auto bad = [&eval](const std::string& why) {
    throw errors::eval_script_failed(eval.id, "its result " + why,
                                     "Return a score (0..1), true/false, or {score, passed, "
                                     "threshold, checks, message} (docs/evals.md).");
  };
  json r = reply;
  if (r.is_number()) r = {{"score", reply}};
  else if (r.is_boolean()) r = {{"passed", reply}};
  if (!r.is_object()) bad("is neither a number, a boolean nor an object");
  const auto message = r.contains("message") && r["message"].is_string()
                           ? r["message"].get<std::string>().substr(0, 2000)
                           : std::string();
  if (r.contains("checks")) {
    if (!r["checks"].is_array() || r["checks"].size() > 1000) bad("\"checks\" must be a list (at most 1000)");
    for (const auto& c : r["checks"]) {
      if (!c.is_object() || !c.contains("passed") || !c["passed"].is_boolean())
        bad("\"checks\" entries need \"passed\": true|false");
      CheckResult cr{.name = c.contains("name") && c["name"].is_string() ? c["name"].get<std::string>().substr(0, 200)
                                                                          : "check " + std::to_string(result.checks.size() + 1),
                     .kind = "script",
                     .passed = c["passed"].get<bool>(),
                     .score = c["passed"].get<bool>() ? 1.0 : 0.0,
                     .soft = c.contains("soft") && c["soft"].is_boolean() && c["soft"].get<bool>(),
                     .threshold = 1.0,
                     .message = c.contains("message") && c["message"].is_string()
                                    ? c["message"].get<std::string>().substr(0, 2000)
                                    : std::string()};
      if (c.contains("score") && c["score"].is_number()) cr.score = std::clamp(c["score"].get<double>(), 0.0, 1.0);
      result.checks.push_back(std::move(cr));
    }
  }
  if (r.contains("passed")) {
    if (!r["passed"].is_boolean()) bad("\"passed\" must be true or false");
    const bool passed = r["passed"].get<bool>();
    result.checks.push_back({.name = "passed", .kind = "script", .passed = passed,
                             .score = passed ? 1.0 : 0.0, .message = message});
  }
  if (r.contains("score")) {
    if (!r["score"].is_number()) bad("\"score\" must be a number from 0 to 1");
    double threshold = 0.5;
    if (r.contains("threshold")) {
      if (!r["threshold"].is_number()) bad("\"threshold\" must be a number from 0 to 1");
      threshold = std::clamp(r["threshold"].get<double>(), 0.0, 1.0);
    }
    const double score = std::clamp(r["score"].get<double>(), 0.0, 1.0);
    result.checks.push_back({.name = "score", .kind = "score", .passed = score >= threshold,
                             .score = score, .soft = true, .threshold = threshold,
                             .message = message.empty() ? "score " + std::to_string(score).substr(0, 4)
                                                        : message});
  }
  if (result.checks.empty()) bad("has no score, \"passed\" or checks");
}

} // namespace

void run_script(const Eval& eval, const RunOptions& options, Clock::time_point deadline,
                long long timeout_ms, EvalResult& result, const LogSink& log) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string_view entry = *e;
    if (text::starts_with(entry, "HEARTH_INTERNAL_IPC=")) continue;
    env.emplace_back(entry);
  }
  const auto run_id = "eval_" + ids::ulid();
  env.push_back("HEARTH_RUN_ID=" + run_id);
  env.push_back("HEARTH_WORKFLOW=" + eval.id);
  env.push_back("HEARTH_EVAL_ID=" + eval.id);
  env.push_back("HEARTH_EVAL_URL=" + options.target.url);
  env.push_back("HEARTH_PROTOCOL=1");
  process::Process script({.argv = eval.command, .env = env, .cwd = options.project_root});
  StderrReader stderr_reader(script.stderr_fd(), log);
  ScriptHost host(eval, options, deadline, result, log);
  std::optional<Error> failure;
  bool exited_early = false;
  json reply;
  {
    ipc::Peer peer(script.stdout_fd(), script.stdin_fd(), {.name = "eval \"" + eval.id + "\""});
    host.install(peer);
    peer.start();
    try {
      const json params = {{"runId", run_id},
                           {"workflow", eval.id},
                           {"payload", eval.payload},
                           {"eval", {{"id", eval.id}, {"url", options.target.url}}}};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      reply = peer.request("workflow.run", params,
                           {.timeout = std::max(left, std::chrono::milliseconds(1))});
    } catch (const ipc::RemoteError& e) {
      std::string details;
      if (e.data().is_object())
        for (const char* key : {"details", "traceback", "stack"})
          if (e.data().contains(key) && e.data()[key].is_string()) {
            details = e.data()[key].get<std::string>();
            break;
          }
      // A timeout or target failure the script passed on keeps its type.
      failure = text::starts_with(e.info().type, "eval_")
                    ? Error(e.info())
                    : errors::eval_script_failed(eval.id, e.remote_message(), details);
    } catch (const Error& e) {
      const auto& type = e.info().type;
      if (type == "ipc_timeout") failure = errors::eval_timeout(eval.id, timeout_ms);
      else if (type == "ipc_closed") exited_early = true;
      else failure = errors::eval_script_failed(eval.id, e.info().message, e.info().dev);
    }
    if (failure) script.stop(std::chrono::milliseconds(200));
  }
  script.close_stdin();
  const bool exited = script.wait_for(std::chrono::milliseconds(2000)).has_value();
  const auto status = script.stop();
  stderr_reader.finish();
  if (exited_early)
    throw errors::eval_script_failed(
        eval.id, "it ended before answering workflow.run (" +
                     (exited ? status.describe() : std::string("its stdout closed")) + ")",
        stderr_reader.tail());
  if (failure) throw *failure;
  record_reply(eval, reply, result);
}

} // namespace hearth::eval

// One workflow script per run: spawn, serve its ctx calls, map how it ended to the run's result or
// error, and leave no process behind. See program_runner.hpp.
#include "runtime/program_runner.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"
#include "core/process.hpp"
#include "core/text.hpp"
#include "ipc/peer.hpp"
#include "runtime/agent_tools.hpp"
#include "runtime/workflow_context.hpp"
#include "sandbox/sandbox.hpp"
#include "store/store.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <deque>
#include <poll.h>
#include <thread>
#include <unistd.h>

namespace hearth::runtime {
namespace {
using nlohmann::json;

// --- stderr: each line a warn log, the last lines kept for an exit message ---------------------

class StderrPump {
public:
  StderrPump(int fd, EventLog& events, std::string run_id)
      : m_fd(fd), m_events(events), m_run_id(std::move(run_id)),
        m_log([this](std::string_view level, std::string_view message) { emit(level, message); },
              "warn"),
        m_thread([this] { pump(); }) {}
  ~StderrPump() { finish(); }
  StderrPump(const StderrPump&) = delete;
  StderrPump& operator=(const StderrPump&) = delete;

  /// Reads what is left (the script has ended or been stopped) and joins. Idempotent.
  void finish() {
    m_stopping = true;
    if (m_thread.joinable()) m_thread.join();
  }

  /// The last k_stderr_tail_lines lines, newline-joined; call after finish().
  std::string tail() const {
    std::string out;
    for (const auto& line : m_tail) out += (out.empty() ? "" : "\n") + line;
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
        m_log.flush(); // idle: what came in the last burst is one event
        if (m_stopping) break; // nothing left to read; a grandchild may hold the pipe open
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
      if (buffer.size() > k_stderr_chunk_bytes) { // a line without end: bound what we hold
        line(buffer);
        buffer.clear();
      }
    }
    if (!buffer.empty()) line(buffer);
    m_log.finish();
  }

  void line(std::string text) {
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text::trim(text).empty()) return;
    if (text.size() > k_stderr_chunk_bytes) text.resize(k_stderr_chunk_bytes);
    m_tail.push_back(text::to_utf8(text));
    if (m_tail.size() > k_stderr_tail_lines) m_tail.pop_front();
    m_log.line(text); // bounded: at most k_max_stderr_events events per script
  }

  void emit(std::string_view level, std::string_view message) {
    try {
      m_events.emit("log", {{"level", level}, {"message", message},
                            {"attributes", {{"stream", "stderr"}}}},
                    Envelope{.run_id = m_run_id});
    } catch (const std::exception&) { // the store failed: the run reports that on its own
    }
  }

  int m_fd;
  EventLog& m_events;
  std::string m_run_id;
  std::deque<std::string> m_tail{};
  StderrLog m_log;
  std::atomic<bool> m_stopping{false};
  std::thread m_thread; // last: starts once the members above exist
};

/// The protocol variables of a script, on top of the sandbox's allow-list.
std::vector<std::string> script_environment(const WorkflowDef& def, const std::string& run_id,
                                            const json& invoker, const json& context_values,
                                            const std::string& traceparent) {
  std::vector<std::string> env;
  if (!traceparent.empty()) env.push_back("TRACEPARENT=" + traceparent); // the run's span
  env.push_back("HEARTH_RUN_ID=" + run_id);
  env.push_back("HEARTH_WORKFLOW=" + def.name);
  if (!invoker.is_null()) env.push_back("HEARTH_INVOKER=" + dump_json(invoker));
  if (context_values.is_object() && !context_values.empty())
    env.push_back("HEARTH_CONTEXT=" + dump_json(context_values));
  std::string protocol = "HEARTH_PROTOCOL="; // appended, not operator+: GCC 12 -O2 misreports it
  protocol += std::to_string(k_workflow_protocol_version);
  env.push_back(std::move(protocol));
  return env;
}

/// Workflow scripts run sandboxed like tools (docs/sandbox.md "Workflow scripts"): the project's
/// settings, no workspace, the script's directory and the project's helpers/ read-only at their
/// host paths (so `../helpers` imports work), cwd the project root (an empty directory inside).
sandbox::Policy script_policy(const Runtime& runtime, const WorkflowDef& def) {
  const auto& root = runtime.context().project_root;
  auto policy = agent_policy(def.sandbox, root, runtime.context().sandbox_fail_closed);
  policy.reads.push_back(def.executable.parent_path());
  std::error_code ec;
  for (const auto& helpers : {def.executable.parent_path().parent_path() / "helpers",
                              root / "helpers", root / "src" / "helpers"})
    if (std::filesystem::is_directory(helpers, ec)) policy.reads.push_back(helpers);
  return policy;
}

/// The part of an ipc_protocol_error message after "Protocol error from <peer>: ".
std::string protocol_problem(const ErrorInfo& info) {
  auto message = info.message;
  if (const auto colon = message.find(": "); colon != std::string::npos) message.erase(0, colon + 2);
  while (!message.empty() && message.back() == '.') message.pop_back();
  return message;
}

/// The quoted line of an ipc_protocol_error ("Line (first N bytes): <excerpt>").
std::string protocol_line(const ErrorInfo& info) {
  const auto mark = info.dev.find("): ");
  return mark == std::string::npos ? info.dev : info.dev.substr(mark + 3);
}

/// The run's error for an error reply to `workflow.run`.
Error replied_error(const WorkflowDef& def, const ipc::RemoteError& e) {
  const auto& data = e.data();
  if (e.code() == ipc::code::hearth_error && data.is_object() && data.contains("type") &&
      data["type"].is_string())
    return Error(e.info()); // a hearth error the script passed on (e.g. a failed prompt)
  std::string details;
  if (data.is_object())
    for (const char* key : {"details", "traceback", "stack"})
      if (data.contains(key) && data[key].is_string()) {
        details = data[key].get<std::string>();
        break;
      }
  return errors::workflow_failed(def.name, e.remote_message(), details);
}

} // namespace

json run_program(const Runtime& runtime, const WorkflowDef& def, const std::string& run_id,
                 const json& payload, const ProgramRunOptions& options, EventLog& events) {
  if (def.command.empty()) throw errors::spawn_failed(def.name, "the workflow has no command");
  const auto record = runtime.store().get_run(run_id);
  const json invoker = record ? record->invoker : json();
  const auto traceparent = events.traceparent();
  const auto script_ptr = sandbox::start({.argv = def.command,
                                          .cwd = runtime.context().project_root,
                                          .hearth_env = script_environment(def, run_id, invoker,
                                                                           options.context,
                                                                           traceparent)},
                                         script_policy(runtime, def));
  auto& script = *script_ptr;
  StderrPump stderr_pump(script.stderr_fd(), events, run_id);
  // The script's ctx calls (turns, tools, shell) stop with this source: on the run's cancellation
  // and at the timeout, so no call outlives the run by more than a second.
  std::stop_source work;
  std::stop_callback follow_run(options.cancel, [&work] { work.request_stop(); });
  // A cancelled run's script gets SIGTERM at once (script.stop() below finishes the group).
  std::stop_callback stop_script(work.get_token(), [&script] { ::killpg(script.pid(), SIGTERM); });
  WorkflowContext context(runtime, run_id, options.model_override, events, work.get_token(),
                          options.context);
  std::optional<Error> failure;
  bool exited_early = false;
  json result;
  {
    ipc::Peer peer(script.stdout_fd(), script.stdin_fd(),
                   {.name = "workflow \"" + def.name + "\""});
    context.install(peer);
    peer.start();
    const int timeout_ms = options.timeout_ms > 0 ? options.timeout_ms : def.timeout_ms;
    try {
      json params = {{"runId", run_id}, {"workflow", def.name}, {"payload", payload}};
      if (!invoker.is_null()) params["invoker"] = invoker; // ctx.invoker (docs/workflow-protocol.md)
      if (options.context.is_object() && !options.context.empty())
        params["context"] = options.context; // ctx.context: invoker.resolve's values
      if (!traceparent.empty()) params["traceparent"] = traceparent; // ctx.traceparent
      result = peer.request("workflow.run", params,
                            {.timeout = std::chrono::milliseconds(timeout_ms)});
    } catch (const ipc::RemoteError& e) {
      failure = replied_error(def, e);
    } catch (const Error& e) {
      const auto& type = e.info().type;
      if (type == "ipc_timeout") failure = errors::workflow_timeout(def.name, timeout_ms);
      else if (type == "ipc_protocol_error")
        failure = errors::workflow_protocol_error(def.name, protocol_problem(e.info()),
                                                  protocol_line(e.info()));
      else if (type == "ipc_closed") exited_early = true;
      else failure = e;
    }
    // A script that ran out of time or broke the protocol gets no grace: stop it now, and its
    // ctx calls in flight (a turn's tools) with it.
    if (failure && (failure->info().type == "workflow_timeout" ||
                    failure->info().type == "workflow_protocol_error")) {
      work.request_stop();
      script.stop();
    }
    // Leaving this scope closes the peer and joins its workers (calls still running finish).
  }
  script.close_stdin(); // EOF: the helpers exit on it
  const bool exited = script.wait_for(k_script_exit_grace).has_value();
  const auto status = script.stop(); // the rest of the group, and the script if it lingers
  stderr_pump.finish();
  if (options.cancel.stop_requested() && (exited_early || !failure))
    throw errors::turn_cancelled("The workflow run was cancelled; its script was stopped.");
  if (exited_early)
    throw errors::workflow_script_exited(
        def.name,
        exited ? status.describe()
               : "its stdout closed while it kept running (it was stopped)",
        stderr_pump.tail());
  if (failure) throw *failure;
  return result;
}

void install_program_runner(Runtime& runtime) {
  // Grandchildren of a killed script are reparented to us, so Process::stop reaps them and no
  // zombie of the script's group outlives its run.
  process::become_subreaper();
  runtime.set_program_runner([&runtime](const WorkflowDef& def, const std::string& run_id,
                                        const json& payload, const ProgramRunOptions& options,
                                        EventLog& events) {
    return run_program(runtime, def, run_id, payload, options, events);
  });
}

} // namespace hearth::runtime

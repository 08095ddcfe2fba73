// The runtime side of a workflow script's `ctx` (docs/workflow-protocol.md; seed page 09,
// FlueContext): the harnesses and sessions one run builds, and the handler of every
// script -> runtime method. Everything a call causes streams into the run's event log exactly as
// for declarative workflows (operation_start / operation, turn events, tool events, log).
#pragma once

#include "runtime/runtime.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace hearth::ipc {
class Peer;
}

namespace hearth::runtime {

/// The ctx methods a script may call, in docs/workflow-protocol.md order.
inline constexpr const char* k_ctx_methods[] = {"agent.init",   "session.open", "session.close",
                                                "session.prompt", "session.task", "session.skill",
                                                "shell",        "fs.read",      "fs.write",
                                                "log"};

/// Default timeout of `shell` when the script gives none.
inline constexpr int k_default_shell_timeout_ms = 120'000;

/// Per-run state behind the protocol. Thread-safe: the peer runs each request on its own worker
/// thread; calls on one session are serialized so its history stays one conversation.
class WorkflowContext {
public:
  /// `runtime` supplies agents, the project context and the store; `events` is the run's log;
  /// `cancel` stops every turn, tool and shell command the script's calls start;
  /// `context_values` are invoker.resolve's values for the run (an object; HEARTH_CONTEXT).
  /// Every harness workspace is confined to the grant of the run's invoker (agent ∩ workflow).
  WorkflowContext(const Runtime& runtime, std::string run_id, std::string model_override,
                  EventLog& events, std::stop_token cancel = {},
                  nlohmann::json context_values = nlohmann::json::object());
  ~WorkflowContext();
  WorkflowContext(const WorkflowContext&) = delete;
  WorkflowContext& operator=(const WorkflowContext&) = delete;

  /// Registers every method of k_ctx_methods on `peer` (`log` also as a notification).
  void install(ipc::Peer& peer);

  /// Dispatches one call by name: the same code the peer handlers run. Throws ipc::RpcError
  /// (-32601 unknown method, -32602 bad params or an unknown/closed handle) or the hearth::Error of
  /// the work itself (a failed turn, a path outside the workspace, ...).
  /// Durable runs (docs/runtime.md "Durable runs"): in a resumable run, each completed
  /// session.prompt / task / skill and shell call is journaled in the run's checkpoint by call
  /// order; when a taken-over run's script starts again from the beginning, the call with the
  /// same order and method is answered from the journal without running (a prompt's session
  /// gets its history back). A call whose method differs from the journal's ends the replay.
  /// Throws errors::run_taken_over when the run's fence moved.
  nlohmann::json call(const std::string& method, const nlohmann::json& params);

  // The methods; params and results as in docs/workflow-protocol.md.
  nlohmann::json agent_init(const nlohmann::json& params);
  nlohmann::json session_open(const nlohmann::json& params);
  nlohmann::json session_close(const nlohmann::json& params);
  nlohmann::json session_prompt(const nlohmann::json& params);
  nlohmann::json session_task(const nlohmann::json& params);
  nlohmann::json session_skill(const nlohmann::json& params);
  nlohmann::json shell(const nlohmann::json& params);
  nlohmann::json fs_read(const nlohmann::json& params);
  nlohmann::json fs_write(const nlohmann::json& params);
  nlohmann::json log(const nlohmann::json& params);

private:
  struct Harness;
  struct Session;
  std::shared_ptr<Harness> harness_of(const nlohmann::json& params, const std::string& method);
  std::shared_ptr<Session> session_of(const nlohmann::json& params, const std::string& method);
  nlohmann::json converse(Session& session, const std::string& kind, const std::string& text,
                          const nlohmann::json& result_schema, const std::string& model);
  std::string model_for(const std::string& call_model, const Harness& harness) const;
  nlohmann::json journaled(const std::string& method, const nlohmann::json& params,
                           const std::function<nlohmann::json()>& live);

  const Runtime& m_runtime;
  RuntimeContext m_context; // the runtime's, with run_id, invoker and context values set
  nlohmann::json m_workflow_access{}; // the run's workflow `access` (its workspace grant)
  std::string m_model_override;
  EventLog& m_events;
  ModelClients m_models;
  std::mutex m_mutex; // the handle maps and counters
  std::map<std::string, std::shared_ptr<Harness>> m_harnesses{}; // by handle
  std::map<std::string, std::shared_ptr<Session>> m_sessions{};  // by handle
  int m_next_handle = 0;
  // durable runs: the journal of completed calls, {"<order>": {method, result, messages?}}
  bool m_durable = false;
  std::int64_t m_fence = 0;
  nlohmann::json m_journal = nlohmann::json::object();
  std::size_t m_next_call = 0;
  bool m_replaying = true; // false once the script diverged from the journal
};

} // namespace hearth::runtime

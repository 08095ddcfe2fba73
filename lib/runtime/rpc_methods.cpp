// The runtime's JSON-RPC methods for the CLI; see rpc_methods.hpp.
#include "runtime/rpc_methods.hpp"

#include "core/errors.hpp"
#include "runtime/access.hpp"
#include "store/store.hpp"

#include <algorithm>

namespace hearth::runtime {
namespace {
using nlohmann::json;

std::string required_string(const json& params, const char* key) {
  if (!params.is_object() || !params.contains(key) || !params[key].is_string())
    throw errors::usage(std::string("`") + key + "` must be a string.", "See docs/ipc.md.");
  return params[key].get<std::string>();
}

/// At most this many names in a request's `eventTypes`, each at most k_max_event_type_chars.
constexpr std::size_t k_max_event_types = 64;
constexpr std::size_t k_max_event_type_chars = 64;

/// The listener of a request that streams events: each one an `event` notification tagged with
/// the request's id; with `eventTypes` in the params, only events of those types (the CLI asks
/// for what it prints: the others, TraceEvents and the turn's request among them, are most of a
/// run's bytes). Every event is stored either way. Throws usage for a malformed `eventTypes`.
EventListener event_listener(ipc::Peer& peer, const ipc::Request& request) {
  const auto it = request.params.is_object() ? request.params.find("eventTypes")
                                             : request.params.end();
  if (!request.params.is_object() || it == request.params.end())
    return [&peer, id = request.id](const json& event) {
      peer.notify_tagged(id, "event", {{"event", event}});
    };
  const auto malformed = [] {
    return errors::usage("`eventTypes` must be an array of at most " +
                             std::to_string(k_max_event_types) + " event type names.",
                         "See docs/ipc.md.");
  };
  if (!it->is_array() || it->size() > k_max_event_types) throw malformed();
  std::vector<std::string> wanted;
  for (const auto& type : *it) {
    if (!type.is_string() || type.get_ref<const std::string&>().size() > k_max_event_type_chars)
      throw malformed();
    wanted.push_back(type.get<std::string>());
  }
  std::sort(wanted.begin(), wanted.end());
  return [&peer, id = request.id, wanted = std::move(wanted)](const json& event) {
    const auto type = event.find("type");
    if (type == event.end() || !type->is_string() ||
        !std::binary_search(wanted.begin(), wanted.end(), type->get_ref<const std::string&>()))
      return;
    peer.notify_tagged(id, "event", {{"event", event}});
  };
}

/// Registers a turn of (agent, instance) with `work` for as long as it lives.
class TrackedTurn {
public:
  TrackedTurn(ConnectionWork* work, std::string agent, std::string instance)
      : m_work(work), m_agent(std::move(agent)), m_instance(std::move(instance)) {
    if (m_work) m_work->add_turn(m_agent, m_instance);
  }
  ~TrackedTurn() {
    if (m_work) m_work->remove_turn(m_agent, m_instance);
  }
  TrackedTurn(const TrackedTurn&) = delete;
  TrackedTurn& operator=(const TrackedTurn&) = delete;

private:
  ConnectionWork* m_work;
  std::string m_agent, m_instance;
};

/// The agent an agent.* request names, its instance, and the invocation it runs as: profiles
/// (the CLI may select them: it is the local user) and invoker.resolve, as over HTTP.
/// Throws agent_not_found, or usage for a missing field.
struct AgentCall {
  std::string agent;
  std::string instance;
  Invocation invocation;
};

AgentCall agent_call(Runtime& runtime, const json& params) {
  auto agent = required_string(params, "agent");
  const auto& def = runtime.agent(agent); // throws agent_not_found
  auto invocation = resolve_invocation(def.invoker, def.directory, params.value("invoker", json()),
                                       params.value("context", json()), true,
                                       "agent \"" + agent + "\"");
  return {std::move(agent), required_string(params, "instanceId"), std::move(invocation)};
}

} // namespace

void ConnectionWork::add_run(const std::string& run_id) {
  std::lock_guard lock(m_mutex);
  m_runs.insert(run_id);
}

void ConnectionWork::remove_run(const std::string& run_id) {
  std::lock_guard lock(m_mutex);
  if (const auto it = m_runs.find(run_id); it != m_runs.end()) m_runs.erase(it);
}

void ConnectionWork::add_turn(const std::string& agent, const std::string& instance) {
  std::lock_guard lock(m_mutex);
  m_turns.emplace(agent, instance);
}

void ConnectionWork::remove_turn(const std::string& agent, const std::string& instance) {
  std::lock_guard lock(m_mutex);
  if (const auto it = m_turns.find({agent, instance}); it != m_turns.end()) m_turns.erase(it);
}

std::size_t ConnectionWork::cancel_all(Runtime& runtime) {
  std::multiset<std::string> runs;
  std::multiset<std::pair<std::string, std::string>> turns;
  {
    std::lock_guard lock(m_mutex);
    runs = m_runs;
    turns = m_turns;
  }
  std::size_t cancelled = 0;
  for (const auto& id : runs) cancelled += runtime.cancel_run(id) ? 1 : 0;
  for (const auto& [agent, instance] : turns) cancelled += runtime.cancel_turn(agent, instance) ? 1 : 0;
  return cancelled;
}

std::size_t ConnectionWork::size() const {
  std::lock_guard lock(m_mutex);
  return m_runs.size() + m_turns.size();
}

void register_runtime_methods(ipc::Peer& peer, Runtime& runtime, MethodOptions options) {
  ConnectionWork* work = options.work;
  const bool resumable = options.resumable_runs;
  peer.on_request("workflow.run", [&peer, &runtime, work, resumable](const ipc::Request& request) {
    const auto name = required_string(request.params, "workflow");
    const auto listener = event_listener(peer, request); // a malformed list admits no run
    const json payload = request.params.value("payload", json::object());
    const auto model = request.params.value("model", std::string());
    const auto timeout_ms = request.params.value("timeoutMs", 0); // programmable workflows
    // The CLI is the local user, trusted to select profiles (docs/auth.md "Profiles and resolve").
    const auto run_id = runtime.admit_run(name, payload, request.params.value("invoker", json()),
                                          request.params.value("context", json()), true, resumable);
    struct Tracked { // registered from admission to the end of execute_run
      ConnectionWork* work;
      const std::string& id;
      ~Tracked() {
        if (work) work->remove_run(id);
      }
    } tracked{work, run_id};
    if (work) work->add_run(run_id);
    // approvals: `hearth run --approve/--deny` decide the run's Approval Requests; with neither,
    // the first one fails the run (approval_required).
    std::vector<std::string> approve, deny;
    for (const auto& [key, list] : {std::pair{"approve", &approve}, std::pair{"deny", &deny}})
      if (request.params.contains(key) && request.params[key].is_array())
        for (const auto& item : request.params[key])
          if (item.is_string()) list->push_back(item.get<std::string>());
    runtime.set_run_approvals(run_id, std::move(approve), std::move(deny));
    const auto result = runtime.execute_run(run_id, model, listener, timeout_ms);
    return json{{"runId", run_id}, {"result", result}};
  });
  peer.on_request("agent.prompt", [&peer, &runtime, work](const ipc::Request& request) {
    const auto [agent, instance, invocation] = agent_call(runtime, request.params);
    const TrackedTurn tracked(work, agent, instance);
    const auto result = runtime.prompt_agent(
        agent, instance, request.params.value("session", std::string("default")),
        required_string(request.params, "message"), request.params.value("outputSchema", json()),
        request.params.value("model", std::string()), event_listener(peer, request),
        invocation.invoker, invocation.context);
    return json{{"result", result}};
  });
  // compaction (issue 16 §1): `hearth connect` /compact and /clear.
  peer.on_request("agent.compact", [&peer, &runtime, work](const ipc::Request& request) {
    const auto [agent, instance, invocation] = agent_call(runtime, request.params);
    const TrackedTurn tracked(work, agent, instance);
    const auto result = runtime.compact_session(
        agent, instance, request.params.value("session", std::string("default")),
        request.params.value("clear", false), event_listener(peer, request), invocation.invoker);
    return json{{"result", result}};
  });
  // approvals: answers to a parked session's requests (hearth connect), then the resumed turn.
  peer.on_request("input.respond", [&peer, &runtime, work](const ipc::Request& request) {
    const auto listener = event_listener(peer, request); // malformed: no answer is recorded
    const auto agent = required_string(request.params, "agent");
    const auto instance = required_string(request.params, "instanceId");
    const auto session = request.params.value("session", std::string("default"));
    const auto invoker = request.params.value("invoker", json());
    const auto owner = Runtime::agent_stream(agent, instance);
    for (const auto& r : request.params.value("responses", json::array())) {
      if (!r.is_object()) continue;
      InputAnswer answer{.request_id = r.value("requestId", ""), .decision = r.value("decision", ""),
                         .reason = r.value("reason", ""), .answer = r.value("answer", ""),
                         .invoker = invoker};
      runtime.answer_input(owner, answer); // throws approval_not_found / _already_decided
    }
    const TrackedTurn tracked(work, agent, instance);
    const auto result = runtime.resume_session(agent, instance, session, listener, invoker);
    return json{{"result", result}};
  });
  // `hearth connect`'s Ctrl-C: cancel the instance's running turn (docs/ipc.md). Its
  // agent.prompt then fails with type `cancelled`. A notification: nothing waits on it.
  peer.on_notification("agent.cancel", [&runtime](const ipc::Notification& n) {
    const auto& p = n.params;
    if (!p.is_object() || !p.contains("agent") || !p["agent"].is_string() ||
        !p.contains("instanceId") || !p["instanceId"].is_string())
      return; // malformed: nothing to cancel
    runtime.cancel_turn(p["agent"].get<std::string>(), p["instanceId"].get<std::string>());
  });
}

} // namespace hearth::runtime

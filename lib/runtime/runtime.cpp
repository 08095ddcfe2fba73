// The runtime service; see runtime.hpp. Event order follows Flue 0.11's hello run:
// run_start, operation_start, agent events, operation, idle, run_end.
#include "runtime/runtime.hpp"
#include "runtime/compaction.hpp"
#include "core/cancel.hpp"

#include "core/errors.hpp"
#include "core/ids.hpp"
#include "core/json.hpp"
#include "core/text.hpp"
#include "mcp/connection_tools.hpp"
#include "mcp/oauth.hpp"
#include "runtime/access.hpp"
#include "runtime/prompt_template.hpp"
#include "runtime/telemetry.hpp"
#include "sandbox/workspace.hpp"
#include "store/store.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <sys/stat.h>
#include <time.h>
#include <atomic>
#include <cstdio>
#include <chrono>
#include <thread>
#include <mutex>
#include <exception>
#include <cstdlib>

namespace hearth::runtime {
namespace {

/// How an invocation's events are committed (issue 17 §3, docs/runtime.md "Events and commits"):
/// one by one when `per_event` (a script acts on each result it gets); else a step at a time,
/// also when a caller in this process streams them (`hearth run`, `hearth connect`): the queue is
/// committed, and shown, before the run acts outside itself and at most 25 ms after an event.
CommitPolicy commit_policy(bool per_event = false) {
  return per_event ? CommitPolicy::immediate : CommitPolicy::deferred;
}

using nlohmann::json;

/// Saves a session's history (and `invoker` unless null) with the events that made it, in one
/// commit (Store::save_session_after); `version` becomes the saved one. Throws session_conflict
/// and the store's errors, with the events still queued.
void save_session_after(EventLog& events, const store::SessionKey& key, const json& messages,
                        std::int64_t& version, const json& parked, const json& invoker = json()) {
  events.flush_with([&](const std::vector<store::NewEvent>& batch) -> std::optional<std::int64_t> {
    const auto saved = events.store().save_session_after(key, events.path(), batch, messages,
                                                         version, parked, invoker);
    version = saved.version;
    return saved.first_seq;
  });
}

/// sampling/createMessage of a connection with `sampling` (issue 13, docs/mcp.md): one model step
/// of the connection's agent (or the connection's `sampling.model`), without tools; text content
/// only (other content is described in one line). Bounds: 64 messages, 1 MiB of text, maxTokens
/// at most 64k. Throws hearth::Error (the server gets error -1 with its message).
json sample_for_connection(const RuntimeContext& context, const std::vector<AgentDef>& agents,
                           const mcp::ConnectionConfig& config, const json& params,
                           std::stop_token stop) {
  constexpr std::size_t k_max_messages = 64, k_max_text = 1u << 20;
  const AgentDef* agent = nullptr;
  std::vector<const AgentDef*> all;
  for (const auto& a : agents) all.push_back(&a);
  for (std::size_t i = 0; i < all.size() && i < 4096 && !agent; ++i) {
    if (mcp::agent_key(all[i]->name, all[i]->directory) == mcp::agent_key(config.agent, config.agent_id))
      agent = all[i];
    for (const auto& sub : all[i]->subagents) all.push_back(&sub);
  }
  const auto model = !config.sampling_model.empty()        ? config.sampling_model
                     : agent && !agent->model.empty()      ? agent->model
                                                           : context.default_model;
  if (model.empty()) throw errors::model_missing(config.agent);
  const auto ref = providers::parse_model(model);
  if (!params.is_object() || !params.contains("messages") || !params["messages"].is_array())
    throw errors::mcp_config_invalid(config.name, "sampling/createMessage without messages");
  providers::StepRequest request{.model = ref.model, .cancel = std::move(stop)};
  if (agent && config.sampling_model.empty() && agent->model_options.is_object())
    request.options = agent->model_options;
  std::size_t text_bytes = 0;
  const auto text_of = [](const json& item) -> std::string {
    if (!item.is_object()) return {};
    const auto type = item.value("type", json("")).is_string() ? item.value("type", "") : "";
    if (type == "text" && item.contains("text") && item["text"].is_string()) return item["text"].get<std::string>();
    return "[" + (type.empty() ? std::string("unknown") : type) + " content omitted]";
  };
  for (const auto& m : params["messages"]) {
    if (request.messages.size() >= k_max_messages)
      throw errors::mcp_config_invalid(config.name, "sampling/createMessage with more than 64 messages");
    if (!m.is_object()) continue;
    std::string text;
    const auto content = m.contains("content") ? m["content"] : json();
    if (content.is_array()) {
      for (const auto& item : content) {
        if (!text.empty()) text += "\n";
        text += text_of(item);
        if (text.size() > k_max_text) break;
      }
    } else {
      text = text_of(content);
    }
    text_bytes += text.size();
    if (text_bytes > k_max_text)
      throw errors::mcp_config_invalid(config.name, "sampling/createMessage with more than 1 MiB of text");
    request.messages.push_back(m.value("role", json("user")) == "assistant"
                                   ? providers::assistant_message(text::to_utf8(text))
                                   : providers::user_message(text::to_utf8(text)));
  }
  if (params.contains("systemPrompt") && params["systemPrompt"].is_string())
    request.system = text::to_utf8(params["systemPrompt"].get<std::string>().substr(0, 64u << 10));
  if (params.contains("maxTokens") && params["maxTokens"].is_number_integer())
    request.options["maxTokens"] = std::clamp<long long>(params["maxTokens"].get<long long>(), 1, 64'000);
  if (params.contains("temperature") && params["temperature"].is_number())
    request.options["temperature"] = params["temperature"];
  ModelClients models(context);
  auto& client = models.get(ref.provider, agent ? agent->mock_script : std::filesystem::path());
  providers::StreamSink sink;
  const auto step = client.step(request, sink);
  const bool cut_short = step.stop_reason.find("length") != std::string::npos ||
                         step.stop_reason.find("max") != std::string::npos;
  return {{"role", "assistant"},
          {"content", {{"type", "text"}, {"text", step.text}}},
          {"model", ref.provider + "/" + (step.model.empty() ? ref.model : step.model)},
          {"stopReason", cut_short ? "maxTokens" : "endTurn"}};
}

/// Hands event `seq` of `path` to `listener`, or its newest event when `seq` is unknown: the
/// run_end the store appended itself.
void show_stored_event(store::Store& store, const std::string& path,
                       std::optional<std::int64_t> seq, const EventListener& listener) {
  if (!listener) return;
  if (!seq) {
    const auto info = store.stream_info(path);
    if (!info || info->last_seq < 0) return;
    seq = info->last_seq;
  }
  const auto page = store.read(path, *seq - 1, 1);
  if (!page.events.empty()) listener(store::to_json(page.events.front()));
}

template <typename Named>
const Named& find_named(const std::vector<Named>& items, const std::string& name,
                        Error (*not_found)(std::string_view, const std::vector<std::string>&)) {
  for (const auto& item : items)
    if (item.name == name) return item;
  std::vector<std::string> names;
  for (const auto& item : items) names.push_back(item.name);
  throw not_found(name, names);
}

} // namespace

std::vector<sandbox::Seed> workspace_seeds(const AgentDef& agent) {
  std::vector<sandbox::Seed> seeds;
  if (!agent.workspace_seed.empty()) seeds.push_back({agent.workspace_seed, "."});
  for (const auto& skill : agent.skills)
    seeds.push_back(skill.directory.empty()
                        ? sandbox::Seed{skill.file, std::filesystem::path("skills") /
                                                        skill.name / "SKILL.md"}
                        : sandbox::Seed{skill.directory, std::filesystem::path("skills") / skill.name});
  return seeds;
}

sandbox::Workspace invocation_workspace(const std::filesystem::path& root, const AgentDef& agent,
                                        const json& invoker, const json& workflow_access, bool lazy) {
  const auto grant = intersect(workspace_grant(agent.access, invoker),
                               workspace_grant(workflow_access, invoker));
  if (lazy && grant.all) return sandbox::Workspace::lazy(root, workspace_seeds(agent));
  auto workspace = sandbox::Workspace::prepare(root, workspace_seeds(agent));
  if (!grant.all) workspace.confine(grant.paths);
  return workspace;
}

std::string safe_component(std::string_view name) {
  std::string out;
  for (char c : name)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  if (out.empty() || out == "." || out == "..") out = "_" + out;
  return out;
}

namespace {

/// An agent session's workspace directory: workspace_name's, or, for a session that already
/// existed (`existing`), the name hearth used before the hash suffix when only that directory is
/// there, so an upgrade does not leave a session's files behind.
std::filesystem::path session_workspace(const std::filesystem::path& root, const std::string& agent,
                                        const std::string& instance, const std::string& session,
                                        bool existing) {
  auto dir = root / workspace_name({agent, instance, session});
  if (!existing) return dir;
  std::error_code ec;
  const auto legacy = root / safe_component(agent + "-" + instance + "-" + session);
  if (!std::filesystem::exists(dir, ec) && std::filesystem::is_directory(legacy, ec)) return legacy;
  return dir;
}

} // namespace

std::string workspace_name(const std::vector<std::string>& parts) {
  std::string readable, joined;
  for (const auto& part : parts) {
    if (!readable.empty()) readable += '-';
    readable += part;
    joined += part;
    joined += '\0';
  }
  auto name = safe_component(readable).substr(0, 120);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(joined.data(), joined.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  name += '-';
  for (unsigned int i = 0; i < 8 && i < length; ++i) {
    name += hex[digest[i] >> 4];
    name += hex[digest[i] & 15];
  }
  return name;
}

Runtime::Runtime(Program program, RuntimeContext context, store::Store& store)
    : m_program(std::move(program)), m_context(std::move(context)), m_store(store) {
  // approvals: workflow turns cannot park; their requests are decided while the run waits.
  if (!m_context.wait_for_approval)
    m_context.wait_for_approval = [this](const json& request, std::stop_token cancel) {
      return decide_run_approval(request, std::move(cancel));
    };
  // MCP connections (issue 13): one pool per process, shared by every turn; eager ones start now.
  if (!m_context.connections)
    m_context.connections = mcp::make_pool(
        m_program.agents, m_context.project_root, m_context.sandbox_fail_closed,
        [](const std::string& line) { std::fprintf(stderr, "hearth: %s\n", line.c_str()); },
        mcp::store_credentials(m_store, m_context.env ? mcp::EnvLookup([env = m_context.env](const std::string& name) {
                                 return env(name);
                               }) : mcp::EnvLookup(),
                               m_context.workspaces_root().parent_path() / "credentials.key"));
  if (m_context.connections) {
    // sampling/createMessage (connections with `sampling`): a copy of what it needs, so the
    // pool may outlive this runtime.
    auto sampling = std::make_shared<std::pair<RuntimeContext, std::vector<AgentDef>>>(m_context, m_program.agents);
    sampling->first.connections.reset(); // no cycle through the pool
    m_context.connections->set_sampler(
        [sampling](const mcp::ConnectionConfig& config, const json& params, std::stop_token stop) {
          return sample_for_connection(sampling->first, sampling->second, config, params, std::move(stop));
        });
    m_context.connections->start_eager();
  }
}

const WorkflowDef& Runtime::workflow(const std::string& name) const {
  return find_named(m_program.workflows, name, &errors::workflow_not_found);
}

const AgentDef& Runtime::agent(const std::string& name) const {
  return find_named(m_program.agents, name, &errors::agent_not_found);
}

std::string Runtime::agent_stream(const std::string& agent, const std::string& instance_id) {
  return "agents/" + agent + "/" + instance_id;
}

const AgentDef* Runtime::find_agent(const std::string& name) const {
  for (const auto& a : m_program.agents)
    if (a.name == name) return &a;
  return nullptr;
}

std::string Runtime::admit_run(const std::string& name, const json& payload, const json& invoker,
                               const json& request_context, bool may_select,
                               bool allow_resumable) {
  auto invocation = workflow_invocation(name, invoker, request_context, may_select);
  settle_pending();
  const auto run_id = ids::run_id();
  // Durable runs: a serving runtime's runs survive its death (declarative ones continue from
  // their checkpoint, a script restarts with its completed calls answered from its journal).
  const bool resumable = allow_resumable && m_durable.load();
  auto record = m_store.create_run({.run_id = run_id, .workflow = name, .payload = payload,
                                    .invoker = invocation.invoker, .resumable = resumable});
  const bool keep_record = json_fits(record.payload, k_max_admitted_record_bytes) &&
                           json_fits(record.invoker, k_max_admitted_record_bytes);
  const bool keep_context = invocation.context.is_object() && !invocation.context.empty();
  std::lock_guard lock(m_runs_mutex);
  if (keep_record) {
    m_admitted_records.insert_or_assign(run_id, std::move(record));
    while (m_admitted_records.size() > k_max_admitted_records)
      m_admitted_records.erase(m_admitted_records.begin());
  }
  if (keep_context) {
    m_admitted_context.insert_or_assign(run_id, std::move(invocation.context));
    while (m_admitted_context.size() > k_max_admitted_contexts)
      m_admitted_context.erase(m_admitted_context.begin());
  }
  return run_id;
}

Invocation Runtime::workflow_invocation(const std::string& name, const json& invoker,
                                       const json& request_context, bool may_select) const {
  const auto& def = workflow(name); // throws workflow_not_found
  const auto target = "workflow \"" + name + "\"";
  // The workflow's agent owns the invoker profiles and resolver (seed 002: they are per agent).
  const auto* agent_def = find_agent(def.kind == WorkflowKind::declarative && !def.agent.empty()
                                         ? def.agent : m_program.root_agent);
  auto invocation = resolve_invocation(agent_def ? agent_def->invoker : json(),
                                       agent_def ? agent_def->directory : m_context.project_root,
                                       invoker, request_context, may_select, target);
  check_access(def.access, invocation.invoker, target); // 403 / exit 1, naming the rule
  return invocation;
}

Runtime::Admitted Runtime::take_admitted(const std::string& run_id) {
  Admitted admitted;
  std::lock_guard lock(m_runs_mutex);
  if (const auto it = m_admitted_records.find(run_id); it != m_admitted_records.end()) {
    admitted.record = std::move(it->second);
    m_admitted_records.erase(it);
  }
  if (const auto it = m_admitted_context.find(run_id); it != m_admitted_context.end()) {
    admitted.context = std::move(it->second);
    m_admitted_context.erase(it);
  }
  return admitted;
}

json Runtime::execute_run(const std::string& run_id, const std::string& model_override,
                          const EventListener& listener, int timeout_ms) {
  settle_pending();
  // A run this process admitted starts from the record admission wrote (nothing else changes
  // it before its first attempt starts); any other (a take-over, a large payload, an evicted
  // admission) is read.
  auto admitted = take_admitted(run_id);
  const auto record = admitted.record ? std::move(admitted.record) : m_store.get_run(run_id);
  if (!record) throw errors::run_not_found(run_id);
  const auto& def = workflow(record->workflow);
  {
    std::lock_guard lock(m_runs_mutex);
    m_active_runs.insert(run_id);
    if (record->resumable) m_resumable_runs.insert(run_id);
  }
  struct Leave { // the run is no longer this process's to cancel, however execute_run ends
    Runtime& runtime;
    const std::string& id;
    ~Leave() {
      std::lock_guard lock(runtime.m_runs_mutex);
      runtime.m_active_runs.erase(id);
      runtime.m_resumable_runs.erase(id);
      runtime.m_run_approvals.erase(id); // approvals: the run's --approve/--deny lists
    }
  } leave{*this, run_id};
  auto running = m_running.enter("runs/" + run_id); // cancel_run and the deadline stop it
  std::atomic<bool> timed_out{false};
  std::jthread deadline; // a declarative run's --timeout (a script's is run_program's)
  if (def.kind == WorkflowKind::declarative && timeout_ms > 0)
    deadline = std::jthread([&running, &timed_out, timeout_ms](std::stop_token ended) {
      if (cancel::sleep_for(ended, std::chrono::milliseconds(timeout_ms))) return;
      timed_out = true;
      running.request_stop();
    });
  // Scripts act on each result they get, so theirs are committed one by one.
  EventLog events(m_store, "runs/" + run_id, listener,
                  commit_policy(def.kind != WorkflowKind::declarative));
  const AgentDef* owner = nullptr; // whose hooks see this run (docs/runtime.md "Hooks")
  for (const auto& a : m_program.agents)
    if (a.name == (def.agent.empty() ? m_program.root_agent : def.agent)) owner = &a;
  observe(events, owner);
  // run_end, appended by the store as it ends the run: at `seq` when that is known.
  auto show_end = [&](std::optional<std::int64_t> seq = std::nullopt) {
    try {
      show_stored_event(m_store, events.path(), seq, listener);
    } catch (const std::exception&) { // the store failed; the caller still gets the error
    }
  };
  const Envelope envelope{.run_id = run_id};
  const auto context_values = std::move(admitted.context);
  // Durable runs: a run taken over after its runtime died (attempts > 1) says so with Flue's
  // run_resume (run_start's fields without the payload) and goes on from its checkpoint. Its
  // ends carry its fence: if yet another runtime took it over meanwhile, they change nothing.
  // A run its first runtime admitted but never started (queued when it died) starts here, with
  // run_start: its stream has no run_start to resume from.
  const bool resumed = record->attempts > 1 && [&] {
    const auto stream = m_store.stream_info("runs/" + run_id);
    return stream && stream->last_seq >= 0;
  }();
  const std::optional<std::int64_t> fence =
      record->resumable ? std::optional<std::int64_t>(record->fence) : std::nullopt;
  const RunIdentity identity{.run_id = run_id, .invoker = record->invoker,
                             .workflow_access = def.access};
  // The run failed: its telemetry and queued events go first, then run_end (errored).
  auto end_failed = [&](const Error& error) {
    end_run_telemetry(m_context, events, owner, identity, nullptr, error_json(error));
    events.flush_noexcept();
    end_errored(run_id, error, fence);
    show_end();
    prune_workspaces();
  };
  try {
    json start = {{"owner", {{"kind", "workflow"}, {"workflowName", def.name}, {"instanceId", run_id}}},
                  {"instanceId", run_id}, {"workflowName", def.name},
                  {"startedAt", record->started_at}};
    if (resumed) {
      start["attempt"] = record->attempts;
    } else {
      start["payload"] = record->payload;
      if (!record->invoker.is_null()) start["invoker"] = record->invoker;
      if (!context_values.empty()) start["context"] = context_values; // invoker.resolve's values
    }
    events.emit(resumed ? "run_resume" : "run_start", start, envelope);
    json result;
    if (def.kind == WorkflowKind::declarative) {
      try {
        result = run_declarative(def, *record, model_override, context_values, running.token(),
                                 events);
      } catch (const Error& e) {
        if (timed_out && e.info().type == "cancelled")
          throw errors::workflow_timeout(def.name, timeout_ms);
        throw;
      }
    } else {
      if (!m_program_runner) throw errors::internal_error("programmable workflows are unavailable");
      result = m_program_runner(def, run_id, record->payload,
                                {.model_override = model_override, .timeout_ms = timeout_ms,
                                 .context = context_values, .cancel = running.token()},
                                events);
    }
    end_run_telemetry(m_context, events, owner, identity, result, nullptr);
    // The run's last events and its end (run_end after them): one commit. When it was ended
    // meanwhile (a cancellation from outside closed its stream) or taken over, nothing is
    // written and the caller hears so, as from an append to the closed stream.
    const store::RunEnd end{.run_id = run_id, .status = store::RunStatus::completed,
                            .result = result, .fence = fence};
    std::optional<std::int64_t> end_seq; // run_end's: after the batch end_run_after appended
    if (!events.flush_with([&](const std::vector<store::NewEvent>& batch) {
          const auto first = m_store.end_run_after(end, batch);
          if (first) end_seq = *first + static_cast<std::int64_t>(batch.size());
          return first;
        })) {
      if (fence) throw errors::run_taken_over(run_id);
      throw errors::stream_closed(events.path());
    }
    show_end(end_seq);
    prune_workspaces();
    return result;
  } catch (const Error& e) {
    // Durable runs: stopped for a graceful shutdown, or another runtime owns it now: the run
    // stays active, this process writes no end.
    if (e.info().type == "suspended" || e.info().type == "run_taken_over") {
      events.flush_noexcept();
      throw;
    }
    end_failed(e);
    throw;
  } catch (const std::exception& e) { // never leave the run active: it ends, as internal_error
    const auto error = errors::internal_error(e.what());
    end_failed(error);
    throw error;
  }
}

void Runtime::prune_workspaces() noexcept {
  try {
    // A run that made no workspace (no tool ran) changes nothing to prune: one stat of the
    // directory instead of a scan of its ~retainRuns entries. Its mtime moves when a workspace
    // is added or removed; within a second of the last change it is not trusted (coarse clock
    // ticks), and the age limit needs a scan now and then anyway. The skip is armed only by a
    // scan that left nothing for later: a workspace kept because its run was active goes once
    // that run ends, which moves no mtime; and a call that found another scan running leaves
    // the next call a real scan (the running one may have read the store before this end).
    const auto root = m_context.workspaces_root();
    struct stat st {};
    if (::stat(root.c_str(), &st) != 0) return; // no workspace yet: nothing to prune
    const long long mtime = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    std::unique_lock lock(m_prune_mutex, std::try_to_lock);
    if (!lock.owns_lock()) {
      m_prune_again.store(true);
      return;
    }
    const bool again = m_prune_again.exchange(false);
    const auto now = std::chrono::steady_clock::now();
    struct timespec wall {};
    ::clock_gettime(CLOCK_REALTIME, &wall);
    const long long wall_ns = wall.tv_sec * 1000000000LL + wall.tv_nsec;
    if (!again && mtime == m_pruned_mtime && wall_ns - mtime > 1000000000LL &&
        now - m_pruned_at < k_prune_rescan)
      return;
    m_pruned_mtime = -1; // unarmed while scanning: a throw leaves the next call a scan
    const auto result = runtime::prune_workspaces(root, m_store, m_context.workspaces);
    if (result.held == 0 && result.failures.empty()) {
      m_pruned_mtime = mtime; // as seen before the scan: a change during it triggers the next one
      m_pruned_at = now;
    }
  } catch (const std::exception&) { // retention is housekeeping: never fails a run
  }
}

void Runtime::end_errored(const std::string& run_id, const Error& error,
                          std::optional<std::int64_t> fence) {
  try {
    m_store.end_run({.run_id = run_id, .status = store::RunStatus::errored,
                     .error = error_json(error), .fence = fence});
  } catch (const std::exception&) {
    // The store refused (disk full, I/O error): keep the end and retry it on the next run, on
    // cancellation, or leave it to recover_abandoned_runs() when this process is gone.
    std::lock_guard lock(m_runs_mutex);
    if (m_pending_ends.size() < k_max_pending_ends) m_pending_ends[run_id] = error_json(error);
  }
}

void Runtime::settle_pending() noexcept {
  std::map<std::string, json> pending;
  {
    std::lock_guard lock(m_runs_mutex);
    if (m_pending_ends.empty()) return;
    pending.swap(m_pending_ends);
  }
  for (auto& [run_id, error] : pending) {
    try {
      m_store.end_run({.run_id = run_id, .status = store::RunStatus::errored, .error = error});
    } catch (const Error& e) {
      if (e.info().type == "run_not_found") continue;
      std::lock_guard lock(m_runs_mutex);
      m_pending_ends.emplace(run_id, std::move(error));
    } catch (const std::exception&) {
      std::lock_guard lock(m_runs_mutex);
      m_pending_ends.emplace(run_id, std::move(error));
    }
  }
}

std::vector<std::string> Runtime::cancel_active_runs(const std::string& details,
                                                     bool keep_resumable) noexcept {
  std::vector<std::string> ended;
  flush_deferred_events(); // a run's queued events go before the run_end written here
  try {
    settle_pending();
    std::set<std::string> active;
    {
      std::lock_guard lock(m_runs_mutex);
      active = m_active_runs;
      if (keep_resumable)
        for (const auto& id : m_resumable_runs) active.erase(id);
    }
    const auto cancelled = errors::run_cancelled(details);
    for (const auto& run_id : active) {
      try {
        if (m_store.end_run({.run_id = run_id, .status = store::RunStatus::errored,
                             .error = error_json(cancelled)}))
          ended.push_back(run_id);
      } catch (const std::exception&) { // left active: the next runtime ends it runtime_crashed
      }
    }
  } catch (const std::exception&) {
  }
  return ended;
}

std::size_t Runtime::active_run_count() const {
  std::lock_guard lock(m_runs_mutex);
  return m_active_runs.size();
}

bool Runtime::cancel_turn(const std::string& agent, const std::string& instance_id) {
  return m_running.cancel(agent_stream(agent, instance_id)) > 0;
}

bool Runtime::cancel_run(const std::string& run_id) {
  return m_running.cancel("runs/" + run_id) > 0;
}

json Runtime::run_declarative(const WorkflowDef& def, const store::RunRecord& run,
                              const std::string& model_override, const json& context_values,
                              std::stop_token cancel, EventLog& events) {
  const auto& run_id = run.run_id;
  const auto& invoker = run.invoker;
  const auto& agent_def = agent(def.agent.empty() ? m_program.root_agent : def.agent);
  const auto prompt = render_template(def.body, run.payload, def.name);
  // Durable runs: the last checkpoint of a run taken over (null: none yet, start afresh).
  const json checkpoint = run.attempts > 1 ? m_store.run_checkpoint(run_id) : json();
  const Envelope envelope{.run_id = run_id, .session = "default", .harness = "default",
                          .operation_id = ids::make_id("op")};
  return run_operation(events, envelope, "prompt", [&](json& done) {
    auto context = m_context;
    context.run_id = run_id;
    context.invoker = invoker;
    context.context_values = context_values;
    context.cancel = cancel;
    ModelClients models(context);
    // Made when a tool first needs it: most declarative runs call none (issue 17 §3).
    const auto workspace = invocation_workspace(
        m_context.workspaces_root() / safe_component(run_id), agent_def,
        invoker, def.access, /*lazy=*/true);
    TurnScope scope{context, models, events, workspace, envelope};
    json messages = json::array();
    TurnOptions options{.model_override = !model_override.empty() ? model_override : def.model,
                        .result_schema = def.result,
                        .max_steps = def.max_steps,
                        .headless = true};
    if (checkpoint.is_object()) {
      options = checkpoint_options(checkpoint);
      options.headless = true;
    }
    if (run.resumable) {
      const auto fence = run.fence;
      options.checkpoint = [this, &events, run_id, fence](const json& state) {
        // The checkpoint and the events of the steps it covers: one commit.
        if (!events.flush_with([&](const std::vector<store::NewEvent>& batch) {
              return m_store.checkpoint_run_after(run_id, fence, batch, state);
            }))
          throw errors::run_taken_over(run_id);
      };
      options.suspend = m_suspend.get_token();
    }
    const auto result = checkpoint.is_object()
                            ? resume_from_checkpoint(scope, agent_def, messages, checkpoint, options)
                            : run_turn(scope, agent_def, messages, prompt, options);
    done = {{"result", result.to_json()}, {"usage", usage_json(result.usage)}};
    return result.data.is_null() ? json(result.text) : result.data;
  });
}

std::vector<std::string> Runtime::take_over_abandoned_runs() {
  m_store.recover_abandoned_runs(); // runs that cannot resume end runtime_crashed, as before
  std::vector<std::string> taken;
  for (const auto& run : m_store.abandoned_runs()) {
    const auto* def = [&]() -> const WorkflowDef* {
      for (const auto& w : m_program.workflows)
        if (w.name == run.workflow) return &w;
      return nullptr;
    }();
    const int max_attempts = def ? def->max_attempts : k_default_max_attempts;
    const auto why = "Process " + std::to_string(run.owner_pid) + ", which ran attempt " +
                     std::to_string(run.attempts) + " of " + std::to_string(max_attempts) +
                     ", is no longer running.";
    if (!def || run.attempts >= max_attempts) {
      const auto error = errors::runtime_crashed(
          def ? why + " No attempts are left (the workflow's maxAttempts)."
              : why + " Its workflow \"" + run.workflow + "\" no longer exists.");
      m_store.end_run({.run_id = run.run_id, .status = store::RunStatus::errored,
                       .error = error_json(error), .fence = run.fence});
      continue;
    }
    if (m_store.take_over_run(run.run_id, run.fence)) taken.push_back(run.run_id);
  }
  return taken;
}

RunOutcome Runtime::run_workflow(const std::string& name, const json& payload,
                                 const std::string& model_override, const EventListener& listener,
                                 const json& invoker) {
  const auto run_id = admit_run(name, payload, invoker);
  return {run_id, execute_run(run_id, model_override, listener)};
}

void Runtime::continue_trace(const std::string& stream, const TraceContext& parent) {
  std::lock_guard lock(m_runs_mutex);
  if (m_trace_parents.size() >= 1024) m_trace_parents.erase(m_trace_parents.begin());
  m_trace_parents[stream] = parent;
}

std::optional<TraceContext> Runtime::take_trace_parent(const std::string& stream) {
  std::lock_guard lock(m_runs_mutex);
  const auto it = m_trace_parents.find(stream);
  if (it == m_trace_parents.end()) return std::nullopt;
  auto parent = it->second;
  m_trace_parents.erase(it);
  return parent;
}

void Runtime::observe(EventLog& events, const AgentDef* agent) {
  if (const auto parent = take_trace_parent(events.path())) events.continue_trace(*parent);
  if (m_context.telemetry) m_context.telemetry->attach(events, agent);
}

std::mutex& Runtime::instance_lock(const std::string& stream) {
  std::lock_guard lock(m_locks_mutex);
  auto& slot = m_instance_locks[stream];
  if (!slot) slot = std::make_unique<std::mutex>();
  return *slot;
}

std::shared_ptr<ModelClients> Runtime::instance_models(const std::string& stream) {
  std::lock_guard lock(m_locks_mutex);
  const auto it = std::find_if(m_instance_models.begin(), m_instance_models.end(),
                               [&](const auto& entry) { return entry.first == stream; });
  if (it != m_instance_models.end()) {
    m_instance_models.splice(m_instance_models.begin(), m_instance_models, it);
  } else {
    m_instance_models.emplace_front(stream, std::make_shared<ModelClients>(m_context));
    if (m_instance_models.size() > k_max_instance_models) m_instance_models.pop_back();
  }
  return m_instance_models.front().second; // shared: eviction never frees one in use
}

json Runtime::prompt_agent(const std::string& agent_name, const std::string& instance_id,
                           const std::string& session, const std::string& message,
                           const json& output_schema, const std::string& model_override,
                           const EventListener& listener, const json& invoker,
                           const json& context_values, const std::string& conversation_key,
                           const std::string& task_schedule,
                           const std::string& client_context) {
  const auto& agent_def = agent(agent_name);
  check_access(agent_def.access, invoker, "agent \"" + agent_name + "\"");
  const auto stream = agent_stream(agent_name, instance_id);
  std::lock_guard instance(instance_lock(stream));
  const auto turn = m_running.enter(stream); // under the lock: cancel_turn reaches this turn only
  m_store.create_stream(stream);
  const store::SessionKey key{.agent = agent_name, .instance_id = instance_id,
                              .name = session.empty() ? "default" : session};
  const auto saved = m_store.load_session(key);
  json messages = saved ? saved->messages : json::array();
  EventLog events(m_store, stream, listener, commit_policy());
  observe(events, &agent_def);
  const Envelope envelope{.instance_id = instance_id, .session = key.name, .harness = "default",
                          .operation_id = ids::make_id("op")};
  const bool has_values = context_values.is_object() && !context_values.empty();
  // The resolver's context values are recorded on the prompt's closing `operation` event.
  const json fields = has_values ? json{{"context", context_values}} : json::object();
  auto outcome = run_operation(events, envelope, "prompt", [&](json& done) {
    const auto models = instance_models(stream);
    const auto workspace = invocation_workspace(
        session_workspace(m_context.workspaces_root(), agent_name, instance_id, key.name,
                          saved.has_value()),
        agent_def, invoker);
    auto context = m_context; // per invocation: the invoker reaches its tools (HEARTH_INVOKER)
    context.invoker = invoker;
    if (has_values) context.context_values = context_values;
    context.conversation_key = conversation_key;
    context.cancel = turn.token();
    const bool task_mode = !task_schedule.empty();
    if (task_mode) // a scheduled fire: nobody can approve, so nothing parks (seed 003)
      context.wait_for_approval = [task_schedule](const json& request, std::stop_token) {
        return std::optional<InputAnswer>(InputAnswer{
            .decision = "deny",
            .reason = errors::schedule_task_mode(task_schedule, request.value("toolName", "")).info().message,
            .invoker = {{"id", task_schedule}, {"kind", "schedule"}, {"label", "schedule " + task_schedule}}});
      };
    TurnScope scope{context, *models, events, workspace, envelope};
    TurnOptions options{.model_override = model_override, .result_schema = output_schema,
                        .headless = task_mode, .park_for_input = !task_mode,
                        .client_context = client_context};
    if (saved && !saved->parked.is_null()) {
      events.flush(); // operation_start goes before the closed requests, as it happened
      abandon_parked_turn(stream, envelope, messages, saved->parked);
    }
    // Compaction: a checkpoint is committed to the session as soon as it is made (issue 16 §1).
    std::int64_t version = saved ? saved->version : 0;
    options.persist = [&](const json& history) {
      save_session_after(events, key, history, version, json());
    };
    try {
      const auto result = run_turn(scope, agent_def, messages, message, options);
      save_session_after(events, key, messages, version, result.parked, invoker);
      done = {{"result", result.to_json()}};
      if (!result.parked.is_null()) done["waiting"] = true;
      return result.to_json();
    } catch (const Error&) {
      // Keep what happened (the user message, tool results) so the conversation can go on.
      events.flush_noexcept();
      m_store.save_session(key, messages, version);
      throw;
    }
  }, fields);
  events.flush(); // `operation` and `idle`: the turn is over for every reader now
  return outcome;
}

// approvals ------------------------------------------------------------------------------------

namespace {
bool names(const std::vector<std::string>& list, const std::string& tool) {
  return std::find(list.begin(), list.end(), tool) != list.end();
}
} // namespace

void Runtime::set_run_approvals(const std::string& run_id, std::vector<std::string> approve,
                                std::vector<std::string> deny) {
  std::lock_guard lock(m_runs_mutex);
  m_run_approvals[run_id] = {std::move(approve), std::move(deny)};
}

void Runtime::wait_for_route_approvals(std::chrono::milliseconds max_wait) {
  m_route_approval_wait_ms = max_wait.count();
}

std::optional<InputAnswer> Runtime::decide_run_approval(const json& request,
                                                        std::stop_token cancel) {
  const auto run_id = request.value("runId", "");
  const auto tool = request.value("toolName", "");
  if (run_id.empty()) return std::nullopt; // an agent session's subagent: nobody to ask here
  std::optional<std::pair<std::vector<std::string>, std::vector<std::string>>> lists;
  {
    std::lock_guard lock(m_runs_mutex);
    if (const auto it = m_run_approvals.find(run_id); it != m_run_approvals.end()) lists = it->second;
  }
  const json cli = {{"id", "cli"}, {"kind", "user"}, {"label", "hearth run"}};
  if (lists) { // a named tool beats `all`; a deny beats an approve
    const auto& [approve, deny] = *lists;
    if (names(deny, tool)) return InputAnswer{.decision = "deny", .reason = "--deny " + tool, .invoker = cli};
    if (names(approve, tool)) return InputAnswer{.decision = "approve", .invoker = cli};
    if (names(deny, "all")) return InputAnswer{.decision = "deny", .reason = "--deny all", .invoker = cli};
    if (names(approve, "all")) return InputAnswer{.decision = "approve", .invoker = cli};
    return std::nullopt;
  }
  const auto wait_ms = m_route_approval_wait_ms.load();
  if (wait_ms <= 0) return std::nullopt;
  // Each waiting run holds an executor worker: bounded, so parked runs cannot starve sessions.
  if (m_approval_waits.fetch_add(1) >= k_max_approval_waits) {
    m_approval_waits.fetch_sub(1);
    return std::nullopt;
  }
  struct Leave {
    std::atomic<int>& waits;
    ~Leave() { waits.fetch_sub(1); }
  } leave{m_approval_waits};
  // The decision route writes the row; poll it (no thread of the route is held meanwhile).
  const auto id = request.value("approvalId", "");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cancel.stop_requested()) throw errors::turn_cancelled(); // cancel_run, the run's timeout
    const auto record = m_store.get_approval(id);
    if (!record) return std::nullopt;
    if (record->status != "pending") {
      const json& d = record->decision;
      return InputAnswer{.request_id = id,
                         .decision = record->status == "approved" ? "approve" : "deny",
                         .reason = d.is_object() ? d.value("reason", "") : "",
                         .invoker = d.is_object() ? d.value("invoker", json()) : json()};
    }
    cancel::sleep_for(cancel, std::chrono::milliseconds(100));
  }
  return std::nullopt;
}

store::ApprovalRecord Runtime::answer_input(const std::string& owner, const InputAnswer& answer) {
  auto record = m_store.get_approval(answer.request_id);
  if (!record || record->owner != owner) throw errors::approval_not_found(answer.request_id);
  if (record->status != "pending") throw errors::approval_already_decided(record->approval_id, record->status);
  EventLog events(m_store, owner);
  Envelope envelope;
  if (owner.rfind("runs/", 0) == 0) {
    envelope.run_id = owner.substr(5);
  } else {
    envelope.instance_id = owner.substr(owner.rfind('/') + 1);
    envelope.session = record->session;
  }
  if (!record_answer(events, envelope, *record, answer)) {
    const auto now = m_store.get_approval(answer.request_id);
    throw errors::approval_already_decided(record->approval_id, now ? now->status : "decided");
  }
  return *m_store.get_approval(answer.request_id);
}

void Runtime::abandon_parked_turn(const std::string& stream, const Envelope& envelope,
                                  json& messages, const json& parked) {
  EventLog events(m_store, stream);
  for (const auto& id : parked_request_ids(parked))
    close_request(events, envelope, id, "a new message arrived first");
  abandon_parked(messages, parked, "Nobody answered: a new message arrived before the answer. The "
                                   "call did not run.");
}

json Runtime::compact_session(const std::string& agent_name, const std::string& instance_id,
                              const std::string& session, bool clear,
                              const EventListener& listener, const json& invoker) {
  const auto& agent_def = agent(agent_name);
  check_access(agent_def.access, invoker, "agent \"" + agent_name + "\"");
  const auto stream = agent_stream(agent_name, instance_id);
  std::lock_guard instance(instance_lock(stream));
  const auto turn = m_running.enter(stream); // cancel_turn stops a running summary too
  const store::SessionKey key{.agent = agent_name, .instance_id = instance_id,
                              .name = session.empty() ? "default" : session};
  const auto saved = m_store.load_session(key);
  if (!saved) throw errors::session_not_found(agent_name + "/" + instance_id + "/" + key.name);
  json messages = saved->messages;
  EventLog events(m_store, stream, listener);
  observe(events, &agent_def);
  const Envelope envelope{.instance_id = instance_id, .session = key.name, .harness = "default"};
  bool changed = false;
  try {
    if (clear) {
      // A parked turn's calls would come back after the marker with no call in view: clearing
      // closes it first, as a new message does (its requests are denied / answered empty).
      if (!saved->parked.is_null()) abandon_parked_turn(stream, envelope, messages, saved->parked);
      messages.push_back(cleared_entry());
      m_store.save_session(key, messages, saved->version);
      events.emit("context_cleared", json::object(), envelope);
      changed = true;
    } else {
      const auto models = instance_models(stream);
      auto context = m_context;
      context.invoker = invoker;
      context.cancel = turn.token();
      const auto workspace = invocation_workspace(
          session_workspace(m_context.workspaces_root(), agent_name, instance_id, key.name, true),
          agent_def, invoker);
      TurnScope scope{context, *models, events, workspace, envelope};
      // The checkpoint is committed before compaction.completed is emitted (issue 16 §1).
      TurnOptions options;
      std::int64_t version = saved->version;
      options.persist = [&](const json& history) {
        version = m_store.save_session(key, history, version, saved->parked).version;
      };
      changed = compact_history(scope, agent_def, messages, options, !saved->parked.is_null());
    }
  } catch (const Error&) {
    events.emit("idle", json::object(), envelope);
    throw;
  }
  events.emit("idle", json::object(), envelope);
  return {{"ok", true}, {"status", clear ? "cleared" : changed ? "compacted" : "unchanged"},
          {"messages", messages.size()}};
}

json Runtime::resume_session(const std::string& agent_name, const std::string& instance_id,
                             const std::string& session, const EventListener& listener,
                             const json& invoker) {
  const auto& agent_def = agent(agent_name);
  const auto stream = agent_stream(agent_name, instance_id);
  std::lock_guard instance(instance_lock(stream));
  const auto turn = m_running.enter(stream); // cancel_turn reaches a resumed turn too
  const store::SessionKey key{.agent = agent_name, .instance_id = instance_id,
                              .name = session.empty() ? "default" : session};
  const auto saved = m_store.load_session(key);
  if (!saved || saved->parked.is_null()) return nullptr;
  for (const auto& id : parked_request_ids(saved->parked)) {
    const auto record = m_store.get_approval(id);
    if (record && record->status == "pending") return nullptr; // still waiting
  }
  json messages = saved->messages;
  const json parked = saved->parked;
  EventLog events(m_store, stream, listener, commit_policy());
  observe(events, &agent_def);
  const Envelope envelope{.instance_id = instance_id, .session = key.name, .harness = "default",
                          .operation_id = ids::make_id("op")};
  events.emit("turn_resumed", {{"turnId", parked.value("turnId", "")}}, envelope);
  auto outcome = run_operation(events, envelope, "prompt", [&](json& done) {
    const auto models = instance_models(stream);
    // The turn's own invoker and context values go on (tools, policy rules, the workspace
    // grant); who answered is on the decision.
    auto context = m_context;
    context.invoker = parked.value("invoker", invoker);
    if (const auto values = parked.value("context", json()); values.is_object())
      context.context_values = values;
    context.cancel = turn.token();
    const auto workspace = invocation_workspace(
        session_workspace(m_context.workspaces_root(), agent_name, instance_id, key.name, true),
        agent_def, context.invoker);
    TurnScope scope{context, *models, events, workspace, envelope};
    // A compaction inside the resumed turn commits its checkpoint at once, as in prompt_agent.
    auto options = parked_options(parked);
    std::int64_t version = saved->version;
    // The turn is still the parked one's until it ends: the checkpoint keeps `parked` (as
    // compact_session does), so a crash mid-turn leaves a session that can resume again.
    options.persist = [&](const json& history) {
      save_session_after(events, key, history, version, parked);
    };
    try {
      const auto result = resume_turn(scope, agent_def, messages, parked, options);
      save_session_after(events, key, messages, version, result.parked);
      if (!result.parked.is_null()) done["waiting"] = true;
      done["result"] = result.to_json();
      return result.to_json();
    } catch (const Error&) {
      events.flush_noexcept();
      m_store.save_session(key, messages, version);
      throw;
    }
  });
  events.flush(); // `operation` and `idle`: the turn is over for every reader now
  return outcome;
}

} // namespace hearth::runtime

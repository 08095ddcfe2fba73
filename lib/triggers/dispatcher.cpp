// Durable dispatch; see dispatcher.hpp.
#include "triggers/dispatcher.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"
#include "runtime/runtime.hpp"

#include <condition_variable>
#include <iostream>
#include <thread>

namespace hearth::triggers {

using nlohmann::json;

Dispatcher::Dispatcher(runtime::Runtime& runtime, Submit submit)
    : m_runtime(runtime), m_submit(std::move(submit)) {}

json Dispatcher::receipt(const store::DispatchRecord& record, bool replayed) {
  json out = record.receipt.is_object() ? record.receipt : json::object();
  out["dispatchId"] = record.dispatch_id;
  out["acceptedAt"] = record.accepted_at;
  if (replayed) out["replayed"] = true;
  return out;
}

std::string Dispatcher::message_of(const json& input) {
  return input.is_string() ? input.get<std::string>() : hearth::dump_json(input);
}

runtime::Invocation Dispatcher::invocation(const std::string& agent_name, const json& invoker) const {
  const auto& agent = m_runtime.agent(agent_name.empty() ? m_runtime.program().root_agent : agent_name);
  const auto target = "agent \"" + agent.name + "\"";
  auto resolved = runtime::resolve_invocation(agent.invoker, agent.directory, invoker, json(),
                                              /*may_select=*/false, target);
  runtime::check_access(agent.access, resolved.invoker, target);
  return resolved;
}

std::optional<store::DispatchRecord> Dispatcher::wait_finished(const std::string& dispatch_id,
                                                               std::chrono::milliseconds max_wait) const {
  // Each waiter holds a request thread: past k_max_waiters the caller gets its receipt at once
  // (202, as without ?wait) instead of pinning another one.
  struct Waiter {
    std::atomic<int>& count;
    bool admitted;
    explicit Waiter(std::atomic<int>& c) : count(c), admitted(++c <= k_max_waiters) {}
    ~Waiter() { --count; }
  } waiter(m_waiters);
  const auto deadline = waiter.admitted ? std::chrono::steady_clock::now() + max_wait
                                        : std::chrono::steady_clock::now();
  for (;;) {
    auto record = m_runtime.store().get_dispatch(dispatch_id);
    if (!record) return std::nullopt;
    if (record->status == "done" || record->status == "errored") return record;
    if (std::chrono::steady_clock::now() >= deadline || m_stopping.load()) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
}

void Dispatcher::stop() {
  m_stopping.store(true);
  stop_sweep();
}

json Dispatcher::dispatch(store::NewDispatch d) {
  if (m_stopping.load()) throw errors::dispatch_stopped();
  if (d.agent.empty()) d.agent = m_runtime.program().root_agent;
  if (d.agent.empty()) throw errors::dispatch_invalid("the project has no root agent; name one.");
  m_runtime.agent(d.agent); // agent_not_found with the available names
  if (d.instance_id.empty() || d.instance_id.size() > 512)
    throw errors::dispatch_invalid("the instance id must be 1-512 characters.");
  if (d.idempotency_key.size() > 512)
    throw errors::dispatch_invalid("the idempotency key must be at most 512 characters.");
  const auto admitted = m_runtime.store().admit_dispatch(d);
  if (!admitted.replayed)
    m_runtime.store().create_stream(runtime::Runtime::agent_stream(d.agent, d.instance_id));
  // A replay of an unfinished dispatch kicks too: the first admission's kick may have failed.
  if (!admitted.replayed || admitted.record.status == "queued" || admitted.record.status == "running")
    kick(d.agent, d.instance_id);
  return receipt(admitted.record, admitted.replayed);
}

Dispatcher::~Dispatcher() { stop_sweep(); }

void Dispatcher::start_sweep(std::chrono::milliseconds interval) {
  std::lock_guard lock(m_mutex);
  if (m_sweeper.joinable()) return;
  m_sweeper = std::jthread([this, interval](std::stop_token stop) {
    std::mutex mutex;
    std::condition_variable_any wake;
    for (;;) {
      {
        std::unique_lock held(mutex);
        wake.wait_for(held, stop, interval, [] { return false; });
        if (stop.stop_requested()) return;
      }
      try {
        resume();
      } catch (const std::exception& e) {
        std::cerr << "hearth: dispatch sweep: " << e.what() << std::endl;
      }
    }
  });
}

void Dispatcher::stop_sweep() {
  std::jthread sweeper;
  {
    std::lock_guard lock(m_mutex);
    sweeper = std::move(m_sweeper);
  }
  if (sweeper.joinable()) {
    sweeper.request_stop();
    sweeper.join();
  }
}

void Dispatcher::resume() {
  if (m_stopping.load()) return;
  for (const auto& r : m_runtime.store().unfinished_dispatches(10'000)) kick(r.agent, r.instance_id);
}

void Dispatcher::kick(const std::string& agent, const std::string& instance) {
  const auto key = agent + "\n" + instance;
  {
    std::lock_guard lock(m_mutex);
    auto& q = m_queues[key];
    if (q.active) {
      q.again = true;
      return;
    }
    q.active = true;
    q.again = false;
  }
  try {
    m_submit([this, agent, instance] { drain(agent, instance); });
  } catch (...) { // executor full or closed: the rows stay queued; the next kick or start resumes
    std::lock_guard lock(m_mutex);
    m_queues.erase(key);
  }
}

void Dispatcher::drain(const std::string& agent, const std::string& instance) {
  const auto key = agent + "\n" + instance;
  auto& store = m_runtime.store();
  for (;;) {
    if (m_stopping.load()) { // shutdown: the rest stays queued for the next start
      std::lock_guard lock(m_mutex);
      m_queues.erase(key);
      return;
    }
    std::optional<store::DispatchRecord> next;
    try {
      next = store.next_dispatch(agent, instance);
    } catch (const std::exception& e) {
      std::cerr << "hearth: dispatch queue " << agent << "/" << instance << ": " << e.what() << std::endl;
    }
    if (!next) {
      std::lock_guard lock(m_mutex);
      auto& q = m_queues[key];
      if (q.again) {
        q.again = false;
        continue;
      }
      m_queues.erase(key);
      return;
    }
    bool taken = false;
    try {
      taken = store.take_dispatch(next->dispatch_id);
    } catch (const std::exception& e) {
      std::cerr << "hearth: dispatch queue " << agent << "/" << instance << ": " << e.what() << std::endl;
    }
    if (!taken) {
      // Running in a live process (another generation or server) or the store fails: stop; the
      // sweep kicks this queue again later.
      std::lock_guard lock(m_mutex);
      m_queues.erase(key);
      return;
    }
    json outcome;
    std::string status = "done";
    try {
      outcome = {{"result", m_runtime.prompt_agent(agent, instance, "default", message_of(next->input),
                                                   json(), "", {}, next->invoker, next->context,
                                                   next->conversation_key)}};
    } catch (const Error& e) {
      // The turn's error is on the agent stream; the queue moves on (no poison loop).
      status = "errored";
      outcome = {{"error", {{"type", e.info().type}, {"message", e.info().message}}}};
    } catch (const std::exception& e) {
      status = "errored";
      outcome = {{"error", {{"type", "internal_error"}, {"message", e.what()}}}};
    }
    try {
      if (!store.set_dispatch_status(next->dispatch_id, status, outcome))
        std::cerr << "hearth: dispatch " << next->dispatch_id << " was taken over by another "
                  << "replica while it ran here (lease expired); its outcome here is dropped"
                  << std::endl;
    } catch (...) {
      std::lock_guard lock(m_mutex);
      m_queues.erase(key);
      return; // the store is failing: stop; the next start resumes the queue
    }
  }
}

} // namespace hearth::triggers

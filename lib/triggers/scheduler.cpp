// The scheduler; see scheduler.hpp.
#include "triggers/scheduler.hpp"

#include "core/errors.hpp"
#include "core/ids.hpp"
#include "runtime/access.hpp"
#include "runtime/runtime.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>

namespace hearth::triggers {
namespace {

using nlohmann::json;

std::int64_t real_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const std::int64_t k_process_start_ms = real_now_ms();

// The cadence re-reads the clock at least this often (real time), so a clock change or a
// scaled clock never leaves it sleeping past a fire.
constexpr auto k_max_sleep = std::chrono::milliseconds(1000);
// How often a serving scheduler settles fires other (dead) processes left: their leases
// (PostgreSQL, HEARTH_LEASE_MS) or pids (SQLite) say when.
constexpr auto k_sweep_every = std::chrono::seconds(5);

json invoker_of(const ScheduleDef& s) {
  return {{"id", s.name}, {"kind", "schedule"}, {"label", "schedule " + s.name}};
}

void log_line(const std::string& line) { std::cerr << "hearth: " + line + "\n" << std::flush; }

} // namespace

Clock Clock::from_env() {
  double scale = 1.0;
  std::int64_t epoch = k_process_start_ms;
  if (const char* s = std::getenv("HEARTH_CLOCK_SCALE")) {
    char* end = nullptr;
    const double v = std::strtod(s, &end);
    if (end && *end == '\0' && v >= 1.0 && v <= 100'000.0) scale = v;
  }
  if (const char* e = std::getenv("HEARTH_CLOCK_EPOCH")) {
    char* end = nullptr;
    const long long v = std::strtoll(e, &end, 10);
    // Clamped to 2100-01-01: larger values overflowed `real - epoch` in now_ms().
    if (end && *end == '\0' && v > 0 && v <= 4'102'444'800'000LL) epoch = v;
  }
  if (scale != 1.0)
    std::fprintf(stderr, "hearth: warning: HEARTH_CLOCK_SCALE=%g: the schedules' clock runs %gx "
                         "faster than real time (tests only)\n", scale, scale);
  return Clock(scale, epoch);
}

std::int64_t Clock::now_ms() const {
  const auto real = real_now_ms();
  if (m_scale == 1.0) return real;
  return m_epoch_ms + static_cast<std::int64_t>(static_cast<double>(real - m_epoch_ms) * m_scale);
}

std::chrono::milliseconds Clock::until(std::int64_t at_ms) const {
  const auto delta = at_ms - now_ms();
  if (delta <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(delta) / m_scale) + 1);
}

std::vector<ScheduleDef> load_schedules(const json& schedules) {
  std::vector<ScheduleDef> out;
  if (!schedules.is_array()) return out;
  for (const auto& s : schedules) {
    if (!s.is_object()) continue;
    ScheduleDef def{.name = s.value("name", ""),
                    .path = s.value("path", ""),
                    .cron = s.value("cron", ""),
                    .agent = s.value("agent", ""),
                    .prompt = s.value("prompt", ""),
                    .run = s.contains("run") && s["run"].is_string() ? s["run"].get<std::string>() : "",
                    .workflow = s.contains("workflow") && s["workflow"].is_string()
                                    ? s["workflow"].get<std::string>()
                                    : "",
                    .catch_up = s.value("catchUp", false),
                    .overlap = s.value("overlap", std::string("skip"))};
    const auto spec = cron::parse(def.cron);
    if (!spec || def.name.empty() || (!def.run.empty() && def.workflow.empty())) continue;
    def.spec = *spec;
    out.push_back(std::move(def));
  }
  return out;
}

Scheduler::Scheduler(runtime::Runtime& runtime, Submit submit, Clock clock,
                     std::vector<ScheduleDef> schedules)
    : m_runtime(runtime), m_submit(std::move(submit)), m_clock(clock),
      m_schedules(std::move(schedules)) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::start() {
  if (m_schedules.empty() || m_thread.joinable()) return;
  m_thread = std::thread([this] { loop(); });
}

void Scheduler::stop() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_wake.notify_all();
  if (m_thread.joinable()) m_thread.join();
}

const ScheduleDef& Scheduler::find(const std::string& name) const {
  for (const auto& s : m_schedules)
    if (s.name == name) return s;
  std::vector<std::string> names;
  for (const auto& s : m_schedules) names.push_back(s.name);
  throw errors::schedule_not_found(name, names);
}

std::optional<std::int64_t> Scheduler::next_fire(const std::string& name) const {
  const auto& s = find(name);
  const auto next = cron::next_after(s.spec, m_clock.now_ms() / 1000);
  if (!next) return std::nullopt;
  return *next * 1000;
}

Scheduler::Fire Scheduler::make_fire(const ScheduleDef& s, std::int64_t scheduled_ms,
                                     const std::string& trigger) const {
  return Fire{.fire_id = ids::make_id("fire"),
              .schedule = s.name,
              .scheduled_ms = scheduled_ms,
              .trigger = trigger,
              .session_id = s.run.empty() ? ids::make_id("sched") : std::string()};
}

void Scheduler::fire(const ScheduleDef& s, std::int64_t scheduled_ms, const std::string& trigger) {
  auto f = make_fire(s, scheduled_ms, trigger);
  const auto when = cron::iso(scheduled_ms / 1000);
  auto& store = m_runtime.store();
  std::unique_lock lock(m_mutex); // one decision per schedule at a time (run_tracked takes it too)
  auto& state = m_state[s.name];
  // Busy here, or in another replica on the same store (its fire row is running and alive).
  const bool busy = state.running || store.fire_running(s.name);
  if (busy && s.overlap != "queue") {
    if (store.claim_fire({.fire_id = f.fire_id, .schedule = s.name, .scheduled_ms = scheduled_ms,
                          .trigger = trigger, .session_id = "", .status = "skipped"}))
      log_line("schedule " + s.name + " skipped " + when + ": the previous fire still runs");
    else log_line("schedule " + s.name + " already fired for " + when);
    return;
  }
  if (!store.claim_fire({.fire_id = f.fire_id, .schedule = s.name, .scheduled_ms = scheduled_ms,
                         .trigger = trigger, .session_id = f.session_id,
                         .status = busy ? "queued" : "running"})) {
    log_line("schedule " + s.name + " already fired for " + when);
    return;
  }
  if (busy) { // durable: the queue is the store's `queued` rows (take_queued_fire)
    log_line("schedule " + s.name + " queued " + when + " behind the running fire");
    return;
  }
  state.running = true;
  lock.unlock();
  try {
    m_submit([this, &s, f] { run_tracked(s, f); });
  } catch (const std::exception& e) {
    store.set_fire_status(f.fire_id, "errored");
    std::lock_guard relock(m_mutex);
    m_state[s.name].running = false;
    log_line("schedule " + s.name + " could not start: " + e.what());
  }
}

json Scheduler::execute(const ScheduleDef& s, Fire& f) {
  auto& store = m_runtime.store();
  const auto when = cron::iso(f.scheduled_ms / 1000);
  json out = {{"scheduleId", s.name}, {"sessionIds", json::array()}};
  try {
    const auto invoker = invoker_of(s);
    if (!s.run.empty()) {
      // The `run` form: a script over the ctx protocol, as a run of its own workflow; admission
      // resolves the invoker through the root agent's profiles and checks access (seed 002).
      const json payload = {{"schedule", s.name}, {"scheduledAt", when}, {"trigger", f.trigger},
                            {"fireId", f.fire_id}};
      f.session_id = m_runtime.admit_run(s.workflow, payload, invoker);
      out["runId"] = f.session_id;
      log_line("schedule " + s.name + " fired " + when + " (" + f.trigger + ") as run " + f.session_id);
      out["result"] = m_runtime.execute_run(f.session_id, "", {});
    } else {
      out["sessionIds"].push_back(f.session_id);
      log_line("schedule " + s.name + " fired " + when + " (" + f.trigger + ") as session " +
               f.session_id);
      const auto agent = s.agent.empty() ? m_runtime.program().root_agent : s.agent;
      // Access rules at admission, as for HTTP callers: profiles, invoker.resolve, `access`.
      const auto& def = m_runtime.agent(agent);
      const auto target = "agent \"" + agent + "\"";
      const auto invocation = runtime::resolve_invocation(def.invoker, def.directory, invoker,
                                                          json(), false, target);
      runtime::check_access(def.access, invocation.invoker, target);
      // Task mode (seed 003): a markdown schedule cannot park; approvals are denied at once.
      out["result"] = m_runtime.prompt_agent(agent, f.session_id, "default", s.prompt, json(), "",
                                             {}, invocation.invoker, invocation.context, "",
                                             s.name);
    }
    store.set_fire_status(f.fire_id, "done");
    out["status"] = "done";
  } catch (const std::exception& e) {
    try {
      store.set_fire_status(f.fire_id, "errored");
    } catch (...) {
    }
    out["status"] = "errored";
    if (const auto* err = dynamic_cast<const Error*>(&e))
      out["error"] = {{"type", err->info().type}, {"message", err->info().message}};
    else out["error"] = {{"type", "internal_error"}, {"message", e.what()}};
    log_line("schedule " + s.name + " fire " + f.fire_id + " failed: " + e.what());
  }
  return out;
}

void Scheduler::run_tracked(const ScheduleDef& s, Fire f) {
  for (;;) {
    execute(s, f);
    std::optional<store::FireRecord> next;
    {
      // Under the lock: a fire() deciding to queue meanwhile sees `running` and its row is
      // taken here, or sees it cleared and runs itself.
      std::lock_guard lock(m_mutex);
      try {
        if (!m_stop) next = m_runtime.store().take_queued_fire(s.name);
      } catch (const std::exception& e) {
        log_line("schedule " + s.name + ": " + e.what());
      }
      if (!next) {
        m_state[s.name].running = false;
        return;
      }
    }
    f = Fire{.fire_id = next->fire_id, .schedule = s.name, .scheduled_ms = next->scheduled_ms,
             .trigger = next->trigger,
             .session_id = s.run.empty() ? (next->session_id.empty() ? ids::make_id("sched")
                                                                     : next->session_id)
                                         : std::string()};
  }
}

Scheduler::Fire Scheduler::claim_manual(const ScheduleDef& s) {
  auto f = make_fire(s, m_clock.now_ms(), "manual");
  // Its own row (unique by fire id): a manual fire never takes, or is refused by, a cron time.
  if (!m_runtime.store().claim_fire({.fire_id = f.fire_id, .schedule = s.name,
                                     .scheduled_ms = f.scheduled_ms, .trigger = "manual",
                                     .session_id = f.session_id, .status = "running"}))
    throw errors::dispatch_invalid("schedule \"" + s.name + "\": fire " + f.fire_id +
                                   " was already recorded.");
  return f;
}

void Scheduler::submit_or_fail(const Fire& f, std::function<void()> task) {
  try {
    m_submit(std::move(task));
  } catch (...) { // executor full or closed: the claimed row must not stay `running`
    m_runtime.store().set_fire_status(f.fire_id, "errored");
    throw;
  }
}

json Scheduler::fire_now(const std::string& name) {
  const auto& s = find(name);
  auto f = claim_manual(s);
  if (!s.run.empty()) {
    // The run id is the answer's: admit the run here, execute it in the background.
    json out = {{"scheduleId", s.name}, {"sessionIds", json::array()}};
    try {
      f.session_id = m_runtime.admit_run(s.workflow,
                                         {{"schedule", s.name},
                                          {"scheduledAt", cron::iso(f.scheduled_ms / 1000)},
                                          {"trigger", "manual"}, {"fireId", f.fire_id}},
                                         invoker_of(s));
    } catch (...) {
      m_runtime.store().set_fire_status(f.fire_id, "errored");
      throw;
    }
    out["runId"] = f.session_id;
    log_line("schedule " + s.name + " fired now (manual) as run " + f.session_id);
    submit_or_fail(f, [this, &s, f] {
      try {
        m_runtime.execute_run(f.session_id, "", {});
        m_runtime.store().set_fire_status(f.fire_id, "done");
      } catch (const std::exception& e) {
        m_runtime.store().set_fire_status(f.fire_id, "errored");
        log_line("schedule " + s.name + " run " + f.session_id + " failed: " + e.what());
      }
    });
    return out;
  }
  submit_or_fail(f, [this, &s, f]() mutable { execute(s, f); });
  return {{"scheduleId", s.name}, {"sessionIds", json::array({f.session_id})}};
}

json Scheduler::run_now(const std::string& name) {
  const auto& s = find(name);
  auto f = claim_manual(s);
  return execute(s, f);
}

void Scheduler::sweep_fires() {
  auto& store = m_runtime.store();
  try { // fires a dead process left running: recorded as interrupted, never run twice
    for (const auto& f : store.recover_fires())
      log_line("schedule " + f.schedule + " fire " + f.fire_id + " (" + f.trigger + " " +
               cron::iso(f.scheduled_ms / 1000) + ") was interrupted: its process died");
  } catch (const std::exception& e) {
    log_line("schedules: could not recover fires: " + std::string(e.what()));
  }
  for (const auto& s : m_schedules) {
    try {
      // Queued fires (overlap: queue) a dead process left: run them, oldest first.
      std::optional<store::FireRecord> queued;
      {
        std::lock_guard lock(m_mutex);
        if (m_stop) return;
        if (!m_state[s.name].running && !store.fire_running(s.name)) {
          queued = store.take_queued_fire(s.name);
          if (queued) m_state[s.name].running = true;
        }
      }
      if (!queued) continue;
      Fire f{.fire_id = queued->fire_id, .schedule = s.name, .scheduled_ms = queued->scheduled_ms,
             .trigger = queued->trigger,
             .session_id = s.run.empty() ? (queued->session_id.empty() ? ids::make_id("sched")
                                                                       : queued->session_id)
                                         : std::string()};
      try {
        m_submit([this, &s, f] { run_tracked(s, f); });
      } catch (const std::exception& e) {
        store.set_fire_status(f.fire_id, "errored");
        std::lock_guard lock(m_mutex);
        m_state[s.name].running = false;
        log_line("schedule " + s.name + " could not start: " + e.what());
      }
    } catch (const std::exception& e) {
      log_line("schedule " + s.name + ": " + e.what());
    }
  }
}

void Scheduler::loop() {
  auto& store = m_runtime.store();
  sweep_fires();
  auto next_sweep = std::chrono::steady_clock::now() + k_sweep_every;
  std::map<std::string, std::int64_t> next; // schedule -> next cron time (ms)
  const auto now_s = m_clock.now_ms() / 1000;
  for (const auto& s : m_schedules) {
    try {
      if (s.catch_up) {
        // One missed fire: the latest cron time after the last recorded one (a new schedule
        // has nothing to catch up).
        if (const auto last = store.latest_fire(s.name))
          if (const auto due = cron::last_at_or_before(s.spec, now_s, *last / 1000))
            fire(s, *due * 1000, "catch-up");
      }
    } catch (const std::exception& e) {
      log_line("schedule " + s.name + ": " + e.what());
    }
    if (const auto t = cron::next_after(s.spec, now_s)) next[s.name] = *t * 1000;
  }
  std::unique_lock lock(m_mutex);
  while (!m_stop) {
    std::int64_t soonest = std::numeric_limits<std::int64_t>::max();
    for (const auto& [_, t] : next) soonest = std::min(soonest, t);
    if (soonest == std::numeric_limits<std::int64_t>::max()) return; // nothing ever fires again
    if (std::chrono::steady_clock::now() >= next_sweep) {
      lock.unlock();
      sweep_fires();
      next_sweep = std::chrono::steady_clock::now() + k_sweep_every;
      lock.lock();
      continue;
    }
    const auto wait = std::min<std::chrono::milliseconds>(m_clock.until(soonest), k_max_sleep);
    if (wait.count() > 0) {
      m_wake.wait_for(lock, wait);
      continue;
    }
    lock.unlock();
    const auto now_ms = m_clock.now_ms();
    for (const auto& s : m_schedules) {
      auto it = next.find(s.name);
      if (it == next.end() || it->second > now_ms) continue;
      try {
        fire(s, it->second, "cron");
      } catch (const std::exception& e) {
        log_line("schedule " + s.name + ": " + e.what());
      }
      // Cron times passed meanwhile (a suspended process) are skipped, not fired in a burst.
      const auto following = cron::next_after(s.spec, std::max(it->second / 1000, now_ms / 1000 - 1));
      if (following) it->second = *following * 1000;
      else next.erase(it);
    }
    lock.lock();
  }
}

} // namespace hearth::triggers

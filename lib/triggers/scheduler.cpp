// The scheduler; see scheduler.hpp.
#include "triggers/scheduler.hpp"

#include "core/errors.hpp"
#include "core/ids.hpp"
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
                    .catch_up = s.value("catchUp", false),
                    .overlap = s.value("overlap", std::string("skip"))};
    const auto spec = cron::parse(def.cron);
    if (!spec || def.name.empty()) continue;
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

void Scheduler::fire(const ScheduleDef& s, std::int64_t scheduled_ms, const std::string& trigger) {
  Fire f{.schedule = s.name, .scheduled_ms = scheduled_ms, .session_id = ids::make_id("sched")};
  const auto when = cron::iso(scheduled_ms / 1000);
  std::unique_lock lock(m_mutex);
  auto& state = m_state[s.name];
  const bool busy = state.running;
  auto& store = m_runtime.store();
  if (busy && s.overlap != "queue") {
    store.claim_fire({.schedule = s.name, .scheduled_ms = scheduled_ms, .trigger = trigger,
                      .session_id = "", .status = "skipped"});
    log_line("schedule " + s.name + " skipped " + when + ": the previous fire still runs");
    return;
  }
  if (!store.claim_fire({.schedule = s.name, .scheduled_ms = scheduled_ms, .trigger = trigger,
                         .session_id = f.session_id, .status = busy ? "queued" : "running"})) {
    log_line("schedule " + s.name + " already fired for " + when);
    return;
  }
  if (busy) {
    state.queued.push_back(std::move(f));
    log_line("schedule " + s.name + " queued " + when + " behind the running fire");
    return;
  }
  state.running = true;
  lock.unlock();
  log_line("schedule " + s.name + " fired " + when + " (" + trigger + ") as session " + f.session_id);
  try {
    m_submit([this, &s, f] { run(s, f); });
  } catch (const std::exception& e) {
    store.set_fire_status(s.name, scheduled_ms, "errored");
    std::lock_guard relock(m_mutex);
    m_state[s.name].running = false;
    log_line("schedule " + s.name + " could not start: " + e.what());
  }
}

json Scheduler::run(const ScheduleDef& s, const Fire& f) {
  auto& store = m_runtime.store();
  json out = {{"scheduleId", s.name}, {"sessionIds", json::array({f.session_id})}};
  try {
    store.set_fire_status(s.name, f.scheduled_ms, "running");
    const auto agent = s.agent.empty() ? m_runtime.program().root_agent : s.agent;
    out["result"] = m_runtime.prompt_agent(agent, f.session_id, "default", s.prompt, json(), "", {},
                                           invoker_of(s));
    store.set_fire_status(s.name, f.scheduled_ms, "done");
    out["status"] = "done";
  } catch (const std::exception& e) {
    try {
      store.set_fire_status(s.name, f.scheduled_ms, "errored");
    } catch (...) {
    }
    out["status"] = "errored";
    if (const auto* err = dynamic_cast<const Error*>(&e))
      out["error"] = {{"type", err->info().type}, {"message", err->info().message}};
    else out["error"] = {{"type", "internal_error"}, {"message", e.what()}};
    log_line("schedule " + s.name + " session " + f.session_id + " failed: " + e.what());
  }
  std::optional<Fire> next;
  {
    std::lock_guard lock(m_mutex);
    auto& state = m_state[s.name];
    if (!state.queued.empty()) {
      next = std::move(state.queued.front());
      state.queued.pop_front();
    } else {
      state.running = false;
    }
  }
  if (next) {
    try {
      m_submit([this, &s, n = *next] { run(s, n); });
    } catch (...) {
      std::lock_guard lock(m_mutex);
      m_state[s.name].running = false;
    }
  }
  return out;
}

json Scheduler::fire_now(const std::string& name) {
  const auto& s = find(name);
  Fire f{.schedule = s.name, .scheduled_ms = m_clock.now_ms(), .session_id = ids::make_id("sched")};
  // Manual fires never collide with cron times' rows in practice (ms resolution), and never
  // count as the latest cron fire (latest_fire ignores them).
  m_runtime.store().claim_fire({.schedule = s.name, .scheduled_ms = f.scheduled_ms,
                                .trigger = "manual", .session_id = f.session_id,
                                .status = "running"});
  log_line("schedule " + s.name + " fired now (manual) as session " + f.session_id);
  m_submit([this, &s, f] {
    try {
      m_runtime.store().set_fire_status(s.name, f.scheduled_ms, "running");
      m_runtime.prompt_agent(s.agent.empty() ? m_runtime.program().root_agent : s.agent,
                             f.session_id, "default", s.prompt, json(), "", {}, invoker_of(s));
      m_runtime.store().set_fire_status(s.name, f.scheduled_ms, "done");
    } catch (const std::exception& e) {
      m_runtime.store().set_fire_status(s.name, f.scheduled_ms, "errored");
      log_line("schedule " + s.name + " session " + f.session_id + " failed: " + e.what());
    }
  });
  return {{"scheduleId", s.name}, {"sessionIds", json::array({f.session_id})}};
}

json Scheduler::run_now(const std::string& name) {
  const auto& s = find(name);
  Fire f{.schedule = s.name, .scheduled_ms = m_clock.now_ms(), .session_id = ids::make_id("sched")};
  m_runtime.store().claim_fire({.schedule = s.name, .scheduled_ms = f.scheduled_ms,
                                .trigger = "manual", .session_id = f.session_id,
                                .status = "running"});
  {
    std::lock_guard lock(m_mutex);
    m_state[s.name].running = true;
  }
  return run(s, f);
}

void Scheduler::loop() {
  auto& store = m_runtime.store();
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

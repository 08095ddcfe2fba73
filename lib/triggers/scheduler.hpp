// The scheduler (seed 003, Eve "Schedules"; issue 14 §1): fires each schedule at its UTC cron
// times as a fresh agent session with invoker {kind: "schedule", id: <name>}. Every fire is a
// store row written BEFORE it runs, unique per (schedule, cron time), so a restart or a second
// process never runs one cron time twice. `hearth start` runs the cadence; `hearth dev` only
// fires on demand (POST /eve/v1/dev/schedules/:name), as `eve dev` does.
#pragma once

#include "core/cron.hpp"
#include "triggers/dispatcher.hpp"

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hearth::runtime {
class Runtime;
}

namespace hearth::triggers {

/// Wall time in ms since the epoch (UTC). For tests, HEARTH_CLOCK_SCALE=<factor> (e.g. 60: a
/// minute per second) runs it faster from HEARTH_CLOCK_EPOCH=<ms> (default: when the process
/// started): now = epoch + (real - epoch) * scale. Two processes given the same epoch and scale
/// agree on the time, so a restart continues the same timeline.
class Clock {
public:
  Clock() = default;
  Clock(double scale, std::int64_t epoch_ms) : m_scale(scale), m_epoch_ms(epoch_ms) {}
  /// From HEARTH_CLOCK_SCALE / HEARTH_CLOCK_EPOCH; the real clock when unset or invalid.
  static Clock from_env();
  std::int64_t now_ms() const;
  /// The real wait until the clock reads `at_ms` (0 when past).
  std::chrono::milliseconds until(std::int64_t at_ms) const;
  double scale() const { return m_scale; }

private:
  double m_scale = 1.0;
  std::int64_t m_epoch_ms = 0;
};

/// A schedule as the manifest has it (docs/manifest.md `schedules`): exactly one of `prompt`
/// (the markdown body) or `run` (a script run over the ctx protocol, seed 003's `run` form).
struct ScheduleDef {
  std::string name{};
  std::string path{};
  std::string cron{};
  std::string agent{};          // the root agent
  std::string prompt{};         // the markdown body ("" for a `run` schedule)
  std::string run{};            // project-relative script path ("" for a markdown schedule)
  std::string workflow{};       // `run`: the script workflow its fires run as (`schedule:<name>`,
                                // added to the program by runtime::load_program)
  bool catch_up = false;        // run one fire missed while down, on start
  std::string overlap = "skip"; // skip | queue: a fire while the previous still runs
  cron::Spec spec{};
};

/// The schedules of a compiled manifest's `schedules` array (invalid cron is skipped: discovery
/// already reported it).
std::vector<ScheduleDef> load_schedules(const nlohmann::json& schedules);

/// Thread-safe.
class Scheduler {
public:
  Scheduler(runtime::Runtime& runtime, Submit submit, Clock clock, std::vector<ScheduleDef> schedules);
  ~Scheduler(); // stop()

  /// Start-up recovery, then the cadence thread: fires left `running` by a dead process are
  /// marked `interrupted` (logged; not run again), `queued` fires left by a dead process run
  /// (overlap queue), a catch-up fire per `catchUp` schedule that missed one, then every cron
  /// time. Logs each fire on stderr.
  void start();
  /// Stops the cadence (fires already running finish on the executor; queued fires stay queued
  /// in the store for the next start).
  void stop();

  /// Fires `name` now (trigger "manual", a fire row of its own: never a cron time's) in the
  /// background. Returns Eve's answer {scheduleId, sessionIds} (a `run` schedule: sessionIds []
  /// and runId). Throws schedule_not_found.
  nlohmann::json fire_now(const std::string& name);

  /// Runs one manual fire of `name` to the end on this thread (`hearth schedules run`). Returns
  /// {scheduleId, sessionIds, runId?, status, result?, error?}. Throws schedule_not_found.
  nlohmann::json run_now(const std::string& name);

  /// The next cron time of `name` after now (ms), or nullopt.
  std::optional<std::int64_t> next_fire(const std::string& name) const;

  const std::vector<ScheduleDef>& schedules() const { return m_schedules; }

private:
  struct Fire {
    std::string fire_id{};
    std::string schedule{};
    std::int64_t scheduled_ms = 0;
    std::string trigger{};
    std::string session_id{}; // markdown: the session; run: the run id
  };
  const ScheduleDef& find(const std::string& name) const;
  /// A fresh fire of `s` (ids made here; a `run` schedule's run is admitted by execute()).
  Fire make_fire(const ScheduleDef& s, std::int64_t scheduled_ms, const std::string& trigger) const;
  /// Records the cron/catch-up fire (unless that cron time fired already) and runs or queues it.
  void fire(const ScheduleDef& s, std::int64_t scheduled_ms, const std::string& trigger);
  /// Runs one recorded fire to its end (status done | errored). Never throws.
  nlohmann::json execute(const ScheduleDef& s, Fire& fire);
  /// Runs a cron/catch-up fire, then the schedule's queued fires (from the store) one by one.
  void run_tracked(const ScheduleDef& s, Fire fire);
  /// Claims a manual fire. Throws when the store refuses it.
  Fire claim_manual(const ScheduleDef& s);
  /// Submits `task` for claimed fire `f`; when the executor refuses, marks `f` errored, rethrows.
  void submit_or_fail(const Fire& f, std::function<void()> task);
  /// Fires a dead process left: `running` ones become `interrupted` (never run twice) and the
  /// oldest `queued` one of each idle schedule (overlap: queue) starts here. Run at start and
  /// every k_sweep_every after, so the fires of a replica that died while this one serves are
  /// settled without a restart (its leases expire: issue 15, docs/triggers.md). Never throws.
  void sweep_fires();
  void loop();

  runtime::Runtime& m_runtime;
  Submit m_submit;
  Clock m_clock;
  std::vector<ScheduleDef> m_schedules;
  mutable std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stop = false;
  struct State {
    bool running = false; // a cron/catch-up fire of this schedule runs (overlap policy)
  };
  std::map<std::string, State> m_state;
  std::thread m_thread;
};

} // namespace hearth::triggers

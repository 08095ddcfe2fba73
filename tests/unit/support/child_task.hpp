// Child tasks: test code that must run in another process ("a replica that records a run and
// dies"). A forked child of this multithreaded test binary may call only async-signal-safe
// functions until it execs: opening a store there (malloc, SQLite and libpq locks, getaddrinfo)
// can deadlock on a lock another thread held at fork time, and the test then waits forever.
// So a child task is this binary executed afresh (`/proc/self/exe --hearth-child-task NAME
// ARGS...`), which runs only the named task and exits with its status.
//
//   HEARTH_CHILD_TASK(take_dispatch) { ...args[0]...; return 0; }   // at namespace scope
//   CHECK(child_task::run("take_dispatch", {url, id}) == 0);
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace child_task {

/// A task body: `args` are the strings given to run(); the result is the exit status (0-255).
using Body = int (*)(const std::vector<std::string>& args);

/// Registers `body` under `name` (at static initialisation); returns true.
bool add(const char* name, Body body);

/// Runs task `name` in a new process with `args`, the current environment plus `env`
/// (NAME=value entries), and waits at most `timeout`. Returns the exit status; a task killed by
/// a signal returns 128 + the signal; a task still running at the deadline is killed and -1 is
/// returned (the caller's CHECK then fails instead of the test hanging).
int run(const std::string& name, const std::vector<std::string>& args,
        const std::vector<std::pair<std::string, std::string>>& env = {},
        std::chrono::seconds timeout = std::chrono::seconds(60));

/// Called by main() first: when argv asks for a child task, runs it and exits; else returns.
void dispatch(int argc, char** argv);

} // namespace child_task

#define HEARTH_CHILD_TASK_CAT2(a, b) a##b
#define HEARTH_CHILD_TASK_CAT(a, b) HEARTH_CHILD_TASK_CAT2(a, b)
#define HEARTH_CHILD_TASK(name)                                                                 \
  static int hearth_child_task_##name(const std::vector<std::string>& args);                    \
  [[maybe_unused]] static const bool HEARTH_CHILD_TASK_CAT(hearth_child_task_added_, name) =    \
      child_task::add(#name, &hearth_child_task_##name);                                         \
  static int hearth_child_task_##name([[maybe_unused]] const std::vector<std::string>& args)

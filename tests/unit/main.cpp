// The doctest runner for hearth_unit, with a watchdog: a test case that runs longer than
// HEARTH_UNIT_CASE_TIMEOUT seconds (default 150; the slowest case takes ~15 s under ASan) is
// named on stderr with every thread's stack (through gdb, when installed) and the process exits
// 3. ctest's own timeout would only say that the whole binary hung, not where.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "support/child_task.hpp"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;

struct Current {
  std::mutex mutex;
  std::string name; // "" between test cases
  Clock::time_point started;
};

Current& current() {
  static Current c;
  return c;
}

/// A doctest listener that records which test case runs and since when.
struct CaseClock : doctest::IReporter {
  explicit CaseClock(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData& data) override {
    std::lock_guard lock(current().mutex);
    current().name = std::string(data.m_name) + " (" + data.m_file.c_str() + ":" +
                     std::to_string(data.m_line) + ")";
    current().started = Clock::now();
  }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {
    std::lock_guard lock(current().mutex);
    current().name.clear();
  }
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

void say(const std::string& text) {
  for (std::size_t done = 0; done < text.size();) {
    const auto n = ::write(STDERR_FILENO, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

/// Prints every thread's stack of this process with gdb, if there is one; bounded to 60 s.
void dump_threads() {
  const std::string pid = std::to_string(::getpid());
  const pid_t child = ::fork();
  if (child == 0) {
    ::dup2(STDERR_FILENO, STDOUT_FILENO);
    ::execlp("gdb", "gdb", "-p", pid.c_str(), "-batch", "-nx", "-ex", "set pagination off",
             "-ex", "thread apply all bt 30", static_cast<char*>(nullptr));
    say("hearth_unit watchdog: gdb is not installed; no thread stacks\n");
    ::_exit(127);
  }
  if (child < 0) return;
  for (int i = 0; i < 600; ++i) {
    int status = 0;
    if (::waitpid(child, &status, WNOHANG) == child) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}

void watch(std::chrono::seconds limit) {
  for (;;) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::string name;
    {
      std::lock_guard lock(current().mutex);
      if (current().name.empty() || Clock::now() - current().started < limit) continue;
      name = current().name;
    }
    say("\nhearth_unit watchdog: test case \"" + name + "\" has run for more than " +
        std::to_string(limit.count()) + " s; stacks follow, then exit 3\n");
    dump_threads();
    say("hearth_unit watchdog: hung test case: \"" + name + "\"\n"); // again, after the stacks
    ::_exit(3);
  }
}

} // namespace

DOCTEST_REGISTER_LISTENER("case-clock", 1, CaseClock);

int main(int argc, char** argv) {
  child_task::dispatch(argc, argv); // a child task runs and exits here
  long limit = 150;
  if (const char* env = std::getenv("HEARTH_UNIT_CASE_TIMEOUT")) limit = std::atol(env);
  if (limit > 0) {
    ::prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY); // gdb, our child, may attach (Yama scope 1)
    std::thread(watch, std::chrono::seconds(limit)).detach();
  }
  doctest::Context context(argc, argv);
  return context.run();
}

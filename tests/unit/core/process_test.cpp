#include "core/process.hpp"

#include "core/error.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <poll.h>
#include <thread>
#include <unistd.h>

using namespace hearth::process;
using namespace std::chrono_literals;

namespace {

// Reads one '\n'-terminated line from `fd` within `timeout`; "" on EOF or timeout.
std::string read_line(int fd, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string line;
  char c = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    if (::read(fd, &c, 1) != 1) return line;
    if (c == '\n') return line;
    line += c;
  }
  return line;
}

std::string read_all(int fd) {
  std::string out;
  char buffer[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return out;
    const auto got = ::read(fd, buffer, sizeof buffer);
    if (got <= 0) return out;
    out.append(buffer, static_cast<std::size_t>(got));
  }
}

// True when no process is left in the group (kill(-pgid, 0) fails with ESRCH), polled until
// `timeout`: reaping by the subreaper is synchronous in stop(), so this normally holds at once.
bool group_gone(pid_t pgid, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (::kill(-pgid, 0) != 0 && errno == ESRCH) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
}

bool pid_gone(pid_t pid, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
}

} // namespace

TEST_SUITE("core") {
  TEST_CASE("a child's exit code and terminating signal are reported") {
    SUBCASE("exit code") {
      Process child({.argv = {"sh", "-c", "exit 3"}});
      const auto status = child.wait();
      CHECK(status.exited());
      CHECK(status.code == 3);
      CHECK(status.describe() == "exit code 3");
      CHECK(child.exit_status()->code == 3);
    }
    SUBCASE("signal") {
      Process child({.argv = {"sh", "-c", "kill -9 $$"}});
      const auto status = child.wait();
      CHECK_FALSE(status.exited());
      CHECK(status.signal == SIGKILL);
      CHECK(status.shell_code() == 137);
      CHECK(status.describe().find("signal 9") == 0);
    }
  }

  TEST_CASE("parent_death_signal: the child dies with the thread that spawned it") {
    // What a runtime killed with SIGKILL does to its MCP stdio servers (issue 13): the spawning
    // thread ends, the child gets the signal; without it the child would live on.
    std::unique_ptr<Process> child;
    std::thread spawner([&] {
      child = std::make_unique<Process>(SpawnOptions{.argv = {"sleep", "30"}, .parent_death_signal = SIGKILL});
    });
    spawner.join();
    const auto status = child->wait_for(5s);
    REQUIRE(status);
    CHECK(status->signal == SIGKILL);
    std::unique_ptr<Process> plain;
    std::thread other([&] { plain = std::make_unique<Process>(SpawnOptions{.argv = {"sleep", "30"}}); });
    other.join();
    CHECK_FALSE(plain->wait_for(300ms));
    plain->stop(100ms);
  }

  TEST_CASE("spawning a missing program throws spawn_failed") {
    try {
      Process child({.argv = {"/nonexistent/hearth-no-such-program"}});
      FAIL("expected spawn_failed");
    } catch (const hearth::Error& e) {
      CHECK(e.info().type == "spawn_failed");
      CHECK(std::string(e.what()).find("hearth-no-such-program") != std::string::npos);
    }
    CHECK_THROWS_AS(Process({.argv = {}}), hearth::Error);
  }

  TEST_CASE("stdin and stdout are pipes to the child; closing stdin gives it EOF") {
    Process child({.argv = {"cat"}});
    CHECK(child.write_stdin("hello\nworld\n"));
    child.close_stdin();
    CHECK(child.stdin_fd() == -1);
    CHECK_FALSE(child.write_stdin("more"));
    CHECK(read_all(child.stdout_fd()) == "hello\nworld\n");
    CHECK(child.wait().code == 0);
  }

  TEST_CASE("the child gets the given environment and working directory, and its own group") {
    TempProject dir;
    Process child({.argv = {"/bin/sh", "-c", "echo \"$FOO|$HOME\"; pwd; ps -o pgid= -p $$"},
                   .env = std::vector<std::string>{"FOO=bar", "PATH=/usr/bin:/bin"},
                   .cwd = dir.root()});
    CHECK(read_line(child.stdout_fd()) == "bar|");
    CHECK(read_line(child.stdout_fd()) == std::filesystem::canonical(dir.root()).string());
    CHECK(std::stoi(read_line(child.stdout_fd())) == child.pid());
    CHECK(child.wait().code == 0);
  }

  TEST_CASE("stderr is piped separately, or inherited when asked") {
    Process piped({.argv = {"sh", "-c", "echo out; echo err >&2"}});
    CHECK(read_line(piped.stderr_fd()) == "err");
    CHECK(read_line(piped.stdout_fd()) == "out");
    Process inherited({.argv = {"true"}, .pipe_stderr = false});
    CHECK(inherited.stderr_fd() == -1);
  }

  TEST_CASE("stop kills the whole process group, grandchildren included") {
    become_subreaper(); // orphans come to us and are reaped by stop(), even where PID 1 is lazy
    SUBCASE("children that exit on SIGTERM") {
      Process child({.argv = {"sh", "-c", "sleep 100 & sleep 100 & echo ready; wait"}});
      REQUIRE(read_line(child.stdout_fd()) == "ready");
      const auto pgid = child.pid();
      const auto status = child.stop();
      CHECK(status.signal == SIGTERM);
      CHECK(group_gone(pgid));
    }
    SUBCASE("children that ignore SIGTERM get SIGKILL after the grace period") {
      Process child({.argv = {"sh", "-c", "trap '' TERM; sleep 100 & echo ready; wait"}});
      REQUIRE(read_line(child.stdout_fd()) == "ready");
      const auto pgid = child.pid();
      const auto started = std::chrono::steady_clock::now();
      const auto status = child.stop(200ms);
      CHECK(std::chrono::steady_clock::now() - started >= 200ms);
      CHECK(status.signal == SIGKILL);
      CHECK(group_gone(pgid));
      CHECK(child.stop().signal == SIGKILL); // idempotent
    }
    SUBCASE("grandchildren outliving a child that already exited") {
      Process child({.argv = {"sh", "-c", "sleep 100 & echo $!"}});
      const auto grandchild = std::stoi(read_line(child.stdout_fd()));
      CHECK(child.wait().code == 0);
      CHECK(::kill(grandchild, 0) == 0);
      child.stop();
      CHECK(group_gone(child.pid()));
    }
  }

  TEST_CASE("the destructor stops a child the owner forgot") {
    become_subreaper();
    pid_t pgid = 0;
    {
      Process child({.argv = {"sh", "-c", "sleep 100 & echo ready; wait"}});
      REQUIRE(read_line(child.stdout_fd()) == "ready");
      pgid = child.pid();
    }
    CHECK(group_gone(pgid));
  }

  TEST_CASE("reap_orphans kills and reaps a reparented orphan in a group no Process owns") {
    become_subreaper();
    // setsid: the grandchild leaves the child's group, so only reap_orphans can find it once
    // the child has exited and the grandchild has been reparented to us.
    Process child({.argv = {"sh", "-c", "setsid sleep 100 </dev/null >/dev/null 2>&1 & echo $!"}});
    const auto grandchild = static_cast<pid_t>(std::stoi(read_line(child.stdout_fd())));
    CHECK(child.wait().code == 0);
    REQUIRE(::kill(grandchild, 0) == 0);
    CHECK(reap_orphans() >= 1);
    CHECK(::kill(grandchild, 0) != 0); // killed and reaped: not even a zombie is left
    CHECK(reap_orphans() == 0);
  }

  TEST_CASE("wait_for returns nothing while the child runs, and its status once it exits") {
    Process child({.argv = {"cat"}});
    CHECK_FALSE(child.wait_for(10ms).has_value());
    CHECK_FALSE(child.try_wait().has_value());
    child.close_stdin();
    const auto status = child.wait_for(10s);
    REQUIRE(status.has_value());
    CHECK(status->code == 0);
  }

  TEST_CASE("run_capture feeds stdin and collects stdout, stderr and the exit code") {
    const auto result =
        run_capture({"sh", "-c", "cat; echo problem >&2; exit 4"}, "{\"x\":1}", 10s);
    CHECK(result.out == "{\"x\":1}");
    CHECK(result.err == "problem\n");
    CHECK(result.exit_code == 4);
    CHECK_FALSE(result.timed_out);
  }

  TEST_CASE("run_capture's child dies with this process, even of SIGKILL") {
    // A runtime killed with -9 must not leave a tool running behind a resumed run (issue 15 §1):
    // the child reads its own parent-death signal (prctl PR_GET_PDEATHSIG) and finds SIGKILL.
    const auto result = run_capture(
        {"python3", "-c",
         "import ctypes; s = ctypes.c_int(); ctypes.CDLL(None).prctl(2, ctypes.byref(s)); print(s.value)"},
        "", 10s);
    REQUIRE(result.exit_code == 0);
    CHECK(result.out == std::to_string(SIGKILL) + "\n");
  }

  TEST_CASE("run_capture moves large input and output without deadlocking") {
    const std::string input(3 * 1024 * 1024, 'x'); // far more than a pipe buffer
    const auto result = run_capture({"cat"}, input, 30s);
    CHECK(result.out.size() == input.size());
    CHECK(result.out == input);
    CHECK(result.exit_code == 0);
  }

  TEST_CASE("run_capture kills the whole group on timeout") {
    become_subreaper();
    const auto started = std::chrono::steady_clock::now();
    const auto result = run_capture({"sh", "-c", "sleep 100 & echo $!; wait"}, "", 300ms);
    CHECK(std::chrono::steady_clock::now() - started < 10s);
    CHECK(result.timed_out);
    CHECK(result.status.signal != 0);
    const auto grandchild = std::stoi(result.out);
    CHECK(pid_gone(grandchild));
  }

  TEST_CASE("run_capture stops the whole group within the grace period once cancelled") {
    CHECK(run_capture({.argv = {"true"}}, "", 1s, k_default_output_cap,
                      std::stop_source().get_token())
              .exit_code == 0); // a token never stopped changes nothing
    become_subreaper();
    std::stop_source cancel;
    std::thread canceller([&] {
      std::this_thread::sleep_for(1s); // the shell has set its trap and started its child
      cancel.request_stop();
    });
    const auto started = std::chrono::steady_clock::now();
    SUBCASE("a group that exits on SIGTERM") {
      const auto result = run_capture({.argv = {"sh", "-c", "sleep 100 & echo $!; wait"}}, "", 60s,
                                      k_default_output_cap, cancel.get_token());
      canceller.join();
      CHECK(std::chrono::steady_clock::now() - started < 2s);
      CHECK(result.cancelled);
      CHECK_FALSE(result.timed_out);
      CHECK(result.status.signal == SIGTERM);
      CHECK(pid_gone(std::stoi(result.out)));
    }
    SUBCASE("a group that ignores SIGTERM gets SIGKILL after k_cancel_grace") {
      const auto result =
          run_capture({.argv = {"sh", "-c", "trap '' TERM; sleep 100 & echo $!; wait"}}, "", 60s,
                      k_default_output_cap, cancel.get_token());
      canceller.join();
      CHECK(std::chrono::steady_clock::now() - started < 1s + k_cancel_grace + 500ms);
      CHECK(result.cancelled);
      CHECK(result.status.signal == SIGKILL);
      CHECK(pid_gone(std::stoi(result.out)));
    }
  }

  TEST_CASE("run_capture cleans up background grandchildren when the child exits") {
    become_subreaper();
    const auto result = run_capture({"sh", "-c", "sleep 100 & echo $!"}, "", 10s);
    CHECK_FALSE(result.timed_out);
    CHECK(result.exit_code == 0);
    CHECK(pid_gone(std::stoi(result.out)));
  }

  TEST_CASE("run_capture caps captured output") {
    const auto result =
        run_capture({"sh", "-c", "head -c 3000000 /dev/zero; head -c 50 /dev/zero >&2"}, "", 30s,
                    std::nullopt, {}, 1000);
    CHECK(result.out.size() == 1000);
    CHECK(result.out_truncated);
    CHECK(result.err.size() == 50);
    CHECK_FALSE(result.err_truncated);
    CHECK(result.exit_code == 0);
  }

  TEST_CASE("run_capture survives a child that does not read its input") {
    const std::string input(1024 * 1024, 'y');
    const auto result = run_capture({"sh", "-c", "exec 0<&-; echo done"}, input, 10s);
    CHECK(result.out == "done\n");
    CHECK(result.exit_code == 0);
  }

  TEST_CASE("write_all reports a closed pipe instead of raising SIGPIPE") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    ::close(fds[0]);
    CHECK_FALSE(write_all(fds[1], "data"));
    ::close(fds[1]);
  }
}

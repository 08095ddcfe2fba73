#include "support/child_task.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

extern char** environ;

namespace child_task {
namespace {

std::map<std::string, Body>& tasks() {
  static std::map<std::string, Body> all;
  return all;
}

constexpr const char* k_flag = "--hearth-child-task";

} // namespace

bool add(const char* name, Body body) {
  tasks()[name] = body;
  return true;
}

int run(const std::string& name, const std::vector<std::string>& args,
        const std::vector<std::pair<std::string, std::string>>& env,
        std::chrono::seconds timeout) {
  std::vector<std::string> argv_strings{"hearth_unit", k_flag, name};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    bool replaced = false;
    for (const auto& [key, value] : env) replaced = replaced || entry.rfind(key + "=", 0) == 0;
    if (!replaced) env_strings.push_back(entry);
  }
  for (const auto& [key, value] : env) env_strings.push_back(key + "=" + value);
  std::vector<char*> argv, envp;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  if (::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), envp.data()) != 0)
    return -1;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t got = ::waitpid(pid, &status, WNOHANG);
    if (got == pid) break;
    if (got < 0 && errno != EINTR) return -1;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      std::fprintf(stderr, "child task %s ran past %lld s and was killed\n", name.c_str(),
                   static_cast<long long>(timeout.count()));
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

void dispatch(int argc, char** argv) {
  if (argc < 3 || std::strcmp(argv[1], k_flag) != 0) return;
  const auto task = tasks().find(argv[2]);
  if (task == tasks().end()) {
    std::fprintf(stderr, "hearth_unit: no child task named %s\n", argv[2]);
    std::_Exit(125);
  }
  const std::vector<std::string> args(argv + 3, argv + argc);
  int status = 125;
  try {
    status = task->second(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hearth_unit: child task %s threw: %s\n", argv[2], e.what());
  }
  std::fflush(nullptr);
  // No destructors, no leak check: a task stands for a process that dies without a word.
  ::_exit(status);
}

} // namespace child_task

// Child processes: posix_spawn into a new process group, pipes, stop/reap. See process.hpp.
#include "core/process.hpp"

#include "core/cancel.hpp"
#include "core/errors.hpp"
#include "core/signals.hpp"

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <optional>
#include <poll.h>
#include <set>
#include <sstream>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace hearth::process {
namespace {

using Clock = std::chrono::steady_clock;

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// A pipe pair closed on scope exit unless released; both ends CLOEXEC.
struct Pipe {
  int read = -1;
  int write = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
      throw errors::internal_error(std::string("pipe2: ") + std::strerror(errno));
    read = fds[0];
    write = fds[1];
  }
  ~Pipe() {
    close_fd(read);
    close_fd(write);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
};

// RAII for the two posix_spawn attribute objects.
struct SpawnAttrs {
  posix_spawn_file_actions_t actions{};
  posix_spawnattr_t attr{};
  SpawnAttrs() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnAttrs() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnAttrs(const SpawnAttrs&) = delete;
  SpawnAttrs& operator=(const SpawnAttrs&) = delete;
};

void configure_attr(posix_spawnattr_t& attr) {
  // Own group (so a terminal's Ctrl-C reaches only us), default dispositions and an empty mask:
  // the child must not inherit an ignored SIGPIPE or a thread's blocked signals.
  sigset_t defaults;
  sigemptyset(&defaults);
  for (const int signo : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2,
                          SIGALRM})
    sigaddset(&defaults, signo);
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &empty);
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

/// Process groups of the Process objects alive in this process (see signal_all_groups).
std::mutex& groups_mutex() {
  static std::mutex mutex;
  return mutex;
}
std::set<pid_t>& live_groups() {
  static std::set<pid_t> groups;
  return groups;
}

ExitStatus decode(int raw) {
  if (WIFEXITED(raw)) return {.code = WEXITSTATUS(raw), .signal = 0};
  if (WIFSIGNALED(raw)) return {.code = -1, .signal = WTERMSIG(raw)};
  return {.code = -1, .signal = 0};
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 1 << 30));
}

/// `program` as execve wants it: unchanged with a slash, else the first executable file of that
/// name on PATH (looked up here, before fork, so the child does no allocation).
std::string resolve_program(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = ::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    const auto colon = dirs.find(':');
    const auto dir = dirs.substr(0, colon);
    const auto candidate = (dir.empty() ? std::string(".") : std::string(dir)) + "/" + program;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return {};
}

/// fork + exec for what posix_spawn cannot do (rlimits, descriptors at fixed numbers). Between
/// fork and exec the child calls only async-signal-safe functions; an exec failure travels back
/// as an errno over a CLOEXEC pipe. Returns the pid; throws spawn_failed.
pid_t fork_exec(const SpawnOptions& options, int in_read, int out_write, int err_write) {
  const auto program = resolve_program(options.argv[0]);
  if (program.empty()) throw errors::spawn_failed(options.argv[0], std::strerror(ENOENT));
  auto argv = c_strings(options.argv);
  std::vector<char*> envp;
  if (options.env) envp = c_strings(*options.env);
  char* const* env_ptr = options.env ? envp.data() : environ;
  std::vector<struct rlimit> limits;
  for (const auto& l : options.rlimits)
    limits.push_back({static_cast<rlim_t>(l.value), static_cast<rlim_t>(l.hard ? l.hard : l.value)});
  const int inherit_count = static_cast<int>(options.inherit_fds.size());
  const int first_free = 3 + inherit_count; // descriptors above every target, for the shuffle
  Pipe report;
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw errors::spawn_failed(options.argv[0], std::strerror(errno));
  if (pid == 0) {
    auto fail = [&](int code) {
      const int e = code;
      [[maybe_unused]] auto n = ::write(report.write, &e, sizeof e);
      ::_exit(127);
    };
    ::setpgid(0, 0);
    if (options.parent_death_signal != 0) {
      if (::prctl(PR_SET_PDEATHSIG, options.parent_death_signal, 0, 0, 0) != 0) fail(errno);
      if (::getppid() != parent) ::_exit(127); // the parent died before the prctl took effect
    }
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int signo = 1; signo < NSIG; ++signo) ::sigaction(signo, &dfl, nullptr);
    sigset_t empty;
    sigemptyset(&empty);
    ::sigprocmask(SIG_SETMASK, &empty, nullptr);
    // Move every source out of the way first, so a dup2 never clobbers another source.
    int moved[64];
    for (int i = 0; i < inherit_count && i < 64; ++i) {
      moved[i] = ::fcntl(options.inherit_fds[static_cast<std::size_t>(i)], F_DUPFD_CLOEXEC,
                         first_free + 3);
      if (moved[i] < 0) fail(errno);
    }
    if (::dup2(in_read, STDIN_FILENO) < 0 || ::dup2(out_write, STDOUT_FILENO) < 0) fail(errno);
    if (err_write >= 0 && ::dup2(err_write, STDERR_FILENO) < 0) fail(errno);
    for (int i = 0; i < inherit_count && i < 64; ++i)
      if (::dup2(moved[i], 3 + i) < 0) fail(errno); // dup2 clears CLOEXEC on the target
    if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) fail(errno);
    if (options.cgroup_procs_fd >= 0 && ::write(options.cgroup_procs_fd, "0", 1) != 1) fail(errno);
    for (std::size_t i = 0; i < limits.size(); ++i)
      if (::setrlimit(static_cast<__rlimit_resource>(options.rlimits[i].resource), &limits[i]) != 0)
        fail(errno);
    ::execve(program.c_str(), argv.data(), env_ptr);
    fail(errno);
  }
  close_fd(report.write);
  int child_errno = 0;
  ssize_t got;
  while ((got = ::read(report.read, &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {
  }
  if (got == static_cast<ssize_t>(sizeof child_errno)) {
    int raw = 0;
    while (::waitpid(pid, &raw, 0) < 0 && errno == EINTR) {
    }
    std::string reason = std::strerror(child_errno);
    if (!options.cwd.empty() && !std::filesystem::is_directory(options.cwd))
      reason += " (working directory " + options.cwd.string() + " does not exist)";
    throw errors::spawn_failed(options.argv[0], reason);
  }
  return pid;
}

} // namespace

std::string ExitStatus::describe() const {
  if (signal != 0) return "signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
  if (code < 0) return "an unknown status";
  return "exit code " + std::to_string(code);
}

Process::Process(const SpawnOptions& options) {
  if (options.argv.empty()) throw errors::spawn_failed("", "no program was given");
  if (options.inherit_fds.size() > 64) throw errors::spawn_failed(options.argv[0], "too many descriptors");
  Pipe in, out, err;
  if (!options.rlimits.empty() || !options.inherit_fds.empty() || options.cgroup_procs_fd >= 0 ||
      options.parent_death_signal != 0) {
    m_pid = fork_exec(options, in.read, out.write, options.pipe_stderr ? err.write : -1);
    finish_start(in, out, err, options.pipe_stderr);
    return;
  }
  SpawnAttrs spawn;
  posix_spawn_file_actions_adddup2(&spawn.actions, in.read, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&spawn.actions, out.write, STDOUT_FILENO);
  if (options.pipe_stderr)
    posix_spawn_file_actions_adddup2(&spawn.actions, err.write, STDERR_FILENO);
  if (!options.cwd.empty())
    posix_spawn_file_actions_addchdir_np(&spawn.actions, options.cwd.c_str());
  configure_attr(spawn.attr);
  auto argv = c_strings(options.argv);
  std::vector<char*> envp;
  if (options.env) envp = c_strings(*options.env);
  const int rc = ::posix_spawnp(&m_pid, argv[0], &spawn.actions, &spawn.attr, argv.data(),
                                options.env ? envp.data() : environ);
  if (rc != 0) {
    m_pid = -1;
    std::string reason = std::strerror(rc);
    if (!options.cwd.empty() && !std::filesystem::is_directory(options.cwd))
      reason += " (working directory " + options.cwd.string() + " does not exist)";
    throw errors::spawn_failed(options.argv[0], reason);
  }
  finish_start(in, out, err, options.pipe_stderr);
}

template <class P> void Process::finish_start(P& in, P& out, P& err, bool pipe_stderr) {
  // glibc 2.36's <sys/pidfd.h> lacks extern "C", so use the syscall. CLOEXEC by default; -1 on
  // kernels before 5.3, where waiting falls back to polling.
  m_pidfd = static_cast<int>(::syscall(SYS_pidfd_open, m_pid, 0));
  {
    std::lock_guard lock(groups_mutex());
    live_groups().insert(m_pid);
  }
  std::swap(m_stdin, in.write);
  std::swap(m_stdout, out.read);
  if (pipe_stderr) std::swap(m_stderr, err.read);
}

Process::~Process() {
  try {
    stop();
  } catch (...) { // destructors never throw; stop() only allocates for messages
  }
  {
    std::lock_guard lock(groups_mutex());
    live_groups().erase(m_pid);
  }
  close_fd(m_stdin);
  close_fd(m_stdout);
  close_fd(m_stderr);
  close_fd(m_pidfd);
}

bool Process::write_stdin(std::string_view data) {
  if (m_stdin < 0) return false;
  return write_all(m_stdin, data);
}

void Process::close_stdin() noexcept { close_fd(m_stdin); }

std::optional<ExitStatus> Process::reap_locked(bool block) {
  if (m_status) return m_status;
  int raw = 0;
  for (;;) {
    const pid_t got = ::waitpid(m_pid, &raw, block ? 0 : WNOHANG);
    if (got == m_pid) return m_status = decode(raw);
    if (got == 0) return std::nullopt;
    if (errno == EINTR) continue;
    return m_status = ExitStatus{}; // ECHILD: someone else reaped it; the status is lost
  }
}

bool Process::wait_exited(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    {
      std::lock_guard lock(m_mutex);
      if (m_status) return true;
    }
    if (m_pidfd >= 0) {
      pollfd p{.fd = m_pidfd, .events = POLLIN, .revents = 0};
      const int rc = ::poll(&p, 1, remaining_ms(deadline));
      if (rc > 0) return true;
      if (rc == 0) return false;
      if (errno != EINTR) return false;
      continue;
    }
    // No pidfd: peek without reaping (WNOWAIT) and poll the status every few milliseconds.
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(m_pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == m_pid)
      return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::optional<ExitStatus> Process::try_wait() {
  std::lock_guard lock(m_mutex);
  return reap_locked(false);
}

std::optional<ExitStatus> Process::wait_for(std::chrono::milliseconds timeout) {
  if (!wait_exited(timeout)) return std::nullopt;
  std::lock_guard lock(m_mutex);
  return reap_locked(true); // it has exited, so this does not block
}

ExitStatus Process::wait() {
  while (!wait_exited(std::chrono::hours(24))) {
  }
  std::lock_guard lock(m_mutex);
  return *reap_locked(true);
}

namespace {

/// Reaps exited children of this process that no Process owns. A subreaper inherits orphans
/// from other sessions too: bwrap's `--new-session` child outlives the outer bwrap we started
/// and, reparented to us, stayed a zombie per tool call forever (a `hearth start` serving
/// sandboxed tools piled up hundreds). Orphans are reparented to the thread group leader, so
/// only its children list is read. Only zombies of another session are taken: a child we just
/// spawned (same session, maybe not registered yet) keeps its exit status for its Process.
void reap_unowned_children() noexcept {
  try {
    const pid_t own_session = ::getsid(0);
    std::ifstream children("/proc/self/task/" + std::to_string(::getpid()) + "/children");
    pid_t pid = 0;
    while (children >> pid) {
      std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
      std::string line;
      if (!std::getline(stat, line)) continue;
      const auto close = line.rfind(')'); // fields after "(comm)": state ppid pgrp session
      if (close == std::string::npos) continue;
      std::istringstream rest(line.substr(close + 1));
      std::string state;
      pid_t ppid = 0, pgrp = 0, session = 0;
      rest >> state >> ppid >> pgrp >> session;
      if (state != "Z" || session == own_session) continue;
      int raw = 0;
      ::waitpid(pid, &raw, WNOHANG);
    }
  } catch (...) { // no memory for a path: the next stop sweeps again
  }
}

} // namespace

ExitStatus Process::stop(std::chrono::milliseconds grace) {
  if (m_pid <= 0) return ExitStatus{};
  bool exited = false;
  {
    std::lock_guard lock(m_mutex);
    if (m_group_cleaned) return m_status.value_or(ExitStatus{});
    exited = m_status.has_value();
  }
  if (!exited) {
    ::killpg(m_pid, SIGTERM);
    wait_exited(grace);
  }
  // Before reaping the leader (its zombie keeps the group id reserved), kill what is left.
  ::killpg(m_pid, SIGKILL);
  std::lock_guard lock(m_mutex);
  const auto status = *reap_locked(true);
  reap_group();
  m_group_cleaned = true;
  reap_unowned_children();
  return status;
}

void Process::reap_group() noexcept {
  // Only members reparented to us (subreaper) can be reaped here; the others belong to PID 1.
  for (;;) {
    int raw = 0;
    const pid_t got = ::waitpid(-m_pid, &raw, 0);
    if (got > 0) continue;
    if (got < 0 && errno == EINTR) continue;
    return; // ECHILD: none of our children is left in the group
  }
}

std::optional<ExitStatus> Process::exit_status() const {
  std::lock_guard lock(m_mutex);
  return m_status;
}

namespace {

void set_nonblocking(int fd) {
  if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// Reads what `fd` has now into `sink` (bytes past `cap` are dropped). Returns false at EOF/error.
bool drain(int fd, std::string& sink, std::size_t cap, bool& truncated) {
  std::array<char, 65536> buffer{};
  for (;;) {
    const auto got = ::read(fd, buffer.data(), buffer.size());
    if (got > 0) {
      const auto n = static_cast<std::size_t>(got);
      const auto room = cap - std::min(cap, sink.size());
      sink.append(buffer.data(), std::min(n, room));
      if (n > room) truncated = true;
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    return got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

// Feeds `input` to a non-blocking stdin as far as the pipe takes it; closes stdin when done or
// when the child stopped reading.
void feed(Process& child, std::string_view& input) {
  signals::SigpipeGuard guard;
  while (!input.empty()) {
    const auto wrote = ::write(child.stdin_fd(), input.data(), input.size());
    if (wrote > 0) {
      input.remove_prefix(static_cast<std::size_t>(wrote));
      continue;
    }
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    input = {}; // EPIPE: the child does not want the rest
  }
  child.close_stdin();
}

} // namespace

CaptureResult run_capture(const std::vector<std::string>& argv, std::string_view input,
                          std::chrono::milliseconds timeout,
                          const std::optional<std::vector<std::string>>& env,
                          const std::filesystem::path& cwd, std::size_t output_cap) {
  return run_capture(SpawnOptions{.argv = argv, .env = env, .cwd = cwd, .pipe_stderr = true}, input,
                     timeout, output_cap);
}

CaptureResult run_capture(const SpawnOptions& options, std::string_view input,
                          std::chrono::milliseconds timeout, std::size_t output_cap,
                          std::stop_token token) {
  if (token.stop_requested()) { // cancelled before it started: nothing to run or to stop
    CaptureResult never;
    never.cancelled = true;
    return never;
  }
  auto spawn = options;
  spawn.pipe_stderr = true;
  // A runtime killed with SIGKILL must not leave a tool acting on its own: a resumed run has
  // already recorded the call as interrupted (docs/runtime.md "Durable runs").
  if (spawn.parent_death_signal == 0) spawn.parent_death_signal = SIGKILL;
  const cancel::StopFd stop(token); // readable once cancelled: wakes the poll below at once
  Process child(spawn);
  const auto deadline = Clock::now() + timeout;
  CaptureResult result;
  for (const int fd : {child.stdin_fd(), child.stdout_fd(), child.stderr_fd()}) set_nonblocking(fd);
  feed(child, input);
  bool out_open = true, err_open = true;
  for (;;) {
    std::array<pollfd, 5> fds{};
    nfds_t count = 0;
    if (stop.fd() >= 0) fds[count++] = {stop.fd(), POLLIN, 0};
    if (child.exit_fd() >= 0) fds[count++] = {child.exit_fd(), POLLIN, 0};
    if (child.stdin_fd() >= 0) fds[count++] = {child.stdin_fd(), POLLOUT, 0};
    if (out_open) fds[count++] = {child.stdout_fd(), POLLIN, 0};
    if (err_open) fds[count++] = {child.stderr_fd(), POLLIN, 0};
    // Wait for the exit itself, not EOF: grandchildren may hold the pipes open. Without a pidfd,
    // check the status every 20 ms (and a token without its eventfd every 50 ms).
    int slice = std::min(remaining_ms(deadline), child.exit_fd() >= 0 ? 1 << 30 : 20);
    if (token.stop_possible() && stop.fd() < 0) slice = std::min(slice, 50);
    if (::poll(fds.data(), count, slice) < 0 && errno != EINTR) break;
    if (child.stdin_fd() >= 0) feed(child, input);
    if (out_open) out_open = drain(child.stdout_fd(), result.out, output_cap, result.out_truncated);
    if (err_open) err_open = drain(child.stderr_fd(), result.err, output_cap, result.err_truncated);
    if (child.wait_for(std::chrono::milliseconds(0))) {
      // Whatever it wrote before exiting is in the pipes now: take it, then clean up the group.
      if (out_open) drain(child.stdout_fd(), result.out, output_cap, result.out_truncated);
      if (err_open) drain(child.stderr_fd(), result.err, output_cap, result.err_truncated);
      break;
    }
    if (token.stop_requested()) {
      result.cancelled = true;
      break;
    }
    if (Clock::now() >= deadline) {
      result.timed_out = true;
      break;
    }
  }
  // A cancelled command may clean up (SIGTERM) for k_cancel_grace; a timed-out one may not.
  result.status = child.stop(result.cancelled ? k_cancel_grace : std::chrono::milliseconds(0));
  result.exit_code = result.status.shell_code();
  return result;
}

void signal_all_groups(int signo) {
  std::lock_guard lock(groups_mutex());
  for (const pid_t group : live_groups()) ::kill(-group, signo);
}

void stop_all_groups() {
  signal_all_groups(SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  signal_all_groups(SIGKILL);
}

namespace {

/// The pids listed in /proc/self/task/*/children (the direct children of each of our threads;
/// CONFIG_PROC_CHILDREN), or nullopt when the kernel has no such files.
std::optional<std::vector<pid_t>> children_from_task_files() {
  std::vector<pid_t> pids;
  std::error_code ec;
  bool any = false;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream file(task.path() / "children");
    if (!file) continue;
    any = true;
    for (long pid = 0; file >> pid;)
      if (pid > 0) pids.push_back(static_cast<pid_t>(pid));
  }
  if (!any) return std::nullopt;
  return pids;
}

/// Every numeric /proc entry: the fallback, a read of each process's stat below.
std::vector<pid_t> every_process() {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const auto name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    pids.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return pids;
}

} // namespace

std::size_t reap_orphans() {
  std::set<pid_t> owned;
  {
    std::lock_guard lock(groups_mutex());
    owned = live_groups();
  }
  // Our own children only (a handful), not every process on the machine: the full /proc scan
  // cost a `hearth run` ~1.4 million instructions and 300 system calls on a busy host.
  const auto candidates = children_from_task_files().value_or(every_process());
  std::size_t found = 0;
  const std::string self = std::to_string(::getpid());
  for (const pid_t pid : candidates) {
    if (owned.count(pid) != 0) continue;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // Fields after the parenthesised command: state ppid pgrp ...
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    std::string state, ppid;
    pid_t pgrp = 0;
    rest >> state >> ppid >> pgrp;
    if (ppid != self) continue;
    ++found;
    if (pgrp > 1 && pgrp != ::getpgrp()) ::kill(-pgrp, SIGKILL);
    ::kill(pid, SIGKILL);
    int raw = 0;
    while (::waitpid(pid, &raw, 0) < 0 && errno == EINTR) {
    }
  }
  return found;
}

void become_subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

bool write_all(int fd, std::string_view data) {
  signals::SigpipeGuard guard;
  while (!data.empty()) {
    const auto wrote = ::write(fd, data.data(), data.size());
    if (wrote > 0) {
      data.remove_prefix(static_cast<std::size_t>(wrote));
      continue;
    }
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
      ::poll(&p, 1, -1);
      continue;
    }
    return false;
  }
  return true;
}

} // namespace hearth::process

// Child processes (STYLE.md §4, "Spawning" and "Stopping"): `Process` owns one child in its own
// process group with piped stdio; `run_capture` runs a one-shot tool (JSON in, JSON out).
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace hearth::process {

/// How a child ended: `code` when it exited, `signal` when a signal killed it.
struct ExitStatus {
  int code = -1;  // the exit code, or -1 when killed by a signal
  int signal = 0; // the terminating signal, or 0 when it exited

  bool exited() const noexcept { return signal == 0; }
  /// The shell's view: the exit code, or 128 + signal.
  int shell_code() const noexcept { return signal == 0 ? code : 128 + signal; }
  /// "exit code 3" or "signal 9 (Killed)", for messages.
  std::string describe() const;
};

/// One resource limit set in the child before exec (setrlimit(2)).
struct Rlimit {
  int resource = 0;          // RLIMIT_CPU, RLIMIT_AS, RLIMIT_NPROC, RLIMIT_NOFILE, ...
  unsigned long long value = 0; // the soft limit: seconds for RLIMIT_CPU, bytes for RLIMIT_AS, ...
  unsigned long long hard = 0;  // the hard limit; 0: the same as `value`
};

/// What to start. `argv[0]` without a slash is looked up in the parent's PATH.
struct SpawnOptions {
  std::vector<std::string> argv{};
  std::optional<std::vector<std::string>> env{}; // "KEY=value" entries; nullopt inherits ours
  std::filesystem::path cwd{};                   // empty: the parent's working directory
  bool pipe_stderr = true;                       // false: the child writes to our stderr
  /// Limits applied in the child between fork and exec (then inherited by all it starts).
  std::vector<Rlimit> rlimits{};
  /// Descriptors the child gets as 3, 4, ... (in this order); ours may be CLOEXEC. Used to hand
  /// bwrap generated files (--ro-bind-data FD).
  std::vector<int> inherit_fds{};
  /// An open `cgroup.procs` of a cgroup the child joins (writes "0") before exec; -1: none.
  int cgroup_procs_fd = -1;
  /// A signal the child gets when the *thread* that spawned it ends, e.g. when this process is
  /// killed with SIGKILL (prctl PR_SET_PDEATHSIG, set between fork and exec; a parent already
  /// gone by then makes the child exit at once); 0: none. Spawn from a thread that lives as long
  /// as the child should.
  int parent_death_signal = 0;
};

/// One child process in its own process group (pgid == pid), with stdin, stdout and (by default)
/// stderr connected to CLOEXEC pipes. The destructor stops the child if the owner did not. Methods
/// may be called from several threads (e.g. a reader thread asking try_wait()).
class Process {
public:
  /// Spawns the child. Throws errors::spawn_failed (empty argv, missing program, bad cwd, ...).
  explicit Process(const SpawnOptions& options);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  /// The child's pid, which is also its process group id.
  pid_t pid() const noexcept { return m_pid; }

  /// Our end of the child's stdin (write), stdout and stderr (read), or -1 once closed / not piped.
  /// They stay owned by the Process; poll them, do not close them.
  int stdin_fd() const noexcept { return m_stdin; }
  int stdout_fd() const noexcept { return m_stdout; }
  int stderr_fd() const noexcept { return m_stderr; }

  /// A pidfd that polls readable (POLLIN) once the child has exited, for a poll() loop; -1 when the
  /// kernel lacks pidfd_open (then call try_wait() periodically).
  int exit_fd() const noexcept { return m_pidfd; }

  /// Writes all of `data` to the child's stdin, blocking while the pipe is full. Returns false when
  /// the child no longer reads (EPIPE) or stdin is closed; never raises SIGPIPE.
  bool write_stdin(std::string_view data);

  /// Closes our end of stdin so the child reads EOF. Idempotent.
  void close_stdin() noexcept;

  /// The exit status if the child has exited (reaping it), without blocking.
  std::optional<ExitStatus> try_wait();

  /// Waits up to `timeout` for the child to exit; nullopt if it is still running.
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout);

  /// Waits for the child to exit.
  ExitStatus wait();

  /// Stops the child: SIGTERM to its process group, up to `grace` for it to exit, then SIGKILL to
  /// the group (grandchildren included), and reaps it (waitpid in an EINTR loop). Group members
  /// that were reparented to us (see become_subreaper) are reaped too. Returns the child's status;
  /// after the child has exited it only cleans up the group. Idempotent.
  ExitStatus stop(std::chrono::milliseconds grace = std::chrono::seconds(1));

  /// The exit status once known (after try_wait/wait/stop saw it).
  std::optional<ExitStatus> exit_status() const;

private:
  template <class P> void finish_start(P& in, P& out, P& err, bool pipe_stderr);
  std::optional<ExitStatus> reap_locked(bool block);
  bool wait_exited(std::chrono::milliseconds timeout); // true when exited (not necessarily reaped)
  void reap_group() noexcept;

  pid_t m_pid = -1;
  int m_pidfd = -1; // readable once the child has exited; -1 if the kernel lacks pidfd_open
  int m_stdin = -1;
  int m_stdout = -1;
  int m_stderr = -1;
  mutable std::mutex m_mutex; // guards reaping and m_status
  std::optional<ExitStatus> m_status{};
  bool m_group_cleaned = false;
};

/// Marks this process as a child subreaper (prctl PR_SET_CHILD_SUBREAPER): orphaned descendants are
/// reparented to it rather than to PID 1, so Process::stop can reap a killed group completely. Call
/// once at start-up of a process that spawns children (not every PID 1 reaps zombies).
void become_subreaper();

/// Sends `signo` to the process group of every Process alive in this process (tools, workflow
/// scripts, runtime children). For a runtime ending on a signal: its children must not outlive it.
void signal_all_groups(int signo);

/// SIGTERM to every live group, 200 ms for them to go, then SIGKILL: for a process about to exit
/// on a signal, so no tool or workflow script outlives it.
void stop_all_groups();

/// Kills (SIGKILL, whole process group) and reaps every direct child of this process that no
/// Process object owns: descendants of a dead child that were reparented to us as subreaper.
/// Returns how many it found.
std::size_t reap_orphans();

/// How long a cancelled command's process group has between SIGTERM and SIGKILL (a cancel must
/// end the work within 1 s; docs/runtime.md "Cancellation").
inline constexpr std::chrono::milliseconds k_cancel_grace{250};

/// Default cap on each captured stream of run_capture.
inline constexpr std::size_t k_default_output_cap = 10 * 1024 * 1024;

/// The outcome of a one-shot run.
struct CaptureResult {
  int exit_code = -1;         // ExitStatus::shell_code(): the code, or 128 + signal
  ExitStatus status{};        // the raw status
  std::string out{};          // stdout, at most output_cap bytes
  std::string err{};          // stderr, at most output_cap bytes
  bool timed_out = false;     // the deadline passed and the group was killed
  bool cancelled = false;     // the stop token was stopped and the group was killed
  bool out_truncated = false; // stdout exceeded the cap; the rest was read and dropped
  bool err_truncated = false;
};

/// Runs `argv` with `input` on its stdin, collects stdout and stderr until the child exits or
/// `timeout` passes (then the whole process group is killed and `timed_out` is set). Once the child
/// exits, output already written is drained and any remaining group members are killed, so nothing
/// it started outlives the call. Used for tool executables (ARCHITECTURE.md §7). When `cancel` is
/// stopped first, the group gets SIGTERM, k_cancel_grace to go, then SIGKILL, and `cancelled` is
/// set: the call returns within about k_cancel_grace of the stop. The child also dies with this
/// process, even one killed with SIGKILL (`parent_death_signal` defaults to SIGKILL here: the
/// calling thread waits for the child, so it lives exactly as long as the child should); what the
/// child started itself survives such a kill unless the sandbox contains it (bubblewrap's
/// --die-with-parent does). Throws errors::spawn_failed when the program cannot be started.
CaptureResult run_capture(const SpawnOptions& options, std::string_view input,
                          std::chrono::milliseconds timeout,
                          std::size_t output_cap = k_default_output_cap,
                          std::stop_token cancel = {});

/// run_capture for `argv` with `env` (nullopt: ours) in `cwd` (empty: ours).
CaptureResult run_capture(const std::vector<std::string>& argv, std::string_view input,
                          std::chrono::milliseconds timeout,
                          const std::optional<std::vector<std::string>>& env = std::nullopt,
                          const std::filesystem::path& cwd = {},
                          std::size_t output_cap = k_default_output_cap);

/// Writes all of `data` to `fd` (blocking or not: waits with poll on EAGAIN). Returns false on
/// EPIPE or another write error; never raises SIGPIPE.
bool write_all(int fd, std::string_view data);

} // namespace hearth::process

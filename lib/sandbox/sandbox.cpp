// Sandbox backends, the env allow-list and limits; see sandbox.hpp and docs/sandbox.md.
#include "sandbox/sandbox.hpp"

#include <algorithm>

#include "core/errors.hpp"
#include "core/text.hpp"
#include "sandbox/workspace.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace hearth::sandbox {
namespace {
namespace stdfs = std::filesystem;
using nlohmann::json;

// --- configuration ------------------------------------------------------------------------------

long long non_negative(const json& j, const char* key, const std::string& field) {
  const auto& v = j[key];
  if (!v.is_number_integer() || v.get<long long>() < 0)
    throw errors::sandbox_config_invalid(field, "must be a non-negative integer (0: no limit)");
  return v.get<long long>();
}

std::vector<std::string> strings(const json& j, const char* key) {
  const auto& v = j[key];
  if (!v.is_array()) throw errors::sandbox_config_invalid(key, "must be an array of strings");
  std::vector<std::string> out;
  for (const auto& item : v) {
    if (!item.is_string() || item.get<std::string>().empty())
      throw errors::sandbox_config_invalid(key, "must be an array of non-empty strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

bool is_env_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (const char c : name)
    if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
      return false;
  return true;
}

// --- helpers ------------------------------------------------------------------------------------

bool inside(const stdfs::path& path, const stdfs::path& root) {
  if (root.empty()) return false;
  const auto rel = path.lexically_relative(root);
  return !rel.empty() && *rel.begin() != "..";
}

/// A CLOEXEC memfd holding `content`, for bwrap's --ro-bind-data.
int data_fd(const std::string& content) {
  const int fd = ::memfd_create("hearth-sandbox", MFD_CLOEXEC);
  if (fd < 0) throw errors::spawn_failed("bwrap", std::string("memfd_create: ") + std::strerror(errno));
  std::string_view rest = content;
  while (!rest.empty()) {
    const auto n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      throw errors::spawn_failed("bwrap", "cannot write the sandbox's /etc/passwd");
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  ::lseek(fd, 0, SEEK_SET);
  return fd;
}

std::vector<process::Rlimit> rlimits(const Limits& limits) {
  std::vector<process::Rlimit> out;
  auto add = [&](int resource, long long value, unsigned long long scale) {
    if (value > 0) out.push_back({resource, static_cast<unsigned long long>(value) * scale});
  };
  add(RLIMIT_CPU, limits.cpu_seconds, 1);
  if (!out.empty()) // SIGXCPU at the limit (which names it), SIGKILL a second later
    out.back().hard = static_cast<unsigned long long>(limits.cpu_seconds) + 1;
  add(RLIMIT_AS, limits.memory_mb, 1024ULL * 1024ULL);
  add(RLIMIT_NPROC, limits.processes, 1);
  add(RLIMIT_NOFILE, limits.open_files, 1);
  return out;
}

// --- a pids cgroup per command (when the host lets us create one) --------------------------------

/// The pids cgroup directory this process lives in (cgroup v1 `pids` or the v2 unified tree),
/// or "" when there is none we could write to.
stdfs::path own_pids_cgroup() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  stdfs::path v1, v2;
  while (std::getline(in, line)) {
    const auto a = line.find(':');
    const auto b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const auto controllers = line.substr(a + 1, b - a - 1);
    const auto path = line.substr(b + 1);
    if (controllers == "pids") v1 = stdfs::path("/sys/fs/cgroup/pids") / path.substr(1);
    if (controllers.empty() && line.rfind("0:", 0) == 0)
      v2 = stdfs::path("/sys/fs/cgroup") / path.substr(path.empty() ? 0 : 1);
  }
  for (const auto& base : {v1, v2})
    if (!base.empty() && ::access(base.c_str(), W_OK) == 0 &&
        (base == v1 || stdfs::exists(base / "pids.max") ||
         stdfs::exists(base / "cgroup.subtree_control")))
      return base;
  return {};
}

/// One cgroup limiting the number of tasks of one command; removed when destroyed.
class PidsCgroup {
public:
  PidsCgroup(long long max) {
    static const stdfs::path base = own_pids_cgroup();
    static std::atomic<unsigned long> counter{0};
    if (base.empty() || max <= 0) return;
    const auto dir = base / ("hearth-sandbox-" + std::to_string(::getpid()) + "-" +
                             std::to_string(counter.fetch_add(1)));
    if (::mkdir(dir.c_str(), 0755) != 0) return;
    m_dir = dir;
    std::ofstream limit(dir / "pids.max");
    limit << max;
    limit.close();
    if (!limit) {
      release();
      return;
    }
    m_procs = ::open((dir / "cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (m_procs < 0) release();
  }
  ~PidsCgroup() { release(); }
  PidsCgroup(const PidsCgroup&) = delete;
  PidsCgroup& operator=(const PidsCgroup&) = delete;

  int procs_fd() const { return m_procs; }

private:
  void release() {
    if (m_procs >= 0) ::close(m_procs);
    m_procs = -1;
    if (m_dir.empty()) return;
    // The command and its group were killed and reaped; stragglers of a pid namespace may take
    // a moment to go.
    for (int i = 0; i < 50 && ::rmdir(m_dir.c_str()) != 0 && errno == EBUSY; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    m_dir.clear();
  }
  stdfs::path m_dir{};
  int m_procs = -1;
};

// --- backends -----------------------------------------------------------------------------------

/// The path of `host` inside the sandbox: /workspace/... for the workspace, else unchanged.
std::string inside_path(const stdfs::path& host, const Policy& policy) {
  if (!policy.workspace.empty()) {
    if (host == policy.workspace) return k_workspace_mount;
    if (inside(host, policy.workspace))
      return std::string(k_workspace_mount) + "/" + host.lexically_relative(policy.workspace).string();
  }
  return host.string();
}

/// Every read-only path of `policy` as absolute host paths.
std::vector<stdfs::path> read_paths(const Policy& policy) {
  std::vector<stdfs::path> out = policy.reads;
  for (const auto& r : policy.settings.reads) {
    const stdfs::path p(r);
    out.push_back((p.is_absolute() ? p : policy.project_root / p).lexically_normal());
  }
  return out;
}

/// The grants of `policy` as the invoker reads them ("customers/acme, shared").
std::string grants_text(const Policy& policy) {
  std::string out;
  for (const auto& g : policy.granted.value_or(std::vector<stdfs::path>{}))
    out += (out.empty() ? "" : ", ") + g.lexically_relative(policy.workspace).generic_string();
  return out;
}

/// Binds only the granted subtrees of the workspace, each at its own place under a read-only
/// tmpfs /workspace (the directories leading to them 0755, nothing else), so one path names one
/// file for file tools and commands alike and a write beside the grant fails instead of vanishing.
void add_granted_workspace(std::vector<std::string>& a, const Policy& policy) {
  std::vector<stdfs::path> grants;
  for (const auto& g : *policy.granted) {
    if (g == policy.workspace) { // the whole workspace is granted after all
      a.insert(a.end(), {"--bind", policy.workspace.string(), k_workspace_mount});
      return;
    }
    if (inside(g, policy.workspace)) grants.push_back(g);
  }
  // A grant inside another is already bound with it.
  std::erase_if(grants, [&](const stdfs::path& g) {
    return std::any_of(grants.begin(), grants.end(),
                       [&](const stdfs::path& other) { return other != g && inside(g, other); });
  });
  a.insert(a.end(), {"--perms", "0755", "--tmpfs", k_workspace_mount});
  std::vector<std::string> dirs;
  for (const auto& g : grants) {
    stdfs::path on_the_way = k_workspace_mount;
    const auto rel = g.lexically_relative(policy.workspace);
    for (auto part = rel.begin(); part != rel.end() && std::next(part) != rel.end(); ++part) {
      on_the_way /= *part;
      if (std::find(dirs.begin(), dirs.end(), on_the_way.string()) != dirs.end()) continue;
      dirs.push_back(on_the_way.string());
      a.insert(a.end(), {"--dir", on_the_way.string()});
    }
  }
  for (const auto& g : grants) a.insert(a.end(), {"--bind", g.string(), inside_path(g, policy)});
  a.insert(a.end(), {"--remount-ro", k_workspace_mount});
}

class NoneBackend final : public Backend {
public:
  std::string name() const override { return "none"; }
  bool available(std::string*) const override { return true; }
  process::SpawnOptions prepare(const Command& command, const Policy& policy,
                                std::vector<int>&) const override {
    // A process here sees all of hearth's files: a grant narrower than `all` cannot hold.
    if (policy.granted && !policy.workspace.empty())
      throw errors::grant_unenforceable(name(), grants_text(policy));
    return {.argv = command.argv,
            .env = environment(command, policy),
            .cwd = command.cwd.empty() ? policy.workspace : command.cwd,
            .pipe_stderr = policy.pipe_stderr,
            .rlimits = rlimits(policy.settings.limits)};
  }
};

class BubblewrapBackend final : public Backend {
public:
  std::string name() const override { return "bubblewrap"; }
  bool available(std::string* why) const override {
    if (find_bwrap()) return true;
    if (why) *why = std::string("bwrap is not installed (Debian package `") + k_bwrap_package + "`)";
    return false;
  }

  process::SpawnOptions prepare(const Command& command, const Policy& policy,
                                std::vector<int>& keep_alive) const override {
    const auto bwrap = find_bwrap();
    if (!bwrap) {
      std::string why;
      available(&why);
      throw errors::sandbox_unavailable(name(), why);
    }
    std::vector<std::string> a{bwrap->string()};
    auto add = [&](std::initializer_list<std::string> items) { a.insert(a.end(), items); };
    add({"--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-uts",
         "--unshare-cgroup-try"});
    if (policy.settings.network == Network::off) add({"--unshare-net"});
    const auto uid = std::to_string(k_sandbox_uid);
    add({"--uid", uid, "--gid", uid, "--hostname", "sandbox", "--die-with-parent",
         "--new-session", "--cap-drop", "ALL"});
    // The system, read-only. Merged-/usr hosts have /bin -> usr/bin etc.: keep them links.
    add({"--ro-bind", "/usr", "/usr"});
    for (const char* top : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
      std::error_code ec;
      const auto status = stdfs::symlink_status(top, ec);
      if (ec || !stdfs::exists(status)) continue;
      if (stdfs::is_symlink(status)) add({"--symlink", stdfs::read_symlink(top, ec).string(), top});
      else add({"--ro-bind", top, top});
    }
    for (const char* etc :
         {"/etc/alternatives", "/etc/ssl", "/etc/ca-certificates", "/etc/ld.so.cache",
          "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/nsswitch.conf",
          "/etc/mime.types", "/etc/protocols", "/etc/services", "/etc/os-release"})
      add({"--ro-bind-try", etc, etc});
    if (policy.settings.network == Network::allow)
      for (const char* etc : {"/etc/resolv.conf", "/etc/hosts", "/etc/gai.conf", "/etc/host.conf"})
        add({"--ro-bind-try", etc, etc});
    // Users: only the sandbox user (and root/nobody for tools that look them up).
    const int passwd = data_fd("root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:" + uid + ":" +
                               uid + ":sandbox:" + k_workspace_mount +
                               ":/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:"
                               "/usr/sbin/nologin\n");
    keep_alive.push_back(passwd);
    const int group = data_fd("root:x:0:\nsandbox:x:" + uid + ":\nnogroup:x:65534:\n");
    keep_alive.push_back(group);
    add({"--ro-bind-data", "3", "/etc/passwd", "--ro-bind-data", "4", "/etc/group"});
    add({"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/var/tmp"});
    if (!policy.workspace.empty() && !policy.granted) {
      add({"--bind", policy.workspace.string(), k_workspace_mount});
    } else if (!policy.workspace.empty()) {
      add_granted_workspace(a, policy);
    }
    for (const auto& read : read_paths(policy)) {
      std::error_code ec;
      if (!stdfs::exists(read, ec)) continue;
      add({"--ro-bind", read.string(), read.string()});
    }
    // The program itself, when it is a file outside the system directories.
    const stdfs::path program(command.argv.empty() ? std::string() : command.argv.front());
    if (program.is_absolute() && !inside(program, "/usr") && !inside(program, policy.workspace))
      add({"--ro-bind-try", program.string(), program.string()});
    const auto cwd = command.cwd.empty() ? std::string(k_workspace_mount)
                                         : inside_path(command.cwd, policy);
    add({"--chdir", cwd, "--"});
    a.insert(a.end(), command.argv.begin(), command.argv.end());
    return {.argv = std::move(a),
            .env = environment(command, policy),
            .pipe_stderr = policy.pipe_stderr,
            .rlimits = rlimits(policy.settings.limits),
            .inherit_fds = {passwd, group}};
  }
};

/// Closes the descriptors a backend kept for the spawn.
struct Closer {
  std::vector<int> fds{};
  ~Closer() {
    for (const int fd : fds) ::close(fd);
  }
};

} // namespace

void use_workspace(Policy& policy, const Workspace& workspace) {
  workspace.materialize(); // a lazy workspace exists once a process may see it
  policy.workspace = workspace.root();
  policy.granted.reset();
  if (workspace.confined()) policy.granted = workspace.granted();
}

Settings merge(Settings base, const json& j) {
  if (!j.is_object()) return base;
  if (j.contains("backend")) {
    if (!j["backend"].is_string()) throw errors::sandbox_config_invalid("backend", "must be a string");
    base.backend = j["backend"].get<std::string>();
  }
  if (j.contains("network")) {
    const auto& n = j["network"];
    if (n != "off" && n != "allow")
      throw errors::sandbox_config_invalid("network", "must be \"off\" or \"allow\"");
    base.network = n == "allow" ? Network::allow : Network::off;
  }
  if (j.contains("limits")) {
    const auto& l = j["limits"];
    if (!l.is_object()) throw errors::sandbox_config_invalid("limits", "must be an object");
    if (l.contains("cpuSeconds")) base.limits.cpu_seconds = non_negative(l, "cpuSeconds", "limits.cpuSeconds");
    if (l.contains("memoryMb")) base.limits.memory_mb = non_negative(l, "memoryMb", "limits.memoryMb");
    if (l.contains("processes")) base.limits.processes = non_negative(l, "processes", "limits.processes");
    if (l.contains("openFiles")) base.limits.open_files = non_negative(l, "openFiles", "limits.openFiles");
    if (l.contains("outputBytes"))
      base.limits.output_bytes = non_negative(l, "outputBytes", "limits.outputBytes");
  }
  if (j.contains("env"))
    for (auto& name : strings(j, "env")) {
      if (!is_env_name(name))
        throw errors::sandbox_config_invalid("env", "\"" + name + "\" is not a variable name");
      base.env.push_back(std::move(name));
    }
  if (j.contains("reads"))
    for (auto& path : strings(j, "reads")) base.reads.push_back(std::move(path));
  return base;
}

json to_json(const Settings& s) {
  return {{"backend", s.backend.empty() ? "bubblewrap" : s.backend},
          {"network", s.network == Network::allow ? "allow" : "off"},
          {"limits",
           {{"cpuSeconds", s.limits.cpu_seconds},
            {"memoryMb", s.limits.memory_mb},
            {"processes", s.limits.processes},
            {"openFiles", s.limits.open_files},
            {"outputBytes", s.limits.output_bytes}}},
          {"env", s.env},
          {"reads", s.reads}};
}

std::unique_ptr<Backend> make_backend(std::string_view name) {
  if (name.empty() || name == "bubblewrap") return std::make_unique<BubblewrapBackend>();
  if (name == "none") return std::make_unique<NoneBackend>();
  throw errors::sandbox_unknown_backend(name);
}

std::optional<stdfs::path> find_bwrap() {
  static const std::optional<stdfs::path> found = []() -> std::optional<stdfs::path> {
    if (const char* over = std::getenv("HEARTH_BWRAP")) { // tests: "" or a path
      if (*over == '\0' || ::access(over, X_OK) != 0) return std::nullopt;
      return stdfs::path(over);
    }
    const char* path = std::getenv("PATH");
    for (const auto& dir : text::split(path ? path : "", ':')) {
      if (dir.empty()) continue;
      const auto candidate = stdfs::path(std::string(dir)) / "bwrap";
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    if (::access("/usr/bin/bwrap", X_OK) == 0) return stdfs::path("/usr/bin/bwrap");
    return std::nullopt;
  }();
  return found;
}

std::string effective_backend(const Settings& settings, bool dev) {
  const auto& name = settings.backend;
  if (name == "none") return "none";
  if (!name.empty() && name != "bubblewrap") return name;
  if (!find_bwrap() && dev) return "none";
  return "bubblewrap";
}

std::vector<std::string> environment(const Command& command, const Policy& policy) {
  const bool isolated = policy.settings.backend != "none";
  std::vector<std::string> env;
  auto has = [&](std::string_view name) {
    for (const auto& e : env)
      if (e.size() > name.size() && e.compare(0, name.size(), name) == 0 && e[name.size()] == '=')
        return true;
    return false;
  };
  auto set = [&](std::string_view name, std::string value) {
    std::erase_if(env, [&](const std::string& e) {
      return e.size() > name.size() && e.compare(0, name.size(), name) == 0 && e[name.size()] == '=';
    });
    env.push_back(std::string(name) + "=" + std::move(value));
  };
  const char* path = std::getenv("PATH");
  set("PATH", path ? path : "/usr/local/bin:/usr/bin:/bin");
  set("HOME", isolated || policy.workspace.empty() ? std::string(k_workspace_mount)
                                                   : policy.workspace.string());
  for (const char* name : {"LANG", "TZ"})
    if (const char* value = std::getenv(name)) set(name, value);
  for (char** e = environ; e != nullptr && *e != nullptr; ++e)
    if (std::strncmp(*e, "HEARTH_", 7) == 0 && std::strchr(*e, '=') != nullptr) {
      const std::string_view entry(*e);
      const auto name = entry.substr(0, entry.find('='));
      // hearth's own switches, and what hearth sets per command (a value inherited from whoever
      // started hearth must never pose as the invocation's, e.g. a spoofed HEARTH_INVOKER).
      static constexpr std::string_view k_not_inherited[] = {
          "HEARTH_BWRAP",     "HEARTH_INTERNAL_IPC", "HEARTH_INVOKER",  "HEARTH_RUN_ID",
          "HEARTH_SESSION_ID", "HEARTH_WORKSPACE",   "HEARTH_AGENT",    "HEARTH_WORKFLOW",
          "HEARTH_PROTOCOL",  "HEARTH_CONTEXT", "HEARTH_CONVERSATION_KEY"};
      if (std::find(std::begin(k_not_inherited), std::end(k_not_inherited), name) !=
          std::end(k_not_inherited))
        continue;
      set(name, std::string(entry.substr(name.size() + 1)));
    }
  for (const auto& name : policy.settings.env)
    if (const char* value = std::getenv(name.c_str()); value != nullptr && !has(name))
      set(name, value);
  for (const auto& entry : command.hearth_env) {
    const auto eq = entry.find('=');
    if (eq != std::string::npos) set(entry.substr(0, eq), entry.substr(eq + 1));
  }
  if (isolated) {
    set("TMPDIR", "/tmp");
    if (has("HEARTH_WORKSPACE")) set("HEARTH_WORKSPACE", k_workspace_mount);
  }
  return env;
}

std::string breached_limit(const process::CaptureResult& capture, const Limits& limits) {
  const int code = capture.exit_code;
  const auto& err = capture.err;
  if (limits.cpu_seconds > 0 && (capture.status.signal == SIGXCPU || code == 128 + SIGXCPU))
    return "killed: CPU time limit (" + std::to_string(limits.cpu_seconds) + " s) exceeded";
  if (limits.processes > 0 && (err.find("fork: retry") != std::string::npos ||
                               err.find("fork: Resource temporarily unavailable") != std::string::npos ||
                               err.find("BlockingIOError: [Errno 11]") != std::string::npos))
    return "process limit (" + std::to_string(limits.processes) + " processes) reached";
  if (code != 0 && limits.memory_mb > 0 &&
      (err.find("MemoryError") != std::string::npos ||
       err.find("Cannot allocate memory") != std::string::npos ||
       err.find("cannot allocate memory") != std::string::npos ||
       err.find("out of memory") != std::string::npos ||
       err.find("heap out of memory") != std::string::npos))
    return "memory limit (" + std::to_string(limits.memory_mb) + " MB of address space) reached";
  if (limits.open_files > 0 && err.find("Too many open files") != std::string::npos)
    return "open files limit (" + std::to_string(limits.open_files) + ") reached";
  return {};
}

Result run(const Command& command, const Policy& policy) {
  const auto backend = make_backend(policy.settings.backend);
  Closer keep;
  auto options = backend->prepare(command, policy, keep.fds);
  PidsCgroup cgroup(backend->name() == "none" ? 0 : policy.settings.limits.processes);
  options.cgroup_procs_fd = cgroup.procs_fd();
  const auto cap = policy.settings.limits.output_bytes > 0
                       ? static_cast<std::size_t>(policy.settings.limits.output_bytes)
                       : process::k_default_output_cap * 100;
  Result result;
  result.capture =
      process::run_capture(options, command.input, command.timeout, cap, command.cancel);
  result.limit = breached_limit(result.capture, policy.settings.limits);
  return result;
}

std::unique_ptr<process::Process> start(const Command& command, const Policy& policy) {
  const auto backend = make_backend(policy.settings.backend);
  Closer keep;
  auto options = backend->prepare(command, policy, keep.fds);
  if (command.die_with_parent) options.parent_death_signal = SIGKILL;
  return std::make_unique<process::Process>(options);
}

int exec(const Command& command, const Policy& policy) {
  const auto backend = make_backend(policy.settings.backend);
  Closer keep;
  const auto options = backend->prepare(command, policy, keep.fds);
  PidsCgroup cgroup(backend->name() == "none" ? 0 : policy.settings.limits.processes);
  const auto program = options.argv.front();
  std::vector<char*> argv, envp;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : *options.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::vector<struct rlimit> limits;
  for (const auto& l : options.rlimits)
    limits.push_back({static_cast<rlim_t>(l.value), static_cast<rlim_t>(l.hard ? l.hard : l.value)});
  // The terminal's Ctrl-C goes to the command; we wait for it, then remove its cgroup.
  struct sigaction ignore {}, old_int {}, old_quit {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGINT, &ignore, &old_int);
  ::sigaction(SIGQUIT, &ignore, &old_quit);
  const pid_t pid = ::fork();
  if (pid < 0) throw errors::spawn_failed(program, std::strerror(errno));
  if (pid == 0) {
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGQUIT, SIG_DFL);
    if (cgroup.procs_fd() >= 0 && ::write(cgroup.procs_fd(), "0", 1) != 1) ::_exit(126);
    int moved[8];
    const std::size_t count = std::min<std::size_t>(options.inherit_fds.size(), 8);
    for (std::size_t i = 0; i < count; ++i)
      moved[i] = ::fcntl(options.inherit_fds[i], F_DUPFD_CLOEXEC, 64);
    for (std::size_t i = 0; i < count; ++i) ::dup2(moved[i], 3 + static_cast<int>(i));
    if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) ::_exit(126);
    for (std::size_t i = 0; i < limits.size(); ++i)
      ::setrlimit(static_cast<__rlimit_resource>(options.rlimits[i].resource), &limits[i]);
    ::execvpe(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  int raw = 0;
  while (::waitpid(pid, &raw, 0) < 0 && errno == EINTR) {
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGQUIT, &old_quit, nullptr);
  if (WIFEXITED(raw)) return WEXITSTATUS(raw);
  return WIFSIGNALED(raw) ? 128 + WTERMSIG(raw) : 1;
}

} // namespace hearth::sandbox

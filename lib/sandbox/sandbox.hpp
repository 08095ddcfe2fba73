// Sandboxes (ARCHITECTURE.md §11; docs/sandbox.md): every command an agent causes to run (bash,
// executable tools, workflow `shell`, workflow scripts) starts through `sandbox::run` or
// `sandbox::start`, never straight through process::spawn. What a command may see, use and reach is
// decided by the Policy the caller hands in (limits, network, env allow-list, read-only paths);
// the backend only enforces it. Backends: `bubblewrap` (namespaces + bind mounts, the default where
// bwrap exists) and `none` (no isolation, by explicit configuration only); `Backend` and
// `make_backend` are the seam for remote backends (docker, a remote exec service).
#pragma once

#include "core/process.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::sandbox {

class Workspace;

/// Where the session workspace appears inside a bubblewrap sandbox (and what a leading
/// `/workspace` means to the file tools, so one path names one file everywhere).
inline constexpr const char* k_workspace_mount = "/workspace";
/// The uid and gid a sandboxed command runs as (never 0).
inline constexpr int k_sandbox_uid = 1000;
/// The Debian package that provides bwrap, for messages.
inline constexpr const char* k_bwrap_package = "bubblewrap";

/// Per-command limits (docs/sandbox.md "Limits"). 0 means "no limit" for every field.
struct Limits {
  long long cpu_seconds = 60;         // RLIMIT_CPU: the command is killed (SIGXCPU/SIGKILL)
  long long memory_mb = 1024;         // RLIMIT_AS: allocations past it fail
  long long processes = 256;          // RLIMIT_NPROC inside the sandbox's user namespace
  long long open_files = 1024;        // RLIMIT_NOFILE
  long long output_bytes = 10 * 1024 * 1024; // per captured stream; the rest is dropped
};

enum class Network { off, allow };

/// The sandbox configuration as authored: hearth.json `sandbox`, agent.json `sandbox` (which
/// overrides the project's field by field) and a tool spec's `sandbox` (network, env, reads only).
struct Settings {
  std::string backend{};   // "bubblewrap" | "none" | "" (the default: bubblewrap)
  Network network = Network::off;
  Limits limits{};
  std::vector<std::string> env{};   // extra variable names passed in, resolved from our env
  std::vector<std::string> reads{}; // project-relative (or absolute) paths bound read-only
};

/// `base` with the members `json` sets replaced (env and reads are appended). `json` is an object
/// already validated by the schema (docs/hearth.schema.json `sandbox`); unknown members are
/// ignored. Throws hearth::Error sandbox_config_invalid for a value of the wrong type.
Settings merge(Settings base, const nlohmann::json& json);

/// The settings as JSON (the compiled manifest's `sandbox.policy`, `hearth info --json`):
/// {backend, network: "off"|"allow", limits: {cpuSeconds, memoryMb, processes, openFiles,
/// outputBytes}, env: [...], reads: [...]}.
nlohmann::json to_json(const Settings& settings);

/// One command to run.
struct Command {
  std::vector<std::string> argv{};
  std::string input{};                // written to stdin (run only)
  std::filesystem::path cwd{};        // host path; must be the workspace, inside it, or a read path
  std::chrono::milliseconds timeout{60'000}; // wall time (run only)
  std::vector<std::string> hearth_env{}; // "HEARTH_X=value" entries the caller adds
  /// run only: once stopped, the command's process group is killed (SIGTERM, then SIGKILL after
  /// process::k_cancel_grace) and the capture says `cancelled` (docs/runtime.md "Cancellation").
  std::stop_token cancel{};
  /// start only: the process gets SIGKILL when the thread that started it ends (also when this
  /// process is killed with SIGKILL; process::SpawnOptions::parent_death_signal), so a long-lived
  /// child (an MCP stdio server) never outlives a killed runtime. Its own children are not
  /// covered (they see their stdin close).
  bool die_with_parent = false;
};

/// Everything the backend needs to know besides the command: decided by the caller.
struct Policy {
  Settings settings{};
  std::filesystem::path workspace{};  // host directory bound read-write at /workspace ("" none)
  /// The invocation's workspace grant (docs/auth.md "Workspace grants"): nullopt binds the whole
  /// workspace; otherwise only these host subtrees of it (canonical) are bound read-write, each at
  /// /workspace/<its relative path>, and /workspace itself is an empty directory. A backend that
  /// cannot confine a command to them (`none`) refuses to start it (errors::grant_unenforceable).
  std::optional<std::vector<std::filesystem::path>> granted{};
  std::filesystem::path project_root{}; // anchors relative `reads`
  std::vector<std::filesystem::path> reads{}; // more host paths bound read-only at the same path
  bool pipe_stderr = true;            // start only: false lets the child write to our stderr
};

/// What ran and, when a limit was breached, which one.
struct Result {
  process::CaptureResult capture{};
  std::string limit{}; // e.g. "killed: CPU time limit (60 s) exceeded"; "" when none was hit
};

/// Points `policy` at `workspace`: its root as the workspace, and its grant when it is confined.
/// Creates a lazy workspace first (Workspace::materialize; throws hearth::Error io_error).
void use_workspace(Policy& policy, const Workspace& workspace);

/// A backend turns a command and a policy into the process to spawn.
class Backend {
public:
  virtual ~Backend() = default;
  /// "bubblewrap", "none", ...
  virtual std::string name() const = 0;
  /// Whether this backend can run here; when not, `why` says what is missing.
  virtual bool available(std::string* why) const = 0;
  /// The spawn options for `command` under `policy` (argv wrapped, env, cwd, rlimits).
  /// `keep_alive` receives descriptors that must stay open until the child has started.
  /// Throws hearth::Error sandbox_unavailable / spawn_failed.
  virtual process::SpawnOptions prepare(const Command& command, const Policy& policy,
                                        std::vector<int>& keep_alive) const = 0;
};

/// The backend called `name` ("" is bubblewrap). Throws hearth::Error sandbox_unknown_backend.
/// Remote backends register here when they exist.
std::unique_ptr<Backend> make_backend(std::string_view name);

/// The bwrap executable on PATH (or /usr/bin/bwrap), or nullopt.
std::optional<std::filesystem::path> find_bwrap();

/// The backend name `settings` resolves to: "bubblewrap" or "none". With `dev` (hearth dev, run,
/// connect) a missing bwrap falls back to "none"; otherwise bubblewrap stays (and fails closed).
std::string effective_backend(const Settings& settings, bool dev);

/// The environment a sandboxed command gets: PATH, HOME=/workspace (the workspace path under
/// `none`), LANG, TZ, every HEARTH_* variable of ours except the per-command ones hearth sets
/// itself (HEARTH_INVOKER, HEARTH_RUN_ID, ...; never inherited), the names `settings.env` declares (from our
/// environment, which includes the applied .env files) and `command.hearth_env`. Nothing else.
std::vector<std::string> environment(const Command& command, const Policy& policy);

/// Runs `command` to completion under `policy`, capturing stdout/stderr (each capped at
/// limits.output_bytes), killing it at `timeout` or when `command.cancel` is stopped. Throws
/// hearth::Error spawn_failed, sandbox_unavailable.
Result run(const Command& command, const Policy& policy);

/// Starts a long-lived sandboxed child (a workflow script) with piped stdio. Throws as run.
std::unique_ptr<process::Process> start(const Command& command, const Policy& policy);

/// Runs `command` under `policy` with our stdio (`hearth sandbox exec`), no wall time, and returns
/// its shell exit code (128 + signal when killed). Ctrl-C reaches the command, not us.
/// Throws hearth::Error spawn_failed / sandbox_unavailable.
int exec(const Command& command, const Policy& policy);

/// The limit a finished command breached, as the model should read it, or "" (SIGXCPU/SIGKILL
/// after CPU time, fork failures with a process limit, allocation failures with a memory limit).
std::string breached_limit(const process::CaptureResult& capture, const Limits& limits);

} // namespace hearth::sandbox

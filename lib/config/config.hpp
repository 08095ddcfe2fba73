// Project configuration: hearth.json (seed page 16, adapted), the shared project flags and the
// defaults, merged with the precedence CLI flags > hearth.json > defaults. Paths come out absolute.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hearth::config {

/// Default dev server port (Flue's DEFAULT_DEV_PORT).
inline constexpr int k_default_port = 3583;
/// Default bind address: loopback only.
inline constexpr const char* k_default_host = "127.0.0.1";
/// The config file's basename in the search directory.
inline constexpr const char* k_config_basename = "hearth.json";

/// The shared project flags of dev, run, connect, build, info and logs, as typed. Relative paths
/// resolve from `cwd`.
struct ProjectFlags {
  std::optional<std::string> root{};   // --root: project root and config search directory
  std::optional<std::string> output{}; // --output: build output directory
  std::optional<std::string> config{}; // --config: explicit hearth.json (must exist)
  std::vector<std::string> env{};      // --env: one alternate env file (more than one is an error)
  std::optional<int> port{};           // --port
  std::optional<std::string> host{};   // --host
};

/// One model provider entry of hearth.json `providers` (keyed by provider id).
struct ProviderConfig {
  std::string api{};          // "openai-chat" or "anthropic-messages"
  std::string base_url{};     // empty: the provider's default
  std::string api_key_env{};  // empty: the provider's default variable
  std::map<std::string, std::string> headers{};
};

/// Where the runtime keeps runs and sessions.
struct StoreConfig {
  enum class Kind { sqlite, memory, postgres };
  Kind kind = Kind::sqlite;
  std::filesystem::path path{}; // absolute; sqlite only
  std::string url{};            // postgres only: postgres://... or postgresql://...
  /// The store::open_store location: `sqlite:<path>`, `memory:` or the PostgreSQL URL.
  std::string location() const {
    switch (kind) {
    case Kind::memory: return "memory:";
    case Kind::postgres: return url;
    case Kind::sqlite: break;
    }
    return "sqlite:" + path.string();
  }
};

/// hearth.json `server`: HTTP limits (docs/http.md "Limits"); unset keys keep the server's
/// defaults (server::ServerOptions).
struct ServerLimits {
  std::optional<std::size_t> max_body_bytes{};
  std::optional<std::size_t> max_streams{};
  std::optional<std::size_t> max_connections{};
  std::optional<std::size_t> max_header_bytes{};
  std::optional<std::size_t> max_url_bytes{};
  std::optional<std::size_t> max_param_bytes{};
};

/// Retention of workflow-run workspaces (hearth.json `workspaces`; docs/runtime.md).
struct WorkspacesConfig {
  int retain_runs = 100;     // newest finished runs whose workspaces are kept
  double max_age_days = 30;  // older workspaces of finished runs go; 0: no age limit
};

/// hearth.json `telemetry` (docs/runtime.md "Traces"): where TraceEvents are exported as spans.
struct TelemetryConfig {
  std::string otlp_endpoint{};                        // "" = no exporter; POSTs <it>/v1/traces
  std::map<std::string, std::string> otlp_headers{};  // sent with every export
};

/// The resolved project: every path absolute and normalised.
struct Project {
  std::filesystem::path root{};        // project root
  std::filesystem::path source_root{}; // <root>/.flue, else <root>/src, else <root> (Flue)
  std::filesystem::path output{};      // build output (default <root>/dist)
  /// Where the default store and the run workspaces live: $HEARTH_STATE_DIR, else <root>/.hearth
  /// (`hearth start` sets $HEARTH_STATE_DIR to ./.hearth when unset; docs/deploy.md).
  std::filesystem::path state_dir{};
  std::filesystem::path workspaces_dir() const { return state_dir / "workspaces"; }
  std::optional<std::filesystem::path> config_file{}; // the hearth.json that was read, if any
  std::string name{};                  // root agent id: `name`, else the root directory's name
  std::string model{};                 // default model for agents that set none (may be empty)
  int port = k_default_port;
  std::string host = k_default_host;
  std::map<std::string, ProviderConfig> providers{};
  StoreConfig store{};
  ServerLimits server{};
  WorkspacesConfig workspaces{};
  TelemetryConfig telemetry{};
  std::vector<std::filesystem::path> env_files{}; // env files applied, highest precedence first
  /// hearth.json `build.include`: more paths (relative to root, no `..`) that are inputs of the
  /// build besides the discovered ones and helpers/ (docs/deploy.md).
  std::vector<std::string> build_include{};
  nlohmann::json sandbox = nlohmann::json::object(); // hearth.json `sandbox` (docs/sandbox.md)
  bool host_configured = false;        // --host or hearth.json `host` set the bind address
  nlohmann::json auth = nullptr;       // hearth.json `auth` as written (server/auth parses it)
  nlohmann::json server_json = nullptr; // hearth.json `server` as written (hosts, cors.origins)
};

/// Resolves the project for `flags` as seen from `cwd`: finds and validates hearth.json (against
/// the embedded docs/hearth.schema.json), applies flags over file values over defaults, and checks
/// that `output` is neither the root nor the source root. Does not read env files.
/// Throws hearth::Error: config_not_found, config_invalid (naming the file and the field).
Project resolve(const ProjectFlags& flags, const std::filesystem::path& cwd);

/// The values one hearth.json sets; paths already resolved against the file's directory.
struct ConfigFile {
  std::filesystem::path path{};
  std::optional<std::string> name{};
  std::optional<std::string> model{};
  std::optional<std::filesystem::path> output{};
  std::optional<int> port{};
  std::optional<std::string> host{};
  std::map<std::string, ProviderConfig> providers{};
  std::optional<StoreConfig> store{};
  ServerLimits server{};
  nlohmann::json sandbox = nlohmann::json::object();
  std::optional<WorkspacesConfig> workspaces{};
  TelemetryConfig telemetry{};
  nlohmann::json auth = nullptr;
  nlohmann::json server_json = nullptr;
  std::vector<std::string> build_include{}; // `build.include`, relative to the root
};

/// Parses and validates hearth.json text against the embedded schema; `file` (absolute) names
/// the file in messages and anchors its relative paths.
/// Throws hearth::Error config_invalid naming `file:line:column` (syntax) or the field (schema).
ConfigFile parse_config(std::string_view text, const std::filesystem::path& file);

/// The embedded JSON Schema of hearth.json (docs/hearth.schema.json).
std::string_view config_schema();

} // namespace hearth::config

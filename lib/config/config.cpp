// hearth.json parsing, validation and the flags > file > defaults merge; see config.hpp.
#include "config/config.hpp"
#include "core/json.hpp"

#include "core/embedded.hpp"
#include "core/errors.hpp"
#include "core/fs.hpp"
#include "core/json_schema.hpp"
#include "core/text.hpp"
#include "sandbox/sandbox.hpp"

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

namespace hearth::config {
namespace {
namespace stdfs = std::filesystem;
using nlohmann::json;

/// `file:line:column` of byte `offset` in `text` (1-based), for syntax errors.
std::string location(const stdfs::path& file, std::string_view text, std::size_t offset) {
  const auto [line, column] = text::line_column(text, offset);
  return file.string() + ":" + std::to_string(line) + ":" + std::to_string(column);
}

const json_schema::Validator& schema_validator() {
  static const json_schema::Validator validator(hearth::parse_json(config_schema()));
  return validator;
}

// --- validation memo -------------------------------------------------------------------------
// Compiling the schema and validating against it is half of what `hearth info` or `hearth run`
// computes (~3 million instructions, issue 17 §1), and most invocations see the text they saw
// last time. A text that validated once is remembered as an empty file named by the hash of the
// hearth version, the schema and the text, in the user's cache (XDG_CACHE_HOME, else
// ~/.cache)/hearth/validated-config/. It lives outside the project, so a cloned repository cannot
// vouch for its own hearth.json; a directory another user could write to is not trusted.

constexpr std::size_t k_memo_limit = 128; // entries; past it the directory starts over

/// The memo directory when it exists (or was just made), is ours and not group/world-writable.
std::optional<stdfs::path> memo_dir(bool create) {
  stdfs::path base;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && xdg[0] == '/')
    base = xdg;
  else if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/')
    base = stdfs::path(home) / ".cache";
  else
    return std::nullopt;
  const auto dir = base / "hearth" / "validated-config";
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (!create) return std::nullopt;
    std::error_code ec;
    stdfs::create_directories(dir.parent_path(), ec);
    if (::mkdir(dir.c_str(), 0700) != 0 || ::lstat(dir.c_str(), &st) != 0) return std::nullopt;
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 022) != 0)
    return std::nullopt;
  return dir;
}

std::string memo_name(std::string_view text) {
  std::string key = HEARTH_VERSION;
  key += '\0';
  key += config_schema();
  key += '\0';
  key += text;
  char name[17];
  std::snprintf(name, sizeof name, "%016zx", std::hash<std::string_view>{}(key));
  return name;
}

bool validated_before(std::string_view text) {
  const auto dir = memo_dir(false);
  struct stat st {};
  return dir && ::lstat((*dir / memo_name(text)).c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         st.st_uid == ::geteuid();
}

/// Best effort: a read-only or missing home only means validating again next time.
void remember_validated(std::string_view text) noexcept {
  try {
    const auto dir = memo_dir(true);
    if (!dir) return;
    std::error_code ec;
    std::size_t entries = 0;
    for (auto it = stdfs::directory_iterator(*dir, ec); !ec && it != stdfs::directory_iterator();
         it.increment(ec))
      ++entries;
    if (entries >= k_memo_limit)
      for (auto it = stdfs::directory_iterator(*dir, ec); !ec && it != stdfs::directory_iterator();
           it.increment(ec))
        stdfs::remove(it->path(), ec);
    const int fd = ::open((*dir / memo_name(text)).c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
  } catch (...) {
  }
}

// `postgres://...` or `postgresql://...` (store::is_postgres_location, without depending on it).
bool is_postgres_url(std::string_view value) {
  return text::starts_with(value, "postgres://") || text::starts_with(value, "postgresql://");
}

StoreConfig parse_store(const std::string& value, const stdfs::path& base) {
  if (value == "memory:") return {.kind = StoreConfig::Kind::memory};
  if (is_postgres_url(value)) return {.kind = StoreConfig::Kind::postgres, .url = value};
  return {.kind = StoreConfig::Kind::sqlite,
          .path = fs::absolute_from(base, value.substr(std::string_view("sqlite:").size()))};
}

ProviderConfig parse_provider(const json& j) {
  ProviderConfig provider{.api = j.value("api", ""), // optional for a built-in id (schema)
                          .base_url = j.value("baseUrl", ""),
                          .api_key_env = j.value("apiKeyEnv", "")};
  if (j.contains("headers"))
    provider.headers = j.at("headers").get<std::map<std::string, std::string>>();
  return provider;
}

/// Throws when `output` would overwrite the project (seed page 16, "output").
void check_output(const Project& project) {
  if (project.output == project.root) throw errors::output_is_root("project root", project.root.string());
  if (project.output == project.source_root)
    throw errors::output_is_root("source root", project.source_root.string());
}

} // namespace

std::string_view config_schema() {
  static const auto schema = embedded::find("docs/hearth.schema.json");
  return schema.value_or("{}");
}

ConfigFile parse_config(std::string_view text, const stdfs::path& file) {
  json j;
  try {
    j = hearth::parse_json(text);
  } catch (const json::parse_error& e) {
    const std::string what = e.what();
    const auto colon = what.find("syntax error ");
    throw errors::config_syntax(location(file, text, e.byte > 0 ? e.byte - 1 : 0),
                                colon == std::string::npos ? what : what.substr(colon));
  }
  if (!j.is_object())
    throw errors::config_invalid(file.string(), "(root)", "must be a JSON object");
  if (!validated_before(text)) {
    if (const auto violations = schema_validator().validate(j); !violations.empty())
      throw errors::config_invalid(file.string(),
                                   violations.front().pointer.empty() ? "(root)"
                                                                      : violations.front().pointer,
                                   violations.front().message);
    remember_validated(text);
  }

  const stdfs::path base = file.parent_path();
  ConfigFile config{.path = file};
  if (j.contains("name")) config.name = j["name"].get<std::string>();
  if (j.contains("model")) config.model = j["model"].get<std::string>();
  if (j.contains("output")) config.output = fs::absolute_from(base, j["output"].get<std::string>());
  if (j.contains("port")) config.port = j["port"].get<int>();
  if (j.contains("host")) config.host = j["host"].get<std::string>();
  if (j.contains("store")) config.store = parse_store(j["store"].get<std::string>(), base);
  if (j.contains("server")) {
    const auto& server = j["server"];
    auto take = [&](const char* key, std::optional<std::size_t>& into) {
      if (server.contains(key)) into = server[key].get<std::size_t>();
    };
    take("maxBodyBytes", config.server.max_body_bytes);
    take("maxStreams", config.server.max_streams);
    take("maxConnections", config.server.max_connections);
    take("maxHeaderBytes", config.server.max_header_bytes);
    take("maxUrlBytes", config.server.max_url_bytes);
    take("maxParamBytes", config.server.max_param_bytes);
  }
  if (j.contains("sandbox")) {
    try {
      sandbox::merge({}, j["sandbox"]);
    } catch (const Error& e) {
      throw errors::config_invalid(file.string(), "/sandbox", e.info().message);
    }
    config.sandbox = j["sandbox"];
  }
  if (j.contains("build") && j["build"].contains("include"))
    for (const auto& path : j["build"]["include"]) config.build_include.push_back(path.get<std::string>());
  if (j.contains("workspaces")) {
    WorkspacesConfig workspaces;
    workspaces.retain_runs = j["workspaces"].value("retainRuns", workspaces.retain_runs);
    workspaces.max_age_days = j["workspaces"].value("maxAgeDays", workspaces.max_age_days);
    config.workspaces = workspaces;
  }
  if (j.contains("telemetry") && j["telemetry"].contains("otlp")) {
    const auto& otlp = j["telemetry"]["otlp"];
    config.telemetry.otlp_endpoint = otlp.value("endpoint", std::string());
    const auto headers = otlp.value("headers", json::object()); // a named copy: items() borrows
    for (const auto& [name, value] : headers.items())
      config.telemetry.otlp_headers[name] = value.get<std::string>();
  }
  if (j.contains("auth")) config.auth = j["auth"];
  if (j.contains("server")) config.server_json = j["server"];
  if (j.contains("providers"))
    for (const auto& [id, provider] : j["providers"].items())
      config.providers[id] = parse_provider(provider);
  return config;
}

Project resolve(const ProjectFlags& flags, const stdfs::path& cwd) {
  const stdfs::path search_dir = flags.root ? fs::absolute_from(cwd, *flags.root) : cwd;
  if (flags.root && flags.root->empty())
    throw errors::usage("`--root` must not be empty.", "Pass a directory, e.g. `--root .`.");
  if (flags.output && flags.output->empty())
    throw errors::usage("`--output` must not be empty.", "Pass a directory, e.g. `--output dist`.");

  std::optional<stdfs::path> config_path;
  if (flags.config) {
    config_path = fs::absolute_from(cwd, *flags.config);
    if (!stdfs::is_regular_file(*config_path)) throw errors::config_not_found(config_path->string());
  } else if (stdfs::is_regular_file(search_dir / k_config_basename)) {
    config_path = search_dir / k_config_basename;
  }
  ConfigFile file;
  if (config_path) file = parse_config(fs::read_file(*config_path), *config_path);

  Project project;
  project.config_file = config_path;
  // The root is --root, else the directory of an explicit --config, else the search directory.
  project.root = flags.root || !config_path ? search_dir : config_path->parent_path();
  if (!stdfs::is_directory(project.root))
    throw errors::usage("Project root " + project.root.string() + " is not a directory.",
                        "Pass an existing directory with `--root`, or run hearth from one.");
  // Flue's resolveSourceRoot (seed 003, Flue project layout): .flue/, else src/, else the root.
  project.source_root = stdfs::is_directory(project.root / ".flue") ? project.root / ".flue"
                        : stdfs::is_directory(project.root / "src") ? project.root / "src"
                                                                     : project.root;
  project.output = flags.output ? fs::absolute_from(cwd, *flags.output)
                                : file.output.value_or(project.root / "dist");
  project.name = file.name.value_or(project.root.filename().string());
  project.model = file.model.value_or("");
  project.port = flags.port.value_or(file.port.value_or(k_default_port));
  project.host = flags.host.value_or(file.host.value_or(k_default_host));
  project.host_configured = flags.host.has_value() || file.host.has_value();
  project.auth = file.auth;
  project.server_json = file.server_json;
  project.providers = file.providers;
  project.server = file.server;
  project.sandbox = file.sandbox;
  const char* state_env = std::getenv("HEARTH_STATE_DIR");
  project.state_dir = state_env && *state_env ? fs::absolute_from(cwd, state_env)
                                              : project.root / ".hearth";
  // hearth.json `store` first; else DATABASE_URL when it names PostgreSQL (docs/deploy.md);
  // else SQLite in the state directory.
  const char* database_url = std::getenv("DATABASE_URL");
  if (file.store) project.store = *file.store;
  else if (database_url && is_postgres_url(database_url))
    project.store = {.kind = StoreConfig::Kind::postgres, .url = database_url};
  else project.store = {.kind = StoreConfig::Kind::sqlite, .path = project.state_dir / "state.db"};
  project.workspaces = file.workspaces.value_or(WorkspacesConfig{});
  project.build_include = file.build_include;
  project.telemetry = file.telemetry;
  check_output(project);
  return project;
}

} // namespace hearth::config

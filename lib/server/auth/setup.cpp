// Route-auth configuration of a project; see setup.hpp.
#include "server/auth/setup.hpp"

#include "core/fs.hpp"
#include "core/json.hpp"

namespace hearth::server::auth {
namespace {

std::filesystem::path eve_channel_file(const config::Project& project) {
  return project.source_root / "agent" / "channels" / "eve.json";
}

/// agent/channels/eve.json's `auth`, or null when the file or the key is absent.
nlohmann::json eve_channel_auth(const config::Project& project) {
  const auto file = eve_channel_file(project);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return nullptr;
  const auto doc = hearth::parse_json_or_discarded(fs::read_file(file));
  if (!doc.is_object() || !doc.contains("auth")) return nullptr;
  return doc["auth"];
}

std::vector<std::string> strings(const nlohmann::json& parent, const char* key) {
  std::vector<std::string> out;
  if (parent.is_object() && parent.contains(key) && parent[key].is_array())
    for (const auto& v : parent[key])
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

} // namespace

bool auth_configured(const config::Project& project) {
  return !project.auth.is_null() || !eve_channel_auth(project).is_null();
}

Config load_config(const config::Project& project, const SetupOptions& options) {
  Config config;
  config.dev = options.dev;
  config.insecure_no_auth = options.insecure_no_auth;
  const std::string source = project.config_file ? project.config_file->filename().string()
                                                 : std::string("hearth.json");
  if (!project.auth.is_null())
    config.flue = parse_entries(project.auth, project.root, source);
  else if (options.dev)
    config.flue = parse_entries(nlohmann::json::array({{{"kind", "localDev"}}}), project.root, "dev");
  const auto eve = eve_channel_auth(project);
  config.eve = eve.is_null() ? config.flue
                             : parse_entries(eve, eve_channel_file(project).parent_path(),
                                             "agent/channels/eve.json");
  const auto& server = project.server_json;
  config.browser.hosts = strings(server, "hosts");
  if (server.is_object() && server.contains("cors"))
    config.browser.origins = strings(server["cors"], "origins");
  const bool wildcard = options.bound_host == "0.0.0.0" || options.bound_host == "::" ||
                        options.bound_host.empty();
  if (!wildcard) config.browser.hosts.push_back(options.bound_host);
  // DNS rebinding targets servers on loopback; dev always checks, start when bound to loopback
  // or when `server.hosts` names the public names.
  config.browser.check_host = options.dev || is_loopback_address(options.bound_host) ||
                              options.bound_host == "localhost" || !strings(server, "hosts").empty();
  return config;
}

} // namespace hearth::server::auth

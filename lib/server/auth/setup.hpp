// Building the route-auth configuration of a project (docs/auth.md): hearth.json `auth` and
// `server`, agent/channels/eve.json `auth`, and the mode defaults (dev: localDev; start: none,
// i.e. fail closed).
#pragma once

#include "config/config.hpp"
#include "server/auth/auth.hpp"

namespace hearth::server::auth {

struct SetupOptions {
  bool dev = false;              // `hearth dev`: localDev by default, Host checked
  bool insecure_no_auth = false; // `hearth start --insecure-no-auth`
  std::string bound_host{};      // the address the server binds (a name there is allowed as Host)
};

/// The auth configuration of `project`. Throws errors::auth_config_invalid (bad entry, missing
/// environment variable, unreadable key file).
Config load_config(const config::Project& project, const SetupOptions& options);

/// True when neither hearth.json nor agent/channels/eve.json configures `auth`.
bool auth_configured(const config::Project& project);

} // namespace hearth::server::auth

// resolve_project: the one path from the shared project flags to a resolved project with its env
// files loaded, used by every command that reads a project.
#include "cli/commands/commands.hpp"
#include "config/env_file.hpp"

namespace hearth::cli {

config::Project resolve_project(const config::ProjectFlags& flags) {
  const auto cwd = std::filesystem::current_path();
  // `--env a --env b` is refused before anything is read.
  if (flags.env.size() > 1) config::env_files({}, flags.env, cwd);
  auto project = config::resolve(flags, cwd);
  project.env_files = config::env_files(project.root, flags.env, cwd);
  config::apply_env_files(project.env_files);
  return project;
}

} // namespace hearth::cli

// Shell completion scripts generated from the CLI11 definition itself, so they cannot drift from
// the flags: every subcommand and flag, fixed flag values, and project names for positionals.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <string_view>

namespace hearth::cli {

/// The supported shells, in the order `hearth completion --help` lists them.
inline const std::vector<std::string> k_completion_shells = {"bash", "zsh", "fish"};

/// The completion script for `shell` ("bash", "zsh" or "fish") describing `app`.
/// Throws std::invalid_argument for any other shell (the CLI validates it first).
std::string completion_script(const CLI::App& app, std::string_view shell);

} // namespace hearth::cli

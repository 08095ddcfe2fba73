// Option helpers shared by the subcommand files: project flags, fixed-choice options, and the
// completion hints the generated shell scripts read.
#include "cli/commands/commands.hpp"

#include <iostream>
#include <map>

namespace hearth::cli {
namespace {

// Keyed by option identity; options live as long as the CLI::App that owns them.
std::map<const CLI::Option*, std::vector<std::string>>& choice_table() {
  static std::map<const CLI::Option*, std::vector<std::string>> table;
  return table;
}

std::map<const CLI::Option*, std::string>& completion_table() {
  static std::map<const CLI::Option*, std::string> table;
  return table;
}

} // namespace

void add_project_flags(CLI::App& cmd, config::ProjectFlags& flags, bool with_server) {
  set_completion(
      cmd.add_option("--root", flags.root, "Project root and hearth.json search directory (default: cwd)"),
      "dirs");
  set_completion(
      cmd.add_option("--output", flags.output, "Build output directory (default: <root>/dist)"),
      "dirs");
  set_completion(
      cmd.add_option("--config", flags.config, "hearth.json to use, relative to cwd; must exist"),
      "files");
  set_completion(
      cmd.add_option("--env", flags.env, "One alternate .env file instead of the project's")
          ->type_name("FILE"),
      "files");
  if (with_server) {
    cmd.add_option("--port", flags.port, "Port to listen on (default: 3583)")
        ->check(CLI::Range(0, 65535));
    cmd.add_option("--host", flags.host, "Interface to bind (default: 127.0.0.1)");
  }
}

void add_target_flag(CLI::App& cmd) {
  auto* option = cmd.add_option_function<std::string>(
                        "--target",
                        [](const std::string& target) {
                          if (target != "node")
                            throw CLI::ValidationError(
                                "--target", "hearth runs as one native binary; only `node` is "
                                            "accepted (for Flue scripts) and it changes nothing.");
                          std::cerr << "note: --target node is accepted for Flue compatibility and "
                                       "ignored: hearth runs natively.\n";
                        },
                        "Flue compatibility: `node` is accepted and ignored (hearth is native)")
                     ->type_name("TARGET");
  choice_table()[option] = {"node"};
}

CLI::Option* add_choice_option(CLI::App& cmd, const std::string& name, std::string& value,
                               const std::vector<std::string>& choices,
                               const std::string& description) {
  auto* option = cmd.add_option(name, value, description)->check(CLI::IsMember(choices));
  choice_table()[option] = choices;
  return option;
}

const std::vector<std::string>& choices_of(const CLI::Option* option) {
  static const std::vector<std::string> none;
  const auto it = choice_table().find(option);
  return it == choice_table().end() ? none : it->second;
}

void set_completion(CLI::Option* option, const std::string& kind) {
  completion_table()[option] = kind;
}

std::string completion_of(const CLI::Option* option) {
  const auto it = completion_table().find(option);
  return it == completion_table().end() ? std::string{} : it->second;
}

} // namespace hearth::cli

// lib/cli/commands/complete.cpp: the hidden `hearth __complete workflows|agents` the completion
// scripts call: discovered names, one per line. Outside a project (or on any error) it prints
// nothing and exits 0, because a completion must never print an error into the user's prompt.
#include "cli/commands/commands.hpp"
#include "discovery/discovery.hpp"

#include <iostream>

namespace hearth::cli {
namespace {

void collect_agents(const discovery::Agent& agent, std::vector<std::string>& out) {
  out.push_back(agent.name);
}

int run_complete(const std::string& kind) {
  std::vector<std::string> names;
  try {
    const auto project = config::resolve({}, std::filesystem::current_path());
    const auto found = discovery::discover(project);
    if (kind == "workflows") {
      for (const auto& w : found.workflows) names.push_back(w.name);
    } else if (kind == "agents") {
      if (found.root) collect_agents(*found.root, names);
      for (const auto& a : found.agents) collect_agents(a, names);
    }
  } catch (const std::exception&) {
    return exit_code(ExitCode::ok);
  }
  for (const auto& n : names) std::cout << n << '\n';
  return exit_code(ExitCode::ok);
}

} // namespace

void register_complete(CLI::App& app, Dispatch& dispatch) {
  auto kind = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("__complete", "");
  cmd->group(""); // hidden from help
  cmd->add_option("kind", *kind, "workflows or agents")->required()->check(CLI::IsMember({"workflows", "agents"}));
  cmd->callback([&dispatch, kind] { dispatch.run = [kind] { return run_complete(*kind); }; });
}

} // namespace hearth::cli

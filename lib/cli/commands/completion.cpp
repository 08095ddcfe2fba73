// `hearth completion bash|zsh|fish`: prints a completion script generated from this very CLI
// definition (see cli/completion.hpp); the checked-in copies under completions/ are tested for drift.
#include "cli/commands/commands.hpp"
#include "cli/completion.hpp"

#include <iostream>

namespace hearth::cli {

void register_completion(CLI::App& app, Dispatch& dispatch) {
  auto shell = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("completion", "Print a shell completion script (bash, zsh, fish)");
  cmd->footer("Install:\n"
              "  bash: source <(hearth completion bash)   # add to ~/.bashrc\n"
              "  zsh:  hearth completion zsh > \"${fpath[1]}/_hearth\"\n"
              "  fish: hearth completion fish > ~/.config/fish/completions/hearth.fish");
  add_choice_option(*cmd, "shell", *shell, k_completion_shells, "Shell to generate for")
      ->required();
  cmd->callback([&app, &dispatch, shell] {
    dispatch.run = [&app, shell] {
      std::cout << completion_script(app, *shell);
      return exit_code(ExitCode::ok);
    };
  });
}

} // namespace hearth::cli

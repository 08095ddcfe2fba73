// The shared compile step; see compile_report.hpp.
#include "cli/compile_report.hpp"

#include "cli/terminal.hpp"
#include "core/fs.hpp"

#include <iostream>

namespace hearth::cli {

void print_diagnostics_report(const manifest::CompileResult& result) {
  std::cerr << "Discovery failed with " << result.errors() << " error(s) and " << result.warnings()
            << " warning(s).\nDiscovery diagnostics:\n";
  for (const auto& d : result.diagnostics) {
    const auto color = d.severity == discovery::Severity::error ? "31" : "33";
    const auto text = discovery::describe(d);
    const auto nl = text.find('\n');
    std::cerr << "- " << terminal::style(color, text.substr(0, nl))
              << (nl == std::string::npos ? "" : terminal::style("2", text.substr(nl))) << '\n';
  }
  std::cerr << "Diagnostics written to "
            << fs::display_path(result.artifacts.diagnostics, std::filesystem::current_path())
            << '\n';
}

std::optional<manifest::CompileResult> compile_reporting(const config::Project& project, bool quiet,
                                                         bool load_manifest) {
  auto result = manifest::compile(project, nullptr, load_manifest);
  if (result.errors() > 0) {
    print_diagnostics_report(result);
    return std::nullopt;
  }
  if (!quiet)
    for (const auto& d : result.diagnostics) terminal::warn(discovery::describe(d));
  return result;
}

} // namespace hearth::cli

// libFuzzer target: the tool spec, agent.json and workflow readers end to end. The input is
// written as agent/tools/t.json, agent/agent.json and workflows/w.md of a scratch project, then
// discovery walks it; schemas in the input reach valijson through check_schema.
#include "config/config.hpp"
#include "discovery/discovery.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace {
std::filesystem::path scratch() {
  static const auto dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("hearth-fuzz-spec-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d / "agent" / "tools");
    std::filesystem::create_directories(d / "workflows");
    std::ofstream(d / "agent" / "instructions.md") << "fuzz\n";
    std::ofstream(d / "agent" / "tools" / "t.sh") << "#!/bin/sh\n";
    std::filesystem::permissions(d / "agent" / "tools" / "t.sh", std::filesystem::perms(0755));
    return d;
  }();
  return dir;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto dir = scratch();
  const std::string text(reinterpret_cast<const char*>(data), size);
  // Split the input into three documents on NUL bytes so each reader sees its own text.
  std::string parts[3];
  int part = 0;
  for (const char c : text) {
    if (c == '\0' && part < 2) ++part;
    else parts[part] += c;
  }
  std::ofstream(dir / "agent" / "tools" / "t.json", std::ios::binary | std::ios::trunc) << parts[0];
  std::ofstream(dir / "agent" / "agent.json", std::ios::binary | std::ios::trunc) << parts[1];
  std::ofstream(dir / "workflows" / "w.md", std::ios::binary | std::ios::trunc) << parts[2];
  hearth::config::Project project;
  project.root = dir;
  project.source_root = dir;
  project.name = "fuzz";
  const auto found = hearth::discovery::discover(project);
  for (const auto& d : found.diagnostics) (void)hearth::discovery::describe(d);
  return 0;
}

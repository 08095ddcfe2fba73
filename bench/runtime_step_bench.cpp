// The runtime's own cost per model step: one turn of N steps against a zero-latency model
// (mock/script), each step calling the built-in `glob` tool (no process), with events committed to
// a SQLite file store as in production. Prints the mean cost per step; target <= 1 ms.
#include "runtime/runtime.hpp"
#include "store/store.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

int main(int argc, char** argv) {
  namespace stdfs = std::filesystem;
  const int steps = argc > 1 ? std::atoi(argv[1]) : 200;
  const stdfs::path dir = stdfs::temp_directory_path() / "hearth-step-bench";
  stdfs::remove_all(dir);
  stdfs::create_directories(dir / "agent");
  {
    std::ofstream script(dir / "agent" / "mock.jsonl");
    for (int i = 0; i < steps - 1; ++i)
      script << R"({"toolCalls":[{"name":"glob","input":{"pattern":"*.md"}}]})" << '\n';
    script << R"({"text":"done"})" << '\n';
  }
  using namespace hearth::runtime;
  for (const char* location : {"sqlite:state.db", "memory:"}) {
    auto store = hearth::store::open_store(location, dir);
    AgentDef agent{.name = "bench", .model = "mock/script", .instructions = "Benchmark.",
                   .max_steps = steps + 1, .mock_script = dir / "agent" / "mock.jsonl"};
    Runtime runtime(Program{.root_agent = "bench", .agents = {agent}},
                    RuntimeContext{.project_root = dir}, *store);
    std::size_t events = 0;
    const auto start = std::chrono::steady_clock::now();
    runtime.prompt_agent("bench", location, "default", "go", nlohmann::json(), "",
                         [&](const nlohmann::json&) { ++events; });
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                                start).count();
    std::printf("%-16s %d steps, %zu events: %.3f ms per step (target <= 1 ms), %.1f us per event\n",
                location, steps, events, ms / steps, ms * 1000 / static_cast<double>(events));
  }
  stdfs::remove_all(dir);
}

// History cost per step (issue 16 §2): a session turn of N steps against a zero-latency model
// (mock/script calling the built-in `glob`, whose ~1 KB argument makes the history grow), events
// committed to memory, at 20 and 200 steps. A step should cost O(new messages), not O(history):
// the 200-step figure should stay within 1.5x of the 20-step one. Prints both and the ratio.
#include "runtime/runtime.hpp"
#include "store/store.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace {
namespace stdfs = std::filesystem;
using namespace hearth::runtime;

/// Milliseconds of one turn of `steps` steps (best of `rounds`).
double turn_ms(const stdfs::path& dir, int steps, int rounds) {
  const auto script_path = dir / ("mock-" + std::to_string(steps) + ".jsonl");
  {
    std::ofstream script(script_path);
    const std::string pad(1000, 'p'); // a large argument: re-serialising it is what costs
    for (int i = 0; i < steps - 1; ++i)
      script << R"({"toolCalls":[{"name":"glob","input":{"pattern":"*.md","path":".","note":")"
             << pad << R"("}}]})" << '\n';
    script << R"({"text":"done"})" << '\n';
  }
  double best = 1e18;
  for (int round = 0; round < rounds; ++round) {
    auto store = hearth::store::open_store("memory:", dir);
    AgentDef agent{.name = "bench", .model = "mock/script", .instructions = "Benchmark.",
                   .max_steps = steps + 1, .mock_script = script_path};
    Runtime runtime(Program{.root_agent = "bench", .agents = {agent}},
                    RuntimeContext{.project_root = dir}, *store);
    const auto start = std::chrono::steady_clock::now();
    runtime.prompt_agent("bench", "i" + std::to_string(round), "default", "go", nlohmann::json(), "",
                         {});
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    best = std::min(best, ms);
  }
  return best;
}

} // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  const stdfs::path dir = stdfs::temp_directory_path() / "hearth-history-bench";
  stdfs::remove_all(dir);
  stdfs::create_directories(dir);
  // The turn's fixed cost (workspace, session load and save) is measured with one step and
  // taken out, so the figures are the marginal cost of a step.
  const double fixed = turn_ms(dir, 1, rounds);
  const double small = (turn_ms(dir, 20, rounds) - fixed) / 19;
  const double large = (turn_ms(dir, 200, rounds) - fixed) / 199;
  std::printf("fixed cost of a turn: %.3f ms\n", fixed);
  std::printf("per-step runtime overhead:  20 steps %.3f ms   200 steps %.3f ms   ratio %.2f "
              "(target <= 1.5)\n",
              small, large, large / small);
  stdfs::remove_all(dir);
}

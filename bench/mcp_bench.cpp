// bench_mcp: one MCP connection tool call round trip over stdio (mcp::Pool::call: framing, the
// pipe both ways, the reader thread, the waiting caller) against the fixture server
// tests/e2e/fixtures/mcp_server.py, minus the server's own handling time (its `_meta.serverMs`).
// The difference is what hearth adds per call (issue 13: target <= 1 ms); the python server's
// own stdio read/write is part of it. Prints figures; asserts nothing. Usage: bench_mcp [calls]
#include "mcp/connections.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace hearth;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::max(1, std::atoi(argv[1])) : 2000;
  mcp::Pool pool({.project_root = std::filesystem::temp_directory_path()});
  sandbox::Policy policy;
  policy.settings.backend = "none";
  pool.add(mcp::parse_connection("bench",
                                 {{"name", "fx"},
                                  {"command", "python3"},
                                  {"args", {HEARTH_SOURCE_DIR "/tests/e2e/fixtures/mcp_server.py"}}},
                                 std::filesystem::temp_directory_path()),
           policy);
  const auto start = Clock::now();
  pool.tools("bench", "fx");
  std::printf("start + initialize + tools/list: %.2f ms\n",
              std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  for (int i = 0; i < 100; ++i) pool.call("bench", "fx", "noop", nlohmann::json::object()); // warm
  std::vector<double> total, added;
  for (int i = 0; i < calls; ++i) {
    const auto t0 = Clock::now();
    const auto result = pool.call("bench", "fx", "noop", nlohmann::json::object());
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    total.push_back(ms);
    added.push_back(ms - result["_meta"]["serverMs"].get<double>());
  }
  const auto pct = [](std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
  };
  std::printf("%d calls: round trip p50 %.3f ms p99 %.3f ms; added over the server's own time "
              "p50 %.3f ms p99 %.3f ms\n",
              calls, pct(total, 0.5), pct(total, 0.99), pct(added, 0.5), pct(added, 0.99));
  pool.shutdown();
  return 0;
}

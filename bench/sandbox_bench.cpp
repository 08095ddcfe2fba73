// bench_sandbox: what the sandbox adds to starting one command (sandbox::run of `true`), per backend:
// median and p90 of N runs (default 60) for `none` and `bubblewrap`, and the difference. Also times
// bwrap alone (no rlimits, no cgroup, no generated /etc files) to show where the cost goes.
#include "core/process.hpp"
#include "sandbox/sandbox.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace {
using Clock = std::chrono::steady_clock;
namespace sandbox = hearth::sandbox;

struct Stats {
  double median = 0;
  double p90 = 0;
};

template <class F> Stats measure(int runs, F&& f) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[ms.size() * 9 / 10]};
}

} // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(5, std::atoi(argv[1])) : 60;
  const auto workspace = std::filesystem::temp_directory_path() / "hearth-sandbox-bench";
  std::filesystem::create_directories(workspace);
  auto run = [&](const std::string& backend) {
    sandbox::Policy policy{.workspace = workspace};
    policy.settings.backend = backend;
    const auto r = sandbox::run({.argv = {"true"}, .timeout = std::chrono::seconds(10)}, policy);
    if (r.capture.exit_code != 0) {
      std::fprintf(stderr, "%s: exit %d: %s\n", backend.c_str(), r.capture.exit_code,
                   r.capture.err.c_str());
      std::exit(1);
    }
  };
  std::printf("sandbox start-up per command, %d runs of `true` (ms)\n", runs);
  const auto none = measure(runs, [&] { run("none"); });
  std::printf("  none                    median %6.2f  p90 %6.2f\n", none.median, none.p90);
  const auto plain = measure(runs, [&] {
    hearth::process::run_capture({"true"}, "", std::chrono::seconds(10));
  });
  std::printf("  process::run_capture    median %6.2f  p90 %6.2f\n", plain.median, plain.p90);
  if (!sandbox::find_bwrap()) {
    std::printf("  bubblewrap: bwrap is not installed\n");
    return 0;
  }
  const auto bwrap = measure(runs, [&] { run("bubblewrap"); });
  std::printf("  bubblewrap              median %6.2f  p90 %6.2f\n", bwrap.median, bwrap.p90);
  const auto bare = measure(runs, [&] {
    hearth::process::run_capture({sandbox::find_bwrap()->string(), "--unshare-all", "--ro-bind",
                                  "/usr", "/usr", "--symlink", "usr/lib64", "/lib64", "--symlink",
                                  "usr/lib", "/lib", "--symlink", "usr/bin", "/bin", "--", "true"},
                                 "", std::chrono::seconds(10));
  });
  std::printf("  bwrap --unshare-all     median %6.2f  p90 %6.2f  (namespaces alone)\n", bare.median,
              bare.p90);
  std::printf("added by bubblewrap over none: %.2f ms (median)\n", bwrap.median - none.median);
  return 0;
}

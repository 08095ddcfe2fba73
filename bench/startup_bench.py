#!/usr/bin/env python3
"""Start-up benchmark (issue 17 §1): `hearth --version` and `hearth --help` against a static and a
dynamic C++ hello world that this script builds itself, measured side by side in one run.

Usage: bench/startup_bench.py [path/to/hearth] [--runs N]   (default build/release/apps/hearth/hearth,
200 runs each). Needs a C++ compiler (g++, Debian package build-essential).

The programs are started by a small C++ runner (built here too, statically) with posix_spawn and
wait4, in interleaved rounds so that noise from other processes falls on every program alike.
Wall time covers spawn, exec, dynamic loading, static initialisers, the output and exit. Peak RSS
is wait4()'s ru_maxrss, which the kernel takes as the larger of the program's own peak and the
runner's size at exec (posix_spawn uses vfork): the static hello world's figure is that floor.
Targets: hearth --version <= 1.5x the static hello world's median, peak RSS <= 8 MB."""
import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

HELLO = r"""
#include <iostream>
int main() { std::cout << "hello 0.1.0" << std::endl; return 0; }
"""

RUNNER = r"""
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <vector>
#include <string>
#include <unistd.h>
extern char** environ;
// runner RUNS PROGRAM_COUNT (ARGC ARGV...)...: interleaved rounds; prints per program:
// median_us p90_us max_rss_kb, then the runner's own peak RSS.
int main(int argc, char** argv) {
  const int runs = std::atoi(argv[1]);
  const int count = std::atoi(argv[2]);
  std::vector<std::vector<char*>> progs;
  int i = 3;
  for (int p = 0; p < count; ++p) {
    const int n = std::atoi(argv[i++]);
    std::vector<char*> args(argv + i, argv + i + n);
    args.push_back(nullptr);
    i += n;
    progs.push_back(args);
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::vector<std::vector<double>> us(progs.size());
  std::vector<long> rss(progs.size(), 0);
  for (int r = -3; r < runs; ++r) { // 3 warm-up rounds
    for (std::size_t p = 0; p < progs.size(); ++p) {
      timespec a{}, b{};
      clock_gettime(CLOCK_MONOTONIC, &a);
      pid_t pid;
      if (posix_spawn(&pid, progs[p][0], &fa, nullptr, progs[p].data(), environ) != 0) return 2;
      int status = 0;
      rusage ru{};
      wait4(pid, &status, 0, &ru);
      clock_gettime(CLOCK_MONOTONIC, &b);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 3;
      if (r < 0) continue;
      us[p].push_back((b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3);
      rss[p] = std::max(rss[p], ru.ru_maxrss);
    }
  }
  for (std::size_t p = 0; p < progs.size(); ++p) {
    auto& v = us[p];
    std::sort(v.begin(), v.end());
    std::printf("%.1f %.1f %ld\n", v[v.size() / 2], v[v.size() * 9 / 10], rss[p]);
  }
  return 0;
}
"""


def build(tmp, name, source, flags):
    src = os.path.join(tmp, name + ".cpp")
    with open(src, "w") as f:
        f.write(source)
    out = os.path.join(tmp, name)
    subprocess.run(["c++", "-O2", "-std=c++20", *flags, src, "-o", out], check=True)
    return out


def shared_objects(binary):
    """The shared objects the loader maps for `binary` (ldd), or '?'."""
    try:
        r = subprocess.run(["ldd", binary], capture_output=True, text=True)
    except OSError:
        return "?"
    if "not a dynamic executable" in r.stdout + r.stderr:
        return "0"
    return str(sum(1 for line in r.stdout.splitlines() if "=>" in line or "ld-linux" in line))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", nargs="?",
                        default=os.path.join(ROOT, "build", "release", "apps", "hearth", "hearth"))
    parser.add_argument("--runs", type=int, default=200, help="runs per program (default: 200)")
    opts = parser.parse_args()
    if not os.access(opts.binary, os.X_OK):
        sys.exit(f"no hearth binary at {opts.binary}; build it: cmake --preset release && "
                 "cmake --build --preset release --target hearth")
    with tempfile.TemporaryDirectory(prefix="hearth-startup-") as tmp:
        static_hello = build(tmp, "hello_static", HELLO, ["-static"])
        dynamic_hello = build(tmp, "hello_dynamic", HELLO, [])
        # Linked as the release hearth is: libstdc++ static, glibc (libc, libm) and libgcc_s
        # shared. The floor for that choice (docs/building.md: NSS and dlopen need glibc shared).
        glibc_hello = build(tmp, "hello_glibc_shared", HELLO, ["-static-libstdc++"])
        runner = build(tmp, "runner", RUNNER, ["-static"])
        programs = [("static hello world", [static_hello]),
                    ("dynamic hello world", [dynamic_hello]),
                    ("hello, hearth's linking", [glibc_hello]),
                    ("hearth --version", [opts.binary, "--version"]),
                    ("hearth --help", [opts.binary, "--help"])]
        argv = [runner, str(opts.runs), str(len(programs))]
        for _, args in programs:
            argv += [str(len(args)), *args]
        out = subprocess.run(argv, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"runner failed ({out.returncode}): a program exited non-zero")
        lines = out.stdout.split("\n")
        objects = [shared_objects(args[0]) for _, args in programs]
    rows = [tuple(float(x) for x in line.split()) for line in lines[:len(programs)]]
    static_ms = rows[0][0] / 1000
    print(f"hearth: {opts.binary}  runs: {opts.runs} each, interleaved")
    print(f"{'program':<24}{'median ms':>10}{'p90 ms':>9}{'x static':>9}{'peak RSS MB':>13}"
          f"{'shared objs':>12}")
    for (name, _), (median, p90, rss), shared in zip(programs, rows, objects):
        print(f"{name:<24}{median / 1000:>10.2f}{p90 / 1000:>9.2f}"
              f"{median / 1000 / static_ms:>9.2f}{rss / 1024:>13.2f}{shared:>12}")
    version = rows[3]
    ratio = version[0] / 1000 / static_ms
    met = ratio <= 1.5 and version[2] / 1024 <= 8
    print(f"target hearth --version <= 1.5x static hello and <= 8 MB: "
          f"{'met' if met else 'MISSED'} ({ratio:.2f}x, {version[2] / 1024:.2f} MB)")
    print(f"hearth --version against a hello world linked the same way: "
          f"{version[0] / rows[2][0]:.2f}x")
    return 0  # figures, not a pass/fail gate


if __name__ == "__main__":
    sys.exit(main())

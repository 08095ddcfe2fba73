#!/usr/bin/env python3
"""CLI start-up benchmark: runs `hearth --version` and `hearth --help` many times and prints the
median and worst wall time and peak RSS per command. Figures, not assertions (targets: median
<= 5 ms and <= 8 MB).

Usage: bench/cli_bench.py [path/to/hearth] [--runs N]   (default: build/release/apps/hearth/hearth)
Wall time is measured around a direct spawn. Peak RSS comes from GNU time (`/usr/bin/time -f %M`)
(Debian package `time`): a child spawned by Python keeps Python's RSS high-water mark across exec,
so wait4()'s or getrusage()'s ru_maxrss would report Python's size, not hearth's. Without GNU time
the RSS column reads n/a rather than a wrong figure."""
import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMANDS = [["--version"], ["--help"], ["completion", "bash"]]
TARGET_MS, TARGET_MB = 5.0, 8.0


GNU_TIME = "/usr/bin/time"


def wall_seconds(binary, args):
    """One direct run's wall time; output goes to /dev/null."""
    start = time.perf_counter()
    code = subprocess.call([binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    if code != 0:
        sys.exit(f"{binary} {' '.join(args)} exited {code}")
    return wall


def peak_rss_kib(binary, args):
    """One run's peak RSS in KiB via GNU time (see the module doc), or None without it."""
    if not os.access(GNU_TIME, os.X_OK):
        return None
    r = subprocess.run([GNU_TIME, "-f", "%M", binary, *args], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, check=True)
    return int(r.stderr.strip().splitlines()[-1])


def measure(binary, args):
    """One run: (wall seconds, peak RSS in KiB)."""
    return wall_seconds(binary, args), peak_rss_kib(binary, args)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", nargs="?",
                        default=os.path.join(ROOT, "build", "release", "apps", "hearth", "hearth"))
    parser.add_argument("--runs", type=int, default=30, help="runs per command (default: 30)")
    opts = parser.parse_args()
    if not os.access(opts.binary, os.X_OK):
        sys.exit(f"no hearth binary at {opts.binary}; build it: cmake --preset release && "
                 "cmake --build --preset release")

    rss_via = GNU_TIME + " -f %M" if os.access(GNU_TIME, os.X_OK) else "n/a (install `time`)"
    print(f"binary: {opts.binary}  runs per command: {opts.runs}  peak RSS via: {rss_via}")
    print(f"{'command':<24}{'median ms':>10}{'max ms':>9}{'peak RSS MB':>13}  target")
    for args in COMMANDS:
        measure(opts.binary, args)  # warm the page cache
        runs = [measure(opts.binary, args) for _ in range(opts.runs)]
        median_ms = statistics.median(w for w, _ in runs) * 1000
        max_ms = max(w for w, _ in runs) * 1000
        rss = [r for _, r in runs if r is not None]
        rss_mb = max(rss) / 1024 if rss else None
        met = median_ms <= TARGET_MS and (rss_mb is None or rss_mb <= TARGET_MB)
        rss_text = f"{rss_mb:.2f}" if rss_mb is not None else "n/a"
        print(f"{'hearth ' + ' '.join(args):<24}{median_ms:>10.2f}{max_ms:>9.2f}{rss_text:>13}  "
              f"{'met' if met else 'MISSED'} (<= {TARGET_MS:g} ms, <= {TARGET_MB:g} MB)")
    return 0  # figures, not a pass/fail gate (bench/CMakeLists.txt)


if __name__ == "__main__":
    sys.exit(main())

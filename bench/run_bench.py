#!/usr/bin/env python3
"""`hearth run hello` benchmark: runs the hello workflow of examples/hello with --model mock/echo
many times and prints the median and worst wall time and the peak RSS (the hearth process tree:
GNU time reports the larger of hearth's and its waited children's high-water marks). Figures, not
assertions (targets: median <= 25 ms and <= 20 MB; Flue 0.11's `flue run` takes 5.2 s, 445 MB).

Usage: bench/run_bench.py [path/to/hearth] [--runs N] [--model provider/model]"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GNU_TIME = "/usr/bin/time"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", nargs="?", default=os.path.join(ROOT, "build/release/apps/hearth/hearth"))
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--model", default="mock/echo")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="hearth-run-bench-")
    project = os.path.join(work, "hello")
    shutil.copytree(os.path.join(ROOT, "examples", "hello"), project)
    cmd = [os.path.abspath(args.binary), "run", "hello", "--payload", '{"name":"World"}',
           "--model", args.model]
    subprocess.run(cmd, cwd=project, check=True, capture_output=True)  # warm: compile once
    walls, rss = [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=project, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append((time.perf_counter() - start) * 1000)
        if os.access(GNU_TIME, os.X_OK):
            r = subprocess.run([GNU_TIME, "-f", "%M", *cmd], cwd=project, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            rss.append(int(r.stderr.strip().splitlines()[-1]) / 1024)
    shutil.rmtree(work)
    print(f"{'command':34} {'median ms':>9} {'max ms':>8} {'peak RSS MB':>12}  target")
    peak = f"{max(rss):12.2f}" if rss else f"{'n/a':>12}"
    median = statistics.median(walls)
    met = "met" if median <= 25 and (not rss or max(rss) <= 20) else "MISSED"
    print(f"{'hearth run hello (' + args.model + ')':34} {median:9.2f} {max(walls):8.2f} {peak}  "
          f"{met} (<= 25 ms, <= 20 MB)")


if __name__ == "__main__":
    sys.exit(main())

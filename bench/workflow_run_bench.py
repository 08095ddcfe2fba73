#!/usr/bin/env python3
"""Whole-run benchmark: `hearth run greet` (the Python programmable workflow of examples/hello)
against `hearth run hello` (the declarative one) on the same agent and mock/script, each run N
times in a copy of examples/hello; prints the median and worst wall time. Figures, not assertions.

Usage: bench/workflow_run_bench.py [path/to/hearth] [--runs N]   (default: build/release/apps/hearth/hearth)
Both include what every `hearth run` does (compile check, runtime child start-up); the difference
is the script: interpreter start-up, the helper import and the protocol traffic."""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKFLOWS = [("hello", "declarative (workflows/hello.md)"),
             ("greet", "Python (workflows/greet.py)"),
             ("greet-node", "Node (workflows/greet-node.mjs)")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", nargs="?",
                        default=os.path.join(ROOT, "build", "release", "apps", "hearth", "hearth"))
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    args.binary = os.path.abspath(args.binary)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    with tempfile.TemporaryDirectory(prefix="hearth-bench-") as tmp:
        project = os.path.join(tmp, "hello")
        shutil.copytree(os.path.join(ROOT, "examples", "hello"), project,
                        ignore=shutil.ignore_patterns(".hearth", "dist"))
        print(f"{'workflow':<36} {'median ms':>10} {'max ms':>8}")
        for name, label in WORKFLOWS:
            if name == "greet-node" and not shutil.which("node"):
                print(f"{label:<36} skipped: node is not installed")
                continue
            times = []
            for _ in range(args.runs + 1):  # the first run also compiles; not counted
                start = time.perf_counter()
                r = subprocess.run([args.binary, "run", name, "--payload", '{"name":"World"}'],
                                   cwd=project, env=env, capture_output=True, text=True)
                times.append((time.perf_counter() - start) * 1000)
                if r.returncode != 0:
                    sys.exit(f"hearth run {name} exited {r.returncode}:\n{r.stderr}")
            times = times[1:]
            print(f"{label:<36} {statistics.median(times):>10.1f} {max(times):>8.1f}")


if __name__ == "__main__":
    main()

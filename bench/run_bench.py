#!/usr/bin/env python3
"""`hearth run hello` benchmark: runs the hello workflow of examples/hello with --model mock/echo
many times, cold (a runtime child per run, HEARTH_NO_WARM=1) and warm (the runtime of a
`hearth dev` of the project running on a free port, issue 17 §2, docs/ipc.md "Warm runtime"),
beside `hearth --version`. Prints the median and worst wall time, the peak RSS of the cold process
tree (GNU time reports the larger of hearth's and its waited children's high-water marks) and the
warm/--version ratio. Figures, not assertions (targets: cold median <= 25 ms and <= 20 MB; warm
median <= 3x `hearth --version`; Flue 0.11's `flue run` takes 5.2 s, 445 MB).

Usage: bench/run_bench.py [path/to/hearth] [--runs N] [--model provider/model] [--no-warm]"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GNU_TIME = "/usr/bin/time"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd, cwd, env, runs):
    """Wall times (ms) of `runs` runs of `cmd`."""
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        walls.append((time.perf_counter() - start) * 1000)
    return walls


def timed_pairs(first, second, cwd, env, runs):
    """Wall times (ms) of `first` and `second` run alternately, so that noise from other
    processes falls on both alike; returns the two lists."""
    a, b = [], []
    for _ in range(runs):
        a += timed(first, cwd, env, 1)
        b += timed(second, cwd, env, 1)
    return a, b


def start_dev(binary, project, env):
    """`hearth dev` of `project` on a free port, once it serves (and its warm socket exists)."""
    dev = subprocess.Popen([binary, "dev", "--port", str(free_port())], cwd=project, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in dev.stderr:
        if "server listening at" in line:
            break
    else:
        raise SystemExit("hearth dev did not start")
    # Keep draining its stderr so it never blocks on a full pipe.
    import threading
    threading.Thread(target=lambda: [None for _ in dev.stderr], daemon=True).start()
    return dev


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", nargs="?", default=os.path.join(ROOT, "build/release/apps/hearth/hearth"))
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--model", default="mock/echo")
    parser.add_argument("--no-warm", action="store_true", help="skip the warm figure")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    work = tempfile.mkdtemp(prefix="hearth-run-bench-")
    project = os.path.join(work, "hello")
    shutil.copytree(os.path.join(ROOT, "examples", "hello"), project,
                    ignore=shutil.ignore_patterns(".hearth", "dist"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    cold_env = dict(env, HEARTH_NO_WARM="1")
    cmd = [binary, "run", "hello", "--payload", '{"name":"World"}', "--model", args.model]
    subprocess.run(cmd, cwd=project, env=cold_env, check=True, capture_output=True)  # compile once
    rows = []
    version = timed([binary, "--version"], project, env, args.runs)
    rows.append(("hearth --version", version, None))
    cold = timed(cmd, project, cold_env, args.runs)
    rss = []
    if os.access(GNU_TIME, os.X_OK):
        for _ in range(min(args.runs, 5)):
            r = subprocess.run([GNU_TIME, "-f", "%M", *cmd], cwd=project, env=cold_env, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            rss.append(int(r.stderr.strip().splitlines()[-1]) / 1024)
    rows.append(("hearth run hello, cold (" + args.model + ")", cold, max(rss) if rss else None))
    warm = None
    if not args.no_warm:
        dev = start_dev(binary, project, env)
        try:
            check = subprocess.run(cmd, cwd=project, env=dict(env, HEARTH_DEBUG_WARM="1"),
                                   capture_output=True, text=True, check=True)
            if "warm runtime: using" not in check.stderr:
                raise SystemExit("the warm runtime was not used:\n" + check.stderr)
            version_beside_warm, warm = timed_pairs([binary, "--version"], cmd, project, env,
                                                    args.runs)
        finally:
            dev.send_signal(signal.SIGINT)
            dev.wait(timeout=30)
        rows.append(("hearth run hello, warm (" + args.model + ")", warm, None))
    shutil.rmtree(work)
    print(f"{'command':40} {'median ms':>9} {'max ms':>8} {'peak RSS MB':>12}")
    for name, walls, peak in rows:
        peak_text = f"{peak:12.2f}" if peak is not None else f"{'':>12}"
        print(f"{name:40} {statistics.median(walls):9.2f} {max(walls):8.2f} {peak_text}")
    base = statistics.median(version)
    cold_median = statistics.median(cold)
    met = "met" if cold_median <= 25 and (not rss or max(rss) <= 20) else "MISSED"
    print(f"cold: {cold_median / base:.1f}x --version; {met} (<= 25 ms, <= 20 MB)")
    if warm:
        # Against the --version runs interleaved with the warm ones (same conditions).
        beside = statistics.median(version_beside_warm)
        ratio = statistics.median(warm) / beside
        print(f"warm: {ratio:.2f}x --version ({beside:.2f} ms, interleaved); "
              f"{'met' if ratio <= 3 else 'MISSED'} (<= 3x)")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Durable throughput (issue 17 §3): `POST /workflows/hello?wait=result` through `hearth start`,
sequential and 16 concurrent, with `ab` (Debian package apache2-utils), on the SQLite store
(synchronous NORMAL, the default, and FULL) and the memory store. Prints runs/s per configuration.
Figures, not assertions (targets: SQLite sequential >= 1,500/s, memory >= 4,000/s, 16 concurrent
>= 2,500/s).

Usage: bench/throughput_bench.py [path/to/hearth] [--seconds S] [--concurrency C]
(default build/release/apps/hearth/hearth, 5 s per figure, 16 concurrent clients).

The project is generated in a temporary directory: one declarative workflow with a result schema
(examples/hello's `hello`) on an agent with no tools of its own, model mock/echo, so a run is one
model step plus the result check and every event it writes (about 35) goes to the store. Loopback
only; `hearth start --insecure-no-auth` on a free port."""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STORES = [("sqlite (synchronous=NORMAL)", "sqlite:state/state.db"),
          ("sqlite (synchronous=FULL)", "sqlite:state/state.db?synchronous=full"),
          ("memory", "memory:")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_project(tmp, hearth, store):
    proj = os.path.join(tmp, "proj")
    shutil.rmtree(proj, ignore_errors=True)
    os.makedirs(os.path.join(proj, "workflows"))
    os.makedirs(os.path.join(proj, "agent"))
    with open(os.path.join(proj, "hearth.json"), "w") as f:
        json.dump({"name": "perf", "model": "mock/echo", "store": store}, f)
    with open(os.path.join(proj, "agent", "agent.json"), "w") as f:
        json.dump({"model": "mock/echo", "description": "Greets."}, f)
    with open(os.path.join(proj, "agent", "instructions.md"), "w") as f:
        f.write("You greet.\n")
    shutil.copy(os.path.join(ROOT, "examples", "hello", "workflows", "hello.md"),
                os.path.join(proj, "workflows", "hello.md"))
    subprocess.run([hearth, "build"], cwd=proj, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return proj


def ab(url, payload, seconds, concurrency):
    r = subprocess.run(["ab", "-q", "-t", str(seconds), "-n", "10000000", "-c", str(concurrency),
                        "-p", payload, "-T", "application/json", url],
                       capture_output=True, text=True)
    rate = re.search(r"Requests per second:\s+([\d.]+)", r.stdout)
    failed = re.search(r"Failed requests:\s+(\d+)", r.stdout)
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", r.stdout)
    errors = int(failed.group(1)) if failed else -1
    errors += int(non2xx.group(1)) if non2xx else 0
    return (float(rate.group(1)) if rate else 0.0), errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", nargs="?",
                        default=os.path.join(ROOT, "build", "release", "apps", "hearth", "hearth"))
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    opts = parser.parse_args()
    if not shutil.which("ab"):
        sys.exit("needs ab: apt-get install apache2-utils")
    hearth = os.path.abspath(opts.binary)
    print(f"hearth: {hearth}  {opts.seconds} s per figure")
    print(f"{'store':<30}{'sequential runs/s':>19}{f'{opts.concurrency} concurrent runs/s':>24}"
          f"{'errors':>8}")
    with tempfile.TemporaryDirectory(prefix="hearth-throughput-") as tmp:
        payload = os.path.join(tmp, "payload.json")
        with open(payload, "w") as f:
            f.write('{"name":"World"}')
        for name, store in STORES:
            proj = make_project(tmp, hearth, store)
            port = free_port()
            env = dict(os.environ, HEARTH_STATE_DIR=os.path.join(proj, "state"))
            server = subprocess.Popen([hearth, "start", "dist", "--insecure-no-auth", "--port",
                                       str(port)], cwd=proj, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            try:
                url = f"http://127.0.0.1:{port}/workflows/hello?wait=result"
                for _ in range(100):  # up within 10 s
                    try:
                        req = urllib.request.Request(url, data=b'{"name":"x"}', method="POST",
                                                     headers={"Content-Type": "application/json"})
                        urllib.request.urlopen(req, timeout=5).read()
                        break
                    except OSError:
                        time.sleep(0.1)
                seq, seq_err = ab(url, payload, opts.seconds, 1)
                conc, conc_err = ab(url, payload, opts.seconds, opts.concurrency)
                print(f"{name:<30}{seq:>19.1f}{conc:>24.1f}{seq_err + conc_err:>8}")
            finally:
                server.terminate()
                server.wait(timeout=30)
    return 0  # figures, not a pass/fail gate


if __name__ == "__main__":
    sys.exit(main())

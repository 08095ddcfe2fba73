#!/usr/bin/env python3
"""Runs per second through `hearth start` on SQLite and on PostgreSQL, with one and two
replicas (issue 15): N runs of a workflow (mock/script: one tool step, then an answer) posted with
C concurrent clients spread over the replicas; the clock stops when every run has ended (read
back from the store through /runs/:id?meta). Figures, not assertions.

Usage: bench/replicas_bench.py [path/to/hearth] [--runs N] [--clients C] [--pg-url URL]
  Without --pg-url it uses $HEARTH_TEST_PG_URL, else starts one with scripts/with-postgres.sh.
  Two SQLite replicas share one file (as a dev reload does); two PostgreSQL replicas share the
  database (docs/deploy.md)."""
import argparse
import concurrent.futures
import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(path, text, executable=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    if executable:
        os.chmod(path, 0o755)


def project(tmp, binary):
    root = os.path.join(tmp, "proj")
    write(f"{root}/hearth.json", json.dumps({"name": "bench", "model": "mock/script",
                                             "sandbox": {"backend": "none"}}))
    write(f"{root}/agent/instructions.md", "Take a note.\n")
    write(f"{root}/agent/tools/note.json", json.dumps({
        "description": "Notes.", "inputSchema": {"type": "object", "properties": {}}}))
    write(f"{root}/agent/tools/note.sh", "#!/bin/sh\necho noted\n", executable=True)
    write(f"{root}/agent/mock.jsonl",
          json.dumps({"toolCalls": [{"name": "note", "input": {}}]}) + "\n" +
          json.dumps({"text": "done"}) + "\n")
    write(f"{root}/workflows/note.md", "---\ndescription: Note.\nhttp: true\n---\nNote it.\n")
    r = subprocess.run([binary, "build"], cwd=root, capture_output=True, text=True)
    if r.returncode:
        sys.exit("hearth build failed:\n" + r.stderr)
    return os.path.join(root, "dist")


class Replica:
    def __init__(self, binary, dist, cwd, env):
        os.makedirs(cwd, exist_ok=True)
        self.err = open(os.path.join(cwd, "start.err"), "w+")
        self.proc = subprocess.Popen(
            [binary, "start", dist, "--host", "127.0.0.1", "--port", "0", "--insecure-no-auth"],
            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=self.err, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.err.seek(0)
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.err.read())
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.err.seek(0)
        sys.exit("hearth start did not listen:\n" + self.err.read())

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def request(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, json.loads(data) if data else None


def measure(binary, dist, tmp, label, env, replicas, runs, clients):
    reps = [Replica(binary, dist, os.path.join(tmp, f"{label}-{i}"), env) for i in range(replicas)]
    try:
        ports = [r.port for r in reps]
        request(ports[0], "POST", "/workflows/note?wait=result", {})  # warm-up, not counted

        def one(i):
            port = ports[i % len(ports)]
            status, body = request(port, "POST", "/workflows/note?wait=result", {})
            if status != 200:
                raise RuntimeError(f"{status} {body}")
            return body

        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            list(pool.map(one, range(runs)))
        elapsed = time.perf_counter() - start
        return runs / elapsed
    finally:
        for r in reps:
            r.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", nargs="?",
                        default=os.path.join(ROOT, "build", "release", "apps", "hearth", "hearth"))
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--pg-url", default=os.environ.get("HEARTH_TEST_PG_URL", ""))
    args = parser.parse_args()
    if not args.pg_url and not os.environ.get("HEARTH_BENCH_IN_PG"):
        os.environ["HEARTH_BENCH_IN_PG"] = "1"
        os.execv(os.path.join(ROOT, "scripts", "with-postgres.sh"),
                 [os.path.join(ROOT, "scripts", "with-postgres.sh"), sys.executable, *sys.argv])
    args.binary = os.path.abspath(args.binary)
    base = {k: v for k, v in os.environ.items()
            if not k.endswith("_API_KEY") and k not in ("DATABASE_URL", "HEARTH_STATE_DIR")}
    with tempfile.TemporaryDirectory(prefix="hearth-replicas-") as tmp:
        dist = project(tmp, args.binary)
        print(f"{args.runs} runs (1 tool step each), {args.clients} concurrent clients")
        print(f"{'store':<12} {'replicas':>8} {'runs/s':>8}")
        for replicas in (1, 2):
            env = dict(base, HEARTH_STATE_DIR=os.path.join(tmp, f"state-sqlite-{replicas}"))
            rate = measure(args.binary, dist, tmp, f"sqlite{replicas}", env, replicas, args.runs,
                           args.clients)
            print(f"{'sqlite':<12} {replicas:>8} {rate:>8.1f}", flush=True)
        if not args.pg_url:
            print(f"{'postgresql':<12} skipped: no server (HEARTH_TEST_PG_URL or --pg-url)")
            return
        for replicas in (1, 2):
            schema = "bench_" + secrets.token_hex(4)
            subprocess.run(["psql", args.pg_url, "-q", "-c", f"CREATE SCHEMA {schema}"], check=True)
            sep = "&" if "?" in args.pg_url else "?"
            url = f"{args.pg_url}{sep}options=-csearch_path%3D{schema}"
            env = dict(base, DATABASE_URL=url,
                       HEARTH_STATE_DIR=os.path.join(tmp, f"state-pg-{replicas}"))
            try:
                rate = measure(args.binary, dist, tmp, f"pg{replicas}", env, replicas, args.runs,
                               args.clients)
            finally:
                subprocess.run(["psql", args.pg_url, "-q", "-c", f"DROP SCHEMA {schema} CASCADE"],
                               env=dict(os.environ, PGOPTIONS="--client-min-messages=warning"))
            print(f"{'postgresql':<12} {replicas:>8} {rate:>8.1f}", flush=True)


if __name__ == "__main__":
    main()

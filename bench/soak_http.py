#!/usr/bin/env python3
"""Soak of `hearth start` (issue 9): parked readers of every kind, mixed requests, readers leaving.

    bench/soak_http.py [path/to/hearth] [--readers 10000] [--requests 20000] [--seconds 20]

Builds a small mock/echo project, starts `hearth start` on it (127.0.0.1, a free port), then:
  1. opens --readers parked readers, a third each Durable Streams long-poll, SSE and Eve NDJSON
     follow (without streamControlVersion), and checks they all got parked (no 503, no hang);
  2. measures GET /eve/v1/health latency (p50/p99/max) while they stay parked, and fires
     --requests mixed requests (`ab` from apache2-utils on health, runs and admin listings when
     installed, plus python workflow/session admissions);
  3. closes every reader at once and measures how long until the server's sockets are freed
     (/proc/<pid>/fd);
  4. prints RSS before/after, error counts, and `pragma integrity_check` of the store.
Figures only (never run by ctest). Loopback only."""
import argparse
import json
import os
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BIN = os.path.join(HERE, "..", "build", "release", "apps", "hearth", "hearth")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return 0


def sockets(pid):
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n


def request(port, method, path, body=None, timeout=30):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    data = b"" if body is None else json.dumps(body).encode()
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
              f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
    raw = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        raw += chunk
    s.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hearth", nargs="?", default=DEFAULT_BIN)
    ap.add_argument("--readers", type=int, default=10000)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--health-samples", type=int, default=500)
    args = ap.parse_args()
    args.hearth = os.path.abspath(args.hearth)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.readers + 200 > hard:
        sys.exit(f"ulimit -Hn is {hard}: too low for {args.readers} readers")

    tmp = tempfile.mkdtemp(prefix="soak-http-")
    proc = None
    try:
        project = os.path.join(tmp, "soak")
        os.makedirs(os.path.join(project, "agent"))
        os.makedirs(os.path.join(project, "workflows"))
        with open(os.path.join(project, "hearth.json"), "w") as f:
            json.dump({"name": "soak", "model": "mock/echo",
                       "server": {"maxStreams": args.readers + 1000,
                                  "maxConnections": args.readers + 2000}}, f)
        with open(os.path.join(project, "agent", "agent.json"), "w") as f:
            json.dump({"description": "Echoes.", "http": True}, f)
        with open(os.path.join(project, "agent", "instructions.md"), "w") as f:
            f.write("You echo.\n")
        with open(os.path.join(project, "workflows", "hello.md"), "w") as f:
            f.write("---\ndescription: Greets.\nhttp: true\n---\nGreet {{payload.name}}.\n")
        subprocess.run([args.hearth, "build"], cwd=project, check=True, capture_output=True)
        dist = os.path.join(project, "dist")
        proc = subprocess.Popen([args.hearth, "start", dist, "--host", "127.0.0.1", "--port", "0"],
                                cwd=project, stderr=subprocess.PIPE, text=True)
        line = ""
        while "listening on" not in line:
            line = proc.stderr.readline()
            if not line:
                sys.exit("hearth start exited")
        port = int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])
        pid = proc.pid
        print(f"hearth start pid {pid} port {port}")
        rss_start = rss_kb(pid)

        # Streams to park on: an agent instance (DS long-poll, SSE) and an Eve session (NDJSON).
        status, _ = request(port, "POST", "/agents/soak/park?wait=result", {"message": "hi"})
        assert status == 200, status
        status, body = request(port, "POST", "/eve/v1/session", {})
        assert status == 202, status
        session = json.loads(body)["sessionId"]
        kinds = [f"/agents/soak/park?offset=now&live=long-poll",
                 f"/agents/soak/park?offset=now&live=sse",
                 f"/eve/v1/session/{session}/stream"]
        base_sockets = sockets(pid)

        readers, refused = [], 0
        t0 = time.monotonic()
        for i in range(args.readers):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(f"GET {kinds[i % 3]} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            readers.append(s)
        opened_in = time.monotonic() - t0
        # SSE and NDJSON answer their head at once; long-poll answers nothing while parked.
        for i, s in enumerate(readers):
            if i % 3 == 0:
                continue
            s.settimeout(30)
            head = s.recv(256)
            if not head.startswith(b"HTTP/1.1 200"):
                refused += 1
        parked_sockets = sockets(pid) - base_sockets
        print(f"opened {args.readers} readers in {opened_in:.1f}s; server holds {parked_sockets} "
              f"reader sockets; refused/bad heads: {refused}; RSS {rss_kb(pid) / 1024:.1f} MB")

        # Health latency while parked.
        lat = []
        hc = socket.create_connection(("127.0.0.1", port), timeout=30)
        hc.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        errors = 0
        for _ in range(args.health_samples):
            t = time.monotonic()
            hc.sendall(b"GET /eve/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            while b"\r\n\r\n" not in got or not got.endswith(b"}"):
                chunk = hc.recv(4096)
                if not chunk:
                    break
                got += chunk
            lat.append((time.monotonic() - t) * 1000)
            errors += not got.startswith(b"HTTP/1.1 200")
        hc.close()
        print(f"health with {args.readers} parked: p50 {percentile(lat, 0.5):.2f} ms  "
              f"p99 {percentile(lat, 0.99):.2f} ms  max {max(lat):.2f} ms  errors {errors}")

        # Mixed load: ab on read routes (bounded), python on admissions.
        per = max(1, args.requests // 4)
        if shutil.which("ab"):
            for path in ("/eve/v1/health", "/admin/runs?limit=50", f"/agents/soak/park?offset=-1"):
                r = subprocess.run(["ab", "-q", "-k", "-n", str(per), "-c", "16",
                                    f"http://127.0.0.1:{port}{path}"],
                                   capture_output=True, text=True, timeout=600)
                rps = next((l.split()[3] for l in r.stdout.splitlines()
                            if l.startswith("Requests per second")), "?")
                failed = next((l.split()[2] for l in r.stdout.splitlines()
                               if l.startswith("Failed requests")), "?")
                non2xx = next((l.split()[2] for l in r.stdout.splitlines()
                               if l.startswith("Non-2xx")), "0")
                print(f"ab {path}: {per} requests, {rps} req/s, failed {failed}, non-2xx {non2xx}")
        admitted, bad = 0, 0
        t = time.monotonic()
        for i in range(min(per, 2000)):
            status, _ = (request(port, "POST", "/workflows/hello", {"name": f"n{i}"}) if i % 2 == 0
                         else request(port, "POST", f"/eve/v1/session/{session}",
                                      {"message": f"m{i}"}))
            admitted += status == 202
            bad += status != 202
        print(f"admissions: {admitted} accepted, {bad} other, {time.monotonic() - t:.1f}s; "
              f"appends woke the {args.readers // 3} NDJSON and DS readers meanwhile")

        # Readers leave.
        rss_parked = rss_kb(pid)
        for s in readers:
            s.close()
        t = time.monotonic()
        while sockets(pid) > base_sockets + 5 and time.monotonic() - t < 30:
            time.sleep(0.01)
        freed_in = time.monotonic() - t
        print(f"closed {args.readers} readers: server sockets back to baseline in "
              f"{freed_in * 1000:.0f} ms (left over: {sockets(pid) - base_sockets})")
        status, _ = request(port, "GET", "/eve/v1/health")
        print(f"health after: {status}; RSS start {rss_start / 1024:.1f} MB, parked "
              f"{rss_parked / 1024:.1f} MB, end {rss_kb(pid) / 1024:.1f} MB")
        proc.terminate()
        proc.wait(30)
        db = None
        for root, _, files in os.walk(project):
            if "state.db" in files:
                db = os.path.join(root, "state.db")
        if db:
            print("integrity_check:", sqlite3.connect(db).execute("pragma integrity_check").fetchone()[0])
        else:
            print("integrity_check: no state.db found")
    finally:
        if proc and proc.poll() is None:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

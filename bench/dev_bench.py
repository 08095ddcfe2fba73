#!/usr/bin/env python3
"""hearth dev: edit-to-live latency and idle RSS (loopback only, bounded; bench/README.md).

    bench/dev_bench.py [path/to/hearth] [--edits 15]

Builds a throwaway project (mock/echo, one workflow) in a temp dir, starts `hearth dev` on a free
port and waits until it serves. Idle RSS: after 2 s idle, VmRSS summed over dev and every process
descended from it (the serving runtime child). Edit-to-live: rewrite workflows/hello.md in place
(a new version string), then POST /workflows/hello?wait=result every 5 ms until the new text
comes back; the time from the write to that response includes the 150 ms debounce. Also
reports the same for `sed -i` (atomic rename)."""
import argparse
import http.client
import json
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hello(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/workflows/hello?wait=result", body="{}",
                     headers={"Content-Type": "application/json"})
        res = conn.getresponse()
        body = res.read()
        return json.loads(body).get("result") if res.status == 200 else None
    except OSError:
        return None
    finally:
        conn.close()


def tree_rss_kb(pid):
    children = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/stat" % p) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(p))
            except OSError:
                pass
    total, todo, count = 0, [pid], 0
    while todo:
        p = todo.pop()
        try:
            with open("/proc/%d/status" % p) as f:
                total += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            count += 1
        except (OSError, StopIteration):
            pass
        todo.extend(children.get(p, []))
    return total, count


def write_workflow(path, version):
    with open(path, "w") as f:
        f.write("---\ndescription: bench\nhttp: true\n---\nversion %d says hello\n" % version)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("hearth", nargs="?", default=os.path.join(ROOT, "build/release/apps/hearth/hearth"))
    parser.add_argument("--edits", type=int, default=15)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="dev-bench-")
    try:
        os.makedirs(os.path.join(tmp, "agent"))
        os.makedirs(os.path.join(tmp, "workflows"))
        with open(os.path.join(tmp, "hearth.json"), "w") as f:
            f.write('{"name": "bench", "model": "mock/echo"}\n')
        with open(os.path.join(tmp, "agent", "instructions.md"), "w") as f:
            f.write("Terse.\n")
        wf = os.path.join(tmp, "workflows", "hello.md")
        write_workflow(wf, 0)
        port = free_port()
        dev = subprocess.Popen([os.path.abspath(args.hearth), "dev", "--port", str(port)], cwd=tmp,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while hello(port) != "version 0 says hello\n":
                if time.monotonic() > deadline or dev.poll() is not None:
                    sys.exit("hearth dev did not start serving")
                time.sleep(0.02)
            time.sleep(2)
            rss, procs = tree_rss_kb(dev.pid)
            results = {}
            version = 0
            for mode in ("in-place write", "sed -i"):
                samples = []
                for _ in range(args.edits):
                    version += 1
                    start = time.monotonic()
                    if mode == "sed -i":
                        subprocess.run(["sed", "-i", "s/version %d /version %d /" % (version - 1, version), wf], check=True)
                    else:
                        write_workflow(wf, version)
                    want = "version %d says hello\n" % version
                    while hello(port) != want:
                        if time.monotonic() - start > 10:
                            sys.exit("edit %d never went live" % version)
                        time.sleep(0.005)
                    samples.append((time.monotonic() - start) * 1000)
                    time.sleep(0.3)  # let the old generation drain before the next edit
                results[mode] = samples
        finally:
            dev.send_signal(signal.SIGINT)
            dev.wait(timeout=30)
        print("hearth dev idle RSS: %.1f MB over %d processes (target <= 30 MB; Flue 0.11 ~980 MB, "
              "Eve 0.80.1 ~1.5 GB)" % (rss / 1024, procs))
        for mode, samples in results.items():
            print("edit-to-live (%s, n=%d): median %.0f ms, min %.0f, max %.0f (target <= 250 ms; "
                  "Flue 0.11 1.78 s, Eve 1.8 s)" % (mode, len(samples), statistics.median(samples),
                                                    min(samples), max(samples)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

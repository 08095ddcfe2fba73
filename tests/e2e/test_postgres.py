"""End-to-end tests of the PostgreSQL store (issue 15 §2, docs/deploy.md "PostgreSQL"): two
`hearth start` replicas on one database. Runs posted to both complete exactly once when one
replica is killed with -9 (the other takes its runs over when their lease expires), and a reader
attached to one replica follows a run executing on the other (LISTEN/NOTIFY). Each replica gets
its own HEARTH_HOST_ID, so the take-over is decided by the lease, as between two machines, not by
a pid check. Needs HEARTH_TEST_PG_URL (scripts/with-postgres.sh); skips with the reason without."""
import collections
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import unittest

from harness import HEARTH_BIN, HearthTestCase, clean_env, hearth
from test_server import Http, wait_run_closed

PG_URL = os.environ.get("HEARTH_TEST_PG_URL", "")
SKIP_REASON = ("HEARTH_TEST_PG_URL is not set: scripts/with-postgres.sh (or scripts/test.sh) "
               "starts a throwaway PostgreSQL for these tests")
STEPS = 5
# Runs posted to each replica; HEARTH_TEST_PG_RUNS=1000 runs the 2,000-run acceptance.
RUNS = int(os.environ.get("HEARTH_TEST_PG_RUNS", "4"))
LEASE_MS = 4000  # heartbeat every 1.3 s: a loaded CI box never lets a live lease lapse
# The note tool's sleep in the kill test; the 2,000-run acceptance may shorten it.
TOOL_SLEEP = os.environ.get("HEARTH_TEST_PG_TOOL_SLEEP", "0.2")

TOOL_SPEC = {"description": "Appends a note to the log.", "inputSchema": {
    "type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"],
    "additionalProperties": False}}


def psql(url, sql):
    subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                   capture_output=True, text=True, timeout=30)


class Replica:
    """`hearth start` on the shared database, in its own process group and state directory."""

    def __init__(self, test, dist, url, name, lease_ms=LEASE_MS):
        self.err_path = os.path.join(test.tmp, f"replica-{name}-{time.monotonic_ns()}.err")
        self.err = open(self.err_path, "w")
        cwd = os.path.join(test.tmp, f"replica-{name}")
        os.makedirs(cwd, exist_ok=True)
        env = clean_env(DATABASE_URL=url, HEARTH_LEASE_MS=str(lease_ms),
                        HEARTH_HOST_ID=f"test-host-{name}")
        self.proc = subprocess.Popen(
            [HEARTH_BIN, "start", dist, "--host", "127.0.0.1", "--port", "0", "--insecure-no-auth"],
            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=self.err, start_new_session=True)
        test.addCleanup(self.kill)
        deadline = time.monotonic() + 60
        match = None
        while time.monotonic() < deadline and not match:
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.stderr())
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if not match:
            raise AssertionError("hearth start did not listen:\n" + self.stderr())
        self.port = int(match.group(1))

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGCONT)  # a frozen replica dies too
            except ProcessLookupError:
                pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        self.err.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Balancer:
    """haproxy (Debian's) round-robin in front of replicas, configured as deploy/compose's
    haproxy.cfg: health checks on /eve/v1/health, and a request whose connection to a dead
    replica fails is sent to the other (`retry-on conn-failure`, `option redispatch`)."""

    def __init__(self, test, replicas):
        self.port = free_port()
        cfg = os.path.join(test.tmp, f"haproxy-{time.monotonic_ns()}.cfg")
        servers = "".join(f"  server r{i} 127.0.0.1:{r.port} check inter 500ms fall 2\n"
                          for i, r in enumerate(replicas))
        with open(cfg, "w") as f:
            f.write("global\n  maxconn 4096\n"
                    "defaults\n  mode http\n  timeout connect 2s\n  timeout client 10m\n"
                    "  timeout server 10m\n  option http-server-close\n  retries 3\n"
                    "  option redispatch 1\n  retry-on conn-failure empty-response\n"
                    f"frontend http\n  bind 127.0.0.1:{self.port}\n  default_backend hearth\n"
                    "backend hearth\n  balance roundrobin\n  option httpchk GET /eve/v1/health\n"
                    + servers)
        self.proc = subprocess.Popen([shutil.which("haproxy"), "-db", "-f", cfg],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        test.addCleanup(self.stop)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError("haproxy did not listen")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@unittest.skipUnless(PG_URL, SKIP_REASON)
class PostgresReplicasTest(HearthTestCase):
    def setUp(self):
        super().setUp()
        schema = "e2e_" + secrets.token_hex(6)
        psql(PG_URL, f"CREATE SCHEMA {schema}")
        self.addCleanup(psql, PG_URL, f"DROP SCHEMA {schema} CASCADE")
        sep = "&" if "?" in PG_URL else "?"
        self.url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"

    def project(self, sleep="0.2"):
        """Workflow `notes`: its agent calls tool `note` STEPS times, then answers; the tool
        appends `<runId> <text>` to self.log around a sleep, so every execution is visible."""
        self.log = os.path.join(self.tmp, "tool.log")
        root = os.path.join(self.tmp, "proj")
        self.write("proj/hearth.json", json.dumps(
            {"name": "replicas", "model": "mock/script", "sandbox": {"backend": "none"}}))
        self.write("proj/agent/instructions.md", "Take notes.\n")
        self.write("proj/agent/tools/note.json", json.dumps(TOOL_SPEC))
        self.write("proj/agent/tools/note.sh",
                   "#!/bin/sh\ntext=$(sed -n 's/.*\"text\" *: *\"\\([^\"]*\\)\".*/\\1/p')\n"
                   f"echo \"$HEARTH_RUN_ID $text start\" >> {self.log}\n"
                   f"sleep {sleep}\n"
                   f"echo \"$HEARTH_RUN_ID $text\" >> {self.log}\n"
                   "echo noted\n", executable=True)
        script = [json.dumps({"toolCalls": [{"name": "note", "input": {"text": str(n)}}]})
                  for n in range(1, STEPS + 1)]
        script.append(json.dumps({"text": "all noted"}))
        self.write("proj/agent/mock.jsonl", "\n".join(script) + "\n")
        self.write("proj/workflows/notes.md",
                   "---\ndescription: Notes.\nhttp: true\nmaxAttempts: 5\n---\nTake five notes.\n")
        self.assertExit(hearth("build", cwd=root), 0)
        return os.path.join(root, "dist")

    def lines(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [l.split() for l in f.read().splitlines() if l.strip()]

    def post(self, client, count):
        ids = []
        for _ in range(count):
            status, _, body = client.json("POST", "/workflows/notes", {})
            self.assertEqual(status, 202, body)
            ids.append(body["runId"])
        return ids

    def post_retrying(self, port, count):
        """Posts through the balancer right after a replica died: a request it had sent to the
        dying replica may fail (502, or the connection closed), as a client behind a balancer
        sees; the client tries again (only 202 answers count as accepted runs)."""
        ids = []
        for _ in range(count):
            deadline = time.monotonic() + 30
            while True:
                try:
                    status, _, body = Http(port).json("POST", "/workflows/notes", {})
                except (OSError, http.client.HTTPException, ValueError) as e:
                    # ValueError: the balancer's own 502/503 page is HTML, not JSON.
                    status, body = None, repr(e)
                if status == 202:
                    ids.append(body["runId"])
                    break
                self.assertLess(time.monotonic(), deadline, (status, body))
                time.sleep(0.2)
        return ids

    def test_a_killed_replicas_runs_are_taken_over_and_complete_exactly_once(self):
        """Issue 15's acceptance (HEARTH_TEST_PG_RUNS=1000: 2,000 runs): runs posted across two
        replicas, through haproxy when Debian's is installed (else straight to each), one
        replica killed -9 midway; every run completes once, no tool step ran twice, and a
        reader on the surviving replica follows each run to its end."""
        dist = self.project(sleep=TOOL_SLEEP)
        a = Replica(self, dist, self.url, "a")
        b = Replica(self, dist, self.url, "b")
        total = 2 * RUNS
        if shutil.which("haproxy"):
            balancer = Balancer(self, [a, b])
            front = Http(balancer.port)
            ids = self.post(front, total)
        else:
            print("haproxy not installed: runs posted to each replica directly", flush=True)
            front = None
            ids = self.post(Http(a.port), RUNS) + self.post(Http(b.port), RUNS)
        # Kill b midway: a few finished steps (all runs are in flight) for a small count, a
        # third of every step for the acceptance's thousands.
        threshold = 3 if RUNS < 50 else total * STEPS // 3
        deadline = time.monotonic() + 60 + RUNS
        while time.monotonic() < deadline:
            if len([l for l in self.lines() if len(l) == 2]) >= threshold:
                break
            time.sleep(0.05)
        b.kill()
        if front is not None:  # the balancer sends new work around the dead replica
            ids += self.post_retrying(balancer.port, 2)
        started = time.monotonic()
        client = Http(a.port)
        resumed = 0
        for run_id in ids:
            events = wait_run_closed(client, run_id, 120 + RUNS)
            _, _, meta = client.json("GET", f"/runs/{run_id}?meta")
            types = [e["type"] for e in events]
            self.assertEqual(meta["status"], "completed", (meta, types, a.stderr()))
            self.assertEqual(meta["result"], "all noted")
            self.assertEqual(types.count("run_start"), 1)
            self.assertEqual(types.count("run_end"), 1)
            resumed += types.count("run_resume") > 0
        self.assertGreater(resumed, 0, "no run of the killed replica was resumed")
        self.assertIn("taking over", a.stderr())
        # Exactly once: no completed tool call ran twice, none started twice.
        finished = collections.Counter(tuple(l) for l in self.lines() if len(l) == 2)
        started_calls = collections.Counter(tuple(l[:2]) for l in self.lines() if len(l) == 3)
        self.assertEqual([k for k, n in finished.items() if n > 1], [], self.lines()[-50:])
        self.assertEqual([k for k, n in started_calls.items() if n > 1], [], self.lines()[-50:])
        print(f"{len(ids)} runs, {resumed} resumed after the kill, all completed "
              f"{time.monotonic() - started:.1f} s after it", flush=True)

    def test_a_replica_stopped_with_sigterm_hands_its_runs_to_the_other(self):
        dist = self.project()
        a = Replica(self, dist, self.url, "a")
        b = Replica(self, dist, self.url, "b")
        ids = self.post(Http(b.port), 2)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len([l for l in self.lines() if len(l) == 2]) < 2:
            time.sleep(0.02)
        b.proc.send_signal(signal.SIGTERM)
        self.assertEqual(b.proc.wait(30), 143, b.stderr())
        client = Http(a.port)
        for run_id in ids:
            events = wait_run_closed(client, run_id, 60)
            _, _, meta = client.json("GET", f"/runs/{run_id}?meta")
            self.assertEqual(meta["status"], "completed", (meta, [e["type"] for e in events]))
        finished = collections.Counter(tuple(l) for l in self.lines() if len(l) == 2)
        self.assertEqual([k for k, n in finished.items() if n > 1], [], self.lines())
        self.assertEqual(len(finished), 2 * STEPS, self.lines())

    def test_a_frozen_replica_whose_run_was_taken_over_writes_nothing_more(self):
        """A live replica that misses its beats (frozen: a VM pause, a stop-the-world stall)
        loses its run to the other; when it wakes, its writes to that run are refused by the
        run's fence: no second result for the tool call it was running, no crash."""
        dist = self.project(sleep="1.0")
        a = Replica(self, dist, self.url, "a", lease_ms=1500)
        b = Replica(self, dist, self.url, "b", lease_ms=1500)
        (run_id,) = self.post(Http(b.port), 1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # b is inside the second tool call
            if [run_id, "2", "start"] in self.lines():
                break
            time.sleep(0.01)
        os.killpg(b.proc.pid, signal.SIGSTOP)
        reader = Http(a.port)
        offset, seen = "-1", []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and "run_resume" not in seen:
            status, hdrs, body = reader.json("GET", f"/runs/{run_id}?offset={offset}&live=long-poll")
            if status == 200:
                seen += [e["type"] for e in body]
            offset = hdrs["stream-next-offset"]
        os.killpg(b.proc.pid, signal.SIGCONT)
        self.assertIn("run_resume", seen, "replica a never took the frozen replica's run over")
        events = wait_run_closed(reader, run_id, 60)
        _, _, meta = reader.json("GET", f"/runs/{run_id}?meta")
        types = [e["type"] for e in events]
        self.assertEqual(meta["status"], "completed", (meta, types))
        self.assertEqual(meta["result"], "all noted")
        self.assertEqual(types.count("run_end"), 1, types)
        self.assertEqual([e["eventIndex"] for e in events], list(range(len(events))))
        # Give the woken replica time to try its writes (its tool call ends within a second).
        time.sleep(2.0)
        after = wait_run_closed(reader, run_id, 10)
        self.assertEqual(len(after), len(events), [e["type"] for e in after[len(events):]])
        self.assertIn([run_id, "2"], self.lines())  # b's tool returned: b went on to write
        # One result per step: the call b was running got its (interrupted) result from a only;
        # b's own result for it, when its tool returned, was refused. (Mock call ids restart
        # per process, so results are counted, not keyed.)
        after_types = [e["type"] for e in after]
        self.assertEqual(after_types.count("tool_call"), STEPS, after_types)
        self.assertEqual(after_types.count("run_start") + after_types.count("run_resume"), 2,
                         after_types)
        # b is alive and serving, and said nothing of a crash.
        self.assertIsNone(b.proc.poll(), b.stderr())
        status, _, _ = Http(b.port).json("GET", f"/runs/{run_id}?meta")
        self.assertEqual(status, 200)

    def test_a_reader_on_one_replica_follows_a_run_executing_on_the_other(self):
        dist = self.project(sleep="0.3")
        a = Replica(self, dist, self.url, "a")
        b = Replica(self, dist, self.url, "b")
        (run_id,) = self.post(Http(b.port), 1)
        reader = Http(a.port)
        batches, events, offset = [], [], "-1"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, hdrs, body = reader.json("GET", f"/runs/{run_id}?offset={offset}&live=long-poll")
            if status == 200 and body:
                batches.append(body)
                events += body
            offset = hdrs["stream-next-offset"]
            if hdrs.get("stream-closed") == "true":
                break
        types = [e["type"] for e in events]
        self.assertEqual(types[-1], "run_end", types)
        self.assertEqual(types.count("run_start"), 1)
        self.assertEqual([e["eventIndex"] for e in events], list(range(len(events))))
        # Live, not after the fact: the run's events reached replica a's reader in several
        # long-poll answers while it was running on b (steps are 0.3 s apart).
        self.assertGreaterEqual(len(batches), 3, [[e["type"] for e in b_] for b_ in batches])
        # Every step ran once.
        self.assertEqual(len([l for l in self.lines() if len(l) == 2]), STEPS)


if __name__ == "__main__":
    unittest.main()

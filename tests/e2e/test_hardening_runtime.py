"""Issue 9, the runtime half: run states stay true (bad tool output, SIGTERM, a killed supervisor),
`hearth logs` never hangs, stderr floods are bounded, symlinks out of the project are refused,
`hearth gc` prunes workspaces and `hearth dev` restarts a killed runtime."""
import json
import os
import signal
import sqlite3
import subprocess
import time
import unittest

from harness import HEARTH_BIN, HearthTestCase, clean_env, hearth, run_id_of
from test_dev import Dev, free_port, request
from test_server import Http, Started, read_line

TOOL_SPEC = {"description": "{desc}", "inputSchema": {
    "type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"],
    "additionalProperties": False}}


class ProjectMixin:
    def tool_project(self, name, script, http=False, timeout_ms=None, root=None, host=False):
        """A mock/script project whose workflow `go` calls tool `name` once, then answers done.
        `host`: the tool runs unsandboxed (backend none), for tests that watch its host pid or
        let it write a host path (the sandbox would rightly refuse both)."""
        root = root or self.tmp
        rel = os.path.relpath(root, self.tmp)
        p = lambda f: os.path.join(rel, f) if rel != "." else f
        config = {"name": "hard", "model": "mock/script"}
        if host:
            config["sandbox"] = {"backend": "none"}
        self.write(p("hearth.json"), json.dumps(config))
        self.write(p("agent/instructions.md"), "Use the tools.\n")
        spec = dict(TOOL_SPEC, description=f"The {name} tool.")
        if timeout_ms:
            spec["timeoutMs"] = timeout_ms
        self.write(p(f"agent/tools/{name}.json"), json.dumps(spec))
        self.write(p(f"agent/tools/{name}.sh"), script, executable=True)
        self.write(p("agent/mock.jsonl"), json.dumps({"toolCalls": [
            {"name": name, "input": {"text": "x"}}]}) + "\n" + json.dumps({"text": "done"}) + "\n")
        self.write(p("workflows/go.md"),
                   "---\ndescription: Go.\n" + ("http: true\n" if http else "") + "---\nGo.\n")
        return root

    def events(self, run_id, cwd, *extra):
        r = hearth("logs", run_id, "--format", "ndjson", "--no-follow", *extra, cwd=cwd, timeout=20)
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

    def run_row(self, db, run_id):
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT status, error FROM runs WHERE run_id = ?",
                                (run_id,)).fetchone()


class BadToolOutputTest(ProjectMixin, HearthTestCase):
    def test_invalid_utf8_reaches_the_model_replaced_and_the_run_completes(self):
        self.tool_project("bad", "#!/bin/sh\ncat >/dev/null\nprintf 'hi \\377\\376 there\\n'\n"
                                 "printf 'err \\377 line\\n' >&2\n")
        r = hearth("run", "go", cwd=self.tmp, timeout=30)
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.stdout), "done")
        run_id = run_id_of(r.stderr)
        logs = subprocess.run([HEARTH_BIN, "logs", run_id, "--format", "ndjson"], cwd=self.tmp,
                              env=clean_env(), capture_output=True, timeout=20)
        self.assertEqual(logs.returncode, 0, logs.stderr)
        events = [json.loads(line) for line in logs.stdout.decode().splitlines()]
        call = next(e for e in events if e["type"] == "tool_call")
        self.assertIn("hi \ufffd\ufffd there", call["result"]["content"][0]["text"])
        self.assertIn("err \ufffd line", [e["message"] for e in events if e["type"] == "log"])
        self.assertEqual([e["type"] for e in events].count("run_end"), 1)

    def test_logs_of_a_run_whose_runtime_is_gone_ends_runtime_crashed(self):
        self.tool_project("wait", "#!/bin/sh\nexec sleep 60\n")
        proc = subprocess.Popen([HEARTH_BIN, "run", "go"], cwd=self.tmp, env=clean_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        run_id = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and run_id is None:
            line = proc.stderr.readline()
            if line.startswith("run run_"):
                run_id = line.split()[1]
        self.assertIsNotNone(run_id)
        # kill -9 the whole tree: the CLI, the runtime and the tool; nobody ends the run.
        runtime = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                 text=True).stdout.split()
        for pid in runtime:
            os.kill(int(pid), signal.SIGKILL)
        proc.kill()
        proc.communicate(timeout=10)
        started = time.monotonic()
        logs = hearth("logs", run_id, "--format", "ndjson", cwd=self.tmp, timeout=20)
        self.assertLess(time.monotonic() - started, 10)
        self.assertExit(logs, 2)
        end = [json.loads(l) for l in logs.stdout.splitlines()][-1]
        self.assertEqual(end["type"], "run_end")
        self.assertEqual(end["error"]["type"], "runtime_crashed")


class DiskFullTest(ProjectMixin, HearthTestCase):
    """The store on a 1 MiB tmpfs that a tool fills mid-run (needs root; skipped otherwise)."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        self.mnt = os.path.join(self.tmp, "mnt")
        os.makedirs(self.mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", self.mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs: " + r.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", "-l", self.mnt])

    def test_a_full_disk_ends_the_run_without_wedging_and_logs_ends_it(self):
        fill = os.path.join(self.mnt, "fill")
        self.tool_project("fill", "#!/bin/sh\ncat >/dev/null\n"
                                  f"dd if=/dev/zero of={fill} bs=4k 2>/dev/null\n"
                                  "yes yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy | head -c 300000 >&2\n"
                                  "yes zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz | head -c 60000\n", host=True)
        with open(os.path.join(self.tmp, "hearth.json")) as f:
            config = json.load(f)
        config["store"] = "sqlite:" + os.path.join(self.mnt, "state.db")
        with open(os.path.join(self.tmp, "hearth.json"), "w") as f:
            json.dump(config, f)
        started = time.monotonic()
        r = hearth("run", "go", cwd=self.tmp, timeout=60)
        self.assertLess(time.monotonic() - started, 30)
        self.assertExit(r, 1)
        self.assertIn("state database", r.stderr)
        run_id = run_id_of(r.stderr)
        os.remove(fill)
        logs = hearth("logs", run_id, "--format", "ndjson", cwd=self.tmp, timeout=20)
        events = [json.loads(l) for l in logs.stdout.splitlines()]
        self.assertEqual([e["type"] for e in events].count("run_end"), 1, logs.stderr)
        self.assertIn(events[-1]["error"]["type"], ("store_unavailable", "runtime_crashed"))
        with sqlite3.connect(os.path.join(self.mnt, "state.db")) as conn:
            self.assertEqual(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok")


class FloodTest(ProjectMixin, HearthTestCase):
    def test_a_stderr_flood_becomes_a_bounded_number_of_log_events(self):
        # 20 MB of 100-byte lines on stderr (capture keeps 10 MiB: ~104,858 lines before).
        self.tool_project("flood", "#!/bin/sh\ncat >/dev/null\n"
                                   "yes 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' | head -c 20000000 >&2\n"
                                   "echo ok\n")
        r = hearth("run", "go", cwd=self.tmp, timeout=60)
        self.assertExit(r, 0)
        logs = [e for e in self.events(run_id_of(r.stderr), self.tmp) if e["type"] == "log"]
        self.assertLessEqual(len(logs), 101)
        self.assertIn("stderr truncated: at most 100 log events", logs[-1]["message"])
        self.assertTrue(all(len(e["message"].encode()) <= 4096 for e in logs[:-1]))

    def test_gc_prunes_workspaces_of_finished_runs_past_the_retention(self):
        self.tool_project("noop", "#!/bin/sh\ncat >/dev/null\necho ok\n")
        with open(os.path.join(self.tmp, "hearth.json")) as f:
            config = json.load(f)
        config["workspaces"] = {"retainRuns": 2}
        with open(os.path.join(self.tmp, "hearth.json"), "w") as f:
            json.dump(config, f)
        ids = []
        for _ in range(4):
            r = hearth("run", "go", cwd=self.tmp, timeout=30)
            self.assertExit(r, 0)
            ids.append(run_id_of(r.stderr))
        ws = os.path.join(self.tmp, ".hearth", "workspaces")
        # Every run prunes what falls out of the retention as it starts: at most 2 + the new one.
        self.assertLessEqual(len(os.listdir(ws)), 3)
        os.makedirs(os.path.join(ws, ids[0]), exist_ok=True)  # as an old hearth left it
        dry = hearth("gc", "--dry-run", "--json", cwd=self.tmp)
        self.assertExit(dry, 0)
        planned = json.loads(dry.stdout)
        self.assertIn(ids[0], [os.path.basename(p) for p in planned["removed"]])
        self.assertTrue(os.path.isdir(os.path.join(ws, ids[0])))
        r = hearth("gc", cwd=self.tmp)
        self.assertExit(r, 0)
        self.assertIn(ids[0], r.stdout)
        self.assertEqual(sorted(os.listdir(ws)), sorted(ids[2:]))


class SymlinkTest(ProjectMixin, HearthTestCase):
    def setUp(self):
        super().setUp()
        self.secret = self.write("outside/secret.txt", "TOP-SECRET-KEY\n")
        self.project = os.path.join(self.tmp, "proj")
        self.write("proj/hearth.json", json.dumps({"name": "links", "model": "mock/echo"}))
        self.write("proj/agent/agent.json", json.dumps({"description": "x", "http": True}))
        self.write("proj/workflows/hi.md", "---\ndescription: Hi.\n---\nHi.\n")

    def assertRefused(self, rel):
        r = hearth("build", cwd=self.project)
        self.assertExit(r, 1)
        self.assertIn("symlink-outside-project", r.stderr + r.stdout)
        info = hearth("info", "--json", cwd=self.project)
        codes = [(d["code"], d.get("path")) for d in json.loads(info.stdout)["diagnostics"]["items"]]
        self.assertIn(("symlink-outside-project", rel), codes)
        for dirpath, _, files in os.walk(self.project):
            for name in files:
                path = os.path.join(dirpath, name)
                if os.path.islink(path):
                    continue
                with open(path, "rb") as f:
                    self.assertNotIn(b"TOP-SECRET-KEY", f.read(), path)

    def test_instructions_linked_outside_are_refused(self):
        os.symlink(self.secret, os.path.join(self.project, "agent", "instructions.md"))
        self.assertRefused("agent/instructions.md")

    def test_a_skill_directory_linked_outside_is_refused(self):
        self.write("proj/agent/instructions.md", "Hi.\n")
        self.write("outside/skill/SKILL.md", "---\nname: s\ndescription: d\n---\nTOP-SECRET-KEY\n")
        os.makedirs(os.path.join(self.project, "agent", "skills"))
        os.symlink(os.path.join(self.tmp, "outside", "skill"),
                   os.path.join(self.project, "agent", "skills", "s"))
        self.assertRefused("agent/skills/s")

    def test_a_workspace_seed_linked_to_etc_passwd_is_refused(self):
        self.write("proj/agent/instructions.md", "Hi.\n")
        os.makedirs(os.path.join(self.project, "agent", "sandbox", "workspace"))
        os.symlink("/etc/passwd", os.path.join(self.project, "agent", "sandbox", "workspace", "pw"))
        r = hearth("build", cwd=self.project)
        self.assertExit(r, 1)
        self.assertIn("symlink-outside-project", r.stderr + r.stdout)


class SignalTest(ProjectMixin, HearthTestCase):
    def wait_file(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(os.path.exists(path), "the tool never started")

    def test_sigterm_to_start_stops_a_long_tool_and_leaves_the_run_to_resume(self):
        pid_file = os.path.join(self.tmp, "tool.pid")
        self.tool_project("wait", f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 60\n", http=True, host=True)
        self.assertExit(hearth("build", cwd=self.tmp), 0)
        dist = os.path.join(self.tmp, "dist")
        server = Started(self, dist)
        status, _, body = Http(server.port).json("POST", "/workflows/go", {})
        self.assertEqual(status, 202, body)
        run_id = body["runId"]
        self.wait_file(pid_file)
        server.proc.send_signal(signal.SIGTERM)
        self.assertEqual(server.proc.wait(30), 143)  # after the 10 s drain bound
        # Durable runs (docs/runtime.md): the run is not ended but left active for the next
        # `hearth start` to resume (its store is ./.hearth where start ran); its tool is stopped.
        state = os.path.join(self.tmp, ".hearth", "state.db")
        status, _ = self.run_row(state, run_id)
        self.assertEqual(status, "active")
        with sqlite3.connect(state) as conn:
            ends = conn.execute("SELECT count(*) FROM events WHERE path = ? AND type = 'run_end'",
                                ("runs/" + run_id,)).fetchone()[0]
        self.assertEqual(ends, 0)
        with open(pid_file) as f:
            tool = int(f.read())
        with self.assertRaises(ProcessLookupError):
            os.kill(tool, 0)

    def test_kill_9_of_the_dev_supervisor_cancels_the_run_and_the_child_exits(self):
        pid_file = os.path.join(self.tmp, "tool.pid")
        self.tool_project("wait", f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 60\n", http=True, host=True)
        port = free_port()
        dev = Dev(self.tmp, port)
        self.addCleanup(lambda: dev.proc.poll() is None and dev.proc.kill())
        dev.wait_for("server listening at")
        child = int(subprocess.run(["pgrep", "-P", str(dev.proc.pid), "-f", "runtime"],
                                   capture_output=True, text=True).stdout.split()[0])
        status, _, body = request(port, "POST", "/workflows/go", {})
        self.assertEqual(status, 202, body)
        run_id = json.loads(body)["runId"]
        self.wait_file(pid_file)
        dev.proc.kill()
        dev.proc.wait(10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(child, 0)
                time.sleep(0.05)
            except ProcessLookupError:
                break
        else:
            self.fail("the runtime child outlived its supervisor")
        status, error = self.run_row(os.path.join(self.tmp, ".hearth", "state.db"), run_id)
        self.assertEqual(status, "errored")
        self.assertEqual(json.loads(error)["type"], "cancelled")

    def test_sigterm_to_dev_cancels_a_run_in_a_long_tool(self):
        pid_file = os.path.join(self.tmp, "tool.pid")
        self.tool_project("wait", f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 60\n", http=True, host=True)
        port = free_port()
        dev = Dev(self.tmp, port)
        self.addCleanup(lambda: dev.proc.poll() is None and dev.proc.kill())
        dev.wait_for("server listening at")
        status, _, body = request(port, "POST", "/workflows/go", {})
        self.assertEqual(status, 202, body)
        run_id = json.loads(body)["runId"]
        self.wait_file(pid_file)
        dev.proc.send_signal(signal.SIGTERM)
        self.assertEqual(dev.proc.wait(30), 143)
        db = os.path.join(self.tmp, ".hearth", "state.db")
        status, error = self.run_row(db, run_id)
        self.assertEqual(status, "errored")
        self.assertEqual(json.loads(error)["type"], "cancelled")
        with sqlite3.connect(db) as conn:
            ends = conn.execute("SELECT count(*) FROM events WHERE path = ? AND type = 'run_end'",
                                ("runs/" + run_id,)).fetchone()[0]
        self.assertEqual(ends, 1)

    def test_dev_restarts_a_killed_runtime_at_once(self):
        self.write("hearth.json", json.dumps({"name": "re", "model": "mock/echo"}))
        self.write("agent/instructions.md", "Echo.\n")
        port = free_port()
        dev = Dev(self.tmp, port)
        self.addCleanup(lambda: dev.proc.poll() is None and dev.proc.send_signal(signal.SIGINT))
        dev.wait_for("server listening at")
        child = int(subprocess.run(["pgrep", "-P", str(dev.proc.pid), "-f", "runtime"],
                                   capture_output=True, text=True).stdout.split()[0])
        os.kill(child, signal.SIGKILL)
        killed = time.monotonic()
        while time.monotonic() - killed < 5:
            try:
                status, _, _ = request(port, "GET", "/eve/v1/health", timeout=2)
                if status == 200:
                    break
            except OSError:
                time.sleep(0.02)
        # Before: a crashed runtime stayed down until a file changed (the loop ran out at 5 s).
        # Now the supervisor restarts it at once; the bound leaves room for a sanitizer build's
        # slow child start-up (≈ 1 s idle in a dev build, ≈ 2 s under ASan on 2 busy cores).
        self.assertLess(time.monotonic() - killed, 4)
        dev.wait_for("restarted", timeout=5)
        dev.proc.send_signal(signal.SIGINT)
        dev.proc.wait(20)


if __name__ == "__main__":
    unittest.main()

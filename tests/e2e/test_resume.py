"""End-to-end tests of durable runs (issue 15 §1, docs/runtime.md "Durable runs"): `hearth start`
killed with -9 at several points resumes its runs from their last completed step on the next start
over the same state directory: every run completes, no completed tool call runs twice, an
interrupted call is not re-run (an idempotent one is), and each resumed run says `run_resume`."""
import collections
import json
import os
import re
import signal
import subprocess
import time
import unittest

import shutil

from harness import HEARTH_BIN, SOURCE_DIR, HearthTestCase, clean_env, hearth
from test_server import Http, wait_run_closed

TOOL_SPEC = {"description": "Appends a note to the log.", "inputSchema": {
    "type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"],
    "additionalProperties": False}}

STEPS = 5


class Server:
    """`hearth start` in its own process group (so kill -9 takes its tools too). Its stderr goes
    to a file, read until the listening line."""

    def __init__(self, test, dist):
        self.err_path = os.path.join(test.tmp, f"start-{time.monotonic_ns()}.err")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen(
            [HEARTH_BIN, "start", dist, "--host", "127.0.0.1", "--port", "0", "--insecure-no-auth"],
            cwd=test.tmp, env=clean_env(), stdout=subprocess.DEVNULL, stderr=self.err,
            start_new_session=True)
        test.addCleanup(self.kill)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open(self.err_path) as f:
                match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", f.read())
            if match:
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if not match:
            with open(self.err_path) as f:
                raise AssertionError("hearth start did not listen:\n" + f.read())
        self.port = int(match.group(1))

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        self.err.close()


class ResumeTest(HearthTestCase):
    def project(self, max_attempts=None, idempotent=False, sleep="0.2"):
        """Workflow `notes`: its agent calls tool `note` STEPS times (mock/script), then answers.
        The tool appends `<runId> <text>` to self.log (after sleeping `sleep` s when the text is
        `slow`), so the test sees every execution."""
        self.log = os.path.join(self.tmp, "tool.log")
        root = os.path.join(self.tmp, "proj")
        self.write("proj/hearth.json", json.dumps(
            {"name": "durable", "model": "mock/script", "sandbox": {"backend": "none"}}))
        self.write("proj/agent/instructions.md", "Take notes.\n")
        spec = dict(TOOL_SPEC, idempotent=True) if idempotent else TOOL_SPEC
        self.write("proj/agent/tools/note.json", json.dumps(spec))
        self.write("proj/agent/tools/note.sh",
                   "#!/bin/sh\ntext=$(python3 -c 'import json,sys; print(json.load(sys.stdin)[\"text\"])')\n"
                   f"echo \"$HEARTH_RUN_ID $text start\" >> {self.log}\n"
                   f"sleep {sleep}\n"
                   f"echo \"$HEARTH_RUN_ID $text\" >> {self.log}\n"
                   "echo noted\n", executable=True)
        script = [json.dumps({"toolCalls": [{"name": "note", "input": {"text": str(n)}}]})
                  for n in range(1, STEPS + 1)]
        script.append(json.dumps({"text": "all noted"}))
        self.write("proj/agent/mock.jsonl", "\n".join(script) + "\n")
        front = "---\ndescription: Notes.\nhttp: true\n"
        if max_attempts is not None:
            front += f"maxAttempts: {max_attempts}\n"
        self.write("proj/workflows/notes.md", front + "---\nTake five notes.\n")
        self.assertExit(hearth("build", cwd=root), 0)
        return os.path.join(root, "dist")

    def lines(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [l.split() for l in f.read().splitlines() if l.strip()]

    def wait_lines(self, count, deadline_s=60):
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            done = [l for l in self.lines() if len(l) == 2]
            if len(done) >= count:
                return
            time.sleep(0.02)
        raise AssertionError(f"fewer than {count} tool lines: {self.lines()}")

    def post(self, client, count):
        ids = []
        for _ in range(count):
            status, _, body = client.json("POST", "/workflows/notes", {})
            self.assertEqual(status, 202, body)
            ids.append(body["runId"])
        return ids

    def check_no_completed_call_ran_twice(self):
        finished = collections.Counter(tuple(l) for l in self.lines() if len(l) == 2)
        started = collections.Counter(tuple(l[:2]) for l in self.lines() if len(l) == 3)
        self.assertEqual([k for k, n in finished.items() if n > 1], [], self.lines())
        self.assertEqual([k for k, n in started.items() if n > 1], [], self.lines())

    def test_kill_9_at_several_points_every_run_completes_without_replaying_a_step(self):
        dist = self.project(max_attempts=10)
        server = Server(self, dist)
        ids = self.post(Http(server.port), 4)
        # Kill the whole process group at three points of the runs' progress.
        for seen in (3, 9, 14):
            self.wait_lines(seen)
            server.kill()
            server = Server(self, dist)
        client = Http(server.port)
        resumed = 0
        for run_id in ids:
            events = wait_run_closed(client, run_id, 90)
            status, _, meta = client.json("GET", f"/runs/{run_id}?meta")
            self.assertEqual(meta["status"], "completed", (meta, [e["type"] for e in events]))
            self.assertEqual(meta["result"], "all noted")
            types = [e["type"] for e in events]
            self.assertEqual(types.count("run_start"), 1)
            self.assertEqual(types.count("run_end"), 1)
            resumed += types.count("run_resume") > 0
            # Each resumed continuation follows the run's own events; what completed is not redone.
            for e in events:
                if e["type"] == "run_resume":
                    self.assertEqual(e["workflowName"], "notes")
                    self.assertGreaterEqual(e["attempt"], 2)
            # Every step the model asked for ran at most once (an interrupted one not at all
            # again): the script went on past it, so the run still made STEPS calls.
            calls = [e for e in events if e["type"] == "tool_call"]
            texts = [e.get("result", {}).get("content", [{}])[0].get("text", "") for e in calls]
            self.assertLessEqual(len(calls), STEPS + 4, texts)
        self.assertGreater(resumed, 0)
        self.check_no_completed_call_ran_twice()
        self.assertFalse([l for l in self.lines() if not l[0].startswith("run_")], self.lines())
        finished = {tuple(l) for l in self.lines() if len(l) == 2}
        for run_id in ids:  # steps that completed are not lost either
            notes = sorted(int(t) for r, t in finished if r == run_id and t.isdigit())
            self.assertLessEqual(len(notes), STEPS)

    def test_a_call_in_flight_becomes_an_interrupted_error_and_is_not_rerun(self):
        dist = self.project(sleep="3")
        server = Server(self, dist)
        client = Http(server.port)
        [run_id] = self.post(client, 1)
        deadline = time.monotonic() + 30
        while not any(len(l) == 3 for l in self.lines()) and time.monotonic() < deadline:
            time.sleep(0.02)
        server.kill()  # the first call has started, not finished
        killed_at = time.monotonic()
        server = Server(self, dist)
        client = Http(server.port)
        events = wait_run_closed(client, run_id, 60)
        status, _, meta = client.json("GET", f"/runs/{run_id}?meta")
        self.assertEqual(meta["status"], "completed", meta)
        types = [e["type"] for e in events]
        self.assertIn("run_resume", types)
        interrupted = [e for e in events if e["type"] == "tool_call" and e["isError"]]
        self.assertEqual(len(interrupted), 1, types)
        self.assertIn("interrupted by a runtime restart",
                      interrupted[0]["result"]["content"][0]["text"])
        # Call 1 was never re-run; calls 2..5 ran once each.
        starts = [l[1] for l in self.lines() if len(l) == 3]
        self.assertEqual(sorted(starts), ["1", "2", "3", "4", "5"])
        # Nor did it go on behind the resumed run: the tool died with its runtime (it would have
        # logged its end 3 s after it started).
        time.sleep(max(0.0, killed_at + 4 - time.monotonic()))
        finished = [l[1] for l in self.lines() if len(l) == 2]
        self.assertEqual(sorted(finished), ["2", "3", "4", "5"], self.lines())

    def test_an_idempotent_tool_in_flight_runs_again(self):
        dist = self.project(idempotent=True, sleep="3")
        server = Server(self, dist)
        [run_id] = self.post(Http(server.port), 1)
        deadline = time.monotonic() + 30
        while not any(len(l) == 3 for l in self.lines()) and time.monotonic() < deadline:
            time.sleep(0.02)
        server.kill()
        server = Server(self, dist)
        client = Http(server.port)
        wait_run_closed(client, run_id, 60)
        status, _, meta = client.json("GET", f"/runs/{run_id}?meta")
        self.assertEqual(meta["status"], "completed", meta)
        starts = [l[1] for l in self.lines() if len(l) == 3]
        self.assertEqual(starts.count("1"), 2, self.lines())  # re-run after the restart
        self.assertEqual(sorted(set(starts)), ["1", "2", "3", "4", "5"])

    def test_past_max_attempts_a_run_ends_runtime_crashed(self):
        dist = self.project(max_attempts=1, sleep="3")
        server = Server(self, dist)
        [run_id] = self.post(Http(server.port), 1)
        deadline = time.monotonic() + 30
        while not self.lines() and time.monotonic() < deadline:
            time.sleep(0.02)
        server.kill()
        server = Server(self, dist)
        client = Http(server.port)
        events = wait_run_closed(client, run_id, 30)
        self.assertNotIn("run_resume", [e["type"] for e in events])
        status, _, meta = client.json("GET", f"/runs/{run_id}?meta")
        self.assertEqual(meta["status"], "errored")
        self.assertEqual(meta["error"]["type"], "runtime_crashed")
        self.assertIn("maxAttempts", meta["error"]["details"])

    def test_sigterm_leaves_runs_resumable_and_exits_143(self):
        dist = self.project(max_attempts=10, sleep="0.3")
        server = Server(self, dist)
        ids = self.post(Http(server.port), 3)
        self.wait_lines(2)
        server.proc.send_signal(signal.SIGTERM)
        self.assertEqual(server.proc.wait(30), 143)
        server = Server(self, dist)
        client = Http(server.port)
        for run_id in ids:
            events = wait_run_closed(client, run_id, 60)
            status, _, meta = client.json("GET", f"/runs/{run_id}?meta")
            self.assertEqual(meta["status"], "completed", meta)
            # Stopped at a step boundary: nothing was interrupted.
            self.assertFalse([e for e in events if e["type"] == "tool_call" and e["isError"]])
        self.check_no_completed_call_ran_twice()
        finished = [l for l in self.lines() if len(l) == 2]
        self.assertEqual(len(finished), STEPS * len(ids), self.lines())


    def test_a_programmable_run_restarts_its_script_answering_completed_calls_from_the_journal(self):
        self.log = os.path.join(self.tmp, "tool.log")
        root = os.path.join(self.tmp, "prog")
        self.write("prog/hearth.json", json.dumps(
            {"name": "prog", "model": "mock/echo", "sandbox": {"backend": "none"}}))
        self.write("prog/agent/instructions.md", "Echo.\n")
        os.makedirs(os.path.join(root, "helpers"))
        shutil.copy(os.path.join(SOURCE_DIR, "examples", "hello", "helpers", "hearth_workflow.py"),
                    os.path.join(root, "helpers"))
        # Each shell call logs "start" then its number; the script's own lines (not journaled)
        # show the restart.
        script = (
            "import os, sys\n"
            "sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'helpers'))\n"
            "from hearth_workflow import workflow\n\n"
            "@workflow\n"
            "def run(ctx):\n"
            f"    with open({self.log!r}, 'a') as f:\n"
            "        f.write('script-begins\\n')\n"
            "    harness = ctx.init()\n"
            "    session = harness.session()\n"
            "    first = session.prompt('remember me')\n"
            "    for n in range(1, 6):\n"
            "        harness.shell(f'echo \"$HEARTH_RUN_ID {n} start\" >> LOG; sleep 0.4; '\n"
            "                      f'echo \"$HEARTH_RUN_ID {n}\" >> LOG')\n"
            "    return {'first': first.text}\n").replace("LOG", self.log)
        self.write("prog/workflows/steps.py", script)
        self.write("prog/workflows/steps.json", json.dumps({"description": "Steps.", "http": True}))
        self.assertExit(hearth("build", cwd=root), 0)
        dist = os.path.join(root, "dist")
        server = Server(self, dist)
        [run_id] = self.post_to(Http(server.port), "steps")
        self.wait_lines(2)
        server.kill()
        server = Server(self, dist)
        client = Http(server.port)
        events = wait_run_closed(client, run_id, 60)
        status, _, meta = client.json("GET", f"/runs/{run_id}?meta")
        self.assertEqual(meta["status"], "completed", meta)
        self.assertIn("remember me", meta["result"]["first"])
        self.assertIn("run_resume", [e["type"] for e in events])
        with open(self.log) as f:
            self.assertEqual(f.read().count("script-begins"), 2)  # the script restarted
        # Completed calls were answered from the journal; only the one in flight at the kill
        # (if any) ran again.
        starts = collections.Counter(l[1] for l in self.lines() if len(l) == 3 and l[0] == run_id)
        self.assertEqual(sorted(starts), ["1", "2", "3", "4", "5"])
        self.assertLessEqual(sum(n - 1 for n in starts.values()), 1, self.lines())

    def post_to(self, client, workflow):
        status, _, body = client.json("POST", f"/workflows/{workflow}", {})
        self.assertEqual(status, 202, body)
        return [body["runId"]]


if __name__ == "__main__":
    unittest.main()

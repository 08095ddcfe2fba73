"""Cancelling a turn for real (issue 12 §6, docs/runtime.md "Cancellation"): Eve's cancel route
during an 8-second tool and during a model step held open, Ctrl-C in `hearth connect`, and a
workflow timeout. Each must end the work within about a second, leave no tool process behind, and
leave the session usable for the next message."""
import json
import os
import pty
import select
import signal
import subprocess
import time
import unittest

from harness import HEARTH_BIN, SOURCE_DIR, HearthTestCase, clean_env, gone, hearth
from test_server import Http, Started

# The tool writes its pid and its child's, then sleeps 8 s in that child.
SLEEPER = "#!/bin/sh\necho $$ > '{dir}/tool.pid'\nsleep 8 &\necho $! > '{dir}/sleep.pid'\nwait\necho '{{}}'\n"
TOOL_STEP = {"toolCalls": [{"name": "sleeper", "input": {}}]}



def wait_for_pids(directory, timeout=30.0):
    """The tool's and its child's pids once both are written."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(os.path.join(directory, "tool.pid")) as a, \
                    open(os.path.join(directory, "sleep.pid")) as b:
                return int(a.read()), int(b.read())
        except (OSError, ValueError):
            time.sleep(0.02)
    raise AssertionError("the tool never started")


class Terminal:
    """What a pty's master side (or a pipe) shows, read as it comes, unbuffered."""

    def __init__(self, fd):
        self.fd = fd
        self.seen = ""
        self.pos = 0  # where the last match ended: each read_until looks past it

    def read_some(self, timeout):
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.fd, 4096)
        except OSError:  # EIO: the other side is gone
            return False
        self.seen += data.decode(errors="replace")
        return bool(data)

    def read_until(self, needle, deadline):
        while self.seen.find(needle, self.pos) < 0:
            if time.monotonic() >= deadline or not self.read_some(deadline - time.monotonic()):
                raise AssertionError(f"never saw {needle!r}; saw: {self.seen!r}")
        self.pos = self.seen.find(needle, self.pos) + len(needle)


class CancelTest(HearthTestCase):
    def project(self, script, extra=None):
        """An agent on mock/script (`script`: its steps) with the tool `sleeper`, unsandboxed so the
        test sees the tool's host pids. Returns the project directory."""
        self.pids = os.path.join(self.tmp, "pids")
        os.makedirs(self.pids)
        self.write("p/hearth.json", json.dumps({"name": "p", "model": "mock/script",
                                                "sandbox": {"backend": "none"}}))
        self.write("p/agent/agent.json", json.dumps({"description": "Sleeps.", "http": True}))
        self.write("p/agent/instructions.md", "You sleep.\n")
        self.write("p/agent/mock.jsonl", "".join(json.dumps(step) + "\n" for step in script))
        self.write("p/agent/tools/sleeper.json", json.dumps(
            {"description": "Sleeps 8 s.", "inputSchema": {"type": "object"}}))
        self.write("p/agent/tools/sleeper.sh", SLEEPER.format(dir=self.pids), executable=True)
        for relative, content in (extra or {}).items():
            self.write(os.path.join("p", relative), content)
        return os.path.join(self.tmp, "p")

    # --- Eve: POST /eve/v1/session/:id/cancel -------------------------------------------------

    def serve(self, project):
        r = hearth("build", cwd=project)
        self.assertExit(r, 0)
        return Http(Started(self, os.path.join(project, "dist")).port)

    def stream(self, client, sid):
        _, _, raw = client.request("GET", f"/eve/v1/session/{sid}/stream?startIndex=0&follow=false")
        return [json.loads(line) for line in raw.splitlines() if line]

    def wait_for(self, client, sid, predicate, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.stream(client, sid)
            if predicate(events):
                return events
            time.sleep(0.02)
        self.fail(f"the stream never got there: {[e['type'] for e in self.stream(client, sid)]}")

    def waiting(self, count):
        return lambda events: sum(e["type"] == "session.waiting" for e in events) >= count

    def cancel_and_follow_up(self, client, sid):
        """Cancels the running turn; checks turn.cancelled + session.waiting within 1 s, then that
        the next message completes with the script's next step."""
        started = time.monotonic()
        status, _, body = client.json("POST", f"/eve/v1/session/{sid}/cancel")
        self.assertEqual((status, body), (202, {"ok": True, "sessionId": sid, "status": "accepted"}))
        events = self.wait_for(client, sid, self.waiting(1), timeout=5)
        self.assertLess(time.monotonic() - started, 1.0)
        types = [e["type"] for e in events]
        self.assertEqual(types[-2:], ["turn.cancelled", "session.waiting"])
        self.assertEqual(events[-2]["data"], {"sequence": 0, "turnId": "turn_0"})
        self.assertNotIn("turn.failed", types)
        status, _, _ = client.json("POST", f"/eve/v1/session/{sid}", {"message": "again"})
        self.assertEqual(status, 202)
        events = self.wait_for(client, sid, self.waiting(2))
        types = [e["type"] for e in events]
        self.assertEqual(types[-2:], ["turn.completed", "session.waiting"])
        done = [e for e in events if e["type"] == "message.completed"]
        self.assertEqual(done[-1]["data"]["message"], "after")
        return events

    def test_eve_cancel_during_an_8s_tool_kills_it_and_the_next_message_works(self):
        client = self.serve(self.project([TOOL_STEP, {"text": "after"}]))
        status, _, created = client.json("POST", "/eve/v1/session", {"message": "go"})
        self.assertEqual(status, 202)
        tool, child = wait_for_pids(self.pids)
        events = self.cancel_and_follow_up(client, created["sessionId"])
        self.assertTrue(gone(tool, 2.0), "the tool process survived the cancel")
        self.assertTrue(gone(child, 2.0), "the tool's child survived the cancel")
        results = [e for e in events if e["type"] == "action.result"]
        self.assertEqual(results[0]["data"]["status"], "failed")
        self.assertIn("was cancelled", results[0]["data"]["result"]["output"])
        self.assertEqual(results[0]["data"]["error"]["code"], "ACTION_RESULT_FAILED")

    def test_eve_cancel_during_a_held_model_step(self):
        client = self.serve(self.project([{"text": "slow", "delayMs": 60000}, {"text": "after"}]))
        status, _, created = client.json("POST", "/eve/v1/session", {"message": "go"})
        sid = created["sessionId"]
        self.wait_for(client, sid, lambda events: any(e["type"] == "step.started" for e in events))
        time.sleep(0.2)  # the step is inside its delay
        self.cancel_and_follow_up(client, sid)

    # --- hearth connect: Ctrl-C -----------------------------------------------------------------

    def test_connect_ctrl_c_cancels_the_turn_and_a_second_at_the_prompt_exits_130(self):
        project = self.project([TOOL_STEP, {"text": "after"}])
        self.assertExit(hearth("build", cwd=project), 0)  # compile first: the turn starts at once
        proc = subprocess.Popen([HEARTH_BIN, "connect", "p", "local"], cwd=project, env=clean_env(),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        stdout, stderr = Terminal(proc.stdout.fileno()), Terminal(proc.stderr.fileno())
        proc.stdin.write("go\n")
        proc.stdin.flush()
        tool, child = wait_for_pids(self.pids)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        stderr.read_until("turn cancelled", started + 5)
        self.assertLess(time.monotonic() - started, 1.5)
        self.assertIsNone(proc.poll(), "connect exited on the first Ctrl-C")
        self.assertTrue(gone(tool, 2.0))
        self.assertTrue(gone(child, 2.0))
        proc.stdin.write("again\n")
        proc.stdin.flush()
        stdout.read_until('"text": "after"', time.monotonic() + 30)
        # Ctrl-C at the idle prompt (stdin still open) exits 130 at once.
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        finally:
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                stream.close()
        self.assertEqual(proc.returncode, 130)

    def test_connect_on_a_terminal_ctrl_c_cancels_the_turn_then_exits_130_at_the_prompt(self):
        project = self.project([TOOL_STEP, {"text": "after"}])
        self.assertExit(hearth("build", cwd=project), 0)
        pid, fd = pty.fork()
        if pid == 0:  # the child: hearth with the pty as its terminal (stdin, stdout, stderr)
            os.chdir(project)
            os.execve(HEARTH_BIN, [HEARTH_BIN, "connect", "p", "local"], clean_env(TERM="dumb"))
        self.addCleanup(lambda: self.reap(pid))
        output = Terminal(fd)
        output.read_until("› ", time.monotonic() + 30)
        os.write(fd, b"go\r")
        tool, child = wait_for_pids(self.pids)
        started = time.monotonic()
        os.write(fd, b"\x03")  # Ctrl-C typed: SIGINT to hearth (the runtime has its own group)
        output.read_until("turn cancelled", started + 5)
        self.assertLess(time.monotonic() - started, 1.5)
        self.assertTrue(gone(tool, 2.0))
        self.assertTrue(gone(child, 2.0))
        output.read_until("› ", time.monotonic() + 10)
        os.write(fd, b"again\r")
        output.read_until('"text": "after"', time.monotonic() + 30)
        output.read_until("› ", time.monotonic() + 10)
        os.write(fd, b"\x03")  # at the idle prompt: exit 130
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                self.assertEqual(os.waitstatus_to_exitcode(status), 130, output.seen)
                return
            output.read_some(0.05)
        self.fail("connect did not exit on Ctrl-C at the prompt: " + output.seen)

    def reap(self, pid):
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass

    # --- workflow timeouts ----------------------------------------------------------------------

    def run_with_timeout(self, project, workflow):
        r = hearth("run", workflow, "--timeout", "1000", cwd=project)
        self.assertExit(r, 1)
        self.assertIn(f'Workflow "{workflow}" did not finish within 1000 ms', r.stderr)
        run_id = next(line.split()[1] for line in r.stderr.splitlines() if line.startswith("run run_"))
        logs = hearth("logs", run_id, "--format", "ndjson", "--no-follow", cwd=project)
        events = [json.loads(line) for line in logs.stdout.splitlines() if line.strip()]
        self.assertEqual(events[-1]["type"], "run_end")
        self.assertEqual(events[-1]["error"]["type"], "workflow_timeout")
        # The 8 s tool was stopped with the run: it ends about a second after the deadline.
        self.assertLess(events[-1]["durationMs"], 2500)
        tool, child = wait_for_pids(self.pids, timeout=1)
        self.assertTrue(gone(tool, 2.0))
        self.assertTrue(gone(child, 2.0))

    def test_declarative_workflow_timeout_stops_its_tool(self):
        project = self.project([TOOL_STEP, {"text": "never"}],
                               {"workflows/slow.md": "---\ndescription: Sleeps.\n---\nSleep.\n"})
        self.run_with_timeout(project, "slow")

    def test_programmable_workflow_timeout_stops_the_tool_of_its_prompt(self):
        helpers = os.path.join(SOURCE_DIR, "templates", "helpers", "hearth_workflow.py")
        with open(helpers) as f:
            helper = f.read()
        script = ("import os, sys\n"
                  "sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'helpers'))\n"
                  "from hearth_workflow import workflow\n\n"
                  "@workflow\ndef run(ctx):\n"
                  "    return ctx.init(agent='p').session().prompt('Sleep.').text\n")
        project = self.project([TOOL_STEP, {"text": "never"}],
                               {"workflows/slow.py": script, "helpers/hearth_workflow.py": helper})
        self.run_with_timeout(project, "slow")


if __name__ == "__main__":
    unittest.main()

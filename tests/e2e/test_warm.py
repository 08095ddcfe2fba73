"""The warm runtime (issue 17 §2; docs/ipc.md "Warm runtime"): with `hearth dev` of the project
running, `hearth run` and `hearth connect` use its runtime over .hearth/dev/runtime.sock when it is
the same as a child of their own would be, with the same result, events and exit code; an edit
never runs the old definition; HEARTH_NO_WARM=1 starts the child; a killed client cancels its
run in the dev server."""
import json
import os
import signal
import stat
import subprocess
import threading
import time
import unittest

from harness import HEARTH_BIN, HearthTestCase, clean_env, hearth
from test_dev import Dev, free_port

WARM = "warm runtime: using the dev server's"
COLD = "warm runtime: not used"
TOOL_SPEC = {"description": "Waits.", "inputSchema": {
    "type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"],
    "additionalProperties": False}}


def events_of(root, run_id, env):
    """The event types of run `run_id`, from the store."""
    logs = hearth("logs", run_id, "--format", "ndjson", cwd=root, env=env)
    return [json.loads(line)["type"] for line in logs.stdout.splitlines() if line.strip()]


def run_id_of(stderr):
    for line in stderr.splitlines():
        if line.startswith("run run_"):
            return line.split()[1]
    raise AssertionError("no run id in:\n" + stderr)


class DevWithEnv(Dev):
    """test_dev's Dev in a given environment (the warm runtime compares environments)."""

    def __init__(self, cwd, port, env):
        self.port, self.lines, self.cond = port, [], threading.Condition()
        self.proc = subprocess.Popen([HEARTH_BIN, "dev", "--port", str(port)], cwd=cwd, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()


class WarmTest(HearthTestCase):
    def project(self, extra_config=None):
        root = os.path.join(self.tmp, "p")
        config = {"name": "p", "model": "mock/echo"}
        config.update(extra_config or {})
        self.write("p/hearth.json", json.dumps(config) + "\n")
        self.write("p/agent/agent.json", '{"http": true}\n')
        self.write("p/agent/instructions.md", "You are terse.\n")
        self.write("p/workflows/hello.md", "---\ndescription: hi\n---\nversion 1 says hello\n")
        return root

    def start_dev(self, root, env):
        dev = DevWithEnv(root, free_port(), env)
        self.addCleanup(lambda: dev.proc.poll() is None and dev.stop(signal.SIGKILL))
        dev.wait_for("server listening at")
        return dev

    def test_run_warm_equals_cold_and_no_warm_forces_the_child(self):
        root = self.project()
        env = clean_env()
        dev = self.start_dev(root, env)
        sock = os.path.join(root, ".hearth", "dev", "runtime.sock")
        self.assertTrue(stat.S_ISSOCK(os.stat(sock).st_mode))
        self.assertEqual(stat.S_IMODE(os.stat(sock).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(sock)).st_mode), 0o700)
        warm = hearth("run", "hello", "--payload", '{"name":"x"}', cwd=root,
                      env=clean_env(HEARTH_DEBUG_WARM="1"))
        cold = hearth("run", "hello", "--payload", '{"name":"x"}', cwd=root,
                      env=clean_env(HEARTH_DEBUG_WARM="1", HEARTH_NO_WARM="1"))
        self.assertExit(warm, 0)
        self.assertExit(cold, 0)
        self.assertIn(WARM, warm.stderr)
        self.assertIn(COLD + ": HEARTH_NO_WARM=1", cold.stderr)
        self.assertEqual(warm.stdout, cold.stdout)
        self.assertEqual(events_of(root, run_id_of(warm.stderr), env),
                         events_of(root, run_id_of(cold.stderr), env))
        # Errors come back the same way too.
        warm_err = hearth("run", "nope", cwd=root, env=clean_env(HEARTH_DEBUG_WARM="1"))
        cold_err = hearth("run", "nope", cwd=root, env=clean_env(HEARTH_NO_WARM="1"))
        self.assertIn(WARM, warm_err.stderr)
        self.assertEqual(warm_err.returncode, cold_err.returncode)
        self.assertEqual(warm_err.stdout, cold_err.stdout)
        self.assertIn('Workflow "nope"', warm_err.stderr)
        # Another environment is another runtime: the child, silently without the debug flag.
        other = hearth("run", "hello", cwd=root, env=clean_env(HEARTH_DEBUG_WARM="1", SOME_VAR="1"))
        self.assertExit(other, 0)
        self.assertIn(COLD + ": the dev server's runtime is not this one: its environment differs",
                      other.stderr)
        quiet = hearth("run", "hello", cwd=root, env=clean_env())
        self.assertNotIn("warm runtime", quiet.stderr)
        self.assertEqual(dev.stop(), 130)
        self.assertFalse(os.path.exists(sock), "the socket outlived dev")
        after = hearth("run", "hello", cwd=root, env=clean_env(HEARTH_DEBUG_WARM="1"))
        self.assertExit(after, 0)
        self.assertIn(COLD + ": no dev server", after.stderr)

    def test_an_edit_never_runs_the_old_definition(self):
        root = self.project()
        dev = self.start_dev(root, clean_env())
        first = hearth("run", "hello", cwd=root, env=clean_env(HEARTH_DEBUG_WARM="1"))
        self.assertIn(WARM, first.stderr)
        self.assertIn("version 1", first.stdout)
        mark = len(dev.lines)
        path = os.path.join(root, "workflows", "hello.md")
        subprocess.run(["sed", "-i", "s/version 1/version 2/", path], check=True)
        # At once: dev may not have reloaded yet; then run falls back to its own child.
        now = hearth("run", "hello", cwd=root, env=clean_env(HEARTH_DEBUG_WARM="1"))
        self.assertExit(now, 0)
        self.assertIn("version 2", now.stdout, now.stderr)
        dev.wait_for("reloaded in", start=mark)
        later = hearth("run", "hello", cwd=root, env=clean_env(HEARTH_DEBUG_WARM="1"))
        self.assertIn("version 2", later.stdout)
        self.assertIn(WARM, later.stderr)
        # hearth.json too: a different config is a different runtime until dev reloads.
        mark = len(dev.lines)
        self.write("p/hearth.json", json.dumps({"name": "p", "model": "mock/echo",
                                                "workspaces": {"retainRuns": 3}}) + "\n")
        edited = hearth("run", "hello", cwd=root, env=clean_env(HEARTH_DEBUG_WARM="1"))
        self.assertExit(edited, 0)
        if WARM in edited.stderr:  # dev reloaded first: it must be the new generation
            self.assertIn("reloaded in", "\n".join(dev.lines[mark:]))
        dev.wait_for("reloaded in", start=mark)
        again = hearth("run", "hello", cwd=root, env=clean_env(HEARTH_DEBUG_WARM="1"))
        self.assertIn(WARM, again.stderr)

    def waiting_tool_project(self):
        """A project whose workflow `wait` calls a tool that records its pid and sleeps, with
        `hearth dev` of it running; returns (pid file, env, root)."""
        pid_file = os.path.join(self.tmp, "tool.pid")
        env = clean_env(TOOL_PID_FILE=pid_file)
        root = self.project({"model": "mock/script",
                             "sandbox": {"backend": "none", "env": ["TOOL_PID_FILE"]}})
        self.write("p/agent/tools/wait.json", json.dumps(TOOL_SPEC))
        self.write("p/agent/tools/wait.sh", "#!/bin/sh\necho $$ > \"$TOOL_PID_FILE\"\nexec sleep 60\n",
                   executable=True)
        self.write("p/agent/mock.jsonl", json.dumps({"toolCalls": [
            {"name": "wait", "input": {"text": "x"}}]}) + "\n" + json.dumps({"text": "ok"}) + "\n")
        self.write("p/workflows/wait.md", "---\ndescription: Waits.\n---\nWait.\n")
        self.start_dev(root, env)
        return pid_file, env, root

    def test_killing_the_client_cancels_its_run_in_the_dev_server(self):
        pid_file, env, root = self.waiting_tool_project()
        proc = subprocess.Popen([HEARTH_BIN, "run", "wait"], cwd=root,
                                env=dict(env, HEARTH_DEBUG_WARM="1"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        run_id, warm, deadline = None, False, time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            warm = warm or WARM in line
            if line.startswith("run run_"):
                run_id = line.split()[1]
            if line.startswith("tool:start  wait") or not line:
                break
        self.assertTrue(warm, "the run did not use the warm runtime")
        self.assertIsNotNone(run_id)
        while not os.path.exists(pid_file) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertTrue(os.path.exists(pid_file), "the tool never started")
        proc.kill()  # the CLI dies: no Ctrl-C handling, only the closed connection
        proc.communicate()
        end = None
        while time.monotonic() < deadline:
            logs = hearth("logs", run_id, "--format", "ndjson", "--types", "run_end", cwd=root, env=env)
            if logs.stdout.strip():
                end = json.loads(logs.stdout)
                break
            time.sleep(0.1)
        self.assertIsNotNone(end, "the run never ended")
        self.assertEqual(end["error"]["type"], "cancelled")
        with open(pid_file) as f:
            tool = int(f.read())
        while time.monotonic() < deadline:
            try:
                with open("/proc/%d/stat" % tool) as f:
                    if f.read().rpartition(")")[2].split()[0] == "Z":
                        break
            except FileNotFoundError:
                break
            time.sleep(0.05)
        else:
            self.fail("the tool of the cancelled run still runs")

    def test_sigint_of_a_warm_run_exits_130_and_cancels(self):
        pid_file, env, root = self.waiting_tool_project()
        proc = subprocess.Popen([HEARTH_BIN, "run", "wait"], cwd=root, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        deadline = time.monotonic() + 30
        while not os.path.exists(pid_file) and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 130, err)
        run_id = run_id_of(err)
        while time.monotonic() < deadline:
            logs = hearth("logs", run_id, "--format", "ndjson", "--types", "run_end", cwd=root, env=env)
            if logs.stdout.strip():
                self.assertEqual(json.loads(logs.stdout)["error"]["type"], "cancelled")
                return
            time.sleep(0.1)
        self.fail("the run never ended")

    def test_connect_uses_the_warm_runtime(self):
        root = self.project()
        self.start_dev(root, clean_env())
        warm = hearth("connect", "p", "t1", cwd=root, input="hello there\n",
                      env=clean_env(HEARTH_DEBUG_WARM="1"))
        self.assertExit(warm, 0)
        self.assertIn(WARM, warm.stderr)
        cold = hearth("connect", "p", "t2", cwd=root, input="hello there\n",
                      env=clean_env(HEARTH_DEBUG_WARM="1", HEARTH_NO_WARM="1"))
        self.assertExit(cold, 0)
        self.assertIn(COLD, cold.stderr)
        self.assertEqual(json.loads(warm.stdout)["text"], json.loads(cold.stdout)["text"])
        self.assertEqual(json.loads(warm.stdout)["text"], "hello there")

    def test_a_connect_session_survives_a_reload(self):
        root = self.project()
        dev = self.start_dev(root, clean_env())
        proc = subprocess.Popen([HEARTH_BIN, "connect", "p", "t3"], cwd=root,
                                env=clean_env(HEARTH_DEBUG_WARM="1"), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        proc.stdin.write("first\n")
        proc.stdin.flush()
        first = proc.stdout.readline()  # the result is pretty-printed: read up to its end
        while not first.rstrip().endswith("}") or first.count("{") > first.count("}"):
            first += proc.stdout.readline()
        self.assertEqual(json.loads(first)["text"], "first")
        mark = len(dev.lines)
        path = os.path.join(root, "workflows", "hello.md")
        subprocess.run(["sed", "-i", "s/version 1/version 2/", path], check=True)
        dev.wait_for("reloaded in", start=mark)
        time.sleep(1)  # the old generation closes its idle connections once drained
        out, err = proc.communicate("second\n", timeout=60)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(json.loads(out)["text"], "second", err)
        self.assertIn(WARM, err)
        self.assertIn("the dev server reloaded; reconnecting", err)


if __name__ == "__main__":
    unittest.main()

"""hearth run and hearth logs (local store) on the examples and small fixture projects."""
import json
import os
import signal
import subprocess
import time
import unittest

from harness import HEARTH_BIN, HearthTestCase, clean_env, copy_example, hearth, run_id_of

TOOL_SPEC = {"description": "{desc}", "inputSchema": {
    "type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"],
    "additionalProperties": False}}


class RunTest(HearthTestCase):
    def test_hello_example_prints_the_result_and_logs_replays_it(self):
        project = copy_example(self, "hello")
        r = hearth("run", "hello", "--payload", '{"name":"World"}', cwd=project)
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.stdout), {"greeting": "Hello, World!"})
        self.assertIn("workflow hello\n", r.stderr)
        self.assertIn("tool:start  load_skill  greeting-style", r.stderr)
        self.assertIn("tool:done   format_name", r.stderr)
        run_id = run_id_of(r.stderr)
        logs = hearth("logs", run_id, cwd=project)
        self.assertExit(logs, 0)
        self.assertEqual(logs.stdout, "")
        self.assertIn(f"run:start    {run_id}  workflow=hello", logs.stderr)
        self.assertIn(f"run:end      {run_id}  ok", logs.stderr)
        nd = hearth("logs", run_id, "--format", "ndjson", cwd=project)
        events = [json.loads(line) for line in nd.stdout.splitlines()]
        self.assertEqual(events[0]["type"], "run_start")
        self.assertEqual(events[-1]["type"], "run_end")
        self.assertEqual(events[-1]["result"], {"greeting": "Hello, World!"})
        for i, e in enumerate(events):
            self.assertEqual(e["eventIndex"], i)
            self.assertEqual(e["offset"], "0000000000000000_%016d" % i)
        types = {e["type"] for e in events}
        for t in ("operation_start", "agent_start", "turn_start", "turn_request", "message_start",
                  "message_end", "tool_start", "tool_call", "turn_end", "turn", "usage",
                  "agent_end", "operation", "idle"):
            self.assertIn(t, types)

    def test_logs_filters_limits_and_resumes(self):
        project = copy_example(self, "hello")
        run_id = run_id_of(hearth("run", "hello", "--payload", '{"name":"x"}', cwd=project).stderr)
        only = hearth("logs", run_id, "--format", "ndjson", "--types", "run_start,run_end", cwd=project)
        self.assertEqual([json.loads(l)["type"] for l in only.stdout.splitlines()],
                         ["run_start", "run_end"])
        limited = hearth("logs", run_id, "--format", "ndjson", "--since", "2", "--limit", "1",
                         cwd=project)
        self.assertEqual([json.loads(l)["eventIndex"] for l in limited.stdout.splitlines()], [3])
        by_offset = hearth("logs", run_id, "--format", "ndjson", "--limit", "1", "--since",
                           "0000000000000000_0000000000000004", cwd=project)
        self.assertEqual(json.loads(by_offset.stdout)["eventIndex"], 5)
        bad = hearth("logs", run_id, "--since", "abc", cwd=project)
        self.assertExit(bad, 1)
        self.assertIn("Invalid offset", bad.stderr)

    def test_unknown_run_in_logs(self):
        project = copy_example(self, "hello")
        r = hearth("logs", "run_nope", cwd=project)
        self.assertExit(r, 1)
        self.assertIn('Run "run_nope" was not found.', r.stderr)

    def test_invalid_payload_is_rejected_before_anything_else(self):
        project = copy_example(self, "hello")
        r = hearth("run", "hello", "--payload", "{bad", cwd=project)
        self.assertExit(r, 1)
        self.assertTrue(r.stderr.startswith("Error: Invalid --payload: not valid JSON: {bad"), r.stderr)
        self.assertFalse(os.path.exists(os.path.join(project, ".hearth")))

    def test_unknown_workflow_lists_the_available_ones(self):
        project = copy_example(self, "hello")
        r = hearth("run", "nope", cwd=project)
        self.assertExit(r, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn('Error: Workflow "nope" is not registered.\n', r.stderr)
        self.assertIn('Available workflows: "greet", "greet-node", "hello".', r.stderr)

    def test_model_override_and_a_failing_run_exit_codes(self):
        project = copy_example(self, "weather-agent")
        r = hearth("run", "hello", "--payload", '{"name":"Ada"}', "--model", "mock/echo", cwd=project)
        self.assertExit(r, 0)
        self.assertEqual(set(json.loads(r.stdout)), {"greeting"})
        failed = hearth("run", "hello", "--payload", "{}", cwd=project)  # no payload.name
        self.assertExit(failed, 1)
        self.assertIn("payload.name", failed.stderr)
        logs = hearth("logs", run_id_of(failed.stderr), cwd=project)
        self.assertExit(logs, 2)
        self.assertIn("ERROR", logs.stderr)

    def test_a_compile_error_prints_the_report(self):
        project = copy_example(self, "hello")
        os.remove(os.path.join(project, "agent", "instructions.md"))
        r = hearth("run", "hello", cwd=project)
        self.assertExit(r, 1)
        self.assertIn("Discovery failed with", r.stderr)
        self.assertIn("Diagnostics written to", r.stderr)


class ToolFailureTest(HearthTestCase):
    """A tool that exits 1, times out, prints non-JSON or gets schema-invalid input: the model sees
    an error result and the run goes on."""

    def make_project(self):
        self.write("hearth.json", json.dumps({"name": "tools", "model": "mock/script"}))
        self.write("agent/instructions.md", "Use the tools.\n")
        tools = {
            "crash": "#!/bin/sh\necho 'something broke' >&2\nexit 1\n",
            "slow": "#!/bin/sh\nsleep 30\n",
            "plain": "#!/bin/sh\ncat >/dev/null\necho 'not json at all'\n",
            "strict": "#!/bin/sh\ncat\n",
        }
        for name, script in tools.items():
            spec = dict(TOOL_SPEC, description=f"The {name} tool.")
            if name == "slow":
                spec["timeoutMs"] = 500
            self.write(f"agent/tools/{name}.json", json.dumps(spec))
            self.write(f"agent/tools/{name}.sh", script, executable=True)
        calls = [{"name": n, "input": {"text": "x"}} for n in ("crash", "slow", "plain")]
        calls.append({"name": "strict", "input": {"text": 5}})
        self.write("agent/mock.jsonl", json.dumps({"toolCalls": calls}) + "\n" +
                   json.dumps({"text": "all done"}) + "\n")
        self.write("workflows/go.md", "---\ndescription: Try the tools.\n---\nGo.\n")

    def test_tool_failures_become_error_results(self):
        self.make_project()
        started = time.monotonic()
        r = hearth("run", "go", cwd=self.tmp)
        self.assertExit(r, 0)
        self.assertLess(time.monotonic() - started, 20)
        self.assertEqual(json.loads(r.stdout), "all done")
        logs = hearth("logs", run_id_of(r.stderr), "--format", "ndjson", "--types", "tool_call",
                      cwd=self.tmp)
        calls = {e["toolName"]: e for e in map(json.loads, logs.stdout.splitlines())}
        text = lambda name: calls[name]["result"]["content"][0]["text"]
        self.assertTrue(calls["crash"]["isError"])
        self.assertIn("exit code 1", text("crash"))
        self.assertIn("something broke", text("crash"))
        self.assertTrue(calls["slow"]["isError"])
        self.assertIn("timed out after 500 ms", text("slow"))
        self.assertFalse(calls["plain"]["isError"])
        self.assertEqual(text("plain"), "not json at all")
        self.assertTrue(calls["strict"]["isError"])
        self.assertIn("/text", text("strict"))
        log_lines = hearth("logs", run_id_of(r.stderr), "--format", "ndjson", "--types", "log",
                           cwd=self.tmp)
        self.assertIn("something broke", log_lines.stdout)


class CrashTest(HearthTestCase):
    def make_project(self):
        # The tool writes its host pid to a host file: no sandbox here (test_sandbox.py covers it).
        self.write("hearth.json", json.dumps({"name": "slow", "model": "mock/script",
                                              "sandbox": {"backend": "none",
                                                          "env": ["TOOL_PID_FILE"]}}))
        self.write("agent/instructions.md", "Wait.\n")
        self.write("agent/tools/wait.json", json.dumps(dict(TOOL_SPEC, description="Waits.")))
        self.write("agent/tools/wait.sh", "#!/bin/sh\necho $$ > \"$TOOL_PID_FILE\"\nexec sleep 60\n",
                   executable=True)
        self.pid_file = os.path.join(self.tmp, "tool.pid")
        self.write("agent/mock.jsonl", json.dumps({"toolCalls": [
            {"name": "wait", "input": {"text": "x"}}]}) + "\n" + json.dumps({"text": "ok"}) + "\n")
        self.write("workflows/wait.md", "---\ndescription: Waits.\n---\nWait.\n")
        self.write("workflows/quick.md", "---\ndescription: Quick.\nmodel: mock/echo\n---\nHi.\n")

    def start_run(self):
        proc = subprocess.Popen([HEARTH_BIN, "run", "wait"], cwd=self.tmp,
                                env=clean_env(TOOL_PID_FILE=self.pid_file),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        run_id = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if line.startswith("run run_"):
                run_id = line.split()[1]
            if line.startswith("tool:start  wait"):
                break
        self.assertIsNotNone(run_id)
        # tool_start comes before the spawn: wait until the tool really runs.
        while not os.path.exists(self.pid_file) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertTrue(os.path.exists(self.pid_file), "the tool never started")
        return proc, run_id

    def runtime_pid(self, parent):
        out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(parent)],
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            pid, _, args = line.strip().partition(" ")
            if "runtime" in args:
                return int(pid)
        self.fail("no runtime child of %d:\n%s" % (parent, out))

    def test_kill_9_of_the_runtime_errors_the_run_on_next_start(self):
        self.make_project()
        proc, run_id = self.start_run()
        os.kill(self.runtime_pid(proc.pid), signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 1, err)
        self.assertToolGone()
        self.assertIn("Lost the connection to the runtime", err)
        self.assertIn("signal 9", err)
        # The next start of a runtime recovers the abandoned run.
        self.assertExit(hearth("run", "quick", cwd=self.tmp), 0)
        logs = hearth("logs", run_id, "--format", "ndjson", "--types", "run_end", cwd=self.tmp)
        self.assertExit(logs, 2)
        end = json.loads(logs.stdout)
        self.assertTrue(end["isError"])
        self.assertEqual(end["error"]["type"], "runtime_crashed")

    def test_sigint_cancels_the_run_and_exits_130(self):
        self.make_project()
        proc, run_id = self.start_run()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 130, err)
        logs = hearth("logs", run_id, "--format", "ndjson", "--types", "run_end", cwd=self.tmp)
        self.assertExit(logs, 2)
        self.assertEqual(json.loads(logs.stdout)["error"]["type"], "cancelled")
        self.assertToolGone()

    def assertToolGone(self):
        """The tool process (its pid was written by the tool) no longer runs (or is a zombie)."""
        with open(self.pid_file) as f:
            pid = int(f.read())
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    state = f.read().rpartition(")")[2].split()[0]
            except FileNotFoundError:
                return
            if state == "Z":
                return
            time.sleep(0.05)
        self.fail(f"tool process {pid} was left running")


if __name__ == "__main__":
    unittest.main()

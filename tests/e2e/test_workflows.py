"""Programmable workflows through the binary: `hearth run` on Python, Node and bash scripts speaking
the ctx protocol (docs/workflow-protocol.md), `hearth logs` on their runs, timeouts and SIGINT."""
import json
import os
import shutil
import signal
import subprocess
import time
import unittest

from harness import FIXTURES, HEARTH_BIN, SOURCE_DIR, HearthTestCase, clean_env, hearth

NODE = shutil.which("node")


def group_gone(pgid, timeout=10.0):
    """True once no process of group `pgid` is left (zombies are reaped by PID 1 eventually)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def wait_for_file(path, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return True
        time.sleep(0.02)
    return False


class WorkflowTest(HearthTestCase):
    def hello(self):
        dest = os.path.join(self.tmp, "hello")
        shutil.copytree(os.path.join(SOURCE_DIR, "examples", "hello"), dest,
                        ignore=shutil.ignore_patterns(".hearth", "dist", "__pycache__"))
        return dest

    def project(self, files, unsandboxed=False):
        """A minimal project on mock/echo plus `files` {relative: content}. `unsandboxed`: scripts
        run as host processes (sandbox backend none), for tests that watch their host pids."""
        config = {"name": "p", "model": "mock/echo"}
        if unsandboxed:
            config["sandbox"] = {"backend": "none"}
        self.write("p/hearth.json", json.dumps(config))
        self.write("p/agent/instructions.md", "You help.\n")
        for relative, content in files.items():
            self.write(os.path.join("p", relative), content)
        return os.path.join(self.tmp, "p")

    def events(self, root, run_id, code=0):
        """The run's events via `hearth logs` (exit 2 when the run failed)."""
        r = hearth("logs", run_id, "--format", "ndjson", "--no-follow", cwd=root)
        self.assertExit(r, code)
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

    def run_id(self, stderr):
        for line in stderr.splitlines():
            if line.startswith("run run_"):
                return line.split()[1]
        self.fail(f"no run id in stderr:\n{stderr}")

    def check_greet(self, name):
        root = self.hello()
        r = hearth("run", name, "--payload", '{"name":"World"}', cwd=root)
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.stdout), {"greeting": "Hello, World!"})
        events = self.events(root, self.run_id(r.stderr))
        kinds = [e.get("operationKind") for e in events if e["type"] == "operation"]
        self.assertEqual(kinds, ["prompt", "task", "shell"])
        logs = [e for e in events if e["type"] == "log" and e["level"] == "info"]
        self.assertEqual(logs[0]["message"], "greeting complete")
        self.assertEqual(logs[0]["attributes"]["skills"], ["greeting-style"])  # skills/<name>/SKILL.md
        self.assertEqual(events[0]["type"], "run_start")
        self.assertEqual(events[-1]["type"], "run_end")
        self.assertFalse(events[-1]["isError"])

    def test_python_greet_returns_the_greeting_with_prompt_task_shell_and_log_events(self):
        self.check_greet("greet")

    def test_node_greet_returns_the_greeting_with_prompt_task_shell_and_log_events(self):
        if not NODE:
            print("skipped: node is not installed")
            return
        self.check_greet("greet-node")

    def test_a_bash_workflow_from_the_protocol_document_alone(self):
        with open(os.path.join(FIXTURES, "workflows", "greet.sh")) as f:
            root = self.project({"workflows/greet.sh": f.read()})
        r = hearth("run", "greet", "--payload", '{"name":"World"}', cwd=root)
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.stdout), {"greeting": "Hello, World!"})
        events = self.events(root, self.run_id(r.stderr))
        warn = [e["message"] for e in events if e["type"] == "log" and e["level"] == "warn"]
        self.assertIn("greeting World", warn)  # its stderr line

    def test_init_workflows_template_scaffolds_runnable_python_and_node_workflows(self):
        r = hearth("init", "demo", "--template", "workflows", "--no-git", cwd=self.tmp)
        self.assertExit(r, 0)
        self.assertIn("hearth run greet --payload", r.stderr)
        demo = os.path.join(self.tmp, "demo")
        for name in ("hearth_workflow.py", "hearth-workflow.mjs"):
            with open(os.path.join(demo, "helpers", name)) as a, \
                    open(os.path.join(SOURCE_DIR, "templates", "helpers", name)) as b:
                self.assertEqual(a.read(), b.read())
        for workflow in ("greet", "greet-node") if NODE else ("greet",):
            with self.subTest(workflow=workflow):
                r = hearth("run", workflow, "--payload", '{"name":"World"}', cwd=demo)
                self.assertExit(r, 0)
                self.assertEqual(json.loads(r.stdout), {"greeting": "Hello, World!"})
                self.assertIn("greeting complete", r.stderr)

    def test_example_helpers_are_the_shipped_helpers(self):
        for name in ("hearth_workflow.py", "hearth-workflow.mjs"):
            with open(os.path.join(SOURCE_DIR, "examples", "hello", "helpers", name)) as a, \
                    open(os.path.join(SOURCE_DIR, "templates", "helpers", name)) as b:
                self.assertEqual(a.read(), b.read(), f"copy templates/helpers/{name} to examples/hello/helpers/")

    def test_timeout_flag_kills_a_hanging_script_and_its_group(self):
        root = self.project({"workflows/hang.sh": "echo $$ > pid\nsleep 97 &\nsleep 97\n",
                             "workflows/hang.json": '{"timeoutMs": 60000}'}, unsandboxed=True)
        r = hearth("run", "hang", "--timeout", "300", cwd=root)
        self.assertExit(r, 1)
        self.assertIn('Workflow "hang" did not finish within 300 ms', r.stderr)
        with open(os.path.join(root, "pid")) as f:
            self.assertTrue(group_gone(int(f.read())))

    def test_a_crashing_script_reports_its_exit_code_and_stderr(self):
        root = self.project({"workflows/crash.py": "import sys\nprint('boom happened', file=sys.stderr)\n"
                                                   "sys.exit(4)\n"})
        r = hearth("run", "crash", cwd=root)
        self.assertExit(r, 1)
        self.assertIn('Workflow "crash" ended with exit code 4 before replying', r.stderr)
        self.assertIn("boom happened", r.stderr)

    def test_sigint_cancels_the_run_and_stops_the_script(self):
        root = self.project({"workflows/wait.sh": "sleep 97 &\necho $$ > pid.tmp\nmv pid.tmp pid\nwait\n"},
                            unsandboxed=True)
        build = hearth("build", cwd=root)  # compile first, so the run starts quickly
        self.assertExit(build, 0)
        proc = subprocess.Popen([HEARTH_BIN, "run", "wait"], cwd=root, env=clean_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.assertTrue(wait_for_file(os.path.join(root, "pid")), "the script never started")
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        self.assertEqual(proc.returncode, 130, err)
        with open(os.path.join(root, "pid")) as f:
            self.assertTrue(group_gone(int(f.read())))
        events = self.events(root, self.run_id(err), code=2)
        self.assertEqual(events[-1]["type"], "run_end")
        self.assertTrue(events[-1]["isError"])
        self.assertEqual(events[-1]["error"]["type"], "cancelled")


if __name__ == "__main__":
    unittest.main()

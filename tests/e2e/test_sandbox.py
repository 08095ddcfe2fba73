"""The sandbox (docs/sandbox.md): every command the model asks for (mock/script) runs under
bubblewrap; each escape attempt is refused or contained, and the turn goes on with the tool error
the model reads."""
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import unittest
import urllib.request

from harness import HEARTH_BIN, HearthTestCase, clean_env, copy_example, hearth, run_id_of

BWRAP = shutil.which("bwrap")
SECRETS = {"AWS_SECRET_ACCESS_KEY": "aws-secret-9f8e7d", "GITHUB_TOKEN": "ghp_secret123456",
           "DATABASE_URL": "mysql://admin:dbsecret42@db/prod"}  # not a PostgreSQL URL: never the store


def bash(command, timeout_ms=20000):
    return {"toolCalls": [{"name": "bash", "input": {"command": command, "timeoutMs": timeout_ms}}]}


@unittest.skipIf(BWRAP is None, "bwrap is not installed")
class SandboxEscapeTest(HearthTestCase):
    """One run whose model tries every escape the issue lists, one bash call per step."""

    def setUp(self):
        super().setUp()
        self.home = os.path.join(self.tmp, "home")
        self.write("home/.ssh/id_rsa", "-----BEGIN FAKE PRIVATE KEY-----\nhearth-test-key\n")
        self.project = os.path.join(self.tmp, "proj")
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(5)
        self.listener.settimeout(0.2)
        self.addCleanup(self.listener.close)
        self.port = self.listener.getsockname()[1]
        self.accepted = []
        self.stop = threading.Event()
        thread = threading.Thread(target=self.accept, daemon=True)
        thread.start()
        self.addCleanup(self.stop.set)

    def accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
                self.accepted.append(conn)
            except OSError:
                continue

    def run_steps(self, steps, sandbox=None):
        """Runs workflow `go` whose model takes `steps`; returns the tool results in order."""
        config = {"name": "sbx", "model": "mock/script"}
        if sandbox is not None:
            config["sandbox"] = sandbox
        self.write("proj/hearth.json", json.dumps(config))
        self.write("proj/.env", "DOTENV_SECRET=dotenv-secret-7c1\n")
        self.write("proj/agent/instructions.md", "Try things.\n")
        self.write("proj/agent/mock.jsonl",
                   "".join(json.dumps(s) + "\n" for s in steps) + json.dumps({"text": "done"}) + "\n")
        self.write("proj/workflows/go.md", "---\ndescription: Go.\n---\nGo.\n")
        env = clean_env(HOME=self.home, **SECRETS)
        # exec keeps the pid: the command learns hearth's own pid through a HEARTH_* variable.
        proc = subprocess.Popen(["sh", "-c", 'HEARTH_TEST_PID=$$ exec "$0" run go', HEARTH_BIN],
                                cwd=self.project, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        self.hearth_pid = proc.pid
        out, err = proc.communicate(timeout=180)
        r = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), "done")
        logs = hearth("logs", run_id_of(r.stderr), "--format", "ndjson", "--types", "tool_call",
                      cwd=self.project)
        events = [json.loads(line) for line in logs.stdout.splitlines()]
        self.assertEqual(len(events), len(steps), logs.stdout)
        return [(e["isError"], e["result"]["content"][0]["text"]) for e in events]

    def test_escapes_are_refused_or_contained(self):
        steps = [
            bash(f"cat {self.home}/.ssh/id_rsa; ls -a /root"),                     # 0 host home
            bash("cat /etc/shadow"),                                               # 1
            bash(f"cat {self.project}/.env"),                                      # 2 project .env
            bash(f"echo pwned > {self.project}/pwned.txt; echo pwned > /usr/pwned"),  # 3
            bash("env"),                                                           # 4 secrets
            bash(f"exec 3<>/dev/tcp/127.0.0.1/{self.port} && echo CONNECTED"),     # 5 loopback
            bash("python3 -c \"import os, time\nfor i in range(1000):\n  if os.fork() == 0:\n"
                 "    time.sleep(30); os._exit(0)\n\"; echo bomb-ended", timeout_ms=15000),  # 6 bomb
            bash("python3 -c \"b = bytearray(2 * 1024**3); print('allocated', len(b))\""),  # 7
            bash("id -u; python3 -c \"import os; os.setuid(0); print('became root')\""),  # 8
            bash("kill -9 $HEARTH_TEST_PID; kill -9 -1; echo still-here"),         # 9
            bash("echo seeded > /workspace/seed.txt && cat seed.txt && pwd"),      # 10 paths
            {"toolCalls": [{"name": "read_file", "input": {"path": "/workspace/seed.txt"}}]},  # 11
        ]
        results = self.run_steps(steps, sandbox={"limits": {"processes": 64}})
        err, text = results[0]
        self.assertTrue(err)
        self.assertNotIn("hearth-test-key", text)
        self.assertIn("No such file", text)
        err, text = results[1]
        self.assertTrue(err)
        self.assertNotIn("root:", text)
        err, text = results[2]
        self.assertTrue(err)
        self.assertNotIn("dotenv-secret-7c1", text)
        err, text = results[3]
        self.assertTrue(err)
        self.assertFalse(os.path.exists(os.path.join(self.project, "pwned.txt")))
        self.assertFalse(os.path.exists("/usr/pwned"))
        err, text = results[4]
        self.assertFalse(err, text)
        for value in [*SECRETS.values(), "dotenv-secret-7c1", self.home]:
            self.assertNotIn(value, text)
        self.assertIn("HOME=/workspace", text)
        self.assertIn("HEARTH_SESSION_ID=", text)
        self.assertIn("HEARTH_WORKSPACE=/workspace", text)
        err, text = results[5]
        self.assertTrue(err)
        self.assertNotIn("CONNECTED", text)
        self.assertEqual(self.accepted, [])
        err, text = results[6]
        print("fork bomb:", text[:300])
        self.assertTrue(err)
        self.assertIn("process limit (64 processes)", text)
        err, text = results[7]
        self.assertTrue(err)
        self.assertNotIn("allocated", text.replace("cannot allocate", ""))
        self.assertIn("memory limit (1024 MB", text)
        err, text = results[8]
        self.assertTrue(err)
        self.assertIn("1000", text)
        self.assertNotIn("became root", text)
        err, text = results[9]
        # A new pid namespace: hearth's pid does not exist there and -1 reaches nobody else.
        self.assertIn("kill: (%s) - No such process" % self.hearth_pid, text)
        self.assertIn("still-here", text)
        err, text = results[10]
        self.assertFalse(err, text)
        self.assertIn("seeded", text)
        self.assertIn("/workspace", text)
        err, text = results[11]
        self.assertFalse(err, text)
        self.assertIn("seeded", text)

    def test_cpu_limit_kills_the_command_and_names_the_limit(self):
        results = self.run_steps([bash("while :; do :; done")],
                                 sandbox={"limits": {"cpuSeconds": 1}})
        err, text = results[0]
        self.assertTrue(err)
        self.assertIn("killed: CPU time limit (1 s) exceeded", text)

    def test_network_allow_and_declared_env(self):
        os.environ.setdefault("HEARTH_SANDBOX_UNUSED", "")
        results = self.run_steps(
            [bash(f"exec 3<>/dev/tcp/127.0.0.1/{self.port} && echo CONNECTED; echo $GITHUB_TOKEN")],
            sandbox={"network": "allow", "env": ["GITHUB_TOKEN"]})
        err, text = results[0]
        self.assertIn("CONNECTED", text)
        self.assertIn(SECRETS["GITHUB_TOKEN"], text)

    def test_executable_tools_run_sandboxed_python_and_node(self):
        spec = {"description": "Reports.", "inputSchema": {"type": "object", "properties": {}}}
        self.write("proj/agent/tools/py_probe.json", json.dumps(spec))
        self.write("proj/agent/tools/py_probe.py",
                   "#!/usr/bin/env python3\nimport json, os, sys\nsys.stdin.read()\n"
                   "print(json.dumps({'uid': os.getuid(), 'cwd': os.getcwd(),\n"
                   "  'aws': os.environ.get('AWS_SECRET_ACCESS_KEY'),\n"
                   "  'env_readable': os.path.exists(os.path.join(os.getcwd(), '..', '..', '.env')),\n"
                   "  'ws': os.environ.get('HEARTH_WORKSPACE')}))\n", executable=True)
        steps = [{"toolCalls": [{"name": "py_probe", "input": {}}]}]
        if shutil.which("node"):
            self.write("proj/agent/tools/node_probe.json", json.dumps(spec))
            self.write("proj/agent/tools/node_probe.mjs",
                       "#!/usr/bin/env node\nconsole.log(JSON.stringify({uid: process.getuid(),"
                       " aws: process.env.AWS_SECRET_ACCESS_KEY ?? null}));\n", executable=True)
            steps.append({"toolCalls": [{"name": "node_probe", "input": {}}]})
        results = self.run_steps(steps)
        err, text = results[0]
        self.assertFalse(err, text)
        out = json.loads(text)
        self.assertEqual(out["uid"], 1000)
        self.assertIsNone(out["aws"])
        self.assertFalse(out["env_readable"])
        self.assertEqual(out["ws"], "/workspace")
        if len(results) > 1:
            err, text = results[1]
            self.assertFalse(err, text)
            self.assertEqual(json.loads(text), {"uid": 1000, "aws": None})


def zombie_children(parent):
    """Pids of exited, unreaped children of `parent` (state Z in /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == parent:
            found.append(int(entry))
    return found


@unittest.skipIf(BWRAP is None, "bwrap is not installed")
class SandboxReapTest(HearthTestCase):
    def test_a_server_keeps_no_zombie_per_sandboxed_tool_call(self):
        # bwrap's --new-session child outlives the bwrap hearth started; reparented to the
        # subreaper (hearth), it used to stay a zombie forever: one per tool call.
        project = copy_example(self, "hello")
        self.assertExit(hearth("build", cwd=project), 0)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([HEARTH_BIN, "start", "dist", "--port", str(port),
                                   "--insecure-no-auth"], cwd=project, env=clean_env(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(server.wait)
        self.addCleanup(server.kill)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/eve/v1/health", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    self.fail("hearth start did not come up")
                time.sleep(0.1)
        runs = 6
        for _ in range(runs):  # each run calls the sandboxed format_name tool once
            request = urllib.request.Request(base + "/workflows/hello?wait=result",
                                             data=b'{"name": "x"}', method="POST",
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as r:
                self.assertEqual(r.status, 200)
        time.sleep(0.5)
        zombies = zombie_children(server.pid)
        # The last call's orphan may exit after the last sweep; older ones are reaped.
        self.assertLessEqual(len(zombies), 2, f"{len(zombies)} zombies after {runs} runs")


class SandboxConfigTest(HearthTestCase):
    def project(self, sandbox):
        self.write("hearth.json", json.dumps({"name": "cfg", "model": "mock/echo",
                                              "sandbox": sandbox}))
        self.write("agent/instructions.md", "Hi.\n")

    def test_info_shows_the_backend_and_diagnoses_a_missing_bwrap(self):
        self.project({"network": "allow"})
        r = hearth("info", "--json", cwd=self.tmp)
        self.assertExit(r, 0)
        sb = json.loads(r.stdout)["sandbox"]
        self.assertEqual(sb["agents"][0]["network"], "allow")
        if BWRAP:
            self.assertEqual(sb["agents"][0]["backend"], "bubblewrap")
            self.assertIsNone(sb["diagnosis"])
        r = hearth("info", "--json", cwd=self.tmp, env=clean_env(HEARTH_BWRAP=""))
        sb = json.loads(r.stdout)["sandbox"]
        self.assertIsNone(sb["bwrap"])
        self.assertEqual(sb["agents"][0]["backend"], "none")
        self.assertEqual(sb["agents"][0]["startBackend"], "bubblewrap")
        self.assertIn("bubblewrap", sb["diagnosis"])

    def test_start_refuses_without_bwrap_and_dev_falls_back(self):
        self.project({})
        self.assertExit(hearth("build", cwd=self.tmp), 0)
        r = hearth("start", "--port", "0", cwd=self.tmp, env=clean_env(HEARTH_BWRAP=""),
                   timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("bubblewrap", r.stderr)
        self.assertIn("bwrap is not installed", r.stderr)
        self.write("workflows/hi.md", "---\ndescription: Hi.\n---\nHi.\n")
        r = hearth("run", "hi", cwd=self.tmp, env=clean_env(HEARTH_BWRAP=""))
        self.assertExit(r, 0)
        self.assertIn("WITHOUT a sandbox", r.stderr)

    def test_invalid_sandbox_config_is_reported(self):
        self.project({"network": "sometimes"})
        r = hearth("info", "--json", cwd=self.tmp)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("sandbox", r.stderr)

    @unittest.skipIf(BWRAP is None, "bwrap is not installed")
    def test_sandbox_exec_runs_a_command_in_the_agent_sandbox(self):
        self.project({})
        r = hearth("sandbox", "exec", "cfg", "--", "sh", "-c", "id -u; pwd; echo $HOME; ls /root",
                   cwd=self.tmp, env=clean_env(GITHUB_TOKEN="x"))
        self.assertExit(r, 2)  # ls /root: no such directory
        self.assertEqual(r.stdout.split()[:3], ["1000", "/workspace", "/workspace"])


if __name__ == "__main__":
    unittest.main()

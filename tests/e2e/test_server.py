"""End-to-end tests of the HTTP server through the binary: `hearth start` on a `hearth build`
output and the runtime child's serving mode (`hearth runtime --listen`), checked against the
shapes captured from Flue 0.11 and Eve 0.80.1 (docs/http.md, peers/)."""
import http.client
import json
import os
import re
import select
import signal
import subprocess
import time
import unittest

from harness import HEARTH_BIN, FakeLLM, HearthTestCase, clean_env, hearth

SECURITY = {"x-content-type-options": "nosniff", "cross-origin-resource-policy": "cross-origin"}


def write_project(test, name="srv"):
    """A small project on mock/echo: root agent over HTTP and an HTTP workflow `hello`."""
    test.write(f"{name}/hearth.json", json.dumps({"name": name, "model": "mock/echo"}))
    test.write(f"{name}/agent/agent.json", json.dumps({"description": "Echoes.", "http": True}))
    test.write(f"{name}/agent/instructions.md", "You echo.\n")
    test.write(f"{name}/workflows/hello.md",
               "---\ndescription: Greets.\nhttp: true\nresult:\n  type: object\n  properties:\n"
               "    greeting: { type: string }\n  required: [greeting]\n---\n"
               "Greet {{payload.name}}.\n")
    test.write(f"{name}/workflows/private.md", "---\ndescription: Not over HTTP.\n---\nHi.\n")
    return os.path.join(test.tmp, name)


def read_line(stream, pattern, deadline):
    """Reads lines from a pipe until one matches `pattern` (a regex) or the deadline passes."""
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    raise AssertionError(f"no line matching {pattern!r}; saw: {''.join(seen)!r}")


class Http:
    """A tiny client over one keep-alive connection that returns (status, headers, body)."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def __del__(self):
        self.conn.close()

    def request(self, method, path, body=None, headers=None):
        data = body if body is None or isinstance(body, (bytes, str)) else json.dumps(body)
        hdrs = dict(headers or {})
        if data is not None and "content-type" not in {k.lower() for k in hdrs}:
            hdrs["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=hdrs)
        r = self.conn.getresponse()
        raw = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, raw.decode()

    def json(self, method, path, body=None, headers=None):
        status, hdrs, raw = self.request(method, path, body, headers)
        return status, hdrs, (json.loads(raw) if raw else None)


class Started:
    """`hearth start DIR --host 127.0.0.1 --port 0`, waiting for its listening line. Without auth
    configured every route answers 401, so route tests pass --insecure-no-auth unless told not to."""

    def __init__(self, test, dist, *extra, insecure=True, env=None):
        flags = ["--insecure-no-auth"] if insecure else []
        self.proc = subprocess.Popen([HEARTH_BIN, "start", dist, "--host", "127.0.0.1", "--port", "0",
                                      *flags, *extra], cwd=test.tmp, env=env or clean_env(), text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        test.addCleanup(self.kill)
        match = read_line(self.proc.stderr, r"listening on http://127\.0\.0\.1:(\d+)",
                          time.monotonic() + 60)
        self.port = int(match.group(1))
        self.url = f"http://127.0.0.1:{self.port}"

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


def built(test):
    project = write_project(test)
    r = hearth("build", cwd=project)
    test.assertExit(r, 0)
    return project, os.path.join(project, "dist")


def wait_run_closed(client, run_id, deadline_s=30):
    """Long-polls /runs/:runId until Stream-Closed; returns every event."""
    events, offset = [], "-1"
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        status, hdrs, body = client.json("GET", f"/runs/{run_id}?offset={offset}&live=long-poll")
        if status == 200:
            events += body
        offset = hdrs["stream-next-offset"]
        if hdrs.get("stream-closed") == "true":
            return events
    raise AssertionError("run never closed")


def wait_waiting(client, sid, turns, deadline_s=30):
    """Reads an Eve session's stream until it has reached session.waiting `turns` times."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        _, _, raw = client.request("GET", f"/eve/v1/session/{sid}/stream?startIndex=0&follow=false")
        events = [json.loads(line) for line in raw.splitlines() if line]
        if sum(1 for e in events if e["type"] == "session.waiting") >= turns:
            return raw
        time.sleep(0.05)
    raise AssertionError("the session never became waiting")


class ClientContextTest(HearthTestCase):
    def test_client_context_reaches_the_model_once_and_is_never_stored(self):
        # Seed 003: "One-turn ephemeral context prepended as user-role messages. Not persisted
        # to durable history." The fake model records what each turn was sent.
        with FakeLLM(self.tmp, [{"file": "openai/chat-stream-text-usage.sse"},
                                {"file": "openai/chat-stream-text-usage.sse"}]) as llm:
            project = write_project(self)
            with open(os.path.join(project, "hearth.json"), "w") as f:
                json.dump({"name": "srv", "model": "fake/gpt-4o",
                           "providers": {"fake": {"api": "openai-chat", "baseUrl": llm.url + "/v1",
                                                  "apiKeyEnv": "FAKE_KEY"}}}, f)
            self.assertExit(hearth("build", cwd=project), 0)
            server = Started(self, os.path.join(project, "dist"), env=clean_env(FAKE_KEY="k"))
            c = Http(server.port)
            status, _, created = c.json("POST", "/eve/v1/session",
                                        {"message": "first", "clientContext": ["page: /billing", "tz: UTC"]})
            self.assertEqual(status, 202)
            sid = created["sessionId"]
            wait_waiting(c, sid, 1)
            status, _, _ = c.json("POST", f"/eve/v1/session/{sid}", {"message": "second"})
            self.assertEqual(status, 202)
            raw = wait_waiting(c, sid, 2)
            requests = llm.requests()
        self.assertEqual(len(requests), 2)
        users = [[m["content"] for m in r["body"]["messages"] if m["role"] == "user"] for r in requests]
        flat = [[c if isinstance(c, str) else "".join(p.get("text", "") for p in c) for c in u]
                for u in users]
        self.assertEqual(flat[0], ["Client context:\npage: /billing\ntz: UTC", "first"])
        self.assertEqual(flat[1][-1], "second")
        self.assertFalse(any("Client context" in t for t in flat[1]), flat[1])
        self.assertNotIn("page: /billing", raw)  # nor on the session's stream


class StartTest(HearthTestCase):
    def test_start_serves_flue_routes_with_the_captured_shapes(self):
        _, dist = built(self)
        server = Started(self, dist)
        c = Http(server.port)
        status, hdrs, body = c.json("POST", "/workflows/hello", {"name": "World"})
        self.assertEqual(status, 202)
        run_id = body["runId"]
        self.assertRegex(run_id, r"^run_[0-9A-HJKMNP-TV-Z]{26}$")
        self.assertEqual(body, {"status": "accepted", "runId": run_id, "offset": "-1",
                                "streamUrl": f"{server.url}/runs/{run_id}"})
        self.assertEqual(hdrs["location"], body["streamUrl"])
        self.assertEqual(hdrs["stream-next-offset"], "-1")
        self.assertEqual(hdrs["x-flue-run-id"], run_id)
        for k, v in SECURITY.items():
            self.assertEqual(hdrs[k], v)
        events = wait_run_closed(c, run_id)
        self.assertEqual(events[0]["type"], "run_start")
        self.assertEqual(events[-1]["type"], "run_end")
        self.assertEqual([e["eventIndex"] for e in events], list(range(len(events))))

        status, hdrs, body = c.json("GET", f"/runs/{run_id}")
        self.assertEqual(status, 200)
        self.assertEqual(hdrs["content-type"], "application/json")
        self.assertEqual(hdrs["cache-control"], "no-store")
        last = "0000000000000000_%016d" % (len(events) - 1)
        self.assertEqual(hdrs["stream-next-offset"], last)
        self.assertEqual((hdrs["stream-up-to-date"], hdrs["stream-closed"]), ("true", "true"))
        self.assertRegex(hdrs["etag"], r'^"[A-Za-z0-9+/=]+:-1:' + last + r':c"$')
        status, _, _ = c.request("GET", f"/runs/{run_id}", headers={"If-None-Match": hdrs["etag"]})
        self.assertEqual(status, 304)
        status, hdrs, raw = c.request("HEAD", f"/runs/{run_id}")
        self.assertEqual((status, raw, hdrs["stream-closed"]), (200, "", "true"))
        status, _, record = c.json("GET", f"/runs/{run_id}?meta")
        self.assertEqual((status, record["status"], record["runId"]), (200, "completed", run_id))
        self.assertEqual(record["owner"], {"kind": "workflow", "workflowName": "hello",
                                           "instanceId": run_id})
        status, _, body = c.json("GET", f"/runs/{run_id}?offset=" + "0000000000000000_%016d" % (len(events) - 3))
        self.assertEqual([e["eventIndex"] for e in body], [len(events) - 2, len(events) - 1])
        status, hdrs, raw = c.request("GET", f"/runs/{run_id}?offset={last}&live=long-poll")
        self.assertEqual((status, raw, hdrs["stream-closed"]), (204, "", "true"))
        self.assertRegex(hdrs["stream-cursor"], r"^\d+$")
        status, hdrs, raw = c.request("GET", f"/runs/{run_id}?offset=-1&live=sse")
        self.assertEqual((status, hdrs["content-type"], hdrs["cache-control"]),
                         (200, "text/event-stream", "no-cache"))
        self.assertTrue(raw.startswith("event: data\ndata:["), raw[:80])
        self.assertTrue(raw.endswith('event: control\ndata:{"streamNextOffset":"%s","streamClosed":true}\n\n'
                                     % last), raw[-200:])

        status, _, body = c.json("POST", "/workflows/hello?wait=result", {"name": "Ada"})
        self.assertEqual(status, 200)
        self.assertIn("greeting", body["result"])
        self.assertEqual(body["_meta"], {"runId": body["runId"]})
        self.assertEqual(body["streamUrl"], f"{server.url}/runs/{body['runId']}")

        status, _, body = c.json("POST", "/agents/srv/t1", {"message": "Hello agent"})
        self.assertEqual(status, 202)
        self.assertEqual(body["offset"], "-1")
        self.assertEqual(body["streamUrl"], f"{server.url}/agents/srv/t1")
        offset, deadline = "-1", time.monotonic() + 30
        while True:  # the admitted prompt ends with `idle` on the instance stream
            status, hdrs, events = c.json("GET", f"/agents/srv/t1?offset={offset}&live=long-poll")
            offset = hdrs["stream-next-offset"]
            if status == 200 and events[-1]["type"] == "idle":
                break
            self.assertLess(time.monotonic(), deadline)
        status, _, body = c.json("POST", "/agents/srv/t1?wait=result", {"message": "Second"})
        self.assertEqual((status, body["result"]["text"]), (200, "Second"))
        self.assertEqual(body["offset"], offset)  # the tail at admission
        status, hdrs, body = c.json("GET", "/agents/srv/t1")
        self.assertEqual(status, 200)
        self.assertNotIn("stream-closed", hdrs)
        status, _, doc = c.json("GET", "/openapi.json")
        self.assertEqual((status, doc["openapi"]), (200, "3.1.0"))
        self.assertEqual(set(doc["paths"]), {"/workflows/{name}", "/agents/{name}/{id}"})

    def test_error_cases_use_flues_envelope_without_dev_in_production(self):
        _, dist = built(self)
        c = Http(Started(self, dist).port)
        cases = [
            ("POST", "/workflows/nosuch", "{}", None, 404, "workflow_not_found"),
            ("POST", "/workflows/private", "{}", None, 404, "workflow_not_found"),
            ("POST", "/workflows/hello", "{bad", None, 400, "invalid_json"),
            ("POST", "/workflows/hello?wait=bogus", "{}", None, 400, "invalid_request"),
            ("POST", "/workflows/hello", "x", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
            ("GET", "/workflows/hello", None, None, 405, "method_not_allowed"),
            ("GET", "/runs/run_01NOPE", None, None, 404, "run_not_found"),
            ("POST", "/runs/run_01NOPE", "", None, 405, "method_not_allowed"),
            ("POST", "/agents/nobody/t1", '{"message":"x"}', None, 404, "agent_not_found"),
            ("GET", "/agents/srv/never", None, None, 404, "stream_not_found"),
            ("POST", "/agents/srv/t1", '{"kind":"user","body":"x"}', None, 400, "invalid_request"),
            ("PUT", "/agents/srv/t1", "{}", None, 405, "method_not_allowed"),
            ("POST", "/workflows/hello", " " * (17 << 20), None, 413, "payload_too_large"),
        ]
        for method, path, body, headers, status, kind in cases:
            with self.subTest(path=path, method=method):
                got, hdrs, raw = c.request(method, path, body, headers)
                self.assertEqual(got, status, raw)
                error = json.loads(raw)["error"]
                self.assertEqual(error["type"], kind)
                self.assertEqual(set(error), {"type", "message", "details"})  # no dev
                for k, v in SECURITY.items():
                    self.assertEqual(hdrs[k], v)
                if status == 405:
                    self.assertIn("allow", hdrs)
                if status == 413:
                    c = Http(c.conn.port)  # the server closes a connection it did not read
        _, hdrs, _ = c.request("GET", "/workflows/hello")
        self.assertEqual(hdrs["allow"], "POST")
        _, hdrs, _ = c.request("PUT", "/agents/srv/t1", "{}")
        self.assertEqual(hdrs["allow"], "GET, HEAD, POST")
        _, _, body = c.json("GET", "/runs/run_01NOPE?offset=abc")
        self.assertEqual(body["error"]["message"], 'Run "run_01NOPE" was not found.')

    def test_eve_session_round_trip(self):
        _, dist = built(self)
        c = Http(Started(self, dist).port)
        status, _, health = c.json("GET", "/eve/v1/health")
        self.assertEqual((status, health), (200, {"ok": True, "status": "ready",
                                                  "workflowId": "workflow//eve//workflowEntry"}))
        status, hdrs, info = c.json("GET", "/eve/v1/info")
        self.assertEqual((status, info["kind"], info["agent"]["name"], info["mode"]),
                         (200, "eve-agent-info", "srv", "production"))
        status, hdrs, created = c.json("POST", "/eve/v1/session", {"message": "What is up?"})
        self.assertEqual(status, 202)
        sid = created["sessionId"]
        self.assertEqual(hdrs["x-eve-session-id"], sid)
        self.assertEqual(hdrs["cache-control"], "no-store")
        deadline = time.monotonic() + 30
        while True:
            status, hdrs, raw = c.request("GET", f"/eve/v1/session/{sid}/stream?startIndex=0&follow=false")
            events = [json.loads(line) for line in raw.splitlines() if line]
            if events and events[-1]["type"] == "session.waiting":
                break
            self.assertLess(time.monotonic(), deadline, raw)
        self.assertTrue(raw.startswith("\n"))
        self.assertEqual(hdrs["content-type"], "application/x-ndjson; charset=utf-8")
        self.assertEqual(hdrs["x-eve-stream-version"], "26")
        self.assertEqual(hdrs["x-eve-stream-tail-index"], str(len(events) - 1))
        self.assertEqual([e["type"] for e in events[:3]],
                         ["session.started", "turn.started", "message.received"])
        self.assertEqual(list(json.loads(raw.splitlines()[1])), ["data", "type", "meta"])
        self.assertEqual(events[-1]["data"]["continuationToken"], created["continuationToken"])
        status, _, body = c.json("POST", f"/eve/v1/session/{sid}", {"message": "again"})
        self.assertEqual((status, body["status"]), (202, "accepted"))
        status, _, body = c.json("POST", f"/eve/v1/session/{sid}",
                                 {"message": "x", "continuationToken": "stale"})
        self.assertEqual((status, body["ok"]), (400, False))
        # An unknown session: Eve 0.80.1's 409 for a follow-up, the seed's 404 for its stream.
        status, _, body = c.json("POST", "/eve/v1/session/wrun_01AAAAAAAAAAAAAAAAAAAAAAAA", {"message": "x"})
        self.assertEqual((status, body["code"]), (409, "session_not_active"))
        status, _, body = c.json("GET", "/eve/v1/session/wrun_01AAAAAAAAAAAAAAAAAAAAAAAA/stream")
        self.assertEqual(status, 404)
        status, _, body = c.json("POST", f"/eve/v1/session/{sid}/reset")
        self.assertEqual(body, {"ok": True, "previousSessionId": sid, "status": "reset"})
        status, _, body = c.json("POST", f"/eve/v1/session/{sid}", {"message": "x"})
        self.assertEqual((status, body["code"]), (409, "session_not_active"))

    def test_signals_exit_130_and_143(self):
        _, dist = built(self)
        for signo, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
            with self.subTest(signal=signo):
                server = Started(self, dist)
                self.assertEqual(Http(server.port).json("GET", "/eve/v1/health")[0], 200)
                server.proc.send_signal(signo)
                self.assertEqual(server.proc.wait(20), code)

    def test_start_without_a_build_exits_1_with_a_hint(self):
        r = hearth("start", self.tmp, "--port", "0", cwd=self.tmp)
        self.assertExit(r, 1)
        self.assertTrue(r.stderr.startswith("Error: No hearth build found in "), r.stderr)
        self.assertIn("hearth build", r.stderr)


class ServingModeTest(HearthTestCase):
    """The runtime child's serving mode, as `hearth dev` drives it (docs/ipc.md §5)."""

    def spawn(self, project, listen, *extra):
        proc = subprocess.Popen([HEARTH_BIN, "runtime", "--root", project, "--listen", listen, *extra],
                                env=clean_env(HEARTH_INTERNAL_IPC="1"), text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait(10)))
        line = read_line(proc.stdout, r'"method":"ready"', time.monotonic() + 60)
        ready = json.loads(line.string)["params"]
        return proc, ready

    def test_ready_reports_the_port_and_shutdown_drains_and_exits_0(self):
        project, _ = built(self)
        proc, ready = self.spawn(project, "127.0.0.1:0", "--dev")
        self.assertEqual(set(ready), {"pid", "version", "url", "port"})
        self.assertEqual(ready["pid"], proc.pid)
        self.assertEqual(ready["url"], f"http://127.0.0.1:{ready['port']}")
        c = Http(ready["port"])
        status, _, body = c.json("POST", "/workflows/nosuch", "{}")
        self.assertEqual(status, 404)
        self.assertIn('"hello"', body["error"]["dev"])  # dev mode
        proc.stdin.write('{"jsonrpc":"2.0","id":1,"method":"shutdown"}\n')
        proc.stdin.flush()
        read_line(proc.stdout, r'"id":1,.*"result":\{\}', time.monotonic() + 20)
        self.assertEqual(proc.wait(20), 0)

    def test_eof_stops_it_and_reuse_port_lets_two_generations_share_a_port(self):
        project, _ = built(self)
        old, ready = self.spawn(project, "127.0.0.1:0", "--reuse-port")
        port = ready["port"]
        new, ready2 = self.spawn(project, f"127.0.0.1:{port}", "--reuse-port")
        self.assertEqual(ready2["port"], port)
        old.stdin.close()  # EOF: the old generation drains and exits
        self.assertEqual(old.wait(20), 0)
        self.assertEqual(Http(port).json("GET", "/eve/v1/health")[0], 200)  # the new one serves
        busy = subprocess.run([HEARTH_BIN, "runtime", "--root", project, "--listen", f"127.0.0.1:{port}"],
                              env=clean_env(HEARTH_INTERNAL_IPC="1"), input="", text=True,
                              capture_output=True, timeout=60)
        self.assertEqual(busy.returncode, 1)  # without --reuse-port the port is taken
        self.assertIn('"method":"error"', busy.stdout)
        self.assertIn("server_bind_failed", busy.stdout)
        new.stdin.close()
        self.assertEqual(new.wait(20), 0)


if __name__ == "__main__":
    unittest.main()

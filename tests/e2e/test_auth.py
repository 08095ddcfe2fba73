"""End-to-end tests of route auth, browser safety, invokers and access (docs/auth.md): `hearth start`
fails closed, bearer credentials, `http: false` on both protocols, `hearth dev`'s localDev with Host
and Origin checks, the invoker on runs, profiles and access rules over HTTP and on the CLI."""
import json
import os
import subprocess
import time
import unittest

from harness import HEARTH_BIN, HearthTestCase, clean_env, hearth, run_id_of
from test_server import Http, Started, read_line, wait_run_closed, write_project

TOKEN = "tok-0123456789abcdef"
ROUTES = [("POST", "/workflows/hello"), ("GET", "/runs/run_x"), ("GET", "/runs/run_x?meta"),
          ("POST", "/agents/srv/i1"), ("GET", "/agents/srv/i1"), ("GET", "/admin/runs"),
          ("GET", "/admin/runs/run_x"), ("GET", "/admin/agents"), ("GET", "/openapi.json"),
          ("GET", "/eve/v1/info"), ("POST", "/eve/v1/session"), ("POST", "/eve/v1/session/s1"),
          ("POST", "/eve/v1/session/s1/cancel"), ("POST", "/eve/v1/session/s1/reset"),
          ("GET", "/eve/v1/session/s1/stream")]


def build(test, project):
    test.assertExit(hearth("build", cwd=project), 0)
    return os.path.join(project, "dist")


def bearer_project(test, **agent):
    project = write_project(test)
    test.write("srv/hearth.json", json.dumps({
        "name": "srv", "model": "mock/echo",
        "auth": [{"kind": "bearer", "tokenEnv": "APP_TOKEN", "selectProfiles": True,
                  "invoker": {"id": "ci-bot", "kind": "service", "meta": {"team": "ops"}}}]}))
    test.write("srv/agents/secret/agent.json", json.dumps({"description": "Internal.", "http": False}))
    test.write("srv/agents/secret/instructions.md", "Internal.\n")
    test.write("srv/workflows/ops_only.md",
               "---\ndescription: Ops only.\nhttp: true\naccess:\n  kinds: [service]\n"
               "  meta: { team: ops }\n---\nHi.\n")
    test.write("srv/workflows/users_only.md",
               "---\ndescription: Users only.\nhttp: true\naccess:\n  kinds: [user]\n---\nHi.\n")
    if agent:
        test.write("srv/agent/agent.json", json.dumps({"description": "Echoes.", "http": True, **agent}))
    return project


class StartAuthTest(HearthTestCase):
    def test_start_without_auth_refuses_every_route_but_health_and_says_how_to_fix_it(self):
        dist = build(self, write_project(self))
        proc = subprocess.Popen([HEARTH_BIN, "start", dist, "--port", "0"], cwd=self.tmp,
                                env=clean_env(), text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait(10)))
        deadline = time.monotonic() + 60
        read_line(proc.stderr, r"no auth configured.*hearth\.json.*--insecure-no-auth", deadline)
        port = int(read_line(proc.stderr, r"listening on http://127\.0\.0\.1:(\d+)$", deadline).group(1))
        c = Http(port)
        for method, path in ROUTES:
            with self.subTest(route=f"{method} {path}"):
                status, hdrs, body = c.json(method, path, {"message": "hi"} if method == "POST" else None)
                self.assertEqual(status, 401)
                self.assertEqual(hdrs["www-authenticate"], "Bearer")
                if path.startswith("/eve/"):
                    self.assertEqual(body, {"ok": False, "code": "unauthorized",
                                            "error": "Authorization is required for this route."})
                else:
                    self.assertEqual(body["error"]["type"], "unauthorized")
                    self.assertNotIn("dev", body["error"])
                c = Http(port)  # refusals close the connection (the body was never read)
        status, _, body = c.json("GET", "/eve/v1/health")
        self.assertEqual((status, body["ok"]), (200, True))
        # MCP OAuth consent (issue 13 §4): the browser's callback carries no credential; its
        # one-use token is the check (unknown: 404). Nothing else under the prefix is let through.
        status, _, _ = Http(port).request("GET", "/eve/v1/connections/fx/callback/nope?state=x&code=y")
        self.assertEqual(status, 404)
        # Matched on the raw path (as the router matches), GET only (HEAD runs the GET handler).
        for method, path in (("GET", "/eve/v1/connections/fx/callback/a/b"), ("GET", "/eve/v1/connections/fx/other/nope"),
                             ("GET", "/eve/v1/connections/fx%2Fcallback%2Fnope"),
                             ("HEAD", "/eve/v1/connections/fx/callback/nope?state=x&code=y")):
            status, _, _ = Http(port).request(method, path)
            self.assertEqual(status, 401, method + " " + path)

    def test_the_dockerfile_binds_all_interfaces_on_the_port_start_uses(self):
        dist = build(self, write_project(self))
        with open(os.path.join(dist, "Dockerfile")) as f:
            dockerfile = f.read()
        self.assertIn("EXPOSE 3000\n", dockerfile)
        self.assertIn('"--host", "0.0.0.0", "--port", "3000"', dockerfile)
        self.assertNotIn("3583", dockerfile)

    def test_insecure_no_auth_warns_and_serves(self):
        dist = build(self, write_project(self))
        proc = subprocess.Popen([HEARTH_BIN, "start", dist, "--port", "0", "--insecure-no-auth"],
                                cwd=self.tmp, env=clean_env(), text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait(10)))
        deadline = time.monotonic() + 60
        read_line(proc.stderr, r"warning: --insecure-no-auth", deadline)
        port = int(read_line(proc.stderr, r"listening on http://127\.0\.0\.1:(\d+)", deadline).group(1))
        self.assertEqual(Http(port).json("GET", "/admin/agents")[0], 200)

    def test_bearer_right_token_2xx_wrong_401_and_http_false_404(self):
        dist = build(self, bearer_project(self))
        server = Started(self, dist, insecure=False, env=clean_env(APP_TOKEN=TOKEN))
        good = {"Authorization": f"Bearer {TOKEN}"}
        c = Http(server.port)
        status, _, body = c.json("POST", "/workflows/hello", {"name": "A"}, good)
        self.assertEqual(status, 202)
        events = wait_run_closed_with(c, body["runId"], good)
        self.assertEqual(events[0]["type"], "run_start")
        self.assertEqual(events[0]["invoker"], {"id": "ci-bot", "kind": "service", "meta": {"team": "ops"}})
        run_id = body["runId"]
        status, _, meta = c.json("GET", f"/runs/{run_id}?meta", None, good)
        self.assertEqual(meta["invoker"]["id"], "ci-bot")
        # `hearth start` keeps its store in ./.hearth where it ran (self.tmp; docs/deploy.md).
        r = hearth("logs", run_id, "--format", "ndjson", cwd=dist,
                   env=clean_env(HEARTH_STATE_DIR=os.path.join(self.tmp, ".hearth")))
        self.assertExit(r, 0)
        first = json.loads(r.stdout.splitlines()[0])
        self.assertEqual((first["type"], first["invoker"]["id"]), ("run_start", "ci-bot"))
        r = hearth("logs", run_id, "--server", server.url, "--header", f"Authorization: Bearer {TOKEN}",
                   "--format", "ndjson", cwd=self.tmp)
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.stdout.splitlines()[0])["invoker"]["id"], "ci-bot")
        r = hearth("logs", run_id, "--server", server.url, "--format", "ndjson", cwd=self.tmp)
        self.assertExit(r, 1)
        self.assertIn("401", r.stderr)
        status, hdrs, body = Http(server.port).json("POST", "/workflows/hello", {"name": "A"},
                                                    {"Authorization": "Bearer nope"})
        self.assertEqual((status, body["error"]["type"]), (401, "unauthorized"))
        self.assertEqual(hdrs["www-authenticate"], "Bearer")
        c = Http(server.port)
        self.assertEqual(c.json("POST", "/agents/secret/i1", {"message": "x"}, good)[0], 404)
        self.assertEqual(c.json("POST", "/workflows/private", {}, good)[0], 404)
        self.assertEqual(c.json("GET", "/eve/v1/info", None, good)[0], 200)

    def test_a_body_is_not_read_before_the_caller_is_authenticated(self):
        # Only the headers are sent, announcing a body just under the limit: the 401 must come
        # back without the server waiting for (and buffering) the body. Before, it waited for
        # the whole body (io timeout) and only then ran the auth walk.
        import socket
        dist = build(self, bearer_project(self))
        server = Started(self, dist, insecure=False, env=clean_env(APP_TOKEN=TOKEN))
        for path in ("/workflows/hello", "/eve/v1/session"):
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
                s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                          "application/json\r\nContent-Length: 4000000\r\n\r\n".encode())
                started = time.monotonic()
                head = s.recv(4096).decode("latin-1")
                self.assertLess(time.monotonic() - started, 4)
                self.assertTrue(head.startswith("HTTP/1.1 401"), head)
                self.assertIn("connection: close", head.lower())
        # A small body sent with its headers (one write, as most clients do) is parsed from the
        # buffer and the auth walk runs just before the handler: still a 401 that closes.
        for path in ("/workflows/hello", "/eve/v1/session"):
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
                s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                          "application/json\r\nContent-Length: 13\r\n\r\n{\"name\": \"A\"}".encode())
                head = s.recv(4096).decode("latin-1")
                self.assertTrue(head.startswith("HTTP/1.1 401"), head)
                self.assertIn("connection: close", head.lower())
        # An authenticated body is still read and served on the same kind of request.
        status, _, body = Http(server.port).json("POST", "/workflows/hello", {"name": "B"},
                                                 {"Authorization": f"Bearer {TOKEN}"})
        self.assertEqual(status, 202, body)

    def test_access_rules_deny_with_403_naming_the_rule(self):
        dist = build(self, bearer_project(self))
        server = Started(self, dist, insecure=False, env=clean_env(APP_TOKEN=TOKEN))
        good = {"Authorization": f"Bearer {TOKEN}"}
        c = Http(server.port)
        status, _, body = c.json("POST", "/workflows/ops_only?wait=result", {}, good)
        self.assertEqual(status, 200, body)
        status, _, body = c.json("POST", "/workflows/users_only", {}, good)
        self.assertEqual(status, 403)
        self.assertEqual(body["error"]["type"], "forbidden")
        self.assertIn("access.kinds", body["error"]["details"])

    def test_root_agent_with_http_false_has_no_eve_sessions(self):
        project = write_project(self)
        self.write("srv/agent/agent.json", json.dumps({"description": "Echoes.", "http": False}))
        server = Started(self, build(self, project))
        c = Http(server.port)
        status, _, body = c.json("POST", "/eve/v1/session", {"message": "hi"})
        self.assertEqual(status, 404)
        self.assertFalse(body["ok"])
        self.assertEqual(c.json("GET", "/eve/v1/session/s1/stream")[0], 404)
        self.assertEqual(c.json("POST", "/agents/srv/i1", {"message": "x"})[0], 404)


def wait_run_closed_with(client, run_id, headers, deadline_s=30):
    events, offset = [], "-1"
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        status, hdrs, body = client.json("GET", f"/runs/{run_id}?offset={offset}&live=long-poll",
                                         None, headers)
        if status == 200:
            events += body
        offset = hdrs["stream-next-offset"]
        if hdrs.get("stream-closed") == "true":
            return events
    raise AssertionError("run never closed")


class ProfilesTest(HearthTestCase):
    def test_a_profile_selected_through_context_becomes_the_session_invoker(self):
        project = bearer_project(self, invoker={"profiles": [
            {"id": "portal-acme", "kind": "customer", "label": "Acme Portal",
             "meta": {"customer": "acme", "team": "support"}}]})
        server = Started(self, build(self, project), insecure=False, env=clean_env(APP_TOKEN=TOKEN))
        good = {"Authorization": f"Bearer {TOKEN}"}
        c = Http(server.port)
        status, _, body = c.json("POST", "/eve/v1/session",
                                 {"message": "hi", "context": {"invoker.profileId": "portal-acme"}}, good)
        self.assertEqual(status, 202, body)
        sid = body["sessionId"]
        deadline = time.monotonic() + 30
        started = None
        while time.monotonic() < deadline and started is None:
            status, _, raw = c.request("GET", f"/eve/v1/session/{sid}/stream?follow=false", None, good)
            for line in raw.splitlines():
                if line.strip() and json.loads(line).get("type") == "session.started":
                    started = json.loads(line)
            time.sleep(0.1)
        self.assertIsNotNone(started)
        # profile metadata overrides the request's matching keys; the rest is kept (seed 002)
        self.assertEqual(started["data"]["invoker"],
                         {"id": "portal-acme", "kind": "customer", "label": "Acme Portal",
                          "meta": {"customer": "acme", "team": "support"}})
        status, _, body = c.json("POST", "/eve/v1/session",
                                 {"message": "hi", "context": {"invokerProfile": "nobody"}}, good)
        self.assertEqual(status, 403)
        self.assertIn("invoker.profiles", body["error"])


class CliInvokerTest(HearthTestCase):
    def test_hearth_run_is_local_user_and_access_denial_exits_1_with_the_rule(self):
        project = bearer_project(self)
        r = hearth("run", "hello", "--payload", '{"name":"B"}', cwd=project, env=clean_env(APP_TOKEN=TOKEN))
        self.assertExit(r, 0)
        run_id = run_id_of(r.stderr)
        r = hearth("run", "ops_only", cwd=project, env=clean_env(APP_TOKEN=TOKEN))
        self.assertExit(r, 1)
        self.assertIn("access.kinds", r.stderr)
        r = hearth("logs", run_id, "--format", "ndjson", cwd=project, env=clean_env(APP_TOKEN=TOKEN))
        starts = [json.loads(l) for l in r.stdout.splitlines() if '"run_start"' in l]
        self.assertTrue(starts, r.stdout + r.stderr)
        self.assertTrue(starts[0]["invoker"]["id"].startswith("local:"), starts[0])


class DevBrowserTest(HearthTestCase):
    """`hearth dev`: localDev lets loopback callers in without credentials; Host and Origin are
    checked so a web page cannot drive it (DNS rebinding, cross-origin simple POSTs)."""

    def test_localdev_host_and_origin_checks(self):
        from test_dev import Dev, free_port
        project = write_project(self)
        self.write("srv/hearth.json", json.dumps({
            "name": "srv", "model": "mock/echo",
            "server": {"cors": {"origins": ["https://app.example.com"]}}}))
        port = free_port()
        dev = Dev(project, port)
        self.addCleanup(lambda: (dev.proc.poll() is None and dev.proc.kill(), dev.proc.wait(10)))
        dev.wait_for("server listening", timeout=60)
        c = Http(port)
        status, _, body = c.json("POST", "/workflows/hello?wait=result", {"name": "D"})
        self.assertEqual(status, 200, body)  # localDev: no credentials from loopback
        page = {"Origin": "https://evil.test", "Content-Type": "text/plain"}
        status, _, body = Http(port).json("POST", "/eve/v1/session", '{"message":"hi"}', page)
        self.assertEqual(status, 403)
        self.assertEqual(body["code"], "forbidden")
        # even without Origin (a form post from a sandboxed page), text/plain is refused
        status, _, body = Http(port).json("POST", "/eve/v1/session", '{"message":"hi"}',
                                          {"Content-Type": "text/plain"})
        self.assertEqual(status, 415)
        status, _, body = Http(port).json("GET", "/eve/v1/info", None, {"Host": "evil.test"})
        self.assertEqual(status, 403)
        self.assertIn("evil.test", body["error"])
        status, _, body = Http(port).json("GET", "/eve/v1/health", None, {"Host": f"evil.test:{port}"})
        self.assertEqual(status, 403)
        # an allowed origin: preflight answered, the response carries CORS headers
        status, hdrs, _ = Http(port).request("OPTIONS", "/eve/v1/session", None, {
            "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization"})
        self.assertEqual(status, 204)
        self.assertEqual(hdrs["access-control-allow-origin"], "https://app.example.com")
        self.assertIn("POST", hdrs["access-control-allow-methods"])
        status, hdrs, body = Http(port).json("POST", "/eve/v1/session", {"message": "hi"},
                                             {"Origin": "https://app.example.com"})
        self.assertEqual(status, 202, body)
        self.assertEqual(hdrs["access-control-allow-origin"], "https://app.example.com")


if __name__ == "__main__":
    unittest.main()

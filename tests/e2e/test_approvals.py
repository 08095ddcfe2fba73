"""Policy, durable approvals and ask_question (issue 12 §1-3) through the binary: Eve
input.requested / inputResponses (also across a `hearth start` restart), the Flue decision routes,
`hearth connect` with scripted stdin, `hearth run --approve/--deny`, and agent.json policy rules."""
import glob
import json
import os
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import HearthTestCase, clean_env, hearth, run_id_of
from test_server import Http, Started

DEPLOY = {"description": "Deploys a target.", "approval": "always",
          "inputSchema": {"type": "object", "properties": {"target": {"type": "string"}},
                          "required": ["target"], "additionalProperties": False}}
# The tool's side effect: one line per call in $MARK_FILE (no sandbox: a host file).
DEPLOY_SH = ("#!/bin/sh\ninput=$(cat)\nprintf '%s\\n' \"$input\" >> \"$MARK_FILE\"\n"
             "echo '\"deployed\"'\n")


class ApprovalProject:
    """A project whose root agent (`ship`, HTTP) calls `deploy` (approval: always) from mock.jsonl,
    then answers "done"; workflow `go` prompts it."""

    def __init__(self, test, script=None, policy=None, tools=None):
        self.test = test
        self.root = os.path.join(test.tmp, "ship")
        self.mark = os.path.join(test.tmp, "mark.txt")
        test.write("ship/hearth.json", json.dumps({
            "name": "ship", "model": "mock/script",
            "sandbox": {"backend": "none", "env": ["MARK_FILE"]}}))
        agent = {"description": "Ships.", "http": True}
        if policy is not None:
            agent["policy"] = policy
        test.write("ship/agent/agent.json", json.dumps(agent))
        test.write("ship/agent/instructions.md", "Ship it.\n")
        for name, spec in (tools or {"deploy": DEPLOY}).items():
            test.write(f"ship/agent/tools/{name}.json", json.dumps(spec))
            test.write(f"ship/agent/tools/{name}.sh", DEPLOY_SH, executable=True)
        script = script or [{"toolCalls": [{"name": "deploy", "input": {"target": "prod"}}]},
                            {"text": "done"}]
        test.write("ship/agent/mock.jsonl", "".join(json.dumps(line) + "\n" for line in script))
        test.write("ship/workflows/go.md", "---\ndescription: Ship.\nhttp: true\n---\nShip it.\n")

    def env(self):
        return clean_env(MARK_FILE=self.mark)

    def calls(self):
        if not os.path.exists(self.mark):
            return []
        with open(self.mark) as f:
            return [json.loads(line) for line in f if line.strip()]

    def build(self):
        r = hearth("build", cwd=self.root, env=self.env())
        self.test.assertExit(r, 0)
        return os.path.join(self.root, "dist")


class Receiver:
    """A loopback HTTP server recording the POSTs it gets; a path ending in /redir answers 302."""
    def __init__(self, test):
        self.posts = []
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                received.append((self.path, dict(self.headers), json.loads(body or b"null")))
                if self.path.endswith("/redir"):
                    self.send_response(302)
                    self.send_header("location", "/elsewhere")
                else:
                    self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def do_GET(self):  # a followed redirect would land here
                received.append((self.path, dict(self.headers), None))
                self.send_response(404)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        test.addCleanup(self.server.server_close)
        test.addCleanup(self.server.shutdown)
        self.port = self.server.server_address[1]

    def url(self, token):
        return f"http://127.0.0.1:{self.port}/eve/v1/callback/{token}"

    def wait(self, n, deadline_s=20):
        deadline = time.monotonic() + deadline_s
        while len(self.posts) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.posts)} callbacks, expected {n}: {self.posts}")
            time.sleep(0.05)
        return self.posts


def eve_events(client, sid, until, deadline_s=30):
    """The session's Eve events once one of type `until` is there (polling follow=false)."""
    deadline = time.monotonic() + deadline_s
    while True:
        status, _, raw = client.request("GET", f"/eve/v1/session/{sid}/stream?startIndex=0&follow=false")
        events = [json.loads(line) for line in raw.splitlines() if line]
        if any(e["type"] == until for e in events):
            return events
        if time.monotonic() > deadline:
            raise AssertionError(f"no {until} in {[e['type'] for e in events]}")
        time.sleep(0.05)


def types(events):
    return [e["type"] for e in events]


class EveApprovalTest(HearthTestCase):
    def start(self, project, dist):
        server = Started(self, dist, env=project.env())
        return server, Http(server.port)

    def test_input_requested_then_approve_runs_the_tool_and_deny_does_not(self):
        project = ApprovalProject(self)
        server, c = self.start(project, project.build())
        status, _, created = c.json("POST", "/eve/v1/session", {"message": "ship"})
        self.assertEqual(status, 202)
        sid = created["sessionId"]
        events = eve_events(c, sid, "input.requested")
        requested = next(e for e in events if e["type"] == "input.requested")["data"]
        request = requested["requests"][0]
        self.assertEqual(request["kind"], "approval")
        self.assertEqual(request["display"], "confirmation")
        self.assertEqual([o["id"] for o in request["options"]], ["approve", "deny"])
        self.assertEqual(request["action"], {"callId": requested["callId"], "input": {"target": "prod"},
                                             "kind": "tool-call", "toolName": "deploy"})
        self.assertEqual(set(requested), {"requests", "sequence", "stepIndex", "turnId", "callId"})
        self.assertNotIn("deliveryIds", events[-2]["meta"])  # as Eve leaves it off (peers t18)
        self.assertEqual(types(events)[-4:], ["step.completed", "turn.waiting", "input.requested",
                                              "turn.waiting"])  # as Eve 0.80.1 (peers t18)
        self.assertEqual([e["data"]["on"] for e in events[-3::2]], ["tasks", "input"])
        self.assertEqual(project.calls(), []) # parked: nothing ran
        status, _, body = c.json("POST", f"/eve/v1/session/{sid}", {
            "inputResponses": [{"requestId": request["requestId"], "optionId": "approve"}]})
        self.assertEqual(status, 202)
        events = eve_events(c, sid, "session.waiting")
        tail = types(events)[types(events).index("input.requested") + 1:]
        self.assertEqual(tail[:3], ["turn.waiting", "input.resolved", "action.result"])
        self.assertIn("turn.completed", tail)
        resolved = next(e for e in events if e["type"] == "input.resolved")["data"]
        self.assertEqual(resolved["resolutions"][0]["outcome"], "approved")
        self.assertEqual(project.calls(), [{"target": "prod"}])
        self.assertEqual(types(events).count("turn.started"), 1) # the same turn went on

        status, _, created = c.json("POST", "/eve/v1/session", {"message": "ship again"})
        sid2 = created["sessionId"]
        request = next(e for e in eve_events(c, sid2, "input.requested")
                       if e["type"] == "input.requested")["data"]["requests"][0]
        c.json("POST", f"/eve/v1/session/{sid2}",
               {"inputResponses": [{"requestId": request["requestId"], "optionId": "deny"}]})
        events = eve_events(c, sid2, "session.waiting")
        result = next(e for e in events if e["type"] == "action.result")["data"]
        self.assertEqual(result["status"], "failed")
        self.assertIn("denied", result["error"]["message"])
        self.assertEqual(len(project.calls()), 1) # denied: did not run

    def test_stale_input_responses_reach_the_model_as_a_message(self):
        project = ApprovalProject(self, script=[{"text": "hello"}, {"text": "got it"}])
        server, c = self.start(project, project.build())
        _, _, created = c.json("POST", "/eve/v1/session", {"message": "hi"})
        sid = created["sessionId"]
        eve_events(c, sid, "session.waiting")
        status, _, _ = c.json("POST", f"/eve/v1/session/{sid}",
                              {"inputResponses": [{"requestId": "nope", "optionId": "approve"}]})
        self.assertEqual(status, 202)
        deadline = time.monotonic() + 30
        while types(eve_events(c, sid, "session.waiting")).count("session.waiting") < 2:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        events = eve_events(c, sid, "session.waiting")
        received = [e["data"]["message"] for e in events if e["type"] == "message.received"]
        self.assertIn("nope", received[-1])

    def test_approval_survives_a_restart(self):
        project = ApprovalProject(self)
        dist = project.build()
        server, c = self.start(project, dist)
        receiver = Receiver(self)  # the session callback is stored with the session
        callback = {"callId": "call_9", "subagentName": "ship", "token": "tk",
                    "url": receiver.url("tk")}
        _, _, created = c.json("POST", "/eve/v1/session", {"message": "ship", "callback": callback})
        sid = created["sessionId"]
        request = next(e for e in eve_events(c, sid, "input.requested")
                       if e["type"] == "input.requested")["data"]["requests"][0]
        del c
        server.kill()
        self.assertEqual(receiver.posts, [])  # parked: the turn has not settled
        # mock/script continues past the assistant steps already in the session's history (one):
        # the new process's next step reads line 2, which answers in text.
        scripts = glob.glob(os.path.join(dist, "**", "mock.jsonl"), recursive=True)
        for script in scripts + [os.path.join(project.root, "agent", "mock.jsonl")]:
            with open(script, "w") as f:
                f.write(json.dumps({"text": "never read: step 1 is in the history"}) + "\n" +
                        json.dumps({"text": "deployed after the restart"}) + "\n")
        server, c = self.start(project, dist)
        status, _, _ = c.json("POST", f"/eve/v1/session/{sid}", {
            "inputResponses": [{"requestId": request["requestId"], "optionId": "approve"}]})
        self.assertEqual(status, 202)
        events = eve_events(c, sid, "session.waiting")
        self.assertIn("action.result", types(events))
        self.assertEqual(project.calls(), [{"target": "prod"}])
        completed = [e["data"]["message"] for e in events if e["type"] == "message.completed"]
        self.assertEqual(completed[-1], "deployed after the restart")
        path, _, body = receiver.wait(1)[0]
        self.assertEqual((path, body["kind"], body["output"], body["callId"], body["sessionId"]),
                         ("/eve/v1/callback/tk", "turn.completed", "deployed after the restart",
                          "call_9", sid))

    def test_ask_question_answer_is_the_tool_result(self):
        project = ApprovalProject(self, script=[
            {"toolCalls": [{"name": "ask_question", "input": {
                "question": "Which city?", "options": [{"label": "Paris", "description": "Choose Paris."},
                                                       {"label": "Rome", "description": "Choose Rome."}]}}]},
            {"text": "ok"}])
        server, c = self.start(project, project.build())
        _, _, created = c.json("POST", "/eve/v1/session", {"message": "ask me"})
        sid = created["sessionId"]
        requested = next(e for e in eve_events(c, sid, "input.requested")
                         if e["type"] == "input.requested")["data"]
        request = requested["requests"][0]
        self.assertEqual(request["kind"], "question")
        self.assertEqual(request["prompt"], "Which city?")
        self.assertEqual(request["display"], "select")
        self.assertTrue(request["allowFreeform"])
        self.assertEqual(request["options"], [
            {"description": "Choose Paris.", "id": "Paris", "label": "Paris"},
            {"description": "Choose Rome.", "id": "Rome", "label": "Rome"}])
        c.json("POST", f"/eve/v1/session/{sid}",
               {"inputResponses": [{"requestId": request["requestId"], "optionId": "Paris"}]})
        events = eve_events(c, sid, "session.waiting")
        resolved = next(e for e in events if e["type"] == "input.resolved")["data"]["resolutions"][0]
        self.assertEqual(resolved["outcome"], "answered")
        self.assertEqual(resolved["response"]["optionId"], "Paris")
        result = next(e for e in events if e["type"] == "action.result")["data"]["result"]
        self.assertEqual(result["output"], {"answer": "Paris", "status": "answered"})
        # Not a user message: the only message.received is the first one.
        self.assertEqual(types(events).count("message.received"), 1)


class FlueApprovalTest(HearthTestCase):
    def test_agent_decision_route_resumes_the_turn(self):
        project = ApprovalProject(self)
        server = Started(self, project.build(), env=project.env())
        c = Http(server.port)
        status, _, body = c.json("POST", "/agents/ship/t1?wait=result", {"message": "ship"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["result"]["status"], "waiting")
        approval = body["result"]["requests"][0]
        self.assertEqual(approval["toolName"], "deploy")
        approval_id = approval["approvalId"]
        base = "/agents/ship/t1/approvals/"
        self.assertEqual(c.json("POST", base + "apr_nope", {"decision": "approve"})[0], 404)
        status, _, err = c.json("POST", base + approval_id, {"decision": "maybe"})
        self.assertEqual(status, 400)
        self.assertEqual(err["error"]["type"], "invalid_request")
        status, _, decided = c.json("POST", base + approval_id, {"decision": "approve", "reason": "ok"})
        self.assertEqual(status, 200, decided)
        self.assertEqual(decided["status"], "approved")
        status, _, err = c.json("POST", base + approval_id, {"decision": "deny"})
        self.assertEqual(status, 409)
        self.assertEqual(err["error"]["type"], "approval_already_decided")
        deadline = time.monotonic() + 30
        while not project.calls():
            self.assertLess(time.monotonic(), deadline, "the approved call never ran")
            time.sleep(0.05)
        status, _, events = c.json("GET", "/agents/ship/t1?offset=-1")
        kinds = [e["type"] for e in events]
        self.assertIn("approval_request", kinds)
        self.assertIn("approval_decision", kinds)
        decision = next(e for e in events if e["type"] == "approval_decision")
        self.assertEqual((decision["approvalId"], decision["decision"], decision["reason"]),
                         (approval_id, "approve", "ok"))

    def test_agent_route_answers_a_question(self):
        project = ApprovalProject(self, script=[
            {"toolCalls": [{"name": "ask_question", "input": {"question": "Which city?"}}]},
            {"text": "noted"}])
        server = Started(self, project.build(), env=project.env())
        c = Http(server.port)
        _, _, body = c.json("POST", "/agents/ship/q1?wait=result", {"message": "ask"})
        request = body["result"]["requests"][0]
        self.assertEqual(request["kind"], "question")
        path = "/agents/ship/q1/approvals/" + request["requestId"]
        self.assertEqual(c.json("POST", path, {"decision": "approve"})[0], 400)
        status, _, answered = c.json("POST", path, {"answer": "Rome"})
        self.assertEqual(status, 200, answered)
        self.assertEqual((answered["status"], answered["answer"]), ("answered", "Rome"))
        deadline = time.monotonic() + 30
        while True:
            _, _, events = c.json("GET", "/agents/ship/q1?offset=-1")
            calls = [e for e in events if e["type"] == "tool_call"]
            if calls:
                break
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        self.assertEqual(calls[0]["result"]["details"], {"answer": "Rome", "status": "answered"})

    def test_run_decision_route_lets_a_waiting_run_go_on(self):
        project = ApprovalProject(self)
        server = Started(self, project.build(), env=project.env())
        c = Http(server.port)
        status, _, body = c.json("POST", "/workflows/go", {})
        self.assertEqual(status, 202)
        run_id = body["runId"]
        deadline = time.monotonic() + 30
        approval_id = None
        while approval_id is None:
            self.assertLess(time.monotonic(), deadline)
            _, _, events = c.json("GET", f"/runs/{run_id}?offset=-1")
            approval_id = next((e["approvalId"] for e in events or []
                                if e["type"] == "approval_request"), None)
            time.sleep(0.05)
        status, _, decided = c.json("POST", f"/runs/{run_id}/approvals/{approval_id}",
                                    {"decision": "approve"})
        self.assertEqual(status, 200, decided)
        while True:
            _, _, run = c.json("GET", f"/runs/{run_id}?meta")
            if run["status"] != "active":
                break
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        self.assertEqual(run["status"], "completed", run)
        self.assertEqual(project.calls(), [{"target": "prod"}])


class CliApprovalTest(HearthTestCase):
    def test_connect_asks_on_stdin(self):
        project = ApprovalProject(self, script=[
            {"toolCalls": [{"name": "deploy", "input": {"target": "a"}}]}, {"text": "one"},
            {"toolCalls": [{"name": "deploy", "input": {"target": "b"}}]}, {"text": "two"},
            {"toolCalls": [{"name": "deploy", "input": {"target": "c"}}]}, {"text": "three"}])
        r = hearth("connect", "ship", "local", cwd=project.root, env=project.env(),
                   input="first\nn\nsecond\na\nthird\n")
        self.assertExit(r, 0)
        self.assertIn('Approve deploy {"target":"a"}? [y/n/a(lways)]', r.stderr)
        # n denied a; a(lways) approved b and, without asking, c.
        self.assertEqual(project.calls(), [{"target": "b"}, {"target": "c"}])
        self.assertEqual(r.stderr.count("? [y/n/a(lways)]"), 2)

    def test_connect_answers_ask_question_with_a_line(self):
        project = ApprovalProject(self, script=[
            {"toolCalls": [{"name": "ask_question", "input": {"question": "Which city?"}}]},
            {"text": "noted"}])
        r = hearth("connect", "ship", "local", cwd=project.root, env=project.env(),
                   input="ask me\nLisbon\n")
        self.assertExit(r, 0)
        self.assertIn("? Which city?", r.stderr)
        self.assertEqual(json.loads(r.stdout)["text"], "noted")
        self.assertIn("tool:done   ask_question", r.stderr)

    def test_run_fails_at_the_first_approval_unless_approved(self):
        project = ApprovalProject(self)
        r = hearth("run", "go", cwd=project.root, env=project.env())
        self.assertExit(r, 1)
        self.assertIn('Tool "deploy" requires approval (apr_', r.stderr)
        self.assertEqual(project.calls(), [])
        r = hearth("run", "go", "--approve", "deploy", cwd=project.root, env=project.env())
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.stdout), "done")
        self.assertEqual(project.calls(), [{"target": "prod"}])
        r = hearth("run", "go", "--approve", "all", "--deny", "deploy", cwd=project.root,
                   env=project.env())
        self.assertExit(r, 0)
        self.assertEqual(len(project.calls()), 1)


class PolicyTest(HearthTestCase):
    def test_rules_give_each_of_the_four_decisions(self):
        plain = dict(DEPLOY, approval="never")
        project = ApprovalProject(
            self,
            tools={"wipe": plain, "flaky": plain, "gated": plain, "fine": plain},
            policy=[{"tool": "wipe", "decision": "deny", "reason": "never wipe", "name": "no-wipe"},
                    {"tool": "flaky", "decision": "retryable-failure", "retryAfterMs": 1500},
                    {"tool": "gated", "args": {"target": "prod*"}, "decision": "require-approval"},
                    {"tool": "*", "decision": "allow"}],
            script=[{"toolCalls": [{"name": n, "input": {"target": "prod-" + n}}
                                   for n in ("wipe", "flaky", "gated", "fine")]},
                    {"text": "done"}])
        r = hearth("run", "go", "--approve", "gated", cwd=project.root, env=project.env())
        self.assertExit(r, 0)
        self.assertEqual(sorted(c["target"] for c in project.calls()), ["prod-fine", "prod-gated"])
        logs = hearth("logs", run_id_of(r.stderr), "--format", "ndjson", "--types",
                      "policy_decision,tool_call", cwd=project.root)
        events = [json.loads(line) for line in logs.stdout.splitlines()]
        decisions = {e["toolName"]: e for e in events if e["type"] == "policy_decision"}
        self.assertEqual({n: d["decision"] for n, d in decisions.items()},
                         {"wipe": "deny", "flaky": "retryable-failure", "gated": "require-approval",
                          "fine": "allow"})
        self.assertEqual(decisions["wipe"]["rule"], "no-wipe")
        self.assertEqual(decisions["wipe"]["source"], "rule")
        results = {e["toolName"]: e for e in events if e["type"] == "tool_call"}
        text = lambda n: results[n]["result"]["content"][0]["text"]
        self.assertIn('denied by policy rule "no-wipe": never wipe', text("wipe"))
        self.assertTrue(results["flaky"]["result"]["details"]["retryable"])
        self.assertIn("Retry after 1500 ms", text("flaky"))

    def test_an_invalid_policy_is_a_discovery_error(self):
        project = ApprovalProject(self, policy=[{"tool": "x", "decision": "perhaps"}])
        r = hearth("build", cwd=project.root)
        self.assertExit(r, 1)
        self.assertIn("policy[0].decision", r.stderr)


if __name__ == "__main__":
    unittest.main()

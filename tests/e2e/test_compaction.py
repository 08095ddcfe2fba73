"""Compaction (issue 16 §1) through the binary: an Eve session driven past its threshold on
mock/echo with a small context window (HEARTH_MOCK_CONTEXT_WINDOW), Eve's …/compact and …/clear
routes as Eve 0.80.1 answers them, Flue's compaction_* events on the agent stream, and
`hearth connect` /compact and /clear."""
import json
import unittest
import os
import time

from harness import HearthTestCase, clean_env, hearth
from test_approvals import Receiver, eve_events, types
from test_connect import split_json
from test_server import Http, Started

WINDOW = "8000"  # tokens: threshold 0.5 -> compaction past ~16000 characters


def flue_events(test, client, path):
    """Every event of a Flue agent stream (catch-up reads, 100 events a page)."""
    events, offset = [], "-1"
    for _ in range(1000):
        status, hdrs, raw = client.request("GET", f"{path}?offset={offset}")
        test.assertEqual(status, 200, raw)
        events += json.loads(raw)
        offset = hdrs["stream-next-offset"]
        if hdrs.get("stream-up-to-date") == "true":
            return events
    raise AssertionError("the stream never reached its tail")


def write_project(test, name="cmp"):
    test.write(f"{name}/hearth.json", json.dumps({"name": name, "model": "mock/echo"}))
    test.write(f"{name}/agent/agent.json", json.dumps({
        "description": "Echoes.", "http": True,
        "compaction": {"thresholdPercent": 0.5, "keepRecentTurns": 1}}))
    test.write(f"{name}/agent/instructions.md", "You echo.\n")
    return os.path.join(test.tmp, name)


def waiting_count(events):
    return sum(1 for e in events if e["type"] == "session.waiting")


class CompactionTest(HearthTestCase):
    def test_eve_session_past_its_threshold_compacts_and_goes_on_then_compact_and_clear(self):
        project = write_project(self)
        env = clean_env(HEARTH_MOCK_CONTEXT_WINDOW=WINDOW)
        self.assertExit(hearth("build", cwd=project, env=env), 0)
        server = Started(self, os.path.join(project, "dist"), env=env)
        c = Http(server.port)
        status, _, created = c.json("POST", "/eve/v1/session", {"message": "x" * 6000})
        self.assertEqual(status, 202)
        sid = created["sessionId"]

        def until_waiting(n):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                events = eve_events(c, sid, "session.waiting")
                if waiting_count(events) >= n:
                    return events
                time.sleep(0.05)
            raise AssertionError(f"not waiting {n} times: {types(events)}")

        first = until_waiting(1)
        self.assertNotIn("compaction.requested", types(first))
        self.assertEqual(c.json("POST", f"/eve/v1/session/{sid}", {"message": "y" * 6000})[0], 202)
        events = until_waiting(2)
        second = events[len(first):]
        t = types(second)
        self.assertIn("compaction.requested", t)
        requested = second[t.index("compaction.requested")]["data"]
        completed = second[t.index("compaction.completed")]["data"]
        self.assertEqual(set(requested), {"modelId", "sequence", "sessionId", "stepIndex", "turnId",
                                          "usageInputTokens"})
        self.assertEqual((requested["modelId"], requested["sessionId"], requested["turnId"]),
                         ("mock/echo", sid, "turn_1"))
        self.assertGreater(requested["usageInputTokens"], 4000)
        self.assertEqual(set(completed), set(requested) - {"usageInputTokens"})
        # The compaction comes before the step it made room for; the conversation goes on.
        self.assertLess(t.index("compaction.completed"), t.index("step.started"))
        done = [e for e in second if e["type"] == "message.completed"]
        self.assertEqual(done[-1]["data"]["message"], "y" * 6000)
        # Flue's events on the agent stream: the next model request was bounded.
        flue = flue_events(self, c, f"/agents/cmp/{sid}")
        kinds = [e["type"] for e in flue]
        self.assertIn("compaction_start", kinds)
        self.assertIn("compaction", kinds)
        after = kinds.index("compaction")
        self.assertTrue(flue[after]["compacted"])
        request = next(e for e in flue[after:] if e["type"] == "turn_request")
        self.assertLessEqual(request["input"]["estimatedTokens"], int(WINDOW) // 2)

        # POST …/compact and …/clear: 202 as Eve answers, then the events and session.waiting.
        status, _, body = c.json("POST", f"/eve/v1/session/{sid}/compact")
        self.assertEqual((status, body), (202, {"ok": True, "sessionId": sid, "status": "accepted"}))
        events = until_waiting(3)
        self.assertEqual(types(events)[-3:], ["compaction.requested", "compaction.completed",
                                              "session.waiting"])
        self.assertEqual(events[-3]["data"]["turnId"], "turn_2")
        status, _, body = c.json("POST", f"/eve/v1/session/{sid}/clear")
        self.assertEqual((status, body), (202, {"ok": True, "sessionId": sid, "status": "accepted"}))
        events = until_waiting(4)
        self.assertEqual(types(events)[-2:], ["context.cleared", "session.waiting"])
        self.assertEqual(events[-2]["data"], {"sequence": 3, "sessionId": sid, "turnId": "turn_3"})
        self.assertEqual(c.json("POST", f"/eve/v1/session/{sid}", {"message": "after clear"})[0], 202)
        events = until_waiting(5)
        self.assertEqual([e for e in events if e["type"] == "message.completed"][-1]["data"]["message"],
                         "after clear")
        # Unknown sessions: what eve/client's CompactResponseSchema takes, as reset answers.
        status, _, body = c.json("POST", "/eve/v1/session/wrun_nope/compact")
        self.assertEqual((status, body), (200, {"ok": True, "status": "no_active_session"}))

    def test_connect_compact_and_clear(self):
        project = write_project(self)
        r = hearth("connect", "cmp", "t1", cwd=project, input="hello\nworld\n/compact\n/clear\nagain\n",
                   env=clean_env(HEARTH_MOCK_CONTEXT_WINDOW=WINDOW))
        self.assertExit(r, 0)
        results = [json.loads(chunk) for chunk in split_json(r.stdout)]
        self.assertEqual([x.get("status") or x.get("text") for x in results],
                         ["hello", "world", "compacted", "cleared", "again"])
        self.assertIn("compaction: manual", r.stderr)


class SessionCallbackTest(HearthTestCase):
    def test_eve_callback_is_validated_as_eve_and_posted_when_each_bound_turn_settles(self):
        project = write_project(self, "cb")
        self.assertExit(hearth("build", cwd=project), 0)
        server = Started(self, os.path.join(project, "dist"))
        c = Http(server.port)
        receiver = Receiver(self)

        def callback(token, **extra):
            return {"callId": "call_1", "subagentName": "helper", "token": token,
                    "url": receiver.url(token), **extra}

        # Eve 0.80.1's validation and messages; hearth also refuses non-http(s) schemes.
        for bad, error in [
                ("x", "callback: Invalid input: expected object, received string"),
                ({"callId": "", "subagentName": "s", "token": "t", "url": receiver.url("t")},
                 "callback.callId: Too small: expected string to have >=1 characters"),
                (callback("t", extra=1), 'callback: Unrecognized key: "extra"'),
                ({**callback("t"), "url": "nope"}, "callback.url: Callback url must be absolute."),
                ({**callback("t"), "url": "http://10.0.0.1/eve/v1/callback/t"},
                 "callback.url: Callback url host must not be a private or reserved address."),
                ({**callback("t"), "url": "http://0x0a.0.0.1/eve/v1/callback/t"},
                 "callback.url: Callback url host must not be a private or reserved address."),
                ({**callback("t"), "url": receiver.url("u")},
                 "callback.url: Callback url token must match callback token."),
                ({**callback("t"), "url": "ftp://example.com/eve/v1/callback/t"},
                 "callback.url: Callback url must be http or https.")]:
            status, _, body = c.json("POST", "/eve/v1/session", {"message": "hi", "callback": bad})
            self.assertEqual((status, body), (400, {"ok": False,
                                                    "error": "Invalid callback metadata: " + error}))
        status, _, body = c.json("POST", "/eve/v1/session", {"callback": callback("t")})
        self.assertEqual(status, 400)
        self.assertIn("'callback'", body["error"])

        status, _, body = c.json("POST", "/eve/v1/session", {"message": "hi", "callback": callback("t"),
                                                             "protocolVersion": 3})
        self.assertEqual((status, body["code"], body["protocolVersion"]),
                         (409, "REMOTE_AGENT_PROTOCOL_MISMATCH", 2))
        status, _, body = c.json("POST", "/eve/v1/session", {"message": "hi", "callback": callback("t"),
                                                             "protocolVersion": "2"})
        self.assertEqual((status, body["error"]), (400, "Expected 'protocolVersion' to be a number."))
        # A legacy (protocol 1) caller's callback.taskId is split off as Eve does.
        status, _, created = c.json("POST", "/eve/v1/session",
                                    {"message": "hello", "callback": callback("tok1", taskId="t1")})
        self.assertEqual((status, created["protocolVersion"]), (202, 1))
        sid = created["sessionId"]
        path, headers, body = receiver.wait(1)[0]
        self.assertEqual(path, "/eve/v1/callback/tok1")
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertFalse({"Authorization", "authorization"} & set(headers))
        usage = body["outcome"].pop("usageDelta")
        self.assertEqual(set(usage), {"cacheReadTokens", "cacheWriteTokens", "inputTokens",
                                      "outputTokens"})
        self.assertGreater(usage["inputTokens"], 0)
        self.assertEqual(body, {"callId": "call_1", "kind": "turn.completed", "output": "hello",
                                "sessionId": sid, "subagentName": "helper",
                                "outcome": {"kind": "parked",
                                            "result": {"kind": "succeeded", "output": "hello"}}})
        # The callback's token never shows on the session's readable streams.
        _, _, raw = c.request("GET", f"/eve/v1/session/{sid}/stream?startIndex=0&follow=false")
        self.assertNotIn("tok1", raw)
        _, _, raw = c.request("GET", f"/agents/cb/{sid}?offset=-1")
        self.assertNotIn("tok1", raw)
        # A follow-up without a callback reports nothing; one with a callback reports its turn;
        # a redirect is not followed (the worker is sequential: the next POST comes after it).
        def send(n, body):  # one turn at a time: wait for the n-th session.waiting
            self.assertEqual(c.json("POST", f"/eve/v1/session/{sid}", body)[0], 202)
            deadline = time.monotonic() + 20
            while waiting_count(eve_events(c, sid, "session.waiting")) < n:
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)

        send(2, {"message": "quiet"})
        send(3, {"message": "moved", "callback": callback("redir")})
        send(4, {"message": "again", "callback": callback("tok2")})
        posts = receiver.wait(3)
        self.assertEqual([p[0] for p in posts], ["/eve/v1/callback/tok1", "/eve/v1/callback/redir",
                                                "/eve/v1/callback/tok2"])
        self.assertEqual([p[2]["output"] for p in posts], ["hello", "moved", "again"])


if __name__ == "__main__":
    unittest.main()

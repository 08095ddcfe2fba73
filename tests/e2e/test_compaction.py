"""Compaction (issue 16 §1) through the binary: an Eve session driven past its threshold on
mock/echo with a small context window (HEARTH_MOCK_CONTEXT_WINDOW), Eve's …/compact and …/clear
routes as Eve 0.80.1 answers them, Flue's compaction_* events on the agent stream, and
`hearth connect` /compact and /clear."""
import json
import unittest
import os
import time

from harness import HearthTestCase, clean_env, hearth
from test_approvals import eve_events, types
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


if __name__ == "__main__":
    unittest.main()

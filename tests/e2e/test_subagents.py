"""Subagent streams (issue 16 §3) through the binary: `subagent.called` with `childSessionId`, the
child's own Eve session stream (read directly and by Eve 0.80.1's `eve/client`), parent lineage,
Flue task_start / task with the child's result, the built-in `agent` tool (a copy of the parent)
and a subagent's own model and maxSteps."""
import json
import unittest
import os

from harness import HearthTestCase, clean_env, hearth
from test_approvals import eve_events, types
from test_clients import run_client
from test_server import Http, Started


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


def write_project(test, name="dlg"):
    """Root agent on mock/script: calls subagent `helper` (mock/echo, maxSteps 2), then the
    built-in `agent` (a copy: it reads the next script line), then answers."""
    test.write(f"{name}/hearth.json", json.dumps({"name": name, "model": "mock/script"}))
    test.write(f"{name}/agent/agent.json", json.dumps({"description": "Delegates.", "http": True}))
    test.write(f"{name}/agent/instructions.md", "Delegate.\n")
    test.write(f"{name}/agent/subagents/helper/agent.json",
               json.dumps({"description": "Helps.", "model": "mock/echo", "maxSteps": 2}))
    test.write(f"{name}/agent/subagents/helper/instructions.md", "Help.\n")
    script = [{"toolCalls": [{"name": "helper", "input": {"message": "dig here"}}]},
              {"toolCalls": [{"name": "agent", "input": {"message": "copy task"}}]},
              {"text": "copy answer"},  # the copy's own step (it shares the parent's script)
              {"text": "all done"}]
    test.write(f"{name}/agent/mock.jsonl", "".join(json.dumps(s) + "\n" for s in script))
    return os.path.join(test.tmp, name)


class SubagentStreamTest(HearthTestCase):
    def start(self):
        project = write_project(self)
        self.assertExit(hearth("build", cwd=project), 0)
        return Started(self, os.path.join(project, "dist"))

    def test_child_sessions_have_their_own_stream_and_the_parent_gets_their_answers(self):
        server = self.start()
        c = Http(server.port)
        _, _, created = c.json("POST", "/eve/v1/session", {"message": "delegate please"})
        sid = created["sessionId"]
        events = eve_events(c, sid, "session.waiting")
        t = types(events)
        called = [e["data"] for e in events if e["type"] == "subagent.called"]
        self.assertEqual([x["name"] for x in called], ["helper", "agent"])
        for x in called:
            self.assertTrue(x["childSessionId"].startswith(sid + "."), x)
            self.assertEqual(x["streamPath"], f"/eve/v1/session/{x['childSessionId']}/stream")
        completed = [e["data"] for e in events if e["type"] == "subagent.completed"]
        self.assertEqual([x["output"] for x in completed], ["dig here", "copy answer"])
        results = [e["data"]["result"] for e in events if e["type"] == "action.result"]
        self.assertEqual([r["output"] for r in results], ["dig here", "copy answer"])
        # The children's steps are not the parent's: only the parent's own answer completes here.
        self.assertEqual([e["data"]["message"] for e in events if e["type"] == "message.completed"],
                         ["all done"])
        self.assertEqual(t[-1], "session.waiting")
        # Each child's own stream: a session of its own, with its parent's lineage.
        for x, answer in zip(called, ["dig here", "copy answer"]):
            status, hdrs, raw = c.request("GET", x["streamPath"] + "?startIndex=0&follow=false")
            self.assertEqual(status, 200, raw)
            child = [json.loads(line) for line in raw.splitlines() if line]
            ct = types(child)
            self.assertEqual(ct[:3], ["session.started", "turn.started", "message.received"])
            self.assertEqual(ct[-2:], ["turn.completed", "session.waiting"])
            self.assertEqual(child[0]["data"]["parent"]["sessionId"], sid)
            self.assertEqual(child[2]["data"]["message"], x["name"] == "helper" and "dig here" or "copy task")
            self.assertEqual([e["data"]["message"] for e in child if e["type"] == "message.completed"],
                             [answer])
            # follow=true ends once the child is done.
            status, _, raw = c.request("GET", x["streamPath"])
            self.assertEqual(types([json.loads(line) for line in raw.splitlines() if line])[-1],
                             "session.waiting")
        status, _, _ = c.request("GET", f"/eve/v1/session/{sid}.task_nope/stream?follow=false")
        self.assertEqual(status, 404)
        # Flue: task_start / task on the agent stream carry the child's result.
        flue = flue_events(self, c, f"/agents/dlg/{sid}")
        tasks = [e for e in flue if e["type"] == "task" and "parentSession" not in e]
        self.assertEqual([e["result"]["text"] for e in tasks], ["dig here", "copy answer"])
        starts = [e for e in flue if e["type"] == "task_start" and "parentSession" not in e]
        self.assertEqual([e["kind"] for e in starts], ["subagent", "agent"])
        # The helper's own model (mock/echo) answered, not the parent's script.
        helper_turns = [e for e in flue if e["type"] == "turn_request"
                        and e.get("session", "").endswith(called[0]["childSessionId"].split(".", 1)[1])]
        self.assertEqual({e["model"] for e in helper_turns}, {"echo"})

    def test_eve_client_follows_child_streams_unchanged(self):
        server = self.start()
        out = run_client(self, "eve_child_client.mjs", server.url)
        self.assertEqual(out["status"], "waiting")
        self.assertEqual(out["message"], "all done")
        self.assertEqual(len(out["children"]), 2)
        for child in out["children"]:
            self.assertEqual(child["types"][0], "session.started")
            self.assertEqual(child["types"][-1], "session.waiting")
            self.assertIsNotNone(child["parent"])
        self.assertEqual([c["message"] for c in out["children"]], ["dig here", "copy answer"])
        self.assertTrue(out["compact"])
        self.assertTrue(out["clear"])


if __name__ == "__main__":
    unittest.main()

"""tests/fixtures/llm/fake_llm.py, the fake model server later e2e tests point providers at:
it replays recorded bytes in order, returns scripted error statuses and records request bodies."""
import json
import os
import subprocess
import sys
import unittest
import urllib.error
import urllib.request

from harness import FIXTURES, HearthTestCase

FAKE = os.path.join(FIXTURES, "llm", "fake_llm.py")


class FakeLlmTest(HearthTestCase):
    def start(self, replies):
        path = self.write("replies.json", json.dumps(replies))
        self.record = os.path.join(self.tmp, "requests.jsonl")
        proc = subprocess.Popen([sys.executable, FAKE, "--replies", path, "--record", self.record],
                                stdout=subprocess.PIPE, text=True)
        self.addCleanup(proc.stdout.close)
        self.addCleanup(proc.wait, 10)
        self.addCleanup(proc.terminate)
        line = proc.stdout.readline()  # blocks until it listens; EOF if it died
        self.assertTrue(line.startswith("PORT "), line)
        return f"http://127.0.0.1:{int(line.split()[1])}"

    def post(self, url, body):
        req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def test_replays_in_order_and_records_requests(self):
        base = self.start([
            {"status": 429, "headers": {"retry-after": "0"}, "body": {"error": {"message": "slow"}}},
            {"file": "openai/chat-stream-text-usage.sse"},
            {"file": "anthropic/error-401-authentication.http"},
        ])
        status, headers, body = self.post(base + "/v1/chat/completions", {"model": "a"})
        self.assertEqual((status, headers["retry-after"]), (429, "0"))
        self.assertEqual(json.loads(body)["error"]["message"], "slow")
        status, headers, body = self.post(base + "/v1/chat/completions", {"model": "b"})
        with open(os.path.join(FIXTURES, "llm", "openai", "chat-stream-text-usage.sse"), "rb") as f:
            self.assertEqual(body, f.read())
        self.assertEqual((status, headers["Content-Type"]), (200, "text/event-stream"))
        status, headers, body = self.post(base + "/v1/messages", {"model": "c"})
        self.assertEqual((status, headers["x-should-retry"]), (401, "false"))
        self.assertIn(b"authentication_error", body)
        status, _, body = self.post(base + "/v1/messages", {})
        self.assertEqual(status, 500)
        self.assertIn(b"no reply queued", body)
        with open(self.record) as f:
            sent = [json.loads(line) for line in f]
        self.assertEqual([r["body"].get("model") for r in sent], ["a", "b", "c", None])
        self.assertEqual(sent[2]["path"], "/v1/messages")


if __name__ == "__main__":
    unittest.main()

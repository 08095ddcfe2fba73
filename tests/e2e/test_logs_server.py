"""hearth logs <runId> --server: flue logs-compatible reads of /runs/:runId over Durable Streams,
against tests/fixtures/streams/fake_streams.py (Flue 0.11's shapes)."""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

from harness import FIXTURES, HEARTH_BIN, HearthTestCase, clean_env, hearth

FAKE = os.path.join(FIXTURES, "streams", "fake_streams.py")
RUN = "workflow:hello:01M7XTZFM2DM7WNNYW8TZWA6ST"


def events(failing=False):
    return [{"type": "run_start", "runId": RUN, "workflowName": "hello"},
            {"type": "log", "level": "info", "message": "hello workflow starting"},
            {"type": "run_end", "runId": RUN, "isError": failing, "durationMs": 3,
             **({"error": {"message": "boom: intentional failure"}} if failing else {"result": {"ok": 1}})}]


class LogsServerTest(HearthTestCase):
    def serve(self, runs, *flags):
        path = self.write("runs.json", json.dumps(runs))
        self.record = os.path.join(self.tmp, "requests.jsonl")
        proc = subprocess.Popen([sys.executable, FAKE, "--runs", path, "--record", self.record,
                                 "--poll-timeout", "0.2", *flags],
                                stdout=subprocess.PIPE, text=True)
        self.addCleanup(proc.stdout.close)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.kill)
        line = proc.stdout.readline()
        self.assertTrue(line.startswith("PORT "), line)
        self.url = "http://127.0.0.1:%d" % int(line.split()[1])
        return self.url

    def requests(self):
        with open(self.record) as f:
            return [json.loads(line) for line in f]

    def test_replays_a_failed_run_as_ndjson_with_offsets_and_exits_2(self):
        url = self.serve({RUN: {"events": events(failing=True), "status": "errored"}})
        r = hearth("logs", RUN, "--server", url, "--no-follow", "--format", "ndjson")
        self.assertExit(r, 2)
        lines = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual([l["type"] for l in lines], ["run_start", "log", "run_end"])
        self.assertEqual(lines[2]["offset"], "0000000000000000_0000000000000002")

    def test_pretty_output_goes_to_stderr(self):
        url = self.serve({RUN: {"events": events(), "status": "completed"}})
        r = hearth("logs", RUN, "--server", url)
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, "")
        self.assertIn("hello workflow starting", r.stderr)
        self.assertIn("run:end", r.stderr)

    def test_since_limit_and_types(self):
        url = self.serve({RUN: {"events": events(failing=True), "status": "errored"}})
        r = hearth("logs", RUN, "--server", url, "--no-follow", "--format", "ndjson",
                   "--since", "0", "--limit", "1")
        self.assertExit(r, 0)
        self.assertEqual([json.loads(l)["eventIndex"] for l in r.stdout.splitlines()], [1])
        r = hearth("logs", RUN, "--server", url, "--no-follow", "--format", "ndjson",
                   "--types", "run_end")
        self.assertExit(r, 2)
        self.assertEqual(len(r.stdout.splitlines()), 1)

    def test_auto_mode_follows_an_active_run_until_it_ends(self):
        runs = {RUN: {"events": events()[:1], "pending": events()[1:], "status": "completed"}}
        url = self.serve(runs)
        r = hearth("logs", RUN, "--server", url, "--format", "ndjson", timeout=30)
        self.assertExit(r, 0)
        self.assertEqual([json.loads(l)["eventIndex"] for l in r.stdout.splitlines()], [0, 1, 2])
        paths = [q["path"] for q in self.requests()]
        self.assertTrue(paths[0].endswith("?meta"), paths)
        self.assertTrue(any("live=long-poll" in p for p in paths), paths)

    def test_a_server_without_meta_is_read_until_stream_closed(self):
        url = self.serve({RUN: {"events": events()[:1], "pending": events()[1:]}}, "--no-meta")
        r = hearth("logs", RUN, "--server", url, "--format", "ndjson", timeout=30)
        self.assertExit(r, 0)
        self.assertEqual(len(r.stdout.splitlines()), 3)

    def test_unknown_run_names_the_url_and_status(self):
        url = self.serve({})
        r = hearth("logs", "workflow:hello:01NOPE", "--server", url, "--no-follow")
        self.assertExit(r, 1)
        self.assertIn("Failed to read events for run workflow:hello:01NOPE: HTTP Error 404 at "
                      + url + "/runs/workflow%3Ahello%3A01NOPE?offset=-1", r.stderr)

    def test_no_server_is_a_failure(self):
        r = hearth("logs", RUN, "--server", "http://127.0.0.1:1", "--no-follow")
        self.assertExit(r, 1)
        self.assertIn("Failed to read events for run " + RUN, r.stderr)

    def test_headers_are_sent_and_duplicates_or_accept_rejected(self):
        url = self.serve({RUN: {"events": events(), "status": "completed"}})
        r = hearth("logs", RUN, "--server", url, "--no-follow", "--header", "Authorization: Bearer t0k",
                   "--header", "X-Trace: 7")
        self.assertExit(r, 0)
        sent = self.requests()[-1]["headers"]
        self.assertEqual(sent.get("Authorization"), "Bearer t0k")
        self.assertEqual(sent.get("X-Trace"), "7")
        for bad in (["--header", "X-A: 1", "--header", "x-a: 2"], ["--header", "Accept: text/plain"],
                    ["--header", "nocolon"]):
            r = hearth("logs", RUN, "--server", url, "--no-follow", *bad)
            self.assertExit(r, 1)
            self.assertIn("Invalid --header", r.stderr)

    def test_ctrl_c_while_following_exits_130(self):
        url = self.serve({RUN: {"events": events()[:1], "status": "active"}})
        proc = subprocess.Popen([HEARTH_BIN, "logs", RUN, "--server", url, "--format", "ndjson"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=clean_env())
        self.addCleanup(proc.kill)
        first = proc.stdout.readline()  # blocks until the catch-up page arrived
        self.assertIn("run_start", first)
        deadline = time.monotonic() + 10
        while not any("live=long-poll" in q["path"] for q in self.requests()):
            self.assertLess(time.monotonic(), deadline, "never long-polled")
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
        self.assertEqual(proc.returncode, 130)


class LogsAgainstHearthDevTest(HearthTestCase):
    """The same flags against the real server (`hearth dev`)."""

    def test_logs_reads_a_run_served_by_hearth_dev(self):
        root = os.path.join(self.tmp, "p")
        self.write("p/hearth.json", '{"name": "p", "model": "mock/echo"}\n')
        self.write("p/agent/instructions.md", "Terse.\n")
        self.write("p/workflows/hello.md", "---\nhttp: true\n---\nsay hello\n")
        import socket as _socket
        with _socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        dev = subprocess.Popen([HEARTH_BIN, "dev", "--port", str(port)], cwd=root, env=clean_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(dev.wait)
        self.addCleanup(dev.stderr.close)
        self.addCleanup(dev.kill)
        for line in dev.stderr:
            if "server listening at" in line:
                break
        url = "http://127.0.0.1:%d" % port
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/workflows/hello?wait=result", body="{}",
                     headers={"Content-Type": "application/json"})
        run_id = json.loads(conn.getresponse().read())["runId"]
        conn.close()
        r = hearth("logs", run_id, "--server", url, "--format", "ndjson", timeout=30)
        self.assertExit(r, 0)
        lines = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual(lines[0]["type"], "run_start")
        self.assertEqual(lines[-1]["type"], "run_end")
        self.assertEqual([l["offset"] for l in lines][:2],
                         ["0000000000000000_0000000000000000", "0000000000000000_0000000000000001"])
        r = hearth("logs", run_id, "--server", url, "--since", str(len(lines) - 2), "--format", "ndjson")
        self.assertExit(r, 0)
        self.assertEqual(len(r.stdout.splitlines()), 1)
        r = hearth("logs", "run_nope", "--server", url, "--no-follow")
        self.assertExit(r, 1)
        self.assertIn("HTTP Error 404 at %s/runs/run_nope?offset=-1" % url, r.stderr)
        dev.send_signal(signal.SIGINT)
        self.assertEqual(dev.wait(timeout=30), 130)


if __name__ == "__main__":
    unittest.main()

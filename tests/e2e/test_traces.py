"""TraceEvents, TRACEPARENT, `hearth logs --traces`, the OTLP exporter and lifecycle hooks
(issue 12 §4-5) against the built binary."""
import http.server
import json
import os
import re
import shutil
import threading
import unittest

from harness import SOURCE_DIR, HearthTestCase, hearth, run_id_of
from test_server import Http, Started, built, wait_run_closed

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")

TOOL_SPEC = {"description": "Prints its TRACEPARENT.", "inputSchema": {"type": "object"}}
TOOL = '#!/bin/sh\ncat >/dev/null\nprintf \'{"traceparent": "%s"}\\n\' "$TRACEPARENT"\n'


class TracesTestCase(HearthTestCase):
    def project(self, hooks=None, config=None):
        """A mock/script project whose workflow `go` calls tool `trace_env` once, then answers."""
        cfg = {"name": "traced", "model": "mock/script"}
        cfg.update(config or {})
        self.write("hearth.json", json.dumps(cfg))
        self.write("agent/instructions.md", "Use the tools.\n")
        self.write("agent/tools/trace_env.json", json.dumps(TOOL_SPEC))
        self.write("agent/tools/trace_env.sh", TOOL, executable=True)
        self.write("agent/mock.jsonl", json.dumps({"toolCalls": [{"name": "trace_env", "input": {}}]})
                   + "\n" + json.dumps({"text": "done"}) + "\n")
        self.write("workflows/go.md", "---\ndescription: Go.\n---\nGo.\n")
        for name, script in (hooks or {}).items():
            self.write(f"agent/hooks/{name}", "#!/bin/sh\n" + script + "\n", executable=True)
        return self.tmp

    def run_go(self, expect=0):
        r = hearth("run", "go", cwd=self.tmp)
        self.assertExit(r, expect)
        return run_id_of(r.stderr)

    def traces(self, run_id):
        r = hearth("logs", run_id, "--traces", "--format", "ndjson", cwd=self.tmp)
        self.assertIn(r.returncode, (0, 2), r.stderr)
        return [json.loads(line) for line in r.stdout.splitlines()]

    def events(self, run_id):
        r = hearth("logs", run_id, "--format", "ndjson", cwd=self.tmp)
        return [json.loads(line) for line in r.stdout.splitlines()]

    def assertOneTree(self, traces):
        self.assertTrue(traces)
        trace_ids = {t["trace"]["id"] for t in traces}
        self.assertEqual(len(trace_ids), 1, trace_ids)
        self.assertRegex(trace_ids.pop(), HEX32)
        spans = {t["attributes"]["spanId"] for t in traces}
        for t in traces:
            self.assertIn(t["type"], ("approval", "capability", "error", "lifecycle", "policy", "run"))
            self.assertEqual(set(t) - {"name", "type", "timestamp", "trace", "attributes"}, set())
            self.assertRegex(t["attributes"]["spanId"], HEX16)
            if "parentId" in t["trace"]:
                self.assertIn(t["trace"]["parentId"], spans, t)
        roots = {t["attributes"]["spanId"] for t in traces if "parentId" not in t["trace"]}
        self.assertEqual(len(roots), 1, roots)


class TraceTreeTest(TracesTestCase):
    def test_a_run_is_one_tree_and_the_tool_sees_its_own_span_in_traceparent(self):
        self.project()
        run_id = self.run_go()
        traces = self.traces(run_id)
        self.assertOneTree(traces)
        names = {t["name"] for t in traces}
        for name in ("run", "operation", "turn", "step", "tool"):
            self.assertIn(name, names)
        tool = next(t for t in traces if t["name"] == "tool" and t["attributes"]["phase"] == "start")
        call = next(e for e in self.events(run_id) if e["type"] == "tool_call")
        printed = call["result"]["details"]["output"]["traceparent"]
        self.assertEqual(printed, "00-%s-%s-01" % (tool["trace"]["id"], tool["attributes"]["spanId"]))
        # The run span ends with a duration; the pretty tree indents children.
        end = [t for t in traces if t["name"] == "run" and t["attributes"]["phase"] == "end"]
        self.assertEqual(len(end), 1)
        self.assertGreaterEqual(end[0]["attributes"]["durationMs"], 0)
        tree = hearth("logs", run_id, "--traces", cwd=self.tmp)
        self.assertExit(tree, 0)
        self.assertTrue(tree.stdout.startswith("run  [run]"), tree.stdout)
        self.assertIn("\n  operation  [lifecycle]", tree.stdout)
        self.assertRegex(tree.stdout, r"\n {8}tool  \[capability\]  \d+ ms  toolName=trace_env")

    def test_plain_logs_do_not_print_trace_events_in_pretty_mode(self):
        self.project()
        run_id = self.run_go()
        r = hearth("logs", run_id, cwd=self.tmp)
        self.assertExit(r, 0)
        self.assertNotIn("traceEvent", r.stderr)

    def test_a_workflow_script_gets_the_run_span_in_env_and_ctx_and_its_turns_join_the_tree(self):
        root = os.path.join(self.tmp, "hello")
        shutil.copytree(os.path.join(SOURCE_DIR, "examples", "hello"), root,
                        ignore=shutil.ignore_patterns(".hearth", "dist", "__pycache__"))
        with open(os.path.join(root, "workflows", "tp.py"), "w") as f:
            f.write(TP_SCRIPT)
        r = hearth("run", "tp", cwd=root)
        self.assertExit(r, 0)
        out = json.loads(r.stdout)
        run_id = run_id_of(r.stderr)
        self.tmp, saved = root, self.tmp
        try:
            traces = self.traces(run_id)
        finally:
            self.tmp = saved
        self.assertOneTree(traces)
        run = next(t for t in traces if t["name"] == "run")
        expected = "00-%s-%s-01" % (run["trace"]["id"], run["attributes"]["spanId"])
        self.assertEqual(out["env"], expected)
        self.assertEqual(out["ctx"], expected)
        shell_span = out["shell"].split("-")[2]
        operations = {t["attributes"]["spanId"]: t for t in traces if t["name"] == "operation"}
        self.assertEqual(operations[shell_span]["attributes"]["operationKind"], "shell")
        self.assertIn("turn", {t["name"] for t in traces})


TP_SCRIPT = """import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from hearth_workflow import workflow


@workflow
def run(ctx):
    harness = ctx.init(agent="hello")
    harness.session().prompt("Say hi.")
    shell = harness.shell("echo $TRACEPARENT")
    return {"env": os.environ.get("TRACEPARENT"), "ctx": ctx.traceparent,
            "shell": shell["stdout"].strip()}
"""


class OtlpTest(TracesTestCase):
    def test_the_exporter_posts_spans_to_a_local_receiver(self):
        received = []

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                received.append((self.path, dict(self.headers), json.loads(body)))
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.shutdown)
        endpoint = "http://127.0.0.1:%d/otel/" % server.server_address[1]
        self.project(config={"telemetry": {"otlp": {"endpoint": endpoint,
                                                   "headers": {"x-api-key": "k1"}}}})
        run_id = self.run_go()
        self.assertTrue(received, "no OTLP POST arrived")
        spans = []
        for path, headers, body in received:
            self.assertEqual(path, "/otel/v1/traces")
            self.assertEqual(headers.get("x-api-key"), "k1")
            for rs in body["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    spans.extend(ss["spans"])
        ids = {s["spanId"] for s in spans}
        self.assertEqual(len({s["traceId"] for s in spans}), 1)
        for s in spans:
            self.assertRegex(s["traceId"], HEX32)
            self.assertRegex(s["spanId"], HEX16)
            if "parentSpanId" in s:
                self.assertIn(s["parentSpanId"], ids)
            self.assertLessEqual(int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"]))
        run = [s for s in spans if s["name"] == "run"]
        self.assertEqual(len(run), 1)
        self.assertIn({"key": "hearth.runId", "value": {"stringValue": run_id}}, run[0]["attributes"])
        self.assertEqual({s["traceId"] for s in spans}, {t["trace"]["id"] for t in self.traces(run_id)})

    def test_an_unreachable_collector_never_fails_the_run(self):
        self.project(config={"telemetry": {"otlp": {"endpoint": "http://127.0.0.1:9/"}}})
        self.run_go()

    def test_a_bad_endpoint_is_a_config_error(self):
        self.project(config={"telemetry": {"otlp": {"endpoint": "ftp://x"}}})
        r = hearth("run", "go", cwd=self.tmp)
        self.assertExit(r, 1)
        self.assertIn("telemetry", r.stderr)


class HooksTest(TracesTestCase):
    def test_a_request_hook_that_rejects_fails_the_turn_with_its_reason(self):
        self.project(hooks={"request.sh": 'cat >/dev/null; echo \'{"reject": "closed for maintenance"}\''})
        r = hearth("run", "go", cwd=self.tmp)
        self.assertExit(r, 1)
        self.assertIn("rejected the turn: closed for maintenance", r.stderr)

    def test_a_request_hook_context_is_appended_to_the_turn_input(self):
        self.project(hooks={"on-turn.sh": 'cat >/dev/null; echo \'{"context": {"ticket": 42}}\''},
                     config={"model": "mock/echo"})
        r = hearth("run", "go", cwd=self.tmp)
        self.assertExit(r, 0)
        answer = json.loads(r.stdout)
        self.assertTrue(answer.startswith("Go."), answer)
        self.assertIn('<context>\n{"ticket":42}\n</context>', answer)

    def test_a_finish_hook_writes_a_file_for_the_turn_and_the_run(self):
        self.project(hooks={"on-finish.sh": 'cat >> "$HEARTH_WORKSPACE/finish.ndjson"; '
                                            'echo >> "$HEARTH_WORKSPACE/finish.ndjson"'})
        run_id = self.run_go()
        path = os.path.join(self.tmp, ".hearth", "workspaces", run_id, "finish.ndjson")
        with open(path) as f:
            payloads = [json.loads(line) for line in f if line.strip()]
        self.assertEqual([(p["hook"], p["scope"], p["status"]) for p in payloads],
                         [("finish", "turn", "completed"), ("finish", "run", "completed")])
        self.assertEqual(payloads[0]["runId"], run_id)

    def test_run_hooks_get_the_run_workspace_though_no_turn_made_it(self):
        """issue 17 §3: a run that fails before its turn (a payload key missing) never made its
        lazy workspace; its run-level error and finish hooks still run in it, with
        HEARTH_WORKSPACE, never in the hooks directory among the sources."""
        line = 'cat >> "$HEARTH_WORKSPACE/hooks.ndjson"; echo >> "$HEARTH_WORKSPACE/hooks.ndjson"; '
        self.project(hooks={"on-finish.sh": line + 'pwd > "$HEARTH_WORKSPACE/finish.cwd"',
                            "on-error.sh": line})
        self.write("workflows/go.md", "---\ndescription: Go.\n---\nGo to {{payload.place}}.\n")
        r = hearth("run", "go", cwd=self.tmp)
        self.assertExit(r, 1)
        self.assertIn("payload.place", r.stderr)
        run_id = run_id_of(r.stderr)
        workspace = os.path.join(self.tmp, ".hearth", "workspaces", run_id)
        with open(os.path.join(workspace, "hooks.ndjson")) as f:
            payloads = [json.loads(line) for line in f if line.strip()]
        self.assertEqual([(p["hook"], p["scope"]) for p in payloads], [("error", "run"), ("finish", "run")])
        self.assertEqual(payloads[1]["status"], "errored")
        with open(os.path.join(workspace, "finish.cwd")) as f:
            cwd = f.read().strip()
        self.assertIn(cwd, ("/workspace", os.path.realpath(workspace)))
        self.assertFalse([e for e in self.events(run_id) if e["type"] == "error" and e.get("source") == "hook"])

    def test_run_hooks_get_no_workspace_the_workflow_does_not_grant(self):
        """A workflow whose access.workspace narrows the agent's (all) to a grant: the run's tools
        saw only that grant, so the run-level finish hook gets no workspace at all (it used to be
        handed the whole one, from the agent's rule alone). It fails loudly if it gets one."""
        script = ('payload=$(cat)\n'
                  'case "$payload" in *\'"scope":"run"\'*)\n'
                  '  [ -z "$HEARTH_WORKSPACE" ] || { echo "run hook got $HEARTH_WORKSPACE" >&2; exit 3; } ;;\n'
                  'esac')
        self.project(hooks={"on-finish.sh": script})
        self.write("workflows/go.md", "---\ndescription: Go.\naccess:\n  workspace:\n"
                                      "    grants:\n      - path: shared\n---\nGo.\n")
        run_id = self.run_go()
        hook_errors = [e for e in self.events(run_id) if e["type"] == "error" and e.get("source") == "hook"]
        self.assertFalse([e for e in hook_errors if "run hook got" in e["error"]["message"]], hook_errors)
        # The control: without the workflow's rule the same hook sees the workspace and says so.
        self.write("workflows/go.md", "---\ndescription: Go.\n---\nGo.\n")
        run_id = self.run_go()
        hook_errors = [e for e in self.events(run_id) if e["type"] == "error" and e.get("source") == "hook"]
        self.assertEqual(len(hook_errors), 1, hook_errors)
        self.assertIn("run hook got", hook_errors[0]["error"]["message"])

    def test_a_failing_hook_is_an_error_event_and_the_turn_still_completes(self):
        self.project(hooks={"on-turn.sh": "echo broken >&2; exit 7"})
        run_id = self.run_go()
        errors = [e for e in self.events(run_id) if e["type"] == "error"]
        self.assertEqual(len(errors), 1, errors)
        self.assertEqual(errors[0]["error"]["type"], "hook_failed")
        self.assertEqual(errors[0]["hook"], "on-turn")
        self.assertIn("broken", errors[0]["error"]["message"])
        traces = self.traces(run_id)
        self.assertOneTree(traces)
        self.assertIn("error", {t["type"] for t in traces})

    def test_a_garbage_answer_is_ignored_with_an_error_event(self):
        self.project(hooks={"request.sh": "cat >/dev/null; echo '{nope'"})
        run_id = self.run_go()
        errors = [e for e in self.events(run_id) if e["type"] == "error"]
        self.assertEqual(len(errors), 1)
        self.assertIn("not JSON", errors[0]["error"]["message"])

    def test_a_trace_hook_receives_every_trace_event_in_batches_by_the_end_of_the_run(self):
        out = os.path.join(self.tmp, "trace-hook.ndjson")
        # Unsandboxed (backend none) so the hook may write a host path outside any workspace.
        self.project(hooks={"on-trace.sh": f'cat >> "{out}"; echo >> "{out}"'},
                     config={"sandbox": {"backend": "none"}})
        run_id = self.run_go()
        with open(out) as f:
            batches = [json.loads(line) for line in f if line.strip()]
        self.assertTrue(all(b["hook"] == "trace" and b["agent"] == "traced" for b in batches))
        got = [e for b in batches for e in b["events"]]
        self.assertEqual(got, self.traces(run_id))

    def test_info_lists_hooks_with_their_events(self):
        self.project(hooks={"on-finish.sh": "true", "request.sh": "true", "mystery.sh": "true"})
        r = hearth("info", "--json", cwd=self.tmp)
        self.assertExit(r, 0)
        hooks = {h["name"]: h for h in json.loads(r.stdout)["hooks"]}
        self.assertEqual(hooks["on-finish"]["event"], "finish")
        self.assertEqual(hooks["request"]["event"], "request")
        self.assertIsNone(hooks["mystery"]["event"])
        self.assertIn("run end", hooks["on-finish"]["receives"])
        text = hearth("info", cwd=self.tmp)
        self.assertIn("Hooks (3)", text.stdout + text.stderr)


class IncomingTraceparentTest(HearthTestCase):
    def test_a_valid_traceparent_continues_the_callers_trace_and_garbage_is_ignored(self):
        _, dist = built(self)
        server = Started(self, dist)
        c = Http(server.port)
        caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

        def traces_of(header):
            status, _, body = c.json("POST", "/workflows/hello", {"name": "W"},
                                     headers={"traceparent": header})
            self.assertEqual(status, 202, body)
            events = wait_run_closed(c, body["runId"])
            return [e["traceEvent"] for e in events if e["type"] == "trace"]

        traces = traces_of(caller)
        self.assertEqual({t["trace"]["id"] for t in traces}, {"4bf92f3577b34da6a3ce929d0e0e4736"})
        run = next(t for t in traces if t["name"] == "run")
        self.assertEqual(run["trace"]["parentId"], "00f067aa0ba902b7")
        for garbage in (caller.upper(), caller + "x", "00-" + "0" * 32 + "-00f067aa0ba902b7-01"):
            traces = traces_of(garbage)
            ids = {t["trace"]["id"] for t in traces}
            self.assertEqual(len(ids), 1)
            self.assertNotIn("4bf92f3577b34da6a3ce929d0e0e4736", ids)
            self.assertNotIn("parentId", next(t for t in traces if t["name"] == "run")["trace"])


if __name__ == "__main__":
    unittest.main()

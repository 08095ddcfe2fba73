"""End-to-end tests of triggers (issue 14, docs/triggers.md): Slack and GitHub deliveries signed as
the providers sign them, verified and dispatched; the seed's status codes; handshakes; durable
dispatch with idempotency; schedules firing under `hearth start` on a scaled clock, never twice
for one cron time across kill -9 and restart; the dev trigger route; `hearth info`."""
import glob
import hashlib
import hmac
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
import unittest

from harness import HEARTH_BIN, HearthTestCase, clean_env, copy_example, hearth
from test_dev import free_port
from test_server import Http

SLACK_SECRET = "slack-signing-secret-0123"
GH_SECRET = "github-webhook-secret-4567"


def slack_headers(body, ts=None, secret=SLACK_SECRET, content_type="application/json"):
    """Slack's v0 scheme: v0= + hex HMAC-SHA256 of "v0:{timestamp}:{body}" under the signing secret."""
    ts = str(int(time.time()) if ts is None else ts)
    sig = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": "v0=" + sig}


def github_headers(body, event, delivery, secret=GH_SECRET):
    """GitHub: X-Hub-Signature-256 = sha256= + hex HMAC-SHA256 of the exact body."""
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": "sha256=" + sig}


def write_project(test, name="trg", schedules=None):
    root = os.path.join(test.tmp, name)
    test.write(f"{name}/hearth.json", json.dumps({"name": name, "model": "mock/echo"}))
    test.write(f"{name}/agent/agent.json", json.dumps({"description": "Echoes.", "http": True}))
    test.write(f"{name}/agent/instructions.md", "You echo.\n")
    test.write(f"{name}/agent/channels/slack.json", json.dumps({
        "type": "slack", "secretEnv": "SLACK_SIGNING_SECRET", "dispatch": {}}))
    # Flue's layout: channels/<name>.json beside agent/ belongs to the root agent.
    test.write(f"{name}/channels/github.json", json.dumps({
        "type": "github", "secretEnv": "GH_SECRET", "bodyLimit": 65536,
        "dispatch": {"id": "gh-{{payload.issue.number}}",
                     "input": "Comment on #{{payload.issue.number}}: {{payload.comment.body}}",
                     "events": ["issue_comment.created"]}}))
    # A generic HMAC webhook whose handler executable decides what to dispatch.
    test.write(f"{name}/agent/channels/hooks.json", json.dumps({
        "type": "webhook", "secretEnv": "HOOK_SECRET", "path": "/in",
        "signature": {"header": "X-Sig", "algorithm": "sha1", "prefix": "sha1="},
        "timestamp": {"header": "X-Ts", "toleranceSeconds": 60}, "deliveryHeader": "X-Id",
        "handler": "../lib/hooks_handler.py"}))
    test.write(f"{name}/agent/lib/hooks_handler.py", (
        "#!/usr/bin/env python3\nimport json, sys\nd = json.load(sys.stdin)\n"
        "t = d['payload']['ticket']\n"
        "print(json.dumps({'dispatch': [{'id': 'hook-%s' % t, 'input': 'ticket %s' % t, "
        "'idempotencyKey': d['deliveryId']}], 'response': {'status': 200, 'body': {'accepted': True}}}))\n"),
        executable=True)
    for sched, text in (schedules or {}).items():
        test.write(f"{name}/agent/schedules/{sched}.md", text)
    return root


def build(test, project):
    r = hearth("build", cwd=project)
    test.assertEqual(r.returncode, 0, r.stderr)
    return os.path.join(project, "dist")


class Proc:
    """`hearth start` or `hearth dev` with stderr collected line by line."""

    def __init__(self, test, args, env, cwd):
        self.lines, self.cond = [], threading.Condition()
        self.proc = subprocess.Popen([HEARTH_BIN, *args], cwd=cwd, env=env, text=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        test.addCleanup(self.kill)

    def _read(self):
        for line in self.proc.stderr:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_for(self, needle, timeout=30, count=1):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                hits = [l for l in self.lines if needle in l]
                if len(hits) >= count:
                    return hits
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self.reader.is_alive():
                    raise AssertionError("no %d x %r in output:\n%s" % (count, needle, "\n".join(self.lines)))
                self.cond.wait(min(left, 0.1))

    def matching(self, needle):
        with self.cond:
            return [l for l in self.lines if needle in l]

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.reader.join(timeout=5)


def start(test, dist, **env):
    p = Proc(test, ["start", dist, "--host", "127.0.0.1", "--port", "0", "--insecure-no-auth"],
             clean_env(SLACK_SIGNING_SECRET=SLACK_SECRET, GH_SECRET=GH_SECRET, HOOK_SECRET="hook-secret",
                       **env), test.tmp)
    line = p.wait_for("listening on http://127.0.0.1:")[0]
    p.port = int(line.rsplit(":", 1)[1])
    return p


def instance_events(client, agent, instance, idle=1, timeout=30):
    """Every event of an agent instance once it has `idle` idle events."""
    deadline = time.monotonic() + timeout
    events, offset = [], "-1"
    while True:
        status, hdrs, page = client.json("GET", f"/agents/{agent}/{instance}?offset={offset}")
        if status == 200:
            events += page
            offset = hdrs["stream-next-offset"]
            if hdrs.get("stream-up-to-date") != "true":
                continue  # pages hold 100 events
        if sum(e["type"] == "idle" for e in events) >= idle:
            return events
        if time.monotonic() > deadline:
            raise AssertionError(f"{agent}/{instance}: {status} {[e['type'] for e in events]}")
        time.sleep(0.05)


def state_dir(dist):
    """Where `hearth start` keeps the store and workspaces: ./.hearth of the directory it runs in,
    which is every test's tmp, the parent of the project that holds `dist` (docs/deploy.md)."""
    return os.path.join(os.path.dirname(os.path.dirname(dist)), ".hearth")


def fires(dist, schedule):
    """(scheduled_ms, trigger, status) rows of `schedule`, straight from the state database."""
    conn = sqlite3.connect(os.path.join(state_dir(dist), "state.db"), timeout=10)
    try:
        return conn.execute("SELECT scheduled_ms, trigger, status FROM schedule_fires WHERE schedule = ? "
                            "ORDER BY scheduled_ms", (schedule,)).fetchall()
    finally:
        conn.close()


def session_invoker(dist, instance):
    conn = sqlite3.connect(os.path.join(state_dir(dist), "state.db"), timeout=10)
    try:
        row = conn.execute("SELECT invoker FROM sessions WHERE instance_id = ?", (instance,)).fetchone()
        return json.loads(row[0]) if row and row[0] else None
    finally:
        conn.close()


class ChannelsTest(HearthTestCase):
    def setUp(self):
        super().setUp()
        self.dist = build(self, write_project(self))
        self.server = start(self, self.dist)
        self.c = Http(self.server.port)

    def post(self, path, body, headers):
        self.c = Http(self.server.port)  # refusals may close the connection
        return self.c.request("POST", path, body, headers)

    def test_github_delivery_is_verified_dispatched_and_a_duplicate_runs_once(self):
        payload = {"action": "created", "issue": {"number": 42}, "comment": {"body": "it broke", "id": 1},
                   "repository": {"name": "hearth", "owner": {"login": "acme"}}}
        body = json.dumps(payload).encode()
        status, hdrs, raw = self.post("/channels/github/webhook", body, github_headers(body, "issue_comment", "d-1"))
        # Seed 003: a handled delivery is an empty 200; the dispatch id is in a header and the log.
        self.assertEqual((status, raw), (200, ""))
        dispatch_id = hdrs["hearth-dispatch-ids"]
        self.assertTrue(dispatch_id.startswith("dsp_"))
        self.server.wait_for("channel github delivery d-1 dispatched " + dispatch_id)
        # The provider retries the same delivery: the same dispatch, and it runs once.
        status, hdrs, raw = self.post("/channels/github/webhook", body, github_headers(body, "issue_comment", "d-1"))
        self.assertEqual((status, raw, hdrs["hearth-dispatch-ids"]), (200, "", dispatch_id))
        self.server.wait_for("channel github delivery d-1 replayed " + dispatch_id)
        events = instance_events(self.c, "trg", "gh-42")
        text = json.dumps(events)
        self.assertIn("Comment on #42: it broke", text)
        time.sleep(0.3)
        events = instance_events(self.c, "trg", "gh-42")
        self.assertEqual(sum(e["type"] == "idle" for e in events), 1, events)
        # Secrets and raw bodies stay out of the session.
        self.assertNotIn(GH_SECRET, text)
        self.assertNotIn("sha256=", text)
        self.assertEqual(session_invoker(self.dist, "gh-42")["kind"], "channel")

    def test_github_ping_other_events_and_refusals(self):
        body = b'{"zen":"Design for failure.","hook_id":1}'
        status, _, raw = self.post("/channels/github/webhook", body, github_headers(body, "ping", "p-1"))
        self.assertEqual((status, json.loads(raw)["ok"]), (200, True))
        body = json.dumps({"action": "opened", "issue": {"number": 7}}).encode()
        status, _, raw = self.post("/channels/github/webhook", body, github_headers(body, "issues", "d-2"))
        self.assertEqual((status, raw), (200, ""))  # acknowledged, nothing dispatched
        # Wrong signature -> 401 (checked before anything is parsed).
        bad = github_headers(body, "issues", "d-3", secret="wrong")
        status, _, raw = self.post("/channels/github/webhook", body, bad)
        self.assertEqual((status, json.loads(raw)["error"]["type"]), (401, "signature_invalid"))
        garbage = b"{not json"
        status, _, _ = self.post("/channels/github/webhook", garbage, github_headers(garbage, "issues", "d-4"))
        self.assertEqual(status, 400)
        h = github_headers(body, "issues", "d-5")
        h["Content-Type"] = "text/plain"
        status, _, _ = self.post("/channels/github/webhook", body, h)
        self.assertEqual(status, 415)
        big = b'{"pad":"' + b"x" * 70000 + b'"}'
        status, _, raw = self.post("/channels/github/webhook", big, github_headers(big, "issues", "d-6"))
        self.assertEqual((status, json.loads(raw)["error"]["type"]), (413, "payload_too_large"))
        status, hdrs, _ = self.c.request("GET", "/channels/github/webhook")
        self.assertEqual((status, hdrs["allow"]), (405, "POST"))
        self.c = Http(self.server.port)
        for path in ("/channels/github", "/channels/github/other", "/channels/nope/webhook"):
            status, _, _ = self.post(path, body, github_headers(body, "issues", "d-7"))
            self.assertEqual(status, 404, path)

    def test_slack_url_verification_events_and_refusals(self):
        body = json.dumps({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "token": "x"}).encode()
        status, _, raw = self.post("/channels/slack/events", body, slack_headers(body))
        self.assertEqual((status, json.loads(raw)), (200, {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}))
        event = {"type": "event_callback", "team_id": "T1", "event_id": "Ev42", "token": "legacy-token",
                 "event": {"type": "app_mention", "channel": "C7", "ts": "1700000000.000100", "text": "<@U1> hi"}}
        body = json.dumps(event).encode()
        status, hdrs, raw = self.post("/channels/slack/events", body, slack_headers(body))
        self.assertEqual((status, raw), (200, ""))
        first = hdrs["hearth-dispatch-ids"]
        status, hdrs, raw = self.post("/channels/slack/events", body, slack_headers(body))  # Slack retry
        self.assertEqual(hdrs["hearth-dispatch-ids"], first)
        key = "slack:v1:T1:C7:1700000000.000100"
        events = instance_events(self.c, "trg", key)
        text = json.dumps(events)
        self.assertIn("app_mention", text)
        self.assertNotIn("legacy-token", text)  # scrubbed before the model sees the payload
        # Old timestamp, wrong signature, oversize body, wrong method.
        status, _, _ = self.post("/channels/slack/events", body, slack_headers(body, ts=int(time.time()) - 600))
        self.assertEqual(status, 401)
        status, _, _ = self.post("/channels/slack/events", body, slack_headers(body, secret="nope"))
        self.assertEqual(status, 401)
        big = b'{"type":"event_callback","pad":"' + b"x" * (1 << 20) + b'"}'
        status, _, _ = self.post("/channels/slack/events", big, slack_headers(big))
        self.assertEqual(status, 413)
        self.c = Http(self.server.port)
        status, hdrs, _ = self.c.request("PUT", "/channels/slack/events", body, slack_headers(body))
        self.assertEqual((status, hdrs["allow"]), (405, "POST"))
        # Commands are form-encoded; JSON there is 415.
        self.c = Http(self.server.port)
        status, _, _ = self.post("/channels/slack/commands", body, slack_headers(body))
        self.assertEqual(status, 415)

    def test_generic_webhook_with_a_timestamp_and_a_handler_that_dispatches(self):
        body = b'{"ticket": 7}'
        def signed(ts, secret="hook-secret"):
            sig = hmac.new(secret.encode(), str(ts).encode() + b"." + body, hashlib.sha1).hexdigest()
            return {"Content-Type": "application/json", "X-Ts": str(ts), "X-Id": "h-1", "X-Sig": "sha1=" + sig}
        now = int(time.time())
        status, _, raw = self.post("/channels/hooks/in", body, signed(now))
        self.assertEqual((status, json.loads(raw)), (200, {"accepted": True}))
        self.assertIn("ticket 7", json.dumps(instance_events(self.c, "trg", "hook-7")))
        status, _, _ = self.post("/channels/hooks/in", body, signed(now - 120))  # outside 60 s
        self.assertEqual(status, 401)
        status, _, _ = self.post("/channels/hooks/in", body, signed(now, secret="other"))
        self.assertEqual(status, 401)

    def test_agent_prompt_with_an_idempotency_key_is_admitted_once(self):
        h = {"Idempotency-Key": "k-1"}
        status, _, first = self.c.json("POST", "/agents/trg/idem", {"message": "only once"}, h)
        self.assertEqual(status, 202, first)
        self.assertTrue(first["dispatchId"].startswith("dsp_"))
        status, _, again = self.c.json("POST", "/agents/trg/idem", {"message": "only once"}, h)
        self.assertEqual((status, again["dispatchId"], again["acceptedAt"]),
                         (202, first["dispatchId"], first["acceptedAt"]))
        status, _, conflict = self.c.json("POST", "/agents/trg/idem", {"message": "different"}, h)
        self.assertEqual((status, conflict["error"]["type"]), (409, "dispatch_conflict"))
        events = instance_events(self.c, "trg", "idem")
        time.sleep(0.3)
        events = instance_events(self.c, "trg", "idem")
        self.assertEqual(sum(e["type"] == "idle" for e in events), 1)

    def test_deliveries_to_one_instance_run_one_at_a_time_in_admission_order(self):
        for i in range(5):
            status, _, _ = self.c.json("POST", "/agents/trg/order", {"message": f"msg-{i}"},
                                       {"Idempotency-Key": f"o-{i}"})
            self.assertEqual(status, 202)
        events = instance_events(self.c, "trg", "order", idle=5)
        text = json.dumps(events)
        positions = [text.index(f"msg-{i}") for i in range(5)]
        self.assertEqual(positions, sorted(positions))

    def test_info_lists_the_routes_that_answer_and_schedules(self):
        status, _, doc = self.c.json("GET", "/eve/v1/info")
        self.assertEqual(status, 200)
        urls = {(r["method"], r["urlPath"]) for r in doc["channels"]["routes"]}
        self.assertEqual(urls, {("POST", "/channels/slack/events"), ("POST", "/channels/slack/interactions"),
                                ("POST", "/channels/slack/commands"), ("POST", "/channels/github/webhook"),
                                ("POST", "/channels/hooks/in")})


class ChannelAuthTest(HearthTestCase):
    """With route auth configured, only declared channel paths skip it (they verify signatures);
    any other /channels/... path is authenticated before its body is read."""

    def test_only_declared_channel_paths_skip_route_auth(self):
        project = write_project(self)
        with open(os.path.join(project, "hearth.json")) as f:
            config = json.load(f)
        config["auth"] = [{"kind": "bearer", "tokenEnv": "APP_TOKEN"}]
        with open(os.path.join(project, "hearth.json"), "w") as f:
            json.dump(config, f)
        dist = build(self, project)
        p = Proc(self, ["start", dist, "--host", "127.0.0.1", "--port", "0"],
                 clean_env(SLACK_SIGNING_SECRET=SLACK_SECRET, GH_SECRET=GH_SECRET,
                           HOOK_SECRET="hook-secret", APP_TOKEN="app-token-0123456789"), self.tmp)
        port = int(p.wait_for("listening on http://127.0.0.1:")[0].rsplit(":", 1)[1])
        # A signed delivery to a declared route needs no route credentials.
        body = b'{"zen":"Design for failure.","hook_id":1}'
        status, _, raw = Http(port).request("POST", "/channels/github/webhook", body,
                                            github_headers(body, "ping", "p-1"))
        self.assertEqual(status, 200, raw)
        # Any other /channels/ path: 401 at once, its announced body (never sent) not awaited.
        for path in ("/channels/nope/webhook", "/channels/github/other", "/channels/github"):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.putrequest("POST", path)
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", "1000")
            conn.endheaders()
            started = time.monotonic()
            reply = conn.getresponse()
            self.assertEqual(reply.status, 401, path)
            self.assertLess(time.monotonic() - started, 5, path)
            conn.close()
        p.kill()


class ScheduleTest(HearthTestCase):
    def project(self, **extra):
        return write_project(self, schedules={
            "tick": "---\ncron: \"* * * * *\"\n" + "".join(f"{k}: {v}\n" for k, v in extra.items()) + "---\nTick.\n",
            "nightly": "---\ncron: \"@daily\"\n---\nNightly.\n"})

    def test_every_minute_fires_once_per_scaled_minute_with_a_fresh_schedule_session(self):
        dist = build(self, self.project())
        scale = 60  # a minute per second
        server = start(self, dist, HEARTH_CLOCK_SCALE=str(scale), HEARTH_CLOCK_EPOCH=str(int(time.time() * 1000)))
        server.wait_for("schedule tick fired", timeout=20, count=3)
        rows = fires(dist, "tick")
        times = [r[0] for r in rows if r[1] == "cron"]
        self.assertGreaterEqual(len(times), 3)
        self.assertEqual(len(times), len(set(times)))
        self.assertTrue(all(t % 60000 == 0 for t in times), times)
        self.assertTrue(all(b - a == 60000 for a, b in zip(times, times[1:])), times)
        self.assertEqual(fires(dist, "nightly"), [])
        # The fire runs as a fresh session with the schedule as invoker.
        session = server.matching("schedule tick fired")[0].rsplit(" ", 1)[1]
        c = Http(server.port)
        events = instance_events(c, "trg", session)
        self.assertIn("Tick.", json.dumps(events))
        self.assertEqual(session_invoker(dist, session), {"id": "tick", "kind": "schedule", "label": "schedule tick"})
        r = hearth("logs", session, "--format", "ndjson", cwd=dist,  # fires' sessions in `hearth logs`
                   env=clean_env(HEARTH_STATE_DIR=state_dir(dist)))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Tick.", r.stdout)

    def virtual_epoch(self, scale, second):
        """An epoch making the scaled clock read `second` (of some minute) now."""
        t0 = time.time() * 1000
        target = (t0 // 60000 + 2) * 60000 + second * 1000
        return int(t0 - (target - t0) / (scale - 1))

    def test_kill_9_and_restart_within_the_minute_never_fires_it_twice(self):
        dist = build(self, self.project(catchUp="true"))
        scale = 10  # a minute per 6 seconds
        env = {"HEARTH_CLOCK_SCALE": str(scale), "HEARTH_CLOCK_EPOCH": str(self.virtual_epoch(scale, 55))}
        first = start(self, dist, **env)
        line = first.wait_for("schedule tick fired", timeout=20)[0]
        first.kill(signal.SIGKILL)
        second = start(self, dist, **env)
        second.wait_for("schedule tick fired", timeout=20)  # the NEXT minute, ~6 s later
        rows = fires(dist, "tick")
        times = [r[0] for r in rows]
        self.assertEqual(len(times), len(set(times)))
        self.assertEqual(len(times), 2, rows)
        self.assertEqual(times[1] - times[0], 60000)
        self.assertEqual(second.matching("(catch-up)"), [])
        self.assertIn("(cron)", line)

    def test_catch_up_runs_one_missed_fire_on_start_and_skip_runs_none(self):
        dist = build(self, write_project(self, schedules={
            "caught": "---\ncron: \"* * * * *\"\ncatchUp: true\n---\nCaught.\n",
            "skipped": "---\ncron: \"* * * * *\"\n---\nSkipped.\n"}))
        env = {"HEARTH_CLOCK_SCALE": "60", "HEARTH_CLOCK_EPOCH": str(int(time.time() * 1000))}
        first = start(self, dist, **env)
        first.wait_for("schedule caught fired")
        first.wait_for("schedule skipped fired")
        first.kill(signal.SIGKILL)
        time.sleep(3.5)  # three scaled minutes missed
        second = start(self, dist, **env)
        second.wait_for("schedule caught fired", count=2)
        second.kill(signal.SIGKILL)
        caught = [r[1] for r in fires(dist, "caught")]
        skipped = [r[1] for r in fires(dist, "skipped")]
        self.assertEqual(caught.count("catch-up"), 1, caught)
        self.assertEqual(skipped.count("catch-up"), 0, skipped)


class DevScheduleTest(HearthTestCase):
    def test_dev_never_fires_on_cadence_but_the_dev_route_fires_one_now(self):
        project = write_project(self, schedules={"tick": "---\ncron: \"* * * * *\"\n---\nTick.\n",
                                                 "ops/daily": "---\ncron: \"@daily\"\n---\nDaily ops.\n"})
        port = free_port()
        dev = Proc(self, ["dev", "--port", str(port)],
                   clean_env(HEARTH_CLOCK_SCALE="60", HEARTH_CLOCK_EPOCH=str(int(time.time() * 1000))),
                   project)
        dev.wait_for("http://127.0.0.1:%d" % port, timeout=60)
        c = Http(port)
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _, body = c.json("POST", "/eve/v1/dev/schedules/tick")
                break
            except OSError:
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.2)
                c = Http(port)
        self.assertEqual(status, 202, body)
        self.assertEqual(body["scheduleId"], "tick")
        self.assertEqual(len(body["sessionIds"]), 1)
        events = instance_events(c, "trg", body["sessionIds"][0])
        self.assertIn("Tick.", json.dumps(events))
        status, _, body = c.json("POST", "/eve/v1/dev/schedules/nope")
        self.assertEqual(status, 404)
        # Nested names (agent/schedules/ops/daily.md -> ops/daily) fire on their path.
        status, _, body = c.json("POST", "/eve/v1/dev/schedules/ops/daily")
        self.assertEqual((status, body["scheduleId"]), (202, "ops/daily"), body)
        self.assertIn("Daily ops.", json.dumps(instance_events(c, "trg", body["sessionIds"][0])))
        time.sleep(2.5)  # two scaled minutes: nothing fires on cadence in dev
        self.assertEqual(dev.matching("(cron)"), [])
        dev.kill(signal.SIGINT)


class ExampleTest(HearthTestCase):
    def test_github_issues_example_replies_through_the_tool_bound_to_the_conversation_key(self):
        dist = build(self, copy_example(self, "github-issues"))
        p = Proc(self, ["start", dist, "--host", "127.0.0.1", "--port", "0", "--insecure-no-auth"],
                 clean_env(GITHUB_WEBHOOK_SECRET=GH_SECRET), self.tmp)
        port = int(p.wait_for("listening on http://127.0.0.1:")[0].rsplit(":", 1)[1])
        payload = {"action": "created", "issue": {"number": 42},
                   "comment": {"body": "It crashes on start", "user": {"login": "octo"}},
                   "repository": {"name": "app", "owner": {"login": "acme"}}}
        body = json.dumps(payload).encode()
        status, _, raw = Http(port).request("POST", "/channels/github/webhook", body,
                                            github_headers(body, "issue_comment", "ex-1"))
        self.assertEqual(status, 200, raw)
        deadline = time.monotonic() + 30
        while not glob.glob(os.path.join(state_dir(dist), "workspaces", "*", "replies.jsonl")):
            self.assertLess(time.monotonic(), deadline, "no reply written")
            time.sleep(0.1)
        with open(glob.glob(os.path.join(state_dir(dist), "workspaces", "*", "replies.jsonl"))[0]) as f:
            reply = json.loads(f.readline())
        self.assertEqual((reply["owner"], reply["repo"], reply["issue"]), ("acme", "app", 42))

    def test_a_caller_chosen_instance_id_never_becomes_the_reply_destination(self):
        dist = build(self, copy_example(self, "github-issues"))
        p = Proc(self, ["start", dist, "--host", "127.0.0.1", "--port", "0", "--insecure-no-auth"],
                 clean_env(GITHUB_WEBHOOK_SECRET=GH_SECRET), self.tmp)
        port = int(p.wait_for("listening on http://127.0.0.1:")[0].rsplit(":", 1)[1])
        c = Http(port)
        victim = "github:v1:owner:victim:repo:app:issue:1"
        status, _, _ = c.json("POST", f"/agents/github-issues/{victim}", {"message": "post there"})
        self.assertIn(status, (200, 202))
        events = instance_events(c, "github-issues", victim)
        self.assertIn("Tool reply failed", json.dumps(events))  # no HEARTH_CONVERSATION_KEY
        self.assertEqual(glob.glob(os.path.join(state_dir(dist), "workspaces", "*", "replies.jsonl")), [])


class InfoTest(HearthTestCase):
    def test_info_shows_next_fire_times_and_channel_routes_and_bad_specs_are_diagnostics(self):
        project = write_project(self, schedules={"tick": "---\ncron: \"*/15 * * * *\"\n---\nTick.\n"})
        r = hearth("info", "--json", cwd=project)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        tick = doc["schedules"][0]
        self.assertEqual((tick["name"], tick["overlap"], tick["catchUp"]), ("tick", "skip", False))
        self.assertRegex(tick["nextFireAt"], r"T\d\d:(00|15|30|45):00\.000Z$")
        routes = {r["path"] for r in doc["routes"] if r["kind"] == "channel"}
        self.assertEqual(routes, {"/channels/slack/events", "/channels/slack/interactions",
                                  "/channels/slack/commands", "/channels/github/webhook", "/channels/hooks/in"})
        self.write("trg/channels/slowpoke.json", json.dumps({  # a handler answers on the request thread
            "type": "github", "secretEnv": "GH_SECRET", "handler": {"command": ["./h.py"], "timeoutMs": 60000}}))
        r = hearth("info", "--json", cwd=project)
        self.assertIn("handler.timeoutMs", r.stdout + r.stderr)
        os.remove(os.path.join(project, "channels", "slowpoke.json"))
        self.write("trg/channels/bad.json", json.dumps({"type": "smtp"}))
        r = hearth("info", "--json", cwd=project)
        self.assertIn("channel-invalid", r.stdout + r.stderr)


class HandlerTest(HearthTestCase):
    """A channel handler runs sandboxed like a tool: only its declared env (never the server's
    secrets), a read-only project, bounded time (docs/triggers.md "handler")."""

    def test_a_handler_sees_only_its_declared_env_cannot_write_the_project_and_is_bounded(self):
        root = write_project(self, name="hdl")
        self.write("hdl/agent/channels/probe.json", json.dumps({
            "type": "webhook", "secretEnv": "HOOK_SECRET", "path": "/in", "signature": {"header": "X-Sig"},
            "handler": {"command": ["../lib/probe.py"], "env": ["PROBE_PREFIX"]}}))
        self.write("hdl/agent/lib/probe.py", (
            "#!/usr/bin/env python3\nimport json, os, sys\njson.load(sys.stdin)\n"
            "try:\n    open(os.path.join(os.getcwd(), 'pwned'), 'w').write('x')\n    wrote = True\n"
            "except OSError:\n    wrote = False\n"
            "print(json.dumps({'response': {'status': 200, 'body': {'env': sorted(os.environ), "
            "'prefix': os.environ.get('PROBE_PREFIX'), 'wrote': wrote}}}))\n"), executable=True)
        self.write("hdl/agent/channels/slow.json", json.dumps({
            "type": "webhook", "secretEnv": "HOOK_SECRET", "path": "/in", "signature": {"header": "X-Sig"},
            "handler": {"command": ["../lib/slow.py"], "timeoutMs": 300}}))
        self.write("hdl/agent/lib/slow.py", "#!/usr/bin/env python3\nimport time\ntime.sleep(30)\n",
                   executable=True)
        dist = build(self, root)
        server = start(self, dist, PROBE_PREFIX="t-", OTHER_SECRET="do-not-leak")
        body = b'{"ticket": 1}'
        sig = hmac.new(b"hook-secret", body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Sig": sig}
        status, _, raw = Http(server.port).request("POST", "/channels/probe/in", body, headers)
        self.assertEqual(status, 200, raw)
        seen = json.loads(raw)
        self.assertEqual(seen["prefix"], "t-")
        for secret in ("OTHER_SECRET", "HOOK_SECRET", "GH_SECRET", "SLACK_SIGNING_SECRET"):
            self.assertNotIn(secret, seen["env"])
        self.assertIn("HEARTH_CHANNEL", seen["env"])
        self.assertFalse(seen["wrote"])  # the project is read-only to it
        self.assertFalse(os.path.exists(os.path.join(dist, "agent", "channels", "pwned")))
        started = time.monotonic()
        status, _, raw = Http(server.port).request("POST", "/channels/slow/in", body, headers)
        self.assertEqual((status, json.loads(raw)["error"]["type"]), (502, "channel_handler_failed"))
        self.assertLess(time.monotonic() - started, 5)
        # A captured delivery re-posted at once: at most 4 handlers of a channel run, the rest
        # are refused 503 instead of pinning request threads.
        statuses = []

        def post():
            st, _, _ = Http(server.port).request("POST", "/channels/slow/in", body, headers)
            statuses.append(st)
        threads = [threading.Thread(target=post) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(len(statuses), 10)
        self.assertLessEqual(statuses.count(502), 4 * 3, statuses)  # ≤ 4 at a time, 300 ms each
        self.assertGreater(statuses.count(503), 0, statuses)
        self.assertEqual(set(statuses) - {502, 503}, set(), statuses)


class ChannelAdmissionTest(HearthTestCase):
    def test_access_rules_refuse_a_channel_dispatch_at_admission(self):
        root = write_project(self, name="acl")
        self.write("acl/agent/agent.json", json.dumps({"description": "Echoes.", "http": True,
                                                       "access": {"kinds": ["service"]}}))
        dist = build(self, root)
        server = start(self, dist)
        payload = {"action": "created", "issue": {"number": 5}, "comment": {"body": "x"},
                   "repository": {"name": "r", "owner": {"login": "o"}}}
        body = json.dumps(payload).encode()
        status, hdrs, raw = Http(server.port).request("POST", "/channels/github/webhook", body,
                                                      github_headers(body, "issue_comment", "a-1"))
        self.assertEqual((status, json.loads(raw)["error"]["type"]), (403, "forbidden"), raw)
        self.assertNotIn("hearth-dispatch-ids", hdrs)
        conn = sqlite3.connect(os.path.join(state_dir(dist), "state.db"), timeout=10)
        try:
            self.assertEqual(conn.execute("SELECT count(*) FROM dispatches").fetchone()[0], 0)
        finally:
            conn.close()

    def test_an_unknown_dispatch_agent_is_a_compile_error(self):
        root = write_project(self, name="unk")
        self.write("unk/channels/github.json", json.dumps({
            "type": "github", "secretEnv": "GH_SECRET", "dispatch": {"agent": "nobody"}}))
        r = hearth("build", cwd=root)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("channel-agent-unknown", r.stdout + r.stderr)
        r = hearth("info", "--json", cwd=root)
        self.assertIn("channel-agent-unknown", r.stdout + r.stderr)


class IdempotencyTest(HearthTestCase):
    def test_a_replay_answers_the_first_receipt_and_waits_for_the_original_result(self):
        dist = build(self, write_project(self))
        server = start(self, dist)
        c = Http(server.port)
        h = {"Idempotency-Key": "r-1"}
        status, _, first = c.json("POST", "/agents/trg/rcpt", {"message": "hello once"}, h)
        self.assertEqual(status, 202, first)
        instance_events(c, "trg", "rcpt")  # the turn ran: the stream moved past the first offset
        status, hdrs, again = c.json("POST", "/agents/trg/rcpt?wait=result", {"message": "hello once"}, h)
        self.assertEqual(status, 200, again)
        self.assertEqual((again["dispatchId"], again["acceptedAt"], again["offset"], again["streamUrl"]),
                         (first["dispatchId"], first["acceptedAt"], first["offset"], first["streamUrl"]))
        self.assertTrue(again["replayed"])
        self.assertIn("hello once", json.dumps(again["result"]))
        self.assertEqual(hdrs["stream-next-offset"], first["offset"])
        # A first request with ?wait=result waits for its own turn too.
        status, _, waited = c.json("POST", "/agents/trg/rcpt?wait=result", {"message": "second"},
                                   {"Idempotency-Key": "r-2"})
        self.assertEqual(status, 200, waited)
        self.assertIn("second", json.dumps(waited["result"]))

    def test_keys_are_scoped_by_invoker(self):
        project = write_project(self, name="scoped")
        with open(os.path.join(project, "hearth.json")) as f:
            config = json.load(f)
        config["auth"] = [{"kind": "bearer", "tokenEnv": "ALICE_TOKEN", "invoker": {"id": "alice", "kind": "service"}},
                          {"kind": "bearer", "tokenEnv": "BOB_TOKEN", "invoker": {"id": "bob", "kind": "service"}}]
        with open(os.path.join(project, "hearth.json"), "w") as f:
            json.dump(config, f)
        dist = build(self, project)
        alice, bob = "alice-token-0123456789abcdef", "bob-token-0123456789abcdef01"
        p = Proc(self, ["start", dist, "--host", "127.0.0.1", "--port", "0"],
                 clean_env(SLACK_SIGNING_SECRET=SLACK_SECRET, GH_SECRET=GH_SECRET, HOOK_SECRET="hook-secret",
                           ALICE_TOKEN=alice, BOB_TOKEN=bob), self.tmp)
        port = int(p.wait_for("listening on http://127.0.0.1:")[0].rsplit(":", 1)[1])
        c = Http(port)
        def post(token, message):
            return c.json("POST", "/agents/scoped/shared", {"message": message},
                          {"Idempotency-Key": "same", "Authorization": "Bearer " + token})
        status, _, a = post(alice, "from alice")
        self.assertEqual(status, 202, a)
        status, _, b = post(bob, "from bob")  # another caller's key: no 409, its own dispatch
        self.assertEqual(status, 202, b)
        self.assertNotEqual(a["dispatchId"], b["dispatchId"])
        status, _, b2 = post(bob, "from alice")  # nor alice's receipt for alice's message
        self.assertEqual(status, 409, b2)
        status, _, a2 = post(alice, "from alice")
        self.assertEqual((status, a2["dispatchId"]), (202, a["dispatchId"]))


class FireRecoveryTest(HearthTestCase):
    def test_a_dead_process_fires_are_interrupted_or_run_from_the_store_at_start(self):
        dist = build(self, write_project(self, schedules={
            "rare": "---\ncron: \"0 0 1 1 *\"\noverlap: queue\n---\nRare.\n"}))
        first = start(self, dist)
        dead = first.proc.pid
        first.kill(signal.SIGKILL)
        conn = sqlite3.connect(os.path.join(state_dir(dist), "state.db"), timeout=10)
        try:  # what a killed server left: one fire running, one queued behind it
            conn.execute("INSERT INTO schedule_fires (fire_id, schedule, scheduled_ms, trigger, session_id, "
                         "status, fired_ms, owner_pid, owner_start) VALUES "
                         "('fire_dead_run', 'rare', 60000, 'cron', 'sched_dead_1', 'running', 1, ?, 'x'), "
                         "('fire_dead_q', 'rare', 120000, 'cron', 'sched_dead_2', 'queued', 2, ?, 'x')",
                         (dead, dead))
            conn.commit()
        finally:
            conn.close()
        second = start(self, dist)
        second.wait_for("fire fire_dead_run (cron 1970-01-01T00:01:00")
        second.wait_for("schedule rare fired 1970-01-01T00:02:00")
        deadline = time.monotonic() + 30
        while True:
            rows = {r[0]: r[2] for r in fires(dist, "rare")}
            if rows.get(120000) == "done":
                break
            self.assertLess(time.monotonic(), deadline, rows)
            time.sleep(0.1)
        self.assertEqual(rows[60000], "interrupted")
        self.assertIn("Rare.", json.dumps(instance_events(Http(second.port), "trg", "sched_dead_2")))


class RunScheduleTest(HearthTestCase):
    def test_a_run_schedule_runs_its_script_over_the_ctx_protocol_as_the_schedule(self):
        root = write_project(self, name="rs", schedules={
            "digest": "---\ncron: \"0 9 * * 1-5\"\nrun: ./digest.py\n---\n"})
        with open(os.path.join(os.environ.get("HEARTH_SOURCE_DIR", "."), "templates", "helpers",
                               "hearth_workflow.py")) as f:
            self.write("rs/helpers/hearth_workflow.py", f.read())
        self.write("rs/agent/schedules/digest.py", (
            "import os, sys\n"
            "sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'helpers'))\n"
            "from hearth_workflow import workflow\n\n"
            "@workflow\n"
            "def run(ctx):\n"
            "    text = ctx.init(agent='rs').session().prompt('digest of ' + ctx.payload['schedule'])\n"
            "    return {'invoker': ctx.invoker, 'payload': ctx.payload, 'text': str(text)}\n"))
        r = hearth("schedules", "run", "digest", cwd=root)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual((out["scheduleId"], out["status"]), ("digest", "done"), out)
        self.assertTrue(out["runId"].startswith("run_"))
        self.assertEqual((out["result"]["invoker"]["kind"], out["result"]["invoker"]["id"]), ("schedule", "digest"))
        self.assertEqual(out["result"]["payload"]["trigger"], "manual")
        self.assertIn("digest of digest", out["result"]["text"])
        # Exactly one of a prompt body or `run`.
        self.write("rs/agent/schedules/both.md", "---\ncron: \"@daily\"\nrun: ./digest.py\n---\nAnd a body.\n")
        r = hearth("build", cwd=root)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("both a prompt body and", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()

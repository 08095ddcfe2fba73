"""End-to-end tests of `hearth eval` (issue 16 §4, docs/evals.md) on tests/fixtures/projects/evals:
passing, failing and erroring evals against the project served in-process on 127.0.0.1:0 (the
mock provider), Eve's exit codes 0/1/2, --json, JUnit XML, filters, --strict, timeouts, --url."""
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HEARTH_BIN, SOURCE_DIR, HearthTestCase, clean_env, hearth  # noqa: E402

ALL_IDS = ["broken", "crashing", "failing", "greeting", "multi", "scripted", "soft", "structured",
           "workflow/echo"]


class EvalTest(HearthTestCase):
    def setUp(self):
        super().setUp()
        self.project = self.copy_fixture("evals")
        # The executable eval imports the ctx helper the way project scripts do (../helpers).
        shutil.copytree(os.path.join(SOURCE_DIR, "templates", "helpers"),
                        os.path.join(self.project, "helpers"))

    def eval(self, *args, timeout=60):
        return hearth("eval", *args, cwd=self.project, timeout=timeout)

    def test_list_prints_every_eval_without_running_any(self):
        r = self.eval("--list", "--json")
        self.assertExit(r, 0)
        listed = json.loads(r.stdout)
        self.assertEqual([e["id"] for e in listed], ALL_IDS)
        kinds = {e["id"]: e["kind"] for e in listed}
        self.assertEqual((kinds["greeting"], kinds["workflow/echo"], kinds["scripted"]),
                         ("agent", "workflow", "script"))
        self.assertEqual(listed[0]["error"]["type"], "eval_invalid")
        self.assertFalse(os.path.exists(os.path.join(self.project, ".hearth", "state.db")))
        r = self.eval("--list", "--tag", "smoke")
        self.assertExit(r, 0)
        self.assertEqual([line.split()[0] for line in r.stdout.splitlines()], ["greeting", "multi"])

    def test_full_run_json_and_junit_count_passed_failed_and_errored(self):
        junit = os.path.join(self.tmp, "report.xml")
        started = time.monotonic()
        r = self.eval("--json", "--junit", junit)
        self.assertExit(r, 1)
        self.assertLess(time.monotonic() - started, 30)
        doc = json.loads(r.stdout)  # one parseable document, nothing else on stdout
        status = {e["id"]: e["status"] for e in doc["evals"]}
        self.assertEqual(status, {"broken": "errored", "crashing": "errored", "failing": "failed",
                                  "greeting": "passed", "multi": "passed", "scripted": "passed",
                                  "soft": "passed", "structured": "passed",
                                  "workflow/echo": "passed"}, r.stdout)
        self.assertEqual(doc["summary"], {**doc["summary"], "total": 9, "passed": 6, "failed": 1,
                                          "errored": 2, "belowThreshold": 1})
        self.assertFalse(doc["ok"])
        by_id = {e["id"]: e for e in doc["evals"]}
        self.assertEqual(by_id["broken"]["error"]["type"], "eval_invalid")
        self.assertEqual(by_id["crashing"]["error"]["type"], "eval_script_failed")
        self.assertIn("cannot run", by_id["crashing"]["error"]["details"])
        failing = {c["name"]: c for c in by_id["failing"]["checks"]}
        self.assertFalse(failing['contains "oranges"']["passed"])
        self.assertTrue(failing['contains "apples"']["passed"])
        self.assertEqual(by_id["workflow/echo"]["output"]["text"].strip(), "Say banana")
        self.assertEqual(by_id["multi"]["output"]["steps"], 2)
        self.assertEqual(by_id["structured"]["output"]["data"], {"answer": "yes"})
        scripted = {c["name"]: c for c in by_id["scripted"]["checks"]}
        self.assertEqual(set(scripted), {'contains "ping"', "judge answered", "score"})
        self.assertTrue(all(c["passed"] for c in scripted.values()), scripted)
        self.assertTrue(any("agent answered" in line for line in by_id["scripted"]["logs"]))

        root = ET.parse(junit).getroot()  # well-formed XML
        self.assertEqual(root.tag, "testsuites")
        self.assertEqual((root.get("tests"), root.get("failures"), root.get("errors")), ("9", "1", "2"))
        self.assertEqual(suites_count := len(root.findall("testsuite")), 1, suites_count)
        suites = root.findall("testsuite")
        self.assertEqual(len(suites), 1)
        cases = {c.get("name"): c for c in suites[0].findall("testcase")}
        self.assertEqual(sorted(cases), ALL_IDS)
        self.assertEqual(cases["workflow/echo"].get("classname"), "evals.workflow")
        self.assertIsNotNone(cases["failing"].find("failure"))
        self.assertIn("oranges", cases["failing"].find("failure").get("message"))
        self.assertEqual(cases["broken"].find("error").get("type"), "eval_invalid")
        self.assertIsNone(cases["greeting"].find("failure"))
        self.assertIsNone(cases["greeting"].find("error"))
        for case in cases.values():
            float(case.get("time"))

    def test_passing_selection_exits_0_with_a_table(self):
        r = self.eval("greeting", "workflow", "multi")
        self.assertExit(r, 0)
        lines = [line for line in r.stdout.splitlines() if line.strip()]
        self.assertEqual([line.split()[:2] for line in lines[:3]],
                         [["PASS", "greeting"], ["PASS", "multi"], ["PASS", "workflow/echo"]])
        self.assertIn("3 evals: 3 passed, 0 failed, 0 errored", r.stdout)
        self.assertIn("running 3 evals against http://127.0.0.1:", r.stderr)

    def test_soft_thresholds_fail_only_under_strict(self):
        self.assertExit(self.eval("soft"), 0)
        r = self.eval("soft", "--strict", "--json")
        self.assertExit(r, 1)
        self.assertEqual(json.loads(r.stdout)["evals"][0]["status"], "failed")

    def test_configuration_errors_exit_2(self):
        for args, text in [(["nope"], 'No eval matches "nope"'),
                           (["greet"], 'Did you mean "greeting"'),
                           (["--tag", "missing"], "No eval matches the filters"),
                           (["--timeout", "-1"], "Invalid --timeout"),
                           (["--timeout", "abc"], "Invalid --timeout"),
                           (["--max-concurrency", "0"], "Invalid --max-concurrency"),
                           (["--url", "ftp://example.com"], "Invalid --url"),
                           (["--junit", os.path.join(self.tmp, "no", "such", "dir.xml")], "Invalid --junit")]:
            with self.subTest(args=args):
                r = self.eval(*args)
                self.assertExit(r, 2)
                self.assertIn(text, r.stderr)
                self.assertEqual(r.stdout, "")
        shutil.rmtree(os.path.join(self.project, "evals"))
        r = self.eval()
        self.assertExit(r, 2)
        self.assertIn("No evals found", r.stderr)

    def test_timeout_errors_the_eval_and_stops_its_script(self):
        path = os.path.join(self.project, "evals", "sleepy.eval.sh")
        with open(path, "w") as f:
            f.write("sleep 30\n")
        started = time.monotonic()
        r = self.eval("sleepy", "--timeout", "300", "--json")
        self.assertExit(r, 1)
        self.assertLess(time.monotonic() - started, 15)
        result = json.loads(r.stdout)["evals"][0]
        self.assertEqual((result["status"], result["error"]["type"]), ("errored", "eval_timeout"))

    def test_verbose_streams_log_lines_per_eval(self):
        r = self.eval("greeting", "--verbose")
        self.assertExit(r, 0)
        self.assertRegex(r.stdout, r"\[greeting\] session wrun_")
        self.assertIn("[greeting] session.waiting", r.stdout)

    def test_url_drives_a_running_server(self):
        self.assertExit(hearth("build", cwd=self.project), 0)
        proc = subprocess.Popen([HEARTH_BIN, "start", "dist", "--port", "0", "--insecure-no-auth"],
                                cwd=self.project, env=clean_env(), text=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: (proc.kill(), proc.wait(10), proc.stderr.close()))
        deadline, port = time.monotonic() + 30, None
        while port is None and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stderr], [], [], 1)
            if ready:
                m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", proc.stderr.readline())
                port = m and int(m.group(1))
        self.assertIsNotNone(port)
        r = self.eval("greeting", "workflow", "failing", "--url", f"http://127.0.0.1:{port}", "--json")
        self.assertExit(r, 1)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["target"], f"http://127.0.0.1:{port}")
        self.assertEqual({e["id"]: e["status"] for e in doc["evals"]},
                         {"failing": "failed", "greeting": "passed", "workflow/echo": "passed"})

    def test_init_template_evals_passes_its_own_evals(self):
        r = hearth("init", "made", "--template", "evals", cwd=self.tmp)
        self.assertExit(r, 0)
        made = os.path.join(self.tmp, "made")
        self.assertTrue(os.path.isdir(os.path.join(made, "evals")))
        r = hearth("eval", cwd=made)
        self.assertExit(r, 0)
        self.assertRegex(r.stdout, r"\d+ evals: \d+ passed, 0 failed, 0 errored")


if __name__ == "__main__":
    unittest.main()

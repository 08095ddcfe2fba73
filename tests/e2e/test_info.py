"""End-to-end tests of `hearth info`: the weather and hello-world fixtures, one fixture per
diagnostic code (tests/fixtures/projects/diag/), hostile input, incremental compiles and
`hearth __complete`."""
import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
import unittest

from harness import HEARTH_BIN, HearthTestCase, clean_env, hearth


def info_json(test, cwd, *extra):
    result = hearth("info", "--json", *extra, cwd=cwd)
    test.assertExit(result, 0)
    return json.loads(result.stdout)


def findings(report):
    """The diagnostics as a set of (severity, code, path) triples."""
    return {(d["severity"], d["code"], d["path"]) for d in report["diagnostics"]["items"]}


# Every diagnostic fixture and exactly the findings it must produce.
EXPECTED = {
    "no-instructions": {("error", "root-instructions-missing", "agent")},
    "subagent-no-description": {
        ("error", "subagent-description-missing", "agent/subagents/forecaster"),
        ("error", "subagent-description-missing", "agent/subagents/historian/agent.json"),
    },
    "subagent-named-like-tool": {
        ("error", "tool-subagent-collision", "agent/subagents/get_weather"),
        ("error", "tool-subagent-collision", "agent/subagents/bash"),
    },
    "duplicate-names": {
        ("error", "duplicate-name", "agent/tools/billing/refund.json"),
        ("error", "duplicate-name", "agent/skills/greet.md"),
        ("error", "duplicate-name", "workflows/hello.py"),
    },
    "root-only-in-subagent": {
        ("error", "root-only-slot", "agent/subagents/forecaster/schedules"),
        ("error", "root-only-slot", "agent/subagents/forecaster/channels"),
    },
    "sandbox-skills": {("error", "sandbox-skills-conflict", "agent/sandbox/workspace/skills")},
    "colon-names": {
        ("error", "invalid-name", "agents/ops:triage"),
        ("error", "invalid-name", "agent/channels/slack:events.json"),
        ("error", "invalid-name", "agent/skills/bad name!.md"),
    },
    "empty": {("error", "no-agent-or-workflow", ".")},
    "syntax-errors": {
        ("error", "json-syntax", "agent/agent.json"),
        ("error", "yaml-syntax", "workflows/broken.md"),
        ("error", "frontmatter-unterminated", "agent/skills/unterminated.md"),
    },
    "bad-schemas": {
        ("error", "invalid-schema", "agent/tools/lookup.json"),
        ("error", "invalid-schema", "agent/tools/listing.json"),
        ("error", "invalid-schema", "workflows/report.md"),
    },
    "tool-commands": {
        ("error", "tool-command-missing", "agent/tools/no_exe.json"),
        ("error", "tool-command-missing", "agent/tools/missing_cmd.json"),
        ("error", "tool-command-missing", "agent/tools/not_on_path.json"),
        ("error", "tool-command-not-executable", "agent/tools/not_exec.py"),
        ("warning", "executable-without-spec", "agent/tools/stray.sh"),
    },
    "unknown-things": {
        ("error", "unknown-key", "agent/agent.json"),
        ("error", "invalid-field", "agent/agent.json"),
        ("error", "unknown-key", "agent/tools/lookup.json"),
        ("error", "invalid-field", "agent/tools/lookup.json"),
        ("error", "missing-field", "agent/tools/silent.json"),
        ("warning", "unknown-entry", "agent/agent.ts"),
        ("warning", "unknown-entry", "agent/notes.txt"),
        ("error", "unknown-key", "workflows/summarise.md"),
        ("warning", "unknown-entry", "workflows/orphan.json"),
    },
    "bad-cron": {
        ("error", "cron-invalid", "agent/schedules/daily.md"),
        ("error", "cron-invalid", "agent/schedules/billing/sweep.md"),
        ("error", "missing-field", "agent/schedules/nocron.md"),
    },
    "workflow-unknown-agent": {("error", "workflow-agent-unknown", "workflows/ask.md")},
    "shadow-builtin": {("warning", "tool-shadows-builtin", "agent/tools/bash.json")},
}


class WeatherAgent(HearthTestCase):
    def test_info_json_shows_tool_skill_and_ready(self):
        root = self.copy_fixture("weather-agent")
        report = info_json(self, root)
        self.assertEqual(report["status"], "ready")
        self.assertEqual(report["name"], "weather-agent")
        self.assertEqual(report["layout"], "nested")
        self.assertEqual(report["appRoot"], os.path.realpath(root))
        self.assertEqual(report["agentRoot"], os.path.join(os.path.realpath(root), "agent"))
        self.assertEqual(report["model"], "openai/gpt-5.5")
        self.assertEqual(report["instructions"], "agent/instructions.md")
        self.assertEqual(report["tools"], ["read_file", "write_file", "glob", "grep", "bash",
                                           "load_skill", "ask_question", "agent", "get_weather"])
        self.assertEqual(report["skills"], ["get-weather"])
        self.assertEqual(report["toolInputSchemas"]["root"]["get_weather"]["required"], ["city"])
        self.assertEqual(report["diagnostics"], {"errors": 0, "warnings": 0, "items": []})
        self.assertEqual(report["messaging"], {"create": "/eve/v1/session",
                                               "messages": "/eve/v1/session/:sessionId",
                                               "stream": "/eve/v1/session/:sessionId/stream"})
        for key in ("compiledManifest", "discoveryManifest", "diagnostics", "metadata"):
            self.assertTrue(os.path.isfile(report["artifacts"][key]), key)

    def test_compiled_manifest_has_what_the_runtime_needs(self):
        root = self.copy_fixture("weather-agent")
        report = info_json(self, root)
        with open(report["artifacts"]["compiledManifest"]) as f:
            manifest = json.load(f)
        self.assertEqual(manifest["kind"], "hearth-compiled-manifest")
        self.assertEqual(manifest["version"], 1)
        agent = manifest["agents"][0]
        self.assertEqual(agent["kind"], "root")
        self.assertIn("weather-focused assistant", agent["instructions"]["text"])
        tool = [t for t in agent["tools"] if t["name"] == "get_weather"][0]
        self.assertEqual(tool["kind"], "authored")
        self.assertEqual(tool["command"], ["./get_weather.py"])
        self.assertEqual(tool["cwd"], "agent/tools")
        self.assertEqual(tool["approval"], "never")
        skill = agent["skills"][0]
        self.assertEqual(skill["description"],
                         "Use the weather tool before answering forecast or temperature questions.")
        self.assertTrue(skill["body"].startswith("When the user asks about weather"))
        with open(report["artifacts"]["metadata"]) as f:
            meta = json.load(f)
        self.assertEqual(meta["status"], "ready")
        self.assertEqual(len(meta["inputHash"]), 32)

    def test_human_report(self):
        root = self.copy_fixture("weather-agent")
        result = hearth("info", cwd=root)
        self.assertExit(result, 0)
        for text in ("Status              ready", "Layout              nested", "get_weather",
                     "get-weather", "POST /eve/v1/session", "Compiled Manifest"):
            self.assertIn(text, result.stdout)

    def test_repeated_info_reuses_and_edits_recompile(self):
        root = self.copy_fixture("weather-agent")
        first = info_json(self, root)
        self.assertFalse(first["compile"]["reused"])
        second = info_json(self, root)
        self.assertTrue(second["compile"]["reused"])
        self.assertEqual(first["compile"]["inputHash"], second["compile"]["inputHash"])
        path = os.path.join(root, "agent", "instructions.md")
        with open(path, "a") as f:
            f.write("Always answer in Celsius too.\n")
        os.utime(path, ns=(time.time_ns(), time.time_ns() + 1000))
        third = info_json(self, root)
        self.assertFalse(third["compile"]["reused"])
        with open(third["artifacts"]["compiledManifest"]) as f:
            self.assertIn("Celsius", json.load(f)["agents"][0]["instructions"]["text"])

    def test_warm_report_cache_sees_every_change(self):
        """issue 17 §4: a warm `info --json` is served from .hearth/compile/info-cache.json, which
        never outlives what the report depends on: an input replaced with the same size and
        mtime, an environment variable, the compiled manifest edited by hand."""
        root = self.copy_fixture("weather-agent")
        info_json(self, root)
        second = info_json(self, root)  # reused: writes the cache
        cache = os.path.join(root, ".hearth", "compile", "info-cache.json")
        self.assertTrue(os.path.isfile(cache))
        third = info_json(self, root)  # served from it, byte for byte the same report
        self.assertEqual(third, second)
        # A skill replaced by a file of the same size and mtime (an editor's write-and-rename).
        skill = os.path.join(root, "agent", "skills", "get-weather.md")
        before = os.stat(skill)
        with open(skill) as f:
            text = f.read()
        self.assertIn("forecast", text)
        with open(skill + ".new", "w") as f:
            f.write(text.replace("forecast", "FORECAST"))
        os.utime(skill + ".new", ns=(before.st_atime_ns, before.st_mtime_ns))
        os.replace(skill + ".new", skill)
        fourth = info_json(self, root)
        self.assertFalse(fourth["compile"]["reused"])
        with open(fourth["artifacts"]["compiledManifest"]) as f:
            self.assertIn("FORECAST", json.load(f)["agents"][0]["skills"][0]["description"])
        info_json(self, root)  # cached again
        # The shell now defines a variable an env file names: envKeys says "shell".
        with open(os.path.join(root, ".env"), "w") as f:
            f.write("WEATHER_TOKEN=from-file\n")
        keys = info_json(self, root)["envKeys"]
        self.assertEqual(keys.get("WEATHER_TOKEN"), ".env")
        info_json(self, root)
        result = hearth("info", "--json", cwd=root, env=clean_env(WEATHER_TOKEN="other"))
        self.assertExit(result, 0)
        self.assertEqual(json.loads(result.stdout)["envKeys"]["WEATHER_TOKEN"], "shell")

    def test_warm_report_cache_belongs_to_the_binary_that_wrote_it(self):
        """A rebuilt or upgraded hearth (another file at /proc/self/exe, same version) never
        prints the report another binary cached: its format may differ."""
        root = self.copy_fixture("weather-agent")
        info_json(self, root)
        info_json(self, root)  # reused: writes the cache
        cache = os.path.join(root, ".hearth", "compile", "info-cache.json")
        with open(cache) as f:
            key, window, report = f.read().split("\n", 2)
        marked = json.loads(report)
        marked["cachedBy"] = "the first binary"
        with open(cache, "w") as f:
            f.write(key + "\n" + window + "\n" + json.dumps(marked, indent=2) + "\n")
        self.assertEqual(info_json(self, root).get("cachedBy"), "the first binary")  # a hit
        other = os.path.join(tempfile.mkdtemp(dir=self.tmp), "hearth")
        shutil.copy2(shutil.which(HEARTH_BIN) or HEARTH_BIN, other)  # same bytes and mtime
        result = subprocess.run([other, "info", "--json"], cwd=root, env=clean_env(),
                                capture_output=True, text=True, timeout=60)
        self.assertExit(result, 0)
        fresh = json.loads(result.stdout)
        self.assertNotIn("cachedBy", fresh)
        self.assertEqual(fresh["compile"], marked["compile"])

    def test_chmod_changes_the_hash(self):
        root = self.copy_fixture("weather-agent")
        info_json(self, root)
        os.chmod(os.path.join(root, "agent", "tools", "get_weather.py"), 0o644)
        report = info_json(self, root)
        self.assertEqual(report["status"], "failed")
        self.assertEqual(findings(report),
                         {("error", "tool-command-not-executable", "agent/tools/get_weather.py")})

    def test_complete_lists_agents_and_workflows(self):
        root = self.copy_fixture("hello-world")
        result = hearth("__complete", "workflows", cwd=root)
        self.assertExit(result, 0)
        self.assertEqual(result.stdout.split(), ["hello", "triage", "with-subagent"])
        result = hearth("__complete", "agents", cwd=root)
        self.assertEqual(result.stdout.split(), ["assistant", "delegator"])

    def test_unavailable_when_artifacts_cannot_be_written(self):
        root = self.copy_fixture("weather-agent")
        with open(os.path.join(root, ".hearth"), "w") as f:
            f.write("a file where the artifact directory should be\n")
        result = hearth("info", "--json", cwd=root)
        self.assertExit(result, 1)
        report = json.loads(result.stdout)
        self.assertEqual(report["status"], "unavailable")
        self.assertEqual(report["error"]["type"], "io_error")
        self.assertIn("Error:", result.stderr)

    def test_complete_outside_a_project_prints_nothing(self):
        result = hearth("__complete", "workflows", cwd=self.tmp)
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, "")


class HelloWorld(HearthTestCase):
    def test_workflows_agents_and_routes(self):
        root = self.copy_fixture("hello-world")
        report = info_json(self, root)
        self.assertEqual(report["status"], "ready", report["diagnostics"])
        self.assertEqual(report["layout"], "none")
        self.assertIsNone(report["agentRoot"])
        self.assertEqual([a["path"] for a in report["agents"]],
                         ["assistant", "delegator", "delegator/researcher"])
        workflows = {w["name"]: w for w in report["workflows"]}
        self.assertEqual(workflows["hello"]["kind"], "declarative")
        self.assertEqual(workflows["hello"]["agent"], "assistant")
        self.assertTrue(workflows["hello"]["http"])
        self.assertEqual(workflows["with-subagent"]["agent"], "delegator")
        self.assertEqual(workflows["triage"]["kind"], "program")
        self.assertEqual(workflows["triage"]["interpreter"], "python3")
        self.assertFalse(workflows["triage"]["http"])
        routes = {(r["method"], r["path"]) for r in report["routes"]}
        self.assertLessEqual({("POST", "/workflows/hello"), ("POST", "/workflows/with-subagent"),
                              ("GET", "/runs/:runId"), ("POST", "/agents/assistant/:id"),
                              ("GET", "/agents/assistant/:id")}, routes)
        self.assertNotIn(("POST", "/workflows/triage"), routes)
        self.assertNotIn(("POST", "/agents/delegator/:id"), routes)
        self.assertIsNone(report["messaging"])
        delegator = [a for a in report["agents"] if a["name"] == "delegator"][0]
        self.assertIn("researcher", delegator["tools"])
        schema = report["toolInputSchemas"]["agents"]["delegator"]["researcher"]
        self.assertEqual(schema["required"], ["message"])

    def test_declarative_workflow_in_manifest(self):
        root = self.copy_fixture("hello-world")
        report = info_json(self, root)
        with open(report["artifacts"]["compiledManifest"]) as f:
            manifest = json.load(f)
        hello = [w for w in manifest["workflows"] if w["name"] == "hello"][0]
        self.assertEqual(hello["result"]["properties"]["answer"], {"type": "number"})
        self.assertEqual(hello["body"].strip(), "What is 2 + 2? Return only the number.")
        subagent = [w for w in manifest["workflows"] if w["name"] == "with-subagent"][0]
        self.assertEqual(subagent["maxSteps"], 12)
        self.assertIn("{{payload.topic}}", subagent["body"])
        triage = [w for w in manifest["workflows"] if w["name"] == "triage"][0]
        self.assertEqual(triage["timeoutMs"], 30000)
        self.assertEqual(triage["sidecar"], "workflows/triage.json")


class Diagnostics(HearthTestCase):
    def test_each_fixture_reports_exactly_its_codes(self):
        diag_dir = os.path.join(os.path.dirname(__file__), "..", "fixtures", "projects", "diag")
        self.assertEqual(sorted(os.listdir(diag_dir)), sorted(EXPECTED))
        for name, expected in EXPECTED.items():
            with self.subTest(fixture=name):
                root = self.copy_fixture(os.path.join("diag", name))
                report = info_json(self, root)
                self.assertEqual(findings(report), expected)
                errors = sum(1 for d in expected if d[0] == "error")
                self.assertEqual(report["status"], "failed" if errors else "ready")
                self.assertEqual(report["diagnostics"]["errors"], errors)
                for item in report["diagnostics"]["items"]:
                    self.assertTrue(item["message"] and item["hint"], item)

    def test_syntax_errors_carry_line_and_column(self):
        root = self.copy_fixture(os.path.join("diag", "syntax-errors"))
        items = {d["code"]: d for d in info_json(self, root)["diagnostics"]["items"]}
        self.assertEqual((items["json-syntax"]["line"], items["json-syntax"]["column"]), (4, 1))
        self.assertEqual(items["yaml-syntax"]["line"], 3)
        self.assertEqual(items["frontmatter-unterminated"]["line"], 1)

    def test_strict_exits_one_on_errors(self):
        root = self.copy_fixture(os.path.join("diag", "no-instructions"))
        self.assertExit(hearth("info", "--strict", cwd=root), 1)
        self.assertExit(hearth("info", cwd=root), 0)
        self.assertExit(hearth("info", "--strict", cwd=self.copy_fixture("weather-agent")), 0)

    def test_artifacts_written_on_failure(self):
        root = self.copy_fixture(os.path.join("diag", "no-instructions"))
        report = info_json(self, root)
        with open(report["artifacts"]["diagnostics"]) as f:
            written = json.load(f)
        self.assertEqual(written["kind"], "hearth-compiler-diagnostics")
        self.assertEqual(written["summary"], {"errors": 1, "warnings": 0})
        with open(report["artifacts"]["compiledManifest"]) as f:
            self.assertEqual(json.load(f)["status"], "failed")

    def test_human_report_lists_diagnostics(self):
        root = self.copy_fixture(os.path.join("diag", "no-instructions"))
        result = hearth("info", cwd=root)
        self.assertIn("Status              failed", result.stdout)
        self.assertIn("error[root-instructions-missing] agent: Expected authored instructions", result.stdout)
        self.assertIn("hint: Create agent/instructions.md", result.stdout)


class Hostile(HearthTestCase):
    def project(self):
        self.write("hearth.json", '{"name": "hostile"}')
        self.write("agent/instructions.md", "Be careful.\n")
        return self.tmp

    def report(self):
        result = hearth("info", "--json", cwd=self.tmp, timeout=30)
        self.assertExit(result, 0)
        return json.loads(result.stdout)

    def test_binary_files_in_slots(self):
        self.project()
        with open(os.path.join(self.tmp, "agent", "agent.json"), "wb") as f:
            f.write(bytes(range(256)) * 4)
        os.makedirs(os.path.join(self.tmp, "agent", "skills"))
        with open(os.path.join(self.tmp, "agent", "skills", "blob.md"), "wb") as f:
            f.write(b"\x00\xff\xfe binary \x89PNG")
        os.makedirs(os.path.join(self.tmp, "workflows"))
        with open(os.path.join(self.tmp, "workflows", "w.md"), "wb") as f:
            f.write(b"---\ndescription: \xff\xfe\n---\nbody")
        codes = {(d["code"], d["path"]) for d in self.report()["diagnostics"]["items"]}
        self.assertIn(("json-syntax", "agent/agent.json"), codes)
        self.assertIn(("invalid-utf8", "agent/skills/blob.md"), codes)
        self.assertIn(("invalid-utf8", "workflows/w.md"), codes)

    def test_large_json_file(self):
        self.project()
        big = '{"description": "' + "x" * (10 * 1024 * 1024) + '"}'
        self.write("agent/tools/huge.json", big)
        start = time.monotonic()
        report = self.report()
        self.assertLess(time.monotonic() - start, 10)
        self.assertIn(("error", "file-too-large", "agent/tools/huge.json"), findings(report))

    def test_deep_nesting(self):
        self.project()
        self.write("agent/agent.json", "[" * 100000 + "]" * 100000)
        self.write("agent/tools/deep.json", '{"a": ' * 300 + "1" + "}" * 300)
        self.write("workflows/deep.md", "---\nresult: " + "[" * 5000 + "]" * 5000 + "\n---\nx\n")
        self.write("workflows/laughs.md", "---\n" + "".join(
            f"l{i}: &l{i} [" + ",".join([f"*l{i-1}"] * 9 if i else ["lol"] * 9) + "]\n" for i in range(10))
            + "---\nx\n")
        found = findings(self.report())
        self.assertIn(("error", "json-too-deep", "agent/agent.json"), found)
        self.assertIn(("error", "json-too-deep", "agent/tools/deep.json"), found)
        self.assertIn(("error", "yaml-syntax", "workflows/deep.md"), found)
        self.assertIn(("error", "yaml-syntax", "workflows/laughs.md"), found)

    def test_symlink_loops_and_dangling_links(self):
        self.project()
        os.makedirs(os.path.join(self.tmp, "agent", "tools", "sub"))
        os.symlink("..", os.path.join(self.tmp, "agent", "tools", "sub", "up"))
        os.symlink("self", os.path.join(self.tmp, "agent", "tools", "self"))
        os.symlink("nowhere.json", os.path.join(self.tmp, "agent", "tools", "dangling.json"))
        found = {(d["code"], d["path"]) for d in self.report()["diagnostics"]["items"]}
        self.assertIn(("symlink-loop", "agent/tools/sub/up"), found)
        self.assertIn(("symlink-loop", "agent/tools/self"), found)
        self.assertIn(("broken-symlink", "agent/tools/dangling.json"), found)

    def test_unreadable_file(self):
        if os.geteuid() == 0:
            self.skipTest("running as root: chmod 000 does not stop root from reading")
        self.project()
        path = self.write("agent/agent.json", '{"model": "openai/gpt-5.5"}')
        os.chmod(path, 0)
        self.assertIn(("error", "file-unreadable", "agent/agent.json"), findings(self.report()))

    def test_directories_nested_too_deep(self):
        self.project()
        deep = os.path.join(self.tmp, "agent", "tools", *(["d"] * 40))
        os.makedirs(deep)
        self.write(os.path.join(deep, "t.json"), "{}")
        self.assertIn(("error", "path-too-deep", "agent/tools/" + "/".join(["d"] * 33)),
                      findings(self.report()))

    def test_fifo_in_slot_is_skipped(self):
        self.project()
        os.makedirs(os.path.join(self.tmp, "agent", "skills"))
        os.mkfifo(os.path.join(self.tmp, "agent", "skills", "pipe.md"))
        self.assertEqual(self.report()["status"], "ready")


class FlatAndSourceRoot(HearthTestCase):
    def test_flat_layout(self):
        self.write("hearth.json", '{"name": "flat"}')
        self.write("instructions.md", "Flat agent.\n")
        self.write("skills/hello.md", "Say hello nicely.\n")
        self.write("README.md", "not a slot, not reported in flat layout\n")
        report = info_json(self, self.tmp)
        self.assertEqual(report["layout"], "flat")
        self.assertEqual(report["status"], "ready", report["diagnostics"])
        self.assertEqual(report["skills"], ["hello"])
        self.assertEqual(report["agentRoot"], os.path.realpath(self.tmp))

    def test_src_root(self):
        self.write("hearth.json", '{"name": "srcy"}')
        self.write("src/agent/instructions.md", "In src.\n")
        self.write("src/workflows/go.md", "Go {{payload.where}}.\n")
        report = info_json(self, self.tmp)
        self.assertEqual(report["agentRoot"], os.path.join(os.path.realpath(self.tmp), "src", "agent"))
        self.assertEqual(report["workflows"][0]["agent"], "srcy")

    def test_flue_source_root_wins_over_src(self):
        # Flue 0.11's resolveSourceRoot: .flue/, else src/, else the root (seed 003, page 05).
        self.write("hearth.json", '{"name": "fluey"}')
        self.write(".flue/workflows/go.md", "Go.\n")
        self.write(".flue/agent/instructions.md", "In .flue.\n")
        self.write("src/workflows/ignored.md", "Not here.\n")
        report = info_json(self, self.tmp)
        self.assertEqual(report["agentRoot"], os.path.join(os.path.realpath(self.tmp), ".flue", "agent"))
        self.assertEqual([w["name"] for w in report["workflows"]], ["go"])

    def test_instructions_file_and_directory_combine(self):
        # Seed 003 (Eve instructions): instructions.md first, then instructions/ entries by name.
        self.write("agent/instructions.md", "You are a test agent.\n")
        self.write("agent/instructions/10-tone.md", "Be terse.\n")
        self.write("agent/instructions/05-language.md", "Always answer in English.\n")
        report = info_json(self, self.tmp)
        self.assertEqual(report["status"], "ready", report["diagnostics"])
        with open(report["artifacts"]["compiledManifest"]) as f:
            instructions = json.load(f)["agents"][0]["instructions"]
        self.assertEqual(instructions["text"],
                         "You are a test agent.\n\nAlways answer in English.\n\nBe terse.\n")
        self.assertEqual(instructions["files"], ["agent/instructions.md", "agent/instructions/05-language.md",
                                                 "agent/instructions/10-tone.md"])

    def test_outside_a_project_exits_1_and_writes_nothing(self):
        # As `eve info` outside an agent project: exit 1, one error, no .hearth/ left behind.
        for extra in ((), ("--json",)):
            result = hearth("info", *extra, cwd=self.tmp)
            self.assertExit(result, 1)
            self.assertIn("No hearth project in", result.stderr)
            self.assertIn("hearth init", result.stderr)
            self.assertEqual(result.stdout, "")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, ".hearth")))

    def test_skill_frontmatter_problems_are_warnings(self):
        self.write("agent/instructions.md", "x\n")
        self.write("agent/skills/odd.md", "---\ndescription: Odd.\nvibe: chill\n---\nBody.\n")
        self.write("agent/skills/blank.md", "---\nname: blank\n---\n")
        self.write("tools/stray.json", "{}")
        report = info_json(self, self.tmp)
        self.assertEqual(report["status"], "ready")
        self.assertEqual(findings(report), {("warning", "unknown-key", "agent/skills/odd.md"),
                                            ("warning", "missing-field", "agent/skills/blank.md"),
                                            ("warning", "unknown-entry", "tools")})

    def test_directory_name_with_colon(self):
        root = os.path.join(self.tmp, "we:ird")
        os.makedirs(os.path.join(root, "agent"))
        with open(os.path.join(root, "agent", "instructions.md"), "w") as f:
            f.write("x\n")
        self.assertIn(("error", "invalid-name", "."), findings(info_json(self, root)))


if __name__ == "__main__":
    unittest.main()

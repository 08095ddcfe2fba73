"""End-to-end tests of `hearth build`: the deployable directory, reading it back with the copied
binary, atomic replacement, and the diagnostics report when discovery fails."""
import json
import os
import stat
import subprocess
import unittest

from harness import HearthTestCase, clean_env, hearth


def tree(root, skip=()):
    """Relative paths of every file under root, skipping top-level names in `skip`."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel == "." :
            dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            out.add(os.path.normpath(os.path.join(rel, name)))
    return out


class Build(HearthTestCase):
    def test_weather_build_is_self_contained_and_reads_back(self):
        root = self.copy_fixture("weather-agent")
        before = tree(root)
        result = hearth("build", cwd=root)
        self.assertExit(result, 0)
        self.assertIn("built output at dist", result.stderr)
        self.assertEqual(result.stdout, "")
        self.assertEqual(tree(root, skip=(".hearth", "dist")), before)  # nothing else written

        dist = os.path.join(root, "dist")
        for rel in ("agent/instructions.md", "agent/agent.json", "agent/tools/get_weather.json",
                    "agent/tools/get_weather.py", "agent/skills/get-weather.md", "hearth.json",
                    "Dockerfile", "README.md", "bin/hearth",
                    ".hearth/compile/compiled-agent-manifest.json",
                    ".hearth/compile/compile-metadata.json",
                    ".hearth/discovery/diagnostics.json",
                    ".hearth/discovery/agent-discovery-manifest.json"):
            self.assertTrue(os.path.isfile(os.path.join(dist, rel)), rel)
        for rel in ("bin/hearth", "agent/tools/get_weather.py"):
            self.assertTrue(os.stat(os.path.join(dist, rel)).st_mode & stat.S_IXUSR, rel)
        with open(os.path.join(dist, "Dockerfile")) as f:
            dockerfile = f.read()
        self.assertIn("FROM debian:12-slim", dockerfile)
        self.assertIn("python3", dockerfile)
        self.assertIn('CMD ["/app/bin/hearth", "start", "/app", "--host", "0.0.0.0", "--port", "3000"]',
                      dockerfile)
        with open(os.path.join(dist, "hearth.json")) as f:
            self.assertEqual(json.load(f)["name"], "weather-agent")

        # The copied binary reads the output back, from anywhere, without recompiling.
        binary = os.path.join(dist, "bin", "hearth")
        for args, cwd in ((["--root", dist], self.tmp), ([], dist)):
            out = subprocess.run([binary, "info", "--json", *args], cwd=cwd, env=clean_env(),
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            report = json.loads(out.stdout)
            self.assertEqual(report["status"], "ready")
            self.assertEqual(report["name"], "weather-agent")
            self.assertIn("get_weather", report["tools"])
            self.assertEqual(report["skills"], ["get-weather"])
            self.assertTrue(report["compile"]["reused"])

        # The copied tool still runs.
        tool = subprocess.run([os.path.join(dist, "agent", "tools", "get_weather.py")],
                              input='{"city": "Paris"}', capture_output=True, text=True, timeout=30)
        self.assertEqual(json.loads(tool.stdout)["temperatureF"], 72)

    def test_rebuild_replaces_previous_output(self):
        root = self.copy_fixture("weather-agent")
        self.assertExit(hearth("build", cwd=root), 0)
        stale = os.path.join(root, "dist", "agent", "skills", "stale.md")
        with open(stale, "w") as f:
            f.write("left over\n")
        os.remove(os.path.join(root, "agent", "skills", "get-weather.md"))
        self.assertExit(hearth("build", cwd=root), 0)
        self.assertFalse(os.path.exists(stale))
        self.assertFalse(os.path.exists(os.path.join(root, "dist", "agent", "skills", "get-weather.md")))
        self.assertEqual([n for n in os.listdir(root) if "tmp" in n], [])

    def test_output_flag(self):
        root = self.copy_fixture("hello-world")
        out = os.path.join(self.tmp, "deploy")
        result = hearth("build", "--output", out, cwd=root)
        self.assertExit(result, 0)
        self.assertTrue(os.path.isfile(os.path.join(out, "workflows", "hello.md")))
        self.assertTrue(os.stat(os.path.join(out, "workflows", "triage.py")).st_mode & stat.S_IXUSR)
        report = json.loads(hearth("info", "--json", "--root", out, cwd=self.tmp).stdout)
        self.assertEqual([w["name"] for w in report["workflows"]], ["hello", "triage", "with-subagent"])
        self.assertEqual(report["name"], "hello-world")

    def test_refuses_unsafe_outputs(self):
        root = self.copy_fixture("weather-agent")
        self.write("precious/data.txt", "keep me\n")
        for output, needle in ((os.path.join(self.tmp, "precious"), "not a hearth build output"),
                               (self.tmp, "contains the project"),
                               ("agent/out", "inside the project's sources")):
            with self.subTest(output=output):
                result = hearth("build", "--output", output, cwd=root)
                self.assertExit(result, 1)
                self.assertIn(needle, result.stderr)
        with open(os.path.join(self.tmp, "precious", "data.txt")) as f:
            self.assertEqual(f.read(), "keep me\n")

    def test_errors_block_the_build(self):
        root = self.copy_fixture(os.path.join("diag", "no-instructions"))
        result = hearth("build", cwd=root)
        self.assertExit(result, 1)
        self.assertIn("Discovery failed with 1 error(s) and 0 warning(s).", result.stderr)
        self.assertIn("error[root-instructions-missing] agent: Expected authored instructions", result.stderr)
        self.assertIn("hint: Create agent/instructions.md", result.stderr)
        self.assertIn("Diagnostics written to .hearth/discovery/diagnostics.json", result.stderr)
        self.assertFalse(os.path.exists(os.path.join(root, "dist")))
        self.assertTrue(os.path.isfile(os.path.join(root, ".hearth", "discovery", "diagnostics.json")))

    def test_syntax_error_report_has_line(self):
        root = self.copy_fixture(os.path.join("diag", "syntax-errors"))
        result = hearth("build", cwd=root)
        self.assertExit(result, 1)
        self.assertIn("error[json-syntax] agent/agent.json:4:1:", result.stderr)


if __name__ == "__main__":
    unittest.main()

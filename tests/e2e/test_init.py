"""`hearth init`: the scaffolded file set, conflicts, --force, existing projects, git, templates."""
import json
import os
import shutil
import stat
import subprocess
import unittest

from harness import HEARTH_BIN, HearthTestCase, clean_env, hearth

EXPECTED_FILES = sorted([
    ".env.example", ".gitignore", "README.md", "hearth.json",
    "agent/agent.json", "agent/instructions.md", "agent/mock.jsonl",
    "agent/skills/get-weather.md", "agent/tools/get_weather.json", "agent/tools/get_weather.py",
    "workflows/hello.md",
])


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def read_json(path):
    return json.loads(read(path))


def files_under(root):
    """Every file below `root`, project-relative, ignoring .git/."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        out += [os.path.relpath(os.path.join(dirpath, f), root) for f in filenames]
    return sorted(out)


def snapshot(root):
    """{relative path: (bytes, mode)} for every file below `root`."""
    snap = {}
    for rel in files_under(root):
        path = os.path.join(root, rel)
        with open(path, "rb") as f:
            snap[rel] = (f.read(), os.stat(path).st_mode)
    return snap


def frontmatter(path):
    """The YAML frontmatter block of a Markdown file, as raw text."""
    text = read(path)
    assert text.startswith("---\n"), text
    return text[4:text.index("\n---\n", 4)]


class InitTest(HearthTestCase):
    def setUp(self):
        super().setUp()
        # Keep git from seeing the source tree's repository above the temp dirs.
        self.env = clean_env(GIT_CEILING_DIRECTORIES=self.tmp)

    def init(self, *args, cwd=None):
        return hearth("init", *args, cwd=cwd or self.tmp, env=self.env)

    def test_new_directory_gets_the_exact_file_set(self):
        r = self.init("demo", "--no-git")
        self.assertExit(r, 0)
        self.assertEqual(r.stdout, "")
        demo = os.path.join(self.tmp, "demo")
        self.assertEqual(files_under(demo), EXPECTED_FILES)
        for rel in EXPECTED_FILES:
            self.assertIn(rel, r.stderr)
        self.assertIn("cd demo", r.stderr)
        self.assertIn("hearth dev", r.stderr)
        self.assertIn("hearth run hello", r.stderr)

    def test_config_files_match_the_slots(self):
        self.assertExit(self.init("demo", "--no-git"), 0)
        demo = os.path.join(self.tmp, "demo")
        load = lambda rel: read_json(os.path.join(demo, rel))
        self.assertEqual(load("hearth.json"), {
            "$schema": "https://hearth.dev/schema/hearth.schema.json",
            "name": "demo", "model": "mock/script"})
        agent = load("agent/agent.json")
        self.assertEqual(agent["model"], "mock/script")
        self.assertLessEqual(set(agent), {"model", "description", "modelOptions", "maxSteps",
                                          "outputSchema", "compaction", "http"})
        tool = load("agent/tools/get_weather.json")
        self.assertLessEqual(set(tool), {"description", "inputSchema", "command", "approval",
                                         "timeoutMs"})
        self.assertEqual(tool["inputSchema"]["required"], ["city"])
        self.assertIs(tool["inputSchema"]["additionalProperties"], False)
        with open(os.path.join(demo, "agent/mock.jsonl"), encoding="utf-8") as f:
            steps = [json.loads(line) for line in f if line.strip()]
        self.assertEqual(steps[0], {"toolCalls": [{"name": "load_skill",
                                                   "input": {"name": "get-weather"}}]})
        self.assertTrue(any("result" in s and "greeting" in s["result"] for s in steps))
        keys = [line.split(":")[0] for line in frontmatter(os.path.join(demo, "workflows/hello.md"))
                .splitlines() if line and not line[0].isspace()]
        self.assertLessEqual(set(keys), {"description", "agent", "model", "result", "http",
                                         "maxSteps"})
        self.assertIn("required: [greeting]", frontmatter(os.path.join(demo, "workflows/hello.md")))
        self.assertIn("description:", frontmatter(os.path.join(demo, "agent/skills/get-weather.md")))
        self.assertEqual(read(os.path.join(demo, ".gitignore")).split(),
                         [".hearth/", "dist/", ".env*", "!.env.example"])

    def test_tool_script_is_executable_and_answers_json(self):
        self.assertExit(self.init("demo", "--no-git"), 0)
        script = os.path.join(self.tmp, "demo", "agent", "tools", "get_weather.py")
        self.assertTrue(os.stat(script).st_mode & stat.S_IXUSR)
        self.assertFalse(os.stat(os.path.join(self.tmp, "demo", "hearth.json")).st_mode & stat.S_IXUSR)
        r = subprocess.run([script], input='{"city":"Paris"}', capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {
            "city": "Paris", "temperatureF": 72, "condition": "Sunny",
            "summary": "Sunny in Paris with a light breeze."})

    def test_reinit_lists_conflicts_and_writes_nothing(self):
        self.assertExit(self.init("demo", "--no-git"), 0)
        demo = os.path.join(self.tmp, "demo")
        with open(os.path.join(demo, "hearth.json"), "w") as f:
            f.write('{"name": "mine"}\n')
        os.remove(os.path.join(demo, "README.md"))
        before = snapshot(demo)
        r = self.init(".", cwd=demo)
        self.assertExit(r, 1)
        self.assertEqual(r.stdout, "")
        self.assertTrue(r.stderr.startswith("Error: hearth init would overwrite 10 existing files"),
                        r.stderr)
        self.assertIn("\n  agent/agent.json\n", r.stderr)
        self.assertIn("\n  hearth.json\n", r.stderr)
        self.assertNotIn("README.md", r.stderr)
        self.assertIn("--force", r.stderr)
        self.assertEqual(snapshot(demo), before)

    def test_force_rewrites_existing_files(self):
        self.assertExit(self.init("demo", "--no-git"), 0)
        demo = os.path.join(self.tmp, "demo")
        with open(os.path.join(demo, "hearth.json"), "w") as f:
            f.write("{}\n")
        r = self.init(".", "--force", cwd=demo)
        self.assertExit(r, 0)
        self.assertIn("overwrite hearth.json", " ".join(r.stderr.split()))
        self.assertEqual(read_json(os.path.join(demo, "hearth.json"))["name"], "demo")

    def test_non_empty_cwd_that_is_no_project_is_refused(self):
        work = os.path.join(self.tmp, "work")
        self.write("work/notes.txt", "hello\n")
        for args in ((), (".",)):
            with self.subTest(args=args):
                r = self.init(*args, cwd=work)
                self.assertExit(r, 1)
                self.assertTrue(r.stderr.startswith("Error: Directory . is not empty"), r.stderr)
                self.assertEqual(files_under(work), ["notes.txt"])

    def test_empty_cwd_with_only_dotfiles_is_scaffolded(self):
        work = os.path.join(self.tmp, "my_Agent")
        self.write("my_Agent/.editorconfig", "root = true\n")
        r = self.init(cwd=work)
        self.assertExit(r, 0)
        self.assertNotIn("cd ", r.stderr)
        self.assertEqual(files_under(work), sorted(EXPECTED_FILES + [".editorconfig"]))
        self.assertEqual(read_json(os.path.join(work, "hearth.json"))["name"], "my_agent")

    def test_existing_project_without_agent_gets_only_missing_files(self):
        proj = os.path.join(self.tmp, "proj")
        self.write("proj/hearth.json", '{"name": "kept"}\n')
        self.write("proj/workflows/hello.md", "---\ndescription: mine\n---\nHi\n")
        self.write("proj/workflows/other.md", "Other\n")
        r = self.init("proj")
        self.assertExit(r, 0)
        self.assertEqual(read(os.path.join(proj, "hearth.json")), '{"name": "kept"}\n')
        self.assertEqual(read(os.path.join(proj, "workflows/hello.md")),
                         "---\ndescription: mine\n---\nHi\n")
        self.assertEqual(files_under(proj), sorted(EXPECTED_FILES + ["workflows/other.md"]))
        self.assertFalse(os.path.exists(os.path.join(proj, ".git")), "no git init for existing projects")

    def test_git_init_for_fresh_scaffolds_unless_no_git(self):
        if shutil.which("git") is None:
            self.skipTest("git is not on PATH")
        self.assertExit(self.init("with-git"), 0)
        self.assertTrue(os.path.isdir(os.path.join(self.tmp, "with-git", ".git")))
        self.assertExit(self.init("without-git", "--no-git"), 0)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "without-git", ".git")))

    def test_existing_repository_is_left_alone(self):
        if shutil.which("git") is None:
            self.skipTest("git is not on PATH")
        repo = os.path.join(self.tmp, "repo")
        subprocess.run(["git", "init", "-q", repo], check=True, env=self.env)
        head = read(os.path.join(repo, ".git", "HEAD"))
        r = self.init("sub", cwd=repo)
        self.assertExit(r, 0)
        self.assertFalse(os.path.exists(os.path.join(repo, "sub", ".git")))
        self.assertEqual(read(os.path.join(repo, ".git", "HEAD")), head)
        self.assertNotIn("Initialized a git repository", r.stderr)

    def test_list_templates_prints_names_on_stdout(self):
        r = self.init("--list-templates")
        self.assertExit(r, 0)
        self.assertRegex(r.stdout, r"(?m)^default\s+\S.*$")
        self.assertEqual(os.listdir(self.tmp), [])

    def test_unknown_template_is_refused(self):
        r = self.init("demo", "--template", "nope")
        self.assertExit(r, 1)
        self.assertTrue(r.stderr.startswith('Error: Template "nope" does not exist.'), r.stderr)
        self.assertIn('"default"', r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "demo")))

    def test_name_flag_sets_the_agent_id(self):
        self.assertExit(self.init("demo", "--name", "weather-bot", "--no-git"), 0)
        demo = os.path.join(self.tmp, "demo")
        self.assertEqual(read_json(os.path.join(demo, "hearth.json"))["name"], "weather-bot")
        self.assertIn("# weather-bot", read(os.path.join(demo, "README.md")))

    def test_invalid_name_flag_is_refused(self):
        r = self.init("demo", "--name", "a/b")
        self.assertExit(r, 1)
        self.assertIn("--name", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "demo")))

    def test_directory_name_is_sanitized_into_the_id(self):
        self.assertExit(self.init("My Weather Agent!", "--no-git"), 0)
        hearth_json = os.path.join(self.tmp, "My Weather Agent!", "hearth.json")
        self.assertEqual(read_json(hearth_json)["name"], "my-weather-agent")

    def test_a_file_in_the_way_is_an_error(self):
        self.write("taken", "x")
        r = self.init("taken")
        self.assertExit(r, 1)
        self.assertTrue(r.stderr.startswith("Error: "), r.stderr)

    def test_binary_copied_elsewhere_still_scaffolds(self):
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir)
        copy = os.path.join(bindir, "hearth")
        shutil.copy2(HEARTH_BIN, copy)
        r = subprocess.run([copy, "init", "demo", "--no-git"], cwd=self.tmp, env=self.env,
                           capture_output=True, text=True, timeout=60)
        self.assertExit(r, 0)
        self.assertEqual(files_under(os.path.join(self.tmp, "demo")), EXPECTED_FILES)


if __name__ == "__main__":
    unittest.main()

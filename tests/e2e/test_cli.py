"""The command-line shell: help, version, unknown commands, exit codes, streams, colour."""
import re
import unittest

from harness import HearthTestCase, clean_env, hearth


class CliTest(HearthTestCase):
    def test_help_flags_print_usage_on_stdout_and_exit_0(self):
        for args in (["--help"], ["-h"], ["help"]):
            with self.subTest(args=args):
                r = hearth(*args)
                self.assertExit(r, 0)
                self.assertIn("Usage: hearth", r.stdout)
                self.assertIn("completion", r.stdout)
                self.assertEqual(r.stderr, "")

    def test_version_prints_semver(self):
        for flag in ("--version", "-v"):
            r = hearth(flag)
            self.assertExit(r, 0)
            self.assertRegex(r.stdout, r"^hearth \d+\.\d+\.\d+(-[0-9A-Za-z.]+)?\n$")

    def test_help_for_each_command(self):
        commands = re.findall(r"^  (\w[\w-]*)\s", hearth("--help").stdout, re.M)
        self.assertIn("completion", commands)
        for cmd in commands:
            with self.subTest(cmd=cmd):
                a = hearth("help", cmd)
                b = hearth(cmd, "--help")
                self.assertExit(a, 0)
                self.assertExit(b, 0)
                self.assertIn(cmd, a.stdout)
                self.assertEqual(a.stdout, b.stdout)

    def test_unknown_command_exits_1_with_suggestion_and_usage_on_stderr(self):
        r = hearth("completon")
        self.assertExit(r, 1)
        self.assertEqual(r.stdout, "")
        self.assertTrue(r.stderr.startswith("Error: Unknown command `completon`.\n"), r.stderr)
        self.assertIn("Did you mean `hearth completion`?", r.stderr)
        self.assertIn("Usage: hearth", r.stderr)

    def test_runn_suggests_run(self):
        r = hearth("runn")
        self.assertExit(r, 1)
        self.assertTrue(r.stderr.startswith("Error: Unknown command `runn`.\n    Did you mean `hearth run`?\n"),
                        r.stderr)

    def test_unknown_command_without_a_near_match(self):
        r = hearth("zzzzzzzz")
        self.assertExit(r, 1)
        self.assertIn("Run `hearth --help` to see the commands.", r.stderr)

    def test_help_for_unknown_command_fails(self):
        r = hearth("help", "nope")
        self.assertExit(r, 1)
        self.assertIn("Unknown command `nope`", r.stderr)

    def test_bare_hearth_prints_usage_on_stderr_and_exits_1(self):
        r = hearth()
        self.assertExit(r, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn("Usage: hearth", r.stderr)

    def test_unknown_flag_is_a_usage_error(self):
        r = hearth("completion", "bash", "--bogus")
        self.assertExit(r, 1)
        self.assertTrue(r.stderr.startswith("Error: "), r.stderr)
        self.assertIn("--bogus", r.stderr)
        self.assertIn("hearth --help", r.stderr)

    def test_flue_target_node_is_accepted_and_ignored(self):
        # Flue 0.11 scripts pass `--target node` to run, build, dev and connect (seed 003).
        self.assertExit(hearth("init", "proj", cwd=self.tmp), 0)
        root = self.tmp + "/proj"
        r = hearth("run", "hello", "--target", "node", "--payload", '{"name": "x"}', cwd=root)
        self.assertExit(r, 0)
        self.assertIn("--target node is accepted for Flue compatibility and ignored", r.stderr)
        self.assertIn("greeting", r.stdout)
        self.assertExit(hearth("build", "--target", "node", cwd=root), 0)
        r = hearth("build", "--target", "cloudflare", cwd=root)
        self.assertExit(r, 1)
        self.assertIn("only `node` is accepted", r.stderr)
        for command in ("dev", "connect"):
            self.assertIn("--target", hearth(command, "--help").stdout)

    def test_no_colour_when_not_a_tty(self):
        r = hearth("zzzz", env=clean_env())
        self.assertNotIn("\x1b[", r.stderr)


if __name__ == "__main__":
    unittest.main()

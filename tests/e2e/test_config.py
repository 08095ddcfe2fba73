"""End-to-end tests of configuration as `hearth info --json` sees it: hearth.json validation,
--env and --config mistakes, and .env precedence (.env.local over .env; the shell wins)."""
import json
import os
import unittest

from harness import HearthTestCase, clean_env, hearth


class Config(HearthTestCase):
    def setUp(self):
        super().setUp()
        self.write("agent/instructions.md", "Configured.\n")

    def info(self, *args, env=None):
        return hearth("info", "--json", *args, cwd=self.tmp, env=env)

    def assertConfigError(self, result, *needles):
        self.assertExit(result, 1)
        self.assertEqual(result.stdout, "")
        for needle in needles:
            self.assertIn(needle, result.stderr)

    def test_unknown_key_names_file_and_field(self):
        self.write("hearth.json", '{"name": "cfg", "nmae": "typo"}')
        self.assertConfigError(self.info(), os.path.join(self.tmp, "hearth.json"), "nmae")

    def test_string_port_names_file_and_field(self):
        self.write("hearth.json", '{"port": "3583"}')
        self.assertConfigError(self.info(), os.path.join(self.tmp, "hearth.json"), "/port")

    def test_output_equal_to_root(self):
        self.write("hearth.json", '{"output": "."}')
        self.assertConfigError(self.info(), "output", self.tmp)

    def test_hearth_json_syntax_error_has_line(self):
        self.write("hearth.json", '{\n  "name": "x",\n}\n')
        self.assertConfigError(self.info(), "hearth.json:3")

    def test_env_given_twice(self):
        self.write("a.env", "A=1\n")
        self.write("b.env", "B=2\n")
        self.assertConfigError(self.info("--env", "a.env", "--env", "b.env"), "--env")

    def test_config_missing(self):
        self.assertConfigError(self.info("--config", "missing.json"), "missing.json")

    def test_config_flag_selects_file_and_name(self):
        self.write("conf/other.json", '{"name": "from-flag"}')
        result = hearth("info", "--json", "--config", "conf/other.json", "--root", ".", cwd=self.tmp)
        self.assertExit(result, 0)
        self.assertEqual(json.loads(result.stdout)["name"], "from-flag")

    def test_env_precedence(self):
        self.write("hearth.json", '{"name": "cfg"}')
        self.write(".env", "ONLY_ENV=1\nBOTH=from-env\nSHELL_SET=from-env\n")
        self.write(".env.local", "BOTH=from-local\n")
        result = hearth("info", "--json", cwd=self.tmp, env=clean_env(SHELL_SET="from-shell"))
        self.assertExit(result, 0)
        report = json.loads(result.stdout)
        self.assertEqual(report["envFiles"], [os.path.join(self.tmp, ".env.local"),
                                              os.path.join(self.tmp, ".env")])
        self.assertEqual(report["envKeys"], {"BOTH": ".env.local", "ONLY_ENV": ".env",
                                             "SHELL_SET": "shell"})
        self.assertNotIn("from-local", result.stdout)  # values are never printed

    def test_explicit_env_file_replaces_defaults(self):
        self.write(".env", "A=1\n")
        self.write("ci.env", "CI_ONLY=1\n")
        report = json.loads(self.info("--env", "ci.env").stdout)
        self.assertEqual(report["envFiles"], [os.path.join(self.tmp, "ci.env")])
        self.assertEqual(report["envKeys"], {"CI_ONLY": "ci.env"})

    def test_model_falls_back_to_hearth_json(self):
        self.write("hearth.json", '{"name": "cfg", "model": "mock/echo"}')
        report = json.loads(self.info().stdout)
        self.assertEqual(report["model"], "mock/echo")
        self.write("agent/agent.json", '{"model": "openai/gpt-5.5"}')
        self.assertEqual(json.loads(self.info().stdout)["model"], "openai/gpt-5.5")


if __name__ == "__main__":
    unittest.main()

"""Shell completion: the checked-in scripts match `hearth completion <shell>`, every shell accepts
its script, and the bash and fish scripts really complete commands, flags and fixed values."""
import os
import shutil
import subprocess
import unittest

from harness import HEARTH_BIN, SOURCE_DIR, HearthTestCase, clean_env, hearth

CHECKED_IN = {"bash": "hearth.bash", "zsh": "_hearth", "fish": "hearth.fish"}
REGENERATE = "Regenerate them with: scripts/update-completions.sh <path/to/built/hearth>"


class CompletionTest(HearthTestCase):
    def setUp(self):
        super().setUp()
        bindir = os.path.dirname(os.path.abspath(HEARTH_BIN)) if os.sep in HEARTH_BIN else ""
        path = os.environ.get("PATH", "")
        # The scripts call `hearth __complete`; isolate shells from the user's config files.
        self.env = clean_env(PATH=f"{bindir}:{path}" if bindir else path, HOME=self.tmp,
                             XDG_CONFIG_HOME=os.path.join(self.tmp, "config"),
                             XDG_DATA_HOME=os.path.join(self.tmp, "data"))
        self.scripts = {}
        for shell in CHECKED_IN:
            r = hearth("completion", shell)
            self.assertExit(r, 0)
            self.scripts[shell] = self.write(CHECKED_IN[shell], r.stdout)

    def shell_or_skip(self, name):
        found = shutil.which(name)
        if found is None:
            print(f"skipping: {name} is not installed (scripts/deps.sh test installs it)")
            self.skipTest(f"{name} is not installed")
        return found

    def test_checked_in_scripts_match_the_binary(self):
        for shell, filename in CHECKED_IN.items():
            with self.subTest(shell=shell):
                path = os.path.join(SOURCE_DIR, "completions", filename)
                self.assertTrue(os.path.exists(path), f"completions/{filename} is missing. {REGENERATE}")
                with open(path, encoding="utf-8") as f:
                    checked_in = f.read()
                self.assertTrue(checked_in == hearth("completion", shell).stdout,
                                f"completions/{filename} differs from `hearth completion {shell}`. "
                                + REGENERATE)

    def test_unknown_shell_is_a_usage_error(self):
        r = hearth("completion", "tcsh")
        self.assertExit(r, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn("tcsh", r.stderr)

    def test_bash_registers_the_completion(self):
        bash = self.shell_or_skip("bash")
        r = subprocess.run([bash, "-c", "source <(hearth completion bash) && complete -p hearth"],
                           env=self.env, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("-F _hearth", r.stdout)

    def test_zsh_accepts_its_script(self):
        zsh = self.shell_or_skip("zsh")
        r = subprocess.run([zsh, "-n", self.scripts["zsh"]], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_fish_accepts_its_script(self):
        fish = self.shell_or_skip("fish")
        r = subprocess.run([fish, "-n", self.scripts["fish"]], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)

    def bash_complete(self, *words, cwd=None):
        """COMPREPLY after `hearth <words>` with the cursor on the last word."""
        bash = self.shell_or_skip("bash")
        quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in ("hearth",) + words)
        program = (f"source '{self.scripts['bash']}'\n"
                   f"COMP_WORDS=({quoted}); COMP_CWORD={len(words)}\n"
                   "_hearth\n"
                   "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
        r = subprocess.run([bash, "-c", program], cwd=cwd or self.tmp, env=self.env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [line for line in r.stdout.splitlines() if line]

    def test_bash_completes_top_level_commands(self):
        self.assertIn("init", self.bash_complete(""))
        self.assertIn("completion", self.bash_complete(""))
        self.assertNotIn("__complete", self.bash_complete(""))
        self.assertEqual(self.bash_complete("ini"), ["init"])
        replies = self.bash_complete("co")
        self.assertIn("completion", replies)
        self.assertTrue(all(r.startswith("co") for r in replies), replies)
        self.assertEqual(self.bash_complete("--vers"), ["--version"])

    def test_bash_completes_a_subcommands_flags(self):
        replies = self.bash_complete("init", "--")
        for flag in ("--template", "--name", "--force", "--no-git", "--list-templates", "--help"):
            self.assertIn(flag, replies)
        self.assertEqual(self.bash_complete("init", "--no"), ["--no-git"])

    def test_bash_completes_fixed_choices(self):
        self.assertEqual(sorted(self.bash_complete("completion", "")), ["bash", "fish", "zsh"])
        self.assertEqual(self.bash_complete("completion", "z"), ["zsh"])
        self.assertEqual(self.bash_complete("completion", "zsh", ""), [])

    def test_bash_completes_directories_for_a_dir_positional(self):
        os.makedirs(os.path.join(self.tmp, "work", "alpha"))
        self.write("work/beta.txt", "")
        work = os.path.join(self.tmp, "work")
        self.assertEqual(self.bash_complete("init", "", cwd=work), ["alpha"])
        # A flag's value is not a positional: the directory is still the first positional.
        self.assertEqual(self.bash_complete("init", "--name", "x", "", cwd=work), ["alpha"])
        self.assertEqual(self.bash_complete("init", "--name", "", cwd=work), [])
        self.assertEqual(self.bash_complete("init", "alpha", "", cwd=work), [])

    def fish_complete(self, line):
        """The candidates fish offers for the command line `line` (cursor at its end)."""
        fish = self.shell_or_skip("fish")
        r = subprocess.run([fish, "--no-config", "-c",
                            f"source '{self.scripts['fish']}'; complete -C '{line}'"],
                           cwd=self.tmp, env=self.env, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [l.split("\t")[0] for l in r.stdout.splitlines() if l]

    def test_fish_completes_commands_flags_and_choices(self):
        self.assertEqual(self.fish_complete("hearth ini"), ["init"])
        self.assertIn("--no-git", self.fish_complete("hearth init --"))
        self.assertEqual(sorted(self.fish_complete("hearth completion ")), ["bash", "fish", "zsh"])
        self.assertEqual(self.fish_complete("hearth completion zsh "), [])


if __name__ == "__main__":
    unittest.main()

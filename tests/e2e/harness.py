"""Shared helpers for the end-to-end tests: run the built hearth binary in temp directories.

Every test_*.py imports this module; HEARTH_BIN names the binary under test (set by CTest)."""
import os
import shutil
import subprocess
import tempfile
import unittest

HEARTH_BIN = os.environ.get("HEARTH_BIN", "hearth")
SOURCE_DIR = os.environ.get(
    "HEARTH_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FIXTURES = os.path.join(SOURCE_DIR, "tests", "fixtures")
TMP_ROOT = os.environ.get("HEARTH_TEST_TMP", tempfile.gettempdir())


def clean_env(**extra):
    """The environment a test runs hearth in: no colour, no provider keys, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and not k.startswith("HEARTH_") and k != "NO_COLOR"}
    env["HEARTH_BIN"] = HEARTH_BIN
    env.update(extra)
    return env


def hearth(*args, cwd=None, env=None, input=None, timeout=60):
    """Runs hearth with `args`; returns the CompletedProcess (text mode)."""
    return subprocess.run([HEARTH_BIN, *args], cwd=cwd, env=env or clean_env(), input=input,
                          capture_output=True, text=True, timeout=timeout)


class HearthTestCase(unittest.TestCase):
    """A test case with a fresh temporary directory per test (`self.tmp`)."""

    def setUp(self):
        os.makedirs(TMP_ROOT, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix="e2e-", dir=TMP_ROOT)
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def write(self, relative, content, executable=False):
        """Writes `content` under self.tmp and returns the absolute path."""
        path = os.path.join(self.tmp, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(content)
        if executable:
            os.chmod(path, 0o755)
        return path

    def copy_fixture(self, name):
        """Copies tests/fixtures/projects/<name> into self.tmp and returns its path."""
        dest = os.path.join(self.tmp, name)
        shutil.copytree(os.path.join(FIXTURES, "projects", name), dest, symlinks=True)
        return dest

    def assertExit(self, result, code):
        self.assertEqual(result.returncode, code,
                         f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")

"""Shared helpers for the end-to-end tests: run the built hearth binary in temp directories.

Every test_*.py imports this module; HEARTH_BIN names the binary under test (set by CTest)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HEARTH_BIN = os.environ.get("HEARTH_BIN", "hearth")
SOURCE_DIR = os.environ.get(
    "HEARTH_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FIXTURES = os.path.join(SOURCE_DIR, "tests", "fixtures")
TMP_ROOT = os.environ.get("HEARTH_TEST_TMP", tempfile.gettempdir())


def clean_env(**extra):
    """The environment a test runs hearth in: no colour, no provider keys, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and not k.startswith("HEARTH_") and k != "NO_COLOR"
           and k != "DATABASE_URL"}  # tests choose their store; SQLite unless they say
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


def copy_example(test, name):
    """Copies examples/<name> into test.tmp (without its .hearth/) and returns the path."""
    dest = os.path.join(test.tmp, name)
    shutil.copytree(os.path.join(SOURCE_DIR, "examples", name), dest, symlinks=True,
                    ignore=shutil.ignore_patterns(".hearth", "dist"))
    return dest


def gone(pid, timeout=3.0):
    """True once `pid` no longer exists (killed and reaped) within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def run_id_of(stderr):
    """The run id from `hearth run`'s `run <id>` header line on stderr."""
    for line in stderr.splitlines():
        if line.startswith("run run_"):
            return line.split()[1]
    raise AssertionError("no `run <id>` line in stderr:\n" + stderr)


class FakeLLM:
    """tests/fixtures/llm/fake_llm.py as a context manager: replays `replies` in order and
    records each request; `.url` is its base URL, `.requests()` the recorded requests."""

    def __init__(self, tmp, replies, chunk=7):
        self.record = os.path.join(tmp, "requests.jsonl")
        replies_file = os.path.join(tmp, "replies.json")
        with open(replies_file, "w") as f:
            json.dump(replies, f)
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(FIXTURES, "llm", "fake_llm.py"), "--replies", replies_file,
             "--record", self.record, "--chunk", str(chunk)],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise AssertionError("fake_llm did not start: " + line)
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def requests(self):
        if not os.path.exists(self.record):
            return []
        with open(self.record) as f:
            return [json.loads(line) for line in f if line.strip()]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()

"""hearth dev: banner, reload on atomic-rename edits with zero downtime (no failed request, no lost
or duplicated stream event across 20 `sed -i` edits), the pid file, compile errors that keep the
old server serving, and signals that leave no child behind."""
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import HEARTH_BIN, HearthTestCase, clean_env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body)
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        res = conn.getresponse()
        return res.status, dict(res.getheaders()), res.read()
    finally:
        conn.close()


def hello(port):
    status, _, body = request(port, "POST", "/workflows/hello?wait=result", {})
    if status != 200:
        raise AssertionError("POST /workflows/hello: %d %s" % (status, body[:300]))
    return json.loads(body)["result"]


class Dev:
    """A running `hearth dev` whose stderr is collected line by line."""

    def __init__(self, cwd, port, *args):
        self.port, self.lines, self.cond = port, [], threading.Condition()
        self.proc = subprocess.Popen([HEARTH_BIN, "dev", "--port", str(port), *args], cwd=cwd,
                                     env=clean_env(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def text(self):
        with self.cond:
            return "\n".join(self.lines)

    def wait_for(self, needle, timeout=20, start=0):
        """Waits until a line from index `start` on contains `needle`; returns its index."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.lines)):
                    if needle in self.lines[i]:
                        return i
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self.reader.is_alive():
                    raise AssertionError("no %r in dev output:\n%s" % (needle, "\n".join(self.lines)))
                self.cond.wait(min(left, 0.2))

    def count(self, needle):
        with self.cond:
            return sum(needle in line for line in self.lines)

    def children(self):
        """Pids of processes whose parent is dev."""
        out = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open("/proc/%s/stat" % pid) as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    if int(fields[1]) == self.proc.pid:
                        out.append(int(pid))
                except OSError:
                    pass
        return out

    def stop(self, sig=signal.SIGINT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self.reader.join(timeout=5)
        self.proc.stderr.close()
        return code


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


class DevTest(HearthTestCase):
    def project(self, version=1):
        root = os.path.join(self.tmp, "p")
        self.write("p/hearth.json", '{"name": "p", "model": "mock/echo"}\n')
        self.write("p/agent/agent.json", '{"http": true}\n')
        self.write("p/agent/instructions.md", "You are terse.\n")
        self.write("p/workflows/hello.md", "---\ndescription: hi\nhttp: true\n---\nversion %d says hello\n" % version)
        return root

    def start(self, root, *args):
        dev = Dev(root, free_port(), *args)
        self.addCleanup(lambda: dev.proc.poll() is None and dev.stop(signal.SIGKILL))
        return dev

    def test_banner_then_serves_and_reloads_after_sed_i(self):
        root = self.project()
        dev = self.start(root, "--no-ui")
        dev.wait_for("server listening at http://127.0.0.1:%d" % dev.port)
        text = dev.text()
        for needle in ("http://127.0.0.1:%d" % dev.port, "agents     p", "workflows  hello",
                       "POST /workflows/hello", "connect with: hearth connect p local",
                       "watching for changes; Ctrl+C to stop"):
            self.assertIn(needle, text)
        self.assertEqual(hello(dev.port), "version 1 says hello\n")
        subprocess.run(["sed", "-i", "s/version 1/version 2/", os.path.join(root, "workflows/hello.md")], check=True)
        dev.wait_for("reloaded in")
        self.assertEqual(hello(dev.port), "version 2 says hello\n")
        self.assertEqual(dev.stop(), 130)

    def test_twenty_sed_edits_under_load_lose_nothing(self):
        root = self.project()
        dev = self.start(root)
        dev.wait_for("server listening at")
        port, stop, writers_done, failures = dev.port, threading.Event(), threading.Event(), []
        seen_versions, followed = set(), []

        def poster():  # loops POST /workflows/hello
            while not stop.is_set():
                try:
                    seen_versions.add(hello(port))
                except Exception as e:  # any failure breaks zero downtime
                    failures.append("workflow: %r" % e)
                    time.sleep(0.05)

        def prompter():  # keeps appending to the agent stream
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    status, _, body = request(port, "POST", "/agents/p/s1?wait=result", {"message": "m%d" % n})
                    if status != 200:
                        failures.append("agent: %d %s" % (status, body[:200]))
                except Exception as e:
                    failures.append("agent: %r" % e)
                    time.sleep(0.05)

        def follower():  # reads the agent stream with long-polls, as @durable-streams/client does
            offset = "-1"
            while True:
                # Only a read issued after the writers stopped may end the follow: a response
                # computed earlier is up to date as of then, not of the end.
                final = writers_done.is_set()
                live = "&live=long-poll" if offset != "-1" and not final else ""
                try:  # a short client timeout re-asks from the same offset: nothing can be lost
                    status, headers, body = request(port, "GET", "/agents/p/s1?offset=%s%s" % (offset, live),
                                                    timeout=2 if live else 30)
                except socket.timeout:
                    continue
                except Exception as e:
                    failures.append("follow: %r" % e)
                    if final:  # the server is gone: the test fails on `failures`, not by hanging
                        return
                    time.sleep(0.05)  # a refused connection must not spin and fill `failures`
                    continue
                if status == 200:
                    followed.extend(json.loads(body))
                elif status not in (204, 404):  # 404 until the first prompt creates the stream
                    failures.append("follow: %d %s" % (status, body[:200]))
                offset = headers.get("Stream-Next-Offset", offset) if status != 404 else offset
                if final and headers.get("Stream-Up-To-Date") == "true":
                    return

        # Daemons: a thread a failed test left behind must not keep the process alive.
        threads = [threading.Thread(target=t, daemon=True) for t in (poster, prompter, follower)]
        for t in threads:
            t.start()
        try:
            path = os.path.join(root, "workflows/hello.md")
            for v in range(2, 22):
                subprocess.run(["sed", "-i", "s/version %d/version %d/" % (v - 1, v), path], check=True)
                deadline = time.monotonic() + 15
                while "version %d says hello\n" % v not in seen_versions:
                    self.assertLess(time.monotonic(), deadline, "edit %d never served\n%s" % (v, dev.text()))
                    time.sleep(0.01)
        finally:
            stop.set()
            for t in threads[:2]:
                t.join(timeout=60)
            writers_done.set()
            threads[2].join(timeout=60)
        self.assertEqual(failures, [])
        self.assertGreaterEqual(dev.count("reloaded in"), 20)
        everything, offset = [], "-1"
        while True:  # catch-up pages until up to date
            status, headers, body = request(port, "GET", "/agents/p/s1?offset=" + offset)
            self.assertEqual(status, 200)
            everything.extend(json.loads(body))
            offset = headers["Stream-Next-Offset"]
            if headers.get("Stream-Up-To-Date") == "true":
                break
        self.assertGreater(len(everything), 20)
        self.assertEqual(len(followed), len(everything))
        self.assertTrue(followed == everything, "the follower's events differ from the stream")
        self.assertEqual(dev.stop(), 130)

    def test_second_instance_exits_1_naming_the_pid_and_a_stale_pid_file_is_replaced(self):
        root = self.project()
        pid_file = os.path.join(root, ".hearth", "dev-process.pid")
        os.makedirs(os.path.dirname(pid_file))
        dead = subprocess.Popen(["true"])
        dead.wait()
        with open(pid_file, "w") as f:
            f.write("%d\n" % dead.pid)
        dev = self.start(root)
        dev.wait_for("server listening at")
        with open(pid_file) as f:
            self.assertEqual(int(f.read()), dev.proc.pid)
        second = subprocess.run([HEARTH_BIN, "dev", "--port", str(free_port())], cwd=root,
                                env=clean_env(), capture_output=True, text=True, timeout=30)
        self.assertEqual(second.returncode, 1, second.stderr)
        self.assertIn("already running for this project (pid %d)" % dev.proc.pid, second.stderr)
        self.assertIn("kill %d" % dev.proc.pid, second.stderr)
        self.assertEqual(dev.stop(signal.SIGTERM), 143)
        self.assertFalse(os.path.exists(pid_file))

    def test_a_child_that_fails_to_start_leaves_the_old_one_serving(self):
        root = self.project()
        dev = self.start(root)
        dev.wait_for("server listening at")
        config = os.path.join(root, "hearth.json")
        with open(config, "w") as f:  # compiles, but the runtime cannot open this store
            f.write('{"name": "p", "model": "mock/echo", "store": "sqlite:/proc/nope/state.db"}\n')
        dev.wait_for("the previous server keeps serving; dev is still watching")
        self.assertEqual(hello(dev.port), "version 1 says hello\n")
        mark = len(dev.lines)
        with open(config, "w") as f:
            f.write('{"name": "p", "model": "mock/echo"}\n')
        dev.wait_for("reloaded in", start=mark)
        self.assertEqual(hello(dev.port), "version 1 says hello\n")
        self.assertEqual(dev.stop(), 130)

    def test_a_port_held_by_another_program_is_refused_up_front(self):
        root = self.project()
        with socket.socket() as held:
            held.bind(("127.0.0.1", 0))
            held.listen()
            port = held.getsockname()[1]
            r = subprocess.run([HEARTH_BIN, "dev", "--port", str(port)], cwd=root,
                               env=clean_env(), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("Cannot listen on 127.0.0.1:%d" % port, r.stderr)

    def test_signals_stop_every_child_group(self):
        for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
            with self.subTest(sig=sig):
                root = self.project()
                dev = self.start(root)
                dev.wait_for("server listening at")
                children = dev.children()
                self.assertTrue(children)
                self.assertEqual(dev.stop(sig), code)
                for pid in children:
                    self.assertFalse(group_alive(pid), "process group %d outlived dev" % pid)

    def test_compile_errors_keep_watching_and_keep_the_old_server(self):
        root = self.project()
        bad = os.path.join(root, "workflows", "bad.md")
        with open(bad, "w") as f:
            f.write("---\nresult: [unclosed\n---\nbody\n")
        dev = self.start(root)
        dev.wait_for("fix the error; dev is still watching")
        os.remove(bad)
        dev.wait_for("server listening at")
        self.assertEqual(hello(dev.port), "version 1 says hello\n")
        mark = len(dev.lines)
        with open(bad, "w") as f:
            f.write("---\nresult: [unclosed\n---\nbody\n")
        dev.wait_for("fix the error; dev is still watching", start=mark)
        self.assertEqual(hello(dev.port), "version 1 says hello\n")  # the old server still serves
        mark = len(dev.lines)
        with open(os.path.join(root, ".env"), "w") as f:  # .env files reload too
            f.write("GREETING=hi\n")
        os.remove(bad)
        dev.wait_for("reloaded in", start=mark)
        self.assertEqual(dev.stop(), 130)


if __name__ == "__main__":
    unittest.main()

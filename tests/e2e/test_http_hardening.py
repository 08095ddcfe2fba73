"""Hostile HTTP against `hearth start` (issue 9): long paths, deep JSON, body limits on every
framing, smuggling-shaped framing, pipelining, bodiless POSTs and parked NDJSON readers whose
clients leave. Every request goes over raw sockets so nothing in a client library tidies it up."""
import gzip
import json
import os
import socket
import threading
import time
import unittest

from harness import HearthTestCase
from test_server import Http, Started, built


def connect(port, timeout=30):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_response(s, deadline_s=10):
    """Reads one HTTP/1.1 response (Content-Length or chunked); returns (status, headers, body)."""
    buf = b""
    deadline = time.monotonic() + deadline_s
    def more():
        nonlocal buf
        s.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("connection closed; got %r" % buf[:200])
        buf += chunk
    while b"\r\n\r\n" not in buf:
        more()
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(buf) < n:
            more()
        body, rest = buf[:n], buf[n:]
    else:
        body, rest = b"", buf
    read_response.rest = rest
    return status, headers, body


def exchange(port, raw, deadline_s=10):
    s = connect(port)
    try:
        s.sendall(raw)
        return read_response(s, deadline_s)
    finally:
        s.close()


def socket_count(pid):
    """Sockets the server process holds (its listener and connections)."""
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


class HardeningTest(HearthTestCase):
    def start(self):
        _, dist = built(self)
        return Started(self, dist)

    def alive(self, server):
        self.assertIsNone(server.proc.poll(), "the server exited")
        status, _, body = Http(server.port).json("GET", "/eve/v1/health")
        self.assertEqual(status, 200, body)

    def test_long_paths_get_414_or_404_and_the_server_lives(self):
        server = self.start()
        long_id = "x" * 4000
        for path in (f"/runs/{long_id}", f"/workflows/{long_id}", f"/agents/{long_id}/a",
                     f"/agents/echo/{long_id}", f"/eve/v1/session/{long_id}/stream",
                     f"/admin/runs/{long_id}"):
            for method in ("GET", "POST"):
                status, _, body = exchange(server.port, f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                           "Content-Length: 0\r\n\r\n".encode())
                self.assertIn(status, (404, 405), (path[:30], body[:200]))
        status, _, body = exchange(server.port, b"GET /runs/" + b"y" * 20000 +
                                   b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self.assertEqual(status, 414, body)
        self.assertEqual(json.loads(body)["error"]["type"], "uri_too_long")
        status, _, _ = exchange(server.port, b"GET /eve/v1/session/" + b"y" * 200000 +
                                b"/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self.assertEqual(status, 414)
        self.alive(server)

    def test_deep_json_is_400_invalid_json_naming_the_limit(self):
        server = self.start()
        deep = b"[" * 30000 + b"]" * 30000
        status, _, body = exchange(server.port, b"POST /workflows/hello HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                   b"Content-Type: application/json\r\nContent-Length: " +
                                   str(len(deep)).encode() + b"\r\n\r\n" + deep)
        self.assertEqual(status, 400)
        err = json.loads(body)["error"]
        self.assertEqual(err["type"], "invalid_json")
        self.assertIn("512", err["details"])
        status, _, body = exchange(server.port, b"POST /eve/v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                   b"Content-Type: application/json\r\nContent-Length: " +
                                   str(len(deep)).encode() + b"\r\n\r\n" + deep)
        self.assertEqual(status, 400)
        self.assertIn("512", json.loads(body)["error"])
        self.alive(server)

    def test_chunked_body_past_the_limit_is_413_with_bounded_memory(self):
        server = self.start()

        def rss_kb():
            with open(f"/proc/{server.proc.pid}/status") as f:
                return int(next(l for l in f if l.startswith("VmRSS")).split()[1])
        before_kb = rss_kb()  # the server's own size (code, libraries, ASan shadow) is not at issue
        s = connect(server.port)
        s.sendall(b"POST /workflows/hello HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % (1 << 20) + b" " * (1 << 20) + b"\r\n"
        try:
            for _ in range(50):  # 50 MiB, three times the 16 MiB limit
                s.sendall(chunk)
        except OSError:
            pass  # the server stopped reading: expected
        got = read_response(s, 15)
        s.close()
        self.assertEqual(got[0], 413, got)
        self.assertEqual(json.loads(got[2])["error"]["type"], "payload_too_large")
        # Before: the whole 50 MiB was buffered (444 MB RSS in a release build). ASan's quarantine
        # keeps up to 256 MiB of freed memory resident, so the bound grows by that under ASan.
        # What the request added is measured, not the process's whole size.
        bound_mb = 200 + (256 if "ASAN_OPTIONS" in os.environ else 0)
        self.assertLess(rss_kb() - before_kb, bound_mb * 1024)
        self.alive(server)

    def test_compressed_bodies_are_refused_with_415(self):
        server = self.start()
        bomb = gzip.compress(b"[" + b"0," * (10 << 20) + b"0]")
        status, _, body = exchange(server.port, b"POST /workflows/hello HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                   b"Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
                                   b"Content-Length: " + str(len(bomb)).encode() + b"\r\n\r\n" + bomb)
        self.assertIn(status, (413, 415), body)
        self.alive(server)

    def test_pipelined_requests_are_answered_in_order(self):
        server = self.start()
        s = connect(server.port)
        s.sendall(b"GET /eve/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                  b"POST /workflows/hello?wait=result HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                  b"application/json\r\nContent-Length: 14\r\n\r\n{\"name\":\"Ada\"}"
                  b"GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        statuses = []
        for _ in range(3):
            status, _, body = read_response(s, 30)
            statuses.append(status)
            if read_response.rest:  # bytes of the next response, already read
                s = _Prefixed(s, read_response.rest)
        self.assertEqual(statuses, [200, 200, 404])

    def test_conflicting_framing_is_400(self):
        server = self.start()
        for framing in (b"Content-Length: 2\r\nContent-Length: 3\r\n",
                        b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
                        b"Content-Length: -1\r\n",
                        b"Content-Length: 99999999999999999999999\r\n"):
            started = time.monotonic()
            status, _, body = exchange(server.port, b"POST /workflows/hello HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       b"Content-Type: application/json\r\n" + framing +
                                       b"\r\n{}\r\n\r\n", deadline_s=3)
            self.assertIn(status, (400, 413), (framing, body))
            self.assertLess(time.monotonic() - started, 2)
        status, _, _ = exchange(server.port, b"POST /workflows/hello HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                b"Content-Length: 900000000\r\n\r\n", deadline_s=3)
        self.assertEqual(status, 413)
        self.alive(server)

    def test_post_without_body_or_length_is_accepted(self):
        server = self.start()
        status, _, body = exchange(server.port, b"POST /workflows/hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self.assertEqual(status, 202, body)
        status, _, body = exchange(server.port, b"POST /eve/v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self.assertEqual(status, 202, body)

    def test_parked_ndjson_followers_are_freed_when_clients_close(self):
        server = self.start()
        status, _, created = Http(server.port).json("POST", "/eve/v1/session", {})
        self.assertEqual(status, 202)
        sid = created["sessionId"]
        baseline = socket_count(server.proc.pid)
        readers = []
        for i in range(2000):
            s = connect(server.port)
            s.sendall(f"GET /eve/v1/session/{sid}/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            readers.append(s)
        # every follower got its head: they are parked, not queued
        for s in readers[-50:]:
            s.settimeout(10)
            self.assertIn(b"200", s.recv(4096))
        started = time.monotonic()
        status, _, _ = Http(server.port).json("GET", "/eve/v1/health")
        self.assertEqual(status, 200)
        self.assertLess(time.monotonic() - started, 1.0)
        self.assertGreater(socket_count(server.proc.pid), baseline + 1900)
        for s in readers:
            s.close()
        closed_at = time.monotonic()
        while socket_count(server.proc.pid) > baseline + 5 and time.monotonic() - closed_at < 5:
            time.sleep(0.05)
        freed_in = time.monotonic() - closed_at
        self.assertLessEqual(socket_count(server.proc.pid), baseline + 5)
        self.assertLess(freed_in, 1.0, f"sockets freed after {freed_in:.2f}s")
        self.alive(server)


class _Prefixed:
    """A socket whose next recv() first returns bytes already read."""

    def __init__(self, sock, prefix):
        self.sock, self.prefix = sock, prefix

    def settimeout(self, t):
        self.sock.settimeout(t)

    def recv(self, n):
        if self.prefix:
            out, self.prefix = self.prefix, b""
            return out
        return self.sock.recv(n)


if __name__ == "__main__":
    unittest.main()

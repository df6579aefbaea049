# -*- test-case-name: tests.test_nginx -*-
"""Tests with a real nginx writing C{$request_time}: its log read with its own C{log_format}."""

from __future__ import annotations

import os
import socket
import time

from twisted.trial import unittest
from weblog.batches import hits_of
from weblog.historian import Historian
from weblog.logformat import compile_format
from weblog.store import Store

from tests.nginx import nginx_binary, start_nginx
from tests.server import free_port
from tests.support import awaited, writing

LOG_FORMAT = ("'$remote_addr - $remote_user [$time_local] \"$request\" '\n"
              "    '$status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time'")
"""The C{log_format} of the test's nginx, as nginx.conf has it, and as WEBLOG_FORMAT takes it."""
REQUESTS = 24
NEWLINE = b"\n"
SLOW = 0.05
"""Seconds that every other request waits before the end of its headers (nginx's
C{$request_time} counts from the request's first byte)."""
AGENTS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
          " Chrome/120.0.0.0 Safari/537.36", "curl/8.4.0", 'evil "agent" <script>']

HTTP = """
    log_format timed {log_format};
    access_log {base}/access.log timed;
    server {{
        listen 127.0.0.1:{port};
        root {base}/www;
    }}
"""


def request(port: int, path: str, agent: str, slow: bool) -> bytes:
    """One HTTP/1.0 GET to nginx; its whole response.  A slow one waits L{SLOW} s before the
    blank line that ends its headers."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n"
                           f"User-Agent: {agent}\r\n".encode())
        if slow:
            time.sleep(SLOW)
        connection.sendall(b"\r\n")
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    return response


class RealNginxTests(unittest.TestCase):
    """nginx's own log, with C{$request_time}, read with its C{log_format} as WEBLOG_FORMAT."""

    def setUp(self) -> None:
        nginx_binary(self)
        self.base = os.path.abspath(self.mktemp())
        os.makedirs(os.path.join(self.base, "www"))
        with open(os.path.join(self.base, "www", "index.html"), "w") as page:
            page.write("<p>hello</p>\n")
        self.port = free_port()
        start_nginx(self, self.base, self.port, HTTP.format(base=self.base, port=self.port,
                                                            log_format=LOG_FORMAT))

    def logged(self) -> bytes:
        """The access log once it holds a line for each request (a bounded wait)."""
        path = os.path.join(self.base, "access.log")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with open(path, "rb") as log:
                data = log.read()
            if data.count(b"\n") >= REQUESTS:
                return data
            time.sleep(0.02)
        self.fail(f"nginx logged {data.count(NEWLINE)} of {REQUESTS} requests")

    def test_durations(self) -> None:
        """
        Each request is a hit with its time taken; the slow ones took at least L{SLOW} s; the
        store that the historian builds with the same format holds those durations.
        """
        for number in range(REQUESTS):
            path = "/index.html" if number % 3 else f"/missing/{number}?q=<b>"
            response = request(self.port, path, AGENTS[number % len(AGENTS)], number % 2 == 1)
            self.assertIn(b" 200 " if number % 3 else b" 404 ", response.split(b"\r\n")[0])
        data = self.logged()
        parser = compile_format(LOG_FORMAT)
        hits = [parser(line) for line in data.splitlines()]
        self.assertEqual(len(hits), REQUESTS)
        durations = [hit.duration for hit in hits]
        for number, (hit, duration) in enumerate(zip(hits, durations, strict=True)):
            self.assertIsNotNone(duration, hit)
            assert duration is not None
            self.assertEqual(hit.status, 200 if number % 3 else 404)
            self.assertEqual(hit.agent, AGENTS[number % len(AGENTS)])
            if number % 2:
                self.assertGreaterEqual(duration, SLOW * 1_000_000 - 1000, hit)
            self.assertLess(duration, 10_000_000)
        lines, table = hits_of(data, parser)
        self.assertEqual(lines, REQUESTS)
        assert table is not None
        self.assertEqual(table["duration"].to_pylist(), durations)
        self.assertEqual(set(table["country"].to_pylist()), {"private"})

        log = os.path.join(self.base, "access.log")
        path = os.path.join(self.base, "history.duckdb")
        historian = Historian(path, [log], parser, idle=0.05, retry=0.05)
        writer = writing(self, historian)
        status = awaited(historian, lambda status: status["state"] == "ok"
                         and status["stored"] == REQUESTS)
        self.assertEqual((status["state"], status["stored"]), ("ok", REQUESTS))
        historian.stop()
        writer.join(30)
        store = Store(path)
        self.addCleanup(store.close)
        self.assertEqual(store.query("SELECT duration FROM hits ORDER BY time, rowid"),
                         [(duration,) for duration in durations])

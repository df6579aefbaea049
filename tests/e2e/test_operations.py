"""The README's operations examples, tried: its systemd unit verified, its nginx reverse proxy
(TLS in front, the event stream unbuffered) run in a real nginx before a real twistd."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time

from twisted.trial import unittest

from tests.nginx import nginx_binary, start_nginx
from tests.server import TWISTD
from tests.e2e.readme import need, readme_block
from tests.support import TwistdServer, free_port

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
OPENSSL = shutil.which("openssl")
LINE = ('198.51.100.7 - - [07/Dec/2026:10:00:00 +0000] "GET /through-the-proxy HTTP/1.1" 200'
        ' 10 "https://example.org/" "Mozilla/5.0"\n')


class UnitTests(unittest.TestCase):
    """The README's systemd unit."""

    def test_verified(self) -> None:
        """systemd-analyze verify finds nothing wrong with it (its twistd and python made this
        environment's); it wakes the server once started, so that it listens from its start."""
        analyze = need(SYSTEMD_ANALYZE, "systemd")
        unit = readme_block("unit")
        self.assertIn("ReadOnlyPaths=/var/log/nginx", unit)
        self.assertIn("StateDirectory=weblog", unit)
        self.assertIn("-m weblog.wake http://127.0.0.1:8080", unit)
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        path = os.path.join(base, "weblog.service")
        with open(path, "w") as file:
            file.write(unit.replace("/opt/weblog/.venv/bin/", os.path.dirname(TWISTD) + "/"))
        result = subprocess.run([analyze, "verify", path], capture_output=True, text=True,
                                check=False, timeout=60)
        self.assertEqual((result.returncode, result.stderr.strip()), (0, ""))


class ProxyTests(unittest.TestCase):
    """The README's nginx server block before a real twistd."""

    def setUp(self) -> None:
        nginx_binary(self)
        openssl = need(OPENSSL, "openssl")
        self.server = TwistdServer(self, env={"WEBLOG_LOG": "var/site.log",
                                              "WEBLOG_HISTORY": "off"})
        self.log = self.server.base.descendant(["var", "site.log"]).path
        open(self.log, "w").close()
        self.server.start()
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        cert, key = os.path.join(base, "cert.pem"), os.path.join(base, "key.pem")
        subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                        "-keyout", key, "-out", cert], check=True, capture_output=True,
                       timeout=60)
        self.port = free_port()
        server = (readme_block("proxy")
                  .replace("listen 443 ssl;", f"listen 127.0.0.1:{self.port} ssl;")
                  .replace("/etc/ssl/certs/weblog.pem", cert)
                  .replace("/etc/ssl/private/weblog.key", key)
                  .replace("127.0.0.1:8080", f"127.0.0.1:{self.server.port}"))
        start_nginx(self, base, self.port, f"    access_log {base}/access.log;\n{server}")
        self.context = ssl.create_default_context(cafile=cert)

    def connect(self) -> ssl.SSLSocket:
        """A TLS connection to the proxy, its certificate checked."""
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return self.context.wrap_socket(raw, server_hostname="localhost")

    def test_pageThroughTls(self) -> None:
        """The page comes through the proxy, over TLS."""
        with self.connect() as connection:
            connection.sendall(b"GET /weblog.rpy HTTP/1.1\r\nHost: localhost\r\n"
                               b"Connection: close\r\n\r\n")
            response = b""
            while chunk := connection.recv(65536):
                response += chunk
        self.assertTrue(response.startswith(b"HTTP/1.1 200"), response[:200])
        self.assertIn(b"<h1>Latest hits</h1>", response)

    def test_eventsUnbuffered(self) -> None:
        """A hit written to the log comes through the proxy's event stream within seconds."""
        with self.connect() as connection:
            connection.sendall(b"GET /weblog.rpy/events?referrer=any HTTP/1.1\r\n"
                               b"Host: localhost\r\n\r\n")
            received = b""
            deadline = time.monotonic() + 20
            while b"retry:" not in received and time.monotonic() < deadline:
                received += connection.recv(65536)
            self.assertIn(b"text/event-stream", received)
            with open(self.log, "a") as file:
                file.write(LINE)
            written = time.monotonic()
            while b"/through-the-proxy" not in received and time.monotonic() < deadline:
                received += connection.recv(65536)
            self.assertIn(b"event: hit", received)
            self.assertIn(b"/through-the-proxy", received)
            self.assertLess(time.monotonic() - written, 5.0)

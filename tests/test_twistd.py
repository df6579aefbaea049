# -*- test-case-name: tests.test_twistd -*-
"""The deployment path: a real `twistd web --path www` process, its own log, stop and restart."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from twisted.python.filepath import FilePath
from twisted.trial import unittest

from tests.support import REPO

TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TwistdTests(unittest.TestCase):
    """A real twistd serving a copy of www/, as `./run.sh` and the article's users run it."""

    def setUp(self) -> None:
        self.base = FilePath(self.mktemp())
        self.base.makedirs()
        REPO.child("www").copyTo(self.base.child("www"))
        self.base.child("var").makedirs()
        self.env = {key: value for key, value in os.environ.items()
                    if key not in ("PYTHONPATH", "WEBLOG_LOG", "WEBLOG_STATE", "WEBLOG_KEEP")}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start twistd in the test's directory, logging to var/access.log, and wait for it."""
        self.port = free_port()
        self.process = subprocess.Popen(
            [TWISTD, "--nodaemon", "--pidfile=", "web", "--path", "www",
             "--listen", f"tcp:{self.port}:interface=127.0.0.1", "--logfile", "var/access.log"],
            cwd=self.base.path, env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.addCleanup(self.kill)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.fail("twistd did not start listening within 20 s")

    def kill(self) -> None:
        """Make sure no twistd outlives the test."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> int:
        """Stop twistd with SIGTERM, as Ctrl-C or a service manager does; return its status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(20)

    def fetch(self, path: str, referrer: str | None = None) -> str:
        """GET a page from the running twistd."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if referrer:
            request.add_header("Referer", referrer)
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.read().decode("utf-8")

    def test_followsItsOwnLog(self):
        """Following a link from / makes a referrer hit that /weblog.rpy shows."""
        self.start()
        index = f"http://127.0.0.1:{self.port}/"
        self.fetch("/")
        self.fetch("/dynamic.rpy", referrer=index)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            hits = json.loads(self.fetch("/weblog.rpy/json"))["hits"]
            if hits:
                break
            time.sleep(0.2)
        self.assertEqual(
            [(hit["resource"], hit["referrer"], hit["client"]) for hit in hits],
            [("/dynamic.rpy", index, "127.0.0.1")],
        )
        page = self.fetch("/weblog.rpy")
        self.assertIn('<td class="resource">/dynamic.rpy</td>', page)
        self.assertIn("Following <code>var/access.log</code>", page)

    def test_viewCountSurvivesRestart(self):
        """A stopped and restarted twistd shows a higher view count, never a reset one."""
        self.start()
        for expected in (1, 2, 3):
            self.assertIn(f'<span id="views">{expected}</span>', self.fetch("/dynamic.rpy"))
        # After a clean shutdown twistd re-raises the signal, so that its status says why it ended.
        self.assertEqual(self.stop(), -signal.SIGTERM)
        saved = json.loads(self.base.descendant(["var", "counter.json"]).getContent())
        self.assertEqual(saved, {"value": 3})
        self.start()
        self.assertIn('<span id="views">4</span>', self.fetch("/dynamic.rpy"))

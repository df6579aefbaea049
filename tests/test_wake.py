# -*- test-case-name: tests.test_wake -*-
"""Tests for L{weblog.wake}: one request that starts a server's shared objects."""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any

from persist import IRecords
from twisted.internet import defer, threads
from twisted.trial import unittest
from weblog.wake import main, wake

from tests.support import SiteCase, setEnvironment
from tests.test_syslogserver import free_port


class WakeTests(SiteCase):
    """L{wake} against a served site, and against nothing."""

    @defer.inlineCallbacks
    def test_startsRecords(self) -> Any:
        """Once answered, the site's Records is made and started (the registry idiom)."""
        setEnvironment(self, WEBLOG_HISTORY="off")
        root = self.serve()
        self.assertIsNone(root.registry.getComponent(IRecords))
        problem = yield threads.deferToThread(wake, f"http://127.0.0.1:{self.port.getHost().port}")
        self.assertEqual(problem, "")
        self.assertIsNotNone(root.registry.getComponent(IRecords))

    def test_nothingListens(self) -> None:
        """When nothing answers within the time given, the reason says so."""
        url = f"http://127.0.0.1:{free_port(socket.SOCK_STREAM)}"
        problem = wake(url, timeout=0.3, pause=0.05)
        self.assertIn(f"{url}/weblog.rpy/json?limit=1 did not answer within 0 s", problem)


    def test_serverGone(self) -> None:
        """Once the server's process has stopped, it is not waited for."""
        process = subprocess.Popen(["true"])
        process.wait()
        url = f"http://127.0.0.1:{free_port(socket.SOCK_STREAM)}"
        started = time.monotonic()
        problem = wake(url, timeout=30, pause=0.05, pid=process.pid)
        self.assertEqual(problem, f"the server (process {process.pid}) stopped before it"
                                  " answered")
        self.assertLess(time.monotonic() - started, 10)


class MainTests(unittest.TestCase):
    """L{main}, as C{python -m weblog.wake}."""

    def test_usage(self) -> None:
        """Without one http URL, it says how to call it, and exits 2."""
        self.assertEqual(main([]), 2)
        self.assertEqual(main(["localhost:8080"]), 2)
        self.assertEqual(main(["http://127.0.0.1:8080", "twistd"]), 2)

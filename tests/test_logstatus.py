# -*- test-case-name: tests.test_logstatus -*-
"""Tests for L{weblog.logstatus}: the JSON C{log} object of the logs followed."""

from __future__ import annotations

import os

from twisted.trial import unittest
from weblog.following import LogFollower
from weblog.logstatus import log_status


class LogStatusTests(unittest.TestCase):
    """L{log_status}: one state for all the logs, the counts, and each file when several."""

    def follower(self, exists: bool) -> LogFollower:
        """A follower of a new path (an empty file if C{exists}), after one read."""
        path = os.path.abspath(self.mktemp())
        if exists:
            open(path, "wb").close()
        follower = LogFollower(path)
        self.addCleanup(follower.close)
        follower.read()
        return follower

    def test_ok(self) -> None:
        """One readable log: ok, with the counts as given, and no files list."""
        status = log_status("a.log", "", [self.follower(True)], 10, 2, 8)
        self.assertEqual(status, {"path": "a.log", "state": "ok", "reason": "", "lines": 10,
                                  "malformed": 2, "rotations": 0, "truncations": 0, "kept": 8})

    def test_misconfigured(self) -> None:
        """A bad setting wins over every log's state."""
        status = log_status("a.log", "WEBLOG_KEEP must be ...", [], 0, 0, 0)
        self.assertEqual((status["state"], status["reason"]),
                         ("misconfigured", "WEBLOG_KEEP must be ..."))

    def test_severalOneMissing(self) -> None:
        """Of several logs, the first in trouble names itself; each has its line in files."""
        good, missing = self.follower(True), self.follower(False)
        status = log_status("x", "", [good, missing], 0, 0, 0)
        self.assertEqual((status["state"], status["reason"]),
                         ("missing", f"{missing.path}: not found"))
        self.assertEqual([each["state"] for each in status["files"]], ["ok", "missing"])

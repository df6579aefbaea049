# -*- test-case-name: tests.test_startup -*-
"""Tests for L{weblog.startup.config_problem}: what C{run.sh} checks before it starts a server."""

from __future__ import annotations

import os

from twisted.internet.task import Clock
from twisted.trial import unittest
from weblog.counter import Counter
from weblog.startup import config_problem

from tests.support import htpasswd_entry, setEnvironment

COMBINED = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'


class ConfigProblemTests(unittest.TestCase):
    """The first bad setting, in one line, or C{""} when every one is good."""

    def setUp(self) -> None:
        self.directory = self.mktemp()
        os.makedirs(self.directory)
        setEnvironment(self, WEBLOG_STATE=self.directory, WEBLOG_HTPASSWD=None,
                       WEBLOG_KEEP=None, WEBLOG_FORMAT=None, WEBLOG_MAX_STREAMS=None,
                       WEBLOG_HISTORY=None, WEBLOG_HISTORY_MAX_MB=None)

    def test_configGood(self):
        """Unset or good settings are no problem."""
        self.assertEqual(config_problem(), "")
        setEnvironment(self, WEBLOG_FORMAT=COMBINED, WEBLOG_KEEP="100", WEBLOG_MAX_STREAMS="10")
        self.assertEqual(config_problem(), "")

    def test_configBadFormat(self):
        """A bad C{$WEBLOG_FORMAT} is the problem, in one line."""
        setEnvironment(self, WEBLOG_FORMAT="%h %t %Z")
        self.assertEqual(config_problem(), "WEBLOG_FORMAT '%h %t %Z': unknown directive %Z")

    def test_configBadKeep(self):
        """A C{$WEBLOG_KEEP} that is not a number is the problem."""
        setEnvironment(self, WEBLOG_KEEP="lots")
        self.assertEqual(config_problem(), "WEBLOG_KEEP must be a whole number, got 'lots'")

    def test_configBadMaxStreams(self):
        """A C{$WEBLOG_MAX_STREAMS} out of range is the problem."""
        setEnvironment(self, WEBLOG_MAX_STREAMS="0")
        self.assertEqual(
            config_problem(), "WEBLOG_MAX_STREAMS must be from 1 to 100000, got 0"
        )

    def test_configBadSyslog(self):
        """A C{$WEBLOG_SYSLOG} entry that is not C{udp:HOST:PORT} or C{tcp:HOST:PORT} is the
        problem."""
        setEnvironment(self, WEBLOG_SYSLOG="udp:127.0.0.1")
        self.assertEqual(config_problem(), "WEBLOG_SYSLOG entries must be udp:HOST:PORT or"
                                           " tcp:HOST:PORT, got 'udp:127.0.0.1'")

    def test_configBadHistoryCap(self):
        """A C{$WEBLOG_HISTORY_MAX_MB} too small is the problem, unless the history is off."""
        setEnvironment(self, WEBLOG_HISTORY_MAX_MB="8")
        self.assertEqual(config_problem(), "WEBLOG_HISTORY_MAX_MB must be 0 (no cap) or from 64"
                                           " to 100000000, got 8")
        setEnvironment(self, WEBLOG_HISTORY="off")
        self.assertEqual(config_problem(), "")

    def test_configBadHtpasswd(self):
        """A bad C{$WEBLOG_HTPASSWD} is the problem, in one line; a good one is none."""
        path = os.path.join(self.directory, "htpasswd")
        setEnvironment(self, WEBLOG_HTPASSWD=path)
        self.assertEqual(config_problem(), f"WEBLOG_HTPASSWD {path}: No such file or directory")
        with open(path, "wb") as file:
            file.write(htpasswd_entry("alice", "a"))
        self.assertEqual(config_problem(), "")

    def test_startupCheckOnlyLooks(self) -> None:
        """L{config_problem} on a directory no server used creates nothing, and holds no lock."""
        self.assertEqual(config_problem(), "")
        self.assertEqual(os.listdir(self.directory), [])
        counter = Counter(self.directory, clock=Clock())
        self.addCleanup(counter.stop)
        self.assertEqual(config_problem(),
                         f"WEBLOG_STATE {self.directory} is in use by another weblog server "
                         f"(pid {os.getpid()}); each server needs its own")
        self.assertEqual(counter.problem, "")
        counter.stop()
        self.assertEqual(config_problem(), "")

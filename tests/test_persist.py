# -*- test-case-name: tests.test_persist -*-
"""Tests for L{persist}, the article's module: L{persist.Records} made from the settings."""

from __future__ import annotations

import os

import persist
from persist import Records
from twisted.trial import unittest
from weblog import counter, interfaces, records
from weblog.following import LogFollower

from tests.support import DirectoryCase, page_log, pages, resources, setEnvironment
from tests.test_logformat import COMBINED_LINES, COMMON, CUSTOM, TIME, hit


class NamesTests(unittest.TestCase):
    """The article's names are the package's objects."""

    def test_names(self) -> None:
        """Counter and the registry's keys are weblog's; Records is weblog's, made from settings."""
        self.assertIs(persist.Counter, counter.Counter)
        self.assertIs(persist.ICounter, interfaces.ICounter)
        self.assertIs(persist.IRecords, interfaces.IRecords)
        self.assertTrue(issubclass(Records, records.Records))


class SettingsTests(DirectoryCase):
    """Without arguments, L{Records} follows the logs, and keeps the hits, the settings name."""

    def test_pathFromEnvironment(self) -> None:
        """Without a path, the log is C{$WEBLOG_LOG}, else C{var/access.log}."""
        setEnvironment(self, WEBLOG_LOG=self.path, WEBLOG_KEEP=None)
        self.assertEqual(Records(clock=self.clock).path, self.path)
        os.environ.pop("WEBLOG_LOG")
        self.assertEqual(Records(clock=self.clock).path, os.path.join("var", "access.log"))

    def test_keepFromEnvironment(self) -> None:
        """Without keep, it is C{$WEBLOG_KEEP}, else 10000."""
        setEnvironment(self, WEBLOG_KEEP="3")
        self.append(page_log(range(5)))
        records = Records(self.path, clock=self.clock)
        self.addCleanup(records.stop)
        self.assertEqual(records.keep, 3)
        self.assertEqual(resources(records.getNew()), pages(range(4, 1, -1)))
        os.environ.pop("WEBLOG_KEEP")
        self.assertEqual(Records(self.path, clock=self.clock).keep, 10000)

    def test_badKeepFromEnvironment(self) -> None:
        """A bad C{$WEBLOG_KEEP} is a misconfigured state naming it; an explicit keep is not."""
        setEnvironment(self)
        self.append(page_log(range(2)))
        for text in ("lots", "0", "1000001"):
            os.environ["WEBLOG_KEEP"] = text
            records = Records(self.path, clock=self.clock)
            status = records.status()
            self.assertEqual(status["state"], "misconfigured")
            self.assertTrue(status["reason"].startswith("WEBLOG_KEEP must be "), status)
            self.assertEqual(records.getNew(), [])
            self.assertEqual(records.lines, 0)
            self.assertEqual(Records(self.path, keep=2, clock=self.clock).keep, 2)
        self.flushLoggedErrors()

    def test_readBackIsKeep(self) -> None:
        """At the start each log is read back only as many lines as are kept."""
        self.append(page_log(range(20)))
        records = Records(self.path, keep=5, clock=self.clock)
        self.addCleanup(records.stop)
        self.assertEqual(resources(records.getNew()), pages(range(19, 14, -1)))
        self.assertEqual((records.lines, records.malformed), (5, 0))

    def test_severalPaths(self) -> None:
        """Paths joined by C{:} are one follower each, in order; empty parts are none."""
        other = os.path.join(self.directory, "other.log")
        records = Records(f"{self.path}::{other}:", keep=5, clock=self.clock)
        self.addCleanup(records.stop)
        self.assertEqual([follower.path for follower in records.followers], [self.path, other])
        self.assertEqual(records.path, f"{self.path}::{other}:")

    def test_followersOnTheClock(self) -> None:
        """Each follower's linger runs on the clock given: a rotated-away log is let go on it."""
        self.append(page_log(range(1)))
        records = Records(self.path, keep=5, clock=self.clock)
        self.addCleanup(records.stop)
        records.poll()
        os.rename(self.path, self.path + ".1")
        self.append(page_log(range(1, 2)))
        records.poll()
        [follower] = records.followers
        self.assertIsInstance(follower, LogFollower)
        self.assertEqual(len(follower.held_files()), 2)
        self.clock.advance(30)
        records.poll()
        self.assertEqual(len(follower.held_files()), 1)


class FormatCase(DirectoryCase):
    """Records on the log keeping 10 hits, in a format, and the lines written in it."""

    def appendLines(self, *lines: str) -> None:
        """Append C{lines}, each ended by a newline, to the log."""
        self.append(b"".join(line.encode("utf-8") + b"\n" for line in lines))

    def records(self, format: str | None = None) -> Records:
        """A Records on the log keeping 10 hits, in C{format} if given, stopped at cleanup."""
        records = Records(self.path, keep=10, clock=self.clock, format=format)
        self.addCleanup(records.stop)
        return records


class FormatTests(FormatCase):
    """L{Records} parses its log with a custom format, or says why it cannot."""

    def test_customFormat(self):
        """Lines in the given format become hits, newest first (with C{%D}'s time taken)."""
        self.appendLines(f'{TIME} 1.2.3.4 "GET /a HTTP/1.1" 200 5 7 "agent" "-"',
                         "not a line",
                         f'{TIME} 1.2.3.5 "GET /b HTTP/1.1" 404 - 9 "-" "http://r/"')
        records = self.records(format=CUSTOM)
        self.assertEqual(
            records.getNew(),
            [hit(client="1.2.3.5", resource="/b", status=404, bytes=None, referrer="http://r/",
                 duration=9),
             hit(resource="/a", agent="agent", duration=7)],
        )
        self.assertEqual((records.lines, records.malformed), (3, 1))
        self.assertEqual(records.status()["state"], "ok")

    def test_combinedLineNotInFormat(self):
        """With a custom format, a combined line that does not match it is malformed."""
        self.appendLines(COMBINED_LINES[0])
        records = self.records(format=CUSTOM)
        self.assertEqual(records.getNew(), [])
        self.assertEqual((records.lines, records.malformed), (1, 1))

    def test_nonAsciiDigitsMalformed(self):
        """A line whose byte count is a superscript digit is counted malformed, not raised."""
        self.appendLines(f'1.2.3.4 - - {TIME} "GET / HTTP/1.1" 200 \u00b2',
                         f'1.2.3.4 - - {TIME} "GET / HTTP/1.1" 200 5')
        records = self.records(format=COMMON)
        self.assertEqual(records.getNew(), [hit()])
        self.assertEqual((records.lines, records.malformed), (2, 1))

    def test_badFormat(self):
        """A bad format: misconfigured with the FormatError's message, and nothing is read."""
        self.appendLines(COMBINED_LINES[0])
        records = self.records(format="%Z")
        status = records.status()
        self.assertEqual(
            (status["state"], status["reason"]),
            ("misconfigured", "WEBLOG_FORMAT '%Z': unknown directive %Z"),
        )
        self.assertEqual(records.getNew(), [])
        self.assertEqual(records.lines, 0)
        self.flushLoggedErrors()


class FormatFromEnvironmentTests(FormatCase):
    """Without a format argument, C{$WEBLOG_FORMAT} chooses the format."""

    def test_formatFromEnvironment(self):
        """Without a format argument, Records uses C{$WEBLOG_FORMAT}."""
        setEnvironment(self, WEBLOG_FORMAT=CUSTOM)
        self.appendLines(f'{TIME} 1.2.3.4 "GET / HTTP/1.1" 200 5 7 "agent" "-"')
        self.assertEqual(self.records().getNew(), [hit(agent="agent", duration=7)])

    def test_argumentOverridesEnvironment(self):
        """A format argument wins over C{$WEBLOG_FORMAT}."""
        setEnvironment(self, WEBLOG_FORMAT=CUSTOM)
        self.appendLines(f'1.2.3.4 - - {TIME} "GET / HTTP/1.1" 200 5')
        self.assertEqual(self.records(format=COMMON).getNew(), [hit()])

    def test_autoDetectionWithoutFormat(self):
        """Without C{$WEBLOG_FORMAT} (or with it empty), lines are auto-detected."""
        for value in (None, ""):
            setEnvironment(self, WEBLOG_FORMAT=value)
            self.appendLines(f'1.2.3.4 - - {TIME} "GET / HTTP/1.1" 200 5')
            self.assertEqual(self.records().getNew()[0], hit())

    def test_badFormatFromEnvironment(self):
        """A bad C{$WEBLOG_FORMAT} makes Records misconfigured with its message."""
        setEnvironment(self, WEBLOG_FORMAT='%h "%r"')
        status = self.records().status()
        self.assertEqual(
            (status["state"], status["reason"]),
            ("misconfigured", "WEBLOG_FORMAT '%h \"%r\"': needs %t for the time"),
        )
        self.flushLoggedErrors()

# -*- test-case-name: tests.test_logfiles -*-
"""Tests for L{weblog.logfiles}: rotated siblings in logrotate's names, and files' identities."""

from __future__ import annotations

import gzip
import os

from twisted.trial import unittest
from weblog.logfiles import FIRST_LINE_MOST, identity, open_log, siblings


class SiblingsTests(unittest.TestCase):
    """L{siblings}: a log's rotated files, oldest first, then the log."""

    def setUp(self) -> None:
        self.directory = self.mktemp()
        os.mkdir(self.directory)
        self.log = os.path.join(self.directory, "access.log")

    def touch(self, *names: str) -> None:
        """Create empty files named C{names} in the directory."""
        for name in names:
            open(os.path.join(self.directory, name), "wb").close()

    def names(self) -> list[str]:
        """The siblings' base names."""
        return [os.path.basename(path) for path in siblings(self.log)]

    def test_numbered(self) -> None:
        """Higher numbers are older, compressed or not; the log comes last, even when absent."""
        self.touch("access.log.1", "access.log.2.gz", "access.log.10.gz", "access.log.3.gz")
        self.assertEqual(self.names(), ["access.log.10.gz", "access.log.3.gz",
                                        "access.log.2.gz", "access.log.1", "access.log"])

    def test_dated(self) -> None:
        """dateext names are older the earlier their date, and older than numbered ones."""
        self.touch("access.log", "access.log-20261130.gz", "access.log-20261201",
                   "access.log-2026-11-29.gz", "access.log.1")
        self.assertEqual(self.names(), ["access.log-2026-11-29.gz", "access.log-20261130.gz",
                                        "access.log-20261201", "access.log.1", "access.log"])

    def test_othersLeftOut(self) -> None:
        """Files that logrotate would not have named so are not siblings."""
        self.touch("access.log", "access.log.old", "access.log.1.tmp", "access.log.x.gz",
                   "error.log.1", "access.logs.1", "access.log-2026")
        self.assertEqual(self.names(), ["access.log"])

    def test_noDirectory(self) -> None:
        """A log in a directory that does not exist is its own only sibling."""
        self.assertEqual(siblings("/nonexistent/dir/access.log"), ["/nonexistent/dir/access.log"])


class IdentityTests(unittest.TestCase):
    """L{identity}: a file known by its first line, through renames and compression."""

    def write(self, name: str, data: bytes) -> str:
        """Write C{data} to a new file named C{name} (compressed for a .gz name)."""
        path = os.path.join(self.mktemp())
        os.mkdir(path)
        path = os.path.join(path, name)
        with (gzip.open(path, "wb") if name.endswith(".gz") else open(path, "wb")) as file:
            file.write(data)
        return path

    def test_sameThroughCompression(self) -> None:
        """A file and its compressed copy have one identity; another first line, another."""
        plain = self.write("access.log", b"first\nsecond\n")
        self.assertEqual(identity(plain), identity(self.write("access.log.2.gz",
                                                              b"first\nsecond\nthird\n")))
        self.assertNotEqual(identity(plain), identity(self.write("other", b"First\n")))

    def test_unfinishedFirstLine(self) -> None:
        """An empty file, or one whose first line is still being written, has none yet."""
        self.assertIsNone(identity(self.write("empty", b"")))
        self.assertIsNone(identity(self.write("partial", b"no newline yet")))

    def test_longFirstLine(self) -> None:
        """A first line longer than FIRST_LINE_MOST is known by its first bytes."""
        line = b"x" * FIRST_LINE_MOST
        self.assertEqual(identity(self.write("a", line)), identity(self.write("b", line + b"y")))

    def test_unfinishedCompression(self) -> None:
        """A gzip file cut short (being written) has no identity yet, rather than an error."""
        whole = self.write("whole.log.2.gz", b"first\n" * 1000)
        with open(whole, "rb") as file:
            header = file.read(12)
        with open(whole, "wb") as file:
            file.write(header)
        self.assertIsNone(identity(whole))

    def test_openLog(self) -> None:
        """open_log reads a compressed log's content."""
        path = self.write("access.log.3.gz", b"a\nb\n")
        with open_log(path) as log:
            self.assertEqual(log.read(), b"a\nb\n")

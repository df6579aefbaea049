# -*- test-case-name: tests.test_errors -*-
"""Tests for L{weblog.errors}: one hierarchy of ValueErrors, each a line with the bad value."""

from __future__ import annotations

from twisted.trial import unittest
from weblog.errors import (
    BadQuery,
    ConfigError,
    FormatError,
    HtpasswdError,
    LogLineError,
    WeblogError,
    shown,
)
from weblog.parsing import parse_line


class HierarchyTests(unittest.TestCase):
    """Every error is a L{WeblogError}, and so a C{ValueError}."""

    def test_logLineErrorIsValueError(self):
        """LogLineError is a ValueError."""
        self.assertTrue(issubclass(LogLineError, ValueError))

    def test_formatErrorIsValueError(self):
        """FormatError is a ValueError."""
        self.assertTrue(issubclass(FormatError, ValueError))

    def test_oneRoot(self):
        """Each error is a WeblogError; a bad format or htpasswd file is a bad setting."""
        for error in (ConfigError, FormatError, HtpasswdError, LogLineError, BadQuery):
            self.assertTrue(issubclass(error, WeblogError), error)
        for error in (FormatError, HtpasswdError):
            self.assertTrue(issubclass(error, ConfigError), error)
        self.assertFalse(issubclass(LogLineError, ConfigError))
        self.assertFalse(issubclass(BadQuery, ConfigError))


class MessageTests(unittest.TestCase):
    """Each message is one line that repeats the bad value, quoted and bounded."""

    def test_strIsOneLine(self):
        """str(error) is one line: the reason, then the line's repr."""
        error = self.assertRaises(LogLineError, parse_line, "garbage\r\n")
        self.assertEqual((error.line, error.reason), ("garbage\r\n", "not an access-log line"))
        self.assertEqual(str(error), "not an access-log line: 'garbage\\r\\n'")

    def test_strIsBounded(self):
        """str(error) shows at most the first 80 characters of the line."""
        error = self.assertRaises(LogLineError, parse_line, "x" * 500)
        self.assertEqual((error.line, error.reason), ("x" * 500, "not an access-log line"))
        self.assertEqual(str(error), "not an access-log line: '" + "x" * 80 + "'")

    def test_logLineBytes(self):
        """A line given as bytes is repeated as bytes, undecoded."""
        error = LogLineError(b"\xff\n", "not an access-log line")
        self.assertEqual(str(error), "not an access-log line: b'\\xff\\n'")

    def test_format(self):
        """A FormatError names the variable and repeats the format, cut to 60 characters."""
        format = "%h\n" + "%Z" * 40
        error = FormatError(format, "unknown directive %Z")
        self.assertEqual(str(error), f"WEBLOG_FORMAT {format[:60]!r}: unknown directive %Z")
        self.assertEqual(error.format, format)
        self.assertNotIn("\n", str(error))

    def test_badQuery(self):
        """A BadQuery names the parameter before its reason, and keeps the name."""
        error = BadQuery("limit", "must be a whole number from 1 to 1000, got 'lots'")
        self.assertEqual(str(error), "limit: must be a whole number from 1 to 1000, got 'lots'")
        self.assertEqual(error.name, "limit")

    def test_shown(self):
        """shown() quotes and escapes a value, cut to 80 characters or to the most given."""
        self.assertEqual(shown("a'b\n"), '"a\'b\\n"')
        self.assertEqual(shown("x" * 100), repr("x" * 80))
        self.assertEqual(shown(b"\x00" * 10, 3), "b'\\x00\\x00\\x00'")

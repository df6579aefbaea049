# -*- test-case-name: tests.test_cleaning -*-
"""Tests for L{weblog.cleaning}: server escapes undone, the unprintable made visible, fields cut."""

from __future__ import annotations

from twisted.trial import unittest
from weblog.cleaning import MAX_FIELD, clean
from weblog.parsing import parse_line

from tests.support import written


class EscapeTests(unittest.TestCase):
    """Server escapes are undone; what is not printable UTF-8 stays visible as escapes."""

    def test_apacheQuoteAndBackslash(self):
        """Apache's C{\\"} and C{\\\\} in a referrer become C{"} and C{\\}."""
        parsed = parse_line(written(referrer='http://x/\\"q\\"\\\\path'))
        self.assertEqual(parsed.referrer, 'http://x/"q"\\path')

    def test_escapedBackslashBeforeHex(self):
        """An escaped backslash followed by C{x41} is the text C{\\x41}, not C{A}."""
        self.assertEqual(parse_line(written(referrer="a\\\\x41")).referrer, "a\\x41")

    def test_nginxHexQuote(self):
        """nginx's C{\\x22} is a double quote and C{\\x5C} a backslash."""
        self.assertEqual(parse_line(written(referrer="a\\x22b\\x5Cc")).referrer, 'a"b\\c')

    def test_nginxUtf8(self):
        """nginx's C{\\xC3\\xA9} is decoded as UTF-8 to C{é}."""
        self.assertEqual(parse_line(written(agent="caf\\xC3\\xA9")).agent, "café")

    def test_invalidUtf8StaysVisible(self):
        """Escaped bytes that are not UTF-8 stay as the visible text C{\\xe4\\xe5}."""
        parsed = parse_line(written(referrer="http://\\xe4\\xe5/"))
        self.assertEqual(parsed.referrer, "http://\\xe4\\xe5/")

    def test_rawInvalidByte(self):
        """A raw byte that is not UTF-8 in a bytes line is shown as C{\\xff}."""
        line = b'1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /\xfe HTTP/1.1" 200 5 "-" "A\xffB"'
        parsed = parse_line(line)
        self.assertEqual((parsed.agent, parsed.resource), ("A\\xffB", "/\\xfe"))

    def test_rawUtf8Bytes(self):
        """Raw UTF-8 bytes in a bytes line are decoded."""
        parsed = parse_line(written(agent="Ünïcode 日本").encode("utf-8"))
        self.assertEqual(parsed.agent, "Ünïcode 日本")

    def test_escapedControlCharacters(self):
        """Escaped escape, NUL and Apache's C{\\t} come out as visible C{\\xhh} escapes."""
        parsed = parse_line(written(agent="a\\x1b[31mb\\x00c\\td"))
        self.assertEqual(parsed.agent, "a\\x1b[31mb\\x00c\\x09d")

    def test_rawControlCharacters(self):
        """Raw escape, NUL and tab inside a field come out as visible escapes."""
        parsed = parse_line(written(agent="a\x1b[31mb\x00c\td"))
        self.assertEqual(parsed.agent, "a\\x1b[31mb\\x00c\\x09d")

    def test_rawBidiOverride(self):
        """A raw right-to-left override U+202E comes out as C{\\u202e}."""
        self.assertEqual(parse_line(written(referrer="x\u202egnp.exe")).referrer,
                         "x\\u202egnp.exe")

    def test_escapedBidiOverride(self):
        """U+202E logged as its escaped UTF-8 bytes also comes out as C{\\u202e}."""
        parsed = parse_line(written(referrer="x\\xe2\\x80\\xaegnp.exe"))
        self.assertEqual(parsed.referrer, "x\\u202egnp.exe")

    def test_longFieldCut(self):
        """A field longer than MAX_FIELD is cut to exactly MAX_FIELD characters, ending in …."""
        parsed = parse_line(written(agent="a" * (MAX_FIELD + 500)))
        self.assertEqual(parsed.agent, "a" * (MAX_FIELD - 1) + "\u2026")

    def test_fieldOfMaxLengthKept(self):
        """A field of exactly MAX_FIELD characters is kept whole."""
        self.assertEqual(parse_line(written(agent="a" * MAX_FIELD)).agent, "a" * MAX_FIELD)

    def test_expandedEscapesCut(self):
        """Visible escapes count toward MAX_FIELD: 1000 control bytes are cut to MAX_FIELD."""
        cleaned = clean("\x01" * 1000)
        self.assertEqual(cleaned, ("\\x01" * 1000)[: MAX_FIELD - 1] + "\u2026")

    def test_cleanPrintableUnchanged(self):
        """clean() leaves printable text without backslashes as it is."""
        self.assertEqual(clean("http://example.com/ü?a=1&b=<2>"), "http://example.com/ü?a=1&b=<2>")

    def test_loneSurrogateInText(self):
        """A str line holding a lone surrogate shows it as C{\\ud800}; it does not crash."""
        self.assertEqual(parse_line(written(agent="a\ud800b")).agent, "a\\ud800b")

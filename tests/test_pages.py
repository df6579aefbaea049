# -*- test-case-name: tests.test_pages -*-
"""
The weblog pages, rendered in-process: each resource answers a DummyRequest, as Twisted's own
resource tests do (twisted.web.test.test_script); the .rpy files run as a Site runs them.
"""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from typing import Any
from unittest import mock
from urllib.parse import parse_qsl, urlsplit

from persist import Counter, ICounter, IRecords, Records
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial import unittest
from twisted.web import script, static
from twisted.web.static import Registry
from twisted.web.http import parse_qs
from twisted.web.resource import IResource, getChildForRequest
from twisted.web.server import NOT_DONE_YET
from twisted.web.template import Element, XMLString, renderer, tags
from twisted.web.test.requesthelper import DummyRequest
from weblog.aggregates import Aggregates
from zope.interface import implementer
from weblog.answers import IRendered, Rendered, rendered_for
from weblog.document import hit_json
from weblog.history import OFF, QueryFailed
from weblog.interfaces import IHistory
from weblog.links import referrer_link
from weblog.panels import PANELS, Panel
from weblog.parsing import as_text
from weblog.render import SUMMARY, HitCells, rendered, settled
from weblog.resources import DynamicPage, JsonPage, WeblogPage
from weblog.selection import Selection
from weblog.sse import stats_data

from tests.support import REPO, combined, setEnvironment

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


class Rows(HTMLParser):
    """
    The hits table of a page: each row's cells by class, as text, and each referrer's link;
    the row template's cells too, apart.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[dict[str, str]] = []
        self.links: list[str | None] = []
        self.classes: list[str] = []
        self.template: list[tuple[str, str, list[tuple[str, str | None]]]] = []
        self.where: str | None = None  # "rows", "template" or None
        self.cell: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "tbody" and attributes.get("id") == "hits":
            self.where = "rows"
        elif tag == "template" and attributes.get("id") == "hit-row":
            self.where = "template"
        elif self.where == "rows" and tag == "tr":
            self.rows.append({})
            self.links.append(None)
            self.classes.append(attributes.get("class") or "")
        elif self.where is not None and tag == "td":
            self.cell = attributes.get("class") or ""
            if self.where == "rows":
                self.rows[-1][self.cell] = ""
            else:
                self.template.append((self.cell, "", []))
        elif self.where is not None and self.cell is not None and tag != "td":
            if self.where == "template":
                self.template[-1][2].append((tag, attributes.get("rel")))
            elif tag == "a":
                self.links[-1] = attributes.get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("tbody", "template"):
            self.where = None
        elif tag == "td":
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.where == "rows" and self.cell is not None:
            self.rows[-1][self.cell] += data
        elif self.where == "template" and self.cell is not None:
            cell, text, inside = self.template[-1]
            self.template[-1] = (cell, text + data, inside)


def rows_of(body: bytes) -> Rows:
    """Parse the hits table of a weblog page."""
    parser = Rows()
    parser.feed(body.decode("utf-8"))
    parser.close()
    return parser


def get(resource: IResource, query: str = "", path: bytes = b"",
        prepath: list[bytes] | None = None) -> DummyRequest:
    """
    GET C{path} (below C{resource}) with C{query}, as a Site would, with a DummyRequest.

    @param prepath: the path the site consumed to reach C{resource} (default C{weblog.rpy}).
    @return: the request, answered.
    """
    request = DummyRequest(path.split(b"/") if path else [])
    request.prepath = [b"weblog.rpy"] if prepath is None else list(prepath)
    request.args = parse_qs(query.encode(), 1)  # as twisted.web.http.Request parses it
    request.render(getChildForRequest(resource, request))
    return request


def body_of(request: DummyRequest) -> bytes:
    """What a finished request's answer said."""
    assert request.finished, "the answer is not finished"
    return b"".join(request.written)


class PageCase(unittest.TestCase):
    """A log of the test's own, and Records following it on a Clock."""

    def setUp(self) -> None:
        self.log = FilePath(self.mktemp())
        self.log.touch()
        self.clock = Clock()
        self.records = self.follow()

    def follow(self) -> Records:
        """Records following the test's log, stopped after the test."""
        records = Records(self.log.path, keep=1000, clock=self.clock)
        self.addCleanup(records.stop)
        return records

    def writeLog(self, *lines: str) -> None:
        """Append lines to the log."""
        with open(self.log.path, "a", encoding="utf-8") as log:
            log.writelines(lines)

    def page(self, query: str = "", **kwargs: Any) -> bytes:
        """The weblog page for C{query}, answered with 200 as HTML."""
        request = get(WeblogPage(self.records, **kwargs), query)
        self.assertEqual(request.responseCode, None)  # DummyRequest's 200
        self.assertEqual(request.responseHeaders.getRawHeaders(b"content-type"),
                         [b"text/html; charset=utf-8"])
        return body_of(request)

    def resources(self, query: str = "") -> list[str]:
        """The resource column of the page for C{query}, top to bottom."""
        return [row["resource"] for row in rows_of(self.page(query)).rows]

    def document(self, query: str = "") -> Any:
        """The JSON for C{query}."""
        request = get(WeblogPage(self.records), query, b"json")
        self.assertEqual(request.responseHeaders.getRawHeaders(b"content-type"),
                         [b"application/json; charset=utf-8"])
        return json.loads(body_of(request))


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


class WeblogPageTests(PageCase):
    """/weblog.rpy: the latest hits as HTML."""

    def test_latestReferrerHitsNewestFirst(self):
        """Only status-200 hits with a referrer show, newest (last written) first."""
        self.writeLog(
            combined("/first", "http://a.example/"),
            combined("/no-referrer", "-"),
            combined("/not-found", "http://b.example/", status=404),
            combined("/second", "http://c.example/", time="17/May/2015:09:00:00 +0000"),
        )
        page = self.page()
        table = rows_of(page)
        self.assertEqual([row["resource"] for row in table.rows], ["/second", "/first"])
        self.assertEqual(table.classes, ["row0", "row1"])
        self.assertIn(b"4 lines read, 0 malformed", page)

    def test_defaultLimitIs35(self):
        """Without a limit, the page shows the article's 35 rows."""
        self.writeLog(*[combined(f"/page{number}") for number in range(50)])
        resources = self.resources()
        self.assertEqual(len(resources), 35)
        self.assertEqual(resources[0], "/page49")

    def test_appendedLineShowsOnNextRequest(self):
        """A line appended after a request shows on the next one."""
        self.writeLog(combined("/before"))
        self.assertEqual(self.resources(), ["/before"])
        self.writeLog(combined("/after", "http://later.example/"))
        self.assertEqual(self.resources(), ["/after", "/before"])

    def test_hostileLineIsInert(self):
        """A script in the referrer, request and user-agent is escaped text in the page."""
        self.writeLog(combined(f"/x{XSS}", f"http://evil.example/{XSS}", agent=XSS))
        page = self.page("limit=5").decode()
        self.assertNotIn("<script>", page)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", page)
        self.assertIn('href="http://evil.example/&quot;&gt;&lt;script&gt;', page)

    def test_onlyHttpReferrersAreLinks(self):
        """A javascript: referrer is text, never a link; http(s) ones are nofollow links."""
        self.writeLog(combined("/a", "javascript:alert(document.cookie)"),
                      combined("/b", "https://ok.example/"))
        page = self.page().decode()
        self.assertNotIn('href="javascript:', page)
        self.assertIn('<td class="referrer">javascript:alert(document.cookie)</td>', page)
        self.assertIn('<a href="https://ok.example/" rel="noopener noreferrer nofollow">', page)

    def test_referrerHostsShownInAscii(self):
        """
        A referrer whose host is not ASCII is a link that shows (and goes to) its IDNA form, or
        text when it cannot be encoded: a lookalike never shows as the name it imitates.
        """
        self.writeLog(*[combined(f"/r{number}", referrer)
                        for number, (referrer, _) in enumerate(REFERRER_LINKS)])
        table = rows_of(self.page("limit=100"))
        expected = [(link, link) if link is not None else (referrer, None)
                    for referrer, link in reversed(REFERRER_LINKS)]
        self.assertEqual([(row["referrer"], link) for row, link in zip(
            table.rows, table.links, strict=True)], expected)

    def test_topListsShowHostsInAscii(self):
        """The top referring sites and referrers show a lookalike host in its IDNA form."""
        self.writeLog(combined("/a", "https://p\u0430ypal.com/login"),
                      combined("/b", "https://p\u0430ypal.com/login"))
        page = self.page().decode()
        sites = re.findall(r'<ol id="top-sites" data-display="host"[^>]*>(.*?)</ol>', page)[0]
        referrers = re.findall(r'<ol id="top-referrers" data-display="url"[^>]*>(.*?)</ol>',
                               page)[0]
        self.assertIn('<span class="key">xn--pypal-4ve.com</span>', sites)
        self.assertIn('<span class="key">https://xn--pypal-4ve.com/login</span>', referrers)
        self.assertNotIn("\u0430", sites + referrers)

    def test_panelEntriesDrillDown(self):
        """
        Each entry of the live page's drill-down panels links to the history view with its
        filter, keeping the page's own parameters; its list says how the script links more.
        """
        self.records.history = StatedHistory(state="ok")
        self.writeLog(combined("/a b", "http://x.example/p?q=1", status=200))
        page = self.page("status=all").decode()
        found = {}
        for name in ("sites", "referrers", "resources", "statuses"):
            [items] = re.findall(rf'<ol id="top-{name}"[^>]*>(.*?)</ol>', page)
            found[name] = [dict(parse_qsl(urlsplit(html.unescape(href)).query))
                           for href in re.findall(r'<a href="([^"]*)"', items)]
        self.assertEqual(found, {
            "sites": [{"status": "all", "site": "x.example"}],
            "referrers": [{"status": "all", "ref": "http://x.example/p?q=1"}],
            "resources": [{"status": "all", "resource": "/a b"}],
            "statuses": [{"status": "200"}],
        })
        self.assertIn('<ol id="top-sites" data-display="host" data-view="/weblog.rpy?status=all" '
                      'data-filter="site">', page)

    def test_panelEntriesTextWithoutHistory(self):
        """With the history off, the live page's panel entries are text: no view to open."""
        self.writeLog(combined("/a", "http://x.example/"))
        page = self.page().decode()
        [aside] = re.findall('<div class="panels" id="panels">(.*)</main>', page)
        self.assertIn('<span class="key">x.example</span>', aside)
        self.assertNotIn("<a ", aside)
        self.assertNotIn("data-view", aside)

    def test_everyPanelListed(self):
        """Each panel of PANELS has its list, named for the script, saying how it shows keys."""
        self.writeLog(combined("/a"))
        lists = re.findall(r'<h2>([^<]*)</h2><ol id="top-([a-z]+)" data-display="([a-z]+)"',
                           self.page().decode())
        self.assertEqual(lists, [(panel.title, panel.name, panel.display) for panel in PANELS])

    def test_newPanelNeedsNoRendering(self):
        """A panel added to PANELS is counted and listed, its keys shown as it displays them."""
        agents = Panel("agents", "Top user-agents", "agent", as_text)
        self.records.aggregates = Aggregates(panels=(*PANELS, agents))
        self.writeLog(combined("/a", agent="Bot <1>"), combined("/b", agent="Bot <1>"))
        with mock.patch("weblog.render.PANELS", (*PANELS, agents)):
            page = self.page().decode()
        self.assertIn('<section class="top"><h2>Top user-agents</h2><ol id="top-agents" '
                      'data-display="text"><template><li><span class="count"></span> '
                      '<span class="key"></span></li></template><li><span class="count">2</span> '
                      '<span class="key">Bot &lt;1&gt;</span></li></ol></section>', page)

    def test_rowTemplateIsTheServersRow(self):
        """The row the script fills for a live hit has the server's cells, empty, and its link."""
        self.writeLog(combined("/a", "http://a.example/"))
        table = rows_of(self.page())
        self.assertEqual([cell for cell, _, _ in table.template], list(table.rows[0]))
        self.assertEqual({text for _, text, _ in table.template}, {""})
        self.assertEqual({cell: inside for cell, _, inside in table.template if inside},
                         {"time": [("time", None)],
                          "referrer": [("a", "noopener noreferrer nofollow")]})

    def test_logCountsFormat(self):
        """The log's counts carry their wording for the script, filled as the server fills it."""
        self.writeLog(combined("/a"), "garbage\n")
        page = self.page().decode()
        self.assertIn(f'<span id="log-counts" data-format="{SUMMARY}">2 lines read, 1 malformed, '
                      "0 rotations</span>", page)

    def test_securityHeaders(self):
        """The page sends a script-from-self CSP, nosniff and no-referrer."""
        request = get(WeblogPage(self.records))
        headers = request.responseHeaders
        [csp] = headers.getRawHeaders(b"content-security-policy") or [b""]
        self.assertIn(b"script-src 'self'", csp)
        self.assertNotIn(b"unsafe-inline", csp)
        self.assertEqual(headers.getRawHeaders(b"x-content-type-options"), [b"nosniff"])
        self.assertEqual(headers.getRawHeaders(b"referrer-policy"), [b"no-referrer"])

    def test_missingLogIsAState(self):
        """A log that does not exist yet is shown as waiting, and followed once it appears."""
        self.log.remove()
        self.records = self.follow()
        self.assertIn(f"waiting for {self.log.path}: not found".encode(), self.page())
        self.writeLog(combined("/appeared"))
        page = self.page()
        self.assertEqual([row["resource"] for row in rows_of(page).rows], ["/appeared"])
        self.assertNotIn(b"waiting for", page)

    def test_deletedLogShowsAtOnce(self):
        """A log deleted after a page was kept shows as waiting though no count changed."""
        self.writeLog(combined("/a"))
        self.assertNotIn(b"waiting for", self.page())
        self.log.remove()
        self.clock.advance(60)  # past the follower's linger on a deleted file
        self.assertIn(f"waiting for {self.log.path}".encode(), self.page())

    def test_misconfiguredIsAState(self):
        """A bad WEBLOG_FORMAT is shown on the page and in the JSON, not raised."""
        setEnvironment(self, WEBLOG_FORMAT="%h %Z")
        self.writeLog(combined("/never"))
        self.records = self.follow()
        self.assertIn(f"cannot follow {self.log.path}: WEBLOG_FORMAT '%h %Z': "
                      "unknown directive %Z".encode(), self.page())
        log = self.document()["log"]
        self.assertEqual((log["state"], log["lines"]), ("misconfigured", 0))
        self.flushLoggedErrors()

    def test_filters(self):
        """status, referrer and q select among the kept hits."""
        self.writeLog(
            combined("/a", "-"),
            combined("/b", "http://x.example/", status=404),
            combined("/c", "http://needle.example/", status=301),
        )
        cases = {
            "status=all&referrer=any": ["/c", "/b", "/a"],
            "status=4xx": ["/b"],
            "status=301": ["/c"],
            "status=all&q=needle": ["/c"],
            "status=all&referrer=any&q=/a": ["/a"],
            "status=all&limit=1": ["/c"],
        }
        for query, expected in cases.items():
            self.assertEqual(self.resources(query), expected, query)

    def test_unknownChildIs404(self):
        """An unknown child of weblog.rpy is a 404 page, not a traceback."""
        request = get(WeblogPage(self.records), path=b"nope")
        self.assertEqual(request.responseCode, 404)
        self.assertNotIn(b"Traceback", body_of(request))

    def test_trailingSlashIsThePage(self):
        """C{weblog.rpy/} is the page itself, its links those of C{weblog.rpy}."""
        request = get(WeblogPage(self.records), path=b"")
        self.assertIn(b'<body data-events="/weblog.rpy/events"', body_of(request))


BAD_QUERIES = [
    ("limit=0", "limit: must be a whole number from 1 to 1000, got '0'"),
    ("limit=-5", "limit: must be a whole number from 1 to 1000, got '-5'"),
    ("limit=" + "9" * 5000, "limit: must be a whole number from 1 to 1000, got '99999"),
    ("status=abc", "status: must be a status like 200, a class like 2xx, or all"),
    ("referrer=no", "referrer: must be required or any, got 'no'"),
    ("limit=1&limit=2", "limit: given more than once"),
    ("q=" + "a" * 201, "q: must be at most 200 characters, got 201"),
    ("bogus=1", "bogus: unknown parameter"),
    ("q=%ff", "q: is not valid UTF-8"),
    ("status=%3Cscript%3E", "status: must be a status like 200, a class like 2xx, or all, "
                            "got '<script>'"),
]
"""Bad queries and how their reason starts."""


def reason_of(body: bytes) -> str:
    """The reason Twisted's error page gives: the text of its one paragraph."""
    [paragraph] = re.findall(rb"<p>(.*?)</p>", body, re.S)
    return html.unescape(paragraph.decode("utf-8"))


class BadQueryTests(PageCase):
    """A bad query gets Twisted's error page: 400, its one-line reason the page's paragraph."""

    def test_badQueryIs400WithReason(self):
        """On the page and its JSON: 400, HTML, and the reason as text, escaped."""
        for query, reason in BAD_QUERIES:
            for path in (b"", b"json", b"events"):
                request = get(WeblogPage(self.records), query, path)
                body = body_of(request)
                what = (query[:40], path, body[:200])
                self.assertEqual(request.responseCode, 400, what)
                self.assertEqual(request.responseHeaders.getRawHeaders(b"content-type"),
                                 [b"text/html; charset=utf-8"], what)
                self.assertTrue(body.startswith(b"<!DOCTYPE html>\n<html><head><title>"
                                                b"400 - Bad Request</title>"), what)
                self.assertTrue(reason_of(body).startswith(reason), what)
                self.assertNotIn("\n", reason_of(body), what)
                self.assertNotIn(b"<script>", body, what)
                self.assertEqual(request.responseHeaders.getRawHeaders(b"x-content-type-options"),
                                 [b"nosniff"], what)

    def test_badSince(self):
        """The event stream's since parameter is checked the same way."""
        request = get(WeblogPage(self.records), "since=x", b"events")
        self.assertEqual((request.responseCode, reason_of(body_of(request))),
                         (400, "since: must be a hit id, a whole number, got 'x'"))


class JsonPageTests(PageCase):
    """/weblog.rpy/json: the same selection as JSON."""

    def test_shape(self):
        """The JSON has the log's state and counts and the selected hits, newest first."""
        self.writeLog(combined("/one"), "garbage\n", combined("/two", "-"))
        document = self.document("referrer=any")
        log = document["log"]
        self.assertEqual(
            (log["path"], log["state"], log["lines"], log["malformed"], log["rotations"]),
            (self.log.path, "ok", 3, 1, 0),
        )
        self.assertEqual(document["query"], {"limit": 35, "status": "200", "referrer": "any",
                                             "q": "", "bots": "include", "own": "hide"})
        self.assertEqual(
            document["hits"][1],
            {
                "time": "2015-05-17T10:05:03+00:00", "client": "203.0.113.7", "method": "GET",
                "resource": "/one", "protocol": "HTTP/1.1", "status": 200, "bytes": 123,
                "referrer": "http://example.com/", "agent": "Mozilla/5.0", "vhost": None,
                "source": None, "duration_ms": None,
            },
        )
        self.assertEqual([hit["resource"] for hit in document["hits"]], ["/two", "/one"])
        self.assertIsNone(document["hits"][0]["referrer"])

    def test_hostileLineIsInert(self):
        """A script in every field comes back as the same text, with no raw < > or & in the body."""
        self.writeLog(combined(f"/x{XSS}&", f"http://evil.example/{XSS}", agent=XSS))
        body = body_of(get(JsonPage(self.records)))
        for char in b"<>&":
            self.assertNotIn(bytes([char]), body)
        hit = json.loads(body)["hits"][0]
        self.assertEqual(hit["resource"], f"/x{XSS}&")
        self.assertEqual(hit["referrer"], f"http://evil.example/{XSS}")
        self.assertEqual(hit["agent"], XSS)

    def test_aggregates(self):
        """The JSON carries top lists and hits per minute, weblog's own pages left out."""
        self.writeLog(
            combined("/a", "http://one.example/x", time="17/May/2015:10:05:03 +0000"),
            combined("/a", "http://one.example/y", time="17/May/2015:10:06:59 +0000"),
            combined("/b", "-", status=404, time="17/May/2015:10:06:00 +0000"),
            combined("/weblog.rpy/json", "-", time="17/May/2015:10:06:00 +0000"),
        )
        document = self.document()
        self.assertEqual(document["top"]["sites"], [["one.example", 2]])
        self.assertEqual(document["top"]["resources"], [["/a", 2], ["/b", 1]])
        self.assertEqual(document["top"]["statuses"], [["200", 2], ["404", 1]])
        self.assertEqual(document["total"], 3)
        self.assertEqual(len(document["per_minute"]), 60)
        self.assertEqual(document["per_minute"][-2:],
                         [["2015-05-17T10:05:00+00:00", 1], ["2015-05-17T10:06:00+00:00", 2]])

    def test_ownHitsHiddenUnlessAsked(self):
        """weblog's own page loads are hidden by default and shown with own=show."""
        self.writeLog(combined("/weblog.rpy", "http://127.0.0.1/"), combined("/real"))
        self.assertEqual([hit["resource"] for hit in self.document()["hits"]], ["/real"])
        self.assertEqual([hit["resource"] for hit in self.document("own=show")["hits"]],
                         ["/real", "/weblog.rpy"])


class RenderedTests(PageCase):
    """Rendered: what the pages rendered from one Records, kept across pages and requests."""

    def test_answerKeptUntilRecordsChange(self):
        """The same view is answered from what was kept, until a line is read."""
        registry = Registry()
        self.writeLog(combined("/a"))
        first = self.page(registry=registry)
        rendered = registry.getComponent(IRendered)
        self.assertEqual(len(rendered.answers), 1)
        self.assertIs(self.page(registry=registry), first)
        self.writeLog(combined("/b"))
        self.assertEqual(rows_of(self.page(registry=registry)).rows[0]["resource"], "/b")
        self.assertEqual(len(rendered.answers), 2)

    def test_cellsRenderedOncePerHit(self):
        """Pages of different views share the cells of their hits, flattened once each."""
        registry = Registry()
        self.writeLog(*[combined(f"/r{number}") for number in range(5)])
        self.page("limit=5", registry=registry)
        cells = registry.getComponent(IRendered).fragments.cells
        kept = dict(cells.kept)
        self.page("limit=3", registry=registry)
        self.page("limit=5&q=r", registry=registry)
        self.assertEqual(len(cells.kept), 5)
        for hit, each in cells.kept.items():
            self.assertIs(each, kept[hit])

    def test_jsonSharesThePages(self):
        """A page's JSON child keeps its answers where the page does."""
        page = WeblogPage(self.records, registry=Registry())
        body_of(get(page, path=b"json"))
        body_of(get(page))
        self.assertEqual([key[0] for key in page.rendered.answers], ["json", "html"])

    def test_oneRenderedPerRecords(self):
        """The registry keeps one Rendered for its Records, and a new one for new Records."""
        registry = Registry()
        rendered = rendered_for(registry, self.records)
        self.assertIsInstance(rendered, Rendered)
        self.assertIs(rendered_for(registry, self.records), rendered)
        self.assertIs(WeblogPage(self.records, registry=registry).rendered, rendered)
        other = self.follow()
        self.assertIs(rendered_for(registry, other).records, other)
        self.assertIs(registry.getComponent(IRendered).records, other)

    def test_laterFragments(self):
        """A fragment whose renderer answers later is waited for, then written."""
        later: Deferred[str] = Deferred()

        class Later(Element):
            loader = XMLString('<p xmlns:t="http://twistedmatrix.com/ns/twisted.web.template/0.1"'
                               ' t:render="text" />')

            @renderer
            def text(self, request: object, tag: Any) -> Deferred[Any]:
                return later.addCallback(tag)

        self.writeLog(combined("/a"))
        self.records.poll()
        request: Any = DummyRequest([])
        answer = Rendered(self.records).answer(
            request, ("later",), Selection(), lambda hit: rendered(Later()),
            lambda pieces, *_: [b"<div>", *pieces, b"</div>"])
        self.assertEqual((answer, request.written), (NOT_DONE_YET, []))
        later.callback("made later")
        self.assertEqual(body_of(request), b"<div><p>made later</p></div>")

    def test_settled(self):
        """Pieces all there are themselves; with one to come, a Deferred of them all."""
        self.assertEqual(settled([b"a", b"b"]), [b"a", b"b"])
        to_come: Deferred[bytes] = Deferred()
        result = settled([b"a", to_come])
        assert isinstance(result, Deferred)
        to_come.callback(b"b")
        self.assertEqual(self.successResultOf(result), [b"a", b"b"])

    def test_hitCellsAtOnce(self):
        """weblog's own elements flatten at once, to bytes."""
        self.writeLog(combined("/a"))
        [hit] = self.records.getNew()
        self.assertIsInstance(rendered(HitCells(hit)), bytes)
        self.assertIsInstance(rendered(tags.p(HitCells(None))), bytes)
        self.assertIsInstance(hit_json(hit), bytes)


class SlicedPageTests(PageCase):
    """A page made in slices shows the hits up to the id it tells its event stream."""

    def test_lastIdIsTheRowsOwn(self):
        """
        Lines read while a page's slices run are neither shown nor skipped: the page's
        data-last-id is its newest row's id (it was the newest hit's, so the stream
        skipped the hits read meanwhile).
        """
        self.writeLog(*[combined(f"/first{n}") for n in range(10)])
        self.records.poll()
        request: Any = DummyRequest([b""])
        with mock.patch("weblog.slices.SLICE", 0):  # every job in slices of one step
            self.assertEqual(WeblogPage(self.records).render_GET(request), NOT_DONE_YET)
            self.writeLog(*[combined(f"/later{n}") for n in range(5)])
            self.records.poll()
            self.clock.advance(0)
        page = body_of(request).decode()
        self.assertEqual(re.findall(r'data-last-id="(\d+)"', page), ["10"])
        self.assertEqual(len(re.findall(r'<td class="resource">/first', page)), 10)
        self.assertNotIn("/later", page)


@implementer(IHistory)
class StatedHistory:
    """A history whose status the test sets (the historian process is tested in test_history)."""

    def __init__(self, answer: dict[str, Any] | None = None, **status: Any) -> None:
        self.state = {**OFF, **status}
        self.answer = answer
        self.asked: list[dict[str, Any]] = []

    def status(self) -> dict[str, Any]:
        return dict(self.state)

    def query(self, view: dict[str, Any]) -> Deferred[dict[str, Any]]:
        """The answer given, or why there is none (the history's reason)."""
        self.asked.append(view)
        if self.answer is None:
            return fail(QueryFailed(f"the history is {self.state['state']}: not ready"))
        return succeed(self.answer)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


class HistoryShownTests(PageCase):
    """The history's state in the JSON, on the page and in the stats events."""

    BACKFILLING: dict[str, Any] = {
        "state": "backfilling", "stored": 1234, "bytes_done": 250, "bytes_total": 1000,
        "lines_per_second": 98765, "seconds_left": 3, "oldest": "2015-05-17T10:05:00+00:00",
        "newest": "2015-05-18T11:06:00+00:00", "size_bytes": 41_000_000}

    def test_off(self):
        """Without a store the JSON says off, and the page says so without a bar."""
        self.assertEqual(self.document()["history"], OFF)
        page = self.page().decode()
        self.assertIn("History is off (WEBLOG_HISTORY=off)", page)
        self.assertIn('<progress max="1" value="0" id="history-bar" hidden="">', page)

    def test_backfilling(self):
        """While it reads the logs: its object in the JSON, a bar and the pace on the page."""
        self.records.history = StatedHistory(**self.BACKFILLING)
        self.assertEqual(self.document()["history"], {**OFF, **self.BACKFILLING})
        page = self.page().decode()
        self.assertIn('<p class="history state-backfilling" id="history"><progress max="1000" '
                      'value="250" id="history-bar"></progress> <span id="history-text">'
                      "History: reading the logs, 25% of 1.0 KB (98,765 lines/s, about 3 s left);"
                      " 1,234 hits stored, from 2015-05-17 10:05 UTC to 2015-05-18 11:06 UTC"
                      " (41.0 MB).</span></p>", page)

    def test_troubleSaysWhy(self):
        """A store in trouble: the page says which, why, and that the live view goes on."""
        self.records.history = StatedHistory(state="locked", reason="var/history.duckdb: held")
        self.assertIn("History locked: var/history.duckdb: held; the live view goes on from "
                      "memory.", self.page().decode())

    def test_troubleSaysWhatIsHeld(self):
        """A store in trouble that holds hits: the page says how many, their time and size."""
        self.records.history = StatedHistory(**{**self.BACKFILLING, "state": "full",
                                                "reason": "var/history.duckdb: no space"})
        self.assertIn("History full: var/history.duckdb: no space; the live view goes on from "
                      "memory; 1,234 hits stored, from 2015-05-17 10:05 UTC to 2015-05-18 11:06"
                      " UTC (41.0 MB).", self.page().decode())

    def test_capShown(self):
        """With a cap, the page says the store's size against it; the JSON says it too."""
        self.records.history = StatedHistory(**{**self.BACKFILLING, "state": "ok",
                                                "max_bytes": 1_000_000_000})
        self.assertEqual(self.document()["history"]["max_bytes"], 1_000_000_000)
        self.assertIn("History: 1,234 hits stored, from 2015-05-17 10:05 UTC to 2015-05-18 11:06"
                      " UTC (41.0 MB of at most 1.0 GB).", self.page().decode())

    def test_changeIsShown(self):
        """A page kept for the same hits is made again when the history's state changes."""
        history = self.records.history = StatedHistory(**self.BACKFILLING)
        registry = Registry()
        self.page(registry=registry)
        history.state = {**history.state, "state": "ok", "bytes_done": 1000, "size_bytes": 2e6}
        self.assertIn("History: 1,234 hits stored, from 2015-05-17 10:05 UTC to 2015-05-18 11:06"
                      " UTC (2.0 MB).", self.page(registry=registry).decode())

    def test_statsEvent(self):
        """The stats events carry the history and the page's sentence of it."""
        self.records.history = StatedHistory(state="starting", reason="the historian is starting")
        data = stats_data(self.records)
        self.assertEqual((data["history"]["state"], data["history_text"]),
                         ("starting", "History: the historian is starting."))


class DynamicPageTests(unittest.TestCase):
    """/dynamic.rpy: the article's page with a view count kept across restarts."""

    def test_countsAcrossRestart(self):
        """Each view counts; a counter made again on the same state goes on from its count."""
        state = self.mktemp()
        counter = Counter(state, clock=Clock())
        for expected in (1, 2):
            body = body_of(get(DynamicPage(counter), prepath=[b"dynamic.rpy"])).decode()
            self.assertIn(f'<span id="views">{expected}</span>', body)
            self.assertIn("Dynamic Page served by Twisted Matrix", body)
        counter.stop()
        counter = Counter(state, clock=Clock())
        self.addCleanup(counter.stop)
        body = body_of(get(DynamicPage(counter), prepath=[b"dynamic.rpy"])).decode()
        self.assertIn('<span id="views">3</span>', body)


class ScriptTests(unittest.TestCase):
    """The .rpy files, run as a Site runs them for each request, with the site's registry."""

    def setUp(self) -> None:
        self.www = FilePath(self.mktemp())
        REPO.child("www").copyTo(self.www)
        log = FilePath(self.mktemp())
        log.setContent(combined("/kept").encode())
        setEnvironment(self, WEBLOG_LOG=log.path, WEBLOG_STATE=self.mktemp(), WEBLOG_KEEP="100",
                       WEBLOG_HTPASSWD=None)
        self.root = static.File(self.www.path)
        self.root.processors = {".rpy": script.ResourceScript}
        self.addCleanup(self.stopShared)

    def stopShared(self) -> None:
        """Stop what the scripts left in the registry, as the reactor's shutdown would."""
        for interface in (IRecords, ICounter):
            shared = self.root.registry.getComponent(interface)
            if shared is not None:
                shared.stop()

    def fetch(self, path: bytes) -> bytes:
        """GET C{path} from the site's root."""
        request = DummyRequest(path.split(b"/"))
        request.render(getChildForRequest(self.root, request))
        return body_of(request)

    def test_sharedObjectsOutliveEachRun(self):
        """Every run of weblog.rpy finds the same Records and Rendered in the registry."""
        self.assertIn(b'<td class="resource">/kept</td>', self.fetch(b"weblog.rpy"))
        records = self.root.registry.getComponent(IRecords)
        rendered = self.root.registry.getComponent(IRendered)
        self.assertIsInstance(rendered, Rendered)
        self.assertIs(rendered.records, records)
        self.assertIn(b'"resource":"/kept"', self.fetch(b"weblog.rpy/json"))
        self.assertIs(self.root.registry.getComponent(IRecords), records)
        self.assertIs(self.root.registry.getComponent(IRendered), rendered)
        self.assertEqual(len(rendered.answers), 2)

    def test_liveEditKeepsRecords(self):
        """An edit to weblog.rpy shows on the next request; the same Records (place, hits) stays."""
        self.assertIn(b"<h1>Latest hits</h1>", self.fetch(b"weblog.rpy"))
        records = self.root.registry.getComponent(IRecords)
        before = (records.lines, list(records.newest()), records.status()["path"])
        rpy = self.www.child("weblog.rpy")
        rpy.setContent(rpy.getContent() + b'page.heading = "Edited while serving"\n')
        page = self.fetch(b"weblog.rpy")
        self.assertIn(b"<h1>Edited while serving</h1>", page)
        self.assertIn(b"<title>weblog: Edited while serving</title>", page)
        self.assertIn(b'<td class="resource">/kept</td>', page)
        self.assertIs(self.root.registry.getComponent(IRecords), records)
        self.assertEqual((records.lines, list(records.newest()), records.status()["path"]), before)

    def test_dynamicPage(self):
        """dynamic.rpy counts each view with the Counter it keeps in the registry."""
        for expected in (1, 2):
            self.assertIn(f'<span id="views">{expected}</span>'.encode(),
                          self.fetch(b"dynamic.rpy"))

    def test_indexLinksEveryPage(self):
        """/ links the weblog page, its JSON, the dynamic page, the snapshot and the metrics."""
        index = self.www.child("index.html").getContent().decode()
        links = set(re.findall(r'href="([^"?]*)', index))
        self.assertTrue({"/weblog.rpy", "/weblog.rpy/json", "/dynamic.rpy", "/weblog.html",
                         "/metrics.rpy"} <= links, links)


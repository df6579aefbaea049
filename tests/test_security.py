# -*- test-case-name: tests.test_security -*-
"""The security suite: hostile log text, bad queries, traversal, tracebacks and headers."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

from persist import Records
from weblog.question import RANGES
from twisted.internet import defer, protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.task import Clock
from twisted.trial import unittest
from twisted.web import server
from twisted.web.http_headers import Headers
from twisted.web.resource import Resource
from weblog.events import EventHub
from weblog.links import DISPLAYS
from weblog.render import SUMMARY
from weblog.resources import WeblogPage
from weblog.selection import Selection
from weblog.viewlinks import PANEL_FILTERS

from tests.support import REPO, SiteCase
from tests.test_events import Client
from tests.test_pages import reason_of

# (the text as the client sent it, the text weblog shows: control and format characters,
# and the server's escapes of them, become visible backslash escapes)
PAYLOADS: list[tuple[str, str]] = [
    ("<script>alert(1)</script>", "<script>alert(1)</script>"),
    ("<ScRiPt>alert(1)</sCrIpT>", "<ScRiPt>alert(1)</sCrIpT>"),
    ('"><img src=x onerror=alert(1)>', '"><img src=x onerror=alert(1)>'),
    ("'><svg onload=alert(1)>", "'><svg onload=alert(1)>"),
    ("javascript:alert(1)", "javascript:alert(1)"),
    ("JaVaScRiPt:alert(1)", "JaVaScRiPt:alert(1)"),
    (" javascript:alert(1)", " javascript:alert(1)"),
    ("\tjavascript:alert(1)", "\\x09javascript:alert(1)"),
    ("java\tscript:alert(1)", "java\\x09script:alert(1)"),
    ("javascript\n:alert(1)", "javascript\\x0a:alert(1)"),
    ("\x00javascript:alert(1)", "\\x00javascript:alert(1)"),
    ("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
     "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="),
    ("&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("&#60;script&#62;alert(1)&#60;/script&#62;", "&#60;script&#62;alert(1)&#60;/script&#62;"),
    ("%3Cscript%3Ealert(1)%3C/script%3E", "%3Cscript%3Ealert(1)%3C/script%3E"),
    ("\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",
     "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e"),
    ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),
    ("x\u0085y", "x\\x85y"),
    ("\u202egnp.exe", "\\u202egnp.exe"),
    ("</script><script>alert(1)</script>", "</script><script>alert(1)</script>"),
    ("{{7*7}}${7*7}", "{{7*7}}${7*7}"),
    ('<a href="javascript:alert(1)">x</a>', '<a href="javascript:alert(1)">x</a>'),
    ('http://x.example/"><script>alert(1)</script>', 'http://x.example/"><script>alert(1)</script>'),
    ("https://x.example/?a=1&b=<b>'\"", "https://x.example/?a=1&b=<b>'\""),
    ("http://x.example/ onmouseover=alert(1) x=", "http://x.example/ onmouseover=alert(1) x="),
]

FIELDS = ("client", "user", "resource", "referrer", "agent")
SHOWN_IN_HTML = {"client": "client", "resource": "resource", "referrer": "referrer"}
SHOWN_IN_JSON = ("client", "resource", "referrer", "agent")
ALL = "status=all&referrer=any&limit=1000"


def logged(text: str) -> str:
    """A field as Apache logs it: quotes and backslashes escaped, control characters as \\xhh."""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return re.sub(r"[\x00-\x1f\x7f]", lambda found: f"\\x{ord(found.group()):02x}", text)


def representable(field: str, text: str) -> bool:
    """Whether C{text} can stand in C{field} of a combined line (no space in a bare field)."""
    if field in ("client", "user"):
        return not re.search(r'[\s"]', logged(text), re.ASCII) and not text.startswith("-")
    return True


def hostile_lines() -> list[tuple[str, str, dict[str, str]]]:
    """
    One combined line per payload and field it fits in: (field, line, shown fields).

    The other fields hold harmless values; shown fields are what a hit shows for the line.
    """
    found = []
    for number, (text, shown) in enumerate(PAYLOADS):
        for field in FIELDS:
            if not representable(field, text):
                continue
            values = {"client": "203.0.113.7", "user": "-", "resource": f"/ok{number}{field}",
                      "referrer": "http://ok.example/", "agent": "Mozilla/5.0"}
            values[field] = text
            request = logged(f"GET {values['resource']} HTTP/1.1")
            line = (
                f"{logged(values['client'])} - {logged(values['user'])} "
                f'[17/May/2015:10:05:03 +0000] "{request}" 200 123 '
                f'"{logged(values["referrer"])}" "{logged(values["agent"])}"\n'
            )
            expected = {name: values[name] for name in FIELDS}
            expected[field] = shown
            found.append((field, line, expected))
    return found


class PageParser(HTMLParser):
    """Collects every element with its attributes, and the cells of the hits table."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.rows: list[dict[str, str]] = []
        self.keys: list[str] = []
        self._inHits = False
        self._cell: str | None = None
        self._key = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.elements.append((tag, attributes))
        if tag == "tbody" and attributes.get("id") == "hits":
            self._inHits = True
        elif self._inHits and tag == "tr":
            self.rows.append({})
        elif self._inHits and tag == "td":
            self._cell = attributes.get("class", "")
            self.rows[-1][self._cell] = ""
        elif tag == "span" and attributes.get("class") == "key":
            self._key = True
            self.keys.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._inHits = False
        elif tag == "td":
            self._cell = None
        elif tag == "span":
            self._key = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self.rows[-1][self._cell] += data
        if self._key:
            self.keys[-1] += data


def parse_page(body: bytes) -> PageParser:
    """Parse an HTML page."""
    parser = PageParser()
    parser.feed(body.decode("utf-8"))
    parser.close()
    return parser


PAGE_TAGS = {
    "html", "head", "meta", "noscript", "title", "link", "script", "body", "header", "h1",
    "span", "p", "code", "strong", "form", "label", "input", "select", "option", "button",
    "div", "main", "table", "thead", "tbody", "tr", "th", "td", "time", "a", "aside",
    "section", "h2", "ol", "li", "svg", "rect", "text", "template", "progress", "nav",
    "caption", "footer",
}
"""Every element the weblog page itself is made of."""


def as_browser_sees(url: str) -> str:
    """A URL as a browser reads it: tabs and newlines removed, leading controls and spaces cut."""
    return re.sub(r"[\t\n\r]", "", url).lstrip("".join(map(chr, range(0x21))))


class RawClient(protocol.Protocol):
    """Sends bytes as they are, and collects the whole answer until the server closes."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.data = b""
        self.done: defer.Deferred[bytes] = defer.Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.request)

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Any = None) -> None:
        self.done.callback(self.data)


def parse_response(data: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
    """An HTTP/1.1 answer as (code, headers lower-cased, body), a chunked body decoded."""
    if not data:
        return 0, {}, b""  # closed without an answer
    head, _, body = data.partition(b"\r\n\r\n")
    status, *fields = head.split(b"\r\n")
    headers = {}
    for field in fields:
        name, _, value = field.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if headers.get(b"transfer-encoding") == b"chunked":
        decoded = b""
        while body:
            size, _, rest = body.partition(b"\r\n")
            length = int(size.split(b";")[0], 16)
            if length == 0:
                break
            decoded += rest[:length]
            body = rest[length + 2:]
        body = decoded
    return int(status.split(b" ")[1]), headers, body


class _SecurityCase(SiteCase):
    """SiteCase with raw requests and the checks every answer must pass."""

    @defer.inlineCallbacks
    def raw(self, request: bytes):
        """Send C{request} exactly as given; return (code, headers, body) of the answer."""
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port.getHost().port)
        client = RawClient(request)
        yield connectProtocol(endpoint, client)
        data = yield client.done.addTimeout(10, reactor)
        return parse_response(data)

    def rawGet(self, target: bytes, method: bytes = b"GET", extra: bytes = b"",
               content: bytes = b""):
        """Send one request for C{target}, asking the server to close afterwards."""
        length = b"Content-Length: %d\r\n" % len(content) if content else b""
        return self.raw(method + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        + extra + length + b"Connection: close\r\n\r\n" + content)

    def assertNoTraceback(self, body: bytes, what: object = None) -> None:
        """The body shows no Python traceback."""
        self.assertNotIn(b"Traceback", body, what)
        self.assertNotIn(b'File "', body, what)

    def assertSecurityHeaders(self, headers: Headers, what: object = None) -> None:
        """A script-from-self CSP without unsafe-inline, nosniff and no-referrer."""
        [csp] = headers.getRawHeaders(b"content-security-policy") or [b""]
        self.assertIn(b"script-src 'self'", csp, what)
        self.assertNotIn(b"unsafe-inline", csp, what)
        self.assertEqual(headers.getRawHeaders(b"x-content-type-options"), [b"nosniff"], what)
        self.assertEqual(headers.getRawHeaders(b"referrer-policy"), [b"no-referrer"], what)


class HostileLogTests(_SecurityCase):
    """Every payload, in every field that comes from the log, stays inert on every URL."""

    def setUp(self) -> None:
        super().setUp()
        self.lines = hostile_lines()
        self.writeLog(*[line for _, line, _ in self.lines])

    def test_everyFieldCanHoldSomePayload(self):
        """The table is exercised: each field holds several payloads, the bare fields fewer."""
        fields = [field for field, _, _ in self.lines]
        self.assertEqual(
            {field: fields.count(field) for field in FIELDS},
            {"client": 18, "user": 18, "resource": 25, "referrer": 25, "agent": 25},
        )

    @defer.inlineCallbacks
    def test_html(self):
        """
        The page has no script but its own, no on* attribute, no link that is not http(s)
        but its own views (a panel entry's adds one filter, whatever the key), and every
        payload shows as escaped text in its cell.
        """
        self.serve()
        code, _, body = yield self.get(f"/weblog.rpy?{ALL}")
        self.assertEqual(code, 200)
        self.assertIn(f"{len(self.lines)} lines read, 0 malformed".encode(), body)
        self.assertEqual([tag.lower() for tag in re.findall(rb"<\s*(script|img|svg|iframe)",
                                                            body, re.I)], [b"script", b"svg"])
        page = parse_page(body)
        tags = {tag for tag, _ in page.elements}
        self.assertEqual(tags - PAGE_TAGS, set())
        scripts = [attributes for tag, attributes in page.elements if tag == "script"]
        self.assertEqual(scripts, [{"src": "/weblog.js", "defer": "defer"}])
        for tag, attributes in page.elements:
            for name, value in attributes.items():
                self.assertFalse(name.startswith("on"), (tag, name, value))
                self.assertFalse(as_browser_sees(value).lower().startswith(
                    ("javascript:", "vbscript:", "data:")), (tag, name, value))
        own = {"/", "/weblog.rpy/json?limit=1000&status=all&referrer=any",
               "/weblog.rpy/events?limit=1000&status=all&referrer=any",
               *(f"/weblog.rpy?range={span}" for span in RANGES)}  # the history's views
        for tag, attributes in page.elements:
            if tag == "a" and "href" not in attributes:  # the row template's, for the script
                self.assertEqual(attributes, {"rel": "noopener noreferrer nofollow"})
            elif tag == "a" and attributes["href"] in own:
                continue
            elif tag == "a" and attributes["href"].startswith("/weblog.rpy?"):  # a drill-down
                href = attributes["href"]
                self.assertTrue(stays_on_site(href), href)
                view, viewed = dict(parse_qsl(urlsplit(href).query)), dict(parse_qsl(ALL))
                [added] = [name for name, value in view.items() if viewed.get(name) != value]
                self.assertIn(added, PANEL_FILTERS.values(), href)
            elif tag == "a":
                href = attributes["href"]
                self.assertEqual(as_browser_sees(href), href)
                self.assertTrue(href.lower().startswith(("http://", "https://")), href)
                self.assertEqual(attributes["rel"], "noopener noreferrer nofollow")
        self.assertEqual(len(page.rows), len(self.lines))
        for row, (field, _, expected) in zip(page.rows, reversed(self.lines), strict=True):
            for name, cell in SHOWN_IN_HTML.items():
                self.assertEqual(row[cell], expected[name], (field, expected))
                self.assertIn(html.escape(expected[name], quote=False).encode(), body)
        self.assertIn("<script>alert(1)</script>", page.keys)
        self.assertIn('"><img src=x onerror=alert(1)>', page.keys)

    @defer.inlineCallbacks
    def test_csv(self):
        """
        The hits as CSV: each row gives back what a hit shows, and no cell a spreadsheet
        could run (a formula's first character is after a quote), whatever the field.
        """
        formulas = [("referrer", "=cmd|' /C calc'!A0"), ("agent", "+HYPERLINK(1)"),
                     ("referrer", "@SUM(1+1)"), ("agent", "-2+3")]
        for field, text in formulas:
            values = {"referrer": "http://ok.example/", "agent": "Mozilla/5.0", field: text}
            line = ('203.0.113.7 - - [17/May/2015:10:05:03 +0000] "GET /f HTTP/1.1" 200 1 '
                    f'"{values["referrer"]}" "{values["agent"]}"\n')
            self.writeLog(line)
            self.lines.append((field, line, {"client": "203.0.113.7", "user": "-",
                                             "resource": "/f", **values}))
        self.serve()
        code, headers, body = yield self.get(f"/weblog.rpy/csv?panel=hits&{ALL}")
        self.assertEqual(code, 200)
        self.assertEqual(headers.getRawHeaders(b"content-type"), [b"text/csv; charset=utf-8"])
        self.assertEqual(headers.getRawHeaders(b"content-disposition"),
                         [b'inline; filename="weblog-hits.csv"'])
        self.assertSecurityHeaders(headers)
        header, *rows = csv.reader(io.StringIO(body.decode("utf-8"), newline=""))
        self.assertEqual(len(rows), len(self.lines))
        escaped = 0
        for row, (field, _, expected) in zip(rows, reversed(self.lines), strict=True):
            cells = dict(zip(header, row, strict=True))
            for name in SHOWN_IN_JSON:
                shown = expected[name]
                if shown.startswith(("=", "+", "-", "@", "\t", "\r")):
                    shown, escaped = "'" + shown, escaped + 1
                self.assertEqual(cells[name], shown, (field, name))
            self.assertFalse(any(cell.startswith(("=", "+", "-", "@", "\t", "\r"))
                                 for cell in row), row)
        self.assertEqual(escaped, len(formulas))

    @defer.inlineCallbacks
    def test_json(self):
        """No raw <, > or & in the body; json.loads gives back exactly what a hit shows."""
        self.serve()
        code, _, body = yield self.get(f"/weblog.rpy/json?{ALL}")
        self.assertEqual(code, 200)
        for char in (b"<", b">", b"&", "\u2028".encode(), "\u2029".encode()):
            self.assertNotIn(char, body)
        document = json.loads(body)
        self.assertEqual((document["log"]["lines"], document["log"]["malformed"]),
                         (len(self.lines), 0))
        hits = document["hits"]
        self.assertEqual(len(hits), len(self.lines))
        for hit, (field, _, expected) in zip(hits, reversed(self.lines), strict=True):
            self.assertEqual({name: hit[name] for name in SHOWN_IN_JSON},
                             {name: expected[name] for name in SHOWN_IN_JSON}, field)
        referrers = [key for key, _ in document["top"]["referrers"]]
        self.assertIn("http://ok.example/", referrers)

    @defer.inlineCallbacks
    def test_events(self):
        """Each replayed hit event is one data line that gives back exactly what a hit shows."""
        self.serve()
        response, collector = yield self.openStream(f"?{ALL}&since=0")
        last = len(self.lines)
        data = yield collector.waitFor(b"id: %d\n" % last)
        data = data[:data.index(b"\n\n", data.index(b"id: %d\n" % last)) + 2]
        self.assertNotIn("\u2028".encode(), data)
        blocks = data.split(b"\n\n")
        self.assertEqual(blocks[0], b"retry: 2000")
        self.assertEqual(blocks[-1], b"")
        events = blocks[1:-1]
        self.assertEqual(len(events), len(self.lines))
        for number, (block, (field, _, expected)) in enumerate(
                zip(events, self.lines, strict=True), 1):
            fields = re.split(rb"\r\n|\r|\n", block)
            self.assertEqual(fields[:2], [b"id: %d" % number, b"event: hit"], field)
            self.assertEqual(len(fields), 3, (field, block))
            self.assertTrue(fields[2].startswith(b"data: "))
            hit = json.loads(fields[2][len(b"data: "):])
            self.assertEqual({name: hit[name] for name in SHOWN_IN_JSON},
                             {name: expected[name] for name in SHOWN_IN_JSON}, field)


class HostileRecordsTests(unittest.TestCase):
    """Records and the event hub, on a Clock: every field as a hit shows it, stats in one line."""

    def setUp(self) -> None:
        self.path = self.mktemp()
        self.clock = Clock()
        self.records = Records(self.path, keep=1000, clock=self.clock)
        self.addCleanup(self.records.stop)
        self.lines = hostile_lines()

    def read(self) -> None:
        """Write every hostile line to the log and read it."""
        with open(self.path, "a") as log:
            log.writelines(line for _, line, _ in self.lines)
        self.records.poll()

    def test_everyFieldShown(self):
        """Each hit's client, user, resource, referrer and agent are exactly what clean() shows."""
        self.read()
        self.assertEqual((self.records.lines, self.records.malformed), (len(self.lines), 0))
        hits = list(self.records.newest())[::-1]
        for hit, (field, _, expected) in zip(hits, self.lines, strict=True):
            self.assertEqual({name: getattr(hit, name) for name in FIELDS}, expected, field)

    def test_statsEventOneLine(self):
        """A stats event carrying the hostile top lists is one event with one data line."""
        hub = EventHub(self.records, self.clock)
        client = Client(hub, Selection(limit=1000, status="all", referrer="any"))
        self.addCleanup(client.leave)
        self.read()
        self.clock.advance(5)
        written = client.body
        self.assertNotIn(b"<", written)
        self.assertNotIn("\u2028".encode(), written)
        [stats] = [block for block in written.split(b"\n\n") if block.startswith(b"event: stats")]
        fields = re.split(rb"\r\n|\r|\n", stats)
        self.assertEqual(len(fields), 2)
        self.assertTrue(fields[1].startswith(b"data: "))
        data = json.loads(fields[1][len(b"data: "):])
        self.assertEqual([key for key, _ in data["top"]["referrers"]],
                         ["http://ok.example/"] + [shown for _, shown in PAYLOADS[:9]])
        hits = [block for block in written.split(b"\n\n") if b"event: hit" in block]
        self.assertEqual(len(hits), len(self.lines))
        for block in hits:
            self.assertEqual(len(re.split(rb"\r\n|\r|\n", block)), 3, block)


BAD_QUERIES: list[tuple[str, bytes]] = [
    ("limit=" + "9" * 10000,
     b"limit: must be a whole number from 1 to 1000, got '99999999999999999999...'\n"),
    ("q=" + "a" * 10000, b"q: must be at most 200 characters, got 10000\n"),
    ("status=" + "5" * 10000, b"status: must be a status like 200, a class like 2xx, or all, "
                              b"got '55555555555555555555...'\n"),
    ("limit=-1", b"limit: must be a whole number from 1 to 1000, got '-1'\n"),
    ("limit=abc", b"limit: must be a whole number from 1 to 1000, got 'abc'\n"),
    ("limit=1.5", b"limit: must be a whole number from 1 to 1000, got '1.5'\n"),
    ("limit=%EF%BC%91", "limit: must be a whole number from 1 to 1000, got '\uff11'\n".encode()),
    ("limit=", b"limit: must be a whole number from 1 to 1000, got ''\n"),
    ("status=-200", b"status: must be a status like 200, a class like 2xx, or all, got '-200'\n"),
    ("referrer=none", b"referrer: must be required or any, got 'none'\n"),
    ("bots=no", b"bots: must be include, exclude or only, got 'no'\n"),
    ("own=no", b"own: must be hide or show, got 'no'\n"),
    ("limit=5&limit=5", b"limit: given more than once\n"),
    ("q=a&q=b", b"q: given more than once\n"),
    ("own=hide&own=show", b"own: given more than once\n"),
    ("a" * 10000 + "=1", b"a" * 40 + b": unknown parameter\n"),
    ("foo=1", b"foo: unknown parameter\n"),
    ("LIMIT=5", b"LIMIT: unknown parameter\n"),
    ("limit=%00", b"limit: must be a whole number from 1 to 1000, got '\\x00'\n"),
    ("status=%00", b"status: must be a status like 200, a class like 2xx, or all, got '\\x00'\n"),
    ("referrer=any%00", b"referrer: must be required or any, got 'any\\x00'\n"),
    ("q=%ff", b"q: is not valid UTF-8\n"),
    ("limit=%ff", b"limit: is not valid UTF-8\n"),
    ("%ff=1", "\ufffd: unknown parameter\n".encode()),
]

EVENTS_BAD_QUERIES: list[tuple[str, bytes]] = [
    ("since=-1", b"since: must be a hit id, a whole number, got '-1'\n"),
    ("since=abc", b"since: must be a hit id, a whole number, got 'abc'\n"),
    ("since=%00", b"since: must be a hit id, a whole number, got '\\x00'\n"),
    ("since=" + "9" * 30, b"since: must be a hit id, a whole number, got '" + b"9" * 20 + b"'\n"),
    ("since=1&since=1", b"since: given more than once\n"),
]

URLS = ("/weblog.rpy", "/weblog.rpy/json", "/weblog.rpy/events")


class BadQueryTests(_SecurityCase):
    """
    Bad query parameters get 400 on every URL: Twisted's error page, its one paragraph a short
    one-line reason, the bad value in it escaped.
    """

    @defer.inlineCallbacks
    def checkBadQuery(self, url: str, query: str, reason: bytes | None = None,
                      longest: int = 120):
        """GET C{url?query}; check the 400 answer (a reason shorter than C{longest}); return
        its reason, with a newline."""
        code, headers, body = yield self.get(f"{url}?{query}")
        what = (url, query[:60], body)
        self.assertEqual(code, 400, what)
        self.assertEqual(headers.getRawHeaders(b"content-type"),
                         [b"text/html; charset=utf-8"], what)
        self.assertSecurityHeaders(headers, what)
        self.assertTrue(body.startswith(b"<!DOCTYPE html>\n<html><head><title>400 - Bad Request"
                                        b"</title></head><body><h1>Bad Request</h1><p>"), what)
        self.assertEqual(body.count(b"\n"), 1, what)
        self.assertNotIn(b"\r", body, what)
        self.assertNoTraceback(body, what)
        shown = reason_of(body)
        self.assertLess(len(shown), longest, what)
        self.assertTrue(shown.isprintable(), what)
        self.assertEqual(html.escape(shown, quote=False).encode(),
                         re.findall(rb"<p>(.*)</p>", body)[0], what)
        if reason is not None:
            self.assertEqual(f"{shown}\n".encode(), reason, what)
        return f"{shown}\n".encode()

    @defer.inlineCallbacks
    def test_badQueries(self):
        """Huge, negative, non-numeric, repeated, long-named, unknown, NUL and %ff: 400."""
        self.serve()
        for url in URLS:
            for query, reason in BAD_QUERIES:
                yield self.checkBadQuery(url, query, reason)

    @defer.inlineCallbacks
    def test_badCsv(self):
        """The CSV checks its panel first, then every parameter as the other URLs do."""
        self.serve()
        for query, reason in [*((f"panel=sites&{query}", reason)
                                for query, reason in BAD_QUERIES),
                              ("panel=%3Cscript%3E", b"panel: must be one of sites, referrers, "
                                                     b"resources, statuses, chart, hits, "
                                                     b"visitors, not_found, server_errors, "
                                                     b"browsers, "
                                                     b"systems, devices, crawlers, countries, "
                                                     b"bandwidth, response_times, vhosts, "
                                                     b"sources, got '<script>'\n"),
                              ("panel=sites&panel=hits", b"panel: given more than once\n"),
                              ("panel=browsers", b"panel: 'browsers' needs a history view: add "
                                                 b"range=all, or from/to\n")]:
            yield self.checkBadQuery("/weblog.rpy/csv", query, reason, 240)  # names the panels

    @defer.inlineCallbacks
    def test_badSince(self):
        """The event stream's since parameter is checked the same way."""
        self.serve()
        for query, reason in EVENTS_BAD_QUERIES:
            yield self.checkBadQuery("/weblog.rpy/events", query, reason)

    @defer.inlineCallbacks
    def test_controlCharactersInNames(self):
        """
        An unknown name holding NUL, a newline, CR LF or ESC is still answered in one printable
        line: control characters in the reason are shown as escapes, never sent raw.
        """
        self.serve()
        for url in URLS:
            for query in ("a%00b=1", "x%0Ay=1", "%0D%0AInjected:%20yes=1", "%1B%5B2J=1"):
                body = yield self.checkBadQuery(url, query)
                self.assertTrue(body.endswith(b": unknown parameter\n"), body)


TRAVERSALS: list[bytes] = [
    b"/../lib/persist.py",
    b"/%2e%2e/lib/persist.py",
    b"/%2E%2E/lib/persist.py",
    b"/%2e%2e%2flib%2fpersist.py",
    b"/..%2f..%2fetc%2fpasswd",
    b"/..%2flib%2fpersist.py",
    b"/%252e%252e/lib/persist.py",
    b"/..\\lib\\persist.py",
    b"/..%5clib%5cpersist.py",
    b"/.%2e/lib/persist.py",
    b"//lib/persist.py",
    b"/weblog.rpy/../../lib/persist.py",
    b"/weblog.rpy/..%2f..%2flib%2fpersist.py",
    b"/lib/",
    b"/lib/persist.py",
    b"/var/counter.json",
    b"/.git/config",
    b"/../../../../../../etc/passwd",
    b"/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
]

NUL_PATHS: list[bytes] = [b"/weblog.rpy%00.txt", b"/weblog.rpy%00", b"/%00", b"/lib%00/persist.py"]

SECRETS = (b"import ", b"def ", b"class Records", b"424242", b"[core]", b"root:", b"registry")
"""What the files a traversal aims at contain: Python source, the counter, git, passwd."""


class TraversalTests(_SecurityCase):
    """No path reaches lib/, var/, .git/ or any file outside www/."""

    def setUp(self) -> None:
        super().setUp()
        # What a traversal out of the served www/ copy would find beside it.
        lib = self.base.child("lib")
        lib.makedirs()
        REPO.child("lib").child("persist.py").copyTo(lib.child("persist.py"))
        var = self.base.child("var")
        var.makedirs()
        var.child("counter.json").setContent(b'{"value": 424242}')
        git = self.base.child(".git")
        git.makedirs()
        git.child("config").setContent(b"[core]\n\trepositoryformatversion = 0\n")

    @defer.inlineCallbacks
    def test_traversals(self):
        """Every encoding gets 404, and no file contents or traceback."""
        self.serve()
        self.writeLog(b"")
        for target in TRAVERSALS:
            code, _, body = yield self.rawGet(target)
            self.assertEqual(code, 404, (target, body[:200]))
            for secret in SECRETS:
                self.assertNotIn(secret, body, target)
            self.assertNoTraceback(body, target)

    @defer.inlineCallbacks
    def test_nulInPathShowsNothing(self):
        """A NUL byte in the path shows no file contents and no traceback, whatever the code."""
        self.serve()
        for target in NUL_PATHS:
            code, _, body = yield self.rawGet(target)
            self.assertIn(code, (400, 404, 500), target)
            for secret in SECRETS:
                self.assertNotIn(secret, body, target)
            self.assertNoTraceback(body, target)
        self.flushLoggedErrors(ValueError)

    @defer.inlineCallbacks
    def test_nulInPathIs404(self):
        """A NUL byte in the path gets 404 like any name that is not there, and logs nothing."""
        self.serve()
        codes = []
        for target in NUL_PATHS:
            code, _, body = yield self.rawGet(target)
            codes.append(code)
            self.assertNoTraceback(body, target)
        logged = self.flushLoggedErrors(ValueError)
        self.assertEqual(codes, [404] * len(NUL_PATHS))
        self.assertEqual([str(failure.value) for failure in logged], [])

    test_nulInPathIs404.todo = (  # type: ignore[attr-defined]
        "twisted.web.static.File.getChild lets os.stat raise ValueError('embedded null byte'): "
        "500 Processing Failed; the root of `twistd web --path` is Twisted's, not weblog's. "
        "Proposed upstream with a test: docs/upstream/twisted-static-nul-404.patch"
    )

    def test_noPythonUnderWww(self):
        """No .py file (or compiled one) lives under www/: a static server would show it."""
        found = [os.path.join(directory, name)
                 for directory, _, names in os.walk(REPO.child("www").path)
                 for name in names if name.lower().endswith((".py", ".pyc", ".pyo"))]
        self.assertEqual(found, [])


CRAFTED_PATHS: list[bytes] = [
    b"/%5Cevil.example%2F..%2Fweblog.rpy",
    b"/%5C%5Cevil.example%2F..%2Fweblog.rpy",
    b"/%09%5Cevil.example%2F..%2Fweblog.rpy",
    b"/%0A%5Cevil.example%2F..%2Fweblog.rpy",
    b"/evil.example%2F..%2Fweblog.rpy",
    b"/%3Fx%2F..%2Fweblog.rpy",
    b"/%23x%2F..%2Fweblog.rpy",
    b"/%C3%A9%2F..%2Fweblog.rpy",
    b"/.%2Fweblog.rpy",
    b"/./weblog.rpy",
    b"/weblog.rpy%2F",
    b"/weblog.rpy//",
    b"/weblog.rpy",
]
"""Paths that static.File resolves to weblog.rpy: it reads a decoded segment such as
C{\\evil.example/../weblog.rpy} as the name C{weblog.rpy}."""


def stays_on_site(url: str) -> bool:
    """
    Whether a browser resolves C{url}, found on an http(s) page, to a path on that page's site.

    Read as a browser reads it (tabs and newlines dropped, a backslash as a slash), it must be a
    path: one slash, then something that is not a slash (two would start another host's URL).
    """
    seen = as_browser_sees(url).replace("\\", "/")
    return seen.startswith("/") and not seen.startswith("//")


URL_DATA = ("data-events", "data-view")
"""The data-* attributes of the page that hold a URL (the script opens it)."""


def own_urls(body: bytes) -> list[tuple[str, str, str]]:
    """Every href, action, src and data-* URL of a page, as (element, attribute, value)."""
    return [(tag, name, value) for tag, attributes in parse_page(body).elements
            for name, value in attributes.items()
            if name in ("href", "action", "src", *URL_DATA)]


class PageLinkTests(_SecurityCase):
    """The page's links, form and event stream stay on this site, whatever path reached it."""

    def assertLinksStay(self, body: bytes, what: object) -> dict[str, str]:
        """Every URL of the page stays on the site, written plainly; return the page's own."""
        urls = own_urls(body)
        self.assertGreaterEqual(len(urls), 8, what)
        data = {value for _, attributes in parse_page(body).elements
                for name, value in attributes.items()
                if name.startswith("data-") and name not in URL_DATA and not value.isdigit()}
        self.assertLessEqual(data, {*DISPLAYS, SUMMARY, *PANEL_FILTERS.values()},
                             what)  # no other URL for the script
        for tag, name, value in urls:
            self.assertTrue(stays_on_site(value), (what, tag, name, value))
            self.assertEqual(as_browser_sees(value), value, (what, tag, name))
            self.assertNotIn("\\", value, (what, tag, name))
        [action] = [value for tag, name, value in urls if (tag, name) == ("form", "action")]
        [events] = [value for _, name, value in urls if name == "data-events"]
        [json_link] = [value for tag, _, value in urls
                       if tag == "a" and value.partition("?")[0].endswith("/json")]
        return {"action": action, "events": events, "json": json_link}

    def follow(self, url: str, **kwargs: Any):
        """GET what a browser requests for C{url} on the page: its path, dot segments removed."""
        here = f"http://127.0.0.1:{self.port.getHost().port}/"
        self.assertTrue(urljoin(here, url).startswith(here), url)
        target = urljoin(here, url)[len(here) - 1:]
        return self.rawGet(target.encode("ascii"), **kwargs)

    @defer.inlineCallbacks
    def assertLinksLeadBack(self, own: dict[str, str], what: object):
        """The form goes to the page, the JSON link to its JSON, the stream URL to its stream."""
        code, headers, body = yield self.follow(own["action"])
        self.assertEqual((code, headers.get(b"content-type")),
                         (200, b"text/html; charset=utf-8"), what)
        self.assertIn(b"<h1>Latest hits</h1>", body, what)
        code, headers, body = yield self.follow(own["json"])
        self.assertEqual((code, headers.get(b"content-type")),
                         (200, b"application/json; charset=utf-8"), what)
        self.assertIn("hits", json.loads(body), what)
        # A bad query shows the URL reaches the event stream, without opening one.
        events = own["events"] + ("&" if "?" in own["events"] else "?") + "since=x"
        code, _, body = yield self.follow(events)
        self.assertEqual((code, reason_of(body)),
                         (400, "since: must be a hit id, a whole number, got 'x'"), what)

    def page(self) -> WeblogPage:
        """A weblog page on Records of its own, stopped after the test."""
        records = Records()
        records.start()
        self.addCleanup(records.stop)
        return WeblogPage(records)

    def serveRoot(self, root: Resource) -> None:
        """Serve C{root} as the site's root."""
        site: Any = server.Site(root)
        self.port = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)

    @defer.inlineCallbacks
    def test_craftedPathsKeepLinksHere(self):
        """
        For paths that reach the page through decoded backslashes, slashes, tabs, newlines,
        C{?} or C{#}, every URL on it is a plain path on this site, and each leads back.
        """
        self.serve()
        for target in CRAFTED_PATHS:
            code, _, body = yield self.rawGet(target)
            self.assertEqual(code, 200, target)
            own = self.assertLinksStay(body, target)
            yield self.assertLinksLeadBack(own, target)

    @defer.inlineCallbacks
    def test_pageAtSiteRoot(self):
        """A page that is the site's root links C{/json} and C{/events}, never C{//json}."""
        self.serveRoot(self.page())
        for target in (b"/", b"//", b"/?limit=5"):
            code, _, body = yield self.rawGet(target)
            self.assertEqual(code, 200, target)
            own = self.assertLinksStay(body, target)
            self.assertEqual(own["action"], "/", target)
            self.assertTrue(own["json"].startswith("/json"), target)
            yield self.assertLinksLeadBack(own, target)

    @defer.inlineCallbacks
    def test_emptyFirstSegment(self):
        """A page reached as C{//x} (a root with a C{""} child) links C{/.//x/json}: this site."""
        root, middle = Resource(), Resource()
        root.putChild(b"", middle)
        middle.putChild(b"x", self.page())
        self.serveRoot(root)
        code, _, body = yield self.rawGet(b"//x")
        self.assertEqual(code, 200)
        own = self.assertLinksStay(body, "//x")
        self.assertEqual(own["json"], "/.//x/json")
        yield self.assertLinksLeadBack(own, "//x")


class OddRequestTests(_SecurityCase):
    """Odd headers and methods never show a traceback."""

    def setUp(self) -> None:
        super().setUp()
        self.writeLog(b"".join(
            f'203.0.113.7 - - [17/May/2015:10:05:03 +0000] "GET /r{n} HTTP/1.1" 200 1 '
            f'"http://a.example/" "Mozilla/5.0"\n'.encode() for n in range(3)))

    @defer.inlineCallbacks
    def test_malformedLastEventId(self):
        """A malformed Last-Event-ID opens the stream as if none was sent."""
        self.serve()
        for value in (b"abc", b"-1", b"9" * 40, b"1e5", b"\xff\xfe", b" 12 ", b"0x10",
                      b"9" * 18, b"", b"1" * 5000):
            response, collector = yield self.openStream(headers={b"last-event-id": [value]})
            data = yield collector.waitFor(b"retry: 2000\n\n")
            response._transport.stopProducing()
            yield collector.done
            self.assertEqual(response.code, 200, value)
            self.assertEqual(data, b"retry: 2000\n\n", value)
            self.assertNoTraceback(data, value)

    @defer.inlineCallbacks
    def test_hugeHeader(self):
        """
        An 8 KB header is served; Twisted drops a connection whose one header line passes
        16 KiB without an answer, and answers a bare 400 when all headers pass 16 KiB.
        """
        self.serve()
        code, _, body = yield self.rawGet(b"/weblog.rpy", extra=b"X-Big: " + b"a" * 8000 + b"\r\n")
        self.assertEqual(code, 200)
        self.assertIn(b"3 lines read, 0 malformed", body)
        self.assertNoTraceback(body)
        code, _, body = yield self.rawGet(b"/weblog.rpy",
                                          extra=b"X-Big: " + b"a" * 20000 + b"\r\n")
        self.assertEqual((code, body), (0, b""))
        many = b"".join(b"X-Big-%d: %s\r\n" % (number, b"a" * 1000) for number in range(20))
        code, _, body = yield self.rawGet(b"/weblog.rpy", extra=many)
        self.assertEqual((code, body), (400, b""))

    @defer.inlineCallbacks
    def test_overlongQueryRefusedByTwisted(self):
        """A query over Twisted's 16 KiB request-line limit never reaches the page."""
        self.serve()
        code, _, body = yield self.rawGet(b"/weblog.rpy?q=" + b"a" * 17000)
        self.assertNotIn(code, (200, 400), body[:200])  # Twisted's own refusal, not the page's
        self.assertNoTraceback(body)

    @defer.inlineCallbacks
    def test_headAndPost(self):
        """Twisted answers HEAD with 200 and no body, and POST with 405, without a traceback."""
        self.serve()
        for url in (b"/weblog.rpy", b"/weblog.rpy/json"):
            code, headers, body = yield self.rawGet(url, method=b"HEAD")
            self.assertEqual((code, body), (200, b""), url)
            code, headers, body = yield self.rawGet(url, method=b"POST", content=b"a=1")
            self.assertEqual(code, 405, url)
            self.assertEqual(headers[b"allow"], b"HEAD, GET")
            self.assertNoTraceback(body, url)
        code, _, body = yield self.rawGet(b"/weblog.rpy/events", method=b"POST")
        self.assertEqual(code, 405)
        self.assertNoTraceback(body)


class HeaderTests(_SecurityCase):
    """The weblog pages and their 400 answers carry the security headers."""

    @defer.inlineCallbacks
    def test_securityHeaders(self):
        """CSP with script-src 'self' and no unsafe-inline, nosniff, and no-referrer."""
        self.serve()
        for path in ("/weblog.rpy", "/weblog.rpy/json", "/weblog.rpy?limit=0",
                     "/weblog.rpy/json?limit=0", "/weblog.rpy/events?limit=0",
                     "/weblog.rpy/events?since=x"):
            _, headers, body = yield self.get(path)
            self.assertSecurityHeaders(headers, path)
            self.assertNoTraceback(body, path)

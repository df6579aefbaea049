# -*- test-case-name: tests.test_webloglib -*-
"""Tests for webloglib: golden access-log lines parsed into hits, and the snapshot page."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from functools import cache

import webloglib
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.trial import unittest
from twisted.web import http
from weblog.aggregates import Aggregates
from weblog.parsing import read_line as scan_line
from webloglib import (
    MAX_FIELD,
    Hit,
    LogLineError,
    clean,
    json_text,
    log_fields,
    parse_line,
    parse_lines,
    snapshot_page,
)

from tests.support import LoggedRequest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(os.path.dirname(REPO_ROOT), "shared", "data")

# The first line of shared/data/elastic-apache/access.log.
ELASTIC_FIRST = (
    '83.149.9.216 - - [17/May/2015:10:05:03 +0000] '
    '"GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" '
    '200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" '
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 '
    '(KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36"'
)
ELASTIC_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36"
)
# The first line of shared/data/logparser-hackers/access.log.
HACKERS_FIRST = (
    '195.154.46.135 - - [25/Oct/2015:04:11:25 +0100] '
    '"GET /linux/doing-pxe-without-dhcp-control HTTP/1.1" 200 24323 '
    '"http://howto.basjes.nl/" "Mozilla/5.0 (Windows NT 5.1; rv:35.0) Gecko/20100101 Firefox/35.0"'
)
# The Apache documentation's example lines (common, then combined).
APACHE_COMMON = (
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'
)
APACHE_COMBINED = (
    APACHE_COMMON + ' "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'
)

TIME = "[17/May/2015:10:05:03 +0000]"
WHEN = datetime(2015, 5, 17, 10, 5, 3, tzinfo=UTC)
XSS = '"><script>alert(1)</script>'
XSS_LOGGED = '\\"><script>alert(1)</script>'  # as Apache writes it inside quotes


def combined(
    request: str = "GET /index.html HTTP/1.1",
    referrer: str = "http://example.com/",
    agent: str = "Mozilla/5.0",
    client: str = "203.0.113.7",
    status: str = "200",
    size: str = "512",
) -> str:
    """Build a combined line from fields already escaped as a server writes them."""
    return f'{client} - - {TIME} "{request}" {status} {size} "{referrer}" "{agent}"'


def hit(
    resource: str = "/index.html",
    referrer: str | None = "http://example.com/",
    agent: str | None = "Mozilla/5.0",
) -> Hit:
    """Build the hit that L{combined} with the same fields parses to."""
    return Hit(
        client="203.0.113.7", ident="-", user="-", time=WHEN, method="GET",
        resource=resource, protocol="HTTP/1.1", status=200, bytes=512,
        referrer=referrer, agent=agent,
    )


def twisted_line(
    referrer: bytes | None = None,
    agent: bytes | None = None,
    client: IPv4Address | IPv6Address | None = None,
    sent: int | None = 1234,
    uri: bytes = b"/index.html?q=1",
) -> str:
    """Have Twisted's own C{combinedLogFormatter} write the line for one request."""
    request = LoggedRequest([b""])
    request.client = client or IPv4Address("TCP", "203.0.113.7", 54321)
    request.method = b"GET"
    request.uri = uri
    request.clientproto = b"HTTP/1.1"
    request.code = 200
    request.sentLength = sent
    if referrer is not None:
        request.requestHeaders.setRawHeaders(b"referer", [referrer])
    if agent is not None:
        request.requestHeaders.setRawHeaders(b"user-agent", [agent])
    line: str = http.combinedLogFormatter(http.datetimeToLogString(1234567890), request)
    return line


class ParseLineTests(unittest.TestCase):
    """L{parse_line} turns one line of each recognised format into a L{Hit}."""

    def assertHit(self, actual: Hit, expected: Hit) -> None:
        """Assert equal hits, including the time's offset (datetime equality ignores it)."""
        self.assertEqual(actual, expected)
        self.assertEqual(actual.time.utcoffset(), expected.time.utcoffset())

    def test_apacheCombined(self):
        """A combined line from a real Apache log gives every field, time aware in +0000."""
        self.assertHit(
            parse_line(ELASTIC_FIRST),
            Hit(
                client="83.149.9.216", ident="-", user="-", time=WHEN, method="GET",
                resource="/presentations/logstash-monitorama-2013/images/kibana-search.png",
                protocol="HTTP/1.1", status=200, bytes=203023,
                referrer="http://semicomplete.com/presentations/logstash-monitorama-2013/",
                agent=ELASTIC_AGENT, vhost=None,
            ),
        )

    def test_positiveOffset(self):
        """A +0100 timestamp keeps its offset: the hit's time is 04:11:25 at +01:00."""
        parsed = parse_line(HACKERS_FIRST)
        self.assertHit(
            parsed,
            Hit(
                client="195.154.46.135", ident="-", user="-",
                time=datetime(2015, 10, 25, 4, 11, 25, tzinfo=timezone(timedelta(hours=1))),
                method="GET", resource="/linux/doing-pxe-without-dhcp-control",
                protocol="HTTP/1.1", status=200, bytes=24323, referrer="http://howto.basjes.nl/",
                agent="Mozilla/5.0 (Windows NT 5.1; rv:35.0) Gecko/20100101 Firefox/35.0",
            ),
        )
        self.assertEqual(parsed.time.isoformat(), "2015-10-25T04:11:25+01:00")

    def test_negativeOffsetAndUser(self):
        """Apache's documented combined line gives user frank and a time at -07:00."""
        parsed = parse_line(APACHE_COMBINED)
        self.assertHit(
            parsed,
            Hit(
                client="127.0.0.1", ident="-", user="frank",
                time=datetime(2000, 10, 10, 13, 55, 36, tzinfo=timezone(timedelta(hours=-7))),
                method="GET", resource="/apache_pb.gif", protocol="HTTP/1.0", status=200,
                bytes=2326, referrer="http://www.example.com/start.html",
                agent="Mozilla/4.08 [en] (Win98; I ;Nav)",
            ),
        )
        self.assertEqual(parsed.time.isoformat(), "2000-10-10T13:55:36-07:00")

    def test_apacheCommon(self):
        """A common line, with no referrer or user-agent fields, has both None."""
        parsed = parse_line(APACHE_COMMON)
        self.assertEqual(
            (parsed.client, parsed.user, parsed.resource, parsed.status, parsed.bytes),
            ("127.0.0.1", "frank", "/apache_pb.gif", 200, 2326),
        )
        self.assertIsNone(parsed.referrer)
        self.assertIsNone(parsed.agent)

    def test_dashReferrerAndAgent(self):
        """C{"-"} as referrer or user-agent means none: both are None."""
        parsed = parse_line(combined(referrer="-", agent="-"))
        self.assertIsNone(parsed.referrer)
        self.assertIsNone(parsed.agent)

    def test_vhostCombined(self):
        """A vhost_combined line's leading host:port is the vhost; the client follows it."""
        self.assertHit(
            parse_line(f'example.com:80 1.2.3.4 - - {TIME} "GET / HTTP/1.1" 200 5 "-" "agent"'),
            Hit(
                client="1.2.3.4", ident="-", user="-", time=WHEN, method="GET", resource="/",
                protocol="HTTP/1.1", status=200, bytes=5, referrer=None, agent="agent",
                vhost="example.com:80",
            ),
        )

    def test_nginxTrailingDash(self):
        """An nginx line with an extra trailing C{"-"} field parses as the combined line."""
        self.assertHit(
            parse_line(combined(agent="agent") + ' "-"'),
            hit(agent="agent"),
        )

    def test_nginxTrailingForwardedAndTime(self):
        """Trailing X-Forwarded-For and request-time fields are ignored."""
        self.assertHit(
            parse_line(combined(agent="agent") + ' "1.2.3.4, 5.6.7.8" 0.005'),
            hit(agent="agent"),
        )

    def test_ipv6Client(self):
        """A full IPv6 client is the client, not mistaken for a vhost."""
        parsed = parse_line(combined(client="2001:41d0:8:f69::1"))
        self.assertHit(parsed, hit()._replace(client="2001:41d0:8:f69::1"))
        self.assertIsNone(parsed.vhost)

    def test_ipv6Loopback(self):
        """C{::1} as client, in a common line with a user, is the client."""
        parsed = parse_line(f'::1 - frank {TIME} "GET / HTTP/1.1" 200 5')
        self.assertEqual((parsed.client, parsed.user, parsed.vhost), ("::1", "frank", None))

    def test_hostNameClient(self):
        """A host-name client with underscores is kept as written."""
        parsed = parse_line(combined(client="crawl_1.example.net"))
        self.assertEqual(parsed.client, "crawl_1.example.net")

    def test_dashBytes(self):
        """C{-} for bytes gives bytes None; the status is still read."""
        parsed = parse_line(combined(size="-"))
        self.assertEqual((parsed.status, parsed.bytes), (200, None))

    def test_dashStatus(self):
        """C{-} for status gives status None."""
        parsed = parse_line(combined(status="-", size="-"))
        self.assertEqual((parsed.status, parsed.bytes), (None, None))

    def test_zeroBytes(self):
        """C{0} bytes is the number 0, not None."""
        self.assertEqual(parse_line(combined(size="0")).bytes, 0)

    def test_dashRequest(self):
        """A request of C{"-"} has method None, resource C{-} and protocol None."""
        parsed = parse_line(combined(request="-", status="408", size="-"))
        self.assertEqual(
            (parsed.method, parsed.resource, parsed.protocol, parsed.status),
            (None, "-", None, 408),
        )

    def test_requestWithoutProtocol(self):
        """An HTTP/0.9-style request has method and resource, protocol None."""
        parsed = parse_line(combined(request="GET /x"))
        self.assertEqual((parsed.method, parsed.resource, parsed.protocol), ("GET", "/x", None))

    def test_requestWithSpaceInPath(self):
        """A raw space in the path (nginx logs it raw) stays in the resource."""
        parsed = parse_line(combined(request="GET /a b HTTP/1.1"))
        self.assertEqual(
            (parsed.method, parsed.resource, parsed.protocol), ("GET", "/a b", "HTTP/1.1")
        )

    def test_http2(self):
        """HTTP/2.0 is the protocol."""
        parsed = parse_line(combined(request="POST /api HTTP/2.0"))
        self.assertEqual(
            (parsed.method, parsed.resource, parsed.protocol), ("POST", "/api", "HTTP/2.0")
        )

    def test_bytesLine(self):
        """A bytes line with its newline parses like the same text."""
        self.assertHit(parse_line(ELASTIC_FIRST.encode("ascii") + b"\n"), parse_line(ELASTIC_FIRST))

    def test_crlfLine(self):
        """A line ending in CRLF parses; the line ending is not part of the user-agent."""
        self.assertEqual(parse_line(combined() + "\r\n").agent, "Mozilla/5.0")


class TwistedLogLineTests(unittest.TestCase):
    """L{parse_line} reads lines written by Twisted's own C{combinedLogFormatter}."""

    def test_goldenLine(self):
        """Twisted's line (client in quotes) gives every field back, time at +0000."""
        line = twisted_line(referrer=b"http://example.com/", agent=b"Mozilla/5.0")
        self.assertEqual(
            line,
            '"203.0.113.7" - - [13/Feb/2009:23:31:30 +0000] "GET /index.html?q=1 HTTP/1.1" '
            '200 1234 "http://example.com/" "Mozilla/5.0"',
        )
        parsed = parse_line(line)
        self.assertEqual(
            parsed,
            Hit(
                client="203.0.113.7", ident="-", user="-",
                time=datetime(2009, 2, 13, 23, 31, 30, tzinfo=UTC), method="GET",
                resource="/index.html?q=1", protocol="HTTP/1.1", status=200, bytes=1234,
                referrer="http://example.com/", agent="Mozilla/5.0",
            ),
        )
        self.assertEqual(parsed.time.utcoffset(), timedelta(0))

    def test_noHeadersNoLength(self):
        """Without Referer, User-Agent or a sent length, Twisted writes C{-}: all None."""
        parsed = parse_line(twisted_line(sent=None))
        self.assertEqual((parsed.referrer, parsed.agent, parsed.bytes), (None, None, None))

    def test_quoteAndBackslashInReferrer(self):
        """A referrer with a double quote and a backslash comes back exactly as sent."""
        referrer = 'http://example.com/a"b\\c'
        line = twisted_line(referrer=referrer.encode("ascii"))
        self.assertIn(' "http://example.com/a\\"b\\\\c" ', line)
        self.assertEqual(parse_line(line).referrer, referrer)

    def test_singleQuoteInReferrer(self):
        """A referrer with single and double quotes and a backslash comes back exactly."""
        referrer = "http://example.com/it's \"q\" \\'"
        self.assertEqual(
            parse_line(twisted_line(referrer=referrer.encode("ascii"))).referrer, referrer
        )

    def test_utf8UserAgent(self):
        """A user-agent of non-ASCII UTF-8 bytes, escaped C{\\xhh} by Twisted, decodes back."""
        agent = "Navigateur é ü 日本 🦊"
        line = twisted_line(agent=agent.encode("utf-8"))
        self.assertIn('"Navigateur \\xc3\\xa9 \\xc3\\xbc ', line)
        self.assertEqual(parse_line(line).agent, agent)

    def test_quoteInUri(self):
        """A double quote in the URI comes back in the resource."""
        parsed = parse_line(twisted_line(uri=b'/search?q="x"'))
        self.assertEqual(parsed.resource, '/search?q="x"')

    def test_ipv6Client(self):
        """Twisted's quoted IPv6 client is the client."""
        parsed = parse_line(twisted_line(client=IPv6Address("TCP", "::1", 12345)))
        self.assertEqual(parsed.client, "::1")


class EscapeTests(unittest.TestCase):
    """Server escapes are undone; what is not printable UTF-8 stays visible as escapes."""

    def test_apacheQuoteAndBackslash(self):
        """Apache's C{\\"} and C{\\\\} in a referrer become C{"} and C{\\}."""
        parsed = parse_line(combined(referrer='http://x/\\"q\\"\\\\path'))
        self.assertEqual(parsed.referrer, 'http://x/"q"\\path')

    def test_escapedBackslashBeforeHex(self):
        """An escaped backslash followed by C{x41} is the text C{\\x41}, not C{A}."""
        self.assertEqual(parse_line(combined(referrer="a\\\\x41")).referrer, "a\\x41")

    def test_nginxHexQuote(self):
        """nginx's C{\\x22} is a double quote and C{\\x5C} a backslash."""
        self.assertEqual(parse_line(combined(referrer="a\\x22b\\x5Cc")).referrer, 'a"b\\c')

    def test_nginxUtf8(self):
        """nginx's C{\\xC3\\xA9} is decoded as UTF-8 to C{é}."""
        self.assertEqual(parse_line(combined(agent="caf\\xC3\\xA9")).agent, "café")

    def test_invalidUtf8StaysVisible(self):
        """Escaped bytes that are not UTF-8 stay as the visible text C{\\xe4\\xe5}."""
        parsed = parse_line(combined(referrer="http://\\xe4\\xe5/"))
        self.assertEqual(parsed.referrer, "http://\\xe4\\xe5/")

    def test_rawInvalidByte(self):
        """A raw byte that is not UTF-8 in a bytes line is shown as C{\\xff}."""
        line = b'1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /\xfe HTTP/1.1" 200 5 "-" "A\xffB"'
        parsed = parse_line(line)
        self.assertEqual((parsed.agent, parsed.resource), ("A\\xffB", "/\\xfe"))

    def test_rawUtf8Bytes(self):
        """Raw UTF-8 bytes in a bytes line are decoded."""
        parsed = parse_line(combined(agent="Ünïcode 日本").encode("utf-8"))
        self.assertEqual(parsed.agent, "Ünïcode 日本")

    def test_escapedControlCharacters(self):
        """Escaped escape, NUL and Apache's C{\\t} come out as visible C{\\xhh} escapes."""
        parsed = parse_line(combined(agent="a\\x1b[31mb\\x00c\\td"))
        self.assertEqual(parsed.agent, "a\\x1b[31mb\\x00c\\x09d")

    def test_rawControlCharacters(self):
        """Raw escape, NUL and tab inside a field come out as visible escapes."""
        parsed = parse_line(combined(agent="a\x1b[31mb\x00c\td"))
        self.assertEqual(parsed.agent, "a\\x1b[31mb\\x00c\\x09d")

    def test_rawBidiOverride(self):
        """A raw right-to-left override U+202E comes out as C{\\u202e}."""
        self.assertEqual(parse_line(combined(referrer="x\u202egnp.exe")).referrer,
                         "x\\u202egnp.exe")

    def test_escapedBidiOverride(self):
        """U+202E logged as its escaped UTF-8 bytes also comes out as C{\\u202e}."""
        parsed = parse_line(combined(referrer="x\\xe2\\x80\\xaegnp.exe"))
        self.assertEqual(parsed.referrer, "x\\u202egnp.exe")

    def test_longFieldCut(self):
        """A field longer than MAX_FIELD is cut to exactly MAX_FIELD characters, ending in …."""
        parsed = parse_line(combined(agent="a" * (MAX_FIELD + 500)))
        self.assertEqual(parsed.agent, "a" * (MAX_FIELD - 1) + "\u2026")

    def test_fieldOfMaxLengthKept(self):
        """A field of exactly MAX_FIELD characters is kept whole."""
        self.assertEqual(parse_line(combined(agent="a" * MAX_FIELD)).agent, "a" * MAX_FIELD)

    def test_expandedEscapesCut(self):
        """Visible escapes count toward MAX_FIELD: 1000 control bytes are cut to MAX_FIELD."""
        cleaned = clean("\x01" * 1000)
        self.assertEqual(cleaned, ("\\x01" * 1000)[: MAX_FIELD - 1] + "\u2026")

    def test_cleanPrintableUnchanged(self):
        """clean() leaves printable text without backslashes as it is."""
        self.assertEqual(clean("http://example.com/ü?a=1&b=<2>"), "http://example.com/ü?a=1&b=<2>")

    def test_loneSurrogateInText(self):
        """A str line holding a lone surrogate shows it as C{\\ud800}; it does not crash."""
        self.assertEqual(parse_line(combined(agent="a\ud800b")).agent, "a\\ud800b")


class LogLineErrorTests(unittest.TestCase):
    """L{parse_line} raises L{LogLineError}, carrying the line and a reason, for bad lines."""

    def assertRejected(self, line: str | bytes, reason: str) -> LogLineError:
        """Assert that C{line} is rejected with C{reason} and return the error."""
        error = self.assertRaises(LogLineError, parse_line, line)
        self.assertEqual((error.line, error.reason), (line, reason))
        return error

    def test_isValueError(self):
        """LogLineError is a ValueError."""
        self.assertTrue(issubclass(LogLineError, ValueError))

    def test_empty(self):
        """An empty line is rejected."""
        self.assertRejected("", "not an access-log line")

    def test_garbage(self):
        """A line of garbage is rejected."""
        self.assertRejected("hello world", "not an access-log line")

    def test_truncatedAgent(self):
        """A line cut off inside the user-agent (no closing quote) is rejected."""
        self.assertRejected(combined()[:-1] + "\n", "not an access-log line")

    def test_badMonth(self):
        """An unknown month name is rejected, naming the month."""
        line = combined().replace("/May/", "/Foo/")
        self.assertRejected(line, "unknown month 'Foo'")

    def test_badTimeZoneText(self):
        """A time zone that is not +hhmm is rejected."""
        line = combined().replace("+0000]", "UTC]")
        self.assertRejected(line, "not a log timestamp: '17/May/2015:10:05:03 UTC'")

    def test_timeZoneHoursOutOfRange(self):
        """A time zone of +2400 or more is rejected."""
        line = combined().replace("+0000]", "+2400]")
        self.assertRejected(line, "time zone offset out of range: +2400")

    def test_timeZoneMinutesOutOfRange(self):
        """A time zone whose minutes are 60 or more (+0199) is rejected, not shifted."""
        line = combined().replace("+0000]", "+0199]")
        error = self.assertRaises(LogLineError, parse_line, line)
        self.assertEqual(error.line, line)

    def test_impossibleDate(self):
        """31 February is rejected."""
        line = combined().replace("17/May", "31/Feb")
        self.assertRejected(line, "day is out of range for month")

    def test_bytesLineKept(self):
        """For a bytes line, the error's line is the bytes as given."""
        self.assertRejected(b"garbage\xff\n", "not an access-log line")

    def test_strIsOneLine(self):
        """str(error) is one line: the reason, then the line's repr."""
        error = self.assertRejected("garbage\r\n", "not an access-log line")
        self.assertEqual(str(error), "not an access-log line: 'garbage\\r\\n'")

    def test_strIsBounded(self):
        """str(error) shows at most the first 80 characters of the line."""
        error = self.assertRejected("x" * 500, "not an access-log line")
        self.assertEqual(str(error), "not an access-log line: '" + "x" * 80 + "'")


class HostileStringTests(unittest.TestCase):
    """Markup in a line is just text to the parser."""

    def test_scriptInReferrerRequestAndAgent(self):
        """A script tag in referrer, request and user-agent parses back as plain text."""
        parsed = parse_line(combined(
            request=f"GET /{XSS_LOGGED} HTTP/1.1", referrer=XSS_LOGGED, agent=XSS_LOGGED
        ))
        self.assertEqual(
            (parsed.resource, parsed.referrer, parsed.agent), ("/" + XSS, XSS, XSS)
        )


class LogFieldsTests(unittest.TestCase):
    """L{log_fields} splits a line into the article's fields."""

    def test_combinedLine(self):
        """A combined line gives 9 fields; quoted fields keep quotes, the date is one field."""
        self.assertEqual(
            log_fields(ELASTIC_FIRST),
            [
                "83.149.9.216", "-", "-", "[17/May/2015:10:05:03 +0000]",
                '"GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1"',
                "200", "203023",
                '"http://semicomplete.com/presentations/logstash-monitorama-2013/"',
                f'"{ELASTIC_AGENT}"',
            ],
        )

    def test_constantsIndexFields(self):
        """The module's client..agent constants are the positions 0 to 8."""
        self.assertEqual(
            [
                webloglib.client, webloglib.ident, webloglib.user, webloglib.date,
                webloglib.request, webloglib.status, webloglib.size, webloglib.referrer,
                webloglib.agent,
            ],
            list(range(9)),
        )

    def test_constantsPickFields(self):
        """The constants pick the named fields of Apache's documented combined line."""
        fields = log_fields(APACHE_COMBINED)
        self.assertEqual(
            (
                fields[webloglib.user], fields[webloglib.date], fields[webloglib.request],
                fields[webloglib.status], fields[webloglib.size], fields[webloglib.referrer],
                fields[webloglib.agent],
            ),
            (
                "frank", "[10/Oct/2000:13:55:36 -0700]", '"GET /apache_pb.gif HTTP/1.0"',
                "200", "2326", '"http://www.example.com/start.html"',
                '"Mozilla/4.08 [en] (Win98; I ;Nav)"',
            ),
        )

    def test_escapedQuoteStaysInField(self):
        """An escaped quote does not end a quoted field."""
        fields = log_fields(combined(referrer='a\\"b c'))
        self.assertEqual((len(fields), fields[webloglib.referrer]), (9, '"a\\"b c"'))

    def test_twistedClientQuoted(self):
        """Twisted's quoted client is one field, with its quotes."""
        self.assertEqual(log_fields(twisted_line())[webloglib.client], '"203.0.113.7"')


class ParseLinesTests(unittest.TestCase):
    """L{parse_lines} parses any iterable of lines."""

    def test_inOrder(self):
        """Hits come out in the order of the lines."""
        lines = [combined(request=f"GET /{n} HTTP/1.1") for n in range(3)]
        self.assertEqual(
            [parsed.resource for parsed in parse_lines(lines)], ["/0", "/1", "/2"]
        )

    def test_raisesOnFirstBadLine(self):
        """By default the first bad line raises, after the hits before it."""
        hits = parse_lines([combined(), "bad one", "bad two", combined()])
        self.assertEqual(next(hits), hit())
        error = self.assertRaises(LogLineError, next, hits)
        self.assertEqual(error.line, "bad one")

    def test_ignoreInvalid(self):
        """With ignore_invalid, bad lines are skipped and the rest parsed."""
        lines = [
            "bad", combined(request="GET /a HTTP/1.1"), "", combined(request="GET /b HTTP/1.1")
        ]
        self.assertEqual(
            [parsed.resource for parsed in parse_lines(lines, ignore_invalid=True)], ["/a", "/b"]
        )

    def test_generatorOfBytes(self):
        """A generator of bytes lines ending in LF and CRLF is parsed."""

        def lines() -> Iterator[bytes]:
            yield combined(request="GET /lf HTTP/1.1").encode("ascii") + b"\n"
            yield combined(request="GET /crlf HTTP/1.1").encode("ascii") + b"\r\n"

        self.assertEqual(
            list(parse_lines(lines())),
            [hit(resource="/lf"), hit(resource="/crlf")],
        )

    def test_empty(self):
        """No lines give no hits."""
        self.assertEqual(list(parse_lines([])), [])


class HitTests(unittest.TestCase):
    """L{Hit.to_json} gives the contract's JSON object."""

    def test_toJson(self):
        """A hit's JSON has every field, time in ISO 8601 with its offset."""
        self.assertEqual(
            parse_line(ELASTIC_FIRST).to_json(),
            {
                "time": "2015-05-17T10:05:03+00:00",
                "client": "83.149.9.216",
                "method": "GET",
                "resource": "/presentations/logstash-monitorama-2013/images/kibana-search.png",
                "protocol": "HTTP/1.1",
                "status": 200,
                "bytes": 203023,
                "referrer": "http://semicomplete.com/presentations/logstash-monitorama-2013/",
                "agent": ELASTIC_AGENT,
                "vhost": None,
                "source": None,
            },
        )

    def test_toJsonOffsetAndNones(self):
        """A -0700 common line's JSON keeps the offset and has null referrer and agent."""
        json = parse_line(APACHE_COMMON).to_json()
        self.assertEqual(
            (json["time"], json["referrer"], json["agent"], json["bytes"]),
            ("2000-10-10T13:55:36-07:00", None, None, 2326),
        )


class SnapshotPageTests(unittest.TestCase):
    """L{snapshot_page} renders the article's page with every log string escaped."""

    def test_escapesHostileStrings(self):
        """A script tag in referrer and resource is escaped, never written raw."""
        page = snapshot_page([hit(resource="/" + XSS, referrer=XSS)])
        self.assertIn("&lt;script&gt;", page)
        self.assertNotIn("<script>", page)
        self.assertIn("<td>&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</td>", page)

    def test_onePage(self):
        """One hit gives TOP, one ROW of referrer and resource, then END."""
        self.assertEqual(
            snapshot_page([hit(resource="/a?x=1&y=2")]),
            webloglib.TOP
            + webloglib.ROW % (webloglib.COLOR[0], "http://example.com/", "/a?x=1&amp;y=2")
            + webloglib.END,
        )

    def test_rowsAlternateColours(self):
        """Rows alternate between the two COLOR values, starting with the first."""
        first, second = webloglib.COLOR
        self.assertNotEqual(first, second)
        page = snapshot_page([hit(resource=f"/{n}") for n in range(3)])
        self.assertEqual(
            page,
            webloglib.TOP
            + webloglib.ROW % (first, "http://example.com/", "/0")
            + webloglib.ROW % (second, "http://example.com/", "/1")
            + webloglib.ROW % (first, "http://example.com/", "/2")
            + webloglib.END,
        )

    def test_noReferrerShowsDash(self):
        """A hit without a referrer shows C{-} in the referrer cell."""
        self.assertIn("<td>-</td><td>/x</td>", snapshot_page([hit(resource="/x", referrer=None)]))

    def test_noHits(self):
        """No hits give TOP directly followed by END."""
        self.assertEqual(snapshot_page([]), webloglib.TOP + webloglib.END)

    def test_pieces(self):
        """TOP opens the document and table, ROW is one row of three slots, END closes."""
        self.assertTrue(webloglib.TOP.startswith("<!DOCTYPE html>"))
        self.assertTrue(webloglib.TOP.endswith("<th>Resource</th></tr>\n"))
        self.assertEqual(webloglib.ROW.count("%s"), 3)
        self.assertTrue(webloglib.END.startswith("</table>"))
        self.assertTrue(webloglib.END.endswith("</body></html>\n"))


@cache
def shared_log(name: str) -> tuple[int, tuple[int, ...], tuple[Hit, ...]]:
    """
    Parse one of ../shared/data's logs.

    @return: the number of lines, the 1-based numbers of the malformed lines, the hits.
    """
    path = os.path.join(SHARED_DATA, name, "access.log")
    if not os.path.exists(path):
        raise unittest.SkipTest(
            f"../shared/data is absent: {path} not found (a user's clone has none)"
        )
    malformed = []
    hits = []
    with open(path, "rb") as log:
        lines = log.readlines()
    for number, line in enumerate(lines, 1):
        try:
            hits.append(parse_line(line))
        except LogLineError:
            malformed.append(number)
    return len(lines), tuple(malformed), tuple(hits)


class SharedDataTests(unittest.TestCase):
    """The real logs in ../shared/data parse as their README says."""

    def test_elasticLines(self):
        """elastic-apache has 10000 lines, only line 8899 (truncated user-agent) malformed."""
        lines, malformed, hits = shared_log("elastic-apache")
        self.assertEqual((lines, malformed, len(hits)), (10000, (8899,), 9999))

    def test_elasticFirstHit(self):
        """elastic-apache's first hit is the golden line's."""
        self.assertEqual(shared_log("elastic-apache")[2][0], parse_line(ELASTIC_FIRST))

    def test_elasticStatus200WithReferrer(self):
        """elastic-apache has 5496 hits with status 200 and a referrer."""
        hits = shared_log("elastic-apache")[2]
        self.assertEqual(
            sum(1 for h in hits if h.status == 200 and h.referrer is not None), 5496
        )

    def test_elasticDashBytes(self):
        """elastic-apache has 669 hits with bytes C{-}."""
        self.assertEqual(sum(1 for h in shared_log("elastic-apache")[2] if h.bytes is None), 669)

    def test_elasticCp1251Referrers(self):
        """Three referrers of escaped cp1251 bytes (not UTF-8) stay visible as escapes."""
        referrers = [
            h.referrer for h in shared_log("elastic-apache")[2]
            if h.referrer is not None and "\\xe4\\xe5\\xe3" in h.referrer
        ]
        self.assertEqual(
            referrers,
            ["http://\\xe4\\xe5\\xe3\\xf2\\xff\\xf0\\xed\\xee\\xe5-\\xec\\xfb\\xeb\\xee.\\xf0\\xf4/"]
            * 3,
        )

    def test_elasticOffsets(self):
        """Every elastic-apache hit is at +0000."""
        offsets = {h.time.utcoffset() for h in shared_log("elastic-apache")[2]}
        self.assertEqual(offsets, {timedelta(0)})

    def test_hackersLines(self):
        """logparser-hackers has 3456 lines, none malformed."""
        lines, malformed, hits = shared_log("logparser-hackers")
        self.assertEqual((lines, malformed, len(hits)), (3456, (), 3456))

    def test_hackersIpv6(self):
        """logparser-hackers has 12 hits from 2 distinct IPv6 clients."""
        ipv6 = [h.client for h in shared_log("logparser-hackers")[2] if ":" in h.client]
        self.assertEqual(
            (len(ipv6), sorted(set(ipv6))),
            (12, ["2001:41d0:8:f69::1", "2400:8900::f03c:91ff:fe50:5089"]),
        )

    def test_hackersPosts(self):
        """logparser-hackers has 1080 POSTs."""
        hits = shared_log("logparser-hackers")[2]
        self.assertEqual(sum(1 for h in hits if h.method == "POST"), 1080)

    def test_hackersOffsets(self):
        """Every logparser-hackers hit is at +0100."""
        offsets = {h.time.utcoffset() for h in shared_log("logparser-hackers")[2]}
        self.assertEqual(offsets, {timedelta(hours=1)})


class TimeRangeTests(unittest.TestCase):
    """A timestamp whose instant is not a date in UTC (before year 1, after 9999) is malformed."""

    def line(self, when: str) -> bytes:
        """A combined line at C{when}."""
        return (f'1.2.3.4 - - [{when}] "GET /f HTTP/1.1" 200 1 "http://a/" "ua"').encode()

    def test_pastYear9999InUtc(self):
        """31/Dec/9999:23:59:59 -2359 is year 10000 in UTC: malformed, for both parsers."""
        for parse in (parse_line, scan_line):
            error = self.assertRaises(LogLineError, parse, self.line("31/Dec/9999:23:59:59 -2359"))
            self.assertIn("time out of range", str(error))

    def test_beforeYear1InUtc(self):
        """01/Jan/0001:00:00:00 +0100 is year 0 in UTC: malformed."""
        for parse in (parse_line, scan_line):
            self.assertRaises(LogLineError, parse, self.line("01/Jan/0001:00:00:00 +0100"))

    def test_extremesInRange(self):
        """The first and last representable instants parse, and chart and JSON can show them."""
        for when in ("31/Dec/9999:23:59:59 +0000", "01/Jan/0001:00:00:00 -0100"):
            hit = parse_line(self.line(when))
            aggregates = Aggregates()
            aggregates.count([scan_line(self.line(when)), scan_line(self.line(when))])
            self.assertEqual(aggregates.per_minute()[-1][1], 2)
            json_text(aggregates.to_json())
            json_text(hit.to_json())

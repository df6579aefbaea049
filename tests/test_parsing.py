# -*- test-case-name: tests.test_parsing -*-
"""Tests for L{weblog.parsing}: lines of each recognised format read into hits, or rejected."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache

from twisted.internet.address import IPv6Address
from twisted.trial import unittest
from weblog.errors import LogLineError
from weblog.hit import Hit
from weblog.logformat import compile_format
from weblog.parsing import AUTO, hit_of, logged_of, parse_line, parse_lines, read_line

from tests.support import (
    APACHE_COMBINED,
    APACHE_COMMON,
    ELASTIC_AGENT,
    ELASTIC_FIRST,
    WHEN,
    XSS,
    shared_file,
    twisted_line,
    written,
    written_hit,
)

# The first line of shared/data/logparser-hackers/access.log.
HACKERS_FIRST = (
    '195.154.46.135 - - [25/Oct/2015:04:11:25 +0100] '
    '"GET /linux/doing-pxe-without-dhcp-control HTTP/1.1" 200 24323 '
    '"http://howto.basjes.nl/" "Mozilla/5.0 (Windows NT 5.1; rv:35.0) Gecko/20100101 Firefox/35.0"'
)
TIME = "[17/May/2015:10:05:03 +0000]"
XSS_LOGGED = '\\"><script>alert(1)</script>'  # as Apache writes it inside quotes


class ParseLineTests(unittest.TestCase):
    """L{parse_line} turns one line of each recognised format into a L{Hit}."""

    def assertHit(self, actual: Hit, expected: Hit) -> None:
        """Assert equal hits, the time in the same offset too (datetime equality ignores it)."""
        self.assertEqual(actual, expected)
        self.assertEqual(actual.time.isoformat(), expected.time.isoformat())

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
        self.assertHit(
            parse_line(HACKERS_FIRST),
            Hit(
                client="195.154.46.135", ident="-", user="-",
                time=datetime.fromisoformat("2015-10-25T04:11:25+01:00"), method="GET",
                resource="/linux/doing-pxe-without-dhcp-control",
                protocol="HTTP/1.1", status=200, bytes=24323, referrer="http://howto.basjes.nl/",
                agent="Mozilla/5.0 (Windows NT 5.1; rv:35.0) Gecko/20100101 Firefox/35.0",
            ),
        )

    def test_negativeOffsetAndUser(self):
        """Apache's documented combined line gives user frank and a time at -07:00."""
        self.assertHit(
            parse_line(APACHE_COMBINED),
            Hit(
                client="127.0.0.1", ident="-", user="frank",
                time=datetime.fromisoformat("2000-10-10T13:55:36-07:00"),
                method="GET", resource="/apache_pb.gif", protocol="HTTP/1.0", status=200,
                bytes=2326, referrer="http://www.example.com/start.html",
                agent="Mozilla/4.08 [en] (Win98; I ;Nav)",
            ),
        )

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
        parsed = parse_line(written(referrer="-", agent="-"))
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
            parse_line(written(agent="agent") + ' "-"'),
            written_hit(agent="agent"),
        )

    def test_nginxTrailingForwardedAndTime(self):
        """Trailing X-Forwarded-For and request-time fields are ignored."""
        self.assertHit(
            parse_line(written(agent="agent") + ' "1.2.3.4, 5.6.7.8" 0.005'),
            written_hit(agent="agent"),
        )

    def test_ipv6Client(self):
        """A full IPv6 client is the client, not mistaken for a vhost."""
        parsed = parse_line(written(client="2001:41d0:8:f69::1"))
        self.assertHit(parsed, written_hit()._replace(client="2001:41d0:8:f69::1"))
        self.assertIsNone(parsed.vhost)

    def test_ipv6Loopback(self):
        """C{::1} as client, in a common line with a user, is the client."""
        parsed = parse_line(f'::1 - frank {TIME} "GET / HTTP/1.1" 200 5')
        self.assertEqual((parsed.client, parsed.user, parsed.vhost), ("::1", "frank", None))

    def test_hostNameClient(self):
        """A host-name client with underscores is kept as written."""
        parsed = parse_line(written(client="crawl_1.example.net"))
        self.assertEqual(parsed.client, "crawl_1.example.net")

    def test_dashBytes(self):
        """C{-} for bytes gives bytes None; the status is still read."""
        parsed = parse_line(written(size="-"))
        self.assertEqual((parsed.status, parsed.bytes), (200, None))

    def test_dashStatus(self):
        """C{-} for status gives status None."""
        parsed = parse_line(written(status="-", size="-"))
        self.assertEqual((parsed.status, parsed.bytes), (None, None))

    def test_zeroBytes(self):
        """C{0} bytes is the number 0, not None."""
        self.assertEqual(parse_line(written(size="0")).bytes, 0)

    def test_dashRequest(self):
        """A request of C{"-"} has method None, resource C{-} and protocol None."""
        parsed = parse_line(written(request="-", status="408", size="-"))
        self.assertEqual(
            (parsed.method, parsed.resource, parsed.protocol, parsed.status),
            (None, "-", None, 408),
        )

    def test_requestWithoutProtocol(self):
        """An HTTP/0.9-style request has method and resource, protocol None."""
        parsed = parse_line(written(request="GET /x"))
        self.assertEqual((parsed.method, parsed.resource, parsed.protocol), ("GET", "/x", None))

    def test_requestWithSpaceInPath(self):
        """A raw space in the path (nginx logs it raw) stays in the resource."""
        parsed = parse_line(written(request="GET /a b HTTP/1.1"))
        self.assertEqual(
            (parsed.method, parsed.resource, parsed.protocol), ("GET", "/a b", "HTTP/1.1")
        )

    def test_http2(self):
        """HTTP/2.0 is the protocol."""
        parsed = parse_line(written(request="POST /api HTTP/2.0"))
        self.assertEqual(
            (parsed.method, parsed.resource, parsed.protocol), ("POST", "/api", "HTTP/2.0")
        )

    def test_bytesLine(self):
        """A bytes line with its newline parses like the same text."""
        self.assertHit(parse_line(ELASTIC_FIRST.encode("ascii") + b"\n"), parse_line(ELASTIC_FIRST))

    def test_crlfLine(self):
        """A line ending in CRLF parses; the line ending is not part of the user-agent."""
        self.assertEqual(parse_line(written() + "\r\n").agent, "Mozilla/5.0")


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

    def assertLoggedAndBack(self, field: str, value: str, logged: str) -> None:
        """Twisted writes C{value} of a header C{field} as C{logged}; it parses back as sent."""
        line = twisted_line(**{field: value.encode("utf-8")})  # type: ignore[arg-type]
        self.assertIn(logged, line)
        self.assertEqual(getattr(parse_line(line), field), value)

    def test_quoteAndBackslashInReferrer(self):
        """A referrer with a double quote and a backslash comes back exactly as sent."""
        self.assertLoggedAndBack("referrer", 'http://example.com/a"b\\c',
                                 ' "http://example.com/a\\"b\\\\c" ')

    def test_singleQuoteInReferrer(self):
        """A referrer with single and double quotes and a backslash comes back exactly."""
        referrer = "http://example.com/it's \"q\" \\'"
        self.assertEqual(
            parse_line(twisted_line(referrer=referrer.encode("ascii"))).referrer, referrer
        )

    def test_utf8UserAgent(self):
        """A user-agent of non-ASCII UTF-8 bytes, escaped C{\\xhh} by Twisted, decodes back."""
        self.assertLoggedAndBack("agent", "Navigateur é ü 日本 🦊",
                                 '"Navigateur \\xc3\\xa9 \\xc3\\xbc ')

    def test_quoteInUri(self):
        """A double quote in the URI comes back in the resource."""
        parsed = parse_line(twisted_line(uri=b'/search?q="x"'))
        self.assertEqual(parsed.resource, '/search?q="x"')

    def test_ipv6Client(self):
        """Twisted's quoted IPv6 client is the client."""
        parsed = parse_line(twisted_line(client=IPv6Address("TCP", "::1", 12345)))
        self.assertEqual(parsed.client, "::1")


class LogLineErrorTests(unittest.TestCase):
    """L{parse_line} raises L{LogLineError}, carrying the line and a reason, for bad lines."""

    def assertRejected(self, line: str | bytes, reason: str) -> LogLineError:
        """Assert that C{line} is rejected with C{reason} and return the error."""
        error = self.assertRaises(LogLineError, parse_line, line)
        self.assertEqual((error.line, error.reason), (line, reason))
        return error

    def test_empty(self):
        """An empty line is rejected."""
        self.assertRejected("", "not an access-log line")

    def test_garbage(self):
        """A line of garbage is rejected."""
        self.assertRejected("hello world", "not an access-log line")

    def test_truncatedAgent(self):
        """A line cut off inside the user-agent (no closing quote) is rejected."""
        self.assertRejected(written()[:-1] + "\n", "not an access-log line")

    def test_badMonth(self):
        """An unknown month name is rejected, naming the month."""
        line = written().replace("/May/", "/Foo/")
        self.assertRejected(line, "unknown month 'Foo'")

    def test_badTimeZoneText(self):
        """A time zone that is not +hhmm is rejected."""
        line = written().replace("+0000]", "UTC]")
        self.assertRejected(line, "not a log timestamp: '17/May/2015:10:05:03 UTC'")

    def test_timeZoneHoursOutOfRange(self):
        """A time zone of +2400 or more is rejected."""
        line = written().replace("+0000]", "+2400]")
        self.assertRejected(line, "time zone offset out of range: +2400")

    def test_timeZoneMinutesOutOfRange(self):
        """A time zone whose minutes are 60 or more (+0199) is rejected, not shifted."""
        line = written().replace("+0000]", "+0199]")
        error = self.assertRaises(LogLineError, parse_line, line)
        self.assertEqual(error.line, line)

    def test_impossibleDate(self):
        """31 February is rejected."""
        line = written().replace("17/May", "31/Feb")
        self.assertRejected(line, "day is out of range for month")

    def test_bytesLineKept(self):
        """For a bytes line, the error's line is the bytes as given."""
        self.assertRejected(b"garbage\xff\n", "not an access-log line")


class HostileStringTests(unittest.TestCase):
    """Markup in a line is just text to the parser."""

    def test_scriptInReferrerRequestAndAgent(self):
        """A script tag in referrer, request and user-agent parses back as plain text."""
        parsed = parse_line(written(
            request=f"GET /{XSS_LOGGED} HTTP/1.1", referrer=XSS_LOGGED, agent=XSS_LOGGED
        ))
        self.assertEqual(
            (parsed.resource, parsed.referrer, parsed.agent), ("/" + XSS, XSS, XSS)
        )


class ParseLinesTests(unittest.TestCase):
    """L{parse_lines} parses any iterable of lines."""

    def test_inOrder(self):
        """Hits come out in the order of the lines."""
        lines = [written(request=f"GET /{n} HTTP/1.1") for n in range(3)]
        self.assertEqual(
            [parsed.resource for parsed in parse_lines(lines)], ["/0", "/1", "/2"]
        )

    def test_raisesOnFirstBadLine(self):
        """By default the first bad line raises, after the hits before it."""
        hits = parse_lines([written(), "bad one", "bad two", written()])
        self.assertEqual(next(hits), written_hit())
        error = self.assertRaises(LogLineError, next, hits)
        self.assertEqual(error.line, "bad one")

    def test_ignoreInvalid(self):
        """With ignore_invalid, bad lines are skipped and the rest parsed."""
        lines = [
            "bad", written(request="GET /a HTTP/1.1"), "", written(request="GET /b HTTP/1.1")
        ]
        self.assertEqual(
            [parsed.resource for parsed in parse_lines(lines, ignore_invalid=True)], ["/a", "/b"]
        )

    def test_generatorOfBytes(self):
        """A generator of bytes lines ending in LF and CRLF is parsed."""

        def lines() -> Iterator[bytes]:
            yield written(request="GET /lf HTTP/1.1").encode("ascii") + b"\n"
            yield written(request="GET /crlf HTTP/1.1").encode("ascii") + b"\r\n"

        self.assertEqual(
            list(parse_lines(lines())),
            [written_hit(resource="/lf"), written_hit(resource="/crlf")],
        )

    def test_empty(self):
        """No lines give no hits."""
        self.assertEqual(list(parse_lines([])), [])


class ScannerTests(unittest.TestCase):
    """L{LineParser.scanner}: a line read once into what is kept and the fields counted now."""

    FIELDS = ("time", "request", "referrer", "status")
    LINES = (
        written().encode(),  # plain combined, as bytes: the fast path
        written(referrer="-", agent="-").encode(),
        APACHE_COMMON.encode(),
        written("GET /a\\x22b HTTP/1.1").encode(),  # an escape: the general path
        written(),  # text
        ("www.example.com:80 " + written()).encode(),  # vhost_combined
        written(referrer="http://r\xc3\xa9.example/".encode("latin-1").decode("utf-8", "replace"))
        .encode(),
    )

    def test_sameAsRead(self) -> None:
        """Whatever the path, the values are read_line's, and the kept line makes its hit."""
        scan = AUTO.scanner(self.FIELDS)
        for line in self.LINES:
            kept, values = scan(line)
            logged = read_line(line)
            self.assertEqual(values, tuple(getattr(logged, field) for field in self.FIELDS),
                             line)
            self.assertEqual(logged_of(kept), logged, line)
            self.assertEqual(hit_of(kept, "a.log"), parse_line(line, "a.log"), line)

    def test_formatParser(self) -> None:
        """A LogFormat's scanner gives its read's fields and keeps what it read."""
        parser = compile_format("%h %l %u %t \"%r\" %>s %b")
        line = f"1.2.3.4 - - {TIME} \"GET /x HTTP/1.1\" 404 5"
        kept, values = parser.scanner(("time", "request", "status"))(line)
        self.assertEqual(values, (TIME[1:-1], "GET /x HTTP/1.1", "404"))
        self.assertEqual(kept, parser.read(line))

    def test_badTimeEachTime(self) -> None:
        """A plain line with an invalid time is refused, and again: no bad stamp is remembered."""
        scan = AUTO.scanner(self.FIELDS)
        line = written().replace("17/May", "31/Feb").encode()
        for _ in range(2):
            error = self.assertRaises(LogLineError, scan, line)
            self.assertEqual((error.line, error.reason), (line, "day is out of range for month"))

    def test_fieldsChecked(self) -> None:
        """Counted fields must begin with the time and be fields of a line."""
        self.assertRaises(ValueError, AUTO.scanner, ("request", "time"))
        error = self.assertRaises(ValueError, AUTO.scanner, ("time", "colour"))
        self.assertIn("'colour'", str(error))


@cache
def shared_log(name: str) -> tuple[int, tuple[int, ...], tuple[Hit, ...]]:
    """
    Parse one of ../shared/data's logs.

    @return: the number of lines, the 1-based numbers of the malformed lines, the hits.
    """
    malformed = []
    hits = []
    with shared_file(name, "access.log").open() as log:  # binary, as FilePath opens
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

# -*- test-case-name: tests.test_logformat -*-
"""Tests for L{logformat}: Apache C{LogFormat} strings compiled into line parsers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from twisted.trial import unittest
from weblog.logformat import NAMED, FormatError, compile_format
from webloglib import Hit, LogLineError, parse_line

COMBINED = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'
COMMON = '%h %l %u %t "%r" %>s %b'
VHOST_COMBINED = '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"'
CUSTOM = '%t %h "%r" %>s %b %D "%{User-agent}i" "%{Referer}i"'
SPLIT_REQUEST = '%h %l %u %t "%m %U%q %H" %>s %b'

TIME = "[17/May/2015:10:05:03 +0000]"
WHEN = datetime(2015, 5, 17, 10, 5, 3, tzinfo=UTC)

# Combined lines as Apache, nginx and Twisted write them, each parsed by webloglib.parse_line.
COMBINED_LINES = [
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 '
    '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"',
    '83.149.9.216 - - [17/May/2015:10:05:03 +0000] '
    '"GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" '
    '200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" '
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36"',
    f'1.2.3.4 - - {TIME} "GET /a HTTP/1.1" 200 5 "http://x/a\\"b\\\\c" "agent \\"q\\""',
    f'1.2.3.4 - - {TIME} "GET /caf\\xc3\\xa9 HTTP/1.1" 200 5 "http://x/\\xe9t\\xc3\\xa9" '
    '"Navigateur \\xc3\\xa9 \\x22quoted\\x22"',
    f'"203.0.113.7" - - {TIME} "POST /form?q=1 HTTP/1.0" 302 - "-" "-"',
    f'2001:db8::1 - - {TIME} "GET /a b HTTP/1.1" 404 0 "-" "curl/8.0"\r\n',
    f'1.2.3.4 - - {TIME} "-" 408 - "-" "-"\n',
    f'1.2.3.4 ident user {TIME} "GET <script> HTTP/2.0" - 12 "ref" "\\t\\x01"',
]


def hit(**fields: Any) -> Hit:
    """A hit for C{/} from 1.2.3.4 at L{WHEN}, with the given fields replaced."""
    base = Hit(
        client="1.2.3.4", ident="-", user="-", time=WHEN, method="GET", resource="/",
        protocol="HTTP/1.1", status=200, bytes=5, referrer=None, agent=None,
    )
    return base._replace(**fields)


class CombinedFormatTests(unittest.TestCase):
    """Apache's combined C{LogFormat} parses lines exactly as auto-detection does."""

    def test_sameHitsAsParseLine(self):
        """Each combined line gives the very hit that L{parse_line} gives."""
        parse = compile_format(COMBINED)
        for line in COMBINED_LINES:
            self.assertEqual(parse(line, None), parse_line(line), line)

    def test_sameHitsForBytes(self):
        """Lines given as bytes give the same hits as L{parse_line} gives for them."""
        parse = compile_format(COMBINED)
        for line in COMBINED_LINES:
            raw = line.encode("utf-8")
            self.assertEqual(parse(raw, None), parse_line(raw), line)

    def test_escapedQuotesInReferrer(self):
        """Apache's C{\\"} and C{\\\\} in the referrer come back as a quote and a backslash."""
        self.assertEqual(compile_format(COMBINED)(COMBINED_LINES[2], None).referrer,
                         'http://x/a"b\\c')

    def test_hexEscapes(self):
        """C{\\xhh} escapes are undone and decoded as UTF-8; a lone Latin-1 byte stays visible."""
        parsed = compile_format(COMBINED)(COMBINED_LINES[3], None)
        self.assertEqual(
            (parsed.resource, parsed.referrer, parsed.agent),
            ("/café", "http://x/\\xe9té", 'Navigateur é "quoted"'),
        )

    def test_nonAsciiSpaceInsideField(self):
        """A raw no-break space inside a field is part of it, as for L{parse_line}."""
        line = f'1.2.3.4 - fr\u00a0nk {TIME} "GET / HTTP/1.1" 200 5 "-" "-"'
        self.assertEqual(compile_format(COMBINED)(line, None), parse_line(line))


class OtherFormatTests(unittest.TestCase):
    """Common, vhost_combined and custom formats fill the hit's fields."""

    def test_common(self):
        """A common line has every field but the referrer and user-agent."""
        line = f'1.2.3.4 - frank {TIME} "GET /index.html HTTP/1.0" 200 2326'
        self.assertEqual(
            compile_format(COMMON)(line, None),
            hit(user="frank", resource="/index.html", protocol="HTTP/1.0", bytes=2326),
        )

    def test_vhostCombined(self):
        """A vhost_combined line's C{%v} is the vhost, its port ignored; C{%O} is the bytes."""
        line = f'example.com:443 1.2.3.4 - - {TIME} "GET / HTTP/1.1" 200 5 "http://r/" "agent"'
        self.assertEqual(
            compile_format(VHOST_COMBINED)(line, None),
            hit(referrer="http://r/", agent="agent", vhost="example.com"),
        )

    def test_reorderedCustom(self):
        """Fields in another order, headers named in any case, and C{%D} the time taken."""
        line = f'{TIME} 1.2.3.4 "HEAD /x HTTP/1.1" 304 - 1234 "the agent" "http://r/"'
        self.assertEqual(
            compile_format(CUSTOM)(line, None),
            hit(method="HEAD", resource="/x", status=304, bytes=None, referrer="http://r/",
                agent="the agent", duration=1234),
        )

    def test_lowerCaseHeaderNames(self):
        """C{%{referer}i} and C{%{user-agent}i} are the referrer and user-agent."""
        parse = compile_format('%h %t "%r" "%{referer}i" "%{user-agent}i"')
        self.assertEqual(
            parse(f'1.2.3.4 {TIME} "GET / HTTP/1.1" "http://r/" "agent"', None),
            hit(status=None, bytes=None, referrer="http://r/", agent="agent"),
        )

    def test_otherHeaderIgnored(self):
        """A request header that is not the referrer or user-agent is matched and ignored."""
        parse = compile_format('%h %t "%r" "%{Host}i"')
        self.assertEqual(
            parse(f'1.2.3.4 {TIME} "GET / HTTP/1.1" "example.com"', None),
            hit(status=None, bytes=None),
        )

    def test_methodPathQueryProtocol(self):
        """With C{%m %U%q %H} instead of C{%r}, the resource is the path and the query."""
        line = f'1.2.3.4 - - {TIME} "POST /search?q=1&r=2 HTTP/1.1" 201 5'
        self.assertEqual(
            compile_format(SPLIT_REQUEST)(line, None),
            hit(method="POST", resource="/search?q=1&r=2", status=201),
        )

    def test_methodPathEmptyQuery(self):
        """With C{%m %U%q %H}, a request for C{/} (C{%q} empty, as Apache writes it) parses."""
        line = f'1.2.3.4 - - {TIME} "GET / HTTP/1.1" 200 5'
        self.assertEqual(compile_format(SPLIT_REQUEST)(line, None), hit())

    def test_pathWithoutMethod(self):
        """With only C{%U}, the method and protocol are None."""
        parse = compile_format("%h %t %U %s %B")
        self.assertEqual(
            parse(f"1.2.3.4 {TIME} /x 200 5", None),
            hit(method=None, resource="/x", protocol=None),
        )

    def test_percentLiteral(self):
        """C{%%} is a literal percent sign that the line must have."""
        parse = compile_format(COMMON + " 100%%")
        line = f'1.2.3.4 - - {TIME} "GET / HTTP/1.1" 200 5 100%'
        self.assertEqual(parse(line, None), hit())
        error = self.assertRaises(LogLineError, parse, line[:-1], None)
        self.assertEqual(error.reason, "does not match WEBLOG_FORMAT")

    def test_dashStatusAndBytes(self):
        """C{-} for the status or the bytes is None."""
        line = f'1.2.3.4 - - {TIME} "GET / HTTP/1.1" - -'
        self.assertEqual(compile_format(COMMON)(line, None), hit(status=None, bytes=None))

    def test_requestNotSplit(self):
        """A C{%r} that is not C{METHOD resource [protocol]} is all resource."""
        line = f'1.2.3.4 - - {TIME} "-" 400 5'
        self.assertEqual(
            compile_format(COMMON)(line, None),
            hit(method=None, resource="-", protocol=None, status=400),
        )

    def test_timeZone(self):
        """The time keeps its offset."""
        line = '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5'
        parsed = compile_format(COMMON)(line, None)
        self.assertEqual(
            parsed.time, datetime(2000, 10, 10, 13, 55, 36, tzinfo=timezone(-timedelta(hours=7)))
        )
        self.assertEqual(parsed.time.utcoffset(), -timedelta(hours=7))

    def test_source(self):
        """The source argument is kept on the hit."""
        line = f'1.2.3.4 - - {TIME} "GET / HTTP/1.1" 200 5'
        self.assertEqual(compile_format(COMMON)(line, "site-a.log"), hit(source="site-a.log"))

    def test_lineEndings(self):
        """A line's LF or CRLF ending is not part of the last field."""
        parse = compile_format(COMBINED)
        base = f'1.2.3.4 - - {TIME} "GET / HTTP/1.1" 200 5 "-" "agent"'
        for ending in ("\n", "\r\n"):
            self.assertEqual(parse(base + ending, None), hit(agent="agent"))


class BadLineTests(unittest.TestCase):
    """A line the format does not describe is a L{LogLineError}."""

    def test_doesNotMatch(self):
        """A line of another shape raises LogLineError with the reason and the line."""
        parse = compile_format(COMBINED)
        for line in ("", "garbage", f'1.2.3.4 - - {TIME} "GET / HTTP/1.1" 200 5', b"\xff\xfe"):
            error = self.assertRaises(LogLineError, parse, line, None)
            self.assertEqual(error.reason, "does not match WEBLOG_FORMAT")
            self.assertIs(error.line, line)

    def test_badTime(self):
        """A timestamp that is not a valid time raises LogLineError saying why."""
        parse = compile_format(COMMON)
        for when, reason in (
            ("17/Foo/2015:10:05:03 +0000", "unknown month 'Foo'"),
            ("32/May/2015:10:05:03 +0000", "day is out of range for month"),
            ("yesterday", "not a log timestamp: 'yesterday'"),
        ):
            line = f'1.2.3.4 - - [{when}] "GET / HTTP/1.1" 200 5'
            error = self.assertRaises(LogLineError, parse, line, None)
            self.assertEqual((error.reason, error.line), (reason, line))

    def test_numberTooLong(self):
        """A status or byte count of more than 18 digits is not a number."""
        parse = compile_format(COMMON)
        error = self.assertRaises(
            LogLineError, parse, f'1.2.3.4 - - {TIME} "GET / HTTP/1.1" 200 {"9" * 19}', None
        )
        self.assertEqual(error.reason, "bytes is not a number")

    def test_superscriptDigit(self):
        """A byte count of a superscript digit (C{str.isdigit} but not C{int}) is not a number."""
        line = f'1.2.3.4 - - {TIME} "GET / HTTP/1.1" 200 \u00b2'
        error = self.assertRaises(LogLineError, compile_format(COMMON), line, None)
        self.assertEqual(error.reason, "bytes is not a number")

    def test_nonAsciiDigits(self):
        """A status of Arabic-Indic digits is not a number, as for L{parse_line}."""
        line = f'1.2.3.4 - - {TIME} "GET / HTTP/1.1" \u0661\u0662\u0663 5'
        self.assertRaises(LogLineError, parse_line, line)
        error = self.assertRaises(LogLineError, compile_format(COMMON), line, None)
        self.assertEqual(error.reason, "status is not a number")


class FormatErrorTests(unittest.TestCase):
    """A format string that cannot be used is a one-line L{FormatError}."""

    def assertFormatError(self, format: str, message: str) -> FormatError:
        """Assert that compiling C{format} raises a FormatError with exactly C{message}."""
        error = self.assertRaises(FormatError, compile_format, format)
        self.assertEqual(str(error), message)
        self.assertEqual(error.format, format)
        self.assertNotIn("\n", str(error))
        return error

    def test_empty(self):
        """An empty or blank format is refused."""
        self.assertFormatError("", "WEBLOG_FORMAT '': is empty")
        self.assertFormatError("   ", "WEBLOG_FORMAT '   ': is empty")

    def test_unknownDirective(self):
        """An unknown directive is named."""
        self.assertFormatError(
            '%h %Z %t "%r"', "WEBLOG_FORMAT '%h %Z %t \"%r\"': unknown directive %Z"
        )

    def test_noTime(self):
        """A format without %t is refused."""
        self.assertFormatError(
            '%h "%r" %>s', "WEBLOG_FORMAT '%h \"%r\" %>s': needs %t for the time"
        )

    def test_noRequest(self):
        """A format without %r or %U is refused."""
        self.assertFormatError(
            "%h %t %m %H %>s", "WEBLOG_FORMAT '%h %t %m %H %>s': needs %r (or %U) for the request"
        )

    def test_timeWithFormat(self):
        """C{%{...}t} is refused: only plain %t is supported."""
        self.assertFormatError(
            '%h %{%d/%b}t "%r"',
            "WEBLOG_FORMAT '%h %{%d/%b}t \"%r\"': only plain %t is supported for the time",
        )

    def test_trailingPercent(self):
        """A lone C{%} at the end is a bad directive."""
        self.assertFormatError(
            '%h %t "%r" %', "WEBLOG_FORMAT '%h %t \"%r\" %': bad directive near '%'"
        )

    def test_lonePercentInside(self):
        """A lone C{%} before other directives is a bad directive too, as at the end."""
        self.assertFormatError(
            '%h % %t "%r"', "WEBLOG_FORMAT '%h % %t \"%r\"': bad directive near '% %t \"%r\"'"
        )

    def test_longFormatCut(self):
        """The message quotes at most 60 characters of the format, in one line."""
        format = "%h\n" + "x" * 100
        self.assertFormatError(format, f"WEBLOG_FORMAT {format[:60]!r}: needs %t for the time")


class NamedFormatTests(unittest.TestCase):
    """C{WEBLOG_FORMAT} may name a format: Apache's nicknames and Twisted's line."""

    def test_namesAreTheirFormats(self):
        """A name reads lines as its format string does."""
        line = f'www.example.com 1.2.3.4 - - {TIME} "GET / HTTP/1.1" 200 5'
        self.assertEqual(compile_format("vhost_common")(line),
                         compile_format('%v %h %l %u %t "%r" %>s %b')(line))
        self.assertEqual(compile_format("vhost_common")(line).vhost, "www.example.com")
        for name, format in (("common", COMMON), ("combined", COMBINED),
                             ("vhost_combined", VHOST_COMBINED)):
            self.assertEqual(NAMED[name], format)
        self.assertEqual(compile_format(" twisted ")(f'"1.2.3.4" - - {TIME} "GET / HTTP/1.1"'
                                                       ' 200 5 "-" "-"'), hit())

    def test_unknownNameIsAFormat(self):
        """Any other word is read as a format string, and refused as one."""
        error = self.assertRaises(FormatError, compile_format, "lighttpd")
        self.assertEqual(str(error), "WEBLOG_FORMAT 'lighttpd': needs %t for the time")


class RequestPartsTests(unittest.TestCase):
    """A format that logs the request's parts gives them as logged, never split again."""

    def test_pathAndProtocolWithoutMethod(self):
        """C{%U %H}: no method, the path as the resource, the protocol as the protocol."""
        parse = compile_format('%h %l %u %t %U %H %>s %b')
        hit = parse(f"1.2.3.4 - - {TIME} /a.html HTTP/1.1 200 5")
        self.assertEqual((hit.method, hit.resource, hit.protocol), (None, "/a.html", "HTTP/1.1"))

    def test_dashParts(self):
        """A C{-} method or protocol is none; a C{-} path is the resource C{-}."""
        parse = compile_format(SPLIT_REQUEST)
        hit = parse(f'1.2.3.4 - - {TIME} "- /a.html HTTP/1.1" 200 5')
        self.assertEqual((hit.method, hit.resource, hit.protocol), (None, "/a.html", "HTTP/1.1"))
        hit = parse(f'1.2.3.4 - - {TIME} "GET - RTSP/1.0" 200 5')
        self.assertEqual((hit.method, hit.resource, hit.protocol), ("GET", "-", "RTSP/1.0"))

    def test_counted(self):
        """The top resources count the path, not a word of the protocol."""
        from weblog.aggregates import Aggregates

        parser = compile_format('%h %l %u %t %U %H %>s %b')
        aggregates = Aggregates()
        aggregates.count([parser.read(f"1.2.3.4 - - {TIME} /{name}.html HTTP/1.1 200 5")
                          for name in ("a", "b", "a")])
        self.assertEqual(aggregates.top()["resources"], [("/a.html", 2), ("/b.html", 1)])


class DurationTests(unittest.TestCase):
    """The time taken (C{%D}, C{%T}, C{%{UNIT}T}), in microseconds, as Apache defines them."""

    def duration(self, directive: str, logged: str) -> int | None:
        """The duration of a common line with C{directive} after it, logging C{logged}."""
        parser = compile_format(f"{COMMON} {directive}")
        return parser(f'1.2.3.4 - - {TIME} "GET / HTTP/1.1" 200 5 {logged}').duration

    def test_units(self):
        """C{%D} is microseconds, C{%T} and C{%{s}T} seconds, C{%{ms}T} milliseconds,
        C{%{us}T} microseconds."""
        self.assertEqual(self.duration("%D", "1234"), 1234)
        self.assertEqual(self.duration("%T", "3"), 3_000_000)
        self.assertEqual(self.duration("%{s}T", "3"), 3_000_000)
        self.assertEqual(self.duration("%{ms}T", "17"), 17_000)
        self.assertEqual(self.duration("%{us}T", "17"), 17)
        self.assertEqual(self.duration("%{MS}T", "17"), 17_000)  # Apache's strcasecmp

    def test_dashIsNone(self):
        """A time taken logged as C{-} is none."""
        self.assertIsNone(self.duration("%D", "-"))
        self.assertIsNone(compile_format(COMMON)(f'1.2.3.4 - - {TIME} "GET / HTTP/1.1" 200 5')
                          .duration)

    def test_firstKept(self):
        """With C{%D} and C{%T} both, the first one given is the time taken."""
        parser = compile_format(f"{COMMON} %T %D")
        line = f'1.2.3.4 - - {TIME} "GET / HTTP/1.1" 200 5 2 2001234'
        self.assertEqual(parser(line).duration, 2_000_000)

    def test_badNumber(self):
        """A time taken that is not a number makes the line malformed, saying so."""
        for logged in ("12a", "1e3", "-5", "0x10", "\u0661", "1" * 13, "1.2.3"):
            error = self.assertRaises(LogLineError, self.duration, "%D", logged)
            self.assertIn("the time taken is not a number", str(error))

    def test_badUnit(self):
        """A unit Apache does not define is refused with the format."""
        error = self.assertRaises(FormatError, compile_format, f"{COMMON} %{{ns}}T")
        self.assertIn("%{ns}T: the unit must be ms, us or s", str(error))

    def test_largest(self):
        """The largest time taken read fits a signed 64-bit count of microseconds."""
        self.assertLess(self.duration("%T", "9" * 12 + ".999999999") or 2**63, 2**63)


NGINX_TIMED = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent'
               ' "$http_referer" "$http_user_agent" $request_time')


class NginxFormatTests(unittest.TestCase):
    """nginx C{log_format} strings, their variables read as the fields they fill."""

    LINE = (f'1.2.3.4 - - {TIME} "GET / HTTP/1.1" 200 5 "http://r/" "curl/8.4.0" 0.123')

    def test_timed(self):
        """nginx's combined with C{$request_time}: seconds with milliseconds, as µs."""
        self.assertEqual(compile_format(NGINX_TIMED)(self.LINE),
                         hit(referrer="http://r/", agent="curl/8.4.0", duration=123_000))

    def test_named(self):
        """C{nginx} is nginx's own combined, C{nginx_timed} the same with C{$request_time}."""
        self.assertEqual(NAMED["nginx_timed"], NGINX_TIMED)
        self.assertEqual(compile_format("nginx_timed")(self.LINE).duration, 123_000)
        self.assertEqual(compile_format("nginx")(self.LINE.rsplit(" ", 1)[0]),
                         parse_line(self.LINE.rsplit(" ", 1)[0]))

    def test_sameAsAuto(self):
        """nginx's combined reads the combined lines as auto-detection does."""
        parser = compile_format("nginx")
        for line in COMBINED_LINES[:5]:
            self.assertEqual(parser(line), parse_line(line), line)

    def test_otherVariablesIgnored(self):
        """Other variables, braced or not, quoted or not, and upstream times as nginx writes
        them for several upstreams, are matched and ignored."""
        format = ('$host ${remote_addr} "$http_x_forwarded_for" [$time_local] "$request"'
                  ' $status $bytes_sent $upstream_response_time $request_time ${pipe}x')
        line = (f'www.example.com 1.2.3.4 "5.6.7.8, 9.9.9.9" {TIME} "GET / HTTP/1.1" 200 5'
                ' 0.010, 0.002 : 0.001 1.5 px')
        self.assertEqual(compile_format(format)(line), hit(vhost="www.example.com",
                                                           duration=1_500_000))

    def test_requestParts(self):
        """C{$request_method $request_uri $server_protocol}: the request's parts as logged."""
        format = ('$remote_addr [$time_local] "$request_method $request_uri $server_protocol"'
                  ' $status')
        line = f'1.2.3.4 {TIME} "POST /a?b=1 HTTP/2.0" 201'
        self.assertEqual(compile_format(format)(line),
                         hit(method="POST", resource="/a?b=1", protocol="HTTP/2.0", status=201,
                             bytes=None))

    def test_pastedWithQuotes(self):
        """A format pasted from nginx.conf, its quoted pieces and all, reads as their text."""
        pasted = ("'$remote_addr - $remote_user [$time_local] '\n"
                  " '\"$request\" $status $body_bytes_sent \"$http_referer\" '"
                  " '\"$http_user_agent\" $request_time'")
        self.assertEqual(compile_format(pasted).format, NGINX_TIMED)

    def test_dashDuration(self):
        """A time taken of C{-} is none; a bad one makes the line malformed."""
        self.assertIsNone(compile_format(NGINX_TIMED)(self.LINE[:-5] + "-").duration)
        error = self.assertRaises(LogLineError, compile_format(NGINX_TIMED),
                                  self.LINE[:-5] + "0,123")
        self.assertIn("the time taken is not a number", str(error))

    def test_needsTimeAndRequest(self):
        """A format without C{$time_local} or a request is refused, naming nginx's variable."""
        error = self.assertRaises(FormatError, compile_format, '$remote_addr "$request"')
        self.assertIn("needs $time_local for the time", str(error))
        error = self.assertRaises(FormatError, compile_format, "$remote_addr [$time_local]")
        self.assertIn("needs $request for the request", str(error))

    def test_hostile(self):
        """Escaped quotes (nginx writes C{\\x22}) and markup stay in their fields, read as
        Apache's combined reads them."""
        line = (f'1.2.3.4 - - {TIME} "GET /<b>\\x22 HTTP/1.1" 200 5 "-"'
                ' "a\\x22 \\" b" 0.001')
        found = compile_format(NGINX_TIMED)(line)
        self.assertEqual(found, compile_format("combined")(line[:-6])._replace(duration=1000))
        self.assertIn('"', found.agent or "")

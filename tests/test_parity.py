# -*- test-case-name: tests.test_parity -*-
"""
Parsing parity with the peers, on the peers' own corpora (issue 9).

The lines under C{tests/corpora/} are apachelogs' test suite, GoAccess's test logs, Twisted's
tests of its access-log formatter (and what that formatter writes for hostile requests), and
the examples of Apache's and nginx's logging documentation; each directory's README names its
source, version, licence and format.

The reference for a line is what the peers make of it: apachelogs' parse with the line's
format, the values that Twisted's formatter was given, and the real GoAccess binary's verdicts
and panels.  A peer's fields are mapped to a hit's as follows:

 - every string is compared as weblog shows it (L{shown}): the peer's unescaped text, decoded
   as UTF-8, with undecodable bytes and unprintable characters as visible escapes (C{\\xhh},
   C{\\uhhhh}, C{\\Uhhhhhhhh}) and cut at 2048 characters (the last one an ellipsis);
 - a C{-} for the ident, the user or the request stays C{-} in a hit (apachelogs: None); a
   C{-} for the bytes, the referrer or the agent is None on both sides;
 - the peers keep C{%r} whole, a hit splits it (L{request_parts}): the first word before a
   space is the method, a last word C{HTTP/digits} after a space is the protocol, the rest is
   the resource; a request without a space is all resource.  The split is made on the whole
   request, before any cut;
 - C{%v:%p} is the hit's vhost C{host:port} when auto-detected, C{host} under a LogFormat
   (which matches C{%p} as a field of its own and ignores it);
 - GoAccess keeps the log's escapes and percent-decodes requests, so its requests are compared
   only where neither is in play (L{GoAccessTests}).

Every line on which weblog and a peer disagree, in verdict or in a field, is listed with its
class in L{DIFFERENCES} or L{GOACCESS_DIFFERENCES}; the census tests fail on any other.  A
class is either deliberate (its test asserts what weblog does, and says why) or a weblog bug
(an expected failure asserting what the peers do, with the fix proposed in its reason).
"""

from __future__ import annotations

import calendar
import functools
import json
import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import apachelogs
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IAddress
from twisted.trial import unittest
from twisted.web import http
from zope.interface import implementer

from tests import support


def _weblog_parser() -> tuple[Any, Any, type[ValueError], type[ValueError]]:
    """
    The parser under test, reached only through its stable public API: repoint it here.

    @return: C{parse_line}, C{compile_format}, C{LogLineError} and C{FormatError}.
    """
    from weblog.logformat import FormatError, compile_format
    from webloglib import LogLineError, parse_line

    return parse_line, compile_format, LogLineError, FormatError


parse_line, compile_format, LogLineError, FormatError = _weblog_parser()

CORPORA = Path(__file__).parent / "corpora"
MAX_FIELD = 2048
"""The longest field a hit shows (the README's contract), the last character an ellipsis."""

COMMON = '%h %l %u %t "%r" %>s %b'
COMBINED = apachelogs.COMBINED
VHOST_COMBINED = apachelogs.VHOST_COMBINED
VHOST_COMMON = '%v %h %l %u %t "%r" %>s %b'
TWISTED = '"%h" %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'
"""What C{twisted.web.http.combinedLogFormatter} writes, as a LogFormat."""
NGINX_COMPRESSION = '%h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i" "%{gzip_ratio}n"'
"""nginx's documented C{compression} format, as a LogFormat."""

GOACCESS_TWISTED = '"%h" %^[%d:%t %^] "%r" %s %b "%R" "%u"'
GOACCESS_VHOST_COMMON = '%v %h %^[%d:%t %^] "%r" %s %b'
GOACCESS_COMPRESSION = '%h %^[%d:%t %^] "%r" %s %b "%R" "%u" %^'


# The mapping from a peer's fields to a hit's.


def shown(text: str | None) -> str | None:
    """
    C{text}, decoded with C{surrogateescape}, as a hit shows it: unprintable characters as
    visible escapes, cut at L{MAX_FIELD} characters.
    """
    if text is None:
        return None
    out = []
    for char in text:
        point = ord(char)
        if 0xDC80 <= point <= 0xDCFF:  # an undecodable byte
            out.append(f"\\x{point - 0xDC00:02x}")
        elif char.isprintable():
            out.append(char)
        elif point < 0x100:
            out.append(f"\\x{point:02x}")
        else:
            out.append(f"\\u{point:04x}" if point < 0x10000 else f"\\U{point:08x}")
    result = "".join(out)
    return result if len(result) <= MAX_FIELD else result[: MAX_FIELD - 1] + "\u2026"


def request_parts(request: str) -> tuple[str | None, str, str | None]:
    """The method, resource and protocol that a whole request line names, as a hit splits it."""
    words = request.split(" ")
    if len(words) >= 3 and words[0] and re.fullmatch(r"HTTP/[0-9.]+", words[-1]):
        return words[0], " ".join(words[1:-1]), words[-1]
    if len(words) >= 2 and words[0]:
        return words[0], " ".join(words[1:]), None
    return None, request, None


def moment(when: datetime) -> tuple[datetime, timedelta | None]:
    """A time and its offset: equal only if both the instant and the zone are the same."""
    return when, when.utcoffset()


def _header(directive: str) -> str:
    """A directive as a key, the header's name in lower case (C{%{User-agent}i})."""
    return directive.lower() if directive.endswith("}i") else directive


@functools.cache
def peer_parser(format: str) -> Any:
    """apachelogs' parser for C{format}, decoding unescaped bytes as UTF-8 like weblog."""
    return apachelogs.LogParser(format, encoding="utf-8", errors="surrogateescape")


def peer_reading(format: str, raw: bytes, auto: bool) -> dict[str, Any] | None:
    """
    What apachelogs reads in C{raw}, mapped to a hit's fields (see the module's docstring).

    @param auto: the hit comes from auto-detection (a vhost keeps its port).
    @return: the fields, or None if apachelogs rejects the line.
    """
    try:
        parsed = peer_parser(format).parse(raw.decode("latin-1"))  # as apachelogs reads a file
    except ValueError:
        return None
    found = {_header(key): value for key, value in parsed.directives.items()}
    fields: dict[str, Any] = {}
    for key in ("%h", "%a"):
        if key in found:
            fields["client"] = shown(found[key])
            break
    for key, name in (("%l", "ident"), ("%u", "user")):
        if key in found:
            fields[name] = "-" if found[key] is None else shown(found[key])
    if "%t" in found:
        fields["time"] = moment(found["%t"])
    if "%r" in found:
        method, resource, protocol = request_parts("-" if found["%r"] is None else found["%r"])
        fields.update(method=shown(method), resource=shown(resource), protocol=shown(protocol))
    for names, field in ((("%>s", "%s"), "status"), (("%b", "%B", "%O"), "bytes")):
        for key in names:
            if key in found:
                fields[field] = found[key]
                break
    for key, field in (("%{referer}i", "referrer"), ("%{user-agent}i", "agent")):
        if key in found:
            fields[field] = shown(found[key])
    if "%v" in found:
        port = found.get("%p")
        fields["vhost"] = f"{found['%v']}:{port}" if auto and port is not None else found["%v"]
    return fields


def weblog_reading(parse: Callable[..., Any], raw: bytes, names: Any) -> dict[str, Any] | None:
    """The fields C{names} of weblog's hit for C{raw}, or None if weblog rejects the line."""
    try:
        hit = parse(raw)
    except LogLineError:
        return None
    fields = {name: getattr(hit, name) for name in names}
    if "time" in fields:
        fields["time"] = moment(fields["time"])
    return fields


def disagreement(weblog: dict[str, Any] | None, peer: dict[str, Any] | None) -> str:
    """How weblog's reading differs from the peer's: '' when it does not."""
    if weblog is None or peer is None:
        return "" if weblog is peer else "weblog rejects" if weblog is None else "weblog accepts"
    differ = sorted(name for name in peer if weblog[name] != peer[name])
    return "fields: " + ", ".join(differ) if differ else ""


# Twisted: the requests its tests give its formatter, and the ones this test adds.

FEB_2009 = 1234567890
"""The time of Twisted's formatter tests, [13/Feb/2009:23:31:30 +0000]."""
OCT_2004 = calendar.timegm((2004, 10, 25, 12, 31, 59))
"""The time Twisted's escaping tests log, [25/Oct/2004:12:31:59 +0000]."""


class Logged(NamedTuple):
    """A request as a Twisted test hands it to the formatter (as C{DummyRequestForLogTest})."""

    name: str
    when: int = FEB_2009
    host: str | bytes | None = "1.2.3.4"
    """The client's IPv4 address; an IPv6 one if it holds a colon; None: an unknown kind."""
    forwarded: bytes | None = None
    """An X-Forwarded-For header, logged by C{proxiedLogFormatter}."""
    method: bytes = b"GET"
    uri: bytes = b"/dummy"
    protocol: bytes = b"HTTP/1.0"
    code: int = 123
    length: int | None = None
    referrer: bytes | None = None
    agent: bytes | None = None

    def request(self) -> LoggedRequest:
        """The request, as the formatter is given it."""
        request = LoggedRequest([b""])
        if self.host is None:
            request.client = UnknownAddress()
        elif ":" in str(self.host):
            request.client = IPv6Address("TCP", self.host, 12345)  # type: ignore[arg-type]
        else:
            request.client = IPv4Address("TCP", self.host, 12345)  # type: ignore[arg-type]
        request.method, request.uri, request.clientproto = self.method, self.uri, self.protocol
        request.code, request.sentLength = self.code, self.length
        for name, value in ((b"referer", self.referrer), (b"user-agent", self.agent),
                            (b"x-forwarded-for", self.forwarded)):
            if value is not None:
                request.requestHeaders.addRawHeader(name, value)
        return request

    def line(self) -> str:
        """The line the installed Twisted writes for this request."""
        formatter = http.combinedLogFormatter if self.forwarded is None \
            else http.proxiedLogFormatter
        return str(formatter(http.datetimeToLogString(self.when), self.request()))

    def fields(self) -> dict[str, Any]:
        """
        The hit this request should be read as: its values as the formatter reads them (the
        headers through Twisted's C{Headers}, which turns CR and LF into spaces), mapped as the
        module's docstring says.
        """

        def text(value: bytes | str | None) -> str | None:
            if value is None:
                return None
            raw = value if isinstance(value, bytes) else value.encode("ascii")
            return shown(raw.decode("utf-8", "surrogateescape"))

        request = self.request()
        if self.forwarded is not None:
            forwarded = request.requestHeaders.getRawHeaders(b"x-forwarded-for", [b"-"])[0]
            client = text(forwarded.split(b",")[0].strip())
        else:
            client = "-" if self.host is None else text(self.host)
        return {
            "client": client, "ident": "-", "user": "-",
            "time": moment(datetime.fromtimestamp(self.when, UTC)),
            "method": text(self.method), "resource": text(self.uri),
            "protocol": text(self.protocol), "status": self.code,
            "bytes": self.length or None,  # Twisted writes 0 bytes as "-"
            "referrer": text(request.getHeader(b"referer")),
            "agent": text(request.getHeader(b"user-agent")),
        }


class LoggedRequest(support.LoggedRequest):
    """A request as Twisted's formatter tests log it (C{DummyRequestForLogTest}: code 123)."""

    code = 123


@implementer(IAddress)
class UnknownAddress:
    """An address of a kind the formatter does not know (C{test_clientAddrUnknown})."""


TEST_WEB = [
    Logged("AccessLogTestsMixin.test_combinedLogFormat"),
    Logged("CombinedLogFormatterTests.test_nonASCII", host=b"evil x-forwarded-for \x80",
           method=b"POS\x81", referrer=b"evil \x83", agent=b"evil \x84"),
    Logged("CombinedLogFormatterTests.test_clientAddrIPv6", host="::1"),
    Logged("CombinedLogFormatterTests.test_clientAddrUnknown", host=None),
    Logged("ProxiedLogFormatterTests.test_xforwardedfor",
           forwarded=b"172.16.1.2, 10.0.0.3, 192.168.1.4"),
    Logged("ProxiedLogFormatterTests.test_extraForwardedSpaces",
           forwarded=b" 172.16.1.2 , 10.0.0.3, 192.168.1.4"),
    Logged("LogEscapingTests.test_simple", when=OCT_2004),
    Logged("LogEscapingTests.test_methodQuote", when=OCT_2004, method=b'G"T'),
    Logged("LogEscapingTests.test_requestQuote", when=OCT_2004, uri=b'/dummy"withquote'),
    Logged("LogEscapingTests.test_protoQuote", when=OCT_2004, protocol=b'HT"P/1.0'),
    Logged("LogEscapingTests.test_refererQuote", when=OCT_2004,
           referrer=b'http://malicious" ".website.invalid'),
    Logged("LogEscapingTests.test_userAgentQuote", when=OCT_2004, agent=b'Malicious Web" Evil'),
]
"""The requests of C{src/twisted/web/test/test_web.py}, in the order of C{test_web.log}."""

GENERATED = [
    Logged("CR and LF in a header: Twisted's Headers makes them spaces",
           agent=b"evil\nagent\r\nX-Injected: 1"),
    Logged("LF in the path, set on the request as Twisted's tests do", uri=b"/a\nb"),
    Logged("tab, NUL and DEL in the referrer", referrer=b"http://x/\ta\x00b\x7f"),
    Logged("backslashes and quotes in the user-agent", agent=b'back\\slash "q" \\" end\\'),
    Logged("a single quote (repr picks double quotes)", agent=b"it's"),
    Logged("both quotes", agent=b"it's \"both\""),
    Logged("UTF-8 in the path and the referrer", uri=b"/caf\xc3\xa9",
           referrer=b"http://x/\xc3\xa9t\xc3\xa9"),
    Logged("bytes that are not UTF-8", agent=b"\xff\xfe\xc3 x"),
    Logged("a bidi override and a zero-width space", agent="a\u202eb\u200bc".encode()),
    Logged("an emoji", agent="\U0001f98a fox".encode()),
    Logged("a request line over 2048 characters", uri=b"/" + b"a" * 3000,
           protocol=b"HTTP/1.1"),
    Logged("a user-agent of 1000 control characters", agent=b"\x01" * 1000),
    Logged("X-Forwarded-For: unknown", forwarded=b"unknown"),
    Logged("X-Forwarded-For with a quote", forwarded=b'1.2.3.4", evil'),
    Logged("X-Forwarded-For empty", forwarded=b""),
    Logged("X-Forwarded-For: a bracketed IPv6 address and port",
           forwarded=b"[2001:db8::1]:8443"),
    Logged("markup in the method and the query", method=b"<script>",
           uri=b"/?q=<b>&x='1'"),
    Logged("nothing sent, status 499: Twisted writes 0 bytes as -", code=499, length=0),
    Logged("a large byte count", code=200, length=10**15),
    Logged("percent-escapes in the path", uri=b"/a%20b%22c", code=404),
    Logged("a backslash-x sent literally", uri=b"/x\\x41"),
    Logged("HTTP/2", protocol=b"HTTP/2", code=204),
    Logged("the epoch", when=0, code=200, length=5),
]
"""Hostile requests of this test's own, logged by the installed Twisted into C{generated.log}."""


# The corpora.


class Entry(NamedTuple):
    """One corpus line and how it is written."""

    id: str
    """The corpus file and line number (or row), such as C{twisted/test_web.log:2}."""
    raw: bytes
    """The line as stored, without its line ending."""
    format: str
    """The Apache LogFormat it is written in."""
    auto: bool
    """Its format is one that weblog recognises without configuration."""
    goaccess: str | None
    """GoAccess's C{--log-format} for it; None: not run through GoAccess."""
    logged: Logged | None = None
    """For Twisted's lines, the request the line was written for."""


def corpus_lines(name: str) -> list[bytes]:
    """The lines of a corpus file, without their line endings (every file ends with one)."""
    return (CORPORA / name).read_bytes().split(b"\n")[:-1]


def cases() -> Iterator[tuple[str, str, str, str]]:
    """apachelogs' test cases: their row's id, source test, format and line."""
    for number, row in enumerate(corpus_lines("apachelogs/cases.tsv"), 1):
        source, format, line = row.decode("ascii").split("\t")
        yield f"apachelogs/cases.tsv:{number}", source, format, line


def _entries() -> list[Entry]:
    entries = []
    files = [
        ("apachelogs/vhost_combined.log", VHOST_COMBINED, True, "VCOMBINED"),
        ("goaccess/ci-vcombined.log", VHOST_COMBINED, True, "VCOMBINED"),
        ("goaccess/readme-vcombined.log", VHOST_COMBINED, True, "VCOMBINED"),
        ("apache-docs/common.log", COMMON, True, "COMMON"),
        ("apache-docs/combined.log", COMBINED, True, "COMBINED"),
        ("apache-docs/vhost_common.log", VHOST_COMMON, False, GOACCESS_VHOST_COMMON),
        ("nginx-docs/combined.log", COMBINED, True, "COMBINED"),
        ("nginx-docs/compression.log", NGINX_COMPRESSION, True, GOACCESS_COMPRESSION),
    ]
    for name, format, auto, goaccess in files:
        for number, raw in enumerate(corpus_lines(name), 1):
            entries.append(Entry(f"{name}:{number}", raw, format, auto, goaccess))
    for name, requests in (("twisted/test_web.log", TEST_WEB),
                           ("twisted/generated.log", GENERATED)):
        for number, (raw, logged) in enumerate(zip(corpus_lines(name), requests, strict=True), 1):
            entries.append(Entry(f"{name}:{number}", raw, TWISTED, True, GOACCESS_TWISTED,
                                 logged))
    for id, _, format, line in cases():
        try:
            compile_format(format)
        except FormatError:
            continue  # a format weblog refuses: FormatTests
        auto = format in (COMBINED, VHOST_COMBINED)
        entries.append(Entry(id, line.encode("latin-1"), format, auto,
                             {COMBINED: "COMBINED", VHOST_COMBINED: "VCOMBINED"}.get(format)))
    return entries


ENTRIES = _entries()
BY_ID = {entry.id: entry for entry in ENTRIES}


def parsers(entry: Entry) -> Iterator[tuple[str, Callable[..., Any]]]:
    """The weblog parsers that read C{entry}: auto-detection if it applies, and its LogFormat."""
    if entry.auto:
        yield "auto", parse_line
    yield "format", _compiled(entry.format)


@functools.cache
def _compiled(format: str) -> Callable[..., Any]:
    parse = compile_format(format)
    return lambda raw: parse(raw, None)


def reference(entry: Entry, auto: bool) -> dict[str, Any] | None:
    """The peer's reading of C{entry}: the request Twisted logged, or else apachelogs'."""
    if entry.logged is not None:
        return entry.logged.fields()
    return peer_reading(entry.format, entry.raw, auto)


def census() -> dict[tuple[str, str], str]:
    """Every (line, parser) whose weblog reading differs from the peer's, and how."""
    found = {}
    for entry in ENTRIES:
        for name, parse in parsers(entry):
            expected = reference(entry, name == "auto")
            got = weblog_reading(parse, entry.raw, expected or ())
            what = disagreement(got, expected)
            if what:
                found[(entry.id, name)] = what
    return found


# The classes of difference.


class Difference(NamedTuple):
    """A class of lines on which weblog and a peer disagree, and why."""

    kind: str
    """C{deliberate}, or C{fixed}: weblog read these lines otherwise, and now reads them as
    the peers do (the class and its fix are kept, as a regression test)."""
    why: str


PROTOCOL_NOT_HTTP = Difference(
    "deliberate",
    "only a last word HTTP/digits is split off as the protocol: Twisted's test logs the "
    "protocol HT\"P/1.0, which stays in the resource (apachelogs does not split %r; GoAccess "
    "shows such a request as '-')",
)
CLIENT_WITH_SPACES = Difference(
    "fixed",
    "a quoted client holding spaces (Twisted logs an X-Forwarded-For or a bytes host as it "
    "came) is rejected by auto-detection; apachelogs and weblog's own LogFormat read it. "
    "Fixed: weblog.parsing._LINE reads a quoted client as an escape-aware quoted field, "
    r'(?P<client>\"[^\"\\]*+(?:\\.[^\"\\]*+)*+\"|[^\s\"]+) (unrolled and possessive: a '
    "64 KiB line of an unclosed quote is refused in 0.4 ms, a plain one parses in 0.3), and "
    "parsing.unquoted takes off one pair of quotes (client[1:-1] when it starts and ends with "
    "one) instead of client.strip('\"')",
)
CLIENT_WITH_ESCAPES = Difference(
    "fixed",
    "a quoted client holding an escaped quote (Twisted's X-Forwarded-For 1.2.3.4\") is "
    "rejected by auto-detection; apachelogs and weblog's own LogFormat read it. Fixed as "
    "CLIENT_WITH_SPACES (strip('\"') would also eat the escaped quote)",
)
LONG_REQUEST = Difference(
    "fixed",
    "a request over 2048 characters is cleaned (and so cut) before it is split: its protocol "
    "is lost (None) and its resource is cut at another place than the peers' resource. Fixed: "
    "parsing.request_of splits the request as logged at its "
    "first space (str.partition) and, if the last word is HTTP/digits, its last space "
    "(str.rpartition), then clean() each part; no regular expression runs on the long text",
)
USER_WITH_SPACES = Difference(
    "fixed",
    "a user name holding a space (Apache's %u and nginx's $remote_user are written as sent, "
    "unescaped spaces included) is rejected; apachelogs reads it, GoAccess skips it. Fixed: "
    "parsing._LINE reads the user as "
    r"(?P<user>\S++|(?<= - )[^\s\[]\S*+(?: [^\s\[]\S*+){1,8}+): several words only after "
    "a '-' ident, so that a vhost_common line (four words before the time) is still refused, "
    "not misread; words that do not start with '[', possessive and at most nine, so that a "
    "64 KiB line of words costs no more than before; logformat._field has the body "
    r"[^\s\[]\S*+(?: [^\s\[]\S*+){0,8}? for %u (the fewest words that let the line match)",
)
FORMAT_CLIENT_QUOTES = Difference(
    "fixed",
    "under a LogFormat with a quoted \"%h\", an empty client (Twisted's for an empty "
    "X-Forwarded-For) is read as '-', and a client ending in an escaped quote loses it "
    "(1.2.3.4\\\" showed as 1.2.3.4\\); auto-detection reads both as apachelogs does. Fixed: "
    "FormatParser.read takes the client as matched ('-' only when it is None) and strip one pair "
    "of quotes only when the field starts and ends with one, before clean(), instead of "
    "clean((value or '-').strip('\"'))",
)

DIFFERENCES: dict[tuple[str, str], tuple[Difference, str]] = {
    ("twisted/test_web.log:10", "auto"): (PROTOCOL_NOT_HTTP, "fields: protocol, resource"),
    ("twisted/test_web.log:10", "format"): (PROTOCOL_NOT_HTTP, "fields: protocol, resource"),
}
"""Each (line, parser) on which weblog and the reference disagree: its class and how."""

FIXED: dict[tuple[str, str], Difference] = {
    ("twisted/test_web.log:2", "auto"): CLIENT_WITH_SPACES,
    ("twisted/generated.log:11", "auto"): LONG_REQUEST,
    ("twisted/generated.log:11", "format"): LONG_REQUEST,
    ("twisted/generated.log:14", "auto"): CLIENT_WITH_ESCAPES,
    ("twisted/generated.log:14", "format"): FORMAT_CLIENT_QUOTES,
    ("twisted/generated.log:15", "format"): FORMAT_CLIENT_QUOTES,
    ("nginx-docs/combined.log:6", "auto"): USER_WITH_SPACES,
    ("nginx-docs/combined.log:6", "format"): USER_WITH_SPACES,
}
"""Each (line, parser) that weblog read otherwise than the reference before the fix its class
names: each is now read as the reference reads it."""


def listed(difference: Difference) -> list[tuple[Entry, str]]:
    """The lines and parsers of a class of L{DIFFERENCES} or L{FIXED}."""
    table = FIXED if difference.kind == "fixed" else \
        {key: which for key, (which, _) in DIFFERENCES.items()}
    return [(BY_ID[id], parser) for (id, parser), which in table.items() if which is difference]


def parser_named(entry: Entry, name: str) -> Callable[..., Any]:
    return dict(parsers(entry))[name]


def assertReadAsPeers(test: unittest.TestCase, difference: Difference) -> None:
    """Assert that weblog reads each line of a class of L{FIXED} as its reference does."""
    cases = listed(difference)
    test.assertTrue(cases)
    for entry, parser in cases:
        expected = reference(entry, parser == "auto")
        test.assertEqual(
            weblog_reading(parser_named(entry, parser), entry.raw, expected or ()),
            expected, (entry.id, parser),
        )


class CensusTests(unittest.TestCase):
    """Every corpus line: weblog reads it as the peer does, or the difference is listed."""

    def test_corporaPresent(self):
        """The corpora hold the lines this module counts on (each file in its README)."""
        counts = Counter(entry.id.split(":")[0] for entry in ENTRIES)
        self.assertEqual(counts["twisted/test_web.log"], len(TEST_WEB))
        self.assertEqual(counts["twisted/generated.log"], len(GENERATED))
        self.assertEqual(counts["apachelogs/vhost_combined.log"], 7)
        self.assertEqual(len(list(cases())), 38)
        for directory in CORPORA.iterdir():
            self.assertTrue((directory / "README.md").is_file(), directory)

    def test_census(self):
        """The disagreements are exactly the listed ones: none unlisted, none stale."""
        self.assertEqual(
            census(), {key: what for key, (_, what) in DIFFERENCES.items()},
        )

    def test_peersAcceptWhatWeblogRejects(self):
        """No line weblog rejects is one only weblog rejects."""
        for entry in ENTRIES:
            for name, parse in parsers(entry):
                if weblog_reading(parse, entry.raw, ()) is None and \
                        reference(entry, name == "auto") is not None:
                    self.fail(f"only weblog rejects {entry.id} ({name})")

    def test_autoAndFormatAgree(self):
        """A line in a recognised format gives the same hit both ways, but for the vhost."""
        for entry in ENTRIES:
            if not entry.auto or (entry.id, "auto") in DIFFERENCES or \
                    (entry.id, "format") in DIFFERENCES:
                continue
            try:
                auto = parse_line(entry.raw)
            except LogLineError:
                self.assertRaises(LogLineError, _compiled(entry.format), entry.raw)
                continue
            hit = _compiled(entry.format)(entry.raw)
            self.assertEqual(hit._replace(vhost=auto.vhost), auto, entry.id)


class ReferenceTests(unittest.TestCase):
    """The mapping itself, on the peers' own expected values."""

    def test_apachelogsExpected(self):
        """apachelogs' expected values in its tests are what peer_reading starts from."""
        fields = peer_reading(VHOST_COMBINED, BY_ID["apachelogs/cases.tsv:21"].raw, False)
        assert fields is not None
        self.assertEqual(fields["vhost"], "www.varonathe.org")
        self.assertTrue(fields["agent"].startswith('}__test|O:21:"JDatabaseDriverMysqli"'))
        self.assertTrue(fields["agent"].endswith("i:1;}\U0001d306"))  # \xf0\x9d\x8c\x86
        self.assertIn('"\\0\\0\\0a"', fields["agent"])  # \\0 in the log: a backslash and 0
        fields = peer_reading(COMBINED, BY_ID["apachelogs/cases.tsv:38"].raw, True)
        assert fields is not None
        self.assertEqual((fields["method"], fields["resource"], fields["protocol"]),
                         (None, "Gh0st\\xad", None))

    def test_shown(self):
        """Controls, undecodable bytes and format characters show as escapes; long text is cut."""
        self.assertEqual(shown("a\tb\udcff\u202e\U000e0001"), "a\\x09b\\xff\\u202e\\U000e0001")
        self.assertEqual(shown("x" * 3000), "x" * 2047 + "\u2026")
        self.assertEqual(request_parts("GET /a b HTTP/1.1"), ("GET", "/a b", "HTTP/1.1"))
        self.assertEqual(request_parts("-"), (None, "-", None))
        self.assertEqual(request_parts("GET /"), ("GET", "/", None))


class TwistedTests(unittest.TestCase):
    """Twisted's formatter: weblog claims its format, so its hostile lines are weblog's too."""

    def test_linesAreTwistedsOwn(self):
        """The stored lines are what the installed Twisted writes for the listed requests."""
        for name, requests in (("twisted/test_web.log", TEST_WEB),
                               ("twisted/generated.log", GENERATED)):
            self.assertEqual(
                [line.decode("ascii") for line in corpus_lines(name)],
                [request.line() for request in requests],
            )

    def test_apachelogsAccepts(self):
        """apachelogs reads every line Twisted wrote, with Twisted's format."""
        for entry in ENTRIES:
            if entry.logged is not None:
                self.assertIsNotNone(peer_reading(TWISTED, entry.raw, True), entry.id)

    def test_protocolNotHTTP(self):
        """A protocol that is not HTTP/digits stays in the resource (deliberate)."""
        for entry, parser in listed(PROTOCOL_NOT_HTTP):
            hit = parser_named(entry, parser)(entry.raw)
            self.assertEqual((hit.method, hit.resource, hit.protocol),
                             ("GET", '/dummy HT"P/1.0', None))

    def test_headersLoseLineBreaks(self):
        """Twisted's Headers turns CR and LF into spaces; a path's LF is logged as \\n."""
        self.assertEqual(parse_line(BY_ID["twisted/generated.log:1"].raw).agent,
                         "evil agent X-Injected: 1")
        self.assertEqual(parse_line(BY_ID["twisted/generated.log:2"].raw).resource, "/a\\x0ab")

    def test_clientWithSpaces(self):
        """A quoted client with spaces parses (fixed: CLIENT_WITH_SPACES)."""
        assertReadAsPeers(self, CLIENT_WITH_SPACES)

    def test_clientWithEscapes(self):
        """A quoted client with an escaped quote parses (fixed: CLIENT_WITH_ESCAPES)."""
        assertReadAsPeers(self, CLIENT_WITH_ESCAPES)

    def test_formatClientQuotes(self):
        """Under a LogFormat, a quoted client is read as logged (fixed: FORMAT_CLIENT_QUOTES)."""
        assertReadAsPeers(self, FORMAT_CLIENT_QUOTES)

    def test_longRequest(self):
        """A request over 2048 characters keeps its protocol (fixed: LONG_REQUEST)."""
        assertReadAsPeers(self, LONG_REQUEST)



class NginxTests(unittest.TestCase):
    """nginx's documented formats and escapes."""

    def test_escapes(self):
        """nginx's \\xXX escapes (upper-case hex) come back as the characters sent."""
        hit = parse_line(BY_ID["nginx-docs/combined.log:2"].raw)
        self.assertEqual(hit.referrer, '" \\ "foo')
        self.assertEqual(hit.agent, '/escape/"1 \\x1b\\x1c "')

    def test_oddRequests(self):
        """A TLS handshake sent to the HTTP port, and an empty request, are kept as logged."""
        hit = parse_line(BY_ID["nginx-docs/combined.log:4"].raw)
        self.assertEqual((hit.method, hit.protocol, hit.status), (None, None, 400))
        self.assertTrue(hit.resource.startswith("\\x16\\x03\\x01\\x00\\xf4"))
        hit = parse_line(BY_ID["nginx-docs/combined.log:5"].raw)
        self.assertEqual((hit.method, hit.resource, hit.protocol), (None, "", None))

    def test_userWithSpaces(self):
        """A user name with a space parses (fixed: USER_WITH_SPACES)."""
        assertReadAsPeers(self, USER_WITH_SPACES)


class ApachelogsTests(unittest.TestCase):
    """apachelogs' own test cases: its data file, line endings, timestamps and formats."""

    def test_dataFile(self):
        """apachelogs' C{test/data/vhost_combined.log}: the same six lines read, C{Bad line} not."""
        lines = corpus_lines("apachelogs/vhost_combined.log")
        peers = list(apachelogs.parse_lines(VHOST_COMBINED, [line.decode() for line in lines],
                                            ignore_invalid=True))
        accepted = []
        for line in lines:
            try:
                accepted.append(parse_line(line))
            except LogLineError:
                self.assertEqual(line, b"Bad line")
        self.assertEqual([hit.client for hit in accepted], [peer.remote_host for peer in peers])
        self.assertEqual(len(accepted), 6)

    def test_lineEndings(self):
        """apachelogs' C{test_parse_general}: no ending, LF, CR or CRLF, the same hit."""
        entry = BY_ID["apachelogs/cases.tsv:36"]
        expected = peer_reading(COMBINED, entry.raw, True)
        assert expected is not None
        for ending in (b"", b"\n", b"\r", b"\r\n"):
            self.assertEqual(peer_reading(COMBINED, entry.raw + ending, True), expected)
            for name, parse in parsers(entry):
                self.assertEqual(weblog_reading(parse, entry.raw + ending, expected), expected,
                                 (name, ending))

    def test_timestamps(self):
        """C{test_parse_apache_timestamp}'s good times, in a combined line: the same instant
        and offset."""
        base = BY_ID["apachelogs/cases.tsv:36"].raw
        good = {stamp.strip("[]") for kind, stamp in timestamps() if kind == "good"}
        self.assertEqual(len(good), 61)  # 64 cases, three of them bracketed twins
        for stamp in sorted(good):
            line = base.replace(b"01/Nov/2017:07:28:29 +0000", stamp.encode())
            expected = peer_reading(COMBINED, line, True)
            assert expected is not None
            for name, parse in parsers(BY_ID["apachelogs/cases.tsv:36"]):
                self.assertEqual(weblog_reading(parse, line, ["time"]),
                                 {"time": expected["time"]}, (name, stamp))

    def test_badTimestamps(self):
        """C{test_parse_bad_apache_timestamp}'s times: both reject, but for one deliberate
        difference: weblog reads a zone written C{-05:00} as C{-0500} (an unambiguous offset;
        ISO 8601 writes it so), where apachelogs insists on C{-0500}."""
        base = BY_ID["apachelogs/cases.tsv:36"].raw
        bad = [stamp for kind, stamp in timestamps() if kind == "bad"]
        self.assertEqual(len(bad), 7)
        for stamp in bad:
            line = base.replace(b"01/Nov/2017:07:28:29 +0000", stamp.encode())
            self.assertIsNone(peer_reading(COMBINED, line, True), stamp)
            if stamp == "13/Mar/2016:01:59:59 -05:00":
                self.assertEqual(parse_line(line).time.utcoffset(), timedelta(hours=-5))
                continue
            self.assertRaises(LogLineError, parse_line, line)
            self.assertRaises(LogLineError, _compiled(COMBINED), line)


def timestamps() -> list[tuple[str, str]]:
    """apachelogs' timestamp cases: C{good} or C{bad}, and the timestamp."""
    rows = [row.decode("ascii").split("\t") for row in corpus_lines("apachelogs/timestamps.tsv")]
    return [(kind, stamp) for kind, stamp in rows]


NO_TIME = "needs %t for the time"
NO_REQUEST = "needs %r (or %U) for the request"
STRFTIME_TIME = "only plain %t is supported for the time"
DELIBERATE_REFUSALS = (NO_TIME, NO_REQUEST, STRFTIME_TIME)
"""Why weblog refuses a format on purpose: a hit needs a time and a request, and the time is
read in the one layout of C{%t} (the README says so; apachelogs reads any C{%{...}t})."""

APACHE_DIRECTIVES = Difference(
    "fixed",
    "valid Apache directives are refused: modifiers after a {...} argument or in another "
    "order (%<>s, %200<T, %>{s}!200T, %{s}!200>T, %<200<!>T) as 'bad directive', the "
    "trailer directives %{...}^ti and %{...}^to and mod_ssl's %{...}x and %{...}c as 'bad' or "
    "'unknown directive' (so would be mod_logio's %^FB and %^FU); apachelogs reads all but "
    "%^FU. Fixed: in logformat, "
    r"_DIRECTIVE = %((?:[<>!]|[0-9,]+)*)(?:\{([^}]*)\})?((?:[<>!]|[0-9,]+)*)"
    r"(\^(?:t[io]|F[BU])|[a-zA-Z%]) (compile_format then reads its groups as _, argument, _, "
    "letter), and c, x, ^ti, ^to, ^FB and ^FU in _KNOWN (each matched as one field, ignored)",
)
APACHE_DIRECTIVE_ROWS = {
    f"apachelogs/cases.tsv:{row}" for row in (25, 26, 28, 29, 30, 31, 32, 33, 37)
}
"""The rows of apachelogs' cases whose format weblog refused before APACHE_DIRECTIVES's fix."""


class FormatTests(unittest.TestCase):
    """The formats of apachelogs' tests and of Apache's docs: weblog reads them or says why."""

    def refusals(self) -> dict[str, str]:
        """Each refused format of apachelogs' cases: its row and weblog's reason."""
        found = {}
        for id, _, format, line in cases():
            self.assertIsNotNone(peer_parser(format).parse(line), id)  # all are good cases
            try:
                compile_format(format)
            except FormatError as error:
                found[id] = str(error).split(": ", 1)[1]
        return found

    def test_refusedOnPurpose(self):
        """A format weblog refuses lacks a time or a request, or times with C{%{...}t}: none is
        refused for its directives (the rows of APACHE_DIRECTIVES were, before its fix)."""
        refusals = self.refusals()
        self.assertEqual(len(refusals), 34)  # all but rows 1, 21, 36 and 38
        self.assertEqual({id for id, reason in refusals.items()
                          if reason not in DELIBERATE_REFUSALS}, set())

    def test_apacheDirectives(self):
        """Every directive Apache and apachelogs know is read (fixed: APACHE_DIRECTIVES)."""
        refusals = self.refusals()
        for id in sorted(APACHE_DIRECTIVE_ROWS):
            self.assertIn(refusals.get(id, NO_TIME), DELIBERATE_REFUSALS, id)

    def test_apacheDocsFormats(self):
        """The docs' formats: the three with a time and a request are read, the rest refused
        on purpose; apachelogs reads all six."""
        rows = dict(row.decode("ascii").split("\t")
                    for row in corpus_lines("apache-docs/formats.tsv"))
        self.assertEqual(len(rows), 6)
        refused = {}
        for name, format in rows.items():
            peer_parser(format)
            try:
                compile_format(format)
            except FormatError as error:
                refused[name] = str(error).split(": ", 1)[1]
        self.assertEqual(refused, {"referer": NO_TIME, "agent": NO_TIME,
                                   "timestamp_msec": STRFTIME_TIME})
        self.assertEqual((rows["common"], rows["combined"].lower(), rows["vhost_common"]),
                         (COMMON, COMBINED.lower(), VHOST_COMMON))

    def test_vhostCommonNeedsFormat(self):
        """vhost_common (a vhost without its port first) is not auto-detected, deliberately:
        only C{host:port} first is told from a client; C{WEBLOG_FORMAT} reads it."""
        line = BY_ID["apache-docs/vhost_common.log:1"].raw
        self.assertRaises(LogLineError, parse_line, line)
        self.assertEqual(_compiled(VHOST_COMMON)(line).vhost, "www.example.com")
        # nor with a client '-' (the multi-word user of USER_WITH_SPACES never starts with '-')
        dashed = b'www.example.com - - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 5'
        self.assertRaises(LogLineError, parse_line, dashed)
        self.assertEqual(_compiled(VHOST_COMMON)(dashed).client, "-")


GOACCESS = shutil.which("goaccess")
PREDEFINED = ("COMBINED", "VCOMBINED", "COMMON", "VCOMMON")
PLAIN_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")
PLAIN_PROTOCOLS = ("HTTP/1.0", "HTTP/1.1", "HTTP/2")
PLAIN_RESOURCE = re.compile(r'[!#$&-\[\]-~]+')
"""A resource that was logged as shown: printable ASCII without a quote, a backslash or a
percent sign (GoAccess keeps the log's escapes and decodes percent-escapes, weblog undoes the
escapes and keeps percent-escapes, so only there do they show the same)."""


class GoAccessRun(NamedTuple):
    """What GoAccess made of some corpus lines."""

    report: dict[str, Any]
    """Its JSON report."""
    rejected: set[bytes]
    """The lines it wrote to C{--invalid-requests}."""


def run_goaccess(test: unittest.TestCase, log_format: str, lines: list[bytes]) -> GoAccessRun:
    """Run the real GoAccess over C{lines}, with no configuration but the log's format."""
    where = Path(test.mktemp())
    where.mkdir()
    log, invalid = where / "access.log", where / "invalid.log"
    log.write_bytes(b"".join(line + b"\n" for line in lines))
    command = [str(GOACCESS), "--no-global-config", "--num-tests=0", "--no-strict-status",
               f"--log-format={log_format}", f"--invalid-requests={invalid}", "-o", "json"]
    if log_format not in PREDEFINED:
        command += ["--date-format=%d/%b/%Y", "--time-format=%H:%M:%S"]
    done = subprocess.run(command + [str(log)], capture_output=True, stdin=subprocess.DEVNULL,
                          timeout=60, check=False, env={**os.environ, "HOME": str(where)})
    test.assertEqual(done.returncode, 0, done.stderr)
    rejected = set(invalid.read_bytes().split(b"\n")) - {b""} if invalid.exists() else set()
    return GoAccessRun(json.loads(done.stdout), rejected)


GLUED_TEXT = Difference(
    "deliberate",
    "text glued to the user-agent's closing quote (GoAccess's CI log ends three lines with a "
    "backslash, from its echo -e) is refused, as apachelogs refuses it: a line is read to "
    "its end, and extra fields follow a space; GoAccess stops reading where its format ends",
)
CLIENT_NOT_AN_IP = Difference(
    "deliberate",
    "GoAccess drops a line whose client is not an IP address, and reads [address]:port as "
    "the address; weblog shows the client as logged (Twisted logs '-' for an unknown address "
    "and an X-Forwarded-For as it came, Apache a host name with HostnameLookups), as "
    "apachelogs reads it",
)
GOACCESS_CLIENTS = {"[2001:db8::1]:8443": "2001:db8::1"}
"""Clients that GoAccess reads otherwise than as logged (CLIENT_NOT_AN_IP): as it shows them."""
GOACCESS_DIFFERENCES: dict[str, tuple[Difference, str]] = {
    "goaccess/ci-vcombined.log:1": (GLUED_TEXT, "weblog rejects"),
    "goaccess/ci-vcombined.log:2": (GLUED_TEXT, "weblog rejects"),
    "goaccess/ci-vcombined.log:3": (GLUED_TEXT, "weblog rejects"),
    "twisted/test_web.log:2": (CLIENT_NOT_AN_IP, "weblog accepts"),
    "twisted/test_web.log:4": (CLIENT_NOT_AN_IP, "weblog accepts"),
    "twisted/generated.log:13": (CLIENT_NOT_AN_IP, "weblog accepts"),
    "twisted/generated.log:14": (CLIENT_NOT_AN_IP, "weblog accepts"),
    "twisted/generated.log:15": (CLIENT_NOT_AN_IP, "weblog accepts"),
}
"""Each line on which weblog's verdict differs from GoAccess's: its class and how."""


class GoAccessTests(unittest.TestCase):
    """The real GoAccess, over every corpus line it has a format for."""

    if GOACCESS is None:
        skip = "GoAccess is not installed (Debian's goaccess package brings /usr/bin/goaccess)"

    def runs(self) -> Iterator[tuple[list[Entry], GoAccessRun]]:
        """Each corpus format GoAccess reads, its lines, and what GoAccess made of them."""
        formats = sorted({entry.goaccess for entry in ENTRIES if entry.goaccess})
        for log_format in formats:
            entries = [entry for entry in ENTRIES if entry.goaccess == log_format]
            yield entries, run_goaccess(self, log_format, [entry.raw for entry in entries])

    def test_goaccess(self):
        """The verdicts differ only as listed; on the lines both read, the hosts, byte counts,
        status codes and plain requests are GoAccess's."""
        found = {}
        for entries, run in self.runs():
            both = []
            for entry in entries:
                parse = parse_line if entry.auto else _compiled(entry.format)
                hit = weblog_reading(parse, entry.raw, ("client", "status", "bytes", "method",
                                                        "resource", "protocol"))
                ours, theirs = hit is not None, entry.raw not in run.rejected
                if ours != theirs:
                    found[entry.id] = "weblog accepts" if ours else "weblog rejects"
                elif ours:
                    both.append((entry, hit))
            self.assertEqual(run.report["general"]["valid_requests"],
                             len(entries) - sum(entry.raw in run.rejected for entry in entries))
            if both:  # GoAccess's panels for the lines that both read
                again = run_goaccess(self, entries[0].goaccess or "",
                                     [entry.raw for entry, _ in both])
                self.assertEqual(again.rejected, set())
                self.assertSameAggregates(again.report, both)
        self.assertEqual(found, {id: what for id, (_, what) in GOACCESS_DIFFERENCES.items()})

    def assertSameAggregates(self, report: dict[str, Any], both: list[tuple[Entry, Any]]) -> None:
        hosts: Counter[str] = Counter()
        sent: Counter[str] = Counter()
        statuses: Counter[int] = Counter()
        requests: Counter[tuple[str, str, str]] = Counter()
        for _, hit in both:
            client = GOACCESS_CLIENTS.get(hit["client"], hit["client"])
            hosts[client] += 1
            sent[client] += hit["bytes"] or 0
            statuses[hit["status"]] += 1
            if hit["method"] in PLAIN_METHODS and hit["protocol"] in PLAIN_PROTOCOLS and \
                    PLAIN_RESOURCE.fullmatch(hit["resource"]):
                requests[(hit["method"], hit["resource"], hit["protocol"])] += 1
        self.assertEqual({item["data"]: item["hits"]["count"] for item in report["hosts"]["data"]},
                         dict(hosts))
        self.assertEqual({item["data"]: item["bytes"]["count"]
                          for item in report["hosts"]["data"]}, dict(sent))
        # Status codes by class ("1xx"), and each code GoAccess names (it shows 123 as Unknown).
        self.assertEqual({group["data"][:3]: group["hits"]["count"]
                          for group in report["status_codes"]["data"]},
                         dict(Counter(f"{status // 100}xx" for status in statuses.elements())))
        for group in report["status_codes"]["data"]:
            for item in group["items"]:
                if item["data"][:3].isdigit():
                    self.assertEqual(item["hits"]["count"], statuses[int(item["data"][:3])])
        theirs = Counter({(item["method"], item["data"], item["protocol"]): item["hits"]["count"]
                          for panel in ("requests", "static_requests", "not_found")
                          for item in report[panel]["data"]})
        for key, count in requests.items():
            self.assertEqual(theirs[key], count, key)



class GoAccessDifferenceTests(unittest.TestCase):
    """The classes of GOACCESS_DIFFERENCES, on weblog and apachelogs (no GoAccess needed)."""

    def test_gluedText(self):
        """The three glued lines: apachelogs refuses them too; without the glued character
        they read as apachelogs and GoAccess read them."""
        for id, (difference, _) in GOACCESS_DIFFERENCES.items():
            if difference is not GLUED_TEXT:
                continue
            entry = BY_ID[id]
            self.assertTrue(entry.raw.endswith(b'"\\'))
            self.assertIsNone(peer_reading(entry.format, entry.raw, True))
            self.assertRaises(LogLineError, parse_line, entry.raw)
            intended = entry.raw[:-1]
            expected = peer_reading(entry.format, intended, True)
            self.assertEqual(weblog_reading(parse_line, intended, expected), expected)

    def test_clientNotAnIP(self):
        """Clients that are not IP addresses are shown as logged, as apachelogs reads them."""
        clients = []
        for id, (difference, _) in GOACCESS_DIFFERENCES.items():
            if difference is CLIENT_NOT_AN_IP:
                clients.append(parse_line(BY_ID[id].raw).client)
        self.assertEqual(clients, ["evil x-forwarded-for \\x80", "-", "unknown", '1.2.3.4"', ""])
        self.assertEqual(parse_line(BY_ID["twisted/generated.log:16"].raw).client,
                         "[2001:db8::1]:8443")

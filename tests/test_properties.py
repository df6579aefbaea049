# -*- test-case-name: tests.test_properties -*-
"""Property tests: line parsing never fails badly, Twisted's lines round-trip, reading is exact."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import webloglib
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from persist import Records
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.task import Clock
from twisted.trial import unittest
from twisted.web import http
from weblog.following import OVERLONG, LogFollower
from weblog.panels import PANELS, counted_fields
from weblog.parsing import AUTO, hit_of, logged_of, read_line, split_request
from weblog.timestamps import stamp_minute
from webloglib import Hit, LogLineError, parse_line

from tests.support import apache_escape, twisted_line

COUNTED = counted_fields(PANELS)
SCAN = AUTO.scanner(COUNTED)
PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
"""Every property: at most 200 examples and no deadline, so that the suite stays quick."""

TRICKY = list("\"\\'<>%&é日🦊")
non_space = st.one_of(
    st.sampled_from(TRICKY),
    st.characters(exclude_categories=["Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"]),
).filter(str.isprintable)
"""A printable character other than a space, often one that needs escaping in a log."""
printable = st.one_of(non_space, st.just(" "))
"""A printable character, the space included."""
hostile = st.one_of(
    st.sampled_from(list('\\"x0aF \t\r\n\x00\x7f\u202e\u00a0')),
    st.characters(),
    st.characters(categories=["Cs"]),
)
"""Any character, often a backslash, quote, hex digit, control or lone surrogate."""
ip = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str)
seconds = st.integers(min_value=0, max_value=2**32)


def assertSafeHit(testCase: unittest.TestCase, parsed: Hit) -> None:
    """Assert that every string field of C{parsed} is printable and at most MAX_FIELD long."""
    for name, value in parsed._asdict().items():
        if isinstance(value, str):
            testCase.assertTrue(value.isprintable(), (name, value))
            testCase.assertLessEqual(len(value), webloglib.MAX_FIELD, name)


def parsedOrRejected(testCase: unittest.TestCase, line: str | bytes) -> Hit | None:
    """Parse C{line}: return the hit (checked safe), or None if it raised LogLineError."""
    try:
        parsed = parse_line(line)
    except LogLineError as error:
        testCase.assertIs(error.line, line)
        return None
    testCase.assertIsInstance(parsed, Hit)
    assertSafeHit(testCase, parsed)
    return parsed


@st.composite
def nearlyValidLines(draw: st.DrawFn) -> str:
    """A line built of the combined format's parts, each possibly damaged or hostile."""
    field = st.text(hostile, max_size=30)

    def either(good: st.SearchStrategy[str]) -> str:
        return draw(st.one_of(good, field))

    client = either(st.one_of(ip, ip.map(lambda address: f'"{address}"')))
    ident = either(st.just("-"))
    user = either(st.just("-"))
    when = either(seconds.map(http.datetimeToLogString))
    request = either(st.text(printable, max_size=30).map(apache_escape))
    status = either(st.one_of(st.just("-"), st.integers(0, 999).map(str)))
    size = either(st.one_of(st.just("-"), st.text("0123456789", min_size=1, max_size=30)))
    referrer = either(st.text(printable, max_size=30).map(apache_escape))
    agent = field.map(apache_escape)
    ending = draw(st.sampled_from(["", "\n", "\r\n", " extra", ' "-"']))
    return (f'{client} {ident} {user} {when} "{request}" {status} {size} '
            f'"{referrer}" "{draw(agent)}"{ending}')



def chunked(content: bytes, sizes: list[int]) -> Iterator[bytes]:
    """Cut C{content} into pieces of the given sizes, going round the sizes."""
    position = index = 0
    while position < len(content):
        size = sizes[index % len(sizes)]
        yield content[position:position + size]
        position += size
        index += 1

class ParseAnythingTests(unittest.TestCase):
    """L{parse_line} gives a safe hit or raises L{LogLineError}, whatever it is given."""

    @PROPERTY
    @given(st.binary(max_size=600))
    def test_bytes(self, line: bytes) -> None:
        """Arbitrary bytes give a hit of printable, bounded strings, or LogLineError."""
        parsedOrRejected(self, line)

    @PROPERTY
    @given(st.text(max_size=300))
    def test_text(self, line: str) -> None:
        """Arbitrary text gives a hit of printable, bounded strings, or LogLineError."""
        parsedOrRejected(self, line)

    @PROPERTY
    @given(nearlyValidLines())
    def test_nearlyValidText(self, line: str) -> None:
        """Combined lines with damaged or hostile fields give a safe hit or LogLineError."""
        parsedOrRejected(self, line)

    @PROPERTY
    @given(nearlyValidLines())
    def test_nearlyValidBytes(self, line: str) -> None:
        """The same lines as UTF-8 bytes (lone surrogates kept) give a safe hit or LogLineError."""
        parsedOrRejected(self, line.encode("utf-8", "surrogatepass"))

    @PROPERTY
    @given(st.integers(min_value=1, max_value=6000))
    @example(4301)
    def test_byteCountOfAnyLength(self, digits: int) -> None:
        """A byte count of any number of ASCII digits gives a hit or LogLineError, not a crash."""
        line = f'1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 {"7" * digits}'
        parsed = parsedOrRejected(self, line)
        if digits <= 18:
            self.assertEqual(parsed and parsed.bytes, int("7" * digits))


class FastPathAgreesTests(unittest.TestCase):
    """
    L{weblog.parsing.read_line}'s fast path (plain lines, as bytes) accepts exactly the lines its
    general path (the same lines as text) accepts, and they make the same hit and minute.
    """

    def assertAgree(self, line: bytes) -> None:
        """C{line} read as bytes and as text: the same verdict, hit and minute, and the scanner
        of the counts reads the same fields and keeps the same line."""
        text = line.decode("utf-8", "surrogateescape")
        try:
            general = read_line(text)
        except LogLineError:
            self.assertRaises(LogLineError, read_line, line)
            return
        fast = read_line(line)
        self.assertEqual(hit_of(fast), hit_of(general))
        self.assertEqual(stamp_minute(fast.time), stamp_minute(general.time))
        self.assertEqual(stamp_minute(fast.time), int(hit_of(fast).time.timestamp()) // 60)
        kept, values = SCAN(line)
        self.assertEqual(logged_of(kept), fast)
        self.assertEqual(values, tuple(getattr(fast, field) for field in COUNTED))

    @PROPERTY
    @given(nearlyValidLines())
    @example('1.2.3.4 a\\b - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 1 "-" "x"')
    @example('1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /\\" HTTP/1.1" 200 1 "-" "x"')
    @example('1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /weblog.rpy HTTP/1.1" 200 1')
    @example('1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /a\\" 200 1')  # unterminated
    def test_nearlyValidLines(self, line: str) -> None:
        """Damaged, hostile and escaped combined lines: the same verdict and the same fields."""
        self.assertAgree(line.rstrip("\r\n").encode("utf-8", "surrogatepass"))

    @PROPERTY
    @given(st.binary(max_size=300))
    def test_bytes(self, line: bytes) -> None:
        """Arbitrary bytes: the same verdict, and the same fields when accepted."""
        self.assertAgree(line)


class TwistedRoundTripTests(unittest.TestCase):
    """What Twisted's own C{combinedLogFormatter} writes parses back to what was sent."""

    @PROPERTY
    @given(
        method=st.sampled_from(["GET", "POST", "HEAD", "PUT"]),
        path=st.text(non_space, min_size=1, max_size=40),
        protocol=st.sampled_from(["HTTP/1.0", "HTTP/1.1"]),
        referrer=st.text(printable, max_size=40).filter(lambda text: text != "-"),
        agent=st.text(printable, max_size=40).filter(lambda text: text != "-"),
        status=st.integers(min_value=100, max_value=599),
        length=st.one_of(st.none(), st.integers(min_value=0, max_value=10**9)),
        client=ip,
        when=seconds,
    )
    def test_combinedLogFormatter(
        self, method: str, path: str, protocol: str, referrer: str, agent: str, status: int,
        length: int | None, client: str, when: int,
    ) -> None:
        """Every field comes back as sent: no header or no length is None."""
        line = twisted_line(
            referrer=referrer.encode("utf-8") if referrer else None,
            agent=agent.encode("utf-8") if agent else None,
            client=(IPv6Address("TCP", client, 443) if ":" in client
                    else IPv4Address("TCP", client, 54321)),
            sent=length, uri=path.encode("utf-8"), method=method.encode("ascii"),
            protocol=protocol.encode("ascii"), status=status, when=when,
        )
        self.assertEqual(
            parse_line(line),
            Hit(
                client=client, ident="-", user="-", time=datetime.fromtimestamp(when, UTC),
                method=method, resource=path, protocol=protocol, status=status,
                bytes=length or None, referrer=referrer or None, agent=agent or None,
            ),
        )


@st.composite
def combinedLines(draw: st.DrawFn) -> bytes:
    """A valid combined line, its quoted fields escaped as Apache escapes them."""
    resource = draw(st.text(non_space, min_size=1, max_size=20))
    referrer = draw(st.text(printable, max_size=20))
    agent = draw(st.text(printable, max_size=20))
    status = draw(st.integers(min_value=100, max_value=599))
    size = draw(st.one_of(st.just("-"), st.integers(min_value=0, max_value=10**9).map(str)))
    line = (
        f'{draw(ip)} - - {http.datetimeToLogString(draw(seconds))} '
        f'"{apache_escape(f"GET {resource} HTTP/1.1")}" {status} {size} '
        f'"{apache_escape(referrer)}" "{apache_escape(agent)}"'
    )
    return line.encode("utf-8")


lineList = st.lists(
    st.one_of(combinedLines(), st.binary(max_size=80).map(lambda raw: raw.replace(b"\n", b""))),
    max_size=20,
)
chunkSizes = st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=20)


class _FileCase(unittest.TestCase):
    """A fresh, empty, existing log file for each example."""

    def emptyLog(self) -> str:
        """Create an empty log in a new directory; return its path."""
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, "access.log")
        open(path, "wb").close()
        return path

    def append(self, path: str, data: bytes) -> None:
        """Append C{data} to the file at C{path}."""
        with open(path, "ab") as log:
            log.write(data)


class RecordsChunkingTests(_FileCase):
    """L{Records} makes the same hits and counts however the log's bytes arrive."""

    def follow(self, content: bytes, sizes: list[int]) -> tuple[list[Hit], int, int, int]:
        """
        Write C{content} in chunks of C{sizes} (cycled), polling after each; return what was read.

        @return: the hits newest first, and the counts of lines, malformed lines and hits.
        """
        path = self.emptyLog()
        records = Records(path, keep=10000, clock=Clock())
        try:
            records.poll()
            for chunk in chunked(content, sizes):
                self.append(path, chunk)
                records.poll()
            records.catchUp()
            return list(records.newest()), records.lines, records.malformed, records.hit_count
        finally:
            records.stop()

    def assertChunkingInvariant(self, lines: list[bytes], sizes: list[int], ending: bytes) -> None:
        """Chunked writing gives what writing all at once gives, one hit per valid line."""
        content = b"".join(line + ending for line in lines)
        whole = self.follow(content, [max(len(content), 1)])
        self.assertEqual(self.follow(content, sizes), whole)
        hits, count, malformed, hitCount = whole
        self.assertEqual(count, len(lines))
        self.assertEqual(hitCount, len(hits))
        self.assertEqual(count - malformed, len(hits))

    @PROPERTY
    @given(lineList, chunkSizes)
    def test_newlines(self, lines: list[bytes], sizes: list[int]) -> None:
        """With LF endings, the hits, lines and malformed counts do not depend on chunking."""
        self.assertChunkingInvariant(lines, sizes, b"\n")

    @PROPERTY
    @given(lineList, chunkSizes)
    def test_crlf(self, lines: list[bytes], sizes: list[int]) -> None:
        """With CRLF endings, the hits, lines and malformed counts do not depend on chunking."""
        self.assertChunkingInvariant(lines, sizes, b"\r\n")

    @PROPERTY
    @given(combinedLines())
    def test_validLinesAreHits(self, line: bytes) -> None:
        """A valid combined line becomes exactly the hit L{parse_line} makes of it."""
        hits, count, malformed, _ = self.follow(line + b"\n", [7])
        self.assertEqual((hits, count, malformed), ([parse_line(line)], 1, 0))

    def test_hugeByteCount(self):
        """A line whose byte count has thousands of digits does not stop the reading."""
        valid = b'1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5'
        huge = valid[:-1] + b"7" * 5000
        hits, count, malformed, hitCount = self.follow(huge + b"\n" + valid + b"\n", [64])
        self.assertEqual((count, hitCount - len(hits)), (2, 0))
        self.assertEqual(hits[0], parse_line(valid))
        self.assertEqual(count - malformed, len(hits))


class FollowerBudgetTests(_FileCase):
    """L{LogFollower} hands out each complete line once, in order, whatever its budget."""

    @PROPERTY
    @given(
        st.lists(st.binary(max_size=30).map(lambda raw: raw.replace(b"\n", b"")), max_size=30),
        st.integers(min_value=1, max_value=64),
        chunkSizes,
    )
    def test_everyLineOnce(self, lines: list[bytes], budget: int, sizes: list[int]) -> None:
        """Every line is read once, in order, without its LF or the one CR before it."""
        path = self.emptyLog()
        follower = LogFollower(path)
        try:
            self.assertEqual(follower.read(budget), ([], False))
            content = b"".join(line + b"\n" for line in lines)
            read: list[bytes | None] = []
            for chunk in chunked(content, sizes):
                self.append(path, chunk)
                for _ in range(len(content) + 2):
                    found, more = follower.read(budget)
                    read.extend(found)
                    if not more:
                        break
                else:
                    self.fail("the follower never caught up")
            self.assertNotIn(OVERLONG, read)
            self.assertEqual(read, [line[:-1] if line.endswith(b"\r") else line
                                    for line in lines])
            self.assertEqual(follower.read(budget), ([], False))
        finally:
            follower.close()


REFERENCE_ESCAPE = re.compile(rb"\\(x[0-9A-Fa-f]{2}|.)", re.DOTALL)
REFERENCE_SIMPLE = {b'"': b'"', b"\\": b"\\", b"'": b"'", b"n": b"\n", b"r": b"\r", b"t": b"\t",
                    b"b": b"\b", b"v": b"\v", b"f": b"\f", b"0": b"\0"}


def reference_unescape(found: re.Match[bytes]) -> bytes:
    """One server escape undone: C{\\xhh}, the C-style letters, else kept as it stands."""
    code = found.group(1)
    if len(code) == 3:
        return bytes((int(code[1:], 16),))
    return REFERENCE_SIMPLE.get(code, b"\\" + code)


def reference_visible(char: str) -> str:
    """A character that is not printable, as a visible escape."""
    point = ord(char)
    if 0xDC80 <= point <= 0xDCFF:
        return f"\\x{point - 0xDC00:02x}"
    if point < 0x100:
        return f"\\x{point:02x}"
    return f"\\u{point:04x}" if point < 0x10000 else f"\\U{point:08x}"


def clean_reference(text: str) -> str:
    """C{clean} written straightforwardly: every escape and character a Python step, then cut."""
    if "\\" in text or not text.isprintable():
        text = re.sub("[\ud800-\udc7f\udd00-\udfff]",
                      lambda found: reference_visible(found.group()), text)
        raw = REFERENCE_ESCAPE.sub(reference_unescape, text.encode("utf-8", "surrogateescape"))
        decoded = raw.decode("utf-8", "surrogateescape")
        text = "".join(char if char.isprintable() else reference_visible(char)
                       for char in decoded)
    if len(text) > webloglib.MAX_FIELD:
        text = text[: webloglib.MAX_FIELD - 1] + "\u2026"
    return text


ESCAPES = ["\\", "x", "0", "a", "c", "3", "f", '"', "n", "q", "\\x", "\\xc3\\xa9", "\\\\", "\\0",
           "\\a", "\\u1234", "\\xf0\\x9f\\x98\\x80", "\\x01", "\x01", "\udcff", "\ud800", "é",
           "\U0001F600", "\U000E0001", "\u202e", " "]
"""Pieces of logged fields: escapes good and odd, controls, surrogates, astral characters."""


class FastCleanTests(unittest.TestCase):
    """clean's bounded, C-level passes give exactly what the straightforward version gives."""

    @PROPERTY
    @given(st.lists(st.sampled_from(ESCAPES), max_size=60).map("".join))
    def test_sameAsReference(self, text: str) -> None:
        """Short mixes of escapes and unprintable characters clean to the same text."""
        self.assertEqual(webloglib.clean(text), clean_reference(text))

    @PROPERTY
    @given(st.lists(st.sampled_from(ESCAPES), min_size=1, max_size=8),
           st.integers(min_value=200, max_value=9000))
    def test_longSameAsReference(self, pieces: list[str], times: int) -> None:
        """Fields far longer than what is shown, cut early, still clean to the same text."""
        text = "".join(pieces) * times
        self.assertEqual(webloglib.clean(text), clean_reference(text))

    @PROPERTY
    @given(st.text(alphabet=hostile, max_size=400))
    def test_anyTextSameAsReference(self, text: str) -> None:
        """Any text at all cleans to the same text."""
        self.assertEqual(webloglib.clean(text), clean_reference(text))


_REQUEST_REFERENCE = re.compile(r"([^ ]+) (.+?)(?: (HTTP/[0-9.]+))?\Z", re.DOTALL)
"""How requests were split by a regular expression before split_request used partition."""


class SplitRequestTests(unittest.TestCase):
    """L{weblog.parsing.split_request} splits as the regular expression it replaced did."""

    @PROPERTY
    @given(st.text(alphabet=" GETHTP/1.0a\n\t\"x", max_size=40))
    @example("GET  HTTP/1.1")
    @example("GET /a HTTP/1.1\n")
    @example(" GET / HTTP/1.1")
    @example("GET ")
    def test_sameSplit(self, request: str) -> None:
        """Method, resource and protocol are those the regular expression found."""
        found = _REQUEST_REFERENCE.match(request)
        expected = (None, request, None) if found is None else found.groups()
        self.assertEqual(split_request(request), expected)

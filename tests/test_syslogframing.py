# -*- test-case-name: tests.test_syslogframing -*-
"""Tests for L{weblog.syslogframing}: TCP streams framed alike however they are cut, in bounds."""

from __future__ import annotations

import time

from hypothesis import example, given
from hypothesis import strategies as st
from twisted.trial import unittest
from weblog.syslogframing import MAX_DIGITS, MAX_MESSAGE, Framing

from tests.test_properties import PROPERTY

LINE = (b'<190>Dec  7 19:00:01 myhost web1: 127.0.0.1 - - [07/Dec/2026:19:00:01 +0000] '
        b'"GET / HTTP/1.1" 200 612 "-" "curl/8.5.0"')
RFC5424 = b"<133>1 2026-12-07T19:00:01.123456+00:00 myhost web2 - - - a\nmessage with an LF"


def counted(message: bytes) -> bytes:
    """C{message} octet-counted."""
    return b"%d %s" % (len(message), message)


MIXED_LIMIT = 200
"""The most bytes of a message kept when L{MIXED} is framed."""
MIXED = (counted(RFC5424) + LINE + b"\n" + counted(LINE) + b"\n\r\n" + LINE + b"\r\n"
         + counted(b"\n") + b"127.0.0.1 - - bare\n" + counted(b"x" * 300) + b"0 zero\r\n"
         + LINE[:30])
"""A stream of octet-counted and LF-framed frames, blank lines, malformed counts, a cut."""
MIXED_OUT = [RFC5424, LINE, LINE, LINE, b"\n", b"127.0.0.1 - - bare", b"x" * 200, b"0 zero"]
"""The messages of L{MIXED}, as far as the stream ends them."""


def framed(stream: bytes, sizes: list[int], max_message: int
           ) -> tuple[list[bytes], int, int, list[bytes]]:
    """
    C{stream} fed in pieces of the given sizes, going round them, checking the bound each time.

    @return: the messages, cut, malformed (after the end) and the messages that the end gives.
    """
    framing = Framing(max_message)
    out: list[bytes] = []
    position = 0
    turn = 0
    while position < len(stream):
        size = sizes[turn % len(sizes)] if sizes else len(stream)
        out += framing.feed(stream[position:position + size])
        assert framing.held <= max(max_message + 1, MAX_DIGITS), framing.held
        position += size
        turn += 1
    cut = framing.cut
    ends = framing.end()
    assert framing.held == 0
    return out, cut, framing.malformed, ends


def reference(stream: bytes, limit: int) -> tuple[list[bytes], int, int, list[bytes]]:
    """
    What L{framed} gives, worked out slowly and plainly from the rules, the stream whole.

    @param limit: the most bytes of a message that are kept.
    """
    out: list[bytes] = []
    cut = malformed = 0
    position = 0
    while position < len(stream):
        if stream[position:position + 1].isdigit():
            after = position
            while after < len(stream) and after - position <= MAX_DIGITS and \
                    stream[after:after + 1].isdigit():
                after += 1
            if after == len(stream) and after - position <= MAX_DIGITS:
                return out, cut, malformed + 1, []  # a count the stream leaves unfinished
            if after - position <= MAX_DIGITS and stream[after] == 0x20 and \
                    int(stream[position:after]) > 0:
                count = int(stream[position:after])
                message = stream[after + 1:after + 1 + count]
                handed = len(message) >= min(count, limit)  # whole, or as long as kept
                if handed:
                    cut += count > limit
                    out.append(message[:limit])
                if len(message) < count:
                    return out, cut, malformed + (not handed), []
                position = after + 1 + count
                continue
            malformed += 1
        newline = stream.find(b"\n", position)
        last = newline < 0
        message = stream[position:None if last else newline].removesuffix(b"\r")
        if len(message) > limit:
            cut += 1
            out.append(message[:limit])
        elif message and not last:
            out.append(message)
        elif message:
            return out, cut, malformed, [message]
        if last:
            break
        position = newline + 1
    return out, cut, malformed, []


class FramingTests(unittest.SynchronousTestCase):
    """L{Framing} frames a stream by LF or by octet count, frame by frame, in bounds."""

    def test_lf(self) -> None:
        """LF-framed messages lose one CR before the LF; blank lines are skipped."""
        framing = Framing()
        self.assertEqual(framing.feed(b"a\nb\r\n\n\r\n\r\r\nc\rd\n\x00e\x00\n f\n"),
                         [b"a", b"b", b"\r", b"c\rd", b"\x00e\x00", b" f"])
        self.assertEqual((framing.cut, framing.malformed, framing.held), (0, 0, 0))

    def test_octetCounted(self) -> None:
        """An octet-counted message is kept as sent, LFs, CRs and digits included."""
        framing = Framing()
        self.assertEqual(framing.feed(b"3 a\nb5 12 \r\n1 \n007 <1>abcd"),
                         [b"a\nb", b"12 \r\n", b"\n", b"<1>abcd"])
        self.assertEqual((framing.cut, framing.malformed, framing.held), (0, 0, 0))

    def test_mixed(self) -> None:
        """A stream of both kinds of frame, a bad count and a cut message, fed whole."""
        self.assertEqual(framed(MIXED, [], MIXED_LIMIT), (MIXED_OUT, 1, 2, [LINE[:30]]))

    def test_everySplit(self) -> None:
        """The stream cut in two at each byte, or fed a byte at a time, is framed alike."""
        whole = framed(MIXED, [], MIXED_LIMIT)
        self.assertEqual(framed(MIXED, [1], MIXED_LIMIT), whole)
        for split in range(1, len(MIXED)):
            self.assertEqual(framed(MIXED, [split, len(MIXED)], MIXED_LIMIT), whole, split)

    def test_malformedCounts(self) -> None:
        """Too many digits, a count of 0, or digits without a space: one LF-framed frame each."""
        framing = Framing()
        self.assertEqual(framing.feed(b"1234567890 x\n0 y\n12.3 z\n12\n1 2"),
                         [b"1234567890 x", b"0 y", b"12.3 z", b"12", b"2"])
        self.assertEqual((framing.cut, framing.malformed), (0, 4))

    def test_nineDigits(self) -> None:
        """A count of nine digits is framing: its first bytes are handed out, the rest skipped."""
        framing = Framing(4)
        self.assertEqual(framing.feed(b"999999999 abcdef"), [b"abcd"])
        self.assertEqual(framing.feed(b"x" * 100_000), [])
        self.assertEqual((framing.cut, framing.malformed, framing.held), (1, 0, 0))
        self.assertEqual(framing.end(), [])

    def test_cutLfAtOnce(self) -> None:
        """A long LF-framed message is handed out cut as soon as it passes the limit."""
        framing = Framing(4)
        self.assertEqual(framing.feed(b"abc"), [])
        self.assertEqual(framing.feed(b"de"), [b"abcd"])
        self.assertEqual((framing.cut, framing.held), (1, 0))
        self.assertEqual(framing.feed(b"f" * 1000 + b"g\nok\n"), [b"ok"])

    def test_limitWithCr(self) -> None:
        """A message of max_message bytes, then CR LF, is not cut, even if fed apart."""
        for sizes in ([], [5], [4, 1, 1], [1]):
            self.assertEqual(framed(b"abcd\r\nabcd\rx\n", sizes, 4),
                             ([b"abcd", b"abcd"], 1, 0, []), sizes)
        self.assertEqual(framed(b"abcd\r", [], 4), ([], 0, 0, [b"abcd"]))

    def test_cutOctets(self) -> None:
        """A long octet-counted message is handed out cut once its first bytes are in."""
        framing = Framing(4)
        self.assertEqual(framing.feed(b"10 abc"), [])
        self.assertEqual(framing.feed(b"d"), [b"abcd"])
        self.assertEqual(framing.feed(b"efghij2 ok"), [b"ok"])
        self.assertEqual((framing.cut, framing.malformed, framing.held), (1, 0, 0))

    def test_end(self) -> None:
        """At the end, an unfinished line is a message; a count or octet frame is malformed."""
        for stream, expected in ((b"<1>m\r", ([], 0, 0, [b"<1>m"])), (b"\r", ([], 0, 0, [])),
                                 (b"12", ([], 0, 1, [])), (b"3 ab", ([], 0, 1, [])),
                                 (b"9 abcdef", ([b"abcd"], 1, 0, [])),
                                 (b"abcdef", ([b"abcd"], 1, 0, []))):
            self.assertEqual(framed(stream, [], 4), expected, stream)

    def test_endStartsAnew(self) -> None:
        """After the end, the framing reads a new stream from a frame's start."""
        framing = Framing()
        framing.feed(b"5 ab")
        framing.end()
        self.assertEqual(framing.feed(b"1 x"), [b"x"])

    def test_maxMessage(self) -> None:
        """MAX_MESSAGE is 64 KiB, the default; a limit under 1 is refused."""
        self.assertEqual(MAX_MESSAGE, 65536)
        self.assertEqual(Framing().max_message, MAX_MESSAGE)
        self.assertRaises(ValueError, Framing, 0)

    def test_heldBound(self) -> None:
        """A stream that stops mid-frame holds at most max_message + 1 bytes, whatever comes."""
        for stream in (b"x" * 200_000, b"x" * MAX_MESSAGE + b"\r", b"9 " + b"y" * 100_000,
                       b"99999 " + b"z" * 100_000, b"123456789"):
            for sizes in ([], [1000], [MAX_MESSAGE - 1, 1, 7]):
                framed(stream, sizes, MAX_MESSAGE)  # which checks the bound after each piece


streams = st.lists(
    st.one_of(
        st.binary(max_size=40).map(counted),
        st.binary(max_size=40).filter(lambda body: b"\n" not in body).map(lambda b: b + b"\n"),
        st.sampled_from([b"\n", b"\r\n", b"\r", b" ", b"0 ", b"1", b"12", b"1234567890 ",
                         b"999999999 ", b"40 ", b"<13>", b"\x00", b"\xff"]),
        st.binary(max_size=20),
    ),
    max_size=20,
).map(b"".join)
"""Streams of frames of both kinds, long ones, bad counts, stray bytes."""
pieces = st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=8)


class FramingPropertyTests(unittest.SynchronousTestCase):
    """However a stream is cut into pieces, L{Framing} frames it as the rules say, in bounds."""

    @PROPERTY
    @given(streams, pieces, st.integers(min_value=1, max_value=48))
    @example(b"12", [1], 4)
    @example(b"abcd\r\n", [5], 4)
    @example(b"abcd\rx", [5], 4)
    def test_chunkingAndReference(self, stream: bytes, sizes: list[int], limit: int) -> None:
        """Fed in any pieces: the messages, counts and end of a plain reading of the rules."""
        whole = framed(stream, [], limit)
        self.assertEqual(whole, reference(stream, limit))
        self.assertEqual(framed(stream, sizes, limit), whole)

    @PROPERTY
    @given(st.binary(max_size=400), pieces, st.integers(min_value=1, max_value=48))
    def test_anyBytes(self, stream: bytes, sizes: list[int], limit: int) -> None:
        """Any bytes in any pieces: the same as the reference, held within the bound."""
        self.assertEqual(framed(stream, sizes, limit), reference(stream, limit))

    @PROPERTY
    @given(st.lists(st.binary(min_size=1, max_size=100).filter(
        lambda message: b"\n" not in message and not message[:1].isdigit()
        and not message.endswith(b"\r")), max_size=20), st.lists(st.booleans(), min_size=1),
        pieces)
    def test_messagesBack(self, messages: list[bytes], octets: list[bool],
                          sizes: list[int]) -> None:
        """Messages sent in either framing, the kind chosen each time, come back as sent."""
        stream = b"".join(counted(message) if octets[index % len(octets)] else message + b"\n"
                          for index, message in enumerate(messages))
        self.assertEqual(framed(stream, sizes, 100), (messages, 0, 0, []))


def cpuTime(stream: bytes) -> float:
    """The least processor time, in seconds, that three framings of C{stream} took, whole."""
    times = []
    for _ in range(3):
        framing = Framing()
        start = time.process_time()
        framing.feed(stream)
        times.append(time.process_time() - start)
    return min(times)


HOSTILE = (b"\n", b"1 x", b"\r\n", b"x\n", b"1 xa\n", b"1\n", b"0 x\n", b"a\n1", b"12.\n",
           b"1 \n", b"1", b"x", b"\r", b"9")
"""Short frames and bytes repeated: the most frames, bad counts and long lines per byte."""


class FramingTimeTests(unittest.SynchronousTestCase):
    """L{Framing.feed}'s work is linear in what it is given, whatever that is."""

    def test_64KiB(self) -> None:
        """64 KiB of each hostile pattern takes under 200 ms (aimed at under 20 ms)."""
        for pattern in HOSTILE:
            took = cpuTime(pattern * (65536 // len(pattern)))
            self.assertLess(took, 0.200, pattern)

    def test_linear(self) -> None:
        """Eight times the bytes take at most about eight times as long, not 64 times."""
        for pattern in (b"1 x", b"1\n", b"a\n1", b"x\n1 x"):
            small = cpuTime(pattern * (65536 // len(pattern)))
            large = cpuTime(pattern * (8 * 65536 // len(pattern)))
            self.assertLess(large, 24 * max(small, 0.001), pattern)

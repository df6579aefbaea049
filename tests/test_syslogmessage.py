# -*- test-case-name: tests.test_syslogmessage -*-
"""Tests for L{weblog.syslogmessage}: real senders' messages read, hostile ones refused quickly."""

from __future__ import annotations

import logging
import time
from logging.handlers import SysLogHandler
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from twisted.trial import unittest
from weblog.errors import WeblogError
from weblog.syslogmessage import (
    HOST_CHARACTERS,
    MAX_HOST,
    MAX_TAG,
    TAG_CHARACTERS,
    MalformedMessage,
    Message,
    clean_host,
    clean_tag,
    parse_message,
)

from tests.test_properties import PROPERTY

LINE = (b'127.0.0.1 - - [07/Dec/2026:19:00:01 +0000] "GET / HTTP/1.1" 200 612 "-" '
        b'"curl/8.5.0"')
"""An access-log line, as nginx logs it."""
BOM = b"\xef\xbb\xbf"

GOLDEN = [
    # nginx: access_log syslog:server=127.0.0.1:5514,tag=web1;
    (b"<190>Dec  7 19:00:01 myhost web1: " + LINE, Message("myhost", "web1", LINE)),
    # nginx with nohostname
    (b"<190>Dec  7 19:00:01 web1: " + LINE, Message("", "web1", LINE)),
    # rsyslog omfwd, RSYSLOG_TraditionalForwardFormat, imfile Tag="web2:"
    (b"<133>Dec  7 19:00:01 myhost web2: " + LINE + b"\n", Message("myhost", "web2", LINE)),
    # rsyslog RSYSLOG_ForwardFormat: RFC 3339 time in RFC 3164's place
    (b"<133>2026-12-07T19:00:01.123456+00:00 myhost web2[123]: " + LINE,
     Message("myhost", "web2", LINE)),
    # rsyslog RSYSLOG_SyslogProtocol23Format (RFC 5424)
    (b"<133>1 2026-12-07T19:00:01.123456+00:00 myhost web2 - - - " + LINE + b"\n",
     Message("myhost", "web2", LINE)),
    # RFC 5424's own examples
    (b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - " + BOM
     + b"'su root' failed for lonvick on /dev/pts/8",
     Message("mymachine.example.com", "su", b"'su root' failed for lonvick on /dev/pts/8")),
    (b'<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It\'s time to '
     b'make the do-nothing',
     Message("192.0.2.1", "myproc", b"%% It's time to make the do-nothing")),
    (b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 '
     b'iut="3" eventSource="Application" eventID="1011"] ' + BOM + b"An application event",
     Message("mymachine.example.com", "evntslog", b"An application event")),
    (b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 '
     b'iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]',
     Message("mymachine.example.com", "evntslog", b"")),
    # RFC 3164's own examples: the second has no tag, and its first word is read as one
    (b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
     Message("mymachine", "su", b"'su root' failed for lonvick on /dev/pts/8")),
    (b"<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!", Message("10.0.0.99", "Use", b"the BFG!")),
]
"""Messages as real senders and the RFCs write them, and what they are read as."""


class MalformedMessageTests(unittest.SynchronousTestCase):
    """L{MalformedMessage} is one of weblog's errors, a line that repeats little of the input."""

    def test_hierarchy(self) -> None:
        """It is a WeblogError and so a ValueError."""
        self.assertTrue(issubclass(MalformedMessage, WeblogError))
        self.assertTrue(issubclass(MalformedMessage, ValueError))

    def test_keepsReasonAndData(self) -> None:
        """The error keeps the reason and the bytes as given."""
        data = b"hello"
        error = self.assertRaises(MalformedMessage, parse_message, data)
        self.assertEqual(error.reason, "no <PRI> at the start")
        self.assertIs(error.data, data)
        self.assertEqual(str(error), "no <PRI> at the start: b'hello'")

    def test_bounded(self) -> None:
        """A message of 64 KiB is repeated by its first 40 bytes only, on one line."""
        error = self.assertRaises(MalformedMessage, parse_message, b"\n" * 65536)
        self.assertEqual(str(error), "no <PRI> at the start: b'" + "\\n" * 40 + "'")


class CleanTests(unittest.SynchronousTestCase):
    """L{clean_host} and L{clean_tag} make a host and a tag safe, and short."""

    def test_hostKept(self) -> None:
        """A host name, an IPv4 and an IPv6 address are kept as they are."""
        for host in ("web-1.example.com", "192.0.2.1", "fe80::1", "host_a"):
            self.assertEqual(clean_host(host), host)
            self.assertEqual(clean_host(host.encode()), host)

    def test_hostReplaced(self) -> None:
        """Each control, space, slash, quote or non-ASCII byte or character becomes one _."""
        self.assertEqual(clean_host(b"a\x00b\nc d/e\"f<g>\xc3\xa9"), "a_b_c_d_e_f_g___")
        self.assertEqual(clean_host("a\x00b\u202ec\u00e9\U0001f98a"), "a_b_c__")
        self.assertEqual(clean_host("\ud800"), "_")

    def test_hostCut(self) -> None:
        """A host of 300 characters is cut to MAX_HOST."""
        self.assertEqual(clean_host(b"h" * 300), "h" * MAX_HOST)
        self.assertEqual(clean_host("\u00e9" * 300), "_" * MAX_HOST)

    def test_hostEmpty(self) -> None:
        """No host stays no host."""
        self.assertEqual(clean_host(b""), "")
        self.assertEqual(clean_host(""), "")

    def test_tag(self) -> None:
        """A tag keeps [A-Za-z0-9._-], the rest (a colon too) becomes _, cut to MAX_TAG."""
        self.assertEqual(clean_tag(b"web_1.a-b"), "web_1.a-b")
        self.assertEqual(clean_tag(b"web:1[2]\xff"), "web_1_2__")
        self.assertEqual(clean_tag("t\u00e9" * 100), "t_" * (MAX_TAG // 2))

    def test_tagEmpty(self) -> None:
        """No tag is "-"."""
        self.assertEqual(clean_tag(b""), "-")
        self.assertEqual(clean_tag(""), "-")


class GoldenTests(unittest.SynchronousTestCase):
    """L{parse_message} reads what real senders send."""

    def test_golden(self) -> None:
        """Each real message is read as its host, tag and text."""
        for data, expected in GOLDEN:
            self.assertEqual(parse_message(data), expected, data)

    def test_pythonSysLogHandler(self) -> None:
        """Python's own SysLogHandler: no time, no host, ident as the tag, a NUL at the end."""
        sent: list[bytes] = []

        class Capture:
            def sendto(self, data: bytes, address: Any) -> None:
                sent.append(data)

            def close(self) -> None:
                pass

        handler = SysLogHandler(address=("127.0.0.1", 9), facility=SysLogHandler.LOG_LOCAL7)
        unsent: Any = handler  # typeshed does not know its socket
        unsent.socket.close()
        unsent.socket = Capture()
        handler.ident = "web3: "
        handler.emit(logging.makeLogRecord({"msg": LINE.decode(), "levelname": "INFO"}))
        self.assertEqual(sent, [b"<190>web3: " + LINE + b"\x00"])
        self.assertEqual(parse_message(sent[0]), Message("", "web3", LINE))


class RFC5424Tests(unittest.SynchronousTestCase):
    """RFC 5424 messages: nil values, structured data skipped, the header checked."""

    def parsed(self, rest: bytes) -> Message:
        """The message of C{<14>1 - host app - - } and C{rest}."""
        return parse_message(b"<14>1 - host app - - " + rest)

    def test_nil(self) -> None:
        """A nil HOSTNAME is no host, a nil APP-NAME the tag -, no MSG an empty text."""
        self.assertEqual(parse_message(b"<14>1 - - - - - -"), Message("", "-", b""))
        self.assertEqual(parse_message(b"<14>1 - - - - - - "), Message("", "-", b""))

    def test_textKept(self) -> None:
        """The text is every byte after SD and a space, spaces, controls and non-ASCII too."""
        text = b" two\x00\x7f\xff \"spaces\"\tand\nlines"
        self.assertEqual(self.parsed(b"- " + text).text, text)

    def test_bomAndNewlines(self) -> None:
        """A leading BOM and trailing CR, LF and NUL are removed, a BOM elsewhere is kept."""
        self.assertEqual(self.parsed(b"- " + BOM + b"x" + BOM + b"\r\n\x00").text,
                         b"x" + BOM)

    def test_structuredData(self) -> None:
        """Quoted values with escapes and an unescaped ] are skipped whole."""
        for sd in (b'[a]', b'[a x="1"][b y="2"]', b'[a x="\\"]"]', b'[a x="]"]',
                   b'[a x="\\\\"]', b'[a x="\\]" y="\n"]', b'[]'):
            self.assertEqual(self.parsed(sd + b" msg").text, b"msg", sd)
            self.assertEqual(self.parsed(sd).text, b"", sd)

    def test_structuredDataBroken(self) -> None:
        """Unclosed elements or quotes, a bad start, or no space after SD: malformed."""
        for sd in (b"[a", b'[a x="]', b'[a x="\\"]', b"x", b"[a]x", b"-x", b'[a x="1"', b"",
                   b"[a][", b"]"):
            self.assertRaises(MalformedMessage, self.parsed, sd)

    def test_missingFields(self) -> None:
        """A header cut short, or with an empty field, is malformed and says which field."""
        cases = [(b"<14>1 ", "RFC 5424 header cut short at TIMESTAMP"),
                 (b"<14>1 - host app", "RFC 5424 header cut short at APP-NAME"),
                 (b"<14>1 - host app - -", "RFC 5424 header cut short at MSGID"),
                 (b"<14>1 -  app - - - x", "RFC 5424 HOSTNAME empty")]
        for data, reason in cases:
            error = self.assertRaises(MalformedMessage, parse_message, data)
            self.assertEqual(error.reason, reason)

    def test_hostileFields(self) -> None:
        """Non-ASCII and controls in HOSTNAME and APP-NAME are cleaned, long ones cut."""
        message = parse_message(b"<14>1 - h\xc3\xa9\x01" + b"x" * 300 + b" app\x7f" + b"y" * 99
                                + b" - - - m")
        self.assertEqual(message, Message(("h___" + "x" * 300)[:MAX_HOST],
                                          ("app_" + "y" * 99)[:MAX_TAG], b"m"))


class RFC3164Tests(unittest.SynchronousTestCase):
    """RFC 3164 messages and their variants: times, hosts, tags with and without PID."""

    def test_timestamps(self) -> None:
        """Days padded with a space, with a zero, or not at all; RFC 3339 with or without Z."""
        for stamp in (b"Dec  7 19:00:01", b"Dec 07 19:00:01", b"Dec 7 19:00:01",
                      b"Jan 31 00:00:00", b"2026-12-07T19:00:01Z",
                      b"2026-12-07T19:00:01.1-05:30", b"2026-12-07T19:00:01.123456789+00:00"):
            self.assertEqual(parse_message(b"<13>" + stamp + b" h t: m"), Message("h", "t", b"m"),
                             stamp)

    def test_tagForms(self) -> None:
        """A tag with or without [PID], colon and space; the text keeps a second space."""
        for rest, tag, text in ((b"t: m", "t", b"m"), (b"t[1]: m", "t", b"m"),
                                (b"t[]: m", "t", b"m"), (b"t m", "t", b"m"),
                                (b"t:m", "t", b"m"), (b"t[1]m", "t", b"m"),
                                (b"t:  m", "t", b" m"), (b": m", "-", b"m"),
                                (b"t:", "t", b""), (b"t", "t", b""), (b"", "-", b"")):
            self.assertEqual(parse_message(b"<13>Dec  7 19:00:01 h " + rest),
                             Message("h", tag, text), rest)

    def test_noHostname(self) -> None:
        """A word ending in a colon right after the time is the tag, and there is no host."""
        self.assertEqual(parse_message(b"<13>Dec  7 19:00:01 t[9]: m"), Message("", "t", b"m"))
        self.assertEqual(parse_message(b"<13>Dec  7 19:00:01 t:"), Message("", "t", b""))

    def test_hostOnly(self) -> None:
        """A host and nothing after it, or nothing after the time at all."""
        self.assertEqual(parse_message(b"<13>Dec  7 19:00:01 h"), Message("h", "-", b""))
        self.assertEqual(parse_message(b"<13>Dec  7 19:00:01"), Message("", "-", b""))

    def test_unclosedPid(self) -> None:
        """A tag's [PID] that is not closed before a space is malformed."""
        for rest in (b"t[1: m", b"t[1 2]: m", b"t["):
            error = self.assertRaises(MalformedMessage, parse_message,
                                      b"<13>Dec  7 19:00:01 h " + rest)
            self.assertEqual(error.reason, "the tag's [PID] is not closed")

    def test_hostileHostAndTag(self) -> None:
        """Controls and non-ASCII in host and tag are cleaned, a 300-byte host cut."""
        message = parse_message(b"<13>Dec  7 19:00:01 \xff\x1b[31m" + b"h" * 300
                                + b" t\xc3\xa9\t\x00: m")
        self.assertEqual(message, Message(("___31m" + "h" * 300)[:MAX_HOST], "t____", b"m"))

    def test_untimed(self) -> None:
        """No time: no host, a leading word and colon as the tag, else none."""
        for data, expected in ((b"<13>web1: m", Message("", "web1", b"m")),
                               (b"<13>web1[42]: m", Message("", "web1", b"m")),
                               (b"<13>web1:", Message("", "web1", b"")),
                               (b"<13>m", Message("", "-", b"m")),
                               (b"<13>", Message("", "-", b"")),
                               (b"<13>web1:m", Message("", "-", b"web1:m")),
                               (b"<13>fe80::1 - -", Message("", "-", b"fe80::1 - -")),
                               (b"<13>" + LINE, Message("", "-", LINE)),
                               (b"<13>host web1: m", Message("", "-", b"host web1: m")),
                               (b"<13>Dec  7 19:00 h t: m",
                                Message("", "-", b"Dec  7 19:00 h t: m")),
                               (b"<13>2 - h t", Message("", "-", b"2 - h t"))):
            self.assertEqual(parse_message(data), expected, data)

    def test_untimedLongWord(self) -> None:
        """A leading word longer than MAX_TAG is not a tag."""
        word = b"w" * (MAX_TAG + 1)
        self.assertEqual(parse_message(b"<13>" + word + b": m"), Message("", "-", word + b": m"))
        self.assertEqual(parse_message(b"<13>" + word[1:] + b": m"),
                         Message("", word[1:].decode(), b"m"))


class PriTests(unittest.SynchronousTestCase):
    """The <PRI> that must start every message."""

    def test_accepted(self) -> None:
        """PRI 0 to 191, with one to three digits, leading zeros allowed."""
        for pri in (b"0", b"13", b"191", b"007", b"00"):
            self.assertEqual(parse_message(b"<" + pri + b">m"), Message("", "-", b"m"), pri)

    def test_refused(self) -> None:
        """Each bad start is malformed, with its own reason."""
        cases = [(b"", "empty message"), (b"m", "no <PRI> at the start"),
                 (b" <13>m", "no <PRI> at the start"),
                 (b"<192>m", "PRI 192 is above 191"), (b"<999>m", "PRI 999 is above 191"),
                 (b"<999999>m", "<PRI> is not 1 to 3 digits closed by '>'"),
                 (b"<>m", "<PRI> is not 1 to 3 digits closed by '>'"),
                 (b"<1", "<PRI> is not 1 to 3 digits closed by '>'"),
                 (b"<-1>m", "<PRI> is not 1 to 3 digits closed by '>'"),
                 (b"<\xd9\xa1>m", "<PRI> is not 1 to 3 digits closed by '>'")]
        for data, reason in cases:
            error = self.assertRaises(MalformedMessage, parse_message, data)
            self.assertEqual(error.reason, reason, data)


def cpuTime(function: Any, *arguments: Any) -> float:
    """The least processor time, in seconds, that three calls of C{function} took."""
    times = []
    for _ in range(3):
        start = time.process_time()
        try:
            function(*arguments)
        except MalformedMessage:
            pass
        times.append(time.process_time() - start)
    return min(times)


class HostileTests(unittest.SynchronousTestCase):
    """Whatever is sent, L{parse_message} answers quickly and raises only MalformedMessage."""

    def test_64KiB(self) -> None:
        """64 KiB of [, ", \\, spaces and more after each header take well under 10 ms each."""
        starts = (b"<13>1 - - - - - [", b'<13>1 - - - - - [x a="', b"<13>1 ",
                  b"<13>Dec  7 19:00:01 ", b"<13>Dec  7 19:00:01 h t[", b"<13>", b"<",
                  b"<13>2026-12-07T19:00:01Z ")
        for start in starts:
            for filler in (b"[", b'"', b"\\", b'["', b'\\"', b" ", b"-", b"]", b"x", b"\n",
                           b"a:", b"[1]"):
                data = start + filler * (65536 // len(filler))
                self.assertLess(cpuTime(parse_message, data), 0.010, (start, filler))

    @PROPERTY
    @given(st.binary(max_size=300))
    @example(b"<13>1 - - - - - [a][")
    def test_anyBytes(self, data: bytes) -> None:
        """Any bytes: a clean message whose text is in the bytes, or MalformedMessage."""
        assertCleanOrMalformed(self, data)

    @PROPERTY
    @given(st.lists(st.sampled_from([b"<", b">", b"1", b"13", b"191", b"1 ", b"-", b" ", b"[",
                                     b"]", b'"', b"\\", b"=", b":", b"Dec  7 19:00:01",
                                     b"2026-12-07T19:00:01Z", b"h", b"t", b"[1]", b"\xef\xbb\xbf",
                                     b"\r\n", b"\x00", b"\xff"]), max_size=30).map(b"".join))
    def test_nearlyValid(self, data: bytes) -> None:
        """Bytes made of syslog's own pieces: a clean message, or MalformedMessage."""
        assertCleanOrMalformed(self, b"<13>" + data)
        assertCleanOrMalformed(self, b"<13>1 " + data)


def assertCleanOrMalformed(testCase: unittest.SynchronousTestCase, data: bytes) -> None:
    """Assert that C{data} is read as a clean message whose text it holds, or is malformed."""
    try:
        message = parse_message(data)
    except MalformedMessage as error:
        testCase.assertIs(error.data, data)
        testCase.assertNotIn("\n", str(error))
        return
    testCase.assertIsInstance(message, Message)
    testCase.assertLessEqual(len(message.host), MAX_HOST)
    testCase.assertTrue(set(message.host) <= set(HOST_CHARACTERS), message.host)
    testCase.assertTrue(0 < len(message.tag) <= MAX_TAG)
    testCase.assertTrue(set(message.tag) <= set(TAG_CHARACTERS), message.tag)
    testCase.assertIsInstance(message.text, bytes)
    testCase.assertIn(message.text, data)
    testCase.assertFalse(message.text.endswith((b"\r", b"\n", b"\x00")))


hosts = st.text(HOST_CHARACTERS, min_size=1, max_size=MAX_HOST).filter(
    lambda host: not host.endswith(":") and host != "-")
"""Hosts that are read back as themselves (one that ends in a colon would be a tag)."""
tags = st.text(TAG_CHARACTERS, min_size=1, max_size=MAX_TAG)
texts = st.binary(max_size=200).filter(lambda text: not text.endswith((b"\r", b"\n", b"\x00"))
                                       and not text.startswith(b"\xef\xbb\xbf"))
"""Texts that are read back as themselves."""


class RoundTripTests(unittest.SynchronousTestCase):
    """A message written in each format is read back as its host, tag and text."""

    @PROPERTY
    @given(hosts, tags, texts)
    def test_rfc5424(self, host: str, tag: str, text: bytes) -> None:
        """RFC 5424, with structured data and a BOM."""
        data = (f"<165>1 2026-12-07T19:00:01Z {host} {tag} 42 ID ".encode()
                + b'[x@1 a="\\"]"] ' + BOM + text)
        self.assertEqual(parse_message(data), Message(host, tag, text))

    @PROPERTY
    @given(hosts, tags, texts)
    def test_rfc3164(self, host: str, tag: str, text: bytes) -> None:
        """RFC 3164 as nginx and rsyslog write it."""
        for header in (f"<190>Dec  7 19:00:01 {host} {tag}: ", f"<190>Dec 17 19:00:01 {host} "
                       f"{tag}[123]: ", f"<1>2026-12-07T19:00:01.5+01:00 {host} {tag}: "):
            self.assertEqual(parse_message(header.encode() + text), Message(host, tag, text))
        self.assertEqual(parse_message(f"<190>Dec  7 19:00:01 {tag}: ".encode() + text),
                         Message("", tag, text))
        self.assertEqual(parse_message(f"<190>{tag}: ".encode() + text), Message("", tag, text))

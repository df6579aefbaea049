# -*- test-case-name: tests.test_syslogmessage -*-
"""
One syslog message read into its sending host, its tag and its text: RFC 5424, RFC 3164, and
what real senders (nginx, rsyslog) make of them.

Every byte may be hostile: L{parse_message} raises nothing but L{MalformedMessage}, does work
linear in the message's length (no pattern here can backtrack far), and returns a host and a
tag made safe (L{clean_host}, L{clean_tag}); the text is left as bytes, undecoded.

What is read, after a C{<PRI>} of 1 to 3 digits (leading zeros allowed) worth 0 to 191:

  - C{1 } and an RFC 5424 header: C{TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA},
    each field C{-} or one or more bytes, one space apart, then an optional C{ MSG}.  The
    fields are not checked beyond that; structured data is skipped, not read (see L{_SD}).
    A message that starts so and breaks the header is malformed: it is not read again as
    RFC 3164.
  - Otherwise RFC 3164: a timestamp, C{Mmm dd hh:mm:ss} (the day padded with a space or a
    zero, or not at all) or RFC 3339 as rsyslog's RSYSLOG_ForwardFormat writes it, then a
    space; then C{HOSTNAME TAG}, or only C{TAG} when the word after the timestamp ends with
    C{:} (nginx's C{nohostname}); the tag ends at C{[}, C{:} or a space, and is followed by an
    optional C{[PID]}, an optional C{:} and one optional space before the message.  So a
    sender must send a tag: after a host, the first word is the tag.
  - With no timestamp recognised there (C{<13>web1: msg}, C{<13>msg}): no host; the tag is a
    leading word of C{[A-Za-z0-9._-]} (at most L{MAX_TAG}) with an optional C{[PID]}, when a
    C{:} and then a space or the end follow it, and C{-} otherwise; the text is the rest.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from weblog.errors import WeblogError, shown

__all__ = ["MAX_HOST", "MAX_TAG", "SHOWN", "MalformedMessage", "Message", "clean_host",
           "clean_tag", "parse_message"]

MAX_HOST = 100
"""The most characters of a host that are kept."""
MAX_TAG = 48
"""The most characters of a tag that are kept (RFC 5424's APP-NAME is at most 48)."""
SHOWN = 40
"""The most bytes of a malformed message that its error repeats."""

HOST_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"
"""The characters a cleaned host keeps; each other one becomes C{_}."""
TAG_CHARACTERS = HOST_CHARACTERS.replace(":", "")
"""The characters a cleaned tag keeps; each other one becomes C{_}."""
BOM = b"\xef\xbb\xbf"
"""The UTF-8 byte order mark that may start an RFC 5424 message's text."""


class MalformedMessage(WeblogError):
    """
    Bytes that are not a syslog message; C{str()} is the reason and the start of the bytes.

    @ivar reason: one line saying what is wrong.
    @ivar data: the bytes, as given.
    """

    def __init__(self, reason: str, data: bytes) -> None:
        super().__init__(f"{reason}: {shown(data, SHOWN)}")
        self.reason = reason
        self.data = data


class Message(NamedTuple):
    """A syslog message as weblog reads it."""

    host: str
    """The HOSTNAME field, cleaned (L{clean_host}); C{""} when the message has none."""
    tag: str
    """RFC 3164's TAG (without C{[pid]} and C{:}) or RFC 5424's APP-NAME, cleaned
    (L{clean_tag}); C{"-"} when there is none."""
    text: bytes
    """The MSG, without an RFC 5424 message's leading BOM, nor trailing C{\\r}, C{\\n} and NUL
    (Python's C{SysLogHandler} ends each message with a NUL)."""


def _table(keep: str) -> bytes:
    """A C{bytes.translate} table that keeps the bytes of C{keep} and makes every other C{_}."""
    return bytes(byte if chr(byte) in keep else ord("_") for byte in range(256))


_HOST_TABLE = _table(HOST_CHARACTERS)
_TAG_TABLE = _table(TAG_CHARACTERS)
_NOT_HOST = re.compile(f"[^{re.escape(HOST_CHARACTERS)}]")
_NOT_TAG = re.compile(f"[^{re.escape(TAG_CHARACTERS)}]")


def clean_host(raw: bytes | str) -> str:
    """
    A host made safe to show and to use in a source name.

    @param raw: a host as sent.
    @return: its first L{MAX_HOST} characters (bytes), each outside C{[A-Za-z0-9._:-]} made
        C{_}; C{""} for C{""}.
    """
    if isinstance(raw, bytes):
        return raw[:MAX_HOST].translate(_HOST_TABLE).decode("ascii")
    return _NOT_HOST.sub("_", raw[:MAX_HOST])


def clean_tag(raw: bytes | str) -> str:
    """
    A tag made safe to show and to use in a source name.

    @param raw: a tag as sent.
    @return: its first L{MAX_TAG} characters (bytes), each outside C{[A-Za-z0-9._-]} made C{_};
        C{"-"} for C{""}.
    """
    if not raw:
        return "-"
    if isinstance(raw, bytes):
        return raw[:MAX_TAG].translate(_TAG_TABLE).decode("ascii")
    return _NOT_TAG.sub("_", raw[:MAX_TAG])


_PRI = re.compile(rb"<([0-9]{1,3})>")
_HEADER = ("TIMESTAMP", "HOSTNAME", "APP-NAME", "PROCID", "MSGID")
"""The fields of an RFC 5424 header before its STRUCTURED-DATA, in order."""
_SD = re.compile(
    rb'(?:\[[^"\]]*+(?:"[^"\\]*+(?:\\.[^"\\]*+)*+"[^"\]]*+)*+\])++',
    re.DOTALL,
)
"""RFC 5424's STRUCTURED-DATA when it is not C{-}: elements, each C{[} to its C{]}, a C{]}
inside a quoted value included (quotes skipped whole, with their C{\\} escapes).  The SD-IDs
and parameters are not checked.  Every quantifier is possessive: no backtracking at all."""
_BSD_TIME = re.compile(
    rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (?: [0-9]|[0-9]{1,2}) "
    rb"[0-9]{2}:[0-9]{2}:[0-9]{2}(?: |\Z)"
)
_ISO_TIME = re.compile(
    rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
    rb"(?:Z|[+-][0-9]{2}:[0-9]{2})(?: |\Z)"
)
_TAG_NAME = re.compile(rb"[^\[: ]*+")
_PID = re.compile(rb"\[[^\] ]*+\]")
_LEADING_TAG = re.compile(rb"([A-Za-z0-9._-]{1,%d}+)(?:\[[^\] ]*+\])?+:(?: |\Z)" % MAX_TAG)


def parse_message(data: bytes) -> Message:
    """
    Read one syslog message (see this module's docstring for what is accepted).

    @param data: a datagram, or a frame of a TCP stream.
    @return: its host, tag and text.
    @raise MalformedMessage: if C{data} does not start with a valid C{<PRI>}, or is an RFC 5424
        message whose header is broken.
    """
    if not data:
        raise MalformedMessage("empty message", data)
    if data[0] != 0x3C:  # "<"
        raise MalformedMessage("no <PRI> at the start", data)
    pri = _PRI.match(data)
    if pri is None:
        raise MalformedMessage("<PRI> is not 1 to 3 digits closed by '>'", data)
    if int(pri[1]) > 191:
        raise MalformedMessage(f"PRI {int(pri[1])} is above 191", data)
    position = pri.end()
    if data.startswith(b"1 ", position):
        return _rfc5424(data, position + 2)
    stamp = _BSD_TIME.match(data, position) or _ISO_TIME.match(data, position)
    if stamp is None:
        return _untimed(data, position)
    return _rfc3164(data, stamp.end())


def _rfc5424(data: bytes, position: int) -> Message:
    """
    The message of an RFC 5424 header and what follows it.

    @param position: where the header's TIMESTAMP starts, after C{<PRI>1 }.
    @raise MalformedMessage: if a field is missing or empty, or the structured data is broken.
    """
    fields = []
    for name in _HEADER:
        end = data.find(b" ", position)
        if end < 0:
            raise MalformedMessage(f"RFC 5424 header cut short at {name}", data)
        if end == position:
            raise MalformedMessage(f"RFC 5424 {name} empty", data)
        fields.append(data[position:min(end, position + MAX_HOST)])
        position = end + 1
    if data.startswith(b"-", position):
        position += 1
    else:
        structured = _SD.match(data, position)
        if structured is None:
            raise MalformedMessage("STRUCTURED-DATA neither '-' nor closed [elements]", data)
        position = structured.end()
    if position == len(data):
        text = b""
    elif data[position] == 0x20:  # " "
        text = _text(data[position + 1:].removeprefix(BOM))
    else:
        raise MalformedMessage("no space after STRUCTURED-DATA", data)
    host, tag = fields[1], fields[2]
    return Message(clean_host(b"" if host == b"-" else host), clean_tag(tag), text)


def _rfc3164(data: bytes, position: int) -> Message:
    """
    The message of an RFC 3164 header after its timestamp.

    @param position: where the word after the timestamp and its space starts.
    @raise MalformedMessage: if the tag's C{[PID]} is not closed.
    """
    end = data.find(b" ", position)
    word_end = len(data) if end < 0 else end
    if word_end > position and data[word_end - 1] == 0x3A:  # ":": a tag, and no host
        host = ""
    else:
        host = clean_host(data[position:min(word_end, position + MAX_HOST)])
        if end < 0:
            return Message(host, "-", b"")
        position = end + 1
    name = _TAG_NAME.match(data, position)
    assert name is not None  # it matches the empty string
    tag = clean_tag(data[position:min(name.end(), position + MAX_TAG)])
    position = name.end()
    if data.startswith(b"[", position):
        pid = _PID.match(data, position)
        if pid is None:
            raise MalformedMessage("the tag's [PID] is not closed", data)
        position = pid.end()
    if data.startswith(b":", position):
        position += 1
    if data.startswith(b" ", position):
        position += 1
    return Message(host, tag, _text(data[position:]))


def _untimed(data: bytes, position: int) -> Message:
    """
    The message of a C{<PRI>} followed by no timestamp: no host, and a tag if a word and a
    colon lead the text.

    @param position: where the text starts, after C{<PRI>}.
    """
    word = _LEADING_TAG.match(data, position)
    if word is None:
        return Message("", "-", _text(data[position:]))
    return Message("", clean_tag(word[1]), _text(data[word.end():]))


def _text(raw: bytes) -> bytes:
    """A message's text without its trailing C{\\r}, C{\\n} and NUL."""
    return raw.rstrip(b"\r\n\x00")

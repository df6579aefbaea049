# -*- test-case-name: tests.test_webloglib -*-
"""
Parse access-log lines into hits, and the article's HTML pieces for a snapshot page.

Parsing is separate from file I/O: L{parse_line} takes one line and
L{parse_lines} any iterable of lines.  Every string a hit carries came from the
log and is hostile: it has the server's escapes undone, its control characters
and undecodable bytes shown as visible escapes, and its length bounded, but it
is never HTML-safe; whoever writes it into HTML must escape it.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, NamedTuple

__all__ = [
    "COLOR",
    "END",
    "MAX_FIELD",
    "ROW",
    "TOP",
    "Hit",
    "LogLineError",
    "json_text",
    "log_fields",
    "parse_line",
    "parse_time",
    "parse_lines",
    "snapshot_page",
]

# The article's field positions in a common or combined line split by log_fields().
client, ident, user, date, request, status, size, referrer, agent = range(9)

MAX_FIELD = 2048
"""Longest text kept from one field of a hit; longer text is cut and ends with an ellipsis."""

_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_LINE = re.compile(
    r"(?:(?P<vhost>[^\s\"]+:\d+) )?"
    r"(?P<client>\"[^\"\s]*\"|[^\s\"]+) (?P<ident>\S+) (?P<user>\S+) "
    r"\[(?P<time>[^\]]*)\] "
    + _QUOTED.replace("(", "(?P<request>", 1)
    + r" (?P<status>\d{3}|-) (?P<bytes>\d+|-)"
    r"(?: "
    + _QUOTED.replace("(", "(?P<referrer>", 1)
    + " "
    + _QUOTED.replace("(", "(?P<agent>", 1)
    + r"(?: .*)?)?[\r\n]*\Z",
    re.DOTALL,
)
_TIME = re.compile(r"(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d):?(\d\d)\Z")
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_REQUEST = re.compile(r"([^ ]+) (.+?)(?: (HTTP/[0-9.]+))?\Z", re.DOTALL)
_LONE_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")
_ESCAPE = re.compile(rb"\\(x[0-9A-Fa-f]{2}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {
    b'"': b'"',
    b"\\": b"\\",
    b"'": b"'",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"b": b"\b",
    b"v": b"\v",
    b"f": b"\f",
    b"0": b"\0",
}
_FIELDS = re.compile(r'"(?:[^"\\]|\\.)*"?|\[[^\]]*\]?|\S+')


class LogLineError(ValueError):
    """
    A line that is not an access-log entry in any recognised format.

    @ivar line: the offending line, as given.
    @ivar reason: one line saying what is wrong with it.
    """

    def __init__(self, line: str | bytes, reason: str) -> None:
        super().__init__(line, reason)
        self.line = line
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.reason}: {self.line[:80]!r}"


class Hit(NamedTuple):
    """One parsed access-log entry."""

    client: str
    ident: str
    user: str
    time: datetime
    method: str | None
    resource: str
    protocol: str | None
    status: int | None
    bytes: int | None
    referrer: str | None
    agent: str | None
    vhost: str | None = None
    source: str | None = None

    def to_json(self) -> dict[str, Any]:
        """
        Return this hit as the JSON object of the weblog contract.

        @return: a dict of JSON-ready values; the time in ISO 8601 with its offset.
        """
        return {
            "time": self.time.isoformat(),
            "client": self.client,
            "method": self.method,
            "resource": self.resource,
            "protocol": self.protocol,
            "status": self.status,
            "bytes": self.bytes,
            "referrer": self.referrer,
            "agent": self.agent,
            "vhost": self.vhost,
            "source": self.source,
        }


def json_text(value: Any) -> str:
    """
    Encode C{value} as compact JSON with no raw C{<}, C{>} or C{&}, safe even inside HTML.

    @param value: JSON-ready data, such as L{Hit.to_json}'s.
    @return: one line of JSON.
    """
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def log_fields(line: str) -> list[str]:
    """
    Split a line into its fields, keeping quoted and bracketed fields whole (the article's API).

    For a common or combined line the positions are the module's C{client},
    C{ident}, C{user}, C{date}, C{request}, C{status}, C{size}, C{referrer} and
    C{agent}; quoted fields keep their quotes, as in the article.

    @param line: one log line.
    @return: the fields in order.
    """
    return _FIELDS.findall(line)


@lru_cache(maxsize=4096)
def parse_time(text: str) -> datetime:
    """
    Parse a log timestamp's inner text (C{day/Mon/year:hh:mm:ss +zzzz}) into an aware datetime.

    @raise ValueError: if it is not such a timestamp.
    """
    found = _TIME.match(text)
    if found is None:
        raise ValueError(f"not a log timestamp: {text!r}")
    day, month, year, hour, minute, second, sign, zone_h, zone_m = found.groups()
    if month.title() not in _MONTHS:
        raise ValueError(f"unknown month {month!r}")
    offset = timedelta(hours=int(zone_h), minutes=int(zone_m))
    if int(zone_m) >= 60 or offset >= timedelta(hours=24):
        raise ValueError(f"time zone offset out of range: {sign}{zone_h}{zone_m}")
    zone = timezone(-offset if sign == "-" else offset)
    return datetime(
        int(year), _MONTHS[month.title()], int(day), int(hour), int(minute), int(second),
        tzinfo=zone,
    )


def _unescape(found: re.Match[bytes]) -> bytes:
    """Undo one server escape: C{\\xhh}, C{\\"}, C{\\\\} and the C-style letters."""
    code = found.group(1)
    if len(code) == 3:
        return bytes((int(code[1:], 16),))
    return _SIMPLE_ESCAPES.get(code, b"\\" + code)


def _visible(char: str) -> str:
    """Show a character that must not be printed raw as a backslash escape."""
    point = ord(char)
    if 0xDC80 <= point <= 0xDCFF:  # an undecodable byte, kept by surrogateescape
        return f"\\x{point - 0xDC00:02x}"
    if point < 0x100:
        return f"\\x{point:02x}"
    return f"\\u{point:04x}" if point < 0x10000 else f"\\U{point:08x}"


def clean(text: str) -> str:
    """
    Turn a field as logged into the text the client sent, safe to show as text.

    Server escapes are undone and the bytes decoded as UTF-8; bytes that are
    not UTF-8 and characters that are not printable (controls, format
    characters such as bidi overrides) come out as visible backslash escapes.
    The result is at most L{MAX_FIELD} characters long.

    @param text: the field, decoded from the log with C{surrogateescape}.
    @return: printable text; still to be escaped for HTML.
    """
    if "\\" in text or not text.isprintable():
        # Surrogates other than surrogateescape's own cannot be encoded: show them first.
        text = _LONE_SURROGATE.sub(lambda found: _visible(found.group()), text)
        raw = text.encode("utf-8", "surrogateescape")
        raw = _ESCAPE.sub(_unescape, raw)
        decoded = raw.decode("utf-8", "surrogateescape")
        text = "".join(char if char.isprintable() else _visible(char) for char in decoded)
    if len(text) > MAX_FIELD:
        text = text[: MAX_FIELD - 1] + "\u2026"
    return text


def _optional(text: str | None) -> str | None:
    """Clean a field for which C{-} or absence means "none"."""
    if text is None or text == "-":
        return None
    return clean(text)


def parse_line(line: str | bytes, source: str | None = None) -> Hit:
    """
    Parse one access-log line in any recognised format.

    Recognised without configuration: Apache common and combined, Twisted's
    own C{--logfile} lines (client in quotes), vhost_combined (C{host:port}
    first), nginx combined with extra trailing fields, IPv6 and host-name
    clients, and C{-} for status or bytes.

    @param line: the line, with or without its line ending; bytes are decoded
        as UTF-8, keeping undecodable bytes as visible escapes.
    @param source: the log the line came from, kept on the hit.
    @return: the hit.
    @raise LogLineError: if the line is in no recognised format.
    """
    text = line.decode("utf-8", "surrogateescape") if isinstance(line, bytes) else line
    found = _LINE.match(text)
    if found is None:
        raise LogLineError(line, "not an access-log line")
    (vhost, client_text, ident_text, user_text, when, request_text, status_text, size_text,
     referrer_text, agent_text) = found.groups()
    try:
        time = parse_time(when)
    except ValueError as error:
        raise LogLineError(line, str(error)) from None
    request_clean = clean(request_text)
    parts = _REQUEST.match(request_clean)
    if parts is None:
        method, resource, protocol = None, request_clean, None
    else:
        method, resource, protocol = parts.groups()
    return Hit(
        client=clean(client_text.strip('"')),
        ident=clean(ident_text),
        user=clean(user_text),
        time=time,
        method=method,
        resource=resource,
        protocol=protocol,
        status=None if status_text == "-" else int(status_text),
        bytes=None if size_text == "-" else int(size_text),
        referrer=_optional(referrer_text),
        agent=_optional(agent_text),
        vhost=None if vhost is None else clean(vhost),
        source=source,
    )


def parse_lines(lines: Iterable[str | bytes], ignore_invalid: bool = False) -> Iterator[Hit]:
    """
    Parse each of C{lines}.

    @param lines: any iterable of lines, such as an open file.
    @param ignore_invalid: skip lines that do not parse instead of raising.
    @return: an iterator of hits, in the order of the lines.
    @raise LogLineError: for the first line that does not parse, unless
        C{ignore_invalid} is set.
    """
    for line in lines:
        try:
            yield parse_line(line)
        except LogLineError:
            if not ignore_invalid:
                raise


# The article's HTML for the static snapshot page, kept as its API.  ROW is
# only ever filled by snapshot_page(), with colours from COLOR and escaped text.
COLOR = ("#ffffff", "#e8eef8")
TOP = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="5">
<title>weblog: latest referrers</title></head>
<body><h1>Latest referrers</h1>
<table><tr><th>Referrer</th><th>Resource</th></tr>
"""
ROW = '<tr style="background: %s"><td>%s</td><td>%s</td></tr>\n'
END = """</table>
<p>A snapshot, rewritten every few seconds. <a href="/weblog.rpy">The live page</a>.</p>
</body></html>
"""


def snapshot_page(hits: Iterable[Hit]) -> str:
    """
    Render the article's static page for C{hits}, every log string HTML-escaped.

    @param hits: the hits to show, in display order.
    @return: a complete HTML document.
    """
    rows = [
        ROW % (COLOR[odd % 2], html.escape(hit.referrer or "-"), html.escape(hit.resource))
        for odd, hit in enumerate(hits)
    ]
    return TOP + "".join(rows) + END

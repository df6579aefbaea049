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
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, NamedTuple

from cleaning import MAX_FIELD, clean

__all__ = [
    "COLOR",
    "END",
    "MAX_FIELD",
    "Memo",
    "ROW",
    "TOP",
    "Hit",
    "as_text",
    "clean",
    "LogLineError",
    "json_text",
    "log_fields",
    "minute_of",
    "hit_from_fields",
    "parse_fields",
    "parse_line",
    "parse_time",
    "referrer_of",
    "resource_of",
    "scan_line",
    "split_request",
    "parse_lines",
    "snapshot_page",
]

# The article's field positions in a common or combined line split by log_fields().
client, ident, user, date, request, status, size, referrer, agent = range(9)

_QUOTED = r'"([^"]*)"'
"""A quoted field, in a line whose escaped backslashes and quotes are masked (see L{_masked}):
C{[^"]} runs as a tight loop in the regular expression engine, an escape-aware body does not."""
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
    re.DOTALL | re.ASCII,  # fields are separated by ASCII spaces; digits are ASCII digits
)
_TIME = re.compile(
    r"(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d):?(\d\d)\Z", re.ASCII
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_REQUEST = re.compile(r"([^ ]+) (.+?)(?: (HTTP/[0-9.]+))?\Z", re.DOTALL)
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


def parse_time(text: str) -> datetime:
    """
    Parse a log timestamp's inner text (C{day/Mon/year:hh:mm:ss +zzzz}) into an aware datetime.

    @raise ValueError: if it is not such a timestamp.
    """
    if len(text) == 26 and text[17] == ":" and text[20] == " ":
        second = text[18:20]
        if second.isascii() and second.isdigit() and int(second) < 60:
            try:
                return _minute_start(text[:17], text[21:]).replace(second=int(second))
            except ValueError:
                pass  # the full parse below says what is wrong with the original text
    return _parse_time_text(text)


def minute_of(text: str) -> int:
    """
    The minute (since the epoch) of a log timestamp's inner text.

    @raise ValueError: if it is not a log timestamp.
    """
    if len(text) == 26 and text[17] == ":" and text[20] == " ":
        second = text[18:20]
        if second.isascii() and second.isdigit() and int(second) < 60:
            try:
                return _minute_number(text[:17], text[21:])
            except ValueError:
                pass
    return int(parse_time(text).timestamp()) // 60


@lru_cache(maxsize=4096)
def _minute_start(head: str, zone: str) -> datetime:
    """The start of the minute C{day/Mon/year:hh:mm} in C{zone}, cached: logs repeat minutes."""
    return _parse_time_text(f"{head}:00 {zone}")


@lru_cache(maxsize=4096)
def _minute_number(head: str, zone: str) -> int:
    """The epoch minute of C{day/Mon/year:hh:mm} in C{zone}, cached."""
    return int(_minute_start(head, zone).timestamp()) // 60


def _parse_time_text(text: str) -> datetime:
    """Parse a timestamp's inner text with the full pattern."""
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
    moment = datetime(
        int(year), _MONTHS[month.title()], int(day), int(hour), int(minute), int(second),
        tzinfo=zone,
    )
    try:
        moment.astimezone(UTC)  # the same instant in UTC must be a date too: year 1 to 9999
    except OverflowError:
        raise ValueError(f"time out of range: {text[:40]!r}") from None
    return moment


def _optional(text: str | None) -> str | None:
    """Clean a field for which C{-} or absence means "none"."""
    if text is None or text == "-":
        return None
    return clean(text)


Fields = tuple[str | None, str, str, str, str, str, str, str, str | None, str | None]
"""A line's fields as logged: vhost, client, ident, user, time, request, status, bytes,
referrer, agent."""


def _masked(text: str) -> str:
    """
    C{text} with the escaped backslashes and quotes of its quoted fields hidden, as NULs.

    The fields are then where they were (the length is the same), and a quote
    in the masked text always ends a quoted field.  C{replace} pairs the
    backslashes from the left, as the servers' escapes are read.
    """
    start = text.find('] "')  # the quoted fields follow the time; what precedes is as logged
    if start < 0:
        return text
    return text[:start] + text[start:].replace("\\\\", "\0\0").replace('\\"', "\0\0")


def parse_fields(line: str | bytes) -> Fields:
    """
    Find a line's fields, as logged, in any recognised format, and check its time.

    @param line: the line; bytes are decoded as UTF-8 with C{surrogateescape}.
    @return: the raw fields, for L{hit_from_fields}.
    @raise LogLineError: if the line is in no recognised format or its time is invalid.
    """
    text = line.decode("utf-8", "surrogateescape") if isinstance(line, bytes) else line
    found = _LINE.match(_masked(text) if "\\" in text else text)
    if found is None:
        raise LogLineError(line, "not an access-log line")
    groups: tuple[Any, ...] = found.groups()
    if "\\" in text:  # the same fields, from the line itself rather than the masked copy
        groups = tuple(None if start < 0 else text[start:end]
                       for start, end in map(found.span, range(1, 11)))
    vhost, client, ident, user, when, request, status, size, referrer, agent = groups
    if len(size) > 18:
        raise LogLineError(line, "bytes is not a number")
    fields = (vhost, client.strip('"'), ident, user, when, request, status, size, referrer, agent)
    try:
        parse_time(fields[4])
    except ValueError as error:
        raise LogLineError(line, str(error)) from None
    return fields


_PLAIN = re.compile(
    rb'[^\s"]++ \S++ \S++ \[((\d\d/[A-Za-z]{3}/\d{4}:\d\d:\d\d):[0-5]\d ([+-]\d{4}))\] '
    rb'"([^"]*+)" (\d{3}|-) (?:\d{1,18}+|-)(?: "([^"]*+)" "[^"]*+")?\Z'
)
"""A plain combined or common line, for lines without a backslash (no escapes to undo):
C{[^"]} runs as a tight loop in the regular expression engine, C{[^"\\]} does not."""
_MINUTES: dict[bytes, int] = {}
"""Epoch minutes of time stamps' C{day/Mon/year:hh:mm} and zone, for L{scan_line}."""


def scan_line(line: bytes) -> tuple[int, bytes | str, str, bytes | str | None]:
    """
    Check a line and find only what the aggregates count, without building a hit.

    Plain combined and common lines (no escapes, nothing after the
    user-agent) take a fast path, one match of a simpler pattern; any other
    line goes through L{parse_fields}.  Both accept exactly the lines
    L{parse_line} accepts.

    @return: the hit's minute since the epoch, the request, the status text and
        the referrer (None when absent), the last three as logged (bytes or text).
    @raise LogLineError: as L{parse_line} would.
    """
    found = _PLAIN.match(line) if line.find(b"\\") < 0 else None  # find(): see Records._ingest
    if found is None:
        fields = parse_fields(line)
        return minute_of(fields[4]), fields[5], fields[6], fields[8]
    when, head, zone, request, status, referrer = found.groups()
    key = head + zone
    minute = _MINUTES.get(key)
    if minute is None:
        try:
            minute = minute_of(when.decode("ascii"))
        except ValueError as error:
            raise LogLineError(line, str(error)) from None
        if len(_MINUTES) >= 4096:
            _MINUTES.clear()
        _MINUTES[key] = minute
    return minute, request, status.decode("ascii"), referrer


class Memo:
    """Remember a function's results for short keys, in bounded memory (forgets all when full)."""

    def __init__(self, function: Any, entries: int = 20000, longest: int = 300) -> None:
        self.function = function
        self.entries = entries
        self.longest = longest
        self.results: dict[Any, Any] = {}

    def __call__(self, key: Any) -> Any:
        result = self.results.get(key)
        if result is None:
            result = self.function(key)
            if len(key) <= self.longest:
                if len(self.results) >= self.entries:
                    self.results.clear()
                self.results[key] = result
        return result


def as_text(raw: bytes | str) -> str:
    """A field as logged, decoded if it is bytes."""
    return raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw


resource_of = Memo(lambda request: split_request(clean(as_text(request)))[1])
"""The resource a request (as logged, bytes or text) names, as a hit would show it."""

_clean_text = Memo(lambda raw: clean(as_text(raw)))


def referrer_of(referrer: bytes | str | None) -> str | None:
    """A referrer as logged (bytes or text) as a hit would show it: None for C{-} or absent."""
    if referrer is None or referrer in ("-", b"-"):
        return None
    return str(_clean_text(referrer))


def split_request(request: str) -> tuple[str | None, str, str | None]:
    """
    Split a cleaned request line into method, resource and protocol.

    @return: C{(None, request, None)} when it is not C{METHOD resource [HTTP/x]}.
    """
    words = request.split(" ")
    if len(words) == 3 and words[0] and words[1] and words[2].startswith("HTTP/") \
            and words[2][5:] and not words[2][5:].strip("0123456789."):
        return words[0], words[1], words[2]
    parts = _REQUEST.match(request)
    if parts is None:
        return None, request, None
    method, resource, protocol = parts.groups()
    return method, resource, protocol


def hit_from_fields(fields: Fields, source: str | None = None) -> Hit:
    """
    Build a hit from a line's fields: escapes undone, text made visible and bounded.

    @param fields: from L{parse_fields}.
    @param source: the log the line came from, kept on the hit.
    """
    vhost, client, ident, user, when, request, status, size, referrer, agent = fields
    method, resource, protocol = split_request(clean(request))
    return Hit(
        client=clean(client),
        ident=clean(ident),
        user=clean(user),
        time=parse_time(when),
        method=method,
        resource=resource,
        protocol=protocol,
        status=None if status == "-" else int(status),
        bytes=None if size == "-" else int(size),
        referrer=_optional(referrer),
        agent=_optional(agent),
        vhost=None if vhost is None else clean(vhost),
        source=source,
    )


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
    return hit_from_fields(parse_fields(line), source)


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

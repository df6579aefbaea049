# -*- test-case-name: tests.test_parsing -*-
"""
Access-log lines read once: each line's fields as logged (L{Logged}), and the hit they make.

A line is matched by one pattern, once, when it is read and checked; what the
counts need is taken at once (L{LineParser.scanner}), and the hit, the costlier
part (escapes undone, text made visible and bounded), is made only when a page
shows it (L{hit_of}).  Recognised without configuration: Apache common and
combined, Twisted's own C{--logfile} lines (client in quotes), vhost_combined
(C{host:port} first), nginx combined with extra trailing fields, IPv6 and
host-name clients, and C{-} for status or bytes.  Another format is a
C{LogFormat} string (L{weblog.logformat}), whose parser makes the same L{Logged}.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

from weblog.cleaning import clean
from weblog.errors import LogLineError
from weblog.hit import DIGITS, Hit, count_of
from weblog.memo import Memo
from weblog.timestamps import STAMPS, parse_time, stamp_minute

__all__ = ["AUTO", "Kept", "LineParser", "Logged", "PLAIN", "Parts", "Scanner", "as_text",
           "check_time", "hit_of", "logged_of", "parse_line", "parse_lines", "read_line",
           "referrer_of", "request_of", "resource_of", "split_request", "unquoted"]

Raw = bytes | str
"""A field as logged: bytes from a plain line, text from one that had escapes to find."""


class Parts(NamedTuple):
    """A request that the log wrote in parts (C{%m %U%q %H}): as logged, not split again."""

    method: str | None
    resource: str
    protocol: str | None


class Logged(NamedTuple):
    """One line's fields as logged, checked (a valid time, numbers where numbers go)."""

    client: Raw
    ident: Raw
    user: Raw
    time: Raw
    """The time stamp's inner text, without its brackets."""
    request: Raw | Parts
    """The request line, or its parts for a format that logs them apart."""
    status: Raw
    bytes: Raw
    referrer: Raw | None
    agent: Raw | None
    vhost: Raw | None
    duration: int | None = None
    """Microseconds the server took, when a configured format logs it (auto-detection: never)."""


Kept = Logged | re.Match[bytes]
"""A line as read and kept until it is shown: its L{Logged} fields, or the match of a plain
line, from which they are made when asked for (see L{logged_of})."""
Scanner = Callable[[bytes | str], tuple[Kept, tuple[Any, ...]]]
"""Reads a line, once: what to keep of it, and the values of the fields that are counted now."""


class LineParser:
    """What reads lines of one format: L{AUTO}, or a C{LogFormat}'s parser."""

    def read(self, line: bytes | str) -> Logged:
        """A line's fields as logged; raise L{LogLineError} if it is not in the format."""
        raise NotImplementedError

    def __call__(self, line: bytes | str, source: str | None = None) -> Hit:
        """A line's hit; raise L{LogLineError} if it is not in the format."""
        return hit_of(self.read(line), source)

    def scanner(self, fields: Sequence[str]) -> Scanner:
        """
        A function that reads a line once into what to keep of it and the values of C{fields}.

        @param fields: names of L{Logged}'s fields, C{"time"} first.
        """
        pick = itemgetter(*(_position(field) for field in fields))
        read = self.read

        def scan(line: bytes | str) -> tuple[Kept, tuple[Any, ...]]:
            logged = read(line)
            return logged, pick(logged)

        return scan


def _position(field: str) -> int:
    """The position of the field named C{field} in a L{Logged}."""
    if field not in Logged._fields:
        raise ValueError(f"no such field of a logged line: {field!r}")
    return Logged._fields.index(field)


_QUOTED = r'"([^"]*)"'
"""A quoted field, in a line whose escaped backslashes and quotes are masked (see L{_masked}):
C{[^"]} runs as a tight loop in the regular expression engine, an escape-aware body does not."""
_LINE = re.compile(
    r"(?:(?P<vhost>[^\s\"]+:\d+) )?"
    r"(?P<client>\"[^\"\\]*+(?:\\.[^\"\\]*+)*+\"|[^\s\"]+) (?P<ident>\S+) "
    r"(?P<user>\S++|(?<= - )(?!- )[^\s\[]\S*+(?: [^\s\[]\S*+){1,8}+) "
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
"""Every format recognised without configuration.  A quoted client (Twisted's, which logs an
X-Forwarded-For as it came) may hold spaces and escapes; a user name may hold spaces (Apache
and nginx write it as sent), up to nine words and only after a C{-} ident, so that a line with
a word more before the time (vhost_common's) is refused rather than misread."""
PLAIN = re.compile(
    rb'([^\s"]++) (\S++) (\S++) \[(\d\d/[A-Za-z]{3}/\d{4}:\d\d:\d\d:[0-5]\d [+-]\d{4})\] '
    rb'"([^"]*+)" (\d{3}|-) (\d{1,%d}+|-)(?: "([^"]*+)" "([^"]*+)")?(?:(?!)())?\Z' % DIGITS
)
"""A plain combined or common line, for lines without a backslash (no escapes to undo):
C{[^"]} runs as a tight loop in the regex engine, C{[^"\\]} does not.  Its groups are
L{Logged}'s fields but the time taken; the vhost's never takes part (a plain line has none)."""


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


def _read_escaped(line: bytes | str) -> Logged:
    """Read a line in any recognised format, escapes and all (the general path)."""
    text = line.decode("utf-8", "surrogateescape") if isinstance(line, bytes) else line
    found = _LINE.match(_masked(text) if "\\" in text else text)
    if found is None:
        raise LogLineError(line, "not an access-log line")
    groups: tuple[Any, ...] = found.groups()
    if "\\" in text:  # the same fields, from the line itself rather than the masked copy
        groups = tuple(None if start < 0 else text[start:end]
                       for start, end in map(found.span, range(1, 11)))
    vhost, client, ident, user, when, request, status, size, referrer, agent = groups
    if size != "-" and count_of(size) is None:
        raise LogLineError(line, "bytes is not a number")
    check_time(when, line)
    return Logged(unquoted(client), ident, user, when, request, status, size, referrer, agent,
                  vhost)


def unquoted(field: str) -> str:
    """A field without the one pair of quotes around it, if it has them."""
    return field[1:-1] if len(field) >= 2 and field[0] == field[-1] == '"' else field


def read_line(line: bytes | str) -> Logged:
    """
    A line's fields as logged, in any recognised format (see the module's list).

    Plain combined and common lines (bytes, no escapes, nothing after the
    user-agent) take a fast path, one match of a simpler pattern; others take
    the general one.  Both read a line alike.

    @raise LogLineError: if the line is in no recognised format or its time is invalid.
    """
    found = None
    if isinstance(line, bytes) and line.find(b"\\") < 0:  # find(), not in: see selection.OWN_MARK
        found = PLAIN.match(line)
    if found is None:
        return _read_escaped(line)
    fields = found.groups()
    if _stamp_known(fields[3]) is None:  # check_time, inlined for the stamps seen already
        check_time(fields[3], line)
    return _logged(Logged, fields + _NO_DURATION)  # as Logged(*fields, None), uncalled


def logged_of(kept: Kept) -> Logged:
    """The fields of a line as kept (see L{Kept})."""
    return kept if isinstance(kept, tuple) else _logged(Logged, kept.groups() + _NO_DURATION)


def check_time(when: Raw, line: bytes | str) -> None:
    """Check a line's time stamp, C{when}; raise L{LogLineError} saying why it is not valid."""
    try:
        stamp_minute(when)
    except ValueError as error:
        raise LogLineError(line, str(error)) from None


_logged, _NO_DURATION, _stamp_known = tuple.__new__, (None,), STAMPS.get


def as_text(raw: Raw) -> str:
    """A field as logged, decoded if it is bytes."""
    return raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw


def _optional(raw: Raw | None) -> str | None:
    """A field for which C{-} or absence means "none", cleaned."""
    if raw is None or raw == "-" or raw == b"-":
        return None
    return clean(as_text(raw))


def split_request(request: str) -> tuple[str | None, str, str | None]:
    """
    Split a request line into method, resource and protocol, as logged or cleaned.

    The method is what precedes the first space, the protocol a last word
    C{HTTP/digits} after a space, the resource what is between.  A request is split as
    logged, before its escapes are undone: an escaped space (C{\\x20}, which no server
    writes for a separator) stays in its part.

    @return: C{(None, request, None)} when it is not C{METHOD resource [HTTP/x]}.
    """
    method, space, rest = request.partition(" ")
    if not (method and space and rest):
        return None, request, None
    resource, space, protocol = rest.rpartition(" ")
    if resource and protocol.startswith("HTTP/") and protocol[5:] \
            and not protocol[5:].strip("0123456789."):
        return method, resource, protocol
    return method, rest, None


def request_of(raw: Raw | Parts) -> tuple[str | None, str, str | None]:
    """
    A request as logged, split (see L{split_request}) and each part cleaned: a long request
    keeps its protocol, and its resource is cut on its own.
    """
    method, resource, protocol = raw if isinstance(raw, Parts) else split_request(as_text(raw))
    return (None if method is None else clean(method), clean(resource),
            None if protocol is None else clean(protocol))


def hit_of(kept: Kept, source: str | None = None) -> Hit:
    """
    The hit of a line's fields (or of the line as kept): escapes undone, text made visible
    and bounded.

    @param source: the log the line came from, kept on the hit.
    """
    logged = logged_of(kept)
    method, resource, protocol = request_of(logged.request)
    status, size = logged.status, logged.bytes
    return Hit(
        client=clean(as_text(logged.client)),
        ident=clean(as_text(logged.ident)),
        user=clean(as_text(logged.user)),
        time=parse_time(logged.time),
        method=method,
        resource=resource,
        protocol=protocol,
        status=None if status == "-" or status == b"-" else int(status),
        bytes=None if size == "-" or size == b"-" else int(size),
        referrer=_optional(logged.referrer),
        agent=_optional(logged.agent),
        vhost=None if logged.vhost is None else clean(as_text(logged.vhost)),
        source=source,
        duration=logged.duration,
    )


class _Auto(LineParser):
    """The parser of the formats recognised without configuration."""

    read = staticmethod(read_line)

    def scanner(self, fields: Sequence[str]) -> Scanner:
        """
        See L{LineParser.scanner}: a plain line (see L{read_line}) is kept as its match, and
        only the fields counted now are made of it; the others wait until it is shown.
        """
        if fields[0] != "time":
            raise ValueError(f"counted fields must begin with the time: {fields!r}")
        general = LineParser.scanner(self, fields)
        groups = [_position(field) + 1 for field in fields]  # group n is field n - 1
        match, known = PLAIN.match, _stamp_known

        def scan(line: bytes | str) -> tuple[Kept, tuple[Any, ...]]:
            found = None
            if isinstance(line, bytes) and line.find(b"\\") < 0:  # find(): see OWN_MARK
                found = match(line)
            if found is None:
                return general(line)
            values = found.group(*groups)
            if known(values[0]) is None:  # check_time, inlined for the stamps seen already:
                check_time(values[0], line)  # a call costs 540 instructions a line
            return found, values

        return scan


AUTO: LineParser = _Auto()
"""Reads every format recognised without configuration."""


def parse_line(line: str | bytes, source: str | None = None) -> Hit:
    """
    Parse one access-log line in any recognised format.

    @param line: the line, with or without its ending; bytes are decoded as UTF-8 (the bytes
        that are not UTF-8 kept as visible escapes).
    @param source: the log the line came from, kept on the hit.
    @raise LogLineError: if the line is in no recognised format.
    """
    return hit_of(read_line(line), source)


def parse_lines(lines: Iterable[str | bytes], ignore_invalid: bool = False) -> Iterator[Hit]:
    """
    Parse each of C{lines}, in order.

    @param lines: any iterable of lines, such as an open file.
    @param ignore_invalid: skip lines that do not parse, rather than raise.
    @raise LogLineError: for the first line that does not parse, unless C{ignore_invalid}.
    """
    for line in lines:
        try:
            yield parse_line(line)
        except LogLineError:
            if not ignore_invalid:
                raise


resource_of = Memo(lambda request: clean(
    request.resource if isinstance(request, Parts) else split_request(as_text(request))[1]))
"""The resource a request (as logged) names, as a hit shows it."""


def referrer_of(referrer: Raw | None) -> str | None:
    """A referrer as logged, as a hit shows it: None for C{-} or absent."""
    return None if referrer is None or referrer in ("-", b"-") else str(_clean_text(referrer))


_clean_text = Memo(lambda raw: clean(as_text(raw)))

# -*- test-case-name: tests.test_logformat -*-
"""
Custom log formats: turn an Apache C{LogFormat} string into a line parser (C{WEBLOG_FORMAT}).

For logs that auto-detection cannot read.  The directives that fill a hit
are understood (C{%h %a %l %u %t %r %m %U %q %H %s %>s %b %B %O %v %V %p}
and the C{Referer} and C{User-Agent} request headers); every other
directive is matched as one field and ignored.
"""

from __future__ import annotations

import re

from weblog.errors import FormatError, LogLineError
from weblog.hit import count_of
from weblog.parsing import LineParser, Logged, Parts, Raw, check_time, unquoted

__all__ = ["NAMED", "FormatParser", "compile_format"]

_DIRECTIVE = re.compile(
    r"%((?:[<>!]|[0-9,]+)*)(?:\{([^}]*)\})?((?:[<>!]|[0-9,]+)*)(\^(?:t[io]|F[BU])|[a-zA-Z%])")
"""A directive: modifiers (C{<}, C{>}, C{!} and status lists, in any order, before or after
the argument), an optional C{{argument}}, and its letter (or mod_logio's C{^ti ^to ^FB ^FU})."""
_QUOTED_BODY = r'[^"\\]*(?:\\.[^"\\]*)*'
_KNOWN = {*"aAbBcCDefhHiklLmnopPqrRsStTuUvVxXIO", "^ti", "^to", "^FB", "^FU"}
_FIELD_FOR_LETTER = {
    "h": "client", "a": "client", "l": "ident", "u": "user", "t": "time", "r": "request",
    "m": "method", "U": "path", "q": "query", "H": "protocol", "s": "status",
    "b": "bytes", "B": "bytes", "O": "bytes", "v": "vhost", "V": "vhost",
}
_HEADERS = {"referer": "referrer", "referrer": "referrer", "user-agent": "agent"}


def _field(name: str | None, quoted: bool, letter: str) -> str:
    """The regex for one directive's output."""
    if letter == "t":
        body = r"\[[^\]]*\]"
    elif quoted:
        body = _QUOTED_BODY
    elif letter == "q":
        body = r"\S*"  # Apache writes an empty query string as nothing
    elif letter == "u":  # Apache and nginx write a user name as sent, spaces and all
        body = r"[^\s\[]\S*+(?: [^\s\[]\S*+){0,8}?"
    else:
        body = r"\S+"
    return f"(?P<{name}>{body})" if name else f"(?:{body})"


def _check_literal(format: str, start: int, end: int) -> None:
    """Refuse a C{%} in literal text: a directive C{_DIRECTIVE} could not read."""
    where = format.find("%", start, end)
    if where != -1:
        raise FormatError(format, f"bad directive near {format[where:where + 10]!r}")


class FormatParser(LineParser):
    """
    Reads lines written with one Apache C{LogFormat} string (see L{compile_format}).

    @ivar format: the C{LogFormat} string.
    """

    def __init__(self, format: str, pattern: re.Pattern[str]) -> None:
        self.format = format
        self.pattern = pattern

    def read(self, line: bytes | str) -> Logged:
        """
        A line's fields as logged, as L{weblog.parsing.read_line} gives them.

        A format that logs the request's parts (C{%m}, C{%U}, C{%q}, C{%H}) gives
        them as they were logged, already split (see L{weblog.parsing.Parts}).

        @raise LogLineError: if the line does not match the format, or its time,
            status or byte count is not valid.
        """
        text = line.decode("utf-8", "surrogateescape") if isinstance(line, bytes) else line
        match = self.pattern.match(text)
        if match is None:
            raise LogLineError(line, "does not match WEBLOG_FORMAT")
        fields = match.groupdict()
        when = (fields["time"] or "")[1:-1]
        check_time(when, line)
        request: Raw | Parts | None = fields.get("request")
        if request is None:
            method, protocol = fields.get("method"), fields.get("protocol")
            request = Parts(None if method in (None, "-") else method,
                            (fields.get("path") or "") + (fields.get("query") or ""),
                            None if protocol in (None, "-") else protocol)
        return Logged(
            client="-" if fields.get("client") is None else unquoted(fields["client"] or ""),
            ident=fields.get("ident") or "-",
            user=fields.get("user") or "-",
            time=when,
            request=request,
            status=_number(fields.get("status"), line, "status"),
            bytes=_number(fields.get("bytes"), line, "bytes"),
            referrer=fields.get("referrer"),
            agent=fields.get("agent"),
            vhost=None if fields.get("vhost") in (None, "-") else fields.get("vhost"),
        )


NAMED = {
    "common": '%h %l %u %t "%r" %>s %b',
    "combined": '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"',
    "vhost_common": '%v %h %l %u %t "%r" %>s %b',
    "vhost_combined": '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
    "twisted": '"%h" %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"',
}
"""Formats known by name (C{WEBLOG_FORMAT=vhost_common}): Apache's own nicknames, as Debian's
apache2.conf defines them, and the line C{twisted.web} writes."""


def compile_format(format: str) -> FormatParser:
    """
    Make a parser for lines written with Apache's C{LogFormat} string C{format}.

    @param format: for example C{'%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'},
        or one of the names of L{NAMED}.
    @return: its parser: C{read} gives a line's L{Logged}, a call its hit.
    @raise FormatError: if the string has an unknown directive, uses a field
        twice, or lacks C{%t} or a request (C{%r}, or C{%U}).
    """
    format = NAMED.get(format.strip(), format)
    if not format.strip():
        raise FormatError(format, "is empty")
    parts: list[str] = []
    used: set[str] = set()
    position = 0
    for found in _DIRECTIVE.finditer(format):
        _check_literal(format, position, found.start())
        parts.append(re.escape(format[position:found.start()]))
        position = found.end()
        _, argument, _, letter = found.groups()
        if letter == "%":
            parts.append("%")
            continue
        if letter not in _KNOWN:
            raise FormatError(format, f"unknown directive %{letter}")
        if letter == "t" and argument is not None:
            raise FormatError(format, "only plain %t is supported for the time")
        name = _FIELD_FOR_LETTER.get(letter)
        if letter == "i":
            name = _HEADERS.get((argument or "").lower())
        if name in used:
            name = None  # a field given twice: match the second, keep the first
        if name:
            used.add(name)
        quoted = found.start() > 0 and format[found.start() - 1] == '"'
        parts.append(_field(name, quoted, letter))
    _check_literal(format, position, len(format))
    parts.append(re.escape(format[position:]))
    if "time" not in used:
        raise FormatError(format, "needs %t for the time")
    if "request" not in used and "path" not in used:
        raise FormatError(format, "needs %r (or %U) for the request")
    pattern = re.compile("".join(parts) + r"[\r\n]*\Z", re.DOTALL | re.ASCII)
    return FormatParser(format, pattern)


def _number(value: str | None, line: str | bytes, what: str) -> str:
    """A status or byte count as logged: checked, C{-} when absent."""
    if value is None or value == "-":
        return "-"
    if count_of(value) is None:
        raise LogLineError(line, f"{what} is not a number")
    return value

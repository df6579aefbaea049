# -*- test-case-name: tests.test_logformat -*-
"""
Custom log formats: turn an Apache C{LogFormat} string into a line parser (C{WEBLOG_FORMAT}).

For logs that auto-detection cannot read.  The directives that fill a hit
are understood (C{%h %a %l %u %t %r %m %U %q %H %s %>s %b %B %O %v %V %p},
the C{Referer} and C{User-Agent} request headers, and the time taken: C{%D}
in microseconds, C{%T} in seconds, C{%{ms}T}, C{%{us}T}, C{%{s}T}); every
other directive is matched as one field and ignored.  An nginx C{log_format}
string (one with C{$} variables) is read too: see L{weblog.nginxformat}.
"""

from __future__ import annotations

import re

from weblog.errors import FormatError, LogLineError
from weblog.hit import count_of
from weblog.nginxformat import NGINX_NAMED, is_nginx, nginx_parts
from weblog.parsing import LineParser, Logged, Parts, Raw, check_time, unquoted

__all__ = ["NAMED", "FormatParser", "compile_format", "duration_of"]

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
    "D": "duration", "T": "duration",
}
_MICROSECONDS = {"us": 1, "ms": 1000, "s": 1_000_000}
"""Microseconds in each unit of C{%{UNIT}T}, as Apache names them (in any case)."""
_DURATION = re.compile(r"(\d{1,12})(?:\.(\d{1,9}))?\Z", re.ASCII)
"""A time taken as logged: whole units, and maybe a fraction (nginx's C{0.123} seconds)."""
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

    def __init__(self, format: str, pattern: re.Pattern[str], unit: int = 1,
                 bracketed: bool = True) -> None:
        """
        @param pattern: the lines' regular expression, with a group for each field it fills.
        @param unit: the microseconds in one unit of the logged time taken (C{duration}).
        @param bracketed: whether the C{time} group holds the stamp's brackets (Apache's C{%t}
            does, nginx's C{$time_local} does not).
        """
        self.format = format
        self.pattern = pattern
        self.unit = unit
        self.bracketed = bracketed

    def read(self, line: bytes | str) -> Logged:
        """
        A line's fields as logged, as L{weblog.parsing.read_line} gives them.

        A format that logs the request's parts (C{%m}, C{%U}, C{%q}, C{%H}) gives
        them as they were logged, already split (see L{weblog.parsing.Parts}).

        @raise LogLineError: if the line does not match the format, or its time,
            status, byte count or time taken is not valid.
        """
        text = line.decode("utf-8", "surrogateescape") if isinstance(line, bytes) else line
        match = self.pattern.match(text)
        if match is None:
            raise LogLineError(line, "does not match WEBLOG_FORMAT")
        fields = match.groupdict()
        when = fields["time"] or ""
        if self.bracketed:
            when = when[1:-1]
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
            duration=duration_of(fields.get("duration"), self.unit, line),
        )


NAMED = {
    "common": '%h %l %u %t "%r" %>s %b',
    "combined": '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"',
    "vhost_common": '%v %h %l %u %t "%r" %>s %b',
    "vhost_combined": '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
    "twisted": '"%h" %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"',
}
"""Formats known by name (C{WEBLOG_FORMAT=vhost_common}): Apache's own nicknames, as Debian's
apache2.conf defines them, and the line C{twisted.web} writes; then nginx's (see
L{weblog.nginxformat.NGINX_NAMED})."""
NAMED.update(NGINX_NAMED)


def compile_format(format: str) -> FormatParser:
    """
    Make a parser for lines written with Apache's C{LogFormat} string C{format}.

    @param format: for example C{'%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'},
        or one of the names of L{NAMED}, or an nginx C{log_format} string.
    @return: its parser: C{read} gives a line's L{Logged}, a call its hit.
    @raise FormatError: if the string has an unknown directive, uses a field
        twice, or lacks C{%t} or a request (C{%r}, or C{%U}).
    """
    format = NAMED.get(format.strip(), format)
    if not format.strip():
        raise FormatError(format, "is empty")
    if is_nginx(format):
        return _parser(*nginx_parts(format), bracketed=False)
    parts: list[str] = []
    unit = 1
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
        if letter == "T" and (argument or "s").lower() not in _MICROSECONDS:
            raise FormatError(format, f"%{{{argument}}}T: the unit must be ms, us or s")
        name = _FIELD_FOR_LETTER.get(letter)
        if letter == "i":
            name = _HEADERS.get((argument or "").lower())
        if name in used:
            name = None  # a field given twice: match the second, keep the first
        if name:
            used.add(name)
        if name == "duration":
            unit = 1 if letter == "D" else _MICROSECONDS[(argument or "s").lower()]
        quoted = found.start() > 0 and format[found.start() - 1] == '"'
        parts.append(_field(name, quoted, letter))
    _check_literal(format, position, len(format))
    parts.append(re.escape(format[position:]))
    return _parser(parts, used, unit, format, bracketed=True)


def _parser(parts: list[str], used: set[str], unit: int, format: str,
            bracketed: bool) -> FormatParser:
    """The parser of a format made into the regular expressions C{parts}, filling C{used}."""
    time, request = ("%t", "%r (or %U)") if bracketed else ("$time_local", "$request")
    if "time" not in used:
        raise FormatError(format, f"needs {time} for the time")
    if "request" not in used and "path" not in used:
        raise FormatError(format, f"needs {request} for the request")
    pattern = re.compile("".join(parts) + r"[\r\n]*\Z", re.DOTALL | re.ASCII)
    return FormatParser(format, pattern, unit, bracketed)


def duration_of(value: str | None, unit: int, line: str | bytes) -> int | None:
    """
    A time taken as logged, in microseconds: C{-} (or absent) is None.

    @param unit: the microseconds in one logged unit (a fraction is cut to whole µs).
    @raise LogLineError: if it is not a number (at most 12 digits and 9 decimals: it fits
        64 bits in µs).
    """
    if value is None or value == "-":
        return None
    found = _DURATION.match(value)
    if found is None:
        raise LogLineError(line, "the time taken is not a number")
    whole, fraction = found.groups()
    return int(whole) * unit + int((fraction or "0").ljust(9, "0")) * unit // 1_000_000_000


def _number(value: str | None, line: str | bytes, what: str) -> str:
    """A status or byte count as logged: checked, C{-} when absent."""
    if value is None or value == "-":
        return "-"
    if count_of(value) is None:
        raise LogLineError(line, f"{what} is not a number")
    return value

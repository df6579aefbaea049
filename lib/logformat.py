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
from collections.abc import Callable
from typing import Any

from webloglib import Hit, LogLineError, clean, parse_time

__all__ = ["FormatError", "compile_format"]

_DIRECTIVE = re.compile(r"%([<>]?)(!?[0-9,]*)(?:\{([^}]*)\})?([a-zA-Z%])")
_QUOTED_BODY = r'[^"\\]*(?:\\.[^"\\]*)*'
_KNOWN = set("aAbBCDefhHiklLmnopPqrRsStTuUvVXIO")
_FIELD_FOR_LETTER = {
    "h": "client", "a": "client", "l": "ident", "u": "user", "t": "time", "r": "request",
    "m": "method", "U": "path", "q": "query", "H": "protocol", "s": "status",
    "b": "bytes", "B": "bytes", "O": "bytes", "v": "vhost", "V": "vhost",
}
_HEADERS = {"referer": "referrer", "referrer": "referrer", "user-agent": "agent"}
_REQUEST = re.compile(r"([^ ]+) (.+?)(?: (HTTP/[0-9.]+))?\Z", re.DOTALL)


class FormatError(ValueError):
    """
    A C{LogFormat} string that cannot be used; the message says why in one line.

    @ivar format: the offending format string.
    """

    def __init__(self, format: str, reason: str) -> None:
        super().__init__(f"WEBLOG_FORMAT {format[:60]!r}: {reason}")
        self.format = format


def _field(name: str | None, quoted: bool, letter: str) -> str:
    """The regex for one directive's output."""
    if letter == "t":
        body = r"\[[^\]]*\]"
    elif quoted:
        body = _QUOTED_BODY
    elif letter == "q":
        body = r"\S*"  # Apache writes an empty query string as nothing
    else:
        body = r"\S+"
    return f"(?P<{name}>{body})" if name else f"(?:{body})"


def _check_literal(format: str, start: int, end: int) -> None:
    """Refuse a C{%} in literal text: a directive C{_DIRECTIVE} could not read."""
    where = format.find("%", start, end)
    if where != -1:
        raise FormatError(format, f"bad directive near {format[where:where + 10]!r}")


def compile_format(format: str) -> Callable[[str | bytes, str | None], Hit]:
    """
    Make a parser for lines written with Apache's C{LogFormat} string C{format}.

    @param format: for example C{'%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'}.
    @return: a function like L{webloglib.parse_line}: (line, source) to a hit.
    @raise FormatError: if the string has an unknown directive, uses a field
        twice, or lacks C{%t} or a request (C{%r}, or C{%U}).
    """
    if not format.strip():
        raise FormatError(format, "is empty")
    parts: list[str] = []
    used: set[str] = set()
    position = 0
    for found in _DIRECTIVE.finditer(format):
        _check_literal(format, position, found.start())
        parts.append(re.escape(format[position:found.start()]))
        position = found.end()
        _, _, argument, letter = found.groups()
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

    def parse(line: str | bytes, source: str | None = None) -> Hit:
        text = line.decode("utf-8", "surrogateescape") if isinstance(line, bytes) else line
        match = pattern.match(text)
        if match is None:
            raise LogLineError(line, "does not match WEBLOG_FORMAT")
        return _hit(match.groupdict(), line, source)

    return parse


def _optional(value: str | None) -> str | None:
    """A field's clean text, None for C{-} or absent."""
    return None if value is None or value == "-" else clean(value)


def _number(value: str | None, line: Any, what: str) -> int | None:
    """A status or byte count, None for C{-} or absent."""
    if value is None or value == "-":
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise LogLineError(line, f"{what} is not a number")
    return int(value)


def _hit(fields: dict[str, str | None], line: str | bytes, source: str | None) -> Hit:
    """Build a hit from a custom format's named fields."""
    try:
        time = parse_time((fields["time"] or "")[1:-1])
    except ValueError as error:
        raise LogLineError(line, str(error)) from None
    if fields.get("request") is not None:
        request = clean(fields["request"] or "")
        parts = _REQUEST.match(request)
        method, resource, protocol = parts.groups() if parts else (None, request, None)
    else:
        method = _optional(fields.get("method"))
        query = fields.get("query") or ""
        resource = clean((fields.get("path") or "") + query)
        protocol = _optional(fields.get("protocol"))
    return Hit(
        client=clean((fields.get("client") or "-").strip('"')),
        ident=clean(fields.get("ident") or "-"),
        user=clean(fields.get("user") or "-"),
        time=time,
        method=method,
        resource=resource,
        protocol=protocol,
        status=_number(fields.get("status"), line, "status"),
        bytes=_number(fields.get("bytes"), line, "bytes"),
        referrer=_optional(fields.get("referrer")),
        agent=_optional(fields.get("agent")),
        vhost=_optional(fields.get("vhost")),
        source=source,
    )

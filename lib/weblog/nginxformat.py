# -*- test-case-name: tests.test_logformat -*-
"""
nginx C{log_format} strings in C{WEBLOG_FORMAT}: their variables made into the fields of a line.

A format with C{$} variables is nginx's.  The variables that fill a hit are
understood: C{$remote_addr} (the client), C{$remote_user}, C{$time_local},
C{$request}, or C{$request_method}, C{$request_uri} (path and query) and
C{$server_protocol}; C{$status}, C{$body_bytes_sent} or C{$bytes_sent},
C{$http_referer}, C{$http_user_agent}, C{$host} or C{$server_name} (the vhost)
and C{$request_time} (seconds with milliseconds, C{0.123}: the time taken).
Every other C{$var} or C{${var}} is matched as one field and ignored (the
C{$upstream_*} times as nginx writes them for several upstreams:
C{0.010, 0.002 : 0.001}).  A format pasted with nginx's quotes
(C{'$remote_addr - ' '"$request" ...'}) is read without them.
"""

from __future__ import annotations

import re

from weblog.errors import FormatError

__all__ = ["NGINX_NAMED", "is_nginx", "nginx_parts"]

_COMBINED = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent'
             ' "$http_referer" "$http_user_agent"')
NGINX_NAMED = {"nginx": _COMBINED, "nginx_timed": _COMBINED + " $request_time"}
"""nginx's own C{combined} (its default access log), and weblog's C{nginx_timed}: the same with
C{$request_time} after it, the line to configure for response times."""

_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_PIECES = re.compile(r"\s*(?:'([^']*)'|\"([^\"]*)\")")
_FIELDS = {
    "remote_addr": "client", "remote_user": "user", "time_local": "time",
    "request": "request", "status": "status", "body_bytes_sent": "bytes", "bytes_sent": "bytes",
    "http_referer": "referrer", "http_user_agent": "agent", "request_time": "duration",
    "host": "vhost", "server_name": "vhost", "request_method": "method",
    "request_uri": "path", "server_protocol": "protocol",
}
_QUOTED_BODY = r'[^"\\]*(?:\\.[^"\\]*)*'
_BODIES = {
    "time": r"\d\d/[A-Za-z]{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}",
    "user": r"[^\s\[]\S*+(?: [^\s\[]\S*+){0,8}?",  # as sent, spaces and all (as Apache's %u)
}
_UPSTREAM_TIMES = r"\S+(?:(?:, | : )\S+)*"


def is_nginx(format: str) -> bool:
    """Whether C{format} is an nginx C{log_format} string (it has a C{$} variable)."""
    return _VARIABLE.search(format) is not None


def _unquoted(format: str) -> str:
    """C{format} without nginx's quotes, when it is a series of quoted strings."""
    pieces, position = [], 0
    for found in _PIECES.finditer(format):
        if found.start() != position:
            return format
        pieces.append(found.group(1) if found.group(1) is not None else found.group(2))
        position = found.end()
    if not pieces or format[position:].strip():
        return format
    return "".join(pieces)


def nginx_parts(format: str) -> tuple[list[str], set[str], int, str]:
    """
    The regular expressions of an nginx C{log_format} string's literals and variables.

    @return: the parts (a named group for each field understood, first use only), the names
        of the fields they fill, the microseconds in a unit of the time taken (a second),
        and the format as read (without its quotes).
    @raise FormatError: if a C{${} opens no variable name.
    """
    format = _unquoted(format)
    parts: list[str] = []
    used: set[str] = set()
    position = 0
    for found in _VARIABLE.finditer(format):
        parts.append(re.escape(format[position:found.start()]))
        position = found.end()
        variable = found.group(1) or found.group(2)
        name = _FIELDS.get(variable)
        if name in used:
            name = None
        quoted = found.start() > 0 and format[found.start() - 1] == '"'
        if quoted:
            body = _QUOTED_BODY
        elif variable.startswith("upstream_"):
            body = _UPSTREAM_TIMES
        else:
            body = _BODIES.get(name or "", r"\S+")
        if name:
            used.add(name)
            parts.append(f"(?P<{name}>{body})")
        else:
            parts.append(f"(?:{body})")
    rest = format[position:]
    if "${" in rest:
        raise FormatError(format, f"bad variable near {rest[rest.index('${'):][:10]!r}")
    parts.append(re.escape(rest))
    return parts, used, 1_000_000, format

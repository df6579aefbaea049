# -*- test-case-name: tests.test_hit -*-
"""
One hit (a parsed access-log entry) as the pages show it, and its JSON.

Every string a hit carries came from the log and is hostile: it has the
server's escapes undone, its control characters and undecodable bytes shown
as visible escapes, and its length bounded (see L{weblog.cleaning}), but it is
never HTML-safe; whoever writes it into HTML must escape it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

__all__ = ["DIGITS", "Hit", "count_of", "json_text"]

DIGITS = 18
"""The most digits of a count weblog reads (a byte count, a hit id): any such number fits
a signed 64-bit integer, as it must in the JSON and the store."""


def count_of(text: str | bytes) -> int | None:
    """The whole number C{text} spells in at most L{DIGITS} ASCII digits, else None."""
    if 0 < len(text) <= DIGITS and text.isascii() and text.isdigit():
        return int(text)
    return None


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
    duration: int | None = None
    """How long the server took to answer, in microseconds, when the log says (C{%D},
    C{$request_time}); else None."""

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
            "duration_ms": None if self.duration is None else self.duration / 1000,
        }


def json_text(value: Any) -> str:
    """
    Encode C{value} as compact JSON with no raw C{<}, C{>} or C{&}, safe even inside HTML.

    @param value: JSON-ready data, such as L{Hit.to_json}'s.
    @return: one line of JSON.
    """
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")

# -*- test-case-name: tests.test_question -*-
"""
What a view asks of the history: a time window and drill-down filters, from query parameters.

C{range} (C{1h}, C{24h}, C{7d}, C{30d} or C{all}) is relative to the newest hit in
the store, so that a replayed old log works; C{from} and C{to} are ISO 8601 times
(UTC when they name no zone).  The filters name one value of one field each:
C{site} (a referring site), C{ref} (an exact referrer), C{resource}, C{client},
C{vhost}, C{source}, and what the store found of a hit: C{browser}, C{system},
C{device} and C{country} (L{weblog.store.COLUMNS}; a code in any case, C{private} or
C{unknown}).  C{before} pages the list of a
view's hits back (L{cursor_of}).
Each is validated like the page's other parameters (L{weblog.errors.BadQuery}, a 400
with a one-line reason).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import re
from datetime import UTC, datetime
from typing import Any

from weblog.cleaning import MAX_FIELD
from weblog.countrynames import PRIVATE, UNKNOWN
from weblog.errors import BadQuery

__all__ = ["FILTERS", "HISTORY_PARAMETERS", "RANGES", "Question", "cursor_of", "cursor_text",
           "parse_question", "single"]

RANGES = ("1h", "24h", "7d", "30d", "all")
FILTERS = {"site": "site", "ref": "referrer", "resource": "resource", "client": "client",
           "vhost": "vhost", "source": "source", "browser": "browser", "system": "system",
           "device": "device", "country": "country"}
"""Each filter's parameter and the stored column it names one value of."""
HISTORY_PARAMETERS = ("range", "from", "to", "before", *FILTERS)
_CODE = re.compile(r"[A-Za-z]{2}", re.ASCII)
_CURSOR = re.compile(r"(?P<time>[^~]{1,40})(?:~(?P<row>[0-9]{1,18}))?\Z", re.ASCII)


@dataclass(frozen=True)
class Question:
    """
    A window of the history and the filters every panel of the view follows.

    @ivar range: one of L{RANGES}, or None when C{start} or C{end} is given.
    @ivar start: the window's first moment, when given.
    @ivar end: the window's last moment, when given.
    @ivar filters: (parameter, value) pairs, in L{FILTERS}' order.
    @ivar before: where the list of hits starts (L{cursor_of}), as given; None: at the newest.
    """

    range: str | None = "all"
    start: datetime | None = None
    end: datetime | None = None
    filters: tuple[tuple[str, str], ...] = ()
    before: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The question as the historian is asked it (and the JSON's C{query} says it)."""
        return {
            "range": self.range,
            "from": None if self.start is None else self.start.isoformat(),
            "to": None if self.end is None else self.end.isoformat(),
            "before": self.before,
            **dict(self.filters),
        }


def single(args: Mapping[bytes, Sequence[bytes]], name: str) -> str | None:
    """The single value of a request's parameter C{name}, or None when absent.

    @raise BadQuery: when it is given more than once, or is not UTF-8.
    """
    values = args.get(name.encode("ascii"))
    if not values:
        return None
    if len(values) > 1:
        raise BadQuery(name, "given more than once")
    try:
        return values[0].decode("utf-8")
    except UnicodeDecodeError:
        raise BadQuery(name, "is not valid UTF-8") from None


def _moment(name: str, text: str) -> datetime:
    """An ISO 8601 time, aware (UTC when it names no zone)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadQuery(name, f"must be an ISO 8601 time like 2026-12-01T10:00:00Z, got "
                             f"{text[:40]!r}") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise BadQuery(name, f"must be a time from the year 1 to 9999 in UTC, got "
                             f"{text[:40]!r}") from None
    return moment


def cursor_of(text: str) -> tuple[datetime, int | None]:
    """
    The hit a C{before} cursor names: its time, and its row in the store when given.

    A list that starts C{before} a cursor holds the hits older than it, newest
    first: those of an earlier time, and with a row, those of the same time and an
    earlier row (hits often share a second, so a time alone would skip the rest of
    its second's hits); L{cursor_text} makes the cursor of the last hit a list shows.

    @raise BadQuery: when it is neither C{TIME} nor C{TIME~ROW}.
    """
    found = _CURSOR.match(text)
    if found is None:
        raise BadQuery("before", "must be an ISO 8601 time like 2026-12-01T10:00:00Z, or the "
                                 f"'before' of a view's JSON, got {text[:60]!r}")
    row = found.group("row")
    return _moment("before", found.group("time")), None if row is None else int(row)


def cursor_text(time: datetime, row: int) -> str:
    """The C{before} cursor of a hit: its time in UTC and its row (C{2015-05-20T21:05:59Z~81})."""
    return time.astimezone(UTC).isoformat().replace("+00:00", "Z") + f"~{row}"


def _country(value: str) -> str:
    """A C{country} filter's value as the store holds it: two letters in capitals, as ISO 3166
    alpha-2 codes are (C{us} is C{US}), C{private} or C{unknown}.

    @raise BadQuery: for any other.
    """
    if _CODE.fullmatch(value):
        return value.upper()
    if value.lower() in (PRIVATE, UNKNOWN):
        return value.lower()
    raise BadQuery("country", "must be an ISO 3166 alpha-2 code (such as US), private or "
                              f"unknown, got {value[:20]!r}")


def parse_question(args: Mapping[bytes, Sequence[bytes]]) -> Question | None:
    """
    The history question of a request's parameters; None when it asks none.

    @raise BadQuery: for a repeated or invalid one.
    """
    if not any(name.encode("ascii") in args for name in HISTORY_PARAMETERS):
        return None
    span = single(args, "range")
    if span is not None and span not in RANGES:
        raise BadQuery("range", f"must be one of {', '.join(RANGES)}, got {span[:20]!r}")
    start_text, end_text = single(args, "from"), single(args, "to")
    if span is not None and (start_text is not None or end_text is not None):
        raise BadQuery("range", "cannot be given with from or to")
    start = None if start_text is None else _moment("from", start_text)
    end = None if end_text is None else _moment("to", end_text)
    if start is not None and end is not None and start > end:
        raise BadQuery("from", f"must not be after to ({start.isoformat()} > {end.isoformat()})")
    filters = []
    for name in FILTERS:
        value = single(args, name)
        if value is None:
            continue
        if not value or len(value) > MAX_FIELD:
            raise BadQuery(name, f"must be 1 to {MAX_FIELD} characters, got {len(value)}")
        filters.append((name, _country(value) if name == "country" else value))
    before = single(args, "before")
    if before is not None:
        cursor_of(before)
    if start is None and end is None and span is None:
        span = "all"
    return Question(span, start, end, tuple(filters), before)

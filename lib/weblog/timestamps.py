# -*- test-case-name: tests.test_timestamps -*-
"""
Access-log time stamps (C{10/Oct/2000:13:55:36 -0700}): checked, turned into times, cached.

Logs repeat the same minute for many lines, so a cache keeps each minute's
start (and its number since the epoch) by the stamp's text less its seconds; a
stamp is then checked and read with a few slices and a lookup.  A second keeps
the minute of each whole stamp seen lately, so that a line's time is checked and
counted with one lookup and no slicing (L{stamp_minute}).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

__all__ = ["FIRST", "FIRST_TO_EPOCH_US", "STAMPS", "earlier", "minute_of", "parse_time",
           "stamp_minute"]

_TIME = re.compile(
    r"(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d):?(\d\d)\Z", re.ASCII
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_MINUTES: dict[str | bytes, tuple[int, datetime]] = {}
"""Each minute seen: its number since the epoch and its start, by C{day/Mon/year:hh:mm} and
zone (text or bytes, as the stamp was given)."""
_MOST = 4096
STAMPS: dict[str | bytes, int] = {}
"""The minute since the epoch of each valid stamp seen lately, by its whole text (or bytes):
public so that the reading of a line can look it up without a call (see L{stamp_minute})."""
_MOST_STAMPS = 1 << 14


def _minute(stamp: str | bytes) -> tuple[int, datetime] | None:
    """A usual stamp's minute and its start, from the cache; None for any other stamp."""
    if len(stamp) != 26 or stamp[17:18] not in (":", b":") or stamp[20:21] not in (" ", b" "):
        return None
    key: str | bytes = (stamp[:17] + stamp[20:] if isinstance(stamp, str)
                        else stamp[:17] + stamp[20:])
    found = _MINUTES.get(key)
    if found is None:
        head = key if isinstance(key, str) else key.decode("ascii", "replace")
        try:
            start = _parse(f"{head[:17]}:00{head[17:]}")
        except ValueError:
            return None  # the full parse says what is wrong with the stamp itself
        if len(_MINUTES) >= _MOST:
            _MINUTES.clear()
        found = _MINUTES[key] = (int(start.timestamp()) // 60, start)
    return found


def _second(stamp: str | bytes) -> int | None:
    """A usual stamp's seconds, None when they are not two digits under 60."""
    second = stamp[18:20]
    if second.isascii() and second.isdigit() and int(second) < 60:
        return int(second)
    return None


def stamp_minute(stamp: str | bytes) -> int:
    """
    L{minute_of}, remembered by the whole stamp in L{STAMPS} (which forgets all it holds once
    it holds C{_MOST_STAMPS}): a stamp is valid if and only if it is there or this says so.

    @raise ValueError: if it is not a valid time stamp.
    """
    minute = STAMPS.get(stamp)
    if minute is None:
        minute = minute_of(stamp)
        if len(STAMPS) >= _MOST_STAMPS:
            STAMPS.clear()
        STAMPS[stamp] = minute
    return minute


def minute_of(stamp: str | bytes) -> int:
    """
    The minute since the epoch of a stamp's inner text (without its brackets).

    @raise ValueError: if it is not a valid time stamp.
    """
    found = _minute(stamp)
    if found is not None and _second(stamp) is not None:
        return found[0]
    return int(parse_time(stamp).timestamp()) // 60


def parse_time(stamp: str | bytes) -> datetime:
    """
    A stamp's inner text as an aware datetime, in the stamp's own zone.

    @raise ValueError: if it is not a valid time stamp.
    """
    found = _minute(stamp)
    second = None if found is None else _second(stamp)
    if found is not None and second is not None:
        return found[1].replace(second=second)
    return _parse(stamp if isinstance(stamp, str) else stamp.decode("ascii", "replace"))


def _parse(text: str) -> datetime:
    """Read a stamp with the full pattern, saying in one line what is wrong with it."""
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


FIRST = datetime(1, 1, 1, tzinfo=UTC)
"""The first moment a hit can have (a stamp's time in UTC is a date from the year 1 on)."""
FIRST_TO_EPOCH_US = (datetime(1970, 1, 1, tzinfo=UTC) - FIRST) // timedelta(microseconds=1)
"""Microseconds from L{FIRST} to the Unix epoch: a moment's hour or day counted from L{FIRST}
is never negative (so integer division is floor division)."""


def earlier(moment: datetime, span: timedelta) -> datetime:
    """C{span} before C{moment}, or L{FIRST} if that is earlier (which a datetime cannot be)."""
    try:
        return moment - span
    except OverflowError:
        return FIRST

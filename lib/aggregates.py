# -*- test-case-name: tests.test_aggregates -*-
"""
Live counts over hits in bounded memory: top referring sites, referrer URLs and resources,
status codes, and hits per minute over the last hour of log time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from hashlib import blake2b
from heapq import nlargest
from typing import Any
from urllib.parse import urlsplit

from webloglib import MAX_FIELD, Hit, referrer_of, resource_of

__all__ = ["Aggregates", "Scanned", "referring_site"]

MINUTES = 60
LONGEST_KEY = MAX_FIELD
"""A request or referrer longer than this (as logged) is counted by a digest of it."""

Scanned = tuple[int, bytes, str, bytes | None]
"""A line as L{webloglib.scan_line} sees it: minute, request, status text, referrer."""


def referring_site(referrer: str) -> str | None:
    """
    The host a referrer URL names, lower-cased, or None when it names none.

    @param referrer: a referrer as logged (hostile text).
    @return: the host, without port or credentials.
    """
    try:
        host = urlsplit(referrer).hostname
    except ValueError:
        return None
    return host or None


_site = lru_cache(maxsize=8192)(referring_site)


class _Key(str):
    """A key that is already as a hit shows it (from a hit, not a raw line)."""


def _shown(key: bytes | str, show: Any) -> str:
    """A counted key as a hit shows it: raw keys through C{show}, shown keys as they are."""
    return key if isinstance(key, _Key) else str(show(key))


def _long_key(raw: bytes | str) -> bytes:
    """The key of a request or referrer longer than LONGEST_KEY: a digest, bounded in size."""
    data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
    return b"\0" + blake2b(data, digest_size=16).digest()  # NUL: never a raw key's first byte


class Aggregates:
    """
    Counts over every hit added, in memory bounded by C{cap} keys per list.

    Resources and referrers are counted by the request and referrer as
    logged (a digest for one longer than C{LONGEST_KEY}), which keeps counting
    cheap; each key is turned into what a hit shows once, when it is first
    counted, so reading the top lists never cleans a key again.  A list is
    exact until it holds C{cap} distinct keys; past that it keeps its most
    common half less the count of the first key left out (see L{_prune}), so
    rare keys are forgotten and counts may be low, never high (reported as
    C{approximate}).  Hits per minute follow log time: the last 60 minutes up
    to the newest minute seen, whatever order lines come in.
    """

    def __init__(self, cap: int = 5000) -> None:
        self.cap = cap
        self.requests: dict[bytes | str, int] = {}
        self.referrers: dict[bytes | str, int] = {}
        self.resource_shown: dict[bytes | str, str] = {}
        """The resource each key of C{requests} shows."""
        self.referrer_shown: dict[bytes | str, tuple[str, str | None]] = {}
        """The referrer each key of C{referrers} shows, and its site."""
        self.sites: dict[str, int] = {}
        self.statuses: dict[str, int] = {}
        self.minutes: dict[int, int] = {}
        self.newest_minute: int | None = None
        self.total = 0
        self.approximate = False
        self._top: tuple[tuple[int, int], dict[str, Any]] | None = None

    def add(self, hits: Iterable[Hit]) -> None:
        """Count C{hits} (from any parser)."""
        self.count(
            (int(hit.time.timestamp()) // 60, _Key(hit.resource),
             "-" if hit.status is None else str(hit.status),
             None if hit.referrer is None else _Key(hit.referrer))
            for hit in hits
        )

    def count(self, scanned: Iterable[tuple[int, bytes | str, str, bytes | str | None]]
              ) -> None:
        """
        Count hits as L{webloglib.scan_line} sees them (or L{add} passes them).

        @param scanned: (minute, request or resource, status text, referrer or None).
        """
        requests, referrers, sites, statuses, minutes = (
            self.requests, self.referrers, self.sites, self.statuses, self.minutes)
        get_request, get_referrer, get_site = requests.get, referrers.get, sites.get
        resource_shown, referrer_shown = self.resource_shown, self.referrer_shown
        counted = 0
        for minute, request, status, referrer in scanned:
            counted += 1
            key: bytes | str = request if len(request) <= LONGEST_KEY else _long_key(request)
            seen = get_request(key)
            if seen is None:  # first counted: shown once, here
                resource_shown[key] = _shown(request, resource_of)
                seen = 0
            requests[key] = seen + 1
            if referrer is not None and referrer != b"-" and referrer != "-":
                key = referrer if len(referrer) <= LONGEST_KEY else _long_key(referrer)
                seen = get_referrer(key)
                if seen is None:
                    shown = _shown(referrer, referrer_of)
                    referrer_shown[key] = (shown, _site(shown))
                    seen = 0
                referrers[key] = seen + 1
                site = referrer_shown[key][1]
                if site is not None:
                    sites[site] = get_site(site, 0) + 1
            statuses[status] = statuses.get(status, 0) + 1
            if minute == self.newest_minute:
                minutes[minute] += 1
            else:
                self._count_minute(minute)
        self.total += counted
        for table, shown_of in ((requests, resource_shown), (referrers, referrer_shown),
                                (sites, None)):
            if len(table) > self.cap:
                self._prune(table)
                if shown_of is not None:
                    for gone in [key for key in shown_of if key not in table]:
                        del shown_of[gone]

    def _prune(self, table: dict[Any, int]) -> None:
        """
        Keep the most common half of C{table}, less the count of the first key left out.

        This is Misra and Gries's frequent-items step, done in a batch: every kept
        count drops by the same floor, so a newcomer that outgrows the established
        keys can still get in, and no count is ever more than the truth.
        """
        kept = nlargest(self.cap // 2 + 1, table.items(), key=lambda item: item[1])
        floor = kept[-1][1]
        table.clear()
        table.update((key, count - floor) for key, count in kept[:-1] if count > floor)
        self.approximate = True

    def _count_minute(self, minute: int) -> None:
        """Count one hit in its minute, keeping only the last hour of minutes."""
        newest = self.newest_minute
        if newest is None or minute > newest:
            self.newest_minute = newest = minute
            for old in [key for key in self.minutes if key <= minute - MINUTES]:
                del self.minutes[old]
        if minute > newest - MINUTES:
            self.minutes[minute] = self.minutes.get(minute, 0) + 1

    def top(self, top: int = 10) -> dict[str, Any]:
        """The top lists: sites, referrers, resources (each most common first), statuses."""
        if self._top is not None and self._top[0] == (self.total, top):
            return self._top[1]
        resources: Counter[str] = Counter()
        resource_shown = self.resource_shown
        for request, count in self.requests.items():
            resources[resource_shown[request]] += count
        referrers: Counter[str] = Counter()
        referrer_shown = self.referrer_shown
        for referrer, count in self.referrers.items():
            referrers[referrer_shown[referrer][0]] += count
        sites = Counter(self.sites)
        lists = {
            "sites": sites.most_common(top),
            "referrers": referrers.most_common(top),
            "resources": resources.most_common(top),
            "statuses": sorted(self.statuses.items()),
            "approximate": self.approximate,
        }
        self._top = ((self.total, top), lists)
        return lists

    def per_minute(self) -> list[tuple[datetime, int]]:
        """The last 60 minutes of log time, oldest first, as (minute start in UTC, hits)."""
        if self.newest_minute is None:
            return []
        first = self.newest_minute - MINUTES + 1
        return [
            (datetime.fromtimestamp(minute * 60, UTC), self.minutes.get(minute, 0))
            for minute in range(first, self.newest_minute + 1)
        ]

    def to_json(self, top: int = 10) -> dict[str, Any]:
        """The aggregates as JSON-ready values: C{top} lists, C{per_minute} and C{total}."""
        return {
            "top": self.top(top),
            "per_minute": [[start.isoformat(), count] for start, count in self.per_minute()],
            "total": self.total,
        }

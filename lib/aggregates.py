# -*- test-case-name: tests.test_aggregates -*-
"""
Live counts over hits in bounded memory: top referring sites, referrer URLs and resources,
status codes, and hits per minute over the last hour of log time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from webloglib import Hit

__all__ = ["Aggregates", "referring_site"]

MINUTES = 60


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


class _BoundedCounter(Counter[str]):
    """A Counter that, past C{cap} keys, keeps only its most common half (then approximate)."""

    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap
        self.pruned = False

    def add(self, key: str) -> None:
        """Count one C{key}; prune when too many distinct keys are held."""
        self[key] += 1
        if len(self) > self.cap:
            kept = self.most_common(self.cap // 2)
            self.clear()
            self.update(dict(kept))
            self.pruned = True


class Aggregates:
    """
    Counts over every hit added, in memory bounded by C{cap} keys per top list.

    Top lists are exact until a list holds C{cap} distinct keys; past that it
    keeps its most common half, so rare keys are forgotten and counts of
    the leaders may be low by what was forgotten (reported as C{approximate}).
    Hits per minute follow log time: the last 60 minutes up to the newest
    minute seen, whatever order the lines come in.
    """

    def __init__(self, cap: int = 5000) -> None:
        self.sites = _BoundedCounter(cap)
        self.referrers = _BoundedCounter(cap)
        self.resources = _BoundedCounter(cap)
        self.statuses: Counter[str] = Counter()
        self.minutes: dict[int, int] = {}
        self.newest_minute: int | None = None
        self.total = 0

    def add(self, hits: Iterable[Hit]) -> None:
        """Count C{hits}."""
        for hit in hits:
            self.total += 1
            self.resources.add(hit.resource)
            self.statuses["-" if hit.status is None else str(hit.status)] += 1
            if hit.referrer is not None:
                self.referrers.add(hit.referrer)
                site = referring_site(hit.referrer)
                if site is not None:
                    self.sites.add(site)
            self._count_minute(int(hit.time.timestamp()) // 60)

    def _count_minute(self, minute: int) -> None:
        """Count one hit in its minute, keeping only the last hour of minutes."""
        newest = self.newest_minute
        if newest is None or minute > newest:
            self.newest_minute = newest = minute
            for old in [key for key in self.minutes if key <= minute - MINUTES]:
                del self.minutes[old]
        if minute > newest - MINUTES:
            self.minutes[minute] = self.minutes.get(minute, 0) + 1

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
        """The aggregates as JSON-ready values: C{top} lists and C{per_minute}."""
        return {
            "top": {
                "sites": self.sites.most_common(top),
                "referrers": self.referrers.most_common(top),
                "resources": self.resources.most_common(top),
                "statuses": sorted(self.statuses.items()),
                "approximate": self.sites.pruned or self.referrers.pruned or self.resources.pruned,
            },
            "per_minute": [[start.isoformat(), count] for start, count in self.per_minute()],
            "total": self.total,
        }

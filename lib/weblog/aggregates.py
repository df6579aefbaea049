# -*- test-case-name: tests.test_aggregates -*-
"""
Live counts over lines in bounded memory: each panel's top list, and hits per minute over the
last hour of log time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from hashlib import blake2b
from heapq import nlargest
from operator import itemgetter
from typing import Any, Literal

from weblog.panels import PANELS, Panel, counted_fields
from weblog.parsing import Logged, Raw
from weblog.timestamps import stamp_minute

__all__ = ["Aggregates"]

MINUTES = 60
LONGEST_KEY = 300
"""A value longer than this (as logged) is remembered by a digest of it."""
SHOWN_MOST = 5000
"""The most values (as logged) each panel remembers as shown before it forgets them all (and
it forgets those whose key a pruning left out: what it remembers is what it counts)."""


def _digest(raw: Raw) -> bytes:
    """The key under which a long value as logged is remembered: a digest of it."""
    data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
    return b"\0" + blake2b(data, digest_size=16).digest()  # NUL: never a logged value's start


class _Tally:
    """One panel's counts, by key as shown, and the shown key of each value as logged."""

    def __init__(self, panel: Panel) -> None:
        self.panel = panel
        self.counts: Counter[str] = Counter()
        self.shown: dict[Raw | None, str | Literal[False]] = {None: False}
        """What each value as logged counts as: its key as shown, or False for nothing (as for
        an absent field); a long value is not kept here (see L{show})."""
        self.long: dict[bytes, str | Literal[False]] = {}
        """What long values count as, by their digests."""

    def add(self, logged: Counter[Raw | None]) -> None:
        """Add the tally of values as logged, C{logged}, to the counts of the keys they show."""
        known, counts = self.shown.get, self.counts
        for raw, times in logged.items():
            shown = known(raw)
            if shown is None:
                shown = self.show(raw)
            if shown is not False:
                counts[shown] = counts.get(shown, 0) + times

    def show(self, raw: Raw | None) -> str | Literal[False]:
        """What C{raw} counts as (False: nothing), found and remembered."""
        if raw is None:
            return False
        if len(raw) > LONGEST_KEY:  # found again at each count: its digest is kept instead
            key = _digest(raw)
            shown = self.long.get(key)
            if shown is None:
                shown = self.long[key] = self._find(raw)
                if len(self.long) >= SHOWN_MOST:
                    self.long.clear()
            return shown
        shown = self._find(raw)
        if len(self.shown) >= SHOWN_MOST:
            self.shown.clear()
            self.shown[None] = False
        self.shown[raw] = shown
        return shown

    def _find(self, raw: Raw) -> str | Literal[False]:
        """What C{raw} counts as, by the panel's rule."""
        value = self.panel.shown(raw)
        return False if value is None else value


class Aggregates:
    """
    Counts over every line counted, in memory bounded by C{cap} keys per panel.

    Each panel (L{weblog.panels.PANELS}) counts its field by the key a hit
    shows, found once per distinct value as logged.  A list is exact until it
    holds C{cap} distinct keys; past that it keeps its most common half less
    the count of the first key left out (see L{_prune}), so rare keys are
    forgotten and counts may be low, never high (reported as C{approximate}).
    Hits per minute follow log time: the last 60 minutes up to the newest
    minute seen, whatever order lines come in.
    """

    def __init__(self, cap: int = 5000, panels: Sequence[Panel] = PANELS) -> None:
        self.cap = cap
        self.tallies = [_Tally(panel) for panel in panels]
        self.fields = counted_fields(panels)
        """The fields of a row that L{count_rows} counts, in order."""
        by_field: dict[int, list[_Tally]] = {}
        for tally in self.tallies:
            by_field.setdefault(self.fields.index(tally.panel.field), []).append(tally)
        self._by_field = list(by_field.items())
        self._row = itemgetter(*(Logged._fields.index(field) for field in self.fields))
        self.minutes: dict[int, int] = {}
        self.newest_minute: int | None = None
        self.total = 0
        self.approximate = False
        self._top: tuple[tuple[int, int], dict[str, Any]] | None = None

    def count(self, lines: Iterable[Logged]) -> None:
        """Count C{lines}, each as read (see L{weblog.parsing.Logged})."""
        self.count_rows(list(map(self._row, lines)))

    def count_rows(self, rows: list[tuple[Any, ...]]) -> None:
        """
        Count lines, each given as the values of its fields named in L{fields}, in order.

        Each field that panels count is tallied over the batch in C, by value as
        logged (a batch holds few distinct values); Python code runs once per
        distinct value and panel, to add its tally to the key it shows.  Panels
        that count the same field (sites and referrers) share one tally of it.
        """
        if rows:
            self.count_columns(list(zip(*rows, strict=True)), len(rows))  # in C: each field's

    def count_columns(self, columns: list[tuple[Any, ...]], count: int) -> None:
        """Count C{count} lines given as the values of each field of L{fields}, a tuple per
        field (C{zip(*rows)}), as L{count_rows} counts its rows."""
        if not count:
            return
        for index, tallies in self._by_field:
            logged = Counter(columns[index])
            for tally in tallies:
                tally.add(logged)
                if len(tally.counts) > self.cap:
                    self._prune(tally)
        for stamp, times in Counter(columns[0]).items():  # few distinct seconds in a batch
            self._count_minute(stamp_minute(stamp), times)
        self.total += count

    def _prune(self, tally: _Tally) -> None:
        """
        Keep the most common half of a panel's keys, less the count of the first key left out.

        This is Misra and Gries's frequent-items step, done in a batch: every kept
        count drops by the same floor, so a newcomer that outgrows the established
        keys can still get in, and no count is ever more than the truth.  What the
        panel remembers of the values that showed as the keys left out goes too.
        """
        table = tally.counts
        kept = nlargest(self.cap // 2 + 1, table.items(), key=lambda item: item[1])
        floor = kept[-1][1]
        table.clear()
        dict.update(table, ((key, count - floor) for key, count in kept[:-1] if count > floor))
        tally.shown = {raw: shown for raw, shown in tally.shown.items()
                       if shown is False or shown in table}
        tally.long = {raw: shown for raw, shown in tally.long.items()
                      if shown is False or shown in table}
        self.approximate = True

    def _count_minute(self, minute: int, times: int) -> None:
        """
        Count C{times} hits in their minute, keeping only the last hour of minutes.

        The counts kept are then those of the last hour up to the newest minute seen,
        whatever the order in which minutes come.
        """
        newest = self.newest_minute
        if newest is None or minute > newest:
            self.newest_minute = newest = minute
            for old in [key for key in self.minutes if key <= minute - MINUTES]:
                del self.minutes[old]
        if minute > newest - MINUTES:
            self.minutes[minute] = self.minutes.get(minute, 0) + times

    def counts(self, name: str) -> dict[str, int]:
        """The counts of the panel named C{name}, by key as shown (a copy)."""
        for tally in self.tallies:
            if tally.panel.name == name:
                return dict(tally.counts)
        raise KeyError(name)

    def top(self, top: int = 10) -> dict[str, Any]:
        """Each panel's list (by name): the C{top} most common first, or whole in key order."""
        if self._top is not None and self._top[0] == (self.total, top):
            return self._top[1]
        lists: dict[str, Any] = {}
        for tally in self.tallies:
            if tally.panel.by_key:
                lists[tally.panel.name] = sorted(tally.counts.items())
            else:
                lists[tally.panel.name] = tally.counts.most_common(top)
        lists["approximate"] = self.approximate
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

# -*- test-case-name: tests.test_traffic -*-
"""
What the metrics count of the lines the server reads: lines and malformed per log, hits by
status class, method and virtual host, bytes, and since when the logs were last read to their
end.

Counted a batch at a time in C (L{Traffic.count}), by value as logged; the
values are made labels only when the metrics are asked for.  The lines are
always counted; the hits, bytes and times only from the first scrape on
(L{Traffic.scraped}), so that a server nobody scrapes does not pay for them
(about a tenth of its reading).  Every label set is bounded: a status is its
class (C{2xx} ... C{5xx}, else C{other}), a method one of L{METHODS} (else
C{other}), a virtual host one of the first L{VHOSTS_MOST} seen (else C{other}; C{""} when
the log names none), so that what a visitor writes into a request cannot make new series.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from operator import is_not, itemgetter, methodcaller
from typing import Any

from weblog.columns import vhost as vhost_of

__all__ = ["BOUNDS", "METHODS", "VHOSTS_MOST", "ZEROS", "Traffic", "method_label",
           "status_class"]

BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""The response-time histogram's buckets' upper bounds, in seconds (prometheus-client's)."""
_BOUNDS_US = tuple(round(bound * 1_000_000) for bound in BOUNDS)
_BUCKET = partial(bisect_left, _BOUNDS_US)
"""A duration's bucket (in microseconds): the first whose bound it does not pass."""

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT",
                     "TRACE", "PROPFIND"})
"""The methods that are labels of their own; any other is C{other}."""
_START = itemgetter(slice(0, 9))
"""A request's first characters: its method, if it is one of L{METHODS}, and what follows."""
_METHOD = itemgetter(0)
"""The method of a request logged in parts (L{weblog.parsing.Parts}: C{%m %U %H}), or None."""
ZEROS = {(f"{digit}xx" if digit else "other", method, ""): 0 for digit in range(6)
         for method in ("GET", "HEAD", "POST", "other")}
"""The series of hits there from the first scrape, at 0."""
VHOSTS_MOST = 32
"""The most virtual hosts that are labels of their own; any other is C{other}."""
RAW_MOST = 4096
"""The most distinct (status, request start) pairs tallied before they are made labels."""


def status_class(status: bytes | str | None) -> str:
    """The label of a status as logged: C{1xx} ... C{5xx}, else C{other} (C{-}, 600, ...)."""
    text = status.decode("ascii", "replace") if isinstance(status, bytes) else status
    if text is not None and len(text) == 3 and text.isdigit() and "1" <= text[0] <= "5":
        return f"{text[0]}xx"
    return "other"


def method_label(request: bytes | str | None) -> str:
    """The label of a request (or its start, or its method) as logged: its first word if it is
    one of L{METHODS}, else C{other}."""
    if request is None:
        return "other"
    text = request.decode("ascii", "replace") if isinstance(request, bytes) else request
    method = text.partition(" ")[0]
    return method if method in METHODS else "other"


class Traffic:
    """
    The counts the metrics give, over every line the server reads.

    @ivar lines: complete lines read, by log (its path, as configured).
    @ivar malformed: those of them that could not be read, by log.
    @ivar bytes: the bytes the hits say were sent (a C{-} counts none).
    @ivar caught_up: when the logs were last read to their end (the clock's seconds), or None.
    @ivar durations: how many hits took each bucket's time (L{BOUNDS}, then more), for the
        logs whose format says it; C{duration_sum} their total, in microseconds.
    @ivar scraped: whether the metrics were asked for: the hits are counted from then on.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        """@param clock: gives the time, in seconds (the reactor's C{seconds})."""
        self._clock = clock
        self.lines: Counter[str] = Counter()
        self.malformed: Counter[str] = Counter()
        self.bytes = 0
        self.caught_up: float | None = None
        self.durations = [0] * (len(BOUNDS) + 1)
        self.duration_sum = 0
        self.scraped = False
        self.positions: tuple[int, int, int, int, int | None] = (0, 1, 2, 3, None)
        """Where the request, status, byte count, vhost and time taken are among L{fields}."""
        self._labelled: Counter[tuple[str, str, str]] = Counter()
        self._raw: Counter[tuple[Any, Any, Any]] = Counter()
        self._vhosts: set[str] = set()

    def fields(self, counted: tuple[str, ...], timed: bool) -> tuple[str, ...]:
        """
        The fields a line is read for: those already C{counted} (the aggregates'), then what
        these counts read besides, whose positions they remember for L{count}.

        @param timed: whether the log's format may say how long a request took.
        """
        wanted = ("request", "status", "bytes", "vhost", *(("duration",) if timed else ()))
        fields = counted + tuple(field for field in wanted if field not in counted)
        self.positions = (fields.index("request"), fields.index("status"),
                          fields.index("bytes"), fields.index("vhost"),
                          fields.index("duration") if timed else None)
        return fields

    def count(self, source: str, lines: int, malformed: int,
              columns: Sequence[Sequence[Any]]) -> None:
        """
        Count a batch of one log's lines.

        @param lines: how many complete lines the batch had; C{malformed} of them unread.
        @param columns: the values of the hits' fields (L{fields}, in order), a sequence per
            field, as logged (bytes or str; the time taken in microseconds, or None).
        """
        request, status, size, vhost, duration = self.positions
        self.lines[source] += lines
        if malformed:
            self.malformed[source] += malformed
        if not self.scraped or not columns or not columns[0]:
            return
        # in C: each status with its request's start (its method) and vhost, tallied as logged
        requests = columns[request]
        start = _METHOD if isinstance(requests[0], tuple) else _START  # one parser's, all alike
        self._raw.update(zip(columns[status], map(start, requests), columns[vhost], strict=True))
        if len(self._raw) > RAW_MOST:
            self._label()
        self.bytes += sum(map(int, filter(methodcaller("isdigit"), columns[size])))
        if duration is not None:
            taken = list(filter(partial(is_not, None), columns[duration]))  # in C
            for bucket, count in Counter(map(_BUCKET, taken)).items():  # in C, but per bucket
                self.durations[bucket] += count
            self.duration_sum += sum(taken)

    def _label(self) -> None:
        """Add what was tallied as logged to the counts by label."""
        for (status, start, vhost), count in self._raw.items():
            self._labelled[status_class(status), method_label(start),
                           self._vhost_label(vhost)] += count
        self._raw.clear()

    def _vhost_label(self, raw: Any) -> str:
        """The label of a vhost as logged: itself (cut to 100 characters) if it is one of the
        first L{VHOSTS_MOST}, else C{other}; C{""} for none."""
        shown = vhost_of(raw)
        if shown is None:
            return ""
        shown = shown[:100]
        if shown in self._vhosts:
            return shown
        if len(self._vhosts) < VHOSTS_MOST:
            self._vhosts.add(shown)
            return shown
        return "other"

    def read_to_end(self) -> None:
        """Say that the logs were just read to their end."""
        self.caught_up = self._clock()

    def lag(self) -> float:
        """Seconds since the logs were last read to their end (0 before any read)."""
        return 0.0 if self.caught_up is None else max(self._clock() - self.caught_up, 0.0)

    def hits(self) -> dict[tuple[str, str, str], int]:
        """The hits counted, by status class, method and vhost label: each class of the common
        methods without a vhost there from the start, at 0, so that a rate sees the first hits
        of each."""
        self._label()
        return {**ZEROS, **self._labelled}

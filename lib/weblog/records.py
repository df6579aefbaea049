# -*- test-case-name: tests.test_records -*-
"""
L{Records}: the hits of one or more logs as they are read, a bounded ring of the latest and the
counts over all, told to listeners as they come.

It reads no environment: it is given its followers, its parser and its clock
(C{persist.Records} makes them from the settings, as the article's pages expect).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import Cooperator
from zope.interface import implementer

from weblog.aggregates import Aggregates
from weblog.errors import LogLineError
from weblog.following import OVERLONG, LogFollower
from weblog.hit import Hit
from weblog.history import OFF
from weblog.interfaces import IHistory, IRecords
from weblog.logstatus import log_status
from weblog.parsing import AUTO, Kept, LineParser, hit_of
from weblog.selection import ANSWERED, METRICS_MARK, OWN_MARK, is_own_logged
from weblog.slices import OneAtATime, clock_cooperator, default_reactor, run_sliced
from weblog.traffic import Traffic
from weblog.wakeups import Poller

__all__ = ["Records"]

ENTRY_BYTES = 512
"""What a kept line costs beside its own bytes (its fields' objects), counted in C{ring_bytes}."""


@implementer(IRecords)
class Records:
    """
    The hits of one or more access logs: a bounded ring of the latest, aggregates, and counts.

    Each line is read once (L{LineParser.read}) and counted at once; it is kept
    in the ring as read, and made a hit (the costlier part) when a page or a
    listener first asks for it.  The ring keeps the newest C{keep} lines, and no
    more than C{ring_bytes} of them, so that a log of very long lines keeps
    fewer rather than more memory.  Once L{start}ed it reads what was appended,
    in slices of at most C{slice_bytes}: every C{interval} seconds, soon after a
    log's directory changes, and when a page calls L{refresh}.
    """

    WAKE_GAP = 0.1
    """The shortest time between two polls that wake-ups or L{refresh} cause."""

    ANNOUNCE_BATCH = 500
    """The most hits the listeners are told of at once."""

    def __init__(self, followers: Sequence[LogFollower], parser: LineParser = AUTO,
                 keep: int = 10000, clock: IReactorTime | None = None, interval: float = 1.0,
                 slice_bytes: int = 64 * 1024, ring_bytes: int | None = None,
                 path: str | None = None, problem: str = "", history: IHistory | None = None,
                 sources: bool = False) -> None:
        """
        @param followers: the logs, each followed by its own follower.
        @param parser: reads their lines.
        @param keep: how many recent hits to keep.
        @param clock: drives the polling loop and the slices; default the global reactor.
        @param interval: seconds between polls once started.
        @param slice_bytes: the most bytes read in one slice of work.
        @param ring_bytes: the most bytes of lines the ring holds in all (it keeps
            the newest line whatever its size); default C{keep} KiB, at least 32 MiB.
        @param path: the logs' paths as configured (default: the followers' joined by C{:}).
        @param problem: why the logs cannot be followed, for L{status}, else C{""}.
        @param history: the historian that stores every hit of the same logs, started and
            stopped with this Records; None when there is no store.
        @param sources: whether each hit says its source even when there is one follower
            (more may be added: L{add_follower}).
        """
        self.history = history
        self.path = path if path is not None else ":".join(f.path for f in followers)
        self.problem = problem
        self.keep = keep
        self._followers = list(followers)
        self._sources = sources or len(self._followers) > 1
        self._parser = parser
        self.traffic = Traffic((clock or default_reactor()).seconds)
        self.aggregates = Aggregates()
        # the kept lines, as read (each made a hit in its place when first asked for), their
        # source, and how many bytes were put in the ring before each
        self._ring: deque[tuple[Kept | Hit, str | None, int]] = deque(maxlen=keep)
        self.ring_bytes = max(32 << 20, keep * 1024) if ring_bytes is None else ring_bytes
        self._ring_total = 0
        self._announced = 0
        self._announcing = OneAtATime(self.sliced)
        self._cooperator: Cooperator | None = None
        self.hit_count = 0
        self.lines = 0
        self.malformed = 0
        self._clock = clock
        self._interval = interval
        self._slice = slice_bytes
        self._poller: Poller | None = None
        self._listeners: list[Callable[[list[Hit], int], None]] = []

    @property
    def aggregates(self) -> Aggregates:
        """The counts over every line read; the lines are read for the fields they count."""
        return self._aggregates

    @aggregates.setter
    def aggregates(self, aggregates: Aggregates) -> None:
        self._aggregates = aggregates
        self._scan = self._parser.scanner(  # and what the traffic counts
            self.traffic.fields(aggregates.fields, timed=self._parser is not AUTO))

    @property
    def followers(self) -> list[LogFollower]:
        """The followers of the logs, one per path."""
        return list(self._followers)

    def add_follower(self, follower: LogFollower) -> None:
        """Follow one more log (a sender's spool file): its hits say their source."""
        self._followers.append(follower)
        self._sources = True

    def poll(self) -> bool:
        """
        Read one slice of what was appended to each log; count and keep what was read.

        @return: whether more work is already waiting.
        """
        more = False
        for follower in self._followers:
            lines, waiting = follower.read(self._slice)
            more = more or waiting
            if lines:
                self.ingest(lines, follower.source if self._sources else None)
        if not more:
            self.traffic.read_to_end()
            if self._announced < self.hit_count:
                self._announce()
        return more

    def refresh(self) -> None:
        """
        Before answering a request: poll, unless a poll ran less than C{WAKE_GAP} ago.

        Once L{start}ed, Records polls by itself as the logs change, so a page
        is never more than a moment stale; polling on every request as well
        would only make a busy server re-read and re-render for each one.
        """
        if self._poller is None or self._poller.due():
            self.poll()

    def catchUp(self) -> None:
        """Read everything appended so far (for scripts, not for the reactor thread)."""
        while self.poll():
            pass

    def ingest(self, lines: list[bytes | None], source: str | None = None) -> None:
        """Read, count and keep C{lines} (L{OVERLONG} for a line too long to keep)."""
        ring, scan, status = self._ring, self._scan, self.traffic.positions[1]
        valid = 0
        total = self._ring_total
        counted: list[tuple[Any, ...]] = []
        for line in lines:
            if line is OVERLONG:
                continue
            try:
                kept, row = scan(line)
            except LogLineError:
                continue
            valid += 1
            ring.append((kept, source, total))
            request = row[1]  # see panels.counted_fields
            # text decoded from a line that is not ASCII may take up to 4 bytes a character
            total += (len(line) if isinstance(request, bytes) or line.isascii()
                      else 4 * len(line)) + ENTRY_BYTES
            # weblog's own page loads and scrapes, answered, are not traffic; each has a mark
            if (line.find(OWN_MARK) < 0 and line.find(METRICS_MARK) < 0
                    or row[status] not in ANSWERED or not is_own_logged(request)):
                counted.append(row)
        columns = list(zip(*counted, strict=True))  # in C, once: each field's values
        self.aggregates.count_columns(columns, len(counted))
        self.traffic.count(source or self.path, len(lines), len(lines) - valid, columns)
        self.lines += len(lines)
        self.malformed += len(lines) - valid
        self.hit_count += valid
        self._ring_total = total
        # the deque drops what passes keep; drop what passes ring_bytes (long lines) here
        while len(ring) > 1 and total - ring[0][2] > self.ring_bytes:
            ring.popleft()

    def _oldest(self) -> int:
        """The id of the oldest kept hit (the newest's plus one when none is kept)."""
        return self.hit_count - len(self._ring) + 1

    def _hit(self, hit_id: int) -> Hit | None:
        """
        The hit numbered C{hit_id}, or None if it is not kept; made from its line at the first
        asking, and kept in the line's place.
        """
        index = hit_id - self._oldest()
        if not 0 <= index < len(self._ring):
            return None
        kept, source, total = self._ring[index]  # near either end of the deque: a few steps
        if isinstance(kept, Hit):
            return kept
        hit = hit_of(kept, source)
        self._ring[index] = (hit, source, total)  # tuples, not lists: the collector skips them
        return hit

    @property
    def announced(self) -> int:
        """The id of the newest hit the listeners have been told of."""
        return self._announced

    def sliced(self, steps: Iterator[Any]) -> Deferred[Any] | None:
        """
        Run C{steps} in slices on this Records' clock (see L{slices.run_sliced}).

        @return: None if every step ran at once, else a Deferred that fires when all
            have; L{stop} stops what is still under way.
        """
        clock = self._clock or default_reactor()
        if self._cooperator is None:
            self._cooperator = clock_cooperator(clock)
        return run_sliced(steps, self._cooperator, clock)

    def _announce(self) -> None:
        """Tell the listeners of the kept hits read since they were last told, in slices."""
        if not self._listeners:
            self._announcing.cancel()  # nobody to tell: what is under way stops too
            self._announced = self.hit_count
            return
        self._announcing.start(self._announcements)  # under way already, it goes on to the newest

    def _announcements(self) -> Iterator[None]:
        """Make the new hits a step each; tell the listeners in batches of consecutive hits."""
        while self._announced < self.hit_count and self._listeners:
            first = max(self._announced + 1, self._oldest())
            last = min(first + self.ANNOUNCE_BATCH - 1, self.hit_count)
            batch: list[Hit] = []
            for hit_id in range(first, last + 1):
                hit = self._hit(hit_id)
                if hit is None:  # fell out of the ring meanwhile: the batch ends before it
                    break
                batch.append(hit)
                yield None
            if not batch:
                self._announced = max(self._announced, first)
                continue
            self._announced = max(self._announced, first + len(batch) - 1)  # never back
            for listener in list(self._listeners):
                listener(batch, self._announced)

    def walk(self, after: int = 0, upto: int | None = None) -> Iterator[tuple[int, Hit]]:
        """
        The kept hits after id C{after} and up to id C{upto} (default: the newest), newest
        first, with their ids.

        Each hit is looked up by its id and made only when the iteration reaches
        it, so the log may be read between two steps (new hits then come after the
        walk's first, old ones may drop out) and the walk run in slices.
        """
        hit_id = self.hit_count if upto is None else min(upto, self.hit_count)
        while hit_id > after:
            hit = self._hit(hit_id)
            if hit is None:
                return
            yield hit_id, hit
            hit_id -= 1

    def getNew(self) -> list[Hit]:
        """Read one slice of what was appended; return the kept hits, newest first."""
        self.poll()
        return list(self.newest())

    def newest(self) -> Iterator[Hit]:
        """Iterate over the kept hits, newest (most recently written) first."""
        for _, hit in self.walk():
            yield hit

    @property
    def last_id(self) -> int:
        """The id of the newest kept hit (0 when none)."""
        return self.hit_count

    def status(self) -> dict[str, Any]:
        """Return the logs' path, state and counts, as in the JSON C{log} object."""
        return log_status(self.path, self.problem, self._followers, self.lines, self.malformed,
                          len(self._ring))

    def listen(self, listener: Callable[[list[Hit], int], None]) -> Callable[[], None]:
        """
        Call C{listener} with each batch of new hits and the id of the batch's last hit.

        @return: a function that stops the calls.
        """
        self._listeners.append(listener)

        def unlisten() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unlisten

    @property
    def listening(self) -> int:
        """How many listeners are told of new hits."""
        return len(self._listeners)

    def history_status(self) -> dict[str, Any]:
        """The JSON C{history} object: the store's state, or C{off} when there is none."""
        return OFF if self.history is None else self.history.status()

    def start(self) -> None:
        """Poll every C{interval} seconds and on wake-ups; read a backlog in slices; start the
        history."""
        if self.history is not None:
            self.history.start()
        if self._poller is None:
            self._poller = Poller(self.poll, self._clock or default_reactor(), self._interval,
                                  self.WAKE_GAP)
            self._poller.start([f.path for f in self._followers] if self._clock is None else [])

    def wake(self) -> None:
        """Poll soon: something was written to a log (see L{Poller.wake})."""
        if self._poller is not None:
            self._poller.wake()

    def stop(self) -> None:
        """Stop polling and watching, close the logs, and stop the history."""
        if self.history is not None:
            self.history.stop()
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
        self._announcing.cancel()
        if self._cooperator is not None:
            self._cooperator.stop()
            self._cooperator = None
        for follower in self._followers:
            follower.close()


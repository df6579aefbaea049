# -*- test-case-name: tests.test_persist -*-
"""
The shared objects that .rpy pages keep in the site registry: L{Counter} and L{Records}.

An .rpy is executed again on every request, so anything that must outlive a
request lives here and is fetched with the article's idiom::

    records = registry.getComponent(IRecords)
    if records is None:
        records = Records()
        records.start()
        registry.setComponent(IRecords, records)

The registry keys are the zope Interfaces below, defined in this module and
never in an .rpy, so that they are the same objects on every request.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.defer import Deferred
from twisted.internet.task import Cooperator, LoopingCall
from twisted.logger import Logger
from zope.interface import Attribute, Interface, implementer

from aggregates import Aggregates
from auth import read_htpasswd
from counter import Counter, ICounter, state_in_use
from logfollow import OVERLONG, LogFollower
from logformat import compile_format
from selection import is_own, is_own_logged
from slices import OneAtATime, clock_cooperator, run_sliced
from webloglib import (
    Hit,
    LogLineError,
    parse_line,
    scan_line,
)

__all__ = ["Counter", "ICounter", "IRecords", "Records", "config_problem", "env_int", "settings",
           "state_in_use"]

_log = Logger()


def env_int(name: str, default: int, low: int, high: int) -> int:
    """
    Read a whole number from the environment, within bounds.

    @param name: the variable's name.
    @param default: the value when it is unset or empty.
    @param low: the smallest value allowed.
    @param high: the largest value allowed.
    @return: the value.
    @raise ValueError: with a one-line reason if it is not a whole number in range.
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {text[:40]!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low} to {high}, got {value}")
    return value


def settings(
    keep: int | None = None, format: str | None = None
) -> tuple[int, Callable[[bytes, str | None], Hit]]:
    """
    How many hits to keep and how to parse lines: as given, else from the environment.

    @param keep: the ring's size; default C{$WEBLOG_KEEP}, else 10000.
    @param format: an Apache C{LogFormat}; default C{$WEBLOG_FORMAT}, else auto-detection.
    @raise ValueError: with a one-line reason for a bad C{WEBLOG_KEEP} or format.
    """
    if keep is None:
        keep = env_int("WEBLOG_KEEP", 10000, 1, 1_000_000)
    if format is None:
        format = os.environ.get("WEBLOG_FORMAT", "")
    return keep, compile_format(format) if format else parse_line


def config_problem() -> str:
    """
    The first problem with weblog's environment variables, in one line, or C{""}.

    That includes a C{WEBLOG_STATE} that another running weblog server holds.
    """
    try:
        settings()
        env_int("WEBLOG_MAX_STREAMS", 256, 1, 100_000)
        if os.environ.get("WEBLOG_HTPASSWD"):
            read_htpasswd(os.environ["WEBLOG_HTPASSWD"])
    except ValueError as error:
        return str(error)
    return state_in_use(os.environ.get("WEBLOG_STATE") or "var")


def _default_reactor() -> Any:
    """The global reactor, imported only when no other was given."""
    from twisted.internet import reactor

    return reactor


class IRecords(Interface):
    """The hits of one access log, followed as it grows."""

    path = Attribute("The path of the log followed (several separated by ':').")
    lines = Attribute("Complete lines read since start, including those read back at start.")
    malformed = Attribute("How many of those lines could not be parsed.")
    hit_count = Attribute("How many hits were read since start (valid lines).")
    last_id = Attribute("The id of the newest kept hit; hits are numbered from 1 as read.")
    aggregates = Attribute("The Aggregates over every hit read, weblog's own pages excluded.")

    announced = Attribute("The id of the newest hit the listeners have been told of.")

    def sliced(steps: Iterator[Any]) -> Any:
        """Run C{steps} in slices on this Records' clock: None if done at once, else a Deferred."""

    def since(last_id: int) -> list[tuple[int, Hit]]:
        """The kept hits after the one numbered C{last_id}, oldest first, with their ids."""

    def walk(after: int = 0, upto: int | None = None) -> Iterator[tuple[int, Hit]]:
        """The kept hits after id C{after} (up to id C{upto}), newest first, made when reached."""

    def listen(listener: Callable[[list[Hit], int], None]) -> Callable[[], None]:
        """Call C{listener} with each batch of new hits and the id of its last; return a stopper."""

    def poll() -> bool:
        """Read one slice of what was appended; return whether more work waits."""

    def refresh() -> None:
        """Before answering a request: poll, unless the log was polled a moment ago."""

    def getNew() -> list[Hit]:
        """Read what was appended to the log; return the kept hits, newest first."""

    def newest() -> Iterator[Hit]:
        """Iterate over the kept hits, newest (most recently written) first."""

    def status() -> dict[str, Any]:
        """Return the log's path, state and counts, as in the JSON C{log} object."""


def _size(entry: bytes | Hit) -> int:
    """What a ring entry counts against the ring's bytes: a line's length, a hit's text."""
    if isinstance(entry, bytes):
        return len(entry)
    return sum(len(field) for field in entry if isinstance(field, str))


@implementer(IRecords)
class Records:
    """
    The hits of one or more access logs: a bounded ring of the latest, aggregates, and counts.

    The ring keeps the newest C{keep} hits, and no more than C{ring_bytes} of
    their lines, so that a log of very long lines keeps fewer hits rather than
    more memory.  At start it reads back only as many lines as the ring keeps;
    after that it reads only what was appended, in slices of at most
    C{slice_bytes}: every C{interval} seconds once L{start}ed, soon after
    inotify reports a change to a log's directory, and when a page calls
    L{refresh} (or the article's L{getNew}).
    """

    WAKE_GAP = 0.1
    """The shortest time between two polls that inotify wake-ups or L{refresh} cause."""

    def __init__(
        self,
        path: str | None = None,
        keep: int | None = None,
        clock: IReactorTime | None = None,
        interval: float = 1.0,
        slice_bytes: int = 64 * 1024,
        format: str | None = None,
        ring_bytes: int | None = None,
    ) -> None:
        """
        @param path: the log to follow, or several separated by C{:}; default
            C{$WEBLOG_LOG}, else C{var/access.log}.
        @param keep: how many recent hits to keep; default C{$WEBLOG_KEEP}, else 10000.
        @param clock: drives the polling loop; default the global reactor.
        @param interval: seconds between polls once started.
        @param slice_bytes: the most bytes read in one slice of work.
        @param format: an Apache C{LogFormat} string for logs auto-detection cannot
            read; default C{$WEBLOG_FORMAT}, else auto-detection.
        @param ring_bytes: the most bytes of lines the ring holds in all (it keeps
            the newest line whatever its size); default C{keep} KiB, at least 32 MiB.

        A bad C{$WEBLOG_KEEP} or format is not raised: the logs are then not
        followed, and L{status} says C{"misconfigured"} with the reason.
        """
        self.path = path or os.environ.get("WEBLOG_LOG") or "var/access.log"
        self.problem = ""
        self._parse: Callable[[bytes, str | None], Hit] = parse_line
        try:
            self.keep, self._parse = settings(keep, format)
        except ValueError as error:
            self.problem = str(error)
            self.keep = keep or 10000
            _log.error("weblog cannot follow {path}: {problem}", path=self.path,
                       problem=self.problem)
        # The ring of kept hits, as read: a line (made a hit only when asked for) or a hit,
        # its source, and how many bytes were put in the ring up to and with it.
        self._ring: deque[tuple[bytes | Hit, str | None, int]] = deque(maxlen=self.keep)
        self.ring_bytes = max(32 << 20, self.keep * 1024) if ring_bytes is None else ring_bytes
        self._ring_total = 0  # bytes ever put in the ring
        self._made: dict[int, Hit] = {}  # hits made from ring lines, by id
        self._announced = 0  # the id of the last hit the listeners were told of
        self._announcing = OneAtATime(self.sliced)  # announcements, in slices, one at a time
        self._cooperator: Cooperator | None = None
        self.hit_count = 0
        self.lines = 0
        self.malformed = 0
        self.aggregates = Aggregates()
        paths = [part for part in self.path.split(":") if part and not self.problem]
        self._followers = [LogFollower(part, read_back=self.keep) for part in paths]
        self._sources = len(paths) > 1
        self._clock = clock
        self._interval = interval
        self._slice = slice_bytes
        self._loop: LoopingCall | None = None
        self._backlog: IDelayedCall | None = None
        self._wakeup: IDelayedCall | None = None
        self._last_tick = float("-inf")
        self._notifier: Any = None
        self._listeners: list[Callable[[list[Hit], int], None]] = []

    def poll(self) -> bool:
        """
        Read one slice of what was appended to each log, and make hits of what was read.

        Each line is checked and counted in the aggregates as it is read; it
        becomes a hit (the costlier part) only once no backlog waits, and then
        only if the ring would keep it, a bounded number per call.

        @return: whether more work is already waiting.
        """
        more = False
        for follower in self._followers:
            lines, waiting = follower.read(self._slice)
            more = more or waiting
            if lines:
                self._ingest(lines, follower.path if self._sources else None)
        if not more and self._announced < self.hit_count:
            self._announce()
        return more

    def refresh(self) -> None:
        """
        Before answering a request: poll, unless a poll ran less than C{WAKE_GAP} ago.

        Once L{start}ed, Records polls by itself as the logs change, so a page
        is never more than a moment stale; polling on every request as well
        would only make a busy server re-read and re-render for each one.
        """
        if self._loop is not None:
            now = self._loop.clock.seconds()
            if now - self._last_tick < self.WAKE_GAP:
                return
            self._last_tick = now
        self.poll()

    def catchUp(self) -> None:
        """Read everything appended so far (for scripts, not for the reactor thread)."""
        while self.poll():
            pass

    def _ingest(self, lines: list[bytes | None], source: str | None) -> None:
        """Check and count C{lines}; keep the valid ones in the ring, as lines."""
        ring = self._ring
        valid = 0
        total = self._ring_total
        if self._parse is not parse_line:
            for line in lines:
                try:
                    hit = self._parse(line, source) if line is not OVERLONG else None
                except LogLineError:
                    hit = None
                if hit is not None:
                    valid += 1
                    if not is_own(hit):
                        self.aggregates.add((hit,))
                    total += _size(hit)
                    ring.append((hit, source, total))
        else:
            counted = []
            for line in lines:
                if line is OVERLONG:
                    continue
                try:
                    scanned = scan_line(line)
                except LogLineError:
                    continue
                valid += 1
                total += len(line)
                ring.append((line, source, total))
                # find(), not `in`: `bytes in bytes` first tries the operand as an int, and
                # raising and clearing that TypeError costs more than the search
                if line.find(b"/weblog.") >= 0 and is_own_logged(scanned[1]):
                    continue  # weblog's own page loads are not the site's traffic
                counted.append(scanned)
            self.aggregates.count(counted)
        self.lines += len(lines)
        self.malformed += len(lines) - valid
        self.hit_count += valid
        self._ring_total = total
        # the deque drops what passes keep; drop what passes ring_bytes (long lines) here
        while len(ring) > 1 and total - ring[0][2] + _size(ring[0][0]) > self.ring_bytes:
            ring.popleft()
        if len(self._made) > max(2 * len(ring), len(ring) + 1024):
            oldest = self.hit_count - len(ring) + 1
            self._made = {key: hit for key, hit in self._made.items() if key >= oldest}

    def _hit(self, hit_id: int, entry: tuple[bytes | Hit, str | None, int]) -> Hit:
        """The hit of a ring entry, made from its line at the first asking."""
        line, source, _ = entry
        if isinstance(line, Hit):
            return line
        hit = self._made.get(hit_id)
        if hit is None:
            hit = self._made[hit_id] = parse_line(line, source)
        return hit

    ANNOUNCE_BATCH = 500
    """The most hits the listeners are told of at once."""

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
        clock = self._clock or _default_reactor()
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
            first = max(self._announced + 1, self.hit_count - len(self._ring) + 1)
            last = min(first + self.ANNOUNCE_BATCH - 1, self.hit_count)
            batch: list[Hit] = []
            for hit_id in range(first, last + 1):
                entry = self._entry(hit_id)
                if entry is None:  # fell out of the ring meanwhile: the batch ends before it
                    break
                batch.append(self._hit(hit_id, entry))
                yield None
            if not batch:
                self._announced = max(self._announced, first)
                continue
            self._announced = max(self._announced, first + len(batch) - 1)  # never back
            for listener in list(self._listeners):
                listener(batch, self._announced)

    def _entry(self, hit_id: int) -> tuple[bytes | Hit, str | None, int] | None:
        """The ring's entry of the hit numbered C{hit_id}, or None if it is not kept."""
        index = hit_id - (self.hit_count - len(self._ring) + 1)
        if not 0 <= index < len(self._ring):
            return None
        return self._ring[index]  # near either end of the deque: a few steps

    def walk(self, after: int = 0, upto: int | None = None) -> Iterator[tuple[int, Hit]]:
        """
        The kept hits after id C{after} and up to id C{upto} (default: the newest), newest
        first, with their ids.

        Each hit is looked up by its id and made (parsed) only when the iteration
        reaches it, so the log may be read between two steps (new hits then come after
        the walk's first, old ones may drop out) and the walk run in slices.
        """
        hit_id = self.hit_count if upto is None else min(upto, self.hit_count)
        while hit_id > after:
            entry = self._entry(hit_id)
            if entry is None:
                return
            yield hit_id, self._hit(hit_id, entry)
            hit_id -= 1

    def getNew(self) -> list[Hit]:
        """Read one slice of what was appended; return the kept hits, newest first."""
        self.poll()
        return list(self.newest())

    def newest(self) -> Iterator[Hit]:
        """Iterate over the kept hits, newest (most recently written) first."""
        for _, hit in self.walk():
            yield hit

    def since(self, last_id: int) -> list[tuple[int, Hit]]:
        """
        The kept hits after the one numbered C{last_id}, oldest first, with their numbers.

        Hits are numbered from 1 in the order they were read; the newest is L{last_id}.
        """
        wanted = min(self.hit_count - last_id, len(self._ring))
        if wanted <= 0:
            return []
        first = self.hit_count - wanted + 1
        entries = list(islice(reversed(self._ring), wanted))[::-1]
        return [(first + offset, self._hit(first + offset, entry))
                for offset, entry in enumerate(entries)]

    @property
    def last_id(self) -> int:
        """The id of the newest kept hit (0 when none)."""
        return self.hit_count

    def status(self) -> dict[str, Any]:
        """Return the logs' path, state and counts, as in the JSON C{log} object."""
        trouble = [follower for follower in self._followers if follower.state != "ok"]
        if self.problem:
            state, reason = "misconfigured", self.problem
        elif not trouble:
            state, reason = "ok", ""
        elif len(self._followers) == 1:
            state, reason = trouble[0].state, trouble[0].reason
        else:
            state, reason = trouble[0].state, f"{trouble[0].path}: {trouble[0].reason}"
        status: dict[str, Any] = {
            "path": self.path,
            "state": state,
            "reason": reason,
            "lines": self.lines,
            "malformed": self.malformed,
            "rotations": sum(follower.rotations for follower in self._followers),
            "truncations": sum(follower.truncations for follower in self._followers),
            "kept": len(self._ring),
        }
        if self._sources:
            status["files"] = [
                {"path": follower.path, "state": follower.state, "reason": follower.reason}
                for follower in self._followers
            ]
        return status

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

    def start(self) -> None:
        """Poll every C{interval} seconds and on inotify events; read a backlog in slices."""
        if self._loop is not None:
            return
        clock = self._clock or _default_reactor()
        self._loop = LoopingCall(self._tick)
        self._loop.clock = clock
        self._loop.start(self._interval, now=True)
        if self._clock is None:
            self._watch()

    def _watch(self) -> None:
        """Ask inotify, where the platform has it, to wake the reader when a log changes."""
        try:
            from twisted.internet import inotify
            from twisted.python.filepath import FilePath

            notifier = inotify.INotify()
            notifier.startReading()
        except Exception as error:  # no inotify here: the poll alone follows the logs
            _log.info("following by polling only: {error}", error=error)
            return
        names = {os.path.basename(follower.path).encode() for follower in self._followers}

        def changed(_: Any, path: FilePath[bytes], mask: int) -> None:
            if path.basename() in names:
                self.wake()

        for directory in {os.path.dirname(os.path.abspath(f.path)) for f in self._followers}:
            try:
                notifier.watch(FilePath(directory.encode()), callbacks=[changed])
            except Exception as error:
                _log.info("cannot watch {directory}: {error}", directory=directory, error=error)
        self._notifier = notifier

    def wake(self) -> None:
        """
        Poll soon: something was written to a log.

        Writes are coalesced: a poll comes 10 ms after the first write, and at
        most every C{WAKE_GAP} seconds while writes keep coming, so a busy log
        is read in batches (one write per event stream per batch).
        """
        if self._wakeup is None and self._loop is not None:
            clock = self._loop.clock
            delay = max(0.01, self._last_tick + self.WAKE_GAP - clock.seconds())
            self._wakeup = clock.callLater(delay, self._woken)

    def _woken(self) -> None:
        """Poll, now that a log changed."""
        self._wakeup = None
        self._tick()

    def _tick(self) -> None:
        """Poll once; if a backlog waits, come back at once, letting the reactor run between."""
        if self._backlog is not None and self._backlog.active():
            return
        self._backlog = None
        if self._loop is not None:
            self._last_tick = self._loop.clock.seconds()
        if self.poll() and self._loop is not None:
            self._backlog = self._loop.clock.callLater(0, self._continue)

    def _continue(self) -> None:
        """Read the next slice of a backlog."""
        self._backlog = None
        self._tick()

    def stop(self) -> None:
        """Stop polling and watching, and close the logs."""
        if self._loop is not None:
            self._loop.stop()
            self._loop = None
        for call in (self._backlog, self._wakeup):
            if call is not None and call.active():
                call.cancel()
        self._backlog = self._wakeup = None
        self._announcing.cancel()
        if self._cooperator is not None:
            self._cooperator.stop()
            self._cooperator = None
        if self._notifier is not None:
            self._notifier.loseConnection()
            self._notifier = None
        for follower in self._followers:
            follower.close()

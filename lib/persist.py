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

import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorCore, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from zope.interface import Attribute, Interface, implementer

from logfollow import OVERLONG, LogFollower
from webloglib import Hit, LogLineError, parse_line

__all__ = ["Counter", "ICounter", "IRecords", "Records", "env_int"]

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


def _default_reactor() -> Any:
    """The global reactor, imported only when no other was given."""
    from twisted.internet import reactor

    return reactor


class ICounter(Interface):
    """A count of page views that survives restarts."""

    def increment() -> None:
        """Add one view."""

    def getValue() -> int:
        """Return the number of views so far."""


class IRecords(Interface):
    """The hits of one access log, followed as it grows."""

    path = Attribute("The path of the log followed.")
    lines = Attribute("Complete lines read since start, including those read back at start.")
    malformed = Attribute("How many of those lines could not be parsed.")

    def getNew() -> list[Hit]:
        """Read what was appended to the log; return the kept hits, newest first."""

    def newest() -> Iterator[Hit]:
        """Iterate over the kept hits, newest (most recently written) first."""

    def status() -> dict[str, Any]:
        """Return the log's path, state and counts, as in the JSON C{log} object."""


@implementer(ICounter)
class Counter:
    """
    A view counter whose value is kept in C{$WEBLOG_STATE/counter.json}.

    Increments are written at most C{delay} seconds after they happen, and at
    once by L{save} (which L{start} arranges to run at reactor shutdown), so a
    clean stop loses nothing and a crash loses at most the last C{delay}
    seconds.  Writes are atomic: a temporary file, fsync, then rename.
    """

    def __init__(
        self, state_dir: str | None = None, clock: IReactorTime | None = None, delay: float = 1.0
    ) -> None:
        """
        @param state_dir: the directory for the state file; default
            C{$WEBLOG_STATE}, else C{var}.
        @param clock: schedules the delayed write; default the global reactor.
        @param delay: the most seconds an increment waits before it is written.
        """
        directory = state_dir or os.environ.get("WEBLOG_STATE") or "var"
        self.path = os.path.join(directory, "counter.json")
        self._clock = clock
        self._delay = delay
        self._pending: IDelayedCall | None = None
        self._trigger: Any = None
        self.value = self._load()

    def _load(self) -> int:
        """Read the saved value; set a corrupt state file aside and start from 0."""
        try:
            with open(self.path, "rb") as state:
                data = state.read(4096)
        except FileNotFoundError:
            return 0
        try:
            value = json.loads(data)["value"]
            if type(value) is not int or value < 0:
                raise ValueError(f"value is not a count: {value!r}")
        except (ValueError, KeyError, TypeError) as error:
            aside = f"{self.path}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}"
            os.replace(self.path, aside)
            _log.error(
                "counter state {path} is corrupt ({error}); set aside as {aside}, starting at 0",
                path=self.path, error=error, aside=aside,
            )
            return 0
        return value

    def start(self, reactor: IReactorCore | None = None) -> None:
        """
        Save at reactor shutdown.

        @param reactor: the reactor whose shutdown saves; default the global one.
        """
        reactor = reactor or _default_reactor()
        self._trigger = (reactor, reactor.addSystemEventTrigger("before", "shutdown", self.save))

    def stop(self) -> None:
        """Save now and stop saving at shutdown."""
        self.save()
        if self._trigger is not None:
            reactor, trigger = self._trigger
            reactor.removeSystemEventTrigger(trigger)
            self._trigger = None

    def increment(self) -> None:
        """Add one view; it is written within C{delay} seconds."""
        self.value += 1
        if self._pending is None:
            clock = self._clock or _default_reactor()
            self._pending = clock.callLater(self._delay, self.save)

    def getValue(self) -> int:
        """Return the number of views so far."""
        return self.value

    def save(self) -> None:
        """Write the value now, atomically."""
        if self._pending is not None:
            if self._pending.active():
                self._pending.cancel()
            self._pending = None
        directory = os.path.dirname(self.path) or "."
        os.makedirs(directory, exist_ok=True)
        temporary = f"{self.path}.tmp"
        with open(temporary, "w") as state:
            json.dump({"value": self.value}, state)
            state.flush()
            os.fsync(state.fileno())
        os.replace(temporary, self.path)


@implementer(IRecords)
class Records:
    """
    The hits of one access log: a bounded ring of the latest, and counts of what was read.

    At start it reads back only as many lines as the ring keeps; after that it
    reads only what was appended, in slices of at most C{slice_bytes}, either
    when a page calls L{getNew} or every C{interval} seconds once L{start}ed.
    """

    def __init__(
        self,
        path: str | None = None,
        keep: int | None = None,
        clock: IReactorTime | None = None,
        interval: float = 1.0,
        slice_bytes: int = 256 * 1024,
    ) -> None:
        """
        @param path: the log to follow; default C{$WEBLOG_LOG}, else C{var/access.log}.
        @param keep: how many recent hits to keep; default C{$WEBLOG_KEEP}, else 10000.
        @param clock: drives the polling loop; default the global reactor.
        @param interval: seconds between polls once started.
        @param slice_bytes: the most bytes read in one slice of work.
        @raise ValueError: if C{$WEBLOG_KEEP} is not a whole number from 1 to 1000000.
        """
        self.path = path or os.environ.get("WEBLOG_LOG") or "var/access.log"
        self.keep = keep if keep is not None else env_int("WEBLOG_KEEP", 10000, 1, 1_000_000)
        self.hits: deque[Hit] = deque(maxlen=self.keep)
        self.lines = 0
        self.malformed = 0
        self._follower = LogFollower(self.path, read_back=self.keep)
        self._clock = clock
        self._interval = interval
        self._slice = slice_bytes
        self._loop: LoopingCall | None = None
        self._backlog: IDelayedCall | None = None
        self._listeners: list[Callable[[list[Hit]], None]] = []

    def poll(self) -> bool:
        """
        Read and parse one slice of what was appended.

        @return: whether more is already waiting.
        """
        lines, more = self._follower.read(self._slice)
        if lines:
            self._ingest(lines)
        return more

    def catchUp(self) -> None:
        """Read everything appended so far (for scripts, not for the reactor thread)."""
        while self.poll():
            pass

    def _ingest(self, lines: list[bytes | None]) -> None:
        """Parse C{lines}, keep their hits and tell the listeners."""
        fresh: list[Hit] = []
        for line in lines:
            if line is OVERLONG:
                self.malformed += 1
                continue
            try:
                fresh.append(parse_line(line))
            except LogLineError:
                self.malformed += 1
        self.lines += len(lines)
        self.hits.extend(fresh)
        if fresh:
            for listener in list(self._listeners):
                listener(fresh)

    def getNew(self) -> list[Hit]:
        """Read one slice of what was appended; return the kept hits, newest first."""
        self.poll()
        return list(reversed(self.hits))

    def newest(self) -> Iterator[Hit]:
        """Iterate over the kept hits, newest (most recently written) first."""
        return reversed(self.hits)

    def status(self) -> dict[str, Any]:
        """Return the log's path, state and counts, as in the JSON C{log} object."""
        follower = self._follower
        return {
            "path": self.path,
            "state": follower.state,
            "reason": follower.reason,
            "lines": self.lines,
            "malformed": self.malformed,
            "rotations": follower.rotations,
            "truncations": follower.truncations,
            "kept": len(self.hits),
        }

    def listen(self, listener: Callable[[list[Hit]], None]) -> Callable[[], None]:
        """
        Call C{listener} with each batch of new hits.

        @return: a function that stops the calls.
        """
        self._listeners.append(listener)

        def unlisten() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unlisten

    def start(self) -> None:
        """Poll the log every C{interval} seconds, reading a backlog in back-to-back slices."""
        if self._loop is not None:
            return
        clock = self._clock or _default_reactor()
        self._loop = LoopingCall(self._tick)
        self._loop.clock = clock
        self._loop.start(self._interval, now=True)

    def _tick(self) -> None:
        """Poll once; if a backlog waits, come back at once, letting the reactor run between."""
        self._backlog = None
        if self.poll() and self._loop is not None:
            self._backlog = self._loop.clock.callLater(0, self._tick)

    def stop(self) -> None:
        """Stop polling and close the log."""
        if self._loop is not None:
            self._loop.stop()
            self._loop = None
        if self._backlog is not None:
            self._backlog.cancel()
            self._backlog = None
        self._follower.close()

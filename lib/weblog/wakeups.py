# -*- test-case-name: tests.test_wakeups -*-
"""
When the logs are read: a poll loop (L{Poller}), and wake-ups from inotify when a followed
log's directory changes, where the platform has it.

The poll alone follows the logs; wake-ups only make it read sooner.  Directories
are watched rather than files, so that a log created, renamed or deleted is seen too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

__all__ = ["Poller", "watch"]

_log = Logger()


def watch(paths: Iterable[str], wake: Callable[[], None]) -> Callable[[], None] | None:
    """
    Call C{wake} whenever one of C{paths} changes, until the returned stopper is called.

    @return: the stopper, or None when inotify is not available here (logged).
    """
    try:
        from twisted.internet import inotify
        from twisted.python.filepath import FilePath

        notifier = inotify.INotify()
        notifier.startReading()
    except Exception as error:  # no inotify here: the poll alone follows the logs
        _log.info("following by polling only: {error}", error=error)
        return None
    paths = list(paths)
    names = {os.path.basename(path).encode() for path in paths}

    def changed(_: Any, path: FilePath[bytes], mask: int) -> None:
        if path.basename() in names:
            wake()

    for directory in {os.path.dirname(os.path.abspath(path)) for path in paths}:
        try:
            notifier.watch(FilePath(directory.encode()), callbacks=[changed])
        except Exception as error:
            _log.info("cannot watch {directory}: {error}", directory=directory, error=error)
    return notifier.loseConnection


class Poller:
    """
    When to read the logs: every C{interval} seconds, soon after a wake-up, and at once again
    while a backlog waits, letting the reactor run between two slices.
    """

    def __init__(self, poll: Callable[[], bool], clock: IReactorTime, interval: float,
                 gap: float) -> None:
        """
        @param poll: reads one slice; says whether more waits.
        @param clock: schedules the polls.
        @param interval: seconds between two polls when nothing wakes it.
        @param gap: the shortest time between two polls that wake-ups or requests cause.
        """
        self.poll = poll
        self.clock = clock
        self.interval = interval
        self.gap = gap
        self._loop: LoopingCall | None = None
        self._backlog: IDelayedCall | None = None
        self._wakeup: IDelayedCall | None = None
        self._last = float("-inf")
        self._unwatch: Callable[[], None] | None = None

    def start(self, watched: Iterable[str] = ()) -> None:
        """Poll now and every C{interval}; be woken when one of C{watched} paths changes."""
        self._loop = LoopingCall(self._tick)
        self._loop.clock = self.clock
        self._loop.start(self.interval, now=True)
        watched = list(watched)
        if watched:
            self._unwatch = watch(watched, self.wake)

    def due(self) -> bool:
        """Whether a request may poll now (no poll ran in the last C{gap}); if so, it counts."""
        now = self.clock.seconds()
        if now - self._last < self.gap:
            return False
        self._last = now
        return True

    def wake(self) -> None:
        """
        Poll soon: something was written to a log.

        Writes are coalesced: a poll comes 10 ms after the first write, and at
        most every C{gap} seconds while writes keep coming, so a busy log is
        read in batches (one write per event stream per batch).
        """
        if self._wakeup is None and self._loop is not None:
            delay = max(0.01, self._last + self.gap - self.clock.seconds())
            self._wakeup = self.clock.callLater(delay, self._woken)

    def _woken(self) -> None:
        """Poll, now that a log changed."""
        self._wakeup = None
        self._tick()

    def _tick(self) -> None:
        """Poll once; if a backlog waits, come back at once, letting the reactor run between."""
        if self._backlog is not None and self._backlog.active():
            return
        self._backlog = None
        self._last = self.clock.seconds()
        if self.poll() and self._loop is not None:
            self._backlog = self.clock.callLater(0, self._continue)

    def _continue(self) -> None:
        """Read the next slice of a backlog."""
        self._backlog = None
        self._tick()

    def stop(self) -> None:
        """Stop polling and watching."""
        if self._loop is not None:
            self._loop.stop()
            self._loop = None
        for call in (self._backlog, self._wakeup):
            if call is not None and call.active():
                call.cancel()
        self._backlog = self._wakeup = None
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None

# -*- test-case-name: tests.test_throttle -*-
"""
Bounds on the password checks that weblog's HTTP Basic authentication runs.

A bcrypt check costs tens to hundreds of milliseconds of CPU; without bounds,
anyone can queue them faster than they finish and make real logins wait
behind the guesses.  L{Throttle} runs them in a small thread pool of their
own (L{CheckPool}), with at most C{pending} checks running or queued
overall, at most one at a time for each client address, and at most
C{failures} failures for each client address within C{window} seconds.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from twisted.cred.error import LoginFailed
from twisted.internet import defer, threads
from twisted.internet.interfaces import IReactorTime
from twisted.python.threadpool import ThreadPool

__all__ = ["CheckPool", "Refused", "Throttle", "shared_pool"]

Runner = Callable[[Callable[[], bool]], "defer.Deferred[bool]"]


class Refused(LoginFailed):
    """A check turned away before it ran, with the HTTP answer that says so."""

    def __init__(self, code: int, retry_after: float, reason: str) -> None:
        """
        @param code: C{429} (this client asks too much) or C{503} (everyone does).
        @param retry_after: seconds until a retry can be admitted; rounded up, at least 1.
        @param reason: one line for the client, without the delay (L{message} adds it).
        """
        self.code = code
        self.retry_after = max(1, math.ceil(retry_after))
        self.message = f"{reason}; try again in {self.retry_after} s"
        super().__init__(self.message)


class CheckPool:
    """A small thread pool for password checks, started at the first one, stopped at shutdown."""

    def __init__(self, reactor: Any = None, threads: int = 2) -> None:
        """
        @param reactor: the reactor that gets the results (default: the global one).
        @param threads: how many checks run at once.
        """
        self.reactor = reactor
        self.threads = threads
        self._pool: ThreadPool | None = None
        self._trigger: Any = None

    def __call__(self, function: Callable[[], bool]) -> defer.Deferred[bool]:
        """Run C{function} in one of the pool's threads; fire with its result."""
        if self._pool is None:
            if self.reactor is None:
                from twisted.internet import reactor

                self.reactor = reactor
            self._pool = ThreadPool(0, self.threads, "weblog-password-checks")
            self._pool.start()
            self._trigger = self.reactor.addSystemEventTrigger("during", "shutdown", self._shutdown)
        return threads.deferToThreadPool(self.reactor, self._pool, function)

    def stop(self) -> None:
        """Stop the threads, waiting for the checks they run; a later check starts them again."""
        trigger, self._trigger = self._trigger, None
        if trigger is not None:
            self.reactor.removeSystemEventTrigger(trigger)
        self._shutdown()

    def _shutdown(self) -> None:
        """Stop the threads (at reactor shutdown, or from L{stop})."""
        self._trigger = None
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()


_shared = CheckPool()


def shared_pool() -> CheckPool:
    """The pool that every L{Throttle} made without its own C{run} uses."""
    return _shared


class _Client:
    """What a L{Throttle} remembers about one client address."""

    __slots__ = ("busy", "failed")

    def __init__(self) -> None:
        self.busy = False
        self.failed: deque[float] = deque()


class Throttle:
    """Admits password checks within bounds; one instance is shared by every request."""

    def __init__(self, clock: IReactorTime, run: Runner | None = None, pending: int = 8,
                 failures: int = 5, window: float = 60.0, clients: int = 4096) -> None:
        """
        @param clock: where time comes from (C{seconds()} only).
        @param run: runs a check away from the reactor thread; default L{shared_pool}.
        @param pending: checks running or queued at most, for all clients together.
        @param failures: failed checks allowed per client address within C{window} seconds.
        @param window: seconds a failure counts against its client.
        @param clients: client addresses remembered at most (the least recent are forgotten).
        """
        self.clock = clock
        self.run: Runner = run if run is not None else shared_pool()
        self.limit = pending
        self.failures = failures
        self.window = window
        self.clients = clients
        self.pending = 0
        self._table: OrderedDict[str, _Client] = OrderedDict()

    def check(self, client: str | None, function: Callable[[], bool]) -> defer.Deferred[bool]:
        """
        Run C{function} (a password check) if the bounds allow it.

        @param client: the client's address; C{None} applies the overall bound only.
        @param function: returns whether the password was right; runs in another thread.
        @return: fires with C{function}'s result, or fails with L{Refused} at once.
        """
        try:
            entry = self._admit(client)
        except Refused as refusal:
            return defer.fail(refusal)
        self.pending += 1
        if entry is not None:
            entry.busy = True
        result = defer.maybeDeferred(self.run, function)

        def finished(good: bool) -> bool:
            self._finished(client, good)
            return good

        def failed(reason: Any) -> Any:
            self._finished(client, False)
            return reason

        return result.addCallbacks(finished, failed)

    def _admit(self, client: str | None) -> _Client | None:
        """The client's entry, if a check for it may start now; raise L{Refused} otherwise."""
        if self.pending >= self.limit:
            raise Refused(503, 1, "Too many password checks waiting")
        if client is None:
            return None
        entry = self._entry(client)
        if entry.busy:
            raise Refused(429, 1, "A password check for your address is still running")
        now = self.clock.seconds()
        while entry.failed and not 0 <= now - entry.failed[0] < self.window:
            entry.failed.popleft()  # out of the window (or the clock went back)
        if len(entry.failed) >= self.failures:
            raise Refused(429, entry.failed[0] + self.window - now,
                          "Too many wrong passwords from your address")
        return entry

    def _entry(self, client: str) -> _Client:
        """The client's entry, made (and the table kept within bounds) if needed."""
        entry = self._table.get(client)
        if entry is None:
            entry = self._table[client] = _Client()
            while len(self._table) > self.clients:
                self._table.popitem(last=False)
        else:
            self._table.move_to_end(client)
        return entry

    def _finished(self, client: str | None, good: bool) -> None:
        """Account for a check that ended: a success clears the client's failures."""
        self.pending -= 1
        if client is None:
            return
        if good:
            self._table.pop(client, None)
            return
        entry = self._entry(client)
        entry.busy = False
        entry.failed.append(self.clock.seconds())
        while len(entry.failed) > self.failures:
            entry.failed.popleft()

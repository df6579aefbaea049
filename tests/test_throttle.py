# -*- test-case-name: tests.test_throttle -*-
"""Tests for L{weblog.throttle}: the bounds on password checks, and the threads they run in."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, cast

from twisted.internet import defer, reactor
from twisted.internet.task import Clock
from twisted.trial import unittest
from weblog.throttle import CheckPool, Refused, Throttle


class Runs:
    """A Throttle C{run} that holds every check until the test finishes it."""

    def __init__(self) -> None:
        self.held: list[tuple[Callable[[], bool], defer.Deferred[bool]]] = []

    def __call__(self, function: Callable[[], bool]) -> defer.Deferred[bool]:
        held: defer.Deferred[bool] = defer.Deferred()
        self.held.append((function, held))
        return held

    def finish(self, index: int = 0) -> None:
        """Run a held check (here, at once) and pass its result on."""
        function, held = self.held.pop(index)
        held.callback(function())

    def fail(self, error: Exception) -> None:
        """Fail the first held check with C{error}."""
        self.held.pop(0)[1].errback(error)


class RefusedTests(unittest.TestCase):
    """Refused: the answer for a check that was not run."""

    def test_message(self):
        """The delay is rounded up to whole seconds (at least 1) and ends the message."""
        refused = Refused(429, 49.2, "Too many wrong passwords from your address")
        self.assertEqual((refused.code, refused.retry_after), (429, 50))
        self.assertEqual(str(refused),
                         "Too many wrong passwords from your address; try again in 50 s")
        self.assertEqual(Refused(503, 0.01, "Busy").retry_after, 1)


class ThrottleTests(unittest.TestCase):
    """Throttle: the bounds on checks overall and per client address."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.runs = Runs()
        self.throttle = Throttle(self.clock, run=self.runs, pending=3, failures=5, window=60,
                                 clients=3)

    def attempt(self, client: str | None, good: bool = False) -> defer.Deferred[bool]:
        """Ask for a check that will say C{good}."""
        return self.throttle.check(client, lambda: good)

    def refusal(self, client: str | None) -> Refused:
        """The refusal of a check asked for now."""
        refused = self.failureResultOf(self.attempt(client), Refused).value
        assert isinstance(refused, Refused)
        return refused

    def failChecks(self, client: str, times: int) -> None:
        """Let C{client} fail C{times} checks, one after the other."""
        for _ in range(times):
            result = self.attempt(client)
            self.runs.finish()
            self.assertFalse(self.successResultOf(result))

    def test_oneAtATimePerClient(self):
        """A client's second check while its first runs is refused with 429 for 1 s."""
        first = self.attempt("192.0.2.1")
        refused = self.refusal("192.0.2.1")
        self.assertEqual((refused.code, refused.retry_after), (429, 1))
        self.attempt("192.0.2.2")
        self.assertEqual((len(self.runs.held), self.throttle.pending), (2, 2))
        self.runs.finish()
        self.assertFalse(self.successResultOf(first))
        self.attempt("192.0.2.1")
        self.assertEqual(len(self.runs.held), 2)

    def test_pendingBound(self):
        """Beyond C{pending} checks running or queued, any client is refused with 503."""
        for client in ("192.0.2.1", "192.0.2.2", None):
            self.attempt(client)
        for client in ("192.0.2.3", None):
            refused = self.refusal(client)
            self.assertEqual((refused.code, refused.retry_after), (503, 1))
        self.runs.finish()
        self.attempt("192.0.2.3")
        self.assertEqual((len(self.runs.held), self.throttle.pending), (3, 3))

    def test_failuresPerWindow(self):
        """After 5 failures within 60 s a client waits, with 429, until the oldest is 60 s old."""
        for _ in range(5):
            self.failChecks("192.0.2.1", 1)
            self.clock.advance(10)
        self.clock.advance(-5)  # failures at 0, 10, 20, 30, 40; now 45
        refused = self.refusal("192.0.2.1")
        self.assertEqual((refused.code, refused.retry_after), (429, 15))
        self.assertIn("wrong passwords", str(refused))
        self.assertEqual(self.runs.held, [])
        self.attempt("192.0.2.2")  # others are not held back
        self.runs.finish()
        self.clock.advance(15)
        self.failChecks("192.0.2.1", 1)  # the failure at 0 has left the window
        self.clock.advance(1)
        self.assertEqual(self.refusal("192.0.2.1").retry_after, 9)  # until the one at 10 leaves

    def test_successClearsFailures(self):
        """A right password clears its client's failures."""
        self.failChecks("192.0.2.1", 4)
        result = self.attempt("192.0.2.1", good=True)
        self.runs.finish()
        self.assertTrue(self.successResultOf(result))
        self.failChecks("192.0.2.1", 5)
        self.assertEqual(self.refusal("192.0.2.1").code, 429)

    def test_noClientNoClientLimits(self):
        """Checks without a client address are bound only by C{pending}."""
        for _ in range(3):
            self.attempt(None)
        self.assertEqual(self.refusal(None).code, 503)
        for _ in range(3):
            self.runs.finish()
        for _ in range(10):
            self.attempt(None)
            self.runs.finish()
        self.assertEqual(self.throttle.pending, 0)

    def test_clientsBounded(self):
        """Only the C{clients} most recently seen addresses are remembered, failures and all."""
        self.failChecks("192.0.2.1", 5)
        self.failChecks("192.0.2.2", 1)
        self.assertEqual(self.refusal("192.0.2.1").code, 429)  # seen again: now the latest
        self.failChecks("192.0.2.3", 1)
        self.failChecks("192.0.2.4", 1)  # 192.0.2.2 is forgotten
        self.assertEqual(self.refusal("192.0.2.1").code, 429)
        self.failChecks("192.0.2.5", 1)
        self.failChecks("192.0.2.6", 1)
        self.failChecks("192.0.2.7", 1)  # and now 192.0.2.1
        self.attempt("192.0.2.1")
        self.assertEqual(len(self.runs.held), 1)

    def test_clockWentBack(self):
        """Failures that seem to come from the future do not hold a client back."""
        self.clock.advance(1000)
        self.failChecks("192.0.2.1", 5)
        self.clock.advance(-500)
        self.attempt("192.0.2.1")
        self.assertEqual(len(self.runs.held), 1)

    def test_brokenCheck(self):
        """A check that fails (not a wrong password) frees its place and counts as a failure."""
        result = self.attempt("192.0.2.1")
        self.runs.fail(RuntimeError("broken"))
        self.failureResultOf(result, RuntimeError)
        self.assertEqual(self.throttle.pending, 0)
        self.failChecks("192.0.2.1", 4)
        self.assertEqual(self.refusal("192.0.2.1").code, 429)


class ShutdownTriggers:
    """The real reactor, except that it keeps the system event triggers added to it."""

    def __init__(self) -> None:
        self.added: list[tuple[str, str, Callable[[], None]]] = []

    def addSystemEventTrigger(self, phase: str, event: str, function: Callable[[], None]) -> Any:
        self.added.append((phase, event, function))
        return self.added[-1]

    def removeSystemEventTrigger(self, trigger: Any) -> None:
        self.added.remove(trigger)

    def callFromThread(self, function: Callable[..., None], *args: Any) -> None:
        cast(Any, reactor).callFromThread(function, *args)


class CheckPoolTests(unittest.TestCase):
    """CheckPool: checks run in a few threads of their own."""

    def setUp(self) -> None:
        self.pool = CheckPool(threads=2)
        self.addCleanup(self.pool.stop)

    @defer.inlineCallbacks
    def test_atMostThreadsAtOnce(self):
        """Checks run away from the reactor thread, two at a time at most."""
        lock = threading.Lock()
        running: list[int] = []
        most: list[int] = [0]

        def check() -> bool:
            with lock:
                running.append(1)
                most[0] = max(most[0], len(running))
            time.sleep(0.02)
            with lock:
                running.pop()
            return threading.current_thread() is not threading.main_thread()

        results = yield defer.gatherResults([self.pool(check) for _ in range(6)])
        self.assertEqual((results, most[0]), ([True] * 6, 2))

    @defer.inlineCallbacks
    def test_stoppedThenUsedAgain(self):
        """A check after stop() starts the threads again."""
        self.assertTrue((yield self.pool(lambda: True)))
        self.pool.stop()
        self.assertFalse((yield self.pool(lambda: False)))

    @defer.inlineCallbacks
    def test_stoppedAtShutdown(self):
        """The pool asks to be stopped during reactor shutdown, once; stop() withdraws that."""
        triggers = ShutdownTriggers()
        pool = CheckPool(triggers, threads=1)
        self.addCleanup(pool.stop)
        for _ in range(2):
            self.assertTrue((yield pool(lambda: True)))
        self.assertEqual(len(triggers.added), 1)
        phase, event, shutdown = triggers.added.pop()
        self.assertEqual((phase, event), ("during", "shutdown"))
        shutdown()
        self.assertTrue((yield pool(lambda: True)))  # started again, with a new trigger
        self.assertEqual(len(triggers.added), 1)
        pool.stop()
        self.assertEqual(triggers.added, [])

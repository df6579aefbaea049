# -*- test-case-name: tests.test_slices -*-
"""run_sliced: what fits in a slice now, the rest a slice per reactor turn."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from twisted.internet.defer import CancelledError
from twisted.internet.task import Clock
from twisted.trial import unittest

from slices import SLICE, clock_cooperator, run_sliced


class RunSlicedTests(unittest.TestCase):
    """run_sliced on a Clock, whose time each step moves on by what it 'costs'."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.turns: list[float] = []
        callLater = self.clock.callLater

        def counted(delay: float, function: Callable[..., object]) -> object:
            self.turns.append(self.clock.seconds())
            return callLater(delay, function)

        self.clock.callLater = counted  # type: ignore[assignment, method-assign]
        self.cooperator = clock_cooperator(self.clock)
        self.addCleanup(self.cooperator.stop)
        self.done: list[int] = []

    def steps(self, count: int, cost: float) -> Iterator[None]:
        """C{count} steps, each taking C{cost} seconds of the clock (running nothing due)."""
        for number in range(count):
            self.clock.rightNow += cost
            self.done.append(number)
            yield None

    def test_smallJobAtOnce(self) -> None:
        """Steps that fit in one slice all run at once, with nothing left on the clock."""
        self.assertIsNone(run_sliced(self.steps(5, SLICE / 10), self.cooperator, self.clock))
        self.assertEqual(self.done, list(range(5)))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_bigJobInSlices(self) -> None:
        """A job longer than a slice does a slice now and the rest in later turns, in order."""
        job = run_sliced(self.steps(50, SLICE / 4), self.cooperator, self.clock)
        self.assertIsNotNone(job)
        assert job is not None
        self.assertEqual(self.done, list(range(4)))
        finished: list[object] = []
        job.addCallback(finished.append)
        self.clock.advance(0)  # runs every turn that comes due, one after another
        self.assertEqual(self.done, list(range(50)))
        self.assertEqual(len(finished), 1)
        self.assertGreater(len(self.turns), 10)  # about four steps a turn, not all at once

    def test_cancelStops(self) -> None:
        """Cancelling the job's Deferred stops its remaining steps."""
        job = run_sliced(self.steps(50, SLICE / 4), self.cooperator, self.clock)
        assert job is not None
        failures: list[object] = []
        job.addErrback(lambda failure: failures.append(failure.trap(CancelledError)))
        job.cancel()
        for _ in range(20):
            self.clock.advance(0)
        self.assertEqual(self.done, list(range(4)))
        self.assertEqual(failures, [CancelledError])

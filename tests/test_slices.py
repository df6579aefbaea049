# -*- test-case-name: tests.test_slices -*-
"""run_sliced: what fits in a slice now, the rest a slice per reactor turn."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from twisted.internet.defer import CancelledError
from twisted.internet.task import Clock
from twisted.trial import unittest
from weblog.slices import SLICE, OneAtATime, clock_cooperator, run_sliced


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


class OneAtATimeTests(unittest.TestCase):
    """OneAtATime: one job of a kind under way; its failures are logged, not lost."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.cooperator = clock_cooperator(self.clock)
        self.addCleanup(self.cooperator.stop)
        self.jobs = OneAtATime(lambda steps: run_sliced(steps, self.cooperator, self.clock))

    def slow(self, count: int, fail: bool = False) -> Iterator[None]:
        """C{count} steps of a whole slice each, then maybe a failure."""
        for _ in range(count):
            self.clock.rightNow += SLICE
            yield None
        if fail:
            raise RuntimeError("broken step")

    def test_secondStartWhileRunning(self) -> None:
        """While a job runs, starting another does nothing; once it is over, one starts."""
        started: list[int] = []

        def steps(mark: int) -> Iterator[None]:
            started.append(mark)
            return self.slow(3)

        self.jobs.start(lambda: steps(1))
        self.jobs.start(lambda: steps(2))
        self.assertEqual(started, [1])
        self.clock.advance(0)
        self.assertIsNone(self.jobs.job)
        self.jobs.start(lambda: steps(3))
        self.assertEqual(started, [1, 3])

    def test_failureLogged(self) -> None:
        """A job whose step raises is logged, and the next job can start."""
        self.jobs.start(lambda: self.slow(3, fail=True))
        self.clock.advance(0)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertIsNone(self.jobs.job)

    def test_cancelSaysNothing(self) -> None:
        """A cancelled job is not logged as a failure."""
        self.jobs.start(lambda: self.slow(3))
        self.jobs.cancel()
        self.clock.advance(0)
        self.assertEqual(self.flushLoggedErrors(), [])
        self.assertIsNone(self.jobs.job)

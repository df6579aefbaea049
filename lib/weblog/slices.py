# -*- test-case-name: tests.test_slices -*-
"""
Work too big for one reactor turn, done in slices: what fits in a moment now, the rest later.

Reading a backlog, making hits of a thousand long lines for a page, or
replaying them to an event stream can each take seconds when an attacker
chose the lines.  The reactor must never wait that long, so such work is
written as an iterator of small steps and given to L{run_sliced}: the steps
that fit in C{SLICE} seconds run at once (small jobs, the usual case, finish
without a reactor turn), and the rest is handed to a twisted.internet.task
L{Cooperator}, which runs it a slice per reactor turn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import Cooperator, SchedulerStopped
from twisted.logger import Logger
from twisted.python.failure import Failure

__all__ = ["SLICE", "OneAtATime", "clock_cooperator", "run_sliced"]

_log = Logger()

SLICE = 0.01
"""Seconds of work in one slice; a step itself stays far below the 50 ms the reactor allows."""


def _slice_over(clock: IReactorTime, slice_seconds: float) -> Callable[[], bool]:
    """A predicate that turns true once C{slice_seconds} passed on C{clock}."""
    deadline = clock.seconds() + slice_seconds
    return lambda: clock.seconds() >= deadline


def clock_cooperator(clock: IReactorTime, slice_seconds: float | None = None) -> Cooperator:
    """
    A Cooperator that runs slices of C{slice_seconds} (default L{SLICE}) on C{clock}'s turns.

    Its time is C{clock}'s, so on a task.Clock in tests, whose time moves only when
    told, nothing is ever cut short: the work is all done at the first turn.
    """
    return Cooperator(
        terminationPredicateFactory=lambda: _slice_over(
            clock, SLICE if slice_seconds is None else slice_seconds),
        scheduler=lambda work: clock.callLater(0, work))


def run_sliced(
    steps: Iterator[Any],
    cooperator: Cooperator,
    clock: IReactorTime,
    slice_seconds: float | None = None,
) -> Deferred[Any] | None:
    """
    Run C{steps} for up to C{slice_seconds} now, and what is left in later reactor turns.

    @param steps: the work; each C{next()} does one small step.
    @param cooperator: runs what is left, a slice per turn.
    @param clock: tells how long the part done now took (on a task.Clock, no time:
        tests see small and large jobs alike finish at once).
    @param slice_seconds: how long the part done now may take; default L{SLICE}, read at
        each call (tests set it to 0 to see every job in slices of one step).
    @return: None if every step ran now; else a Deferred that fires once all have
        run (cancel it to stop the rest).
    """
    over = _slice_over(clock, SLICE if slice_seconds is None else slice_seconds)
    for _ in steps:
        if over():
            break
    else:
        return None
    task = cooperator.cooperate(steps)
    cancelled = []

    def cancel(_: Deferred[Any]) -> None:
        cancelled.append(True)
        task.stop()  # its whenDone() fails with TaskStopped; done fails with CancelledError

    done: Deferred[Any] = Deferred(cancel)
    task.whenDone().addCallbacks(
        done.callback, lambda failure: None if cancelled else done.errback(failure))
    return done


class OneAtATime:
    """
    A kind of sliced work of which at most one job is under way: its steps find new work
    themselves, so while one runs, asking for another does nothing.
    """

    def __init__(self, run: Callable[[Iterator[Any]], Deferred[Any] | None]) -> None:
        """
        @param run: runs steps in slices, as L{run_sliced} does (say, C{Records.sliced}).
        """
        self.run = run
        self.job: Deferred[Any] | None = None

    def start(self, steps: Callable[[], Iterator[Any]]) -> None:
        """Run C{steps()} in slices, unless a job of this kind is still under way."""
        if self.job is None:
            job = self.run(steps())
            if job is not None:
                self.job = job
                job.addBoth(self._done)

    def _done(self, result: object) -> None:
        """The job is over, or was cancelled (said nothing of), or failed (logged)."""
        self.job = None
        if isinstance(result, Failure) and not result.check(CancelledError, SchedulerStopped):
            _log.failure("sliced work failed", result)

    def cancel(self) -> None:
        """Stop the job under way, if any."""
        if self.job is not None:
            self.job.cancel()


def default_reactor() -> Any:
    """The global reactor, imported only when no other clock was given."""
    from twisted.internet import reactor

    return reactor

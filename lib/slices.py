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

import time
from collections.abc import Callable, Iterator
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import Cooperator

__all__ = ["SLICE", "clock_cooperator", "run_sliced"]

SLICE = 0.01
"""Seconds of work in one slice; a step itself stays far below the 50 ms the reactor allows."""


def clock_cooperator(clock: IReactorTime) -> Cooperator:
    """A Cooperator that runs its slices on C{clock}'s reactor turns (a task.Clock in tests)."""
    return Cooperator(scheduler=lambda work: clock.callLater(0, work))


def run_sliced(
    steps: Iterator[Any],
    cooperator: Cooperator,
    slice_seconds: float = SLICE,
    timer: Callable[[], float] = time.perf_counter,
) -> Deferred[Any] | None:
    """
    Run C{steps} for up to C{slice_seconds} now, and what is left in later reactor turns.

    @param steps: the work; each C{next()} does one small step.
    @param cooperator: runs what is left, a slice per turn.
    @param slice_seconds: how long the part done now may take.
    @param timer: measures the work done now (seconds of a monotonic clock).
    @return: None if every step ran now; else a Deferred that fires once all have
        run (cancel it to stop the rest).
    """
    deadline = timer() + slice_seconds
    for _ in steps:
        if timer() >= deadline:
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

# -*- test-case-name: tests.test_timebox -*-
"""Tests for L{weblog.timebox}: statements given up past their deadline, and only those."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import duckdb
from twisted.trial import unittest
from weblog import timebox
from weblog.timebox import TooSlow, deadline, within

ENDLESS = "SELECT sum(i) FROM range(40000000000) t(i)"
"""A statement that runs for half a minute or more unless interrupted (if an interruption were
lost, the test fails rather than hangs)."""


class WithinTests(unittest.TestCase):
    """L{within} runs a statement and interrupts it at its deadline, never another one."""

    def setUp(self) -> None:
        self.db = duckdb.connect(config={"threads": 2})
        self.addCleanup(self.db.close)

    def test_answered(self) -> None:
        """A statement done before its deadline gives its rows."""
        self.assertEqual(within(self.db, 60, "SELECT ? + 1", [41]), [(42,)])

    def test_givenUp(self) -> None:
        """A statement still running at its deadline is interrupted, as L{TooSlow}; the
        connection then runs the next statement."""
        with self.assertRaises(TooSlow) as raised:
            within(self.db, 0.1, ENDLESS, [])
        self.assertEqual(str(raised.exception), "the statement ran for more than 0.1 s")
        self.assertEqual(self.db.execute("SELECT 1").fetchall(), [(1,)])

    def test_otherInterrupt(self) -> None:
        """A statement interrupted by something else (the answer's own time limit) is not
        L{TooSlow}: DuckDB's interruption goes on up."""
        done = threading.Event()

        def interrupting() -> None:  # again and again: one before the statement starts is lost
            while not done.wait(0.1):
                self.db.interrupt()

        interrupter = threading.Thread(target=interrupting)
        interrupter.start()
        try:
            with self.assertRaises(duckdb.InterruptException):
                within(self.db, 3600, ENDLESS, [])
        finally:
            done.set()
            interrupter.join()



class FakeTimer:
    """A timer that fires when the test says (L{fire}), not by itself."""

    made: list[FakeTimer] = []

    def __init__(self, seconds: float, function: Callable[[], None]) -> None:
        self.seconds, self.function, self.cancelled, self.daemon = seconds, function, False, False
        FakeTimer.made.append(self)

    def start(self) -> None:
        """Nothing: it fires when the test says."""

    def cancel(self) -> None:
        """Note that it was cancelled (a real timer's function may be running by then)."""
        self.cancelled = True

    def fire(self) -> None:
        """Run its function, as a timer's thread would, cancelled or not."""
        self.function()


class Connection:
    """A connection whose statement fires the deadline's timer as it runs, if told to, and
    which notes its interruptions."""

    def __init__(self, fire_during: bool) -> None:
        self.fire_during = fire_during
        self.interrupts = 0

    def execute(self, sql: str, parameters: list[Any]) -> Connection:
        """Run a statement: interrupted if the deadline came during it."""
        if self.fire_during:
            FakeTimer.made[-1].fire()
        if self.interrupts:
            raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        """The statement's rows."""
        return [(1,)]

    def interrupt(self) -> None:
        """Note the interruption."""
        self.interrupts += 1


class RaceTests(unittest.TestCase):
    """L{within}'s deadline against its statement's end, with a timer fired by the test."""

    def setUp(self) -> None:
        FakeTimer.made.clear()
        self.patch(timebox, "Timer", FakeTimer)

    def test_during(self) -> None:
        """The deadline during the statement interrupts it: L{TooSlow}."""
        connection = Connection(fire_during=True)
        with self.assertRaises(TooSlow):
            within(connection, 1.0, "SELECT 1", [])  # type: ignore[arg-type]
        self.assertEqual((connection.interrupts, FakeTimer.made[-1].seconds), (1, 1.0))

    def test_after(self) -> None:
        """A timer that fires once its statement has ended (as a timer cancelled too late
        would) interrupts nothing: the next statement is not its own.  (The lock that makes
        the check and the interruption one step, against the statement's end, is not driven
        here: it would take a hook inside L{within}.)"""
        connection = Connection(fire_during=False)
        self.assertEqual(within(connection, 1.0, "SELECT 1", []),  # type: ignore[arg-type]
                         [(1,)])
        self.assertTrue(FakeTimer.made[-1].cancelled)
        FakeTimer.made[-1].fire()
        self.assertEqual(connection.interrupts, 0)


class DeadlineTests(unittest.TestCase):
    """L{deadline}: a multiple of the chart's time, never under L{timebox.LEAST_SECONDS}."""

    def test_deadline(self) -> None:
        """A quick chart gives the least deadline; a slow one, L{timebox.TIMES} its time."""
        self.assertEqual(deadline(0.001), timebox.LEAST_SECONDS)
        self.assertEqual(deadline(2.0), 2.0 * timebox.TIMES)
        self.assertGreater(timebox.TIMES, 1)

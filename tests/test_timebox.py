# -*- test-case-name: tests.test_timebox -*-
"""Tests for L{weblog.timebox}: statements given up past their deadline, and only those."""

from __future__ import annotations

import threading

import duckdb
from twisted.trial import unittest
from weblog import timebox
from weblog.timebox import TooSlow, deadline, within

ENDLESS = "SELECT sum(i) FROM range(10000000000000) t(i)"
"""A statement that runs for hours unless interrupted."""
LONG = "SELECT sum(i) FROM range(300000000) t(i)"
"""A statement of a few hundred milliseconds, that ends by itself."""


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
        timer = threading.Timer(0.1, self.db.interrupt)
        timer.start()
        self.addCleanup(timer.cancel)
        with self.assertRaises(duckdb.InterruptException):
            within(self.db, 3600, ENDLESS, [])

    def test_onlyItsOwn(self) -> None:
        """The deadline of a statement that has ended interrupts nothing after it: not the
        next statements, given up to their own deadline or to none."""
        for _ in range(20):
            within(self.db, 0.01, "SELECT 1", [])
        self.assertEqual(len(within(self.db, 3600, LONG, [])), 1)
        self.assertEqual(len(self.db.execute(LONG).fetchall()), 1)


class DeadlineTests(unittest.TestCase):
    """L{deadline}: a multiple of the chart's time, never under L{timebox.LEAST_SECONDS}."""

    def test_deadline(self) -> None:
        """A quick chart gives the least deadline; a slow one, L{timebox.TIMES} its time."""
        self.assertEqual(deadline(0.001), timebox.LEAST_SECONDS)
        self.assertEqual(deadline(2.0), 2.0 * timebox.TIMES)
        self.assertGreater(timebox.TIMES, 1)

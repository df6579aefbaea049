# -*- test-case-name: tests.test_keeping -*-
"""Tests for L{weblog.keeping}: the store kept within its retention and its size cap."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from twisted.trial import unittest
from weblog.agents import agent_of
from weblog.keeping import Held, Keeping
from weblog.store import Store, table_of

START = datetime(2024, 1, 1, tzinfo=UTC)
BATCH = 10_000
"""Hits in a batch: they take 1.6 MB of write-ahead log (measured)."""
AGENTS = [f"Mozilla/5.0 (X11; Linux x86_64) Chrome/{major}.0" for major in range(90, 130)]


def numbered(first: int, count: int) -> list[list[object]]:
    """The store's columns of C{count} hits numbered from C{first}: hit I at START + I seconds,
    its number in C{bytes} and in its resource."""
    numbers = range(first, first + count)
    agents = [agent_of(AGENTS[number % len(AGENTS)]) for number in numbers]
    return [[f"192.0.{number * 7 % 253}.{number * 13 % 251}" for number in numbers],
            ["-"] * count, ["-"] * count,
            [START + timedelta(seconds=number) for number in numbers],
            ["GET"] * count,
            [f"/n/{number}?{number * 2654435761 % 4294967296:x}" for number in numbers],
            ["HTTP/1.1"] * count,
            [200] * count, list(numbers), [None] * count,
            [AGENTS[number % len(AGENTS)] for number in numbers],
            [None] * count, [None] * count, [None] * count, [None] * count, [False] * count,
            [False] * count, *(list(values) for values in zip(*agents, strict=True)),
            ["private"] * count]


class CapTests(unittest.TestCase):
    """With a cap, the oldest hits go first and the store's files stay under it."""

    CAP = 16_000_000

    def setUp(self) -> None:
        self.path = os.path.join(os.path.abspath(self.mktemp()), "history.duckdb")
        os.makedirs(os.path.dirname(self.path))
        self.keeping = Keeping(retain_days=36500, max_bytes=self.CAP, batch_wal=2_000_000)
        self.store = Store(self.path, wal_bytes=self.keeping.wal_bytes)
        self.addCleanup(self.store.close)
        self.appended = 0

    def disk(self) -> int:
        """The bytes of the store's files on disk: the file and its write-ahead log."""
        return sum(os.path.getsize(name) for name in (self.path, self.path + ".wal")
                   if os.path.exists(name))

    def append(self, batches: int) -> int:
        """Append C{batches} batches, the store kept after each, as the historian does; return
        how many times hits were deleted.  After each: under the cap, and the newest kept."""
        deletions = 0
        for _ in range(batches):
            self.assertTrue(self.store.append("f", "access.log", self.appended,
                                              self.appended + BATCH, BATCH,
                                              table_of(numbered(self.appended, BATCH))))
            self.appended += BATCH
            held = Held(*self.store.summary())
            if self.keeping.keep(self.store, held, True):
                deletions += 1
            self.assertLessEqual(self.disk(), self.CAP)
            self.assertNewestKept()
        return deletions

    def assertNewestKept(self) -> None:
        """The hits in the store are the newest appended, every one of them, and only them."""
        count, first, last = self.store.query(
            "SELECT count(*), min(bytes), max(bytes) FROM hits")[0]
        self.assertEqual((last, count), (self.appended - 1, last - first + 1))

    def test_oldestFirstAndBounded(self) -> None:
        """A store over its cap loses its oldest hits first, stays under the cap as more is
        appended (deleting again and again), and no newer hit is ever lost."""
        deletions = self.append(60)
        self.assertGreaterEqual(deletions, 2)
        count, first = self.store.query("SELECT count(*), min(bytes) FROM hits")[0]
        self.assertGreater(first, 0)
        self.assertGreater(count, 60_000)
        self.assertEqual(self.store.position("f"), (self.appended, self.appended, self.appended))

    def test_prunedNotStoredAgain(self) -> None:
        """The file's position stays where it was: its deleted hits are not taken for new ones."""
        self.assertEqual(self.append(30), 1)
        self.assertFalse(self.store.append("f", "access.log", 0, BATCH, BATCH,
                                           table_of(numbered(0, BATCH))))
        self.assertNewestKept()

    def test_noCap(self) -> None:
        """Without a cap (0), nothing is deleted for size, and the log takes DuckDB's default."""
        keeping = Keeping(retain_days=36500, max_bytes=0)
        self.store.append("f", "access.log", 0, BATCH, BATCH, table_of(numbered(0, BATCH)))
        self.assertFalse(keeping.keep(self.store, Held(*self.store.summary()), True))
        self.assertEqual(keeping.wal_bytes, 16 << 20)
        self.assertEqual(self.store.summary()[0], BATCH)


class RetentionTests(unittest.TestCase):
    """Hits older than the retention, back from the newest, are deleted now and then."""

    def test_retainedDays(self) -> None:
        """The first keep deletes the hits past the retention; the next only once its time
        has come."""
        path = os.path.join(os.path.abspath(self.mktemp()), "history.duckdb")
        os.makedirs(os.path.dirname(path))
        store = Store(path)
        self.addCleanup(store.close)
        now = [0.0]
        keeping = Keeping(retain_days=1, prune_every=300, clock=lambda: now[0])
        day = 86_400
        store.append("f", "access.log", 0, 3, 3,
                     table_of([column[::day] for column in numbered(0, 3 * day)]))
        self.assertTrue(keeping.keep(store, Held(*store.summary()), True))
        self.assertEqual(store.query("SELECT bytes FROM hits ORDER BY bytes"), [(day,), (2 * day,)])
        store.append("f", "access.log", 3, 4, 1, table_of(numbered(4 * day, 1)))
        now[0] = 299.0
        self.assertFalse(keeping.keep(store, Held(*store.summary()), True))
        now[0] = 300.0
        self.assertTrue(keeping.keep(store, Held(*store.summary()), True))
        self.assertEqual(store.query("SELECT bytes FROM hits ORDER BY bytes"), [(4 * day,)])

    def test_futureHitDoesNotTakeTheRest(self) -> None:
        """A hit dated far in the future does not put every other hit past the retention: it
        ends a day past the time of day at the latest."""
        path = os.path.join(os.path.abspath(self.mktemp()), "history.duckdb")
        os.makedirs(os.path.dirname(path))
        store = Store(path)
        self.addCleanup(store.close)
        day = 86_400
        columns = [column[::day] for column in numbered(0, 3 * day)]
        columns[3].append(datetime(9999, 12, 31, tzinfo=UTC))
        for index, column in enumerate(columns):
            if index != 3:
                column.append(column[-1])
        store.append("f", "access.log", 0, 4, 4, table_of(columns))
        keeping = Keeping(retain_days=1, today=lambda: START + timedelta(days=1))
        self.assertTrue(keeping.keep(store, Held(*store.summary()), True))
        self.assertEqual(store.query("SELECT count(*) FROM hits"), [(3,)])

    def test_newestInTheFirstYear(self) -> None:
        """A store whose newest hit is in the year 1 keeps it: the retention reaches back to the
        first moment a hit can have, not past it."""
        path = os.path.join(os.path.abspath(self.mktemp()), "history.duckdb")
        os.makedirs(os.path.dirname(path))
        store = Store(path)
        self.addCleanup(store.close)
        columns = numbered(0, 1)
        columns[3] = [datetime(1, 1, 2, tzinfo=UTC)]
        store.append("f", "access.log", 0, 1, 1, table_of(columns))
        keeping = Keeping(retain_days=400)
        self.assertFalse(keeping.keep(store, Held(*store.summary()), True))
        self.assertEqual(store.query("SELECT count(*) FROM hits"), [(1,)])


class MemoryTests(unittest.TestCase):
    """L{Keeping.fit_memory}: DuckDB held to the backfill's memory while much is left to store,
    and given the setting once all of it is."""

    def test_fit(self) -> None:
        """Lowered when more than a batch is left, raised once a step found nothing more to
        store; in between (a line or a batch left, or stored since the last measure), as it
        was."""
        path = os.path.join(self.mktemp(), "history.duckdb")
        os.mkdir(os.path.dirname(path))
        keeping = Keeping(memory=200)
        store = Store(path, f"{keeping.opened_memory()}MiB")
        self.addCleanup(store.close)
        batch = keeping.batch_bytes
        limits = []
        for backlog, caught_up in ((5 * batch, False), (batch, False), (0, False), (0, True),
                                   (10, True), (batch, False), (2 * batch, True), (1, False),
                                   (0, True)):
            keeping.fit_memory(store, backlog, caught_up)
            limits.append((keeping.memory_now, store.query(
                "SELECT current_setting('memory_limit')")[0][0]))
        self.assertEqual(limits, [
            (96, "96.0 MiB"), (96, "96.0 MiB"), (96, "96.0 MiB"), (200, "200.0 MiB"),
            (200, "200.0 MiB"), (200, "200.0 MiB"), (96, "96.0 MiB"), (96, "96.0 MiB"),
            (200, "200.0 MiB")])

    def test_settingLower(self) -> None:
        """A setting below the backfill's memory is never passed."""
        keeping = Keeping(memory=64)
        self.assertEqual(keeping.opened_memory(), 64)

# -*- test-case-name: tests.test_store -*-
"""Tests for L{weblog.store}: hits stored with their file's position, once, and the states."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
from twisted.trial import unittest
from weblog.hit import Hit
from weblog.panelqueries import UNPACKED
from weblog import store as store_module
from weblog.store import COLUMNS, KIND, Store, StoreError, set_aside, table_of
from weblog.timestamps import FIRST

WHEN = datetime(2015, 5, 17, 10, 5, 3, tzinfo=UTC)


def columns(*hits: Hit) -> list[list[object]]:
    """The store's columns of C{hits} (not crawlers' nor weblog's own; no referring site)."""
    return [list(values) for values in zip(
        *((*hit, None, False, False, None, None, None, None) for hit in hits), strict=True)]


def batch(*hits: Hit) -> pa.Table:
    """A batch of C{hits} to append, as L{columns} gives them."""
    return table_of(columns(*hits))


def hit(resource: str = "/a", status: int | None = 200, referrer: str | None = None) -> Hit:
    """A hit with the given fields."""
    return Hit("203.0.113.7", "-", "-", WHEN, "GET", resource, "HTTP/1.1", status, 512,
               referrer, "Mozilla/5.0", None, None)


class StoreTests(unittest.TestCase):
    """L{Store}: append, position and status over a real DuckDB file."""

    def setUp(self) -> None:
        self.path = os.path.join(self.mktemp(), "history.duckdb")
        os.mkdir(os.path.dirname(self.path))
        self.store = Store(self.path)
        self.addCleanup(self.store.close)

    def test_columnsAreHitFields(self) -> None:
        """The stored columns are a hit's fields, in order, then what the pages find of it."""
        self.assertEqual(tuple(name for name, _, _ in COLUMNS),
                         (*Hit._fields, "site", "bot", "own", "browser", "system", "device",
                          "country"))

    def test_derived(self) -> None:
        """Each hit's C{visitor} is its client's and user-agent's (L{test_hourAndVisitor}), and
        its C{kind} holds L{KIND}'s values, NULLs and a source with a separator in it read back
        as they were."""
        first = hit()._replace(source="logs/a\x1fb.log")
        other = hit()._replace(client="198.51.100.1")
        values = [*columns(first, other)]
        values[len(Hit._fields) + 3] = ["Firefox", None]  # browser
        values[len(Hit._fields) + 6] = [None, "FR"]  # country
        self.store.append("f1", "access.log", 0, 100, 2, table_of(values))
        rows = self.store.query(f"SELECT visitor, {UNPACKED} FROM (SELECT visitor,"
                                " string_split(kind, chr(31)) AS p FROM hits ORDER BY rowid)")
        self.assertEqual([row[1:] for row in rows],
                         [(False, "Firefox", None, None, None, None, "logs/a\x1fb.log"),
                          (False, None, None, None, "FR", None, None)])
        self.assertNotEqual(rows[0][0], rows[1][0])
        self.assertEqual(KIND, ("bot", "browser", "system", "device", "country", "vhost",
                                "source"))

    def test_hourAndVisitor(self) -> None:
        """A hit's C{hour} counts the hours from the first moment a hit can have; its
        C{visitor} is one client with one user-agent on one UTC day (GoAccess's)."""
        moments = [datetime(2015, 5, 17, 23, 59, 59, tzinfo=UTC),
                   datetime(2015, 5, 17, 0, 0, tzinfo=UTC),
                   datetime(2015, 5, 18, 0, 0, tzinfo=UTC), datetime(1969, 12, 31, 23, tzinfo=UTC)]
        hits = [hit()._replace(time=moment) for moment in moments]
        hits.append(hit()._replace(time=moments[0], agent="curl/8.0"))
        self.store.append("f1", "access.log", 0, 100, len(hits), table_of([*columns(*hits)]))
        rows = self.store.query("SELECT hour, visitor FROM hits ORDER BY rowid")
        self.assertEqual([hour for hour, _ in rows],
                         [(hit.time - FIRST) // timedelta(hours=1) for hit in hits])
        visitors = [visitor for _, visitor in rows]
        self.assertEqual(visitors[0], visitors[1])  # the same day
        self.assertEqual(len(set(visitors)), 4)  # another day, before 1970, another agent

    def test_appendOnce(self) -> None:
        """A batch is stored with its file's position; the same batch again is refused."""
        hits = batch(hit("/a"), hit("/b", 404, "http://r.example/"))
        self.assertTrue(self.store.append("f1", "access.log", 0, 100, 3, hits))
        self.assertEqual(self.store.position("f1"), (100, 3, 2))
        self.assertFalse(self.store.append("f1", "access.log", 0, 100, 3, hits))
        self.assertEqual(self.store.position("f1"), (100, 3, 2))
        self.assertEqual(self.store.query("SELECT count(*) FROM hits"), [(2,)])
        rows = self.store.query("SELECT resource, status, referrer, time, file FROM hits"
                                " ORDER BY resource")
        self.assertEqual(rows, [("/a", 200, None, WHEN, "f1"),
                                ("/b", 404, "http://r.example/", WHEN, "f1")])

    def test_appendGoesOn(self) -> None:
        """The next batch starts where the last ended; one starting elsewhere is refused."""
        self.store.append("f1", "access.log", 0, 100, 1, batch(hit()))
        self.assertFalse(self.store.append("f1", "access.log", 50, 150, 1, batch(hit())))
        self.assertTrue(self.store.append("f1", "access.log.1", 100, 150, 2, batch(hit())))
        self.assertEqual(self.store.position("f1"), (150, 3, 2))
        self.assertEqual(self.store.query("SELECT path FROM files"), [("access.log.1",)])

    def test_inPieces(self) -> None:
        """A batch added a table at a time is stored with its position at the commit, and says
        what it stored; one that is not committed leaves nothing, position and all."""
        early = hit("/early")._replace(time=WHEN - timedelta(hours=1))
        begun = self.store.begin("f1", "access.log", 0)
        assert begun is not None
        with begun as appending:
            appending.add(batch(hit("/a")))
            appending.add(batch(early, hit("/b")))
            self.assertEqual(appending.stored, (3, WHEN - timedelta(hours=1), WHEN))
        self.assertEqual(self.store.position("f1"), None)
        self.assertEqual(self.store.query("SELECT count(*) FROM hits"), [(0,)])
        again = self.store.begin("f1", "access.log", 0)
        assert again is not None
        with again as appending:
            appending.add(batch(hit("/a")))
            appending.add(batch(early, hit("/b")))
            appending.commit(300, 4)
        self.assertEqual(self.store.position("f1"), (300, 4, 3))
        self.assertEqual(self.store.query("SELECT count(*) FROM hits"), [(3,)])
        self.assertIsNone(self.store.begin("f1", "access.log", 0))

    def test_malformedOnly(self) -> None:
        """A batch of malformed lines moves the position and stores no hit."""
        self.assertTrue(self.store.append("f1", "access.log", 0, 10, 2, None))
        self.assertEqual(self.store.position("f1"), (10, 2, 0))
        self.assertEqual(self.store.position("other"), None)

    def test_summaryAndSize(self) -> None:
        """The summary: hits stored and their span; the size is the file's on disk."""
        self.assertEqual(self.store.summary(), (0, None, None))
        self.store.append("f1", "access.log", 0, 10, 1, batch(hit()))
        self.assertEqual(self.store.summary(), (1, WHEN, WHEN))
        self.assertGreater(self.store.size_bytes(), 0)

    def test_keptAcrossOpens(self) -> None:
        """What was stored is there when the store is opened again."""
        self.store.append("f1", "access.log", 0, 10, 1, batch(hit()))
        self.store.close()
        again = Store(self.path)
        self.addCleanup(again.close)
        self.assertEqual(again.position("f1"), (10, 1, 1))

    def test_badValueStoresNothing(self) -> None:
        """A batch that cannot be stored leaves the store as it was, position and all."""
        self.store.append("f1", "access.log", 0, 10, 1, batch(hit()))
        bad = columns(hit())
        bad[0] = [None]  # a client is never missing
        self.assertRaises(StoreError, self.store.append, "f1", "access.log", 10, 20, 1,
                          table_of(bad))
        self.assertEqual(self.store.position("f1"), (10, 1, 1))
        self.assertEqual(self.store.query("SELECT count(*) FROM hits"), [(1,)])


class StatesTests(unittest.TestCase):
    """The states a store that cannot be used is in, each with a one-line reason."""

    def path(self) -> str:
        """A store's path in a new directory."""
        directory = self.mktemp()
        os.mkdir(directory)
        return os.path.join(directory, "history.duckdb")

    def assertState(self, path: str, state: str) -> StoreError:
        """Opening the store at C{path} fails in C{state}, in one line naming the path."""
        error = self.assertRaises(StoreError, Store, path)
        self.assertEqual(error.state, state, str(error))
        self.assertIn(path, str(error))
        self.assertNotIn("\n", str(error))
        return error

    def test_locked(self) -> None:
        """A store another process has open is locked."""
        path = self.path()
        holder = subprocess.Popen(
            [sys.executable, "-c", "import duckdb, sys; db = duckdb.connect(sys.argv[1]);"
             " print('open', flush=True); sys.stdin.read()", path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.addCleanup(holder.wait)
        self.addCleanup(holder.stdin.close)  # type: ignore[union-attr]
        self.assertEqual(holder.stdout.readline(), b"open\n")  # type: ignore[union-attr]
        self.assertNotIn("See also", str(self.assertState(path, "locked")))

    def test_corrupt(self) -> None:
        """A file that is not a DuckDB database is corrupt; set aside, a new store opens."""
        path = self.path()
        with open(path, "wb") as file:
            file.write(b"not a database\n" * 1000)
        self.assertState(path, "corrupt")
        aside = set_aside(path)
        self.assertTrue(os.path.exists(aside))
        self.assertFalse(os.path.exists(path))
        Store(path).close()

    def test_setAsideTwiceInOneSecond(self) -> None:
        """Two stores set aside in the same second keep both: the second is C{-1}, never
        written over the first (each with its write-ahead log)."""
        self.patch(store_module.time, "strftime", lambda form: "20261207T205716")  # one second
        path = self.path()
        names = []
        for content in (b"first", b"second"):
            with open(path, "wb") as file:
                file.write(content)
            with open(path + ".wal", "wb") as file:
                file.write(content + b" wal")
            names.append(set_aside(path))
        self.assertEqual(names[1], names[0] + "-1")
        for name, content in zip(names, (b"first", b"second"), strict=True):
            with open(name, "rb") as file:
                self.assertEqual(file.read(), content)
            with open(name + ".wal", "rb") as file:
                self.assertEqual(file.read(), content + b" wal")

    def test_unwritable(self) -> None:
        """A store in a directory that does not exist is unwritable."""
        self.assertState("/nonexistent/dir/history.duckdb", "unwritable")

    def test_otherVersion(self) -> None:
        """A store of another schema version is taken as corrupt (to be set aside)."""
        path = self.path()
        store = Store(path)
        store.query("UPDATE meta SET value = '99' WHERE key = 'version'")
        store.close()
        self.assertIn("schema version '99'", str(self.assertState(path, "corrupt")))


class PruneTests(unittest.TestCase):
    """L{Store.prune}: the oldest hits go, the files' positions stay."""

    def test_prune(self) -> None:
        """Hits older than the limit are deleted and counted; a file is not stored again."""
        directory = self.mktemp()
        os.mkdir(directory)
        store = Store(os.path.join(directory, "history.duckdb"))
        self.addCleanup(store.close)
        old = hit()._replace(time=WHEN - timedelta(days=30))
        store.append("f1", "access.log", 0, 10, 2, batch(old, hit()))
        self.assertEqual(store.prune(WHEN - timedelta(days=1)), 1)
        self.assertEqual(store.summary(), (1, WHEN, WHEN))
        self.assertEqual(store.position("f1"), (10, 2, 2))
        self.assertFalse(store.append("f1", "access.log", 0, 10, 2, batch(old, hit())))


class ReadingTests(unittest.TestCase):
    """L{Store.reading}: readers of their own, whose queries closing the store cancels."""

    def test_closeCancelsReaders(self) -> None:
        """A query running on a reader is cancelled by close, which waits for it to end."""
        directory = self.mktemp()
        os.mkdir(directory)
        store = Store(os.path.join(directory, "history.duckdb"))
        outcome: list[BaseException | None] = []
        started = threading.Event()

        def query() -> None:
            with store.reading() as reader:
                started.set()
                try:
                    reader.execute("SELECT count(*) FROM range(1000000000000) a").fetchall()
                    outcome.append(None)
                except duckdb.Error as error:
                    outcome.append(error)

        worker = threading.Thread(target=query)
        worker.start()
        self.addCleanup(worker.join, 30)
        started.wait(10)
        time.sleep(0.2)  # the query is under way
        store.close()
        worker.join(30)
        self.assertEqual(len(outcome), 1)
        self.assertIsInstance(outcome[0], duckdb.InterruptException)

# -*- test-case-name: tests.test_upgrade -*-
"""Tests for a store of an older schema version: version 2 upgraded in place, every hit kept
(L{weblog.upgrade}); an older one set aside, without alarm, and rebuilt."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
from twisted.trial import unittest
from weblog import upgrade
from weblog.historian import SMALLEST_BATCH, Historian
from weblog.queries import answer
from weblog.question import Question
from weblog.store import DERIVED, VERSION, Store, StoreError

from tests.stores import append_rows
from tests.support import awaited, numbered, writing
from tests.test_panelqueries import row, spec

NEW_COLUMNS = ("duration", "browser", "system", "device", "country", "visitor", "kind",
               "duration_bin", "hour")
"""The columns that schema versions 2 and 3 added to version 1's."""


def version_one(path: str, hits: int) -> None:
    """Make at C{path} a store as version 1 left it: its columns, C{hits} rows, version 1."""
    Store(path).close()
    with duckdb.connect(path) as db:
        for column in NEW_COLUMNS:
            db.execute(f'ALTER TABLE hits DROP COLUMN "{column}"')
        db.execute("INSERT INTO hits SELECT '10.0.0.1', '-', '-', TIMESTAMPTZ '2015-05-17', 'GET',"
                   " '/' || i, 'HTTP/1.1', 200, 1, NULL, NULL, NULL, NULL, NULL, false, false,"
                   " 'f' FROM range(?) AS t(i)", [hits])
        db.execute("UPDATE meta SET value = '1' WHERE key = 'version'")


class OlderVersionTests(unittest.TestCase):
    """A store of an older schema version is no trouble: set aside as such, and rebuilt."""

    def test_store(self) -> None:
        """Opening it fails as C{older}, saying which version, in one line."""
        path = os.path.join(os.path.abspath(self.mktemp()), "history.duckdb")
        os.makedirs(os.path.dirname(path))
        version_one(path, 3)
        error = self.assertRaises(StoreError, Store, path)
        self.assertEqual((error.state, error.version), ("older", 1))
        self.assertEqual(str(error), f"{path}: schema version 1 is older than this weblog's"
                                     f" {VERSION}")

    def test_historian(self) -> None:
        """The historian sets it aside as C{history.duckdb.v1-TIME}, untouched, and rebuilds
        the store from the logs; its status says so while it backfills, never C{corrupt}, then
        C{ok} with no reason."""
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        log, path = os.path.join(base, "access.log"), os.path.join(base, "history.duckdb")
        with open(log, "wb") as file:
            file.write(numbered(0, 30_000))
        version_one(path, 7)
        historian = Historian(path, [log], idle=0.05, retry=0.05)
        historian._batch_bytes = SMALLEST_BATCH  # several batches: statuses while it backfills
        writing(self, historian)
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen.append(historian.status())
            if seen[-1]["state"] == "ok" and not seen[-1]["reason"]:
                break
            time.sleep(0.005)
        self.assertEqual((seen[-1]["state"], seen[-1]["reason"], seen[-1]["stored"]),
                         ("ok", "", 30_000))
        self.assertNotIn("corrupt", [status["state"] for status in seen])
        asides = [name for name in os.listdir(base) if name.startswith("history.duckdb.v1-")]
        self.assertEqual(len(asides), 1, os.listdir(base))
        said = [status for status in seen if status["reason"]]
        self.assertTrue(said, "the upgrade was said")
        self.assertEqual(said[0]["reason"], f"{path}: schema version 1 is older than this"
                         f" weblog's {VERSION}: set aside as {asides[0]} and rebuilt from the logs")
        self.assertIn("backfilling", {status["state"] for status in said})
        self.assertLessEqual({status["state"] for status in said}, {"backfilling", "ok"})
        with duckdb.connect(os.path.join(base, asides[0]), read_only=True) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM hits").fetchall(), [(7,)])


def version_two(path: str, rows: list[tuple[Any, ...]]) -> None:
    """Make at C{path} a store as version 2 left it, holding C{rows}: no C{hour}, and each
    C{visitor} a hash of the client and the user-agent alone."""
    store = Store(path)
    append_rows(store, rows)
    store.close()
    with duckdb.connect(path) as db:
        db.execute('ALTER TABLE hits DROP COLUMN "hour"')
        db.execute("UPDATE hits SET visitor = (hash(client, agent) >> 32)::UINTEGER")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'version'")


def spread(count: int, seed: int = 3) -> list[tuple[Any, ...]]:
    """C{count} hits over six days (a chart by day), from 40 clients with 5 user-agents."""
    rng = random.Random(seed)
    return sorted((row(f"/p{rng.randrange(50)}", timedelta(seconds=rng.randrange(6 * 86400)),
                       client=f"198.51.100.{rng.randrange(40)}",
                       agent=f"Mozilla/5.0 ({rng.randrange(5)})",
                       status=rng.choice([200, 200, 404, 500]))
                   for _ in range(count)), key=lambda hit: hit[3])


def answers(path: str) -> list[dict[str, Any]]:
    """A store's answers to a few views: its whole range (by day), a day (by hour), part of
    the range, and an hour (by minute)."""
    store = Store(path)
    try:
        with store.reading() as db:
            return [answer(db, spec(question)) for question in (
                Question("all"), Question("24h"), Question("1h"),
                Question("all", start=datetime(2015, 5, 18, tzinfo=UTC)))]
    finally:
        store.close()


class UpgradeTests(unittest.TestCase):
    """A store of version 2 is brought to version 3 in place, every hit kept."""

    def setUp(self) -> None:
        self.patch(upgrade, "ROWS", 1000)  # several transactions
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        self.fresh, self.older = (os.path.join(base, name) for name in ("fresh.duckdb",
                                                                         "older.duckdb"))
        self.rows = spread(5000)
        store = Store(self.fresh)
        append_rows(store, self.rows)
        store.close()

    def checked(self, before: list[tuple[Any, ...]], like_fresh: bool = True) -> None:
        """The older store, opened, is of this version, holds the same hits as C{before}, each
        with the hour and the visitor a new one works out, and (C{like_fresh}: when it holds
        the fresh one's hits) answers as the fresh one."""
        Store(self.older).close()
        derived = {name: sql for name, _, sql in DERIVED}
        with duckdb.connect(self.older, read_only=True) as db:
            self.assertEqual(db.execute("SELECT value FROM meta").fetchall(), [(str(VERSION),)])
            self.assertEqual(_summed(db), before)
            self.assertEqual(db.execute(
                f"SELECT count(*) FILTER (hour IS DISTINCT FROM {derived['hour']}),"  # noqa: S608
                f" count(*) FILTER (visitor <> {derived['visitor']}) FROM hits").fetchall(),
                [(0, 0)])
            self.assertEqual(db.execute("SELECT is_nullable FROM duckdb_columns()"
                                        " WHERE column_name = 'hour'").fetchall(), [(False,)])
        if not like_fresh:
            return
        self.assertEqual(answers(self.older), answers(self.fresh))
        later = spread(300, seed=4)  # hits stored after it: by name, in its order of columns
        for path in (self.older, self.fresh):
            store = Store(path)
            append_rows(store, later, identity="g")
            store.close()
        self.assertEqual(answers(self.older), answers(self.fresh))

    def test_inPlace(self) -> None:
        """Its hits are worked out again, a thousand at a time here: the same hits, each with
        its hour and its visitor of the day, and the same answers as a store made anew."""
        version_two(self.older, self.rows)
        with duckdb.connect(self.older, read_only=True) as db:
            before = _summed(db)
        self.assertEqual(before[0][0], 5000)
        self.checked(before)

    def test_resumed(self) -> None:
        """An upgrade stopped part way (a crash, a SIGKILL) goes on at the next start with the
        hits it had not done."""
        version_two(self.older, self.rows)
        derived = {name: sql for name, _, sql in DERIVED}
        with duckdb.connect(self.older) as db:
            before = _summed(db)
            db.execute('ALTER TABLE hits ADD COLUMN "hour" INTEGER')
            db.execute(f"UPDATE hits SET hour = {derived['hour']}, visitor = "  # noqa: S608
                       f"{derived['visitor']} WHERE rowid < 2000")
        self.checked(before)

    def test_killed(self) -> None:
        """An upgrade SIGKILLed part way, in a process of its own, loses nothing: the next
        open goes on from where it was, and every hit is there once, as it was."""
        rows = spread(100_000, seed=5)
        version_two(self.older, rows)
        with duckdb.connect(self.older, read_only=True) as db:
            before = _summed(db)
        pristine = self.older + ".v2"
        shutil.copyfile(self.older, pristine)
        child = ("import sys; from weblog import upgrade; upgrade.ROWS = 2000;"
                 " from weblog.store import Store; print('opening', flush=True);"
                 " Store(sys.argv[1], '96MiB', 1).close()")
        done, wait = None, 0.05
        for _ in range(16):  # until a kill lands part way (a bounded number of tries)
            shutil.copyfile(pristine, self.older)
            if os.path.exists(self.older + ".wal"):
                os.unlink(self.older + ".wal")  # the last try's
            with subprocess.Popen([sys.executable, "-c", child, self.older],
                                  stdout=subprocess.PIPE) as process:
                assert process.stdout is not None
                process.stdout.readline()
                time.sleep(wait)
                process.send_signal(signal.SIGKILL)
                process.wait(30)
            with duckdb.connect(self.older, read_only=True) as db:
                names = [name for name, in db.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE table_name = 'hits'"
                    " AND column_name = 'hour'").fetchall()]
                done = db.execute("SELECT count(hour) FROM hits").fetchall()[0][0] if names else 0
            if 0 < done < 100_000:
                break
            wait = wait * 1.6 if done == 0 else wait / 2  # too soon, or too late
        self.assertTrue(0 < (done or 0) < 100_000, f"no kill landed part way: {done}")
        self.checked(before, like_fresh=False)

    def test_pruned(self) -> None:
        """A store whose oldest hits were deleted (the retention), its rows numbered with a
        gap, is upgraded whole."""
        version_two(self.older, self.rows)
        with duckdb.connect(self.older) as db:
            db.execute("DELETE FROM hits WHERE rowid < 1500 OR rowid BETWEEN 2100 AND 3300")
            before = _summed(db)
        with duckdb.connect(self.older, read_only=True) as db:  # the gap kept, closed
            self.assertEqual(db.execute("SELECT max(rowid) FROM hits").fetchall(), [(4999,)])
        self.checked(before, like_fresh=False)

    def test_historian(self) -> None:
        """The historian upgrades it and reads nothing again: no state but C{ok}, nothing set
        aside."""
        base = os.path.dirname(self.older)
        log = os.path.join(base, "access.log")
        with open(log, "wb") as file:
            file.write(numbered(0, 3000))
        historian = Historian(self.older, [log], idle=0.05)
        writing(self, historian)
        awaited(historian, lambda status: status["state"] == "ok" and status["stored"] == 3000)
        historian.stop()
        awaited(historian, lambda status: historian._store is None, 10)
        with duckdb.connect(self.older) as db:
            db.execute('ALTER TABLE hits DROP COLUMN "hour"')
            db.execute("UPDATE meta SET value = '2' WHERE key = 'version'")
        again = Historian(self.older, [log], idle=0.05)
        writing(self, again)
        status = awaited(again, lambda status: status["state"] == "ok")
        self.assertEqual((status["state"], status["reason"], status["stored"]), ("ok", "", 3000))
        self.assertEqual([name for name in os.listdir(base) if name.startswith("older.duckdb.")
                          and name != "older.duckdb.wal"], [])  # nothing set aside


def _summed(db: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """How many hits a store holds, and a checksum of every logged field of theirs."""
    return db.execute("SELECT count(*), sum(hash(client, ident, \"user\", time, method, resource,"
                      " protocol, status, bytes, referrer, agent, file)) FROM hits").fetchall()


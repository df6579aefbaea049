# -*- test-case-name: tests.test_upgrade -*-
"""Tests for a store of an older schema version: set aside, without alarm, and rebuilt."""

from __future__ import annotations

import os
import time
from typing import Any

import duckdb
from twisted.trial import unittest
from weblog.historian import SMALLEST_BATCH, Historian
from weblog.store import VERSION, Store, StoreError

from tests.support import numbered, writing

NEW_COLUMNS = ("duration", "browser", "system", "device", "country", "visitor", "kind",
               "duration_bin")
"""The columns that schema version 2 added to version 1's."""


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

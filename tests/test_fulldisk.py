# -*- test-case-name: tests.test_fulldisk -*-
"""Tests for the history on a real full disk: a small tmpfs, filled, then given space again."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from typing import Any

from twisted.trial import unittest
from weblog.historian import Historian
from weblog.store import Store

from tests.support import awaited, numbered, writing

FIRST = 2_000
"""Lines stored before the disk fills."""
MORE = 30_000
"""
Lines written after them: more than the disk has room for while it is full, and few enough
that their batch's commit writes the write-ahead log (6 MB of it, 2.4 times the room left).

DuckDB (2.0.1) commits a transaction through its write-ahead log only while the log's size
plus the transaction's estimated log bytes stay under the checkpoint threshold (16 MiB,
L{weblog.store.WAL_BYTES}; C{SingleFileStorageManager::AutomaticCheckpoint}); a bigger one
is written by a checkpoint instead, compressed, into the database file.  60,000 of these
lines took the log (11.7 MB) with schema version 1, but the 5 columns of version 2 put their
estimate over the threshold: their commit became a checkpoint of 1.8 MB, which fitted in
the 2.5 MB left, so the disk was never full; with less room left, the checkpoint failed
instead ("Failed to create checkpoint"), which is not the failure this test is about.
"""


def mounted(case: unittest.TestCase, size: str) -> str:
    """
    A tmpfs of C{size} mounted in a new directory of C{case}'s, unmounted when it cleans up.

    @raise unittest.SkipTest: when not root, or when mounting is refused (no CAP_SYS_ADMIN),
        except under CI (C{CI=true}), where this test is expected to run.
    """
    if os.geteuid() != 0:
        raise unittest.SkipTest("mounting a tmpfs needs root")
    directory = os.path.abspath(case.mktemp())
    os.makedirs(directory)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", directory],
                            capture_output=True, text=True, check=False)
    if result.returncode:
        reason = f"mount -t tmpfs was refused: {result.stderr.strip()}"
        if os.environ.get("CI") == "true":
            case.fail(f"{reason} (CI runs as root and is expected to mount it)")
        raise unittest.SkipTest(reason)
    case.addCleanup(subprocess.run, ["umount", directory], check=False)
    return directory


def filled(directory: str, leave: int) -> str:
    """Fill the disk of C{directory} with a file, but for C{leave} bytes; return its path."""
    info = os.statvfs(directory)
    filler = os.path.join(directory, "filler")
    with open(filler, "wb") as file:
        file.write(b"\0" * max(info.f_bavail * info.f_frsize - leave, 0))
    return filler


class FullDiskTests(unittest.TestCase):
    """The store on a real tmpfs that fills up: said, nothing lost, recovered once freed."""

    def fillThenFree(self, leave: int, max_bytes: int = 0) -> str:
        """
        Store C{FIRST} lines, fill the disk but for C{leave} bytes, write C{MORE} lines, and
        free the disk once the history is full; check what it said and what it stored.

        @param max_bytes: the historian's cap (which sets how big its write-ahead log grows).
        @return: the reason the history said it was full.
        """
        disk = mounted(self, "10m")
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        log, path = os.path.join(base, "access.log"), os.path.join(disk, "history.duckdb")
        with open(log, "wb") as file:
            file.write(numbered(0, FIRST))
        historian = Historian(path, [log], idle=0.05, retry=0.05, max_bytes=max_bytes)
        writer = writing(self, historian)
        counts: list[int] = []

        def until(test: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                status = historian.status()
                counts.append(status["stored"])
                if test(status):
                    return status
                time.sleep(0.02)
            self.fail(f"the historian never got there: {historian.status()}")

        until(lambda status: status["state"] == "ok" and status["stored"] == FIRST)
        filler = filled(disk, leave)
        with open(log + ".new", "wb") as file:  # the same file, all its lines at once
            file.write(numbered(0, FIRST + MORE))
        os.replace(log + ".new", log)
        status = until(lambda status: status["state"] == "full")
        self.assertIn(f"{path}: ", status["reason"])
        self.assertIn("No space left on device", status["reason"])
        self.assertNotIn("\n", status["reason"])
        time.sleep(0.5)  # tried again a few times, in smaller batches, which may still fit
        self.assertIn(historian.status()["state"], ("full", "backfilling"))  # never ok: no room
        os.remove(filler)
        until(lambda status: status["state"] == "ok" and status["stored"] == FIRST + MORE)
        self.assertEqual(counts, sorted(counts))
        historian.stop()
        writer.join(30)
        store = Store(path)
        self.addCleanup(store.close)
        self.assertEqual(store.query("SELECT count(*), count(DISTINCT resource) FROM hits"),
                         [(FIRST + MORE, FIRST + MORE)])
        self.assertEqual(store.query("SELECT path, position, lines, hits FROM files"),
                         [(log, os.path.getsize(log), FIRST + MORE, FIRST + MORE)])
        return str(status["reason"])

    def test_fullOnCommit(self) -> None:
        """A batch that the disk has no room for: full, said in one line, nothing stored lost;
        once space is freed the historian goes on by itself, each line stored exactly once."""
        self.assertIn("Failed to commit", self.fillThenFree(2_500_000))


class NearlyFullTests(unittest.TestCase):
    """On a small disk, the write-ahead log does not keep the store full for good."""

    def test_storesToTheEnd(self) -> None:
        """Lines whose hits fit on a small disk, though their write-ahead log does not, are all
        stored: the historian closes the store when a batch finds the disk full, DuckDB then
        moves the log into the file, and the historian goes on."""
        disk = mounted(self, "10m")
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        log, path = os.path.join(base, "access.log"), os.path.join(disk, "history.duckdb")
        with open(log, "wb") as file:
            file.write(numbered(0, 100_000))
        historian = Historian(path, [log], idle=0.05, retry=0.05)
        writing(self, historian)
        status = awaited(historian, lambda status: status["state"] == "ok")
        self.assertEqual((status["state"], status["stored"]), ("ok", 100_000))

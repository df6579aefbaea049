# -*- test-case-name: tests.test_storing -*-
"""Tests for L{weblog.storing}: logs and their rotated siblings stored exactly once."""

from __future__ import annotations

import gzip
import os
import shutil
import time
from collections import Counter
from typing import IO, Any
from unittest import mock

from twisted.internet.task import Clock
from twisted.trial import unittest
from weblog import spool as spool_module
from weblog.appending import Appending
from weblog.logfiles import identity, open_log
from weblog import storing as storing_module
from weblog.storing import SLICE_BYTES, Storing
from weblog.spool import Spool
from weblog.store import Store, StoreError

from tests.support import written


def line(number: int, day: int = 17) -> bytes:
    """A combined line naming C{number} in its resource, on day C{day} of May 2015."""
    return (written(f"GET /page/{number} HTTP/1.1", time=f"{day:02d}/May/2015:10:05:03 +0000")
            + "\n").encode()


class StoringTests(unittest.TestCase):
    """L{Storing.step} over real files and a real store."""

    def setUp(self) -> None:
        self.directory = self.mktemp()
        os.mkdir(self.directory)
        self.log = os.path.join(self.directory, "access.log")
        self.store = Store(os.path.join(self.directory, "history.duckdb"))
        self.addCleanup(self.store.close)
        self.written: list[bytes] = []

    def write(self, name: str, numbers: range, compress: bool = False) -> None:
        """Append the lines numbered C{numbers} to C{name} (written gzip-compressed or not)."""
        data = b"".join(line(number) for number in numbers)
        self.written += [line(number) for number in numbers]
        path = os.path.join(self.directory, name)
        with (gzip.open(path, "ab") if compress else open(path, "ab")) as file:
            file.write(data)

    def store_all(self, batch_bytes: int = 4 << 20) -> Storing:
        """Step a new writer until it has stored all there is."""
        storing = Storing(self.store, [self.log], batch_bytes=batch_bytes)
        for _ in range(100_000):
            if not storing.step():
                return storing
        raise AssertionError("the writer never finished")

    def stored(self) -> Counter[str]:
        """The stored hits' resources, counted."""
        return Counter(resource for resource, in self.store.query("SELECT resource FROM hits"))

    def assertExactlyOnce(self) -> None:
        """Every line written is stored once: the same resources, each as often."""
        expected = Counter(f"/page/{line.split(b'/page/')[1].split(b' ')[0].decode()}"
                           for line in self.written)
        self.assertEqual(self.stored(), expected)

    def test_backfillOldestFirst(self) -> None:
        """Compressed and plain siblings and the log itself are all stored, oldest first."""
        self.write("access.log.2.gz", range(0, 100), compress=True)
        self.write("access.log.1", range(100, 200))
        self.write("access.log", range(200, 250))
        self.store_all(batch_bytes=4096)
        self.assertExactlyOnce()
        [(first,)] = self.store.query("SELECT resource FROM hits LIMIT 1")
        self.assertEqual(first, "/page/0")

    def test_restartStoresNothingAgain(self) -> None:
        """A new writer over the same store finds everything stored."""
        self.write("access.log", range(100))
        self.store_all()
        storing = Storing(self.store, [self.log])
        self.assertFalse(storing.step())
        self.assertExactlyOnce()

    def test_rotatedWhileDown(self) -> None:
        """Rotated and compressed between two runs, the files are not stored again."""
        self.write("access.log", range(100))
        self.store_all()
        os.rename(self.log, self.log + ".1")
        self.write("access.log", range(100, 130))
        self.store_all()
        with open(self.log + ".1", "rb") as plain, gzip.open(self.log + ".2.gz", "wb") as packed:
            shutil.copyfileobj(plain, packed)
        os.unlink(self.log + ".1")
        os.rename(self.log, self.log + ".1")
        self.write("access.log", range(130, 140))
        self.store_all()
        self.assertExactlyOnce()
        self.assertEqual(self.store.query("SELECT count(*) FROM files"), [(3,)])

    def test_partlyStoredRotatedFileGoesOn(self) -> None:
        """A file rotated after part of it was stored is stored on from there, under its name."""
        self.write("access.log", range(100))
        storing = Storing(self.store, [self.log], batch_bytes=1000)
        self.assertTrue(storing.step())
        os.rename(self.log, self.log + ".1")
        self.write("access.log", range(100, 110))
        self.store_all()
        self.assertExactlyOnce()

    def test_unfinishedLineWaits(self) -> None:
        """A last line without its newline is stored once it is finished."""
        self.write("access.log", range(3))
        with open(self.log, "ab") as file:
            file.write(line(3)[:20])
        self.store_all()
        self.assertEqual(sum(self.stored().values()), 3)
        with open(self.log, "ab") as file:
            file.write(line(3)[20:])
        self.written.append(line(3))
        self.store_all()
        self.assertExactlyOnce()

    def test_malformedCountedNotStored(self) -> None:
        """Malformed and overlong lines move the position and count as lines, not hits."""
        self.write("access.log", range(2))
        with open(self.log, "ab") as file:
            file.write(b"garbage\n" + b"x" * (70 * 1024) + b"\n" + b"y" * 9000 + b"\n")
        self.write("access.log", range(2, 4))
        storing = self.store_all(batch_bytes=8192)
        self.assertExactlyOnce()
        [(lines, hits)] = self.store.query("SELECT lines, hits FROM files")
        self.assertEqual((lines, hits), (7, 4))
        self.assertEqual(storing.progress.lines, 7)

    def test_twoWritersStoreOnce(self) -> None:
        """Two writers over one store (a crashed one's batch read again): each batch once."""
        self.write("access.log", range(300))
        first = Storing(self.store, [self.log], batch_bytes=2000)
        second = Storing(self.store, [self.log], batch_bytes=2000)
        while first.step() | second.step():
            pass
        self.assertExactlyOnce()

    def test_progress(self) -> None:
        """Progress counts the logs' bytes, compressed ones by their content."""
        self.write("access.log.2.gz", range(0, 50), compress=True)
        self.write("access.log", range(50, 100))
        total = sum(len(line) for line in self.written)
        storing = Storing(self.store, [self.log], batch_bytes=2000)
        storing.measure()
        self.assertEqual((storing.progress.bytes_done, storing.progress.bytes_total), (0, total))
        storing.step()
        storing.measure()
        ends = [sum(len(line) for line in self.written[:count]) for count in range(51)]
        self.assertEqual(storing.progress.bytes_done, max(end for end in ends if end <= 2000))
        while storing.step():
            pass
        storing.measure()
        self.assertEqual(storing.progress.bytes_done, total)
        self.assertEqual(storing.progress.to_json()["bytes_total"], total)

    def test_severalLogsHaveSources(self) -> None:
        """With several logs, each hit's source is its log's path."""
        other = os.path.join(self.directory, "other.log")
        self.write("access.log", range(2))
        self.write("other.log", range(2, 5))
        storing = Storing(self.store, [self.log, other])
        while storing.step():
            pass
        self.assertEqual(sorted(self.store.query("SELECT source, count(*) FROM hits GROUP BY 1")),
                         [(self.log, 2), (other, 3)])

    def test_storedFileNotReadAgain(self) -> None:
        """A file found all stored is not opened again until it changes."""
        self.write("access.log.2.gz", range(0, 100), compress=True)
        self.write("access.log", range(100, 110))
        storing = self.store_all()
        opened: list[str] = []

        def counting(name: str) -> IO[bytes]:
            opened.append(os.path.basename(name))
            return open_log(name)

        with mock.patch("weblog.storing.open_log", counting):
            self.assertFalse(storing.step())
            self.assertEqual(opened, [])
            self.write("access.log", range(110, 111))
            self.assertTrue(storing.step())
        self.assertEqual(opened, ["access.log"])
        self.assertExactlyOnce()

    def test_batchOfManySlices(self) -> None:
        """A batch made of many slices, each added while the next is made: every line once,
        in the order of the log."""
        self.write("access.log", range(0, 300))
        with mock.patch.object(storing_module, "SLICE_BYTES", 2048):
            storing = self.store_all()
        self.assertExactlyOnce()
        self.assertEqual(storing.progress.lines, 300)
        rows = self.store.query("SELECT resource FROM hits ORDER BY rowid")
        self.assertEqual([resource for resource, in rows], [f"/page/{n}" for n in range(300)])

    def test_sliceFailingToBeAdded(self) -> None:
        """A slice that cannot be added: nothing of its batch is stored, its file's position
        stays, and the next writer stores every line once."""
        self.write("access.log", range(0, 300))
        added: list[int] = []
        add = Appending.add

        def failing(appending: Appending, batch: Any) -> None:
            added.append(len(batch))
            if len(added) == 3:
                raise StoreError("full", "no room")
            add(appending, batch)

        with mock.patch.object(storing_module, "SLICE_BYTES", 2048), \
                mock.patch.object(Appending, "add", failing):
            storing = Storing(self.store, [self.log])
            self.assertRaises(StoreError, storing.step)
            storing.close()
        self.assertEqual(self.store.position(identity(self.log) or ""), None)
        self.assertEqual(self.store.query("SELECT count(*) FROM hits"), [(0,)])
        self.store_all()
        self.assertExactlyOnce()

    def test_rotatedTailSettlesWhileRunning(self) -> None:
        """A rotated file's unfinished tail is stored as malformed once it has settled, by the
        same writer that found it unfinished (the file itself does not change meanwhile)."""
        self.write("access.log.1", range(0, 3))
        with open(self.log + ".1", "ab") as file:
            file.write(line(3)[:25])
        self.write("access.log", range(4, 6))
        with mock.patch.object(storing_module, "SETTLED", 0.5):
            storing = self.store_all()
            storing.measure()
            self.assertLess(storing.progress.bytes_done, storing.progress.bytes_total)
            time.sleep(0.6)
            self.assertTrue(storing.step())
        storing.measure()
        self.assertEqual(storing.progress.bytes_done, storing.progress.bytes_total)
        self.assertEqual(sorted(self.store.query("SELECT lines, hits FROM files")),
                         [(2, 2), (4, 3)])

    def test_longLineInCompressedFile(self) -> None:
        """A line longer than a slice in a compressed file is one malformed line, and the
        lines after it are stored, each once."""
        self.write("access.log.2.gz", range(0, 40), compress=True)
        with gzip.open(self.log + ".2.gz", "ab") as file:
            file.write(b"x" * (SLICE_BYTES * 2) + b"\n")
        self.write("access.log.2.gz", range(40, 80), compress=True)
        self.write("access.log", range(80, 90))
        storing = self.store_all(batch_bytes=4096)
        self.assertExactlyOnce()
        self.assertEqual(sorted(self.store.query("SELECT lines, hits FROM files")),
                         [(10, 10), (81, 80)])
        self.assertEqual(storing.progress.lines, 91)

    def test_rotatedTailWithoutNewline(self) -> None:
        """A rotated file that ends without a newline: once settled, its tail is malformed."""
        self.write("access.log.1", range(0, 3))
        with open(self.log + ".1", "ab") as file:
            file.write(line(3)[:25])
        self.write("access.log", range(4, 6))
        storing = self.store_all()
        storing.measure()
        self.assertLess(storing.progress.bytes_done, storing.progress.bytes_total)
        old = time.time() - 120
        os.utime(self.log + ".1", (old, old))
        storing = self.store_all()
        storing.measure()
        self.assertEqual(storing.progress.bytes_done, storing.progress.bytes_total)
        self.written = [line(number) for number in (0, 1, 2, 4, 5)]
        self.assertExactlyOnce()
        self.assertEqual(sorted(self.store.query("SELECT lines, hits FROM files")),
                         [(2, 2), (4, 3)])


class SpoolStoringTests(unittest.TestCase):
    """L{Storing} with a syslog spool (L{weblog.spool.Spool}): its files stored as they come,
    each with its sender as its source, its header left out, its C{.1} deleted once stored."""

    def setUp(self) -> None:
        self.directory = self.mktemp()
        os.mkdir(self.directory)
        self.spool_dir = os.path.join(self.directory, "syslog")
        self.spool = Spool(self.spool_dir, Clock(), historian_deletes=True)
        self.addCleanup(self.spool.close)
        self.store = Store(os.path.join(self.directory, "history.duckdb"))
        self.addCleanup(self.store.close)
        self.storing = Storing(self.store, [os.path.join(self.directory, "access.log")],
                               spool=self.spool_dir)
        self.addCleanup(self.storing.close)

    def send(self, host: str, numbers: range) -> None:
        """Spool the lines numbered C{numbers} as sent by C{host}, tagged C{nginx}."""
        for number in numbers:
            self.spool.add(host, "nginx", line(number).rstrip(b"\n"))
        self.spool.flush()

    def store_all(self) -> None:
        """Look for new spool files, and store all there is."""
        self.storing.measure()
        while self.storing.step():
            pass

    def sources(self) -> dict[str, int]:
        """The stored hits counted by source."""
        return dict(self.store.query("SELECT source, count(*) FROM hits GROUP BY source"))

    def test_sendersStoredWithSources(self) -> None:
        """Two senders of the same lines are two sources, each stored once, and the headers
        are neither hits nor lines."""
        self.send("web1", range(10))
        self.send("web2", range(10))
        self.store_all()
        self.assertEqual(self.sources(), {"syslog:web1/nginx": 10, "syslog:web2/nginx": 10})
        self.assertEqual(self.storing.progress.lines, 20)
        self.send("web3", range(5))  # a sender that comes later
        self.send("web1", range(10, 15))
        self.store_all()
        self.assertEqual(self.sources(), {"syslog:web1/nginx": 15, "syslog:web2/nginx": 10,
                                          "syslog:web3/nginx": 5})

    def test_storedBeforeRotationDeletedAfter(self) -> None:
        """A spool file stored to its end before it is rotated is its .1 after, all stored:
        deleted at the next look, so that the spool rotates again on time (none replaced)."""
        self.patch(spool_module, "FILE_BYTES", 2000)
        for number in range(150):
            self.send("web1", range(number, number + 1))
            self.store_all()
            self.assertFalse(os.path.exists(os.path.join(self.spool_dir, "web1~nginx.log.1")))
        self.assertFalse(self.spool.behind)
        self.assertEqual(self.sources(), {"syslog:web1/nginx": 150})

    def test_spoolAndLogsTakeTurns(self) -> None:
        """While a log is backfilled, batches of the spool's files come between its batches,
        so that a sender never waits for the whole backfill."""
        log = os.path.join(self.directory, "access.log")
        with open(log, "wb") as file:
            file.write(b"".join(line(number) for number in range(200)))
        self.storing.batch_bytes = 4096
        self.send("web1", range(1000, 1005))
        self.storing.measure()
        self.assertTrue(self.storing.step())
        self.assertTrue(self.storing.step())
        self.assertEqual(self.sources().get("syslog:web1/nginx"), 5)
        self.assertLess(self.sources().get(log, 0), 200)
        self.store_all()
        self.assertEqual(self.sources(), {log: 200, "syslog:web1/nginx": 5})

    def test_rotatedFileDeletedOnceStored(self) -> None:
        """A spool's C{.1} is deleted once stored all; what the spool writes next goes on."""
        self.patch(spool_module, "FILE_BYTES", 2000)
        self.send("web1", range(20))  # past FILE_BYTES: the next write rotates
        self.send("web1", range(20, 25))
        rotated = os.path.join(self.spool_dir, "web1~nginx.log.1")
        self.assertTrue(os.path.exists(rotated))
        self.store_all()
        self.assertFalse(os.path.exists(rotated))
        self.assertTrue(os.path.exists(os.path.join(self.spool_dir, "web1~nginx.log")))
        self.send("web1", range(25, 60))  # rotated again, since .1 is gone
        self.store_all()
        self.assertEqual(self.sources(), {"syslog:web1/nginx": 60})
        resources = Counter(resource for resource, in self.store.query(
            "SELECT resource FROM hits"))
        self.assertEqual(resources, Counter(f"/page/{number}" for number in range(60)))

# -*- test-case-name: tests.test_spool -*-
"""Tests for L{weblog.spool}: syslog senders' lines written to files of their own."""

from __future__ import annotations

import os

from twisted.internet.task import Clock
from twisted.trial import unittest
from weblog import spool as spool_module
from weblog.logfiles import identity
from weblog.spool import FLUSH_BYTES, FLUSH_DELAY, HEADER, OVERFLOW, Spool, source_of, spool_files


class SpoolTests(unittest.TestCase):
    """L{Spool} over a real directory, its writes scheduled on a L{Clock}."""

    def setUp(self) -> None:
        self.directory = self.mktemp()
        self.clock = Clock()
        self.new: list[tuple[str, str]] = []
        self.writes = 0

    def spool(self, historian_deletes: bool = False) -> Spool:
        """A spool over the test's directory, which notes new senders and writes."""
        def written() -> None:
            self.writes += 1

        made = Spool(self.directory, self.clock, historian_deletes,
                     on_new=lambda path, source: self.new.append((path, source)),
                     on_written=written)
        self.addCleanup(made.close)
        return made

    def lines(self, name: str) -> list[bytes]:
        """The lines of a spool file, its header left out (and checked)."""
        with open(os.path.join(self.directory, name), "rb") as file:
            header, *rest = file.read().split(b"\n")[:-1]
        self.assertTrue(header.startswith(HEADER), header)
        return rest

    def test_linesWrittenSoonPerSender(self) -> None:
        """Each sender's lines go to its own file, after L{FLUSH_DELAY}, in their order."""
        spool = self.spool()
        spool.add("web1", "nginx", b"one")
        spool.add("web2", "nginx", b"two")
        spool.add("web1", "nginx", b"three")
        self.assertFalse(os.path.exists(self.directory))
        self.clock.advance(FLUSH_DELAY)
        self.assertEqual(self.lines("web1~nginx.log"), [b"one", b"three"])
        self.assertEqual(self.lines("web2~nginx.log"), [b"two"])
        self.assertEqual(spool.lines, 3)
        self.assertEqual(self.writes, 1)
        self.assertEqual([source for _, source in self.new],
                         ["syslog:web1/nginx", "syslog:web2/nginx"])
        self.assertEqual(spool_files(self.directory),
                         [(os.path.join(self.directory, "web1~nginx.log"), "syslog:web1/nginx"),
                          (os.path.join(self.directory, "web2~nginx.log"), "syslog:web2/nginx")])

    def test_manyLinesWrittenAtOnce(self) -> None:
        """Once L{FLUSH_BYTES} wait for a sender, they are written without waiting."""
        spool = self.spool()
        line = b"x" * 1000
        for _ in range(FLUSH_BYTES // 1001 + 1):
            spool.add("web1", "nginx", line)
        self.assertEqual(len(self.lines("web1~nginx.log")), FLUSH_BYTES // 1001 + 1)

    def test_lineBreaksAndHashEscaped(self) -> None:
        """A message's newlines and CRs, and a C{#} it begins with, are escaped: one line each,
        never one that looks like a header."""
        spool = self.spool()
        spool.add("h", "t", b"a\nb\rc")
        spool.add("h", "t", b"#weblog syslog spool x")
        spool.flush()
        self.assertEqual(self.lines("h~t.log"),
                         [b"a\\x0Ab\\x0Dc", b"\\x23weblog syslog spool x"])

    def test_headersMakeIdentitiesUnique(self) -> None:
        """Two senders whose first lines are the same bytes still have files of their own
        identity (the history would otherwise take them for one file)."""
        spool = self.spool()
        spool.add("web1", "nginx", b"the same line")
        spool.add("web2", "nginx", b"the same line")
        spool.flush()
        first = identity(os.path.join(self.directory, "web1~nginx.log"))
        second = identity(os.path.join(self.directory, "web2~nginx.log"))
        self.assertIsNotNone(first)
        self.assertNotEqual(first, second)

    def test_existingFilesAppendedTo(self) -> None:
        """A spool made again goes on with the files there: no second header, no new sender."""
        spool = self.spool()
        spool.add("web1", "nginx", b"one")
        spool.close()
        self.new.clear()
        again = self.spool()
        again.add("web1", "nginx", b"two")
        again.flush()
        self.assertEqual(self.lines("web1~nginx.log"), [b"one", b"two"])
        self.assertEqual(self.new, [])
        self.assertEqual(again.sources, 1)

    def test_sendersBounded(self) -> None:
        """Past L{spool.MOST_SOURCES} senders, the others' lines go to one overflow file,
        and are not remembered one by one."""
        self.patch(spool_module, "MOST_SOURCES", 2)
        spool = self.spool()
        for number in range(50):
            spool.add(f"host{number}", "t", b"line %d" % number)
        spool.flush()
        self.assertEqual(self.lines("host0~t.log"), [b"line 0"])
        self.assertEqual(self.lines("host1~t.log"), [b"line 1"])
        self.assertEqual(len(self.lines("overflow.log")), 48)
        self.assertEqual(spool.overflowed, 48)
        self.assertEqual(sorted(os.listdir(self.directory)),
                         ["host0~t.log", "host1~t.log", "overflow.log"])
        self.assertLessEqual(len(spool._files), 2)
        self.assertEqual(source_of("overflow.log"), OVERFLOW)

    def test_rotatedWhenBig(self) -> None:
        """Without a historian, a file past L{spool.FILE_BYTES} is rotated to C{.1}, replacing
        the one there."""
        self.patch(spool_module, "FILE_BYTES", 1000)
        spool = self.spool()
        for number in range(60):
            spool.add("h", "t", b"%050d" % number)
            spool.flush()
        names = sorted(os.listdir(self.directory))
        self.assertEqual(names, ["h~t.log", "h~t.log.1"])
        kept = self.lines("h~t.log.1") + self.lines("h~t.log")
        self.assertEqual(kept, [b"%050d" % number for number in range(60 - len(kept), 60)])
        self.assertFalse(spool.behind)

    def test_rotationWaitsForTheHistorian(self) -> None:
        """With a historian, a file is rotated only once its C{.1} is gone (stored, and deleted
        by the historian); past L{spool.FILE_MOST} meanwhile, its sender waits (L{Spool.behind},
        L{Spool.accepts}) until the C{.1} is gone; nothing is replaced."""
        self.patch(spool_module, "FILE_BYTES", 1000)
        self.patch(spool_module, "FILE_MOST", 3000)
        freed: list[bool] = []
        spool = Spool(self.directory, self.clock, True, on_free=lambda: freed.append(True))
        self.addCleanup(spool.close)
        path = os.path.join(self.directory, "h~t.log")
        for number in range(45):
            spool.add("h", "t", b"%050d" % number)
            spool.flush()
        self.assertTrue(os.path.exists(path + ".1"))
        self.assertGreater(os.path.getsize(path), 1000)  # waits for the historian
        self.assertFalse(spool.behind)
        for number in range(45, 100):
            spool.add("h", "t", b"%050d" % number)
            spool.flush()
        self.assertTrue(spool.behind)
        self.assertFalse(spool.accepts("h", "t"))
        self.assertTrue(spool.accepts("other", "t"))
        self.clock.advance(spool_module.CHECK_INTERVAL)
        self.assertEqual(freed, [])
        os.unlink(path + ".1")  # the historian stored it
        self.clock.advance(spool_module.CHECK_INTERVAL)
        self.assertEqual(freed, [True])
        self.assertFalse(spool.behind)
        spool.add("h", "t", b"next")
        spool.flush()
        self.assertEqual(self.lines("h~t.log"), [b"next"])
        kept = self.lines("h~t.log.1")
        self.assertEqual(kept[-1], b"%050d" % 99)
        self.assertEqual(spool.status()["behind"], 0)

    def test_unwritableCountedThenRecovers(self) -> None:
        """Lines that cannot be written are counted lost, with the reason; writing goes on once
        it can."""
        with open(self.directory, "w") as file:
            file.write("not a directory")
        spool = self.spool()
        spool.add("h", "t", b"lost")
        spool.flush()
        self.assertEqual((spool.lost, spool.lines), (1, 0))
        self.assertIn("cannot write", spool.reason)
        os.unlink(self.directory)
        spool.add("h", "t", b"kept")
        spool.flush()
        self.assertEqual(self.lines("h~t.log"), [b"kept"])
        self.assertEqual((spool.lost, spool.lines, spool.reason), (1, 1, ""))

    def test_deletedFileMadeAgain(self) -> None:
        """A spool file deleted (with its directory) under the spool is made again, with a
        header, at the next write: nothing is written into the deleted file."""
        spool = self.spool()
        spool.add("h", "t", b"one")
        spool.flush()
        os.unlink(os.path.join(self.directory, "h~t.log"))
        os.rmdir(self.directory)
        spool.add("h", "t", b"two")
        spool.flush()
        spool.add("h", "t", b"three")
        spool.flush()
        self.assertEqual(self.lines("h~t.log"), [b"two", b"three"])
        self.assertEqual(spool.lost, 0)


class SourceOfTests(unittest.TestCase):
    """L{source_of}: a spool file's name, its source."""

    def test_names(self) -> None:
        """Only C{HOST~TAG.log} and C{overflow.log} are spool files."""
        self.assertEqual(source_of("web1~nginx.log"), "syslog:web1/nginx")
        self.assertEqual(source_of("::1~-.log"), "syslog:::1/-")
        for other in ("web1~nginx.log.1", "web1.log", "~nginx.log", "web1~.log", "x~y.txt"):
            self.assertIsNone(source_of(other), other)

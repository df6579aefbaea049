# -*- test-case-name: tests.test_faults -*-
"""The fault matrix of Records: rotation, truncation, deletion, damage and odd bytes."""

from __future__ import annotations

import builtins
import io
import json
import os
import shutil
import threading
import time
from typing import Any
from unittest import mock

from persist import Records
from twisted.internet import defer
from twisted.trial import unittest

from tests.support import DirectoryCase, SiteCase, combined


def lines(*resources: str) -> bytes:
    """One Apache combined line per resource, as bytes, each ended by a newline."""
    return b"".join(combined(resource).encode() for resource in resources)


def named(name: str, count: int, first: int = 0) -> list[str]:
    """C{count} distinct resources C{/name0}, C{/name1}, ... numbered from C{first}."""
    return [f"/{name}{number}" for number in range(first, first + count)]


class _RecordsCase(DirectoryCase):
    """A log path in a fresh directory, Records on a Clock, writers, and exact-count checks."""

    fileName = "a.log"

    def records(self, path: str | None = None, keep: int = 1000) -> Records:
        """Records following the log (or C{path}) on the test's clock, stopped at cleanup."""
        records = Records(path or self.path, keep=keep, clock=self.clock)  # linger on it too
        self.addCleanup(records.stop)
        return records

    def following(self, *resources: str) -> tuple[io.FileIO, Records]:
        """The log held open by its writer, with C{resources}' lines, and Records that read them."""
        writer = self.writer()
        writer.write(lines(*resources))
        records = self.records()
        records.poll()
        return writer, records

    def assertCounted(self, records: Records, resources: list[str], malformed: int = 0) -> None:
        """
        Every line was counted once: C{resources} (in file order) are the valid lines and the
        kept hits, newest first, and C{malformed} more lines did not parse.
        """
        self.assertEqual(
            (records.lines, records.malformed, records.hit_count),
            (len(resources) + malformed, malformed, len(resources)),
        )
        self.assertEqual([hit.resource for hit in records.newest()], resources[::-1])


class RenameRotationTests(_RecordsCase):
    """Rotation by rename while the writer keeps appending to the renamed file."""

    def test_writerKeepsAppendingToRenamedFile(self):
        """Lines the old writer appends after the switch are read within linger, each once."""
        old, records = self.following(*named("old", 2))
        self.assertCounted(records, named("old", 2))
        os.rename(self.path, self.path + ".1")
        new = self.writer()
        new.write(lines("/new0"))
        old.write(lines("/old2"))
        records.poll()
        self.assertCounted(records, [*named("old", 3), "/new0"])
        self.clock.advance(20)
        old.write(lines("/old3"))
        new.write(lines("/new1"))
        records.poll()
        self.clock.advance(29)
        old.write(lines("/old4"))
        records.poll()
        expected = [*named("old", 3), "/new0", "/old3", "/new1", "/old4"]
        self.assertCounted(records, expected)
        self.assertEqual(records.status()["rotations"], 1)
        self.assertEqual(records.status()["truncations"], 0)
        self.assertEqual(records.poll(), False)
        self.assertCounted(records, expected)

    def test_renamedFileLetGoAfterLinger(self):
        """Once the renamed file has not grown for linger seconds it is closed and not read."""
        old, records = self.following()
        os.rename(self.path, self.path + ".1")
        self.append(lines("/new0"))
        records.poll()
        self.clock.advance(30)
        records.poll()
        [follower] = records.followers
        [held] = follower.held_files()  # the new file only: the renamed one is let go
        self.assertEqual(os.fstat(held.fileno()).st_ino, os.stat(self.path).st_ino)
        old.write(lines("/too-late"))
        records.poll()
        self.assertCounted(records, ["/new0"])

    def test_rotationWithPartialLinePending(self):
        """A line half-written before the rename is finished in the old file and read whole."""
        old, records = self.following()
        whole = combined("/split").encode()
        old.write(lines("/before") + whole[:25])
        records.poll()
        self.assertCounted(records, ["/before"])
        os.rename(self.path, self.path + ".1")
        new = self.writer()
        new.write(lines("/new0"))
        records.poll()
        self.assertCounted(records, ["/before", "/new0"])
        old.write(whole[25:])
        new.write(lines("/new1"))
        records.poll()
        self.assertCounted(records, ["/before", "/new0", "/split", "/new1"])
        self.assertEqual(records.status()["rotations"], 1)


class CopyTruncateTests(_RecordsCase):
    """copytruncate: the log is copied aside, truncated to 0 in place, and written again."""

    def copytruncate(self) -> None:
        """Copy the log to C{.1} and truncate it in place, as logrotate's copytruncate does."""
        shutil.copyfile(self.path, self.path + ".1")
        os.truncate(self.path, 0)

    def test_readBeforeTruncationCountOnce(self):
        """Lines read before the truncation are not read again from the copy or the file."""
        writer, records = self.following(*named("old", 3))
        writer.write(lines(*named("old", 2, 3)))
        records.poll()
        self.copytruncate()
        records.poll()
        self.assertCounted(records, named("old", 5))
        writer.write(lines("/new0"))
        records.poll()
        self.assertCounted(records, [*named("old", 5), "/new0"])
        status = records.status()
        self.assertEqual((status["truncations"], status["rotations"]), (1, 0))
        self.assertEqual((status["state"], status["reason"]), ("ok", ""))

    def test_shorterContentBeforeNextPoll(self):
        """New lines written before the next poll, shorter than what was read, are all read."""
        writer, records = self.following(*named("old", 5))
        self.copytruncate()
        writer.write(lines(*named("new", 2)))
        records.poll()
        self.assertCounted(records, [*named("old", 5), *named("new", 2)])
        self.assertEqual(records.status()["truncations"], 1)

    def test_longerContentBeforeNextPoll(self):
        """
        New lines written before the next poll that outgrow what was read before the truncation
        are all read from the file's start, and the truncation is counted.
        """
        writer, records = self.following("/old0", "/old1")
        self.copytruncate()
        writer.write(lines("/n0", "/longer-new-1", "/n2", "/longer-new-3", "/n4"))
        records.poll()
        self.assertCounted(
            records, ["/old0", "/old1", "/n0", "/longer-new-1", "/n2", "/longer-new-3", "/n4"]
        )
        self.assertEqual(records.status()["truncations"], 1)


class DeleteRecreateTests(_RecordsCase):
    """The log deleted, then created again."""

    def test_deleteThenRecreate(self):
        """The state is missing/not found in between; the rest and the new file are read once."""
        writer, records = self.following(*named("old", 2))
        writer.write(lines("/old2"))
        os.remove(self.path)
        records.poll()
        status = records.status()
        self.assertEqual((status["state"], status["reason"]), ("missing", "not found"))
        self.assertCounted(records, named("old", 3))
        records.poll()
        self.assertEqual(records.status()["state"], "missing")
        self.append(lines(*named("new", 2)))
        records.poll()
        status = records.status()
        self.assertEqual((status["state"], status["reason"]), ("ok", ""))
        self.assertCounted(records, [*named("old", 3), *named("new", 2)])


class TwoRotationsTests(_RecordsCase):
    """Two rotations between polls: a.log -> a.log.1 -> a.log.2, and a new a.log."""

    def test_allThreeFilesOnceInOrder(self):
        """The first file's rest, the middle file and the new file are each read once, in order."""
        self.append(lines(*named("first", 2)))
        records = self.records()
        records.poll()
        self.append(lines(*named("first", 2, 2)))
        os.rename(self.path, self.path + ".1")
        self.append(lines(*named("second", 3)))
        os.rename(self.path + ".1", self.path + ".2")
        os.rename(self.path, self.path + ".1")
        self.append(lines(*named("third", 3)))
        records.catchUp()
        self.assertCounted(
            records, [*named("first", 4), *named("second", 3), *named("third", 3)]
        )
        self.assertEqual(records.status()["rotations"], 2)
        records.poll()
        self.assertEqual(records.lines, 10)


class MissingAtStartTests(_RecordsCase):
    """A log missing when Records starts."""

    def test_appearsLaterReadFromStart(self):
        """A log that appears later is read from its start, not read back from its end."""
        records = self.records(keep=2)
        records.poll()
        status = records.status()
        self.assertEqual((status["state"], status["reason"]), ("missing", "not found"))
        self.assertEqual((records.lines, records.malformed), (0, 0))
        self.append(lines(*named("late", 5)) + b"garbage\n")
        records.poll()
        self.assertEqual((records.lines, records.malformed, records.hit_count), (6, 1, 5))
        self.assertEqual([hit.resource for hit in records.newest()], ["/late4", "/late3"])
        self.assertEqual(records.status()["state"], "ok")


class UnreadableTests(_RecordsCase):
    """The path becomes something that cannot be read."""

    def test_replacedByDirectory(self):
        """
        A directory at the path is unreadable, "is a directory", without a crash; the lines
        written to the file before it went away are read at once, as for a deletion.
        """
        writer, records = self.following("/old0")
        writer.write(lines("/old1"))
        os.remove(self.path)
        os.mkdir(self.path)
        self.assertEqual(records.poll(), False)
        status = records.status()
        self.assertEqual((status["state"], status["reason"]), ("unreadable", "is a directory"))
        self.assertCounted(records, ["/old0", "/old1"])
        os.rmdir(self.path)
        self.append(lines("/new0"))
        records.poll()
        self.assertEqual(records.status()["state"], "ok")
        self.assertCounted(records, ["/old0", "/old1", "/new0"])

    def test_directoryAtStart(self):
        """A directory at the path from the start is unreadable, and nothing is counted."""
        os.mkdir(self.path)
        records = self.records()
        self.assertEqual(records.poll(), False)
        status = records.status()
        self.assertEqual((status["state"], status["reason"]), ("unreadable", "is a directory"))
        self.assertCounted(records, [])

    def refuseOpening(self, path: str) -> Any:
        """Patch C{open} to refuse C{path} with EACCES, as for a file without read permission."""
        realOpen = builtins.open

        def guardedOpen(file: Any, *args: Any, **kwargs: Any) -> Any:
            if file == path:
                raise PermissionError(13, "Permission denied")
            return realOpen(file, *args, **kwargs)

        return mock.patch("builtins.open", guardedOpen)

    def test_newFileWithoutPermissionAfterRotation(self):
        """
        A new file that cannot be opened after a rotation is unreadable, "Permission denied";
        the old file's rest is read, and the new file from its start once it can be opened.
        """
        writer, records = self.following("/old0")
        writer.write(lines("/old1"))
        os.rename(self.path, self.path + ".1")
        self.append(lines("/new0"))
        with self.refuseOpening(self.path):
            records.poll()
            records.poll()
        status = records.status()
        self.assertEqual((status["state"], status["reason"]), ("unreadable", "Permission denied"))
        self.assertCounted(records, ["/old0", "/old1"])
        self.append(lines("/new1"))
        records.poll()
        self.assertEqual(records.status()["state"], "ok")
        self.assertCounted(records, ["/old0", "/old1", "/new0", "/new1"])
        self.assertEqual(records.status()["rotations"], 1)

    def test_newFileChmod000AfterRotation(self):
        """With real permissions (not root): a mode-000 new file is unreadable, then followed."""
        if os.geteuid() == 0:
            raise unittest.SkipTest(
                "running as root, which reads any file whatever its mode; "
                "test_newFileWithoutPermissionAfterRotation covers this by patching open"
            )
        writer, records = self.following("/old0")
        writer.write(lines("/old1"))
        os.rename(self.path, self.path + ".1")
        self.append(lines("/new0"))
        os.chmod(self.path, 0)
        self.addCleanup(os.chmod, self.path, 0o644)
        records.poll()
        status = records.status()
        self.assertEqual((status["state"], status["reason"]), ("unreadable", "Permission denied"))
        self.assertCounted(records, ["/old0", "/old1"])
        os.chmod(self.path, 0o644)
        records.poll()
        self.assertEqual(records.status()["state"], "ok")
        self.assertCounted(records, ["/old0", "/old1", "/new0"])


class SymlinkTests(_RecordsCase):
    """A symlinked log whose target changes."""

    def test_targetChangeIsRotation(self):
        """Repointing the link is a rotation: the rest of a.log, then b.log from its start."""
        link = os.path.join(self.directory, "current.log")
        target_b = os.path.join(self.directory, "b.log")
        self.append(lines(*named("a", 2)))
        os.symlink("a.log", link)
        records = self.records(path=link)
        records.poll()
        self.assertCounted(records, named("a", 2))
        self.append(lines("/a2"))
        self.append(lines(*named("b", 2)), path=target_b)
        os.symlink("b.log", link + ".new")
        os.replace(link + ".new", link)
        records.poll()
        self.assertCounted(records, [*named("a", 3), *named("b", 2)])
        self.assertEqual(records.status()["rotations"], 1)
        self.append(lines("/b2"), path=target_b)
        records.poll()
        self.assertCounted(records, [*named("a", 3), *named("b", 3)])
        self.assertEqual(records.status()["state"], "ok")


class OverlongLineTests(_RecordsCase):
    """A 10 MB line, written in 1 MB pieces with polls between."""

    def test_tenMegabyteLine(self):
        """It is one malformed line, the pending partial stays within max_line, and later lines
        parse normally."""
        writer, records = self.following("/before")
        [follower] = records.followers
        writer.write(b'203.0.113.7 - - [17/May/2015:10:05:03 +0000] "GET /')
        for _ in range(10):
            writer.write(b"x" * (1 << 20))
            records.catchUp()
            self.assertCounted(records, ["/before"])
            self.assertLessEqual(follower.partial_bytes, follower.max_line)
        writer.write(b' HTTP/1.1" 200 1 "-" "-"\n' + lines("/after0", "/after1"))
        records.catchUp()
        self.assertCounted(records, ["/before", "/after0", "/after1"], malformed=1)
        self.assertEqual(follower.partial_bytes, 0)


class OddBytesTests(_RecordsCase):
    """NUL bytes, bytes that are not UTF-8, and CRLF line endings."""

    def test_nulAndInvalidUtf8(self):
        """NUL and non-UTF-8 bytes show as visible escapes; a NUL mid-request still parses."""
        records = self.records()
        records.poll()
        self.append(
            combined("/nul\x00mid").encode()
            + combined("/bad", "http://x.example/\udcff", agent="A\udcc3(").encode(
                "utf-8", "surrogateescape")
            + b"\x00\x00\x00\x00\n"
            + combined("/agent", agent="nul\x00agent").encode()
            + b"\xff\xfe garbage\n"
        )
        records.poll()
        self.assertCounted(records, ["/nul\\x00mid", "/bad", "/agent"], malformed=2)
        agent, bad, nul = records.newest()
        self.assertEqual(bad.referrer, "http://x.example/\\xff")
        self.assertEqual(bad.agent, "A\\xc3(")
        self.assertEqual(agent.agent, "nul\\x00agent")
        self.assertEqual((nul.method, nul.protocol, nul.status), ("GET", "HTTP/1.1", 200))

    def test_crlfEndings(self):
        """CRLF ends a line, also when split across polls; no CR is left in any field."""
        records = self.records()
        records.poll()
        crlf = lines("/crlf0", "/crlf1").replace(b"\n", b"\r\n")
        self.append(crlf + lines("/lf") + combined("/split").encode()[:-1] + b"\r")
        records.poll()
        self.assertCounted(records, ["/crlf0", "/crlf1", "/lf"])
        self.append(b"\n")
        records.poll()
        self.assertCounted(records, ["/crlf0", "/crlf1", "/lf", "/split"])
        self.assertEqual({hit.agent for hit in records.newest()}, {"Mozilla/5.0"})


class OutOfOrderTests(_RecordsCase):
    """Timestamps that do not follow file order."""

    def test_fileOrderAndOwnMinutes(self):
        """Hits keep file order, newest written first; each counts in its own minute."""
        times = [
            ("/a", "17/May/2015:10:05:03 +0000"),
            ("/b", "17/May/2015:10:02:00 +0000"),
            ("/c", "17/May/2015:10:07:59 +0000"),
            ("/d", "17/May/2015:10:02:30 +0000"),
            ("/e", "17/May/2015:11:04:00 +0100"),
        ]
        self.append(b"".join(combined(resource, time=when).encode() for resource, when in times))
        records = self.records()
        records.poll()
        self.assertCounted(records, ["/a", "/b", "/c", "/d", "/e"])
        self.assertEqual(
            [hit.time.isoformat() for hit in records.newest()],
            ["2015-05-17T11:04:00+01:00", "2015-05-17T10:02:30+00:00",
             "2015-05-17T10:07:59+00:00", "2015-05-17T10:02:00+00:00",
             "2015-05-17T10:05:03+00:00"],
        )
        minutes = records.aggregates.per_minute()
        self.assertEqual(len(minutes), 60)
        self.assertEqual(minutes[-1][0].isoformat(), "2015-05-17T10:07:00+00:00")
        self.assertEqual(
            {start.strftime("%H:%M"): count for start, count in minutes if count},
            {"10:02": 2, "10:04": 1, "10:05": 1, "10:07": 1},
        )


def releaseBlockedReaders(testCase: unittest.TestCase, fifo: str, after: float = 5.0) -> None:
    """
    From C{after} seconds on until C{testCase} ends, keep opening C{fifo} for writing.

    A server that opens the FIFO for reading in the reactor blocks the reactor, and with it
    the test; this lets such a regression go on (and fail its assertions) instead of hanging.
    """
    done = threading.Event()

    def release() -> None:
        if done.wait(after):
            return
        while not done.is_set():
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass  # no reader waits (or the FIFO is gone)
            done.wait(0.05)

    releaser = threading.Thread(target=release, daemon=True)
    releaser.start()
    testCase.addCleanup(releaser.join)
    testCase.addCleanup(done.set)


class JsonFaultTests(SiteCase):
    """Faults seen through /weblog.rpy/json."""

    @defer.inlineCallbacks
    def getLog(self):
        """The JSON log object and the hits' resources, newest first."""
        code, _, body = yield self.get("/weblog.rpy/json?status=all&referrer=any&limit=1000")
        self.assertEqual(code, 200)
        document = json.loads(body)
        return document["log"], [hit["resource"] for hit in document["hits"]]

    @defer.inlineCallbacks
    def assertLogAfterWakeGap(self, counts: tuple[str, int, int, int, int],
                              resources: list[str]):
        """
        Once the log may be polled again: the JSON log's state, lines, malformed, rotations and
        truncations are C{counts}, and the hits' resources, newest first, are C{resources}.
        """
        yield self.afterWakeGap()
        log, shown = yield self.getLog()
        self.assertEqual(
            (log["state"], log["lines"], log["malformed"], log["rotations"], log["truncations"]),
            counts,
        )
        self.assertEqual(shown, resources)

    @defer.inlineCallbacks
    def test_renameRotationBetweenRequests(self):
        """A rename rotation between two requests: log.lines and log.rotations are exact."""
        self.writeLog(lines("/old0", "/old1"))
        self.serve()
        log, resources = yield self.getLog()
        self.assertEqual((log["lines"], log["malformed"], log["rotations"]), (2, 0, 0))
        self.assertEqual(resources, ["/old1", "/old0"])
        self.writeLog(lines("/old2"), b"garbage\n")
        os.rename(self.log.path, self.log.path + ".1")
        self.writeLog(lines("/new0", "/new1"))
        yield self.assertLogAfterWakeGap(("ok", 6, 1, 1, 0),
                                         ["/new1", "/new0", "/old2", "/old1", "/old0"])

    @defer.inlineCallbacks
    def test_copytruncateBetweenRequests(self):
        """A copytruncate between two requests: read lines are not repeated, truncation counted."""
        self.writeLog(lines(*named("old", 4)))
        self.serve()
        log, _ = yield self.getLog()
        self.assertEqual(log["lines"], 4)
        shutil.copyfile(self.log.path, self.log.path + ".1")
        os.truncate(self.log.path, 0)
        self.writeLog(lines("/new0"))
        yield self.assertLogAfterWakeGap(("ok", 5, 0, 0, 1),
                                         ["/new0", "/old3", "/old2", "/old1", "/old0"])

    @defer.inlineCallbacks
    def test_fifoAtLogPath(self):
        """
        A FIFO at the log does not stop the server: the JSON and the page say "is a FIFO" at
        once, a static file is served, and a regular file there again is read from its start.
        """
        os.mkfifo(self.log.path)
        releaseBlockedReaders(self, self.log.path)
        self.serve()
        started = time.monotonic()
        log, resources = yield self.getLog()
        self.assertEqual((log["state"], log["reason"], resources), ("unreadable", "is a FIFO", []))
        code, _, body = yield self.get("/weblog.rpy")
        self.assertEqual(code, 200)
        self.assertIn(f"waiting for {self.log.path}: is a FIFO".encode(), body)
        code, _, _ = yield self.get("/weblog.css")
        self.assertEqual(code, 200)
        self.assertLess(time.monotonic() - started, 4.0, "a request waited on the FIFO")
        os.remove(self.log.path)
        self.writeLog(lines("/new0", "/new1"))
        yield self.afterWakeGap()
        log, resources = yield self.getLog()
        self.assertEqual((log["state"], log["lines"]), ("ok", 2))
        self.assertEqual(resources, ["/new1", "/new0"])

# -*- test-case-name: tests.test_following -*-
"""Tests for L{weblog.following.LogFollower}: one log followed through growth, rotation, damage."""

from __future__ import annotations

import io
import os
import shutil
import socket
import time
from collections.abc import Callable

from weblog.following import OVERLONG, LogFollower

from tests.support import DirectoryCase, withinDeadline


def numbered(count: int, first: int = 0, name: bytes = b"line") -> list[bytes]:
    """Return C{count} distinct lines, without endings, named C{name} and numbered from C{first}."""
    return [b"%s %05d" % (name, number) for number in range(first, first + count)]


def joined(lines: list[bytes], ending: bytes = b"\n") -> bytes:
    """Return C{lines} as file content, each ended by C{ending}."""
    return b"".join(line + ending for line in lines)


class _LogTestCase(DirectoryCase):
    """Helpers: a log path in a fresh directory, writers, and followers closed at cleanup."""

    def follower(
        self,
        read_back: int = 0,
        max_line: int = 64 * 1024,
        linger: float = 30.0,
        now: Callable[[], float] = time.monotonic,
    ) -> LogFollower:
        """Make a follower of the log, closed at cleanup."""
        follower = LogFollower(self.path, read_back, max_line, linger, now)
        self.addCleanup(follower.close)
        return follower

    def followingEmpty(self, max_line: int = 64 * 1024) -> LogFollower:
        """A follower of an empty log, read once: what is appended next is read from its start."""
        self.append(b"")
        follower = self.follower(max_line=max_line)
        self.assertEqual(follower.read(), ([], False))
        return follower

    def assertReads(self, follower: LogFollower, *steps: tuple[bytes, list[bytes | None]]) -> None:
        """For each step, append its bytes: the next read hands out its lines, and no more waits."""
        for data, lines in steps:
            self.append(data)
            self.assertEqual(follower.read(), (lines, False))

    def readAll(self, follower: LogFollower, budget: int = 1 << 20) -> list[bytes | None]:
        """Read until the follower says nothing more waits."""
        lines: list[bytes | None] = []
        while True:
            found, more = follower.read(budget)
            lines.extend(found)
            if not more:
                return lines


class ReadBackTests(_LogTestCase):
    """At the first open, only the last C{read_back} complete lines are handed out."""

    def test_lastLines(self) -> None:
        """A file of 100 lines with read_back=10 gives exactly the last 10, in order."""
        lines = numbered(100)
        self.append(joined(lines))
        follower = self.follower(read_back=10)
        self.assertEqual(follower.read(), (lines[-10:], False))
        self.assertEqual(follower.state, "ok")
        self.assertEqual(follower.reason, "")

    def test_fewerLinesThanReadBack(self) -> None:
        """A file shorter than read_back is read back whole."""
        lines = numbered(3)
        self.append(joined(lines))
        follower = self.follower(read_back=10)
        self.assertEqual(follower.read(), (lines, False))

    def test_readBackZero(self) -> None:
        """With read_back=0 nothing already in the file is handed out, only what is appended."""
        self.append(joined(numbered(100)))
        follower = self.follower(read_back=0)
        self.assertEqual(follower.read(), ([], False))
        fresh = numbered(2, first=100)
        self.append(joined(fresh))
        self.assertEqual(follower.read(), (fresh, False))

    def test_partialLastLineWaits(self) -> None:
        """An unfinished last line is not read back, but is handed out once it is finished."""
        self.append(b"one\ntwo\nunfinish")
        follower = self.follower(read_back=10)
        self.assertEqual(follower.read(), ([b"one", b"two"], False))
        self.append(b"ed\n")
        self.assertEqual(follower.read(), ([b"unfinished"], False))

    def test_cutLineNotHandedOut(self) -> None:
        """
        When reading back stops inside a line, the end of that line is not handed out as a line.

        Reading back goes back one 64 KiB block; here that block starts 529 bytes into a
        1000-byte line, and holds only 3 newlines, so with read_back=3 the cut line would be
        the third line handed out if it were not dropped.
        """
        long = b"L" * 65000
        self.append(b"early\n" + b"c" * 1000 + b"\n" + long + b"\nlast\n")
        follower = self.follower(read_back=3, max_line=1000)
        self.assertEqual(follower.read(), ([OVERLONG, b"last"], False))

    def test_lineStartingAtBoundary(self) -> None:
        """
        A complete line that starts exactly where reading back stops is read back whole.

        As in L{test_cutLineNotHandedOut}, but the 64 KiB block starts exactly at the start of
        a 529-byte line, so nothing is cut and that line is one of the last 3 complete lines.
        """
        long = b"L" * 65000
        self.append(b"early\n" + b"c" * 529 + b"\n" + long + b"\nlast\n")
        follower = self.follower(read_back=3, max_line=1000)
        self.assertEqual(follower.read(), ([b"c" * 529, OVERLONG, b"last"], False))

    def test_readBackOnlyOnce(self) -> None:
        """After the read back, lines appended later are all handed out, however many."""
        self.append(joined(numbered(5)))
        follower = self.follower(read_back=2)
        self.assertEqual(follower.read(), (numbered(2, first=3), False))
        fresh = numbered(20, first=5)
        self.append(joined(fresh))
        self.assertEqual(follower.read(), (fresh, False))


class FollowAppendTests(_LogTestCase):
    """Lines appended to the followed file are handed out once, whole."""

    def test_appendedReadOnce(self) -> None:
        """Each appended line is handed out exactly once."""
        follower = self.follower()
        self.append(b"")
        self.assertEqual(follower.read(), ([], False))
        self.append(b"a\nb\nc\n")
        self.assertEqual(follower.read(), ([b"a", b"b", b"c"], False))
        self.assertEqual(follower.read(), ([], False))
        self.append(b"d\n")
        self.assertEqual(follower.read(), ([b"d"], False))
        self.assertEqual(follower.read(), ([], False))

    def test_partialLineWaits(self) -> None:
        """A line without its newline yet is held back until the newline arrives."""
        self.assertReads(self.followingEmpty(), (b"abc", []), (b"def\n", [b"abcdef"]))

    def test_lineEndings(self) -> None:
        """LF and CRLF both end a line; the CR of a CRLF is stripped, a CR inside a line is not."""
        self.assertReads(self.followingEmpty(),
                         (b"lf\ncrlf\r\ninner\rcr\n", [b"lf", b"crlf", b"inner\rcr"]))

    def test_crlfSplitAcrossReads(self) -> None:
        """A CRLF whose CR and LF arrive in different reads still ends the line without the CR."""
        self.assertReads(self.followingEmpty(), (b"split\r", []), (b"\n", [b"split"]))

    def test_emptyLines(self) -> None:
        """Empty lines are handed out as empty bytes."""
        self.assertReads(self.followingEmpty(), (b"\n\r\nx\n", [b"", b"", b"x"]))

    def test_budgetSlices(self) -> None:
        """
        With a small budget each read takes at most that many bytes and says more waits until
        all is read; the slices together are every line exactly once, in order.
        """
        follower = self.followingEmpty()
        lines = numbered(10)
        data = joined(lines)
        self.append(data)
        slices: list[list[bytes | None]] = []
        offsets = []
        while True:
            found, more = follower.read(7)
            slices.append(found)
            offset = follower.offset
            assert offset is not None
            offsets.append(offset)
            if not more:
                break
            self.assertLess(offset, len(data))
        expected_offsets = list(range(7, len(data), 7)) + [len(data)]
        self.assertEqual(offsets, expected_offsets)
        self.assertEqual([line for found in slices for line in found], lines)
        self.assertEqual(follower.read(7), ([], False))

    def test_nulAndInvalidUtf8(self) -> None:
        """NUL bytes and bytes that are not UTF-8 come through unchanged."""
        follower = self.followingEmpty()
        self.append(b"a\x00b\n\xff\xfe\xc3(\n\x00\n")
        self.assertEqual(follower.read(), ([b"a\x00b", b"\xff\xfe\xc3(", b"\x00"], False))


class RotationTests(_LogTestCase):
    """Rename rotation and copytruncate lose no line and repeat none."""

    def renamedAway(self) -> tuple[io.FileIO, LogFollower]:
        """The log's writer, and its follower (lingering 30 s on the clock), once it is renamed."""
        old = self.writer()
        follower = self.follower(linger=30.0, now=self.clock.seconds)
        follower.read()
        os.rename(self.path, self.path + ".1")
        return old, follower

    def test_renameRotation(self) -> None:
        """
        After a rename, the rest of the old file (still written by its writer) is read first,
        then the new file from its start.
        """
        old = self.writer()
        old.write(joined(numbered(3, name=b"old")))
        follower = self.follower()
        self.assertEqual(follower.read(), ([], False))
        old.write(joined(numbered(2, name=b"old", first=3)))
        self.assertEqual(follower.read(), (numbered(2, name=b"old", first=3), False))
        old.write(joined(numbered(2, name=b"old", first=5)))
        os.rename(self.path, self.path + ".1")
        new = self.writer()
        new.write(joined(numbered(3, name=b"new")))
        old.write(joined(numbered(2, name=b"old", first=7)))
        new.write(joined(numbered(1, name=b"new", first=3)))
        self.assertEqual(
            follower.read(),
            (numbered(4, name=b"old", first=5) + numbered(4, name=b"new"), False),
        )
        self.assertEqual(follower.rotations, 1)
        self.assertEqual(follower.truncations, 0)
        self.assertEqual(follower.state, "ok")
        self.assertEqual(follower.read(), ([], False))

    def test_rotatedFileOverwrittenIsNotReadAgain(self) -> None:
        """
        A rotated-away file that is then overwritten in place (a copy written over C{.1})
        is finished, not read again from its start as if it were the followed log.
        """
        old = self.writer()
        old.write(joined(numbered(4, name=b"old")))
        follower = self.follower()
        follower.read()
        os.rename(self.path, self.path + ".1")
        new = self.writer()
        new.write(joined(numbered(2, name=b"new")))
        self.assertEqual(follower.read(), (numbered(2, name=b"new"), False))
        shutil.copyfile(self.path, self.path + ".1")  # .1 shrinks: same file, other content
        new.write(joined(numbered(1, name=b"new", first=2)))
        self.assertEqual(follower.read(), (numbered(1, name=b"new", first=2), False))
        self.assertEqual(follower.read(), ([], False))
        self.assertEqual(follower.truncations, 0)

    def test_renameRotationSlicesExactlyOnce(self) -> None:
        """All slices read across a rename are every line of both files exactly once, in order."""
        old = self.writer()
        follower = self.follower()
        follower.read()
        old.write(joined(numbered(10, name=b"old")))
        first, more = follower.read(5)
        self.assertTrue(more)
        os.rename(self.path, self.path + ".1")
        new = self.writer()
        new.write(joined(numbered(10, name=b"new")))
        old.write(joined(numbered(5, name=b"old", first=10)))
        rest = self.readAll(follower, budget=5)
        self.assertEqual(first + rest, numbered(15, name=b"old") + numbered(10, name=b"new"))
        self.assertEqual(follower.rotations, 1)

    def test_renamedFileReadWithinLinger(self) -> None:
        """Lines appended to the renamed file after the switch are still read, within linger."""
        old, follower = self.renamedAway()
        new = self.writer()
        new.write(b"new 1\n")
        self.assertEqual(follower.read(), ([b"new 1"], False))
        self.clock.advance(20)
        old.write(b"old late 1\n")
        new.write(b"new 2\n")
        self.assertEqual(follower.read(), ([b"old late 1", b"new 2"], False))
        self.clock.advance(29)
        old.write(b"old late 2\n")
        self.assertEqual(follower.read(), ([b"old late 2"], False))
        self.assertEqual(len(follower.held_files()), 2)  # the new file, and the renamed one

    def test_renamedFileClosedAfterLinger(self) -> None:
        """After linger seconds without growth, the renamed file is closed and no longer read."""
        old, follower = self.renamedAway()
        self.writer().write(b"new\n")
        self.assertEqual(follower.read(), ([b"new"], False))
        current, retired = follower.held_files()
        self.clock.advance(29.5)
        self.assertEqual(follower.read(), ([], False))
        self.assertEqual(follower.held_files(), [current, retired])
        self.assertFalse(retired.closed)
        self.clock.advance(0.5)
        self.assertEqual(follower.read(), ([], False))
        self.assertEqual(follower.held_files(), [current])
        self.assertTrue(retired.closed)
        old.write(b"too late\n")
        self.assertEqual(follower.read(), ([], False))

    def test_twoRotationsBetweenReads(self) -> None:
        """
        Two renames between reads: all lines of the three files are read exactly once, in order.

        a.log is renamed to a.log.1, a new a.log is written and renamed to a.log.2, then the
        newest a.log is written.
        """
        self.append(joined(numbered(2, name=b"first")))
        follower = self.follower(read_back=10)
        self.assertEqual(follower.read(), (numbered(2, name=b"first"), False))
        self.append(joined(numbered(2, name=b"first", first=2)))
        os.rename(self.path, self.path + ".1")
        self.append(joined(numbered(3, name=b"second")))
        os.rename(self.path, self.path + ".2")
        self.append(joined(numbered(3, name=b"third")))
        expected = (
            numbered(2, name=b"first", first=2)
            + numbered(3, name=b"second")
            + numbered(3, name=b"third")
        )
        self.assertEqual(self.readAll(follower), expected)

    def test_copytruncate(self) -> None:
        """A file truncated and rewritten shorter is read again from its start."""
        self.append(joined(numbered(5)))
        follower = self.follower(read_back=10)
        self.assertEqual(follower.read(), (numbered(5), False))
        os.truncate(self.path, 0)
        self.append(b"short\n")
        self.assertEqual(follower.read(), ([b"short"], False))
        self.assertEqual(follower.truncations, 1)
        self.assertEqual(follower.rotations, 0)
        self.append(b"more\n")
        self.assertEqual(follower.read(), ([b"more"], False))
        self.assertEqual(follower.truncations, 1)

    def test_truncatedDropsPartial(self) -> None:
        """An unfinished line pending at truncation is dropped, not joined to the new content."""
        self.append(b"done\nunfinished")
        follower = self.follower(read_back=10)
        self.assertEqual(follower.read(), ([b"done"], False))
        os.truncate(self.path, 0)
        self.append(b"new\n")
        self.assertEqual(follower.read(), ([b"new"], False))
        self.assertEqual(follower.truncations, 1)


class StateTests(_LogTestCase):
    """A missing, deleted or unreadable path is a state; a file back at the path is followed."""

    def test_notOpenedYet(self) -> None:
        """Before the first read the state is missing, because nothing was opened yet."""
        follower = self.follower()
        self.assertEqual((follower.state, follower.reason), ("missing", "not opened yet"))

    def test_missingAtStart(self) -> None:
        """A path that does not exist is "missing", "not found"; reading it is no error."""
        follower = self.follower(read_back=2)
        self.assertEqual(follower.read(), ([], False))
        self.assertEqual((follower.state, follower.reason), ("missing", "not found"))

    def test_appearsLater(self) -> None:
        """A file that appears after the first read is read from its start, not read back."""
        follower = self.follower(read_back=2)
        follower.read()
        lines = numbered(5)
        self.append(joined(lines))
        self.assertEqual(follower.read(), (lines, False))
        self.assertEqual((follower.state, follower.reason), ("ok", ""))
        self.assertEqual(follower.rotations, 0)

    def test_deleted(self) -> None:
        """A deleted file makes the state missing; recreated, it is read from its start."""
        self.append(b"one\n")
        follower = self.follower(read_back=10)
        self.assertEqual(follower.read(), ([b"one"], False))
        os.remove(self.path)
        self.assertEqual(follower.read(), ([], False))
        self.assertEqual((follower.state, follower.reason), ("missing", "not found"))
        self.append(b"two\nthree\n")
        self.assertEqual(follower.read(), ([b"two", b"three"], False))
        self.assertEqual((follower.state, follower.reason), ("ok", ""))

    def test_deletedRestStillRead(self) -> None:
        """Lines written to a file just before it was deleted are still read."""
        writer = self.writer()
        follower = self.follower()
        follower.read()
        writer.write(b"last words\n")
        os.remove(self.path)
        self.assertEqual(follower.read(), ([b"last words"], False))
        self.assertEqual(follower.state, "missing")

    def test_directory(self) -> None:
        """A directory at the path is "unreadable", "is a directory"."""
        os.makedirs(self.path)
        follower = self.follower()
        self.assertEqual(follower.read(), ([], False))
        self.assertEqual((follower.state, follower.reason), ("unreadable", "is a directory"))


class SpecialFileTests(_LogTestCase):
    """
    A FIFO, socket or device at the path, or at a rotated name, is never opened as a log.

    Opening a FIFO for reading waits for a writer, and in the reactor that would stop
    every request; each read here runs in a thread with a deadline, so that a follower
    that blocks fails the test instead of hanging it.
    """

    def boundedRead(
        self, follower: LogFollower, fifos: list[str]
    ) -> tuple[list[bytes | None], bool]:
        """C{follower.read()}, failing the test if it has not returned within 5 seconds."""
        result: tuple[list[bytes | None], bool] = withinDeadline(self, follower.read, fifos)
        return result

    def test_fifoAtPath(self) -> None:
        """
        A FIFO at the path is "unreadable", "is a FIFO", at once, after the rest of the file
        it replaced is read; a regular file there again is read from its start.
        """
        writer = self.writer()
        writer.write(b"before\n")
        follower = self.follower()
        self.assertEqual(follower.read(), ([], False))
        writer.write(b"last words\n")
        os.remove(self.path)
        os.mkfifo(self.path)
        self.assertEqual(self.boundedRead(follower, [self.path]), ([b"last words"], False))
        self.assertEqual((follower.state, follower.reason), ("unreadable", "is a FIFO"))
        self.assertEqual(self.boundedRead(follower, [self.path]), ([], False))
        os.remove(self.path)
        self.append(b"one\ntwo\n")
        self.assertEqual(follower.read(), ([b"one", b"two"], False))
        self.assertEqual((follower.state, follower.reason), ("ok", ""))

    def test_fifoAtStart(self) -> None:
        """A FIFO at the path from the first read is "unreadable", "is a FIFO"."""
        os.mkfifo(self.path)
        follower = self.follower(read_back=10)
        self.assertEqual(self.boundedRead(follower, [self.path]), ([], False))
        self.assertEqual((follower.state, follower.reason), ("unreadable", "is a FIFO"))

    def test_fifosAtRotatedNames(self) -> None:
        """
        FIFOs at C{.2} to C{.5} when the log is renamed to C{.1}: the rest of C{.1} and the new
        file are read, in order, and the FIFOs are skipped.
        """
        old = self.writer()
        follower = self.follower()
        follower.read()
        old.write(b"old 1\n")
        os.rename(self.path, self.path + ".1")
        fifos = [f"{self.path}.{number}" for number in range(2, 6)]
        for fifo in fifos:
            os.mkfifo(fifo)
        self.append(b"new 1\n")
        old.write(b"old 2\n")
        self.assertEqual(self.boundedRead(follower, fifos),
                         ([b"old 1", b"old 2", b"new 1"], False))
        self.assertEqual((follower.state, follower.rotations), ("ok", 1))

    def test_fifosAtEveryRotatedName(self) -> None:
        """
        FIFOs at all of C{.1} to C{.5} when the log is deleted and created again: the rest of
        the old file, then the new one, and no FIFO is opened.
        """
        old = self.writer()
        follower = self.follower()
        follower.read()
        old.write(b"old 1\n")
        os.remove(self.path)
        fifos = [f"{self.path}.{number}" for number in range(1, 6)]
        for fifo in fifos:
            os.mkfifo(fifo)
        self.append(b"new 1\n")
        self.assertEqual(self.boundedRead(follower, fifos), ([b"old 1", b"new 1"], False))
        self.assertEqual(follower.state, "ok")

    def test_socket(self) -> None:
        """A unix socket at the path is "unreadable", "is a socket"; a file there again is read."""
        listener = socket.socket(socket.AF_UNIX)
        self.addCleanup(listener.close)
        listener.bind(self.path)
        follower = self.follower()
        self.assertEqual(follower.read(), ([], False))
        self.assertEqual((follower.state, follower.reason), ("unreadable", "is a socket"))
        os.remove(self.path)
        self.append(b"one\n")
        self.assertEqual(follower.read(), ([b"one"], False))
        self.assertEqual(follower.state, "ok")

    def test_characterDeviceThroughSymlink(self) -> None:
        """
        A symlink to C{/dev/null} is "unreadable", "is a character device", not an empty log;
        a regular file there again is read from its start.
        """
        os.symlink(os.devnull, self.path)
        follower = self.follower()
        self.assertEqual(follower.read(), ([], False))
        self.assertEqual((follower.state, follower.reason), ("unreadable", "is a character device"))
        os.remove(self.path)
        self.append(b"one\ntwo\n")
        self.assertEqual(follower.read(), ([b"one", b"two"], False))
        self.assertEqual((follower.state, follower.reason), ("ok", ""))


class OverlongTests(_LogTestCase):
    """A line longer than C{max_line} becomes one L{OVERLONG} and is never held in memory."""

    def test_overlongAmongLines(self) -> None:
        """A 10,000-byte line with max_line=100 is exactly one OVERLONG, in its place."""
        follower = self.followingEmpty(max_line=100)
        self.append(b"before\n" + b"y" * 10_000 + b"\nafter\n")
        self.assertEqual(follower.read(), ([b"before", OVERLONG, b"after"], False))

    def test_maxLineBoundary(self) -> None:
        """A line of exactly max_line bytes is kept; one byte more is OVERLONG."""
        follower = self.followingEmpty(max_line=100)
        self.append(b"k" * 100 + b"\n" + b"o" * 101 + b"\n")
        self.assertEqual(follower.read(), ([b"k" * 100, OVERLONG], False))

    def test_crlfLineOfMaxLine(self) -> None:
        """A line of exactly max_line bytes ended by CRLF is kept: its CR is not counted."""
        follower = self.followingEmpty(max_line=100)
        self.append(b"k" * 100 + b"\r\n")
        self.assertEqual(follower.read(), ([b"k" * 100], False))

    def test_slowWriteBounded(self) -> None:
        """
        A long line written in small pieces is never held beyond max_line bytes, and becomes
        exactly one OVERLONG once its newline arrives.
        """
        follower = self.followingEmpty(max_line=100)
        self.append(b"before\n")
        lines = list(follower.read()[0])
        for _ in range(10_000 // 37):
            self.append(b"y" * 37)
            found, more = follower.read()
            self.assertEqual((found, more), ([], False))
            self.assertLessEqual(follower.partial_bytes, 100)
        self.append(b"\nafter\n")
        lines.extend(follower.read()[0])
        self.assertEqual(lines, [b"before", OVERLONG, b"after"])

    def test_overlongInSlices(self) -> None:
        """A long line read in slices smaller than max_line is still one OVERLONG."""
        follower = self.followingEmpty(max_line=100)
        self.append(b"y" * 1000 + b"\nafter\n")
        self.assertEqual(self.readAll(follower, budget=30), [OVERLONG, b"after"])


class CloseTests(_LogTestCase):
    """L{LogFollower.close} lets go of every file."""

    def test_closeClosesFiles(self) -> None:
        """close() closes both the current file and any rotated-away file still held."""
        self.append(b"one\n")
        follower = self.follower()
        follower.read()
        os.rename(self.path, self.path + ".1")
        self.append(b"two\n")
        follower.read()
        held = follower.held_files()
        self.assertEqual([handle.closed for handle in held], [False, False])
        follower.close()
        self.assertEqual([handle.closed for handle in held], [True, True])
        self.assertIsNone(follower.offset)
        self.assertEqual(follower.held_files(), [])


class HeaderTests(_LogTestCase):
    """A follower given a C{header}: a file's first line that begins with it is not handed out
    (a syslog spool's, L{weblog.spool.HEADER})."""

    HEADER = b"#weblog syslog spool "

    def headed(self, read_back: int = 0) -> LogFollower:
        """A follower of the log that knows the spool's header."""
        follower = LogFollower(self.path, read_back, source="syslog:h/t", header=self.HEADER)
        self.addCleanup(follower.close)
        return follower

    def test_headerLeftOutOfReadBack(self) -> None:
        """Read back from its start, a file's header is not one of its lines."""
        self.append(self.HEADER + b"syslog:h/t 2026 token\n" + joined(numbered(3)))
        follower = self.headed(read_back=10)
        self.assertEqual(self.readAll(follower), numbered(3))
        self.assertEqual(follower.source, "syslog:h/t")

    def test_headerOfEachRotatedFile(self) -> None:
        """Each file's header is left out, through a rename rotation; a line that only looks
        like one, later in a file, is handed out."""
        follower = self.headed()
        self.assertEqual(follower.read(), ([], False))  # no file yet: the next is read whole
        self.append(self.HEADER + b"one\n" + joined(numbered(2)))
        self.assertEqual(self.readAll(follower), numbered(2))
        self.append(self.HEADER + b"not first\n")
        os.rename(self.path, self.path + ".1")
        self.append(self.HEADER + b"two\n" + joined(numbered(2, 2)))
        self.assertEqual(self.readAll(follower), [self.HEADER + b"not first", *numbered(2, 2)])

    def test_withoutHeaderFirstLineKept(self) -> None:
        """A follower without a header hands out a first line that looks like one."""
        self.append(self.HEADER + b"x\n")
        follower = LogFollower(self.path, 10)
        self.addCleanup(follower.close)
        self.assertEqual(self.readAll(follower), [self.HEADER + b"x"])
        self.assertEqual(follower.source, self.path)

# -*- test-case-name: tests.test_records -*-
"""Tests for L{weblog.records.Records}: the ring of the latest hits, the counts, and the polling."""

from __future__ import annotations

import os
from typing import Any

from weblog.following import LogFollower
from weblog.hit import Hit
from weblog.interfaces import IRecords
from weblog.logformat import compile_format
from weblog.parsing import AUTO, LineParser
from weblog.records import ENTRY_BYTES, Records
from zope.interface.verify import verifyObject

from tests.support import DirectoryCase, page_line, page_log, pages, resources


class RecordsCase(DirectoryCase):
    """Records over followers of the test's logs, all on the test's clock, stopped at cleanup."""

    def records(self, keep: int = 100, paths: list[str] | None = None,
                parser: LineParser = AUTO, **kwargs: Any) -> Records:
        """Records of C{paths} (default: the log), each read back C{keep} lines at the start."""
        followers = [LogFollower(path, read_back=keep, now=self.clock.seconds)
                     for path in paths or [self.path]]
        records = Records(followers, parser, keep=keep, clock=self.clock, **kwargs)
        self.addCleanup(records.stop)
        return records


class RecordsTests(RecordsCase):
    """L{Records} keeps the latest hits of the log and counts what it read."""

    def test_provides(self) -> None:
        """Records provides IRecords."""
        records = self.records()
        self.assertTrue(IRecords.providedBy(records))
        self.assertTrue(verifyObject(IRecords, records))

    def test_newestFirst(self) -> None:
        """getNew() returns the hits newest (last written) first."""
        self.append(page_log(range(5)))
        records = self.records()
        self.assertEqual(resources(records.getNew()), pages(range(4, -1, -1)))
        self.assertEqual(resources(list(records.newest())), pages(range(4, -1, -1)))
        self.assertEqual((records.lines, records.malformed), (5, 0))

    def test_hitFields(self) -> None:
        """A combined line becomes a hit with its fields."""
        self.append(page_line(3) + b"\n")
        [hit] = self.records().getNew()
        self.assertEqual(
            (hit.client, hit.method, hit.resource, hit.protocol, hit.status, hit.bytes),
            ("83.149.9.3", "GET", "/page/3", "HTTP/1.1", 200, 1003),
        )
        self.assertEqual(
            (hit.referrer, hit.agent),
            ("http://semicomplete.com/from/3", "Mozilla/5.0 (X11; Linux x86_64)"),
        )
        self.assertEqual(hit.time.isoformat(), "2015-05-17T10:00:03+00:00")

    def test_malformed(self) -> None:
        """A line that does not parse is counted as malformed and as a line, and not kept."""
        self.append(page_log(range(2)) + b"garbage\n" + page_log(range(2, 3)))
        records = self.records()
        self.assertEqual(resources(records.getNew()), pages(range(2, -1, -1)))
        self.assertEqual((records.lines, records.malformed), (4, 1))

    def test_overlongMalformed(self) -> None:
        """A line longer than the follower's longest line counts as malformed."""
        self.append(b"")
        records = self.records(slice_bytes=256 * 1024)  # the 70 KB line in one slice
        records.getNew()
        self.append(b"\n".join([page_line(1), page_line(2, length=70_000), page_line(3), b""]))
        self.assertEqual(resources(records.getNew()), ["/page/3", "/page/1"])
        self.assertEqual((records.lines, records.malformed), (3, 1))

    def test_ringBytesBound(self) -> None:
        """
        The ring holds at most ring_bytes of lines (and what each costs beside, ENTRY_BYTES):
        a log of long lines keeps fewer hits, the newest, with their ids; short lines fill it
        up to keep again.
        """
        self.append(b"")
        records = self.records(keep=100, ring_bytes=5 * (20_000 + ENTRY_BYTES) + 100)
        records.getNew()
        self.append(page_log(range(30), length=20_000))
        records.catchUp()
        self.assertEqual(resources(records.getNew()), pages(range(29, 24, -1)))
        self.assertEqual(records.status()["kept"], 5)
        self.assertEqual([(hit_id, hit.resource) for hit_id, hit in records.walk(28)],
                         [(30, "/page/29"), (29, "/page/28")])
        self.append(page_log(range(30, 130)))
        records.catchUp()
        self.assertEqual(resources(records.getNew()), pages(range(129, 29, -1)))
        self.assertEqual(records.lines, 130)

    def test_ringBytesBoundCustomFormat(self) -> None:
        """With a C{LogFormat}'s parser the ring keeps lines as read too, counted the same."""
        self.append(b"")
        parser = compile_format('%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"')
        records = self.records(keep=100, ring_bytes=5 * (20_000 + ENTRY_BYTES) + 100,
                               parser=parser)
        records.getNew()
        self.append(page_log(range(30), length=20_000))
        records.catchUp()
        kept = records.getNew()
        self.assertEqual(records.lines, 30)
        self.assertEqual(resources(kept), pages(range(29, 24, -1)))

    def test_ringBytesDefault(self) -> None:
        """By default the ring's lines may take WEBLOG_KEEP KiB in all, and at least 32 MiB."""
        self.assertEqual(self.records(keep=10).ring_bytes, 32 << 20)
        self.assertEqual(self.records(keep=100_000).ring_bytes, 100_000 * 1024)

    def test_keepBound(self) -> None:
        """
        Only the newest C{keep} hits are kept, and at start only that many lines are read back
        (and counted as lines).
        """
        self.append(page_log(range(20)))
        records = self.records(keep=5)
        self.assertEqual(resources(records.getNew()), pages(range(19, 14, -1)))
        self.assertEqual((records.lines, records.malformed), (5, 0))
        self.append(page_log(range(20, 23)))
        self.assertEqual(resources(records.getNew()), pages(range(22, 17, -1)))
        self.assertEqual((records.lines, records.malformed), (8, 0))

    def test_appended(self) -> None:
        """Lines appended to the log appear on the next getNew(), once."""
        self.append(page_log(range(2)))
        records = self.records()
        records.getNew()
        self.append(page_log(range(2, 4)))
        self.assertEqual(resources(records.getNew()), pages(range(3, -1, -1)))
        self.assertEqual(resources(records.getNew()), pages(range(3, -1, -1)))
        self.assertEqual(records.lines, 4)

    def test_newestDoesNotRead(self) -> None:
        """newest() iterates over the kept hits without reading the log."""
        self.append(page_log(range(2)))
        records = self.records()
        records.getNew()
        self.append(page_log(range(2, 4)))
        self.assertEqual(resources(list(records.newest())), pages(range(1, -1, -1)))

    def test_status(self) -> None:
        """status() gives the log's path, state and counts."""
        self.append(page_log(range(3)) + b"garbage\n")
        records = self.records(keep=10)
        records.getNew()
        self.assertEqual(
            records.status(),
            {
                "path": self.path,
                "state": "ok",
                "reason": "",
                "lines": 4,
                "malformed": 1,
                "rotations": 0,
                "truncations": 0,
                "kept": 3,
            },
        )

    def test_rotation(self) -> None:
        """A rename rotation is followed: the old file's rest, then the new file, counted."""
        self.append(page_log(range(2)))
        records = self.records()
        records.getNew()
        self.append(page_log(range(2, 3)))
        os.rename(self.path, self.path + ".1")
        self.append(page_log(range(3, 5)))
        self.assertEqual(resources(records.getNew()), pages(range(4, -1, -1)))
        self.assertEqual((records.lines, records.status()["rotations"]), (5, 1))

    def test_missingLog(self) -> None:
        """A missing log is a state, not an error; when it appears it is followed from its start."""
        records = self.records(keep=3)
        self.assertEqual(records.getNew(), [])
        status = records.status()
        self.assertEqual((status["state"], status["reason"]), ("missing", "not found"))
        self.append(page_log(range(5)))
        self.assertEqual(resources(records.getNew()), pages(range(4, 1, -1)))
        self.assertEqual((records.lines, records.status()["state"]), (5, "ok"))

    def test_listen(self) -> None:
        """A listener gets each batch of new hits until it unsubscribes."""
        self.append(page_log(range(2)))
        records = self.records()
        batches: list[list[str]] = []
        unlisten = records.listen(lambda hits, last: batches.append(resources(hits)))
        records.getNew()
        self.append(page_log(range(2, 3)) + b"garbage\n")
        records.getNew()
        records.getNew()
        self.assertEqual(batches, [pages(range(2)), pages(range(2, 3))])
        unlisten()
        self.append(page_log(range(3, 4)))
        records.getNew()
        self.assertEqual(batches, [pages(range(2)), pages(range(2, 3))])
        unlisten()

    def test_walk(self) -> None:
        """Hits are numbered from 1 as read; walk() gives the kept ones after a number."""
        self.append(page_log(range(5)))
        records = self.records(keep=3)
        records.getNew()
        self.assertEqual(records.hit_count, 3)
        self.append(page_log(range(5, 7)))
        records.getNew()
        self.assertEqual(records.hit_count, 5)
        numbered = list(records.walk(0))
        self.assertEqual([number for number, _ in numbered], [5, 4, 3])
        self.assertEqual(resources([hit for _, hit in numbered]), pages(range(6, 3, -1)))
        self.assertEqual(
            [(number, hit.resource) for number, hit in records.walk(4)], [(5, "/page/6")]
        )
        self.assertEqual(list(records.walk(5)), [])

    def test_severalLogs(self) -> None:
        """Several logs are all followed, each hit tagged with its own; a missing one is named."""
        other = os.path.join(self.directory, "other.log")
        self.append(page_log(range(2)))
        records = self.records(paths=[self.path, other])
        self.assertEqual(records.path, f"{self.path}:{other}")
        self.assertEqual(resources(records.getNew()), pages(range(1, -1, -1)))
        status = records.status()
        self.assertEqual((status["state"], status["reason"]), ("missing", f"{other}: not found"))
        self.assertEqual(
            status["files"],
            [
                {"path": self.path, "state": "ok", "reason": ""},
                {"path": other, "state": "missing", "reason": "not found"},
            ],
        )
        with open(other, "ab") as log:
            log.write(page_log(range(2, 3)))
        self.assertEqual(
            [(hit.resource, hit.source) for hit in records.getNew()],
            [("/page/2", other), ("/page/1", self.path), ("/page/0", self.path)],
        )
        self.assertEqual((records.status()["state"], records.lines), ("ok", 3))

class RecordsLoopTests(RecordsCase):
    """Once started, L{Records} polls the log on its clock, reading a backlog in slices."""

    def test_polls(self) -> None:
        """After start(), appended lines are read every interval without any getNew()."""
        self.append(page_log(range(2)))
        records = self.records(interval=1.0)
        records.start()
        self.assertEqual(resources(list(records.newest())), pages(range(1, -1, -1)))
        self.append(page_log(range(2, 4)))
        self.clock.advance(0.5)
        self.assertEqual(records.lines, 2)
        self.clock.advance(0.5)
        self.assertEqual(resources(list(records.newest())), pages(range(3, -1, -1)))
        self.assertEqual(records.lines, 4)

    def test_wake(self) -> None:
        """
        wake() polls 10 ms later, without waiting for the interval, but no sooner than
        WAKE_GAP after the last poll; repeated, it polls once.
        """
        self.append(b"")
        records = self.records(interval=60.0)
        records.start()  # polls at once, at time 0
        batches: list[list[str]] = []
        records.listen(lambda hits, last: batches.append(resources(hits)))
        self.append(page_log(range(2)))
        records.wake()
        records.wake()
        self.clock.advance(records.WAKE_GAP / 2)
        self.assertEqual(batches, [])  # within WAKE_GAP of the poll at start
        self.clock.advance(records.WAKE_GAP / 2)
        self.assertEqual(batches, [pages(range(2))])
        self.clock.advance(5)
        self.append(page_log(range(2, 3)))
        records.wake()
        self.clock.advance(0.01)  # long after the last poll: only the 10 ms delay
        self.assertEqual(batches, [pages(range(2)), pages(range(2, 3))])
        self.assertEqual([call.getTime() for call in self.clock.getDelayedCalls()], [60.0])

    def test_refreshRateLimitedOnceStarted(self) -> None:
        """
        refresh() (what pages call) polls unless a poll ran less than WAKE_GAP ago; before
        start() it always polls, as the article's getNew() did.
        """
        self.append(b"")
        records = self.records(interval=60.0)
        self.append(page_log(range(1)))
        records.refresh()
        self.assertEqual(records.lines, 1)  # not started: every refresh polls
        records.start()  # polls at once, at time 0
        self.append(page_log(range(1, 2)))
        self.clock.advance(records.WAKE_GAP / 2)
        records.refresh()
        self.assertEqual(records.lines, 1)  # polled a moment ago: the page may be that stale
        self.clock.advance(records.WAKE_GAP / 2)
        records.refresh()
        self.assertEqual(records.lines, 2)
        self.append(page_log(range(2, 3)))
        records.refresh()
        self.assertEqual(records.lines, 2)  # that refresh counts as the last poll

    def test_wakeStopped(self) -> None:
        """wake() before start() or after stop() schedules nothing."""
        records = self.records()
        records.wake()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        records.start()
        records.stop()
        records.wake()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_startTwice(self) -> None:
        """A second start() does not start a second loop."""
        records = self.records()
        records.start()
        records.start()
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)

    def test_backlogInSlices(self) -> None:
        """
        A backlog larger than slice_bytes is read one bounded slice per call (here 2000 bytes,
        10 lines of 200 bytes), the rest in calls scheduled at once on the clock; every line
        once, and the hits are made (and listeners told) once the backlog is read.
        """
        self.append(b"")
        records = self.records(keep=1000, interval=1.0, slice_bytes=2000)
        records.getNew()
        batches: list[tuple[list[str], int]] = []
        records.listen(lambda hits, last: batches.append((resources(hits), last)))
        self.append(page_log(range(35), length=199))
        records.start()
        self.assertEqual(records.lines, 10)
        self.assertEqual(batches, [])
        self.assertEqual(sorted(call.getTime() for call in self.clock.getDelayedCalls()), [0, 1])
        self.clock.advance(0)
        self.assertEqual(batches, [(pages(range(35)), 35)])
        self.assertEqual(records.lines, 35)
        self.assertEqual(records.last_id, 35)
        self.assertEqual([call.getTime() for call in self.clock.getDelayedCalls()], [1])

    def test_stop(self) -> None:
        """stop() leaves no call on the clock, even with a backlog waiting, and polls no more."""
        self.append(b"")
        records = self.records(keep=1000, interval=1.0, slice_bytes=2000)
        records.getNew()
        self.append(page_log(range(35), length=199))
        records.start()
        self.assertEqual(records.lines, 10)
        records.stop()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(10)
        self.assertEqual(records.lines, 10)

    def test_stopDuringBacklog(self) -> None:
        """
        stop() from a listener, while the interval's poll is due, leaves nothing scheduled.

        The poll at the interval comes while slices of a backlog are scheduled, and must not
        start a second chain that stop() would not cancel.
        """
        self.append(b"")
        records = self.records(keep=1000, interval=1.0, slice_bytes=2000)
        records.getNew()
        self.append(page_log(range(35), length=199))
        batches: list[list[str]] = []

        def listener(hits: list[Hit], last: int) -> None:
            batches.append(resources(hits))
            records.stop()

        records.listen(listener)
        records.start()
        self.clock.advance(1)
        self.assertEqual(batches, [pages(range(35))])
        self.assertEqual(records.lines, 35)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.append(page_log(range(35, 40), length=199))
        self.clock.advance(5)
        self.assertEqual(records.lines, 35)


class NonAsciiRingBytesTests(DirectoryCase):
    """A line read as text that is not ASCII counts 4 bytes a byte: its text may take that."""

    def test_undecodableLinesCountMore(self):
        """Lines of undecodable bytes keep fewer in the ring than plain lines of that length."""
        ring = Records([], keep=100, ring_bytes=10 * (4 * 1000 + ENTRY_BYTES) + 1000)
        escaped = b'1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /\\x41 HTTP/1.1" 200 1 "-" "'
        line = escaped + b"\xff" * (1000 - len(escaped) - 1) + b'"'
        ring.ingest([line] * 30)
        self.assertEqual(ring.status()["kept"], 10)
        plain = line.replace(b"\xff", b"a")
        ring.ingest([plain] * 30)
        self.assertEqual(ring.status()["kept"], 30)

# -*- test-case-name: tests.test_storing -*-
"""
The store's one writer: reads each log and its rotated siblings into the store, exactly once.

L{Storing.step} stores one batch of one file, oldest file first: a file's
stored position says where to go on, its identity which file it is whatever it
is now called, so a restart (or a crash) goes on where the last transaction
ended.  It blocks on files and on DuckDB: it runs in the historian's writer
thread, never on a reactor (see L{weblog.historian}).  A batch is made into hits
a slice at a time, and each slice's hits are added to the store by a thread of
its own while the next slice is made, in the batch's one transaction.
"""

from __future__ import annotations

import gzip
import os
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

import pyarrow as pa

from weblog.appending import Stored
from weblog.batches import hits_of
from weblog.logfiles import identity, identity_of, open_log, siblings
from weblog.parsing import AUTO, LineParser
from weblog.spool import HEADER, spool_files

__all__ = ["Progress", "Storing", "share_python"]

BATCH_BYTES = 32 << 20
"""The most bytes of a file stored in one transaction: enough lines, in a log of usual lines,
for DuckDB to write them to the file as whole row groups (122,880 rows) rather than through
its write-ahead log, which takes twice the time."""
SLICE_BYTES = 4 << 20
"""The most bytes made into hits at once (a batch is made a slice at a time): each slice is one
INSERT, about 1 ms to plan whatever its size (4 MiB ones take 20 MB more than 1 MiB ones)."""
SWITCH_INTERVAL = 0.0002
"""Seconds a thread runs Python before another may have Python's lock, in the writer's process:
the thread that adds a slice's hits to DuckDB needs the lock now and then, and at Python's
default (5 ms) it waits more than it works beside the thread that makes the next slice (adding
1 MiB slices took 7 times as long beside a busy thread; 1.2 times at this interval)."""
_ARROW = pa.default_memory_pool()  # emptied after each slice (else mimalloc keeps 30 MB more)
SETTLED = 60.0
"""Seconds after which a rotated file that did not change is taken as finished."""


class _Reading(NamedTuple):
    """The file being read, kept open between batches, and where its reading is."""
    log: IO[bytes]
    known: str
    seen: tuple[int, ...]
    position: int
    """Where the file was read up to."""
    rest: bytes
    """What was read of it after the last complete line (read again as the next batch's start)."""


@dataclass
class Progress:
    """How far the store is: bytes of the logs stored and to store, and the pace."""

    bytes_done: int = 0
    bytes_total: int = 0
    lines: int = 0
    """Lines stored since this writer started (hits and malformed)."""
    stored_bytes: int = 0
    """Bytes of lines stored since this writer started."""
    busy: float = 0.0
    """Seconds spent storing them."""

    def to_json(self) -> dict[str, Any]:
        """The progress as the JSON C{history} object carries it; the pace is while storing."""
        busy = max(self.busy, 1e-9)
        left = max(self.bytes_total - self.bytes_done, 0)
        speed = self.stored_bytes / busy
        return {
            "bytes_done": self.bytes_done,
            "bytes_total": self.bytes_total,
            "lines_per_second": round(self.lines / busy) if self.lines else 0,
            "seconds_left": round(left / speed) if speed else None,
        }


def _content_size(path: str) -> int:
    """The bytes of a log's content: its size, or for gzip the size its trailer records."""
    size = os.stat(path).st_size
    if not path.endswith(".gz") or size < 4:
        return size
    with open(path, "rb") as file:
        file.seek(-4, os.SEEK_END)
        return int.from_bytes(file.read(4), "little")  # modulo 4 GiB, as gzip keeps it


def share_python() -> None:
    """Let the writer's threads take turns with Python's lock often (see L{SWITCH_INTERVAL}):
    for the process that runs a L{Storing}, once."""
    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))


class Storing:
    """
    Reads the logs into a store, a batch a step.

    @ivar progress: how far it is.
    @ivar on_batch: called with what each batch stored.
    """

    def __init__(self, store: Any, paths: Sequence[str], parser: LineParser = AUTO,
                 batch_bytes: int = BATCH_BYTES,
                 on_batch: Callable[[Stored], None] | None = None,
                 spool: str | None = None) -> None:
        """
        @param store: a L{weblog.store.Store} (or what has its C{position}, C{begin} and
            C{append}).
        @param paths: the logs followed; each is read after its rotated siblings.
        @param parser: reads their lines.
        @param batch_bytes: the most bytes read for one transaction.
        @param on_batch: called with what each batch stored.
        @param spool: the directory of the syslog spool (L{weblog.spool}), whose files are
            followed too, as they come, and each of whose C{.1} is deleted once stored.
        """
        self.store, self.paths, self.parser = store, list(paths), parser
        self.batch_bytes, self.progress, self.on_batch = batch_bytes, Progress(), on_batch
        self.spool = spool
        self._spooled: dict[str, str] = {}
        """The spool's files followed, and their sources."""
        self._spool_turn = True
        """Whether the spool's files come first at the next step: the logs' and the spool's
        batches take turns, so that neither a backfill nor a busy sender holds the other up."""
        self._sources = len(self.paths) > 1 or spool is not None
        self._reading: _Reading | None = None
        self._stored: set[tuple[int, ...]] = set()
        """The files (device, inode, size, modification) found all stored, not read again."""
        self.last_batch = 0
        """The bytes of the last batch stored."""
        self._adder = ThreadPoolExecutor(1, thread_name_prefix="history-add")
        """Adds a slice's hits to the store while the next slice is made."""

    def measure(self) -> None:
        """Find the spool's new files; work out how many bytes the logs hold, and how many of
        them are stored."""
        if self.spool is not None:
            for path, source in spool_files(self.spool):
                if path not in self._spooled:
                    self._spooled[path] = source
                    self.paths.append(path)
        done = total = 0
        for path in self.paths:
            for name in siblings(path):
                try:
                    size = _content_size(name)
                    known = identity(name)
                except OSError:
                    continue
                total += size
                stored = None if known is None else self.store.position(known)
                done += 0 if stored is None else min(stored[0], size)
        self.progress.bytes_done, self.progress.bytes_total = done, total

    def step(self) -> bool:
        """
        Store one batch of the oldest file that has lines not yet stored (the logs' and the
        spool's files taking turns).

        @return: whether a batch was stored (False: all is stored, for now).
        @raise weblog.store.StoreError: if the store cannot be written.
        """
        began = time.monotonic()
        spooled = [path for path in self.paths if path in self._spooled]
        logs = [path for path in self.paths if path not in self._spooled]
        for path in (spooled + logs) if self._spool_turn else (logs + spooled):
            for name in siblings(path):
                try:
                    stored = self._step_file(name, path)
                except (OSError, EOFError, gzip.BadGzipFile, zlib.error):
                    continue  # gone, unreadable or still being compressed: next time
                if stored:
                    self.progress.busy += time.monotonic() - began
                    self._spool_turn = path not in self._spooled
                    return True
        return False

    def _step_file(self, name: str, path: str) -> bool:
        """
        Store the next batch of the file C{name} (a sibling of C{path}), if it has one.

        The file is opened once, and its identity read from that opening, so a
        rename meanwhile cannot mix two files up; a file found all stored is not
        opened again until it changes.  A compressed file (which logrotate never
        changes in place) stays open between batches: through gzip, reading on is
        cheap, and seeking to the stored position means decompressing up to it.
        """
        info = os.stat(name)
        seen = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        if seen in self._stored and (name == path or path not in self._spooled):
            return False  # (a spool's .1, all stored as the spool's file, is to be deleted)
        kept = self._reading
        if kept is not None and kept.seen[:2] == seen[:2]:
            log, known = kept.log, kept.known
        else:
            log = open_log(name)
            found = identity_of(log)
            if found is None:
                log.close()
                return False
            known = found
        try:
            return self._store_from(log, known, seen, info.st_mtime, name, path)
        finally:
            if self._reading is None or self._reading.log is not log:
                log.close()

    def _store_from(self, log: IO[bytes], known: str, seen: tuple[int, ...], mtime: float,
                    name: str, path: str) -> bool:
        """
        Store the next batch of the open file C{log}, known as C{known}, if it has one: up to
        C{batch_bytes} of whole lines, made into hits a slice at a time.
        """
        stored = self.store.position(known)
        start = 0 if stored is None else stored[0]
        slice_bytes = min(self.batch_bytes, SLICE_BYTES)
        data = self._read(log, start, slice_bytes)
        end = data.rfind(b"\n") + 1
        if end == 0:
            if len(data) >= slice_bytes:  # a line longer than a slice: malformed
                return self._skip_long(log, known, seen, name, start, start + len(data))
            self._forget(keep=None)
            if not data and name != path and path in self._spooled:
                _delete(name, log)  # a spool's .1, all stored: the spool rotates once it is gone
                return False
            if data and name != path:  # a rotated file that ends without a newline:
                if time.time() - mtime > SETTLED:  # its last line is malformed, once settled
                    return self._append(known, name, start, start + len(data), 1)
                return False  # looked at again until then (it will not change to say so)
            if len(self._stored) >= 4096:
                self._stored.clear()
            self._stored.add(seen)
            return False
        self._forget(keep=log)
        appending = self.store.begin(known, name, start)
        if appending is None:
            return True  # stored already (by an earlier writer): the next step goes on
        source = self._spooled.get(path, path) if self._sources else None
        skip = data.find(b"\n") + 1 if start == 0 and path in self._spooled \
            and data.startswith(HEADER) else 0  # a spool's first line: not the log's
        lines, position, read_to = 0, start, start + len(data)
        adding: Future[None] | None = None
        with appending:
            try:
                while end:
                    count, table = hits_of(data[skip:end], self.parser, source)
                    skip = 0
                    lines += count
                    position += end
                    if table is not None:  # stored while the next slice is made
                        if adding is not None:
                            adding.result()
                        adding = self._adder.submit(appending.add, table)
                    _ARROW.release_unused()  # the last slice's memory, to the system
                    data = data[end:]
                    wanted = min(slice_bytes, start + self.batch_bytes - position) - len(data)
                    more = log.read(wanted) if wanted > 0 else b""
                    read_to += len(more)
                    data += more
                    end = data.rfind(b"\n") + 1 if more else 0
            finally:
                if adding is not None:
                    wait([adding])  # never two statements on the store at once
            if adding is not None:
                adding.result()
            appending.commit(position, lines)
        if name.endswith(".gz"):
            self._reading = _Reading(log, known, seen, read_to, data)
        self._count(start, position, lines, appending.stored)
        return True

    def _read(self, log: IO[bytes], start: int, size: int) -> bytes:
        """Up to C{size} bytes of C{log} from C{start}: read on from the last batch if it is
        there."""
        kept = self._reading
        if kept is not None and kept.log is log and kept.position - len(kept.rest) == start:
            return kept.rest + log.read(max(size - len(kept.rest), 0))
        log.seek(start)
        return log.read(size)

    def _forget(self, keep: IO[bytes] | None) -> None:
        """Close the file kept open between batches, unless it is C{keep}; keep none."""
        if self._reading is not None and self._reading.log is not keep:
            self._reading.log.close()
        self._reading = None

    def _skip_long(self, log: IO[bytes], known: str, seen: tuple[int, ...], name: str,
                   start: int, position: int) -> bool:
        """
        Store as one malformed line the line that starts at C{start} and goes on past
        C{position}, where C{log} was read to, once it is finished; a compressed file stays open
        for the next batch.
        """
        while chunk := log.read(SLICE_BYTES):
            newline = chunk.find(b"\n")
            if newline >= 0:
                after = position + newline + 1
                self._forget(keep=log)
                if name.endswith(".gz"):
                    self._reading = _Reading(log, known, seen, position + len(chunk),
                                             chunk[newline + 1:])
                return self._append(known, name, start, after, 1)
            position += len(chunk)
        self._forget(keep=None)
        return False  # unfinished: looked at again when the file changes

    def close(self) -> None:
        """Close the file kept open between batches, and end the thread that adds hits."""
        self._forget(keep=None)
        self._adder.shutdown()

    def _append(self, known: str, name: str, start: int, end: int, lines: int) -> bool:
        """Store a batch of malformed lines (the position alone)."""
        if end <= start:
            return False
        if self.store.append(known, name, start, end, lines, None):
            self._count(start, end, lines, Stored())
        return True  # stored (or already, by an earlier writer): the next step goes on

    def _count(self, start: int, end: int, lines: int, stored: Stored) -> None:
        """Count a batch just stored in the progress, and say what it stored."""
        self.last_batch = end - start
        self.progress.bytes_done += end - start
        self.progress.stored_bytes += end - start
        self.progress.lines += lines
        if self.on_batch is not None:
            self.on_batch(stored)


def _delete(path: str, log: IO[bytes]) -> None:
    """Delete the file at C{path} if it is still the open C{log} (not one put there since)."""
    try:
        there, opened = os.stat(path), os.fstat(log.fileno())
        if (there.st_dev, there.st_ino) == (opened.st_dev, opened.st_ino):
            os.unlink(path)
    except OSError:
        pass

# -*- test-case-name: tests.test_following -*-
"""
Follow a growing log file by (device, inode, offset), through rotation, truncation and deletion.

This is file following only: it hands out complete lines as bytes and knows
nothing of their format.  The method is pygtail's: remember which file was
open and how far it was read; when the path names another file (a rename
rotation, or delete and recreate), finish the old file first, then read the
new one from its start; when the file shrinks (copytruncate), start again at 0.
Files are opened with L{files.open_regular}: a FIFO, socket or device at the
path is a state (C{"unreadable"}, C{"is a FIFO"}), never a read that waits.
"""

from __future__ import annotations

import os
import stat
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from weblog.files import describe, open_regular

__all__ = ["OVERLONG", "LogFollower"]

OVERLONG = None
"""Stands in the list of lines for a line longer than the follower's C{max_line}."""

Line = bytes | None


@dataclass
class _OpenLog:
    """One open log file and how far it has been read."""

    file: BinaryIO
    ident: tuple[int, int]
    offset: int = 0
    partial: bytes = b""
    discard_first: bool = False
    overlong: bool = False
    seen_mtime: int = 0
    finished: bool = False
    mark: bytes = b""
    idle_since: float | None = None

    def close(self) -> None:
        """Close the file."""
        self.file.close()


class LogFollower:
    """
    Read what was appended to one log path since the last read, as complete lines.

    @ivar path: the path followed, as given.
    @ivar source: what its hits are said to come from.
    @ivar state: C{"ok"}, C{"missing"} or C{"unreadable"}.
    @ivar reason: one line on why the state is not C{"ok"}, else C{""}.
    @ivar rotations: how many times the path came to name another file.
    @ivar truncations: how many times the file shrank under the reader.
    """

    _BLOCK = 64 * 1024
    _READ_BACK_LIMIT = 32 * 1024 * 1024
    _MAX_RETIRED = 4

    def __init__(self, path: str, read_back: int = 0, max_line: int = 64 * 1024,
                 linger: float = 30.0, now: Callable[[], float] = time.monotonic,
                 source: str | None = None, header: bytes = b"") -> None:
        """
        @param path: the log file to follow.
        @param read_back: at the first open, how many complete lines to read
            back from the end of the file (the rest of it is skipped); a file
            that only appears later is read from its start.
        @param max_line: a line longer than this many bytes is not kept; it is
            handed out as L{OVERLONG} once its end is seen.
        @param linger: seconds a rotated-away file is still read after it last
            grew, for writers that keep appending to it for a while.
        @param now: the clock for C{linger}.
        @param source: what its hits are said to come from; default its path.
        @param header: a first line that begins with this is not a line of the log (a spool's,
            L{weblog.spool.HEADER}).
        """
        self.path = path
        self.source = path if source is None else source
        self._header = header
        self.state, self.reason = "missing", "not opened yet"
        self.rotations = self.truncations = 0
        self._read_back, self._max_line = read_back, max_line
        self._linger, self._now = linger, now
        self._current: _OpenLog | None = None
        self._retired: list[_OpenLog] = []
        self._finished: deque[tuple[int, int]] = deque(maxlen=16)
        self._at_start = True

    def close(self) -> None:
        """Close every file this follower holds open."""
        for log in self._retired:
            log.close()
        self._retired = []
        if self._current is not None:
            self._current.close()
            self._current = None

    @property
    def offset(self) -> int | None:
        """How far the file the path names has been read, in bytes; None while none is open."""
        return None if self._current is None else self._current.offset

    @property
    def partial_bytes(self) -> int:
        """How many bytes of that file's unfinished last line are held (at most C{max_line} + 1)."""
        return 0 if self._current is None else len(self._current.partial)

    @property
    def max_line(self) -> int:
        """The longest line handed out, in bytes; a longer one is handed out as L{OVERLONG}."""
        return self._max_line

    def held_files(self) -> list[BinaryIO]:
        """The open files, to look at only: the path's, then the rotated-away ones, oldest first."""
        return [log.file for log in ([self._current] if self._current else []) + self._retired]

    def read(self, budget: int = 1 << 20) -> tuple[list[Line], bool]:
        """
        Read complete lines appended since the last call, up to about C{budget} bytes.

        @param budget: the most bytes to read in this call, so that a large
            backlog is read in slices that never block the caller for long.
        @return: the lines (without line endings; L{OVERLONG} for each line
            that was too long) and whether more is already waiting.
        """
        lines: list[Line] = []
        try:
            return self._read(lines, budget)
        finally:
            self._at_start = False

    def _read(self, lines: list[Line], budget: int) -> tuple[list[Line], bool]:
        """Do L{read}'s work, collecting into C{lines}."""
        budget = self._drain_retired(lines, budget)
        if budget <= 0:
            return lines, True
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            self._retire_current()
            self._set_state("missing", "not found")
            budget = self._drain_retired(lines, budget)
            return lines, budget <= 0
        except OSError as error:
            self._set_state("unreadable", error.strerror or str(error))
            return lines, False
        if not stat.S_ISREG(info.st_mode):
            # The path names a directory, FIFO, socket or device: the file followed is gone
            # from it, as after a deletion, and a regular file there again is read from its start.
            self._retire_current()
            self._set_state("unreadable", describe(info.st_mode))
            budget = self._drain_retired(lines, budget)
            return lines, budget <= 0
        current = self._current
        if current is not None and current.ident != (info.st_dev, info.st_ino):
            self.rotations += 1
            missed = self._missed_rotations(current, (info.st_dev, info.st_ino))
            self._retire_current()
            self._retired.extend(missed)
            self.rotations += len(missed)
            budget = self._drain_retired(lines, budget)
            if budget <= 0:
                return lines, True
        if self._current is None and not self._open():
            return lines, False
        assert self._current is not None
        more = self._read_from(self._current, lines, budget)
        return lines, more

    def _set_state(self, state: str, reason: str) -> None:
        """Record the path's state and the reason for it."""
        self.state = state
        self.reason = reason

    def _open(self) -> bool:
        """Open the path; at the very first open, start near its end. Return success."""
        try:
            handle = open_regular(self.path)  # kept open while followed
        except FileNotFoundError:
            self._set_state("missing", "not found")
            return False
        except OSError as error:  # NotRegularFile too: "is a FIFO", ...
            self._set_state("unreadable", error.strerror or str(error))
            return False
        info = os.fstat(handle.fileno())
        log = _OpenLog(handle, (info.st_dev, info.st_ino))
        if self._at_start:
            self._start_near_end(log, info.st_size)
        self._current = log
        self._set_state("ok", "")
        return True

    def _start_near_end(self, log: _OpenLog, size: int) -> None:
        """
        Start C{log} where its last C{read_back} complete lines begin (and a partial last one).

        Only the place is found here, from the end backwards, a block at a time; the
        lines are then read by the reads that follow, in their budgets, as any backlog.
        """
        wanted = self._read_back
        limit = min(max(wanted, 1) * self._max_line, self._READ_BACK_LIMIT)
        fileno = log.file.fileno()
        end = size
        seen = 0  # newlines in [end, size)
        while end > 0 and size - end < limit:
            step = min(self._BLOCK, end)
            block = os.pread(fileno, step, end - step)
            found = block.count(b"\n")
            if seen + found > wanted:  # the newline before the wanted lines is in this block
                position = len(block)
                for _ in range(wanted + 1 - seen):
                    position = block.rindex(b"\n", 0, position)
                log.offset = end - step + position + 1
                return
            seen += found
            end -= step
        log.offset = end
        # Reading starts inside a line unless the byte before is a newline: drop that line's end.
        log.discard_first = end > 0 and os.pread(fileno, 1, end - 1) != b"\n"

    def _missed_rotations(self, left: _OpenLog, new: tuple[int, int]) -> list[_OpenLog]:
        """
        Files rotated in and out again between two reads (at C{path.1} ... C{path.5}), oldest first.

        A candidate counts only if it is none of the files already held or
        finished, and it was written after the file being left was last read.
        """
        known = {left.ident, new, *self._finished, *(log.ident for log in self._retired)}
        found: list[tuple[int, _OpenLog]] = []
        for number in range(1, 6):
            try:
                handle = open_regular(f"{self.path}.{number}")  # kept open until read
            except OSError:  # missing, unreadable, or no regular file (a FIFO would block)
                continue
            info = os.fstat(handle.fileno())
            ident = (info.st_dev, info.st_ino)
            if ident in known or info.st_mtime_ns <= left.seen_mtime:
                handle.close()
                continue
            found.append((info.st_mtime_ns, _OpenLog(handle, ident)))
        return [log for _, log in sorted(found, key=lambda pair: pair[0])]

    def _retire_current(self) -> None:
        """Keep the current file open to finish it: the path now names another file, or none."""
        if self._current is not None:
            self._retired.append(self._current)
            self._current = None
            while len(self._retired) > self._MAX_RETIRED:
                oldest = self._retired.pop(0)
                self._finished.append(oldest.ident)
                oldest.close()

    def _drain_retired(self, lines: list[Line], budget: int) -> int:
        """Read what is left in rotated-away files, oldest first; return the budget left."""
        for log in list(self._retired):
            before = log.offset
            more = self._read_from(log, lines, budget)
            budget -= log.offset - before
            if more:
                return 0
            now = self._now()
            if log.finished or (log.idle_since is not None and log.offset == before
                                and now - log.idle_since >= self._linger):
                self._retired.remove(log)
                self._finished.append(log.ident)
                log.close()
            elif log.offset != before or log.idle_since is None:
                log.idle_since = now
        return budget

    def _read_from(self, log: _OpenLog, lines: list[Line], budget: int) -> bool:
        """Read up to C{budget} bytes from C{log} into C{lines}; return whether more waits."""
        fileno = log.file.fileno()
        info = os.fstat(fileno)
        size = info.st_size
        log.seen_mtime = info.st_mtime_ns
        if size < log.offset or self._rewritten(log, size):
            if log is not self._current:
                # A rotated-away file that shrinks was reused for other content (say, a
                # copytruncate's copy written over it): what it had was read; stop there.
                log.finished = True
                return False
            self.truncations += 1
            log.offset = 0
            log.partial = log.mark = b""
            log.overlong = log.discard_first = False
        want = min(budget, size - log.offset)
        if want <= 0:
            return False
        data = os.pread(fileno, want, log.offset)
        header = self._header
        if log.offset == 0 and header and data[:len(header)] == header[:len(data)]:
            log.discard_first = True
        log.offset += len(data)
        log.mark = (log.mark + data[-64:])[-64:]
        self._split(log, data, lines)
        return log.offset < size

    @staticmethod
    def _rewritten(log: _OpenLog, size: int) -> bool:
        """
        Whether a file that grew no longer ends, where we stopped, with what we last read.

        That is a copytruncate whose new content already outgrew the old before this read.
        """
        if not log.mark or size <= log.offset:
            return False
        start = log.offset - len(log.mark)
        return os.pread(log.file.fileno(), len(log.mark), start) != log.mark

    def _add(self, piece: bytes, lines: list[Line]) -> None:
        """Add one line, without its CR, or OVERLONG in its place when it is too long."""
        if piece.endswith(b"\r"):
            piece = piece[:-1]
        lines.append(OVERLONG if len(piece) > self._max_line else piece)

    def _split(self, log: _OpenLog, data: bytes, lines: list[Line]) -> None:
        """Cut C{data} into lines after C{log}'s pending partial line; keep the new partial."""
        pieces = data.split(b"\n")
        tail = pieces.pop()
        if pieces:
            first = log.partial + pieces[0]
            if log.discard_first:
                log.discard_first = False
            elif log.overlong:
                log.overlong = False
                lines.append(OVERLONG)
            else:
                self._add(first, lines)
            rest = pieces[1:]
            if rest and data.find(b"\r") < 0 and max(map(len, rest)) <= self._max_line:
                lines += rest  # the common case, without a step per line in Python
            else:
                for piece in rest:
                    self._add(piece, lines)
        log.partial = tail if pieces else log.partial + tail
        if len(log.partial) > self._max_line + 1:  # + 1: room for a CR before the newline
            log.partial = b""
            log.overlong = not log.discard_first

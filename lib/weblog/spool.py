# -*- test-case-name: tests.test_spool -*-
"""
The lines received over syslog, written to one file per sender, for the server and the historian
to follow as they follow any log.

A sender is its host and tag: its lines go to C{HOST~TAG.log} in the spool's
directory (C{$WEBLOG_STATE/syslog}), and its hits are the source
C{syslog:HOST/TAG}.  Each file begins with a line of its own (L{HEADER}, the
source, the time and a random token), which no reader counts: it makes the
file's identity (L{weblog.logfiles.identity}, the digest of its first line)
unique, since two senders' first lines may well be the same bytes.  A message
line never begins with C{#} (one that did has it escaped as C{\\x23}), nor
holds a newline (escaped as C{\\x0A}), so a spool's lines are the messages.

Bounded: at most L{MOST_SOURCES} senders have files (the lines of any other go
to C{overflow.log}, the source C{syslog:*/*}); a file is rotated to C{.1} once
it passes L{FILE_BYTES}.  When the history reads the spool, the historian
deletes a C{.1} once it has stored it all, and a file is rotated only when its
C{.1} is gone: nothing is lost to the history.  A file that passes L{FILE_MOST}
meanwhile (the historian is that far behind) waits for it: the receiver then
reads no more from TCP senders (they wait, as TCP does), and drops, counted,
the UDP lines for that file.  Without a history, a C{.1} is replaced.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

__all__ = ["FILE_BYTES", "FILE_MOST", "HEADER", "MOST_SOURCES", "OVERFLOW", "Spool",
           "spool_files", "source_of"]

_log = Logger()

HEADER = b"#weblog syslog spool "
"""How a spool file's first line begins; that line is not a hit, nor a malformed line."""
FILE_BYTES = 16 << 20
"""A spool file is rotated to C{.1} once it is this big."""
FILE_MOST = 2 * FILE_BYTES
"""A spool file whose C{.1} the historian has not stored yet is rotated anyway at this size."""
MOST_SOURCES = 64
"""The most senders with files of their own."""
OVERFLOW = "syslog:*/*"
"""The source of the lines of senders past L{MOST_SOURCES}."""
_OVERFLOW_NAME = "overflow.log"
FLUSH_DELAY = 0.05
"""Seconds lines wait in memory before they are written (more are written at once)."""
FLUSH_BYTES = 64 * 1024
"""A sender's lines are written at once when this many wait."""
CHECK_INTERVAL = 0.2
"""Seconds between two looks at whether the historian stored the C{.1} a file waits for."""


def _file_name(host: str, tag: str) -> str:
    """The name of a sender's file: its host and tag (cleaned: neither holds a C{~} or C{/})."""
    return f"{host}~{tag}.log"


def source_of(name: str) -> str | None:
    """The source of the spool file called C{name} (no directory), or None if it is not one."""
    if name == _OVERFLOW_NAME:
        return OVERFLOW
    host, tilde, tag = name.removesuffix(".log").partition("~")
    if not name.endswith(".log") or not tilde or not host or not tag:
        return None
    return f"syslog:{host}/{tag}"


def spool_files(directory: str) -> list[tuple[str, str]]:
    """The spool files in C{directory} (not their rotated C{.1}), with their sources, by name."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    found = []
    for name in names:
        source = source_of(name)
        if source is not None:
            found.append((os.path.join(directory, name), source))
    return found


def escaped(text: bytes) -> bytes:
    """A message as a spool line: its newlines and CRs escaped, and a leading C{#}."""
    if text.find(b"\n") >= 0 or text.find(b"\r") >= 0:
        text = text.replace(b"\n", b"\\x0A").replace(b"\r", b"\\x0D")
    if text.startswith(b"#"):
        text = b"\\x23" + text[1:]
    return text


class _File:
    """One sender's spool file, open for appending, and the lines waiting to be written to it."""

    def __init__(self, path: str, source: str) -> None:
        self.path = path
        self.source = source
        self.waiting: list[bytes] = []
        self.waiting_bytes = 0
        self.fd = -1
        self.size = 0

    def open(self) -> None:
        """Open (or create) the file for appending; a new or empty one gets its header."""
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                          0o640)
        self.size = os.fstat(self.fd).st_size
        if self.size == 0:
            begun = datetime.now(UTC).isoformat(timespec="microseconds")
            header = b"%s%s %s %s\n" % (HEADER, self.source.encode("ascii", "replace"),
                                       begun.encode(), secrets.token_hex(8).encode())
            self.size += os.write(self.fd, header)

    def gone(self) -> bool:
        """Whether the path no longer names the open file (it was deleted, or moved away)."""
        try:
            info = os.stat(self.path)
        except OSError:
            return True
        mine = os.fstat(self.fd)
        return (info.st_dev, info.st_ino) != (mine.st_dev, mine.st_ino)

    def close(self) -> None:
        """Close the file, if open."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Spool:
    """
    Writes each sender's lines to its file, a little later and many at once.

    @ivar lines: lines written, all senders.
    @ivar lost: lines that could not be written (the disk is full, the directory gone), or
        were dropped while their file waited for the historian (see L{accepts}).
    @ivar overflowed: lines of senders past L{MOST_SOURCES}, written to the overflow's file.
    @ivar behind: whether a sender's file waits for the historian to store its C{.1}.
    @ivar reason: why the last write failed, C{""} once one succeeds again.
    """

    def __init__(self, directory: str, clock: IReactorTime, historian_deletes: bool,
                 on_new: Callable[[str, str], None] | None = None,
                 on_written: Callable[[], None] | None = None,
                 on_free: Callable[[], None] | None = None) -> None:
        """
        @param directory: where the files are (made if missing).
        @param clock: schedules the writes.
        @param historian_deletes: whether a historian deletes each C{.1} it has stored (else a
            file is rotated at L{FILE_BYTES} whatever its C{.1}).
        @param on_new: called with the path and source of each file made for a new sender.
        @param on_written: called after lines were written.
        @param on_free: called when no file waits for the historian any more.
        """
        self.directory = directory
        self._clock = clock
        self._historian_deletes = historian_deletes
        self._on_new = on_new
        self._on_written = on_written
        self._on_free = on_free
        self._files: dict[tuple[str, str], _File] = {}
        """The file of each sender (host, tag) written to since the start."""
        self._by_path: dict[str, _File] = {}
        self._known = {source for _, source in spool_files(directory)}
        self._flushing: IDelayedCall | None = None
        self.lines = 0
        self.lost = 0
        self.overflowed = 0
        self.reason = ""
        self._waiting: set[_File] = set()
        """The files past L{FILE_MOST} whose C{.1} the historian has not stored yet."""
        self._checking: IDelayedCall | None = None

    @property
    def sources(self) -> int:
        """How many senders have files (the overflow's counts as one)."""
        return len(self._known)

    def add(self, host: str, tag: str, text: bytes) -> None:
        """
        Write a message's text as a line of the file of its sender (cleaned C{host} and
        C{tag}), soon.
        """
        key = (host, tag)
        spooled = self._files.get(key)
        if spooled is None:
            spooled = self._file(host, tag)
        line = escaped(text) + b"\n"
        spooled.waiting.append(line)
        spooled.waiting_bytes += len(line)
        if spooled.waiting_bytes >= FLUSH_BYTES:
            self._write(spooled)
            self._written()
        elif self._flushing is None:
            self._flushing = self._clock.callLater(FLUSH_DELAY, self.flush)

    def _file(self, host: str, tag: str) -> _File:
        """
        The file of a sender not written to yet: its own, or past L{MOST_SOURCES} senders the
        overflow's (and then not remembered by the sender, so that memory stays bounded).
        """
        source = f"syslog:{host}/{tag}"
        if source in self._known or len(self._known) < MOST_SOURCES:
            path = os.path.join(self.directory, _file_name(host, tag))
        else:
            if not self.overflowed:
                _log.warn("syslog: more than {most} senders; the lines of {source} and of any"
                          " other new one go to {overflow}", most=MOST_SOURCES, source=source,
                          overflow=OVERFLOW)
            self.overflowed += 1
            source, path = OVERFLOW, os.path.join(self.directory, _OVERFLOW_NAME)
        spooled = self._by_path.get(path)
        if spooled is None:
            spooled = self._by_path[path] = _File(path, source)
            if source not in self._known:
                self._known.add(source)
                if self._on_new is not None:
                    self._on_new(path, source)
        if source != OVERFLOW:
            self._files[(host, tag)] = spooled
        return spooled

    def flush(self) -> None:
        """Write every waiting line now."""
        if self._flushing is not None and self._flushing.active():
            self._flushing.cancel()
        self._flushing = None
        for spooled in self._by_path.values():
            if spooled.waiting:
                self._write(spooled)
        self._written()

    def _written(self) -> None:
        """Tell that lines were written."""
        if self._on_written is not None:
            self._on_written()

    def _write(self, spooled: _File) -> None:
        """Write a file's waiting lines (rotating it first if it is due), or count them lost."""
        data, count = b"".join(spooled.waiting), len(spooled.waiting)
        spooled.waiting, spooled.waiting_bytes = [], 0
        try:
            if spooled.fd >= 0 and spooled.gone():
                spooled.close()  # deleted under the spool: made again
            if spooled.fd < 0:
                os.makedirs(self.directory, exist_ok=True)
                spooled.open()
            self._rotate_if_due(spooled)
            view = memoryview(data)
            while view:
                written = os.write(spooled.fd, view)
                spooled.size += written
                view = view[written:]
        except OSError as error:
            self.lost += count
            reason = f"cannot write {spooled.path}: {error.strerror or error}"
            if reason != self.reason:
                _log.error("syslog: {reason}; its lines are lost until it can",
                           reason=reason)
            self.reason = reason
            spooled.close()  # opened again (made again, if deleted) at the next write
            return
        self.lines += count
        self.reason = ""

    def _rotate_if_due(self, spooled: _File) -> None:
        """Rename a file past L{FILE_BYTES} to C{.1} and start another, if its C{.1} is gone or
        the historian does not need it; past L{FILE_MOST} with its C{.1} still there, the file
        waits for the historian (see the module's docstring)."""
        if spooled.size < FILE_BYTES:
            return
        rotated = spooled.path + ".1"
        if self._historian_deletes and os.path.exists(rotated):
            if spooled.size >= FILE_MOST and spooled not in self._waiting:
                self._waiting.add(spooled)
                _log.warn("syslog: {path} waits for the history to store {rotated} (it is over"
                          " {most} MiB behind): TCP senders wait, UDP lines for it are lost",
                          path=spooled.path, rotated=rotated, most=FILE_BYTES >> 20)
                if self._checking is None:
                    self._checking = self._clock.callLater(CHECK_INTERVAL, self._check)
            return
        spooled.close()
        os.replace(spooled.path, rotated)
        spooled.open()

    @property
    def behind(self) -> bool:
        """Whether a sender's file waits for the historian: TCP senders should wait too."""
        return bool(self._waiting)

    def accepts(self, host: str, tag: str) -> bool:
        """Whether a line of this sender is written now (not while its file, or the overflow's
        for a sender past L{MOST_SOURCES}, waits for the historian)."""
        if not self._waiting:
            return True
        spooled = self._files.get((host, tag))
        if spooled is None and len(self._known) >= MOST_SOURCES:
            spooled = self._by_path.get(os.path.join(self.directory, _OVERFLOW_NAME))
        return spooled is None or spooled not in self._waiting

    def _check(self) -> None:
        """Every L{CHECK_INTERVAL} while files wait: those whose C{.1} is gone (stored, and
        deleted by the historian) wait no more; say so when none does."""
        self._checking = None
        self._waiting = {spooled for spooled in self._waiting
                         if os.path.exists(spooled.path + ".1")}
        if self._waiting:
            self._checking = self._clock.callLater(CHECK_INTERVAL, self._check)
        elif self._on_free is not None:
            self._on_free()

    def status(self) -> dict[str, Any]:
        """The spool's counts, as the JSON C{syslog} object holds them."""
        return {"lines": self.lines, "lost": self.lost, "senders": self.sources,
                "overflowed": self.overflowed, "behind": len(self._waiting),
                "reason": self.reason}

    def close(self) -> None:
        """Write what waits, and close the files."""
        if self._checking is not None and self._checking.active():
            self._checking.cancel()
        self._checking = None
        self.flush()
        for spooled in self._by_path.values():
            spooled.close()


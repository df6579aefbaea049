# -*- test-case-name: tests.test_logfiles -*-
"""
A log and its rotated siblings, as logrotate names them, each known by its content.

logrotate renames C{access.log} to C{access.log.1} (then C{.2}, ... or, with
C{dateext}, C{access.log-20261201}), and may compress the older ones
(C{.2.gz}).  A file's identity is the digest of its first line, read through
the compression: it stays the same through every rename and compression, so
the history stores each file once whatever it is called when it is read.
(Two files whose first lines are the same bytes are taken to be one file: a
real log's first line has its time and client, which no other file repeats.)
"""

from __future__ import annotations

import gzip
import os
import re
from hashlib import blake2b
from typing import IO, cast

__all__ = ["FIRST_LINE_MOST", "identity", "identity_of", "open_log", "siblings"]

FIRST_LINE_MOST = 4096
"""The most bytes of a first line that its identity reads: a longer first line is known by
these."""

_ROTATED = re.compile(r"(?:\.(?P<number>\d{1,6})|-(?P<date>\d{8}(?:\d{2})?|\d{4}-\d{2}-\d{2}))"
                      r"(?:\.gz)?\Z")


def siblings(path: str) -> list[str]:
    """
    The rotated files of the log at C{path}, oldest first, then C{path} itself.

    Numbered siblings (C{.1}, C{.2.gz}, ...) are older the higher their number;
    dated ones (C{-YYYYMMDD}, C{-YYYYMMDDHH}, C{-YYYY-MM-DD}, with C{.gz} or not) older the
    earlier their date, and older than the numbered ones when both are there.
    """
    directory, name = os.path.split(path)
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return [path]
    found: list[tuple[tuple[int, int, str], str]] = []
    for other in names:
        if not other.startswith(name) or other == name:
            continue
        match = _ROTATED.match(other, len(name))
        if match is None:
            continue
        if match["number"] is not None:
            key = (1, -int(match["number"]), "")
        else:
            key = (0, 0, match["date"].replace("-", ""))
        found.append((key, os.path.join(directory, other)))
    return [rotated for _, rotated in sorted(found)] + [path]


def open_log(path: str) -> IO[bytes]:
    """Open a log for reading its content: through gzip for a C{.gz} name."""
    if path.endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return open(path, "rb")


def identity(path: str) -> str | None:
    """
    The identity of the log file at C{path}: a digest of its first line.

    @return: None while it has no complete first line (it is empty, or its first
        line is still being written), or if it cannot be read.
    @raise OSError: if the file cannot be opened.
    """
    with open_log(path) as log:
        return identity_of(log)


def identity_of(log: IO[bytes]) -> str | None:
    """The identity of an open log (see L{identity}), read from its start; None if it has none."""
    try:
        log.seek(0)
        first = log.readline(FIRST_LINE_MOST)
    except (EOFError, gzip.BadGzipFile):  # a compression not finished yet
        return None
    if not first.endswith(b"\n") and len(first) < FIRST_LINE_MOST:
        return None
    return blake2b(first, digest_size=16).hexdigest()

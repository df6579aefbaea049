# -*- test-case-name: tests.test_files -*-
"""
Open files that a hostile path may name: regular files only, and never waiting to open.

A path weblog is told to read (the log, a rotated log, the view counter's
state) may name a FIFO, a socket or a device instead of a file.  A plain
C{open} of a FIFO waits for a writer, and in the reactor that stops the whole
server; opening a device may do more than read.  Here the path is looked at
first, opened with C{O_NONBLOCK} (which makes opening a FIFO return at once),
and looked at again through the open descriptor; anything but a regular file
is refused with L{NotRegularFile}, whose C{strerror} says what it is.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from typing import BinaryIO

__all__ = ["NotRegularFile", "create_new", "create_unique", "describe", "open_for_update",
           "open_regular"]

_KINDS = (
    (stat.S_ISDIR, "is a directory"),
    (stat.S_ISFIFO, "is a FIFO"),
    (stat.S_ISSOCK, "is a socket"),
    (stat.S_ISCHR, "is a character device"),
    (stat.S_ISBLK, "is a block device"),
    (stat.S_ISLNK, "is a symbolic link"),
)

_FLAGS = os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


class NotRegularFile(OSError):
    """The path names something other than a regular file; C{strerror} says what."""


def describe(mode: int) -> str:
    """What a file of this C{st_mode} is, as a reason: C{"is a FIFO"}; C{""} for a regular file."""
    if stat.S_ISREG(mode):
        return ""
    for test, reason in _KINDS:
        if test(mode):
            return reason
    return "is not a regular file"


def _refuse(path: str, mode: int) -> None:
    """Raise L{NotRegularFile} for C{path} unless C{mode} is a regular file's."""
    reason = describe(mode)
    if reason:
        code = errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL
        raise NotRegularFile(code, reason, path)


def _checked(path: str, descriptor: int) -> int:
    """Return C{descriptor} if it is a regular file's, else close it and raise."""
    try:
        _refuse(path, os.fstat(descriptor).st_mode)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def open_regular(path: str) -> BinaryIO:
    """
    Open a regular file for reading, without blocking whatever the path names.

    The path is stat()ed first, so that a socket or a device is refused without
    being opened at all, and the open file is checked again, for a path that
    changed in between.

    @raise NotRegularFile: the path names a FIFO, socket, device or directory.
    @raise OSError: as C{open} does: missing, no permission, ...
    """
    _refuse(path, os.stat(path).st_mode)

    def opener(name: str, flags: int) -> int:
        return _checked(path, os.open(name, flags | _FLAGS))

    return open(path, "rb", opener=opener)


def create_new(path: str, mode: int = 0o666) -> BinaryIO:
    """
    Create C{path} for writing, failing if anything already has that name.

    C{O_EXCL} with C{O_NOFOLLOW}: a symlink (even a dangling one) or any file
    at the name is C{FileExistsError}, never written through.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _FLAGS
    return os.fdopen(_checked(path, os.open(path, flags, mode)), "wb")


def open_for_update(path: str, mode: int = 0o666) -> BinaryIO:
    """
    Open, creating it if needed, a regular file for reading and writing; never through a link.

    @raise NotRegularFile: the name is a FIFO, socket, device or directory.
    @raise OSError: C{ELOOP} for a symlink at the name; as C{open} does otherwise.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | _FLAGS
    return os.fdopen(_checked(path, os.open(path, flags, mode)), "r+b")


def create_unique(names: Iterable[str]) -> tuple[str, BinaryIO]:
    """Create the first of C{names} that no file (or link) has yet; return it, open for writing."""
    for name in names:
        try:
            return name, create_new(name)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "every name tried is taken")

# -*- test-case-name: tests.test_files -*-
"""Tests for L{files}: opening only regular files, never waiting, never through a link."""

from __future__ import annotations

import errno
import os
import socket
import stat
from collections.abc import Callable
from typing import BinaryIO

from twisted.trial import unittest
from weblog.files import NotRegularFile, create_new, describe, open_for_update, open_regular


class _FilesCase(unittest.TestCase):
    """A fresh directory and a way to check a refusal."""

    def setUp(self) -> None:
        self.directory = self.mktemp()
        os.makedirs(self.directory)
        self.path = os.path.join(self.directory, "file")

    def write(self, path: str, data: bytes) -> None:
        """Write C{data} to C{path}."""
        with open(path, "wb") as file:
            file.write(data)

    def read(self, path: str) -> bytes:
        """The content of C{path}."""
        with open(path, "rb") as file:
            return file.read()

    def assertRefused(
        self, opener: Callable[[str], BinaryIO], path: str, reason: str
    ) -> NotRegularFile:
        """Opening C{path} raises L{NotRegularFile}, an OSError saying C{reason}."""
        error = self.assertRaises(NotRegularFile, opener, path)
        self.assertIsInstance(error, OSError)
        self.assertEqual((error.strerror, error.filename), (reason, path))
        return error


class OpenRegularTests(_FilesCase):
    """L{open_regular} opens regular files for reading and refuses everything else at once."""

    def test_regularFile(self) -> None:
        """A regular file is opened for reading, and is not inherited by child processes."""
        self.write(self.path, b"content\n")
        with open_regular(self.path) as file:
            self.assertEqual(file.read(), b"content\n")
            self.assertFalse(os.get_inheritable(file.fileno()))

    def test_symlinkToRegularFile(self) -> None:
        """A symlink to a regular file is followed: the log may be a link to today's file."""
        self.write(self.path, b"content\n")
        link = self.path + ".link"
        os.symlink(os.path.basename(self.path), link)
        with open_regular(link) as file:
            self.assertEqual(file.read(), b"content\n")

    def test_missing(self) -> None:
        """A missing file is FileNotFoundError, as for open()."""
        self.assertRaises(FileNotFoundError, open_regular, self.path)

    def test_directory(self) -> None:
        """A directory is refused: "is a directory", EISDIR."""
        os.mkdir(self.path)
        error = self.assertRefused(open_regular, self.path, "is a directory")
        self.assertEqual(error.errno, errno.EISDIR)

    def test_fifo(self) -> None:
        """A FIFO without a writer is refused at once, "is a FIFO", instead of waiting."""
        os.mkfifo(self.path)
        self.assertRefused(open_regular, self.path, "is a FIFO")

    def test_socket(self) -> None:
        """A unix socket is refused, "is a socket"."""
        listener = socket.socket(socket.AF_UNIX)
        self.addCleanup(listener.close)
        listener.bind(self.path)
        self.assertRefused(open_regular, self.path, "is a socket")

    def test_deviceThroughSymlink(self) -> None:
        """A symlink to C{/dev/null} is refused, "is a character device"."""
        os.symlink(os.devnull, self.path)
        self.assertRefused(open_regular, self.path, "is a character device")


class CreateNewTests(_FilesCase):
    """L{create_new} creates a file that did not exist, and never writes through a name."""

    def test_creates(self) -> None:
        """A new name is created as a regular file, written, and not inherited by children."""
        with create_new(self.path) as file:
            self.assertFalse(os.get_inheritable(file.fileno()))
            file.write(b"new\n")
        self.assertEqual(self.read(self.path), b"new\n")
        self.assertTrue(stat.S_ISREG(os.lstat(self.path).st_mode))

    def test_existingFile(self) -> None:
        """An existing file is FileExistsError and keeps its content."""
        self.write(self.path, b"keep\n")
        self.assertRaises(FileExistsError, create_new, self.path)
        self.assertEqual(self.read(self.path), b"keep\n")

    def test_symlink(self) -> None:
        """A symlink at the name is FileExistsError; its target is not written."""
        target = os.path.join(self.directory, "passwd")
        self.write(target, b"root:x:0:0\n")
        os.symlink(os.path.abspath(target), self.path)
        self.assertRaises(FileExistsError, create_new, self.path)
        self.assertEqual(self.read(target), b"root:x:0:0\n")

    def test_danglingSymlink(self) -> None:
        """A symlink to nothing is FileExistsError; its target is not created."""
        target = os.path.join(self.directory, "elsewhere")
        os.symlink(os.path.abspath(target), self.path)
        self.assertRaises(FileExistsError, create_new, self.path)
        self.assertFalse(os.path.lexists(target))


class OpenForUpdateTests(_FilesCase):
    """L{open_for_update} opens or creates a regular file for reading and writing."""

    def test_createsOrOpens(self) -> None:
        """A missing file is created; an existing one is opened without losing its content."""
        with open_for_update(self.path) as file:
            file.write(b"first")
        with open_for_update(self.path) as file:
            self.assertEqual(file.read(), b"first")
            self.assertFalse(os.get_inheritable(file.fileno()))

    def test_symlink(self) -> None:
        """A symlink at the name is refused (ELOOP); its target is neither written nor created."""
        target = os.path.join(self.directory, "elsewhere")
        os.symlink(os.path.abspath(target), self.path)
        error = self.assertRaises(OSError, open_for_update, self.path)
        self.assertEqual(error.errno, errno.ELOOP)
        self.assertFalse(os.path.lexists(target))

    def test_fifo(self) -> None:
        """A FIFO at the name is refused, "is a FIFO", at once."""
        os.mkfifo(self.path)
        self.assertRefused(open_for_update, self.path, "is a FIFO")

    def test_directory(self) -> None:
        """A directory at the name is refused."""
        os.mkdir(self.path)
        error = self.assertRaises(OSError, open_for_update, self.path)
        self.assertEqual(error.errno, errno.EISDIR)


class DescribeTests(unittest.TestCase):
    """L{describe} names what a mode is, as a reason to show."""

    def test_kinds(self) -> None:
        """Each kind of file has its reason; a regular file has none."""
        self.assertEqual(
            [describe(kind | 0o644) for kind in (stat.S_IFREG, stat.S_IFDIR, stat.S_IFIFO,
                                                 stat.S_IFSOCK, stat.S_IFCHR, stat.S_IFBLK,
                                                 stat.S_IFLNK)],
            ["", "is a directory", "is a FIFO", "is a socket", "is a character device",
             "is a block device", "is a symbolic link"],
        )

# -*- test-case-name: tests.test_memo -*-
"""Tests for L{weblog.memo}: results remembered, in bounded memory."""

from __future__ import annotations

from twisted.trial import unittest
from weblog.memo import Memo


class MemoTests(unittest.TestCase):
    """L{Memo} calls its function once per key, until it forgets all it holds."""

    def setUp(self) -> None:
        self.calls: list[str] = []
        self.memo = Memo(self.upper, entries=3, longest=10, long_bytes=30)

    def upper(self, key: str) -> str:
        """The function remembered: it records each call."""
        self.calls.append(key)
        return key.upper()

    def test_remembered(self) -> None:
        """A key asked for again is not worked out again."""
        self.assertEqual([self.memo("a"), self.memo("a"), self.memo("b")], ["A", "A", "B"])
        self.assertEqual(self.calls, ["a", "b"])

    def test_entriesBound(self) -> None:
        """Short keys: once it holds C{entries}, it forgets them all and starts again."""
        for key in "abcd":
            self.memo(key)
        self.assertEqual(len(self.memo.results), 1)
        self.memo("a")
        self.assertEqual(self.calls, ["a", "b", "c", "d", "a"])

    def test_longBytesBound(self) -> None:
        """Long keys: kept until they make C{long_bytes}, then all forgotten."""
        first, second, third = "x" * 12, "y" * 12, "z" * 12
        for key in (first, second, first, third, first):
            self.memo(key)
        self.assertEqual(self.calls, [first, second, third, first])
        self.assertLessEqual(self.memo.long_held, 30)

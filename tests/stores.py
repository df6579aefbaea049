"""A real history store for the tests that ask it: made empty, then holding the rows given."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import duckdb
from twisted.trial import unittest
from weblog.store import Store, table_of


def new_store(case: unittest.TestCase) -> Store:
    """An empty store in a directory of C{case}'s, closed when it cleans up."""
    directory = case.mktemp()
    os.mkdir(directory)
    store = Store(os.path.join(directory, "history.duckdb"))
    case.addCleanup(store.close)
    return store


def append_rows(store: Store, rows: Sequence[Sequence[Any]], identity: str = "f") -> None:
    """Store C{rows} (each a hit's columns, L{weblog.store.COLUMNS}) as one batch of a log:
    the first of the file known as C{identity}."""
    store.append(identity, "access.log", 0, 100, len(rows),
                 table_of([list(values) for values in zip(*rows, strict=True)]))


class StoreCase(unittest.TestCase):
    """A test with a real store of its own."""

    def setUp(self) -> None:
        self.store = new_store(self)

    def stored(self, *rows: tuple[Any, ...]) -> duckdb.DuckDBPyConnection:
        """A connection to the store once it holds C{rows}."""
        append_rows(self.store, rows)
        return self.enterContext(self.store.reading())

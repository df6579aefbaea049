# -*- test-case-name: tests.test_store -*-
"""
A batch of one file's hits stored in one transaction with the file's new position.

The transaction begins only if the file's stored position is where the batch
starts (L{weblog.store.Store.begin}), so a batch is stored once however often a
crash makes its reader read it again.  Its hits may be added a table at a time
(L{Appending.add}), from another thread than the one that began it, while that
one makes the next table: DuckDB works without Python's lock, so storing one
slice of a log and reading the next take a core each.  Nothing is kept unless
L{Appending.commit} is reached.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Appending", "Stored"]


class Stored(NamedTuple):
    """What a batch stored: how many hits, and the oldest and newest time among them."""

    hits: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None

    def plus(self, other: Stored) -> Stored:
        """This and C{other} together."""
        if not other.hits:
            return self
        if not self.hits:
            return other
        assert self.oldest is not None and self.newest is not None
        assert other.oldest is not None and other.newest is not None
        return Stored(self.hits + other.hits, min(self.oldest, other.oldest),
                      max(self.newest, other.newest))


def stored_of(batch: pa.Table) -> Stored:
    """How many hits a table holds, and their time's extremes."""
    if not len(batch):
        return Stored()
    extremes = pc.min_max(batch["time"])
    return Stored(len(batch), extremes["min"].as_py(), extremes["max"].as_py())


class Appending:
    """
    One file's batch being stored: its hits added a table at a time, then its position.

    Used as a context manager, it rolls back unless committed.

    @ivar stored: what was added so far.
    """

    def __init__(self, db: duckdb.DuckDBPyConnection, insert: str, identity: str, path: str,
                 failing: Callable[[BaseException], Exception]) -> None:
        """
        Go on with the transaction begun on C{db} for the file known as C{identity}.

        @param insert: the statement that inserts the table named C{batch} (and the identity).
        @param path: where the file is now.
        @param failing: the error to raise for a DuckDB or OS error.
        """
        self._db, self._insert, self._failing = db, insert, failing
        self.identity, self.path = identity, path
        self.stored = Stored()
        self._open = True

    def add(self, batch: pa.Table) -> None:
        """Insert a table of hits (one call at a time, from any thread)."""
        if not len(batch):
            return
        try:
            self._db.register("batch", batch)
            try:
                self._db.execute(self._insert, [self.identity])
            finally:
                self._db.unregister("batch")
        except (duckdb.Error, OSError) as error:
            raise self._failing(error) from None
        self.stored = self.stored.plus(stored_of(batch))

    def commit(self, end: int, lines: int) -> None:
        """Store the file's new position, C{end}, after C{lines} more lines, with the hits."""
        try:
            self._db.execute(
                "INSERT INTO files VALUES (?, ?, ?, ?, ?) ON CONFLICT (identity) DO UPDATE"
                " SET path = excluded.path, position = excluded.position,"
                " lines = files.lines + excluded.lines, hits = files.hits + excluded.hits",
                [self.identity, self.path, end, lines, self.stored.hits])
            self._db.execute("COMMIT")
        except (duckdb.Error, OSError) as error:
            self.rollback()
            raise self._failing(error) from None
        self._open = False

    def rollback(self) -> None:
        """Keep nothing of the batch (a failed commit has rolled back already)."""
        if self._open:
            self._open = False
            try:
                self._db.execute("ROLLBACK")
            except duckdb.Error:
                pass

    def __enter__(self) -> Appending:
        """The batch, to add to and commit."""
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> Any:
        """Keep nothing unless committed."""
        self.rollback()

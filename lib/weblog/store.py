# -*- test-case-name: tests.test_store -*-
"""
The history: every hit of the logs in one DuckDB file, and how much of each log file it holds.

Each batch of a file's hits is stored in one transaction with the file's new
position (L{Store.append}), and only if the file's stored position is where the
batch starts: a batch is stored once, however often a crash makes its reader
read it again.  A file is known by its content (L{weblog.logfiles.identity}),
so a log rotated to a new name, or compressed, is the file already stored.

Opening or writing fails with a L{StoreError} that says which state the store
is in (C{locked}, C{unwritable}, C{corrupt} or C{full}) in one line, or that
it is C{older}: of an older schema version, to be set aside and rebuilt (one of
version 2 is upgraded in place instead: L{weblog.upgrade}).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from weblog.appending import Appending
from weblog.schema import BINS_PER_E, COLUMNS, DERIVED, INSERT, KIND, SCHEMA, UPGRADED, VERSION
from weblog.storeerror import StoreError, failing, other_version, state_of
from weblog.upgrade import upgrade

__all__ = ["BINS_PER_E", "COLUMNS", "DERIVED", "KIND", "VERSION", "WAL_BYTES", "Store",
           "StoreError", "interrupt", "set_aside", "state_of", "table_of"]

WAL_BYTES = 16 << 20
"""How big the write-ahead log grows before its hits go into the file (DuckDB's default)."""
CLOSE_WAIT = 5.0
"""The longest L{Store.close} waits for the readers' cancelled queries to end."""
def _one(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The one row of a query's result, or None; read whole (DuckDB wants every result
    finished before the connection's next statement)."""
    rows = result.fetchall()
    return rows[0] if rows else None


class Store:
    """
    The DuckDB file of every hit; used by one thread at a time (see L{weblog.historian}).

    @ivar path: the file's path.
    """

    def __init__(self, path: str, memory_limit: str = "256MB", threads: int = 1,
                 wal_bytes: int = WAL_BYTES) -> None:
        """
        Open (or create) the store at C{path}.

        @param memory_limit: DuckDB's memory limit, as DuckDB writes sizes.
        @param threads: the threads DuckDB may use for a query.
        @param wal_bytes: how big the write-ahead log grows before DuckDB checkpoints it.
        @raise StoreError: if it cannot be opened, saying why.
        """
        self.path = path
        self._readers: set[duckdb.DuckDBPyConnection] = set()
        self._readers_changed = threading.Condition()
        try:
            self._db = duckdb.connect(path, config={
                "memory_limit": memory_limit, "threads": threads,
                "checkpoint_threshold": f"{wal_bytes}B"})
        except (duckdb.Error, OSError) as error:
            raise failing(path, error) from None
        try:
            self._db.execute("SET TimeZone = 'UTC'")
            for statement in SCHEMA:
                self._db.execute(statement)
            found = _one(self._db.execute("SELECT value FROM meta WHERE key = 'version'"))
            if found is None:
                self._db.execute("INSERT INTO meta VALUES ('version', ?)", [str(VERSION)])
            elif found[0] == str(UPGRADED):
                upgrade(self._db, path)
            elif found[0] != str(VERSION):
                raise other_version(path, found[0], VERSION)
        except StoreError:
            self._db.close()
            raise
        except (duckdb.Error, OSError) as error:
            self._db.close()
            raise failing(path, error) from None

    def close(self) -> None:
        """Close the file (what was appended is kept), once the readers' queries are cancelled."""
        with self._readers_changed:
            for reader in self._readers:
                interrupt(reader)
            self._readers_changed.wait_for(lambda: not self._readers, CLOSE_WAIT)
        self._db.close()

    def position(self, identity: str) -> tuple[int, int, int] | None:
        """
        How much of the file known as C{identity} is stored: (bytes, lines, hits).

        @return: None for a file never stored.
        """
        try:
            found = _one(self._db.execute(
                "SELECT position, lines, hits FROM files WHERE identity = ?", [identity]))
        except (duckdb.Error, OSError) as error:
            raise failing(self.path, error) from None
        return None if found is None else (found[0], found[1], found[2])

    def begin(self, identity: str, path: str, start: int) -> Appending | None:
        """
        Begin storing a batch of a file's hits (see L{weblog.appending}).

        @param identity: the file's identity.
        @param path: where the file is now.
        @param start: the position the batch starts at, which must be the stored one
            (0 for a file not yet stored).
        @return: the batch's transaction; None when the file's stored position is not
            C{start} (the batch, or part of it, is stored already).
        @raise StoreError: if the store cannot be read or written.
        """
        db = self._db
        try:
            db.execute("BEGIN TRANSACTION")
        except (duckdb.Error, OSError) as error:
            raise failing(self.path, error) from None
        appending = Appending(db, INSERT, identity, path,
                              lambda error: failing(self.path, error))
        try:
            found = _one(db.execute("SELECT position FROM files WHERE identity = ?", [identity]))
        except (duckdb.Error, OSError) as error:
            appending.rollback()
            raise failing(self.path, error) from None
        if (0 if found is None else found[0]) != start:
            appending.rollback()
            return None
        return appending

    def append(self, identity: str, path: str, start: int, end: int, lines: int,
               batch: pa.Table | None) -> bool:
        """
        Store a batch of a file's hits and its new position, in one transaction (see
        L{begin}).

        @param end: the position after the batch's last line.
        @param lines: how many lines the batch read (hits and malformed).
        @param batch: the batch's hits, a table of L{COLUMNS} (see L{table_of}), or None.
        @return: whether it was stored; False when the file's stored position is not C{start}.
        @raise StoreError: if it cannot be written (the store is as it was).
        """
        appending = self.begin(identity, path, start)
        if appending is None:
            return False
        with appending:
            if batch is not None:
                appending.add(batch)
            appending.commit(end, lines)
        return True

    def summary(self) -> tuple[int, datetime | None, datetime | None]:
        """How many hits are stored, and the oldest and newest time among them."""
        try:
            found = _one(self._db.execute("SELECT count(*), min(time), max(time) FROM hits"))
        except (duckdb.Error, OSError) as error:
            raise failing(self.path, error) from None
        return (0, None, None) if found is None else (found[0], found[1], found[2])

    def prune(self, before: datetime) -> int:
        """
        Delete the hits older than C{before}; their files' positions stay (never re-stored).

        @return: how many were deleted.
        @raise StoreError: if the store cannot be written.
        """
        return self._delete("DELETE FROM hits WHERE time < ?", [before])

    def prune_oldest(self, count: int) -> int:
        """
        Delete the C{count} oldest hits (and those as old as the last of them), as L{prune}.

        @return: how many were deleted.
        @raise StoreError: if the store cannot be written.
        """
        if count <= 0:
            return 0
        return self._delete("DELETE FROM hits WHERE time <= (SELECT time FROM hits"
                            " ORDER BY time LIMIT 1 OFFSET ?)", [count - 1])

    def _delete(self, sql: str, parameters: list[Any]) -> int:
        """Run one DELETE; how many rows it deleted."""
        try:
            found = _one(self._db.execute(sql, parameters))
        except (duckdb.Error, OSError) as error:
            raise failing(self.path, error) from None
        return 0 if found is None else int(found[0])

    def limit_memory(self, mib: int) -> None:
        """Hold DuckDB to C{mib} MiB from now on (past it, what it keeps of the file goes)."""
        try:
            self._db.execute(f"SET memory_limit = '{int(mib)}MiB'")
        except (duckdb.Error, OSError) as error:
            raise failing(self.path, error) from None

    def checkpoint(self) -> None:
        """Move the write-ahead log into the file, where the blocks of deleted hits are reused."""
        try:
            self._db.execute("CHECKPOINT")
        except (duckdb.Error, OSError) as error:
            raise failing(self.path, error) from None

    def used_bytes(self) -> int:
        """The bytes of the file's blocks in use (the others are free, for later hits)."""
        try:
            found = _one(self._db.execute(
                "SELECT used_blocks * block_size FROM pragma_database_size()"
                " WHERE database_name = current_database()"))
        except (duckdb.Error, OSError) as error:
            raise failing(self.path, error) from None
        return 0 if found is None else int(found[0])

    def size_bytes(self) -> int:
        """The bytes the store takes on disk, its write-ahead log included."""
        total = 0
        for name in (self.path, self.path + ".wal"):
            try:
                total += os.stat(name).st_size
            except OSError:
                pass
        return total

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one read-only query on the store and return its rows."""
        return self._db.execute(sql, list(parameters)).fetchall()

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection of its own to the store, for queries from another thread; closed after
        (L{close} cancels its query, and waits for it to end)."""
        with self._readers_changed:
            connection = self._db.cursor()
            self._readers.add(connection)
        try:
            connection.execute("SET TimeZone = 'UTC'")
            yield connection
        finally:
            with self._readers_changed:
                self._readers.discard(connection)
                connection.close()
                self._readers_changed.notify_all()


def table_of(columns: Sequence[Sequence[Any]]) -> pa.Table:
    """A batch of hits given as one sequence per L{COLUMNS} entry, as a table to append."""
    return pa.table([pa.array(values, type=kind)
                     for values, (_, _, kind) in zip(columns, COLUMNS, strict=True)],
                    names=[name for name, _, _ in COLUMNS])


def interrupt(connection: duckdb.DuckDBPyConnection) -> None:
    """Cancel the query running on C{connection} (which may have finished meanwhile)."""
    try:
        connection.interrupt()
    except duckdb.Error:
        pass


def set_aside(path: str, kind: str = "corrupt") -> str:
    """
    Move a store that cannot be read (and its write-ahead log) out of the way.

    @param kind: what it is, in its new name: C{corrupt}, or C{v1} for schema version 1.
    @return: the new name of the store (C{PATH.KIND-TIME}, then C{-1}, C{-2}, ... never over
        one set aside earlier, in the same second).
    """
    aside = base = f"{path}.{kind}-{time.strftime('%Y%m%dT%H%M%S')}"
    number = 0
    while os.path.exists(aside) or os.path.exists(aside + ".wal"):
        number += 1
        aside = f"{base}-{number}"
    os.replace(path, aside)
    if os.path.exists(path + ".wal"):
        os.replace(path + ".wal", aside + ".wal")
    return aside

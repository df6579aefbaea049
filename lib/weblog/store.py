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
it is C{older}: of an older schema version, to be set aside and rebuilt.
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
from weblog.storeerror import StoreError, failing, other_version, state_of

__all__ = ["BINS_PER_E", "COLUMNS", "DERIVED", "KIND", "WAL_BYTES", "Store",
           "StoreError", "interrupt", "set_aside", "state_of", "table_of"]

VERSION = 2
"""The schema's version, kept in the store; a store of another version is set aside (one of an
older version as C{older}, one of a newer or unknown version as C{corrupt})."""

COLUMNS: tuple[tuple[str, str, Any], ...] = (
    ("client", "VARCHAR NOT NULL", pa.string()),
    ("ident", "VARCHAR NOT NULL", pa.string()),
    ("user", "VARCHAR NOT NULL", pa.string()),
    ("time", "TIMESTAMPTZ NOT NULL", pa.timestamp("us", tz="UTC")),
    ("method", "VARCHAR", pa.string()),
    ("resource", "VARCHAR NOT NULL", pa.string()),
    ("protocol", "VARCHAR", pa.string()),
    ("status", "SMALLINT", pa.int16()),
    ("bytes", "BIGINT", pa.int64()),
    ("referrer", "VARCHAR", pa.string()),
    ("agent", "VARCHAR", pa.string()),
    ("vhost", "VARCHAR", pa.string()),
    ("source", "VARCHAR", pa.string()),
    ("duration", "BIGINT", pa.int64()),
    ("site", "VARCHAR", pa.string()),
    ("bot", "BOOLEAN NOT NULL", pa.bool_()),
    ("own", "BOOLEAN NOT NULL", pa.bool_()),
    ("browser", "VARCHAR", pa.string()),
    ("system", "VARCHAR", pa.string()),
    ("device", "VARCHAR", pa.string()),
    ("country", "VARCHAR", pa.string()),
)
"""The columns of a stored hit: L{weblog.hit.Hit}'s fields in order, each as the pages show it
(cleaned and bounded; C{duration} in microseconds), then what the pages find of it: C{site},
the referring site (the referrer's host, lower-cased), C{bot} (a crawler, or no user-agent),
C{own} (one of weblog's own requests), the user-agent's C{browser}, operating C{system} and
C{device} (L{weblog.agents}), and the client's C{country} (L{weblog.countries}); each with its
SQL type and its Arrow type.  C{source} is the log's path when several are followed, else NULL
(as a hit's)."""

BINS_PER_E = 100
"""Bins of the durations' histogram per factor of e: each about 1% wider than the last."""
KIND = ("bot", "browser", "system", "device", "country", "vhost", "source")
"""What the panels of few values count a hit by, in the order C{kind} holds them."""
DERIVED: tuple[tuple[str, str, str], ...] = (
    ("visitor", "UINTEGER NOT NULL", "(hash(client, agent) >> 32)::UINTEGER"),
    ("kind", "VARCHAR NOT NULL", "concat_ws(chr(31), bot::INTEGER, "
     + ", ".join(f"coalesce('=' || {name}, '-')" for name in KIND[1:]) + ")"),
    ("duration_bin", "SMALLINT",
     # greatest() passes over a NULL: a hit without a duration has no bin
     f"CASE WHEN duration IS NOT NULL"
     f" THEN CAST(round(ln(greatest(duration, 1)) * {BINS_PER_E}) AS SMALLINT) END"),
)
"""The columns the store works out of each hit as it stores it, for the history's queries to
group by one column rather than hash several: each with its SQL type and its SQL.  C{visitor}
is a hash of the client and its user-agent (a visitor, with the day); C{kind} is L{KIND}'s
values in one text, C{1} or C{0} for C{bot}, then each other C{=VALUE} or C{-} for NULL, joined
by C{\\x1f} (no cleaned value holds one, so it is read back unambiguously, C{source} last);
C{duration_bin}, the bin of the durations' histogram a C{duration} falls in (L{BINS_PER_E}),
NULL without one."""

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    "CREATE TABLE IF NOT EXISTS files ("
    " identity VARCHAR PRIMARY KEY,"  # the digest of the file's first line
    " path VARCHAR NOT NULL,"  # where it was last read
    " position BIGINT NOT NULL,"  # bytes of its (uncompressed) content read, whole lines
    " lines BIGINT NOT NULL,"  # lines read from it, hits and malformed
    " hits BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS hits ("
    + ", ".join(f'"{name}" {sql}' for name, sql, _ in (*COLUMNS, *DERIVED))
    + ", file VARCHAR NOT NULL)",  # the identity of the file it was read from
]
WAL_BYTES = 16 << 20
"""How big the write-ahead log grows before its hits go into the file (DuckDB's default)."""
CLOSE_WAIT = 5.0
"""The longest L{Store.close} waits for the readers' cancelled queries to end."""
_INSERT = ("INSERT INTO hits SELECT "  # noqa: S608  # the names are COLUMNS', not input
           + ", ".join([*(f'"{name}"' for name, _, _ in COLUMNS),
                        *(sql for _, _, sql in DERIVED)]) + ", ? FROM batch")


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
            for statement in _SCHEMA:
                self._db.execute(statement)
            found = _one(self._db.execute("SELECT value FROM meta WHERE key = 'version'"))
            if found is None:
                self._db.execute("INSERT INTO meta VALUES ('version', ?)", [str(VERSION)])
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
        appending = Appending(db, _INSERT, identity, path,
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

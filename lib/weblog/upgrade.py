# -*- test-case-name: tests.test_upgrade -*-
"""
A store of schema version 2 brought to version 3 in place, every hit kept.

Version 3 keeps each hit's C{hour} (the chart's buckets, without working them out of its
time on every answer) and a C{visitor} of the day (GoAccess's visitor, counted without a hash
of the day on every answer): L{weblog.schema.DERIVED}.  An upgrade adds the one and works both
out again for every hit, a million rows at a time, each in a transaction of its own, so that
its memory stays bounded and a crash or a SIGKILL part way loses nothing: the rows done have
their hour, and the next start goes on with those that have none.  The version is said last.
"""

from __future__ import annotations

import contextlib
import time

import duckdb
from twisted.logger import Logger

from weblog.schema import DERIVED, VERSION

__all__ = ["ROWS", "upgrade"]

ROWS = 1 << 20
"""The most rows worked out again in one transaction (an update holds their old values)."""
_log = Logger()


def upgrade(db: duckdb.DuckDBPyConnection, path: str) -> None:
    """
    Bring the store at C{path} (open on C{db}), of schema version 2, to L{VERSION}: its
    C{hour} and C{visitor} worked out by their SQL (L{weblog.schema.DERIVED}) for every hit.

    @raise duckdb.Error: as DuckDB fails (what was done is kept, and the next start goes on).
    """
    sql = {name: (kind, each) for name, kind, each in DERIVED}
    hour_type, hour = sql["hour"]
    db.execute(f'ALTER TABLE hits ADD COLUMN IF NOT EXISTS "hour" {hour_type.split()[0]}')
    left = db.execute('SELECT count(*) FROM hits WHERE "hour" IS NULL').fetchall()[0][0]
    began = time.monotonic()
    if left:
        _log.warn("history: upgrading {path} to schema version {version}: {left} hits (about"
                  " a second a million)", path=path, version=VERSION, left=left)
    while True:  # from the first row not done each time: a checkpoint may number them anew
        first = db.execute('SELECT min(rowid) FROM hits WHERE "hour" IS NULL').fetchall()[0][0]
        if first is None:
            break
        db.execute(f'UPDATE hits SET "hour" = {hour}, visitor = {sql["visitor"][1]}'  # noqa: S608
                   ' WHERE rowid BETWEEN ? AND ? AND "hour" IS NULL', [first, first + ROWS - 1])
    db.execute("BEGIN TRANSACTION")
    try:
        db.execute('ALTER TABLE hits ALTER COLUMN "hour" SET NOT NULL')
        db.execute("UPDATE meta SET value = ? WHERE key = 'version'", [str(VERSION)])
        db.execute("COMMIT")
    except Exception:
        with contextlib.suppress(duckdb.Error):  # none left open when COMMIT itself failed
            db.execute("ROLLBACK")
        raise
    if left:
        _log.warn("history: {path} upgraded to schema version {version} in {seconds:.1f} s",
                  path=path, version=VERSION, seconds=time.monotonic() - began)

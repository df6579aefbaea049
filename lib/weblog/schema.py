# -*- test-case-name: tests.test_store -*-
"""
The history's schema: the columns of a stored hit, those the store works out of it, and the
version that says which they are (L{weblog.store} keeps them; L{weblog.upgrade} brings a store
of an earlier version to this one).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from weblog.timestamps import FIRST_TO_EPOCH_US

__all__ = ["BINS_PER_E", "COLUMNS", "DERIVED", "INSERT", "KIND", "SCHEMA", "UPGRADED", "VERSION"]

VERSION = 3
"""The schema's version, kept in the store; a store of version L{UPGRADED} is upgraded in place
(L{weblog.upgrade}), one of another version set aside (one of an older version as C{older}, one
of a newer or unknown version as C{corrupt})."""
UPGRADED = 2
"""The one older version a store is brought from in place (L{weblog.upgrade})."""

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
_SINCE_FIRST = f"(epoch_us(time) + {FIRST_TO_EPOCH_US})"
DERIVED: tuple[tuple[str, str, str], ...] = (
    ("visitor", "UINTEGER NOT NULL",
     f"(hash(client, agent, {_SINCE_FIRST} // 86400000000) >> 32)::UINTEGER"),
    ("kind", "VARCHAR NOT NULL", "concat_ws(chr(31), bot::INTEGER, "
     + ", ".join(f"coalesce('=' || {name}, '-')" for name in KIND[1:]) + ")"),
    ("duration_bin", "SMALLINT",
     # greatest() passes over a NULL: a hit without a duration has no bin
     f"CASE WHEN duration IS NOT NULL"
     f" THEN CAST(round(ln(greatest(duration, 1)) * {BINS_PER_E}) AS SMALLINT) END"),
    ("hour", "INTEGER NOT NULL", f"({_SINCE_FIRST} // 3600000000)::INTEGER"),
)
"""The columns the store works out of each hit as it stores it, for the history's queries to
group by one column rather than hash several: each with its SQL type and its SQL.  C{visitor}
is a hash of the client, its user-agent and the day (UTC): a visitor as GoAccess counts them;
C{hour}, the hour the hit is in, counted from L{weblog.timestamps.FIRST} (the chart's buckets);
C{kind} is L{KIND}'s values in one text, C{1} or C{0} for C{bot}, then each other C{=VALUE}
or C{-} for NULL, joined by C{\\x1f} (no cleaned value holds one, so it is read back
unambiguously, C{source} last);
C{duration_bin}, the bin of the durations' histogram a C{duration} falls in (L{BINS_PER_E}),
NULL without one."""

SCHEMA = [
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
"""The statements that make a new store's tables (an existing one's are left as they are)."""
INSERT = ("INSERT INTO hits BY NAME SELECT "  # noqa: S608  # names are COLUMNS', not input
          + ", ".join([*(f'"{name}"' for name, _, _ in COLUMNS),
                       *(f'{sql} AS "{name}"' for name, _, sql in DERIVED)])
          + ", ? AS file FROM batch")
"""Stores a batch, by the columns' names (an upgraded store has its later ones in another
order: L{weblog.upgrade})."""

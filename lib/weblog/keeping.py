# -*- test-case-name: tests.test_keeping -*-
"""
What the store keeps: the hits within the retention, its files within the size cap, DuckDB
within its memory.

The writer (L{weblog.historian}) asks L{Keeping.keep} after each batch.  The
oldest hits go first, whichever bound they pass; their files' positions stay,
so they are never stored again.  DuckDB does not shrink its file when rows are
deleted: a CHECKPOINT frees their blocks, which later hits reuse (and the file
is cut when the free blocks are at its end).  So the cap is kept on the blocks
in use, with room left for the write-ahead log and for what a checkpoint
writes before it frees the blocks it replaces (see the README for what was
measured).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from twisted.logger import Logger

from weblog.appending import Stored
from weblog.settings import BACKFILL_MEMORY, HISTORY_MEMORY
from weblog.store import WAL_BYTES, Store, StoreError
from weblog.storing import BATCH_BYTES
from weblog.timestamps import earlier

__all__ = ["Held", "Keeping", "PRUNE_SECONDS"]

FUTURE_MOST = timedelta(days=1)
"""How far past the time of day the newest hit may be and still say where the retention ends."""
PRUNE_SECONDS = 300.0
"""How often the hits older than the retention are deleted."""
WAL_SHARE = 16
"""Under a cap, the write-ahead log is checkpointed at a 16th of it (at most L{WAL_BYTES})."""
BATCH_SHARE = 16
"""Under a cap, a batch of a log is at most a 16th of it (and at most L{BATCH_BYTES}): a batch of
long lines, fewer than a row group, goes all through the write-ahead log."""
BATCH_WAL = 2
"""Room for one batch in the write-ahead log past its checkpoint size (DuckDB checkpoints after
the commit that passes it), in batches' bytes: a batch's hits take up to 1.6 times its bytes
there (measured)."""
ROW_GROUP = 122_880
"""The hits in one of DuckDB's row groups, the unit its checkpoints write."""
ROW_GROUPS = 4
"""Room left in the cap for what a checkpoint writes before it frees what it replaces: as many
row groups (2.3 of them were measured over one log, more when several logs' times interleave)."""
STEP = 0.1
"""Once over, hits are deleted until the blocks in use are this share of the cap lower."""
TRIES = 4
"""The most rounds of deleting and checkpointing after one batch."""
_log = Logger()


class Held:
    """What the store holds: how many hits, and the oldest and newest time."""

    def __init__(self, stored: int, oldest: datetime | None, newest: datetime | None) -> None:
        self.stored, self.oldest, self.newest = stored, oldest, newest

    def add(self, batch: Stored) -> None:
        """Count a batch just stored."""
        if not batch.hits:
            return
        self.stored += batch.hits
        first, last = batch.oldest, batch.newest
        assert first is not None and last is not None
        self.oldest = first if self.oldest is None else min(self.oldest, first)
        self.newest = last if self.newest is None else max(self.newest, last)

    def to_json(self) -> dict[str, Any]:
        """As the C{history} object says it."""
        return {"stored": self.stored,
                "oldest": None if self.oldest is None else self.oldest.isoformat(),
                "newest": None if self.newest is None else self.newest.isoformat()}


class Keeping:
    """
    Keeps a store within its bounds: days back from the newest hit, bytes on disk, and
    DuckDB's memory.

    @ivar wal_bytes: how big the store's write-ahead log may grow (see L{Store}).
    @ivar batch_bytes: the most bytes of a log the writer stores in one batch.
    @ivar memory_now: the MiB DuckDB may use now (L{fit_memory}).
    """

    def __init__(self, retain_days: int = 400, max_bytes: int = 0,
                 prune_every: float = PRUNE_SECONDS, batch_wal: int | None = None,
                 memory: int = HISTORY_MEMORY,
                 clock: Callable[[], float] = time.monotonic,
                 today: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        """
        @param retain_days: how many days of hits back from the newest are kept.
        @param max_bytes: the cap on the store's files (0: none).
        @param prune_every: seconds between two deletions of the hits past the retention.
        @param batch_wal: the most bytes one batch adds to the write-ahead log (default: as
            L{BATCH_WAL} says, of L{batch_bytes}).
        @param memory: the most MiB DuckDB may use once the logs are all stored.
        @param clock: the time, in seconds, for L{prune_every}.
        @param today: the time of day, which a hit's time can pass by a day at most to count as
            the newest (a line dated in the future cannot take every other hit past the
            retention).
        """
        self.retain = timedelta(days=retain_days)
        self.max_bytes = max_bytes
        self.wal_bytes = min(WAL_BYTES, max_bytes // WAL_SHARE) if max_bytes else WAL_BYTES
        self._prune_every = prune_every
        self.batch_bytes = (min(BATCH_BYTES, max_bytes // BATCH_SHARE) if max_bytes
                            else BATCH_BYTES)
        self._batch_wal = BATCH_WAL * self.batch_bytes if batch_wal is None else batch_wal
        self._clock = clock
        self._today = today
        self._pruned: float | None = None
        self.memory = memory
        self.memory_now = min(memory, BACKFILL_MEMORY)

    def opened_memory(self) -> int:
        """The MiB DuckDB may use in a store just opened: at most L{BACKFILL_MEMORY}, until
        its logs are all stored (L{fit_memory})."""
        self.memory_now = min(self.memory, BACKFILL_MEMORY)
        return self.memory_now

    def fit_memory(self, store: Store, backlog: int, caught_up: bool) -> None:
        """
        Hold DuckDB to L{BACKFILL_MEMORY} from when more than a batch of the logs is left to
        store (C{backlog} bytes, as last measured) until all of it is (C{caught_up}: a step
        found nothing more to store, and nothing more was measured): a checkpoint takes
        whatever the limit allows (with 192 MiB for the last batch of a backfill, the historian
        passed 400 MB).  Then to L{memory}: room to keep what the answers read.  When DuckDB
        cannot free enough for a lower limit (a query holds more), the limit stays, until the
        next batch.
        """
        if backlog > self.batch_bytes:
            memory = min(self.memory, BACKFILL_MEMORY)
        elif caught_up and backlog <= 0:
            memory = self.memory
        else:
            return  # a batch or less left: as it was (not lowered for a line that came since)
        if memory == self.memory_now:
            return
        try:
            store.limit_memory(memory)
        except StoreError as error:
            _log.info("history: DuckDB's memory stays at {now} MiB: {error}",
                      now=self.memory_now, error=str(error))
            return
        self.memory_now = memory

    def keep(self, store: Store, held: Held, stored: bool) -> bool:
        """
        Bring C{store} back within its bounds, if a batch (C{stored}) or time took it out.

        @return: whether hits were deleted (C{held} no longer says what the store holds).
        @raise weblog.store.StoreError: if the store cannot be written.
        """
        deleted = stored and self._cap(store, held)
        now = self._clock()
        if held.newest is not None and (self._pruned is None
                                        or now - self._pruned >= self._prune_every):
            self._pruned = now
            newest = min(held.newest, self._today() + FUTURE_MOST)
            deleted = store.prune(earlier(newest, self.retain)) > 0 or deleted
        return deleted

    def _cap(self, store: Store, held: Held) -> bool:
        """Delete the oldest hits while the blocks in use pass the cap's share; whether any."""
        if not self.max_bytes or not held.stored:
            return False
        used = store.used_bytes()
        left = held.stored
        # a checkpoint rewrites some row groups: the whole store, while it is smaller
        rewritten = ROW_GROUPS * ROW_GROUP * used / max(left, ROW_GROUPS * ROW_GROUP)
        high = self.max_bytes - self.wal_bytes - self._batch_wal - rewritten
        if used <= high:
            return False
        for _ in range(TRIES):
            low = high - self.max_bytes * STEP
            count = min(left, math.ceil((used - low) * left / used)) if left else 0
            if count <= 0:
                break
            left -= store.prune_oldest(count)
            store.checkpoint()
            used = store.used_bytes()
            if used <= high:
                break
        return True

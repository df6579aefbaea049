"""The full history store that the query, restart and size benchmarks read: built once a run."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import backfill
from children import PYTHON, child_json
from context import Context

FREE_NEEDED = 5 * 10**9
"""Free bytes wanted under the work dir before the 1 GB log and its store are made."""


@dataclass(frozen=True)
class FullStore:
    """A state directory whose history.duckdb holds every hit of C{log}, and how it was made."""

    log: Path
    state: Path
    lines: int
    stored: int
    seconds: float
    size: int
    story: str


def history_log(ctx: Context) -> tuple[Path, str]:
    """The log the history benchmarks backfill: the 1 GB one, or 1M lines when quick; its story."""
    assert ctx.logs is not None
    if ctx.quick:
        return ctx.logs.by_lines(1_000_000), ctx.logs.stories["lines-1000000"]
    free = shutil.disk_usage(ctx.work).free
    if free < FREE_NEEDED:
        raise RuntimeError(f"only {free / 1e9:.1f} GB free under {ctx.work.parent} "
                           f"({FREE_NEEDED / 1e9:.0f} GB wanted for the 1 GB log and its store)")
    return ctx.logs.by_size(10**9, "1GB"), ctx.logs.stories["1GB"]


def full_store(ctx: Context) -> FullStore:
    """The full store of L{history_log}, backfilled by the history's writer the first time."""
    made = ctx.made.get("fullstore")
    if isinstance(made, FullStore):
        return made
    log, story = history_log(ctx)
    state = ctx.work / "fullstore"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    result = child_json([PYTHON, backfill.__file__, str(log), str(state / "history.duckdb")],
                        timeout=3600)
    built = FullStore(log=log, state=state, lines=int(result["lines"]),
                      stored=int(result["stored"]), seconds=float(result["seconds"]),
                      size=int(result["size"]), story=story)
    ctx.made["fullstore"] = built
    return built


def made_note(store: FullStore) -> str:
    """How the full store was made, for a section's notes."""
    return (f"The store: every hit of the log ({store.story}) stored once per run by the "
            f"history's writer in a fresh process (`Storing(Store(...), [log])`, as benchmark 7 "
            f"does), {store.stored:,} hits in {store.seconds:.0f} s, {store.size / 1e6:.0f} MB; "
            f"then served by a twistd whose WEBLOG_STATE holds it and whose WEBLOG_LOG is the "
            f"same log, so its historian finds every file stored and reads nothing again.")

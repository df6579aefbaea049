"""Benchmark 12, store size and memory: the store of the big log against the log, and the
historian's resident memory while it backfills and while it answers queries."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from context import Context
from fullstore import history_log
from historyserver import (
    RssSampler,
    history_server,
    historian_hwm_mb,
    stop_all,
    store_bytes,
    timed_gets,
    wait_for,
)
from queries import paths
from report import Figure, Section, at_most
from weblog.settings import BACKFILL_MEMORY, HISTORY_MEMORY
from scale import first_page

BACKFILL_MOST = 1800.0
"""The longest a round waits for the server to backfill the big log."""


def backfilled(found: dict[str, Any]) -> bool:
    """Whether the JSON says the history holds all of the logs."""
    history = found["history"]
    return bool(history["state"] == "ok" and 0 < history["bytes_total"] <= history["bytes_done"])


def backfill(ctx: Context, log: Path, state: Path) -> dict[str, Any]:
    """A fresh server backfills C{log} into C{state}: time, hits, and memory while it did."""
    server = history_server(ctx, log, "footprint", state)
    server.launch()
    try:
        first_page(server)  # the first request starts the historian
        began = time.monotonic()
        with RssSampler(server) as sampled:
            done = wait_for(server, backfilled, BACKFILL_MOST, "backfilled", every=0.5)
        seconds = time.monotonic() - began
        peak = historian_hwm_mb(server)
    finally:
        stop_all(server)
    return {"seconds": seconds, "stored": done["history"]["stored"], "hwm": peak,
            "sampled": sampled.historian_kib / 1024, "twistd": sampled.twistd_kib / 1024,
            "samples": sampled.samples}


def query(ctx: Context, log: Path, state: Path, stored: int, count: int) -> dict[str, Any]:
    """A server started again on the full store answers uncached views: memory meanwhile."""
    server = history_server(ctx, log, "footprint", state)
    server.start()
    try:
        server.get("/weblog.rpy")
        wait_for(server, lambda f: f["history"]["state"] == "ok"
                 and f["history"]["stored"] == stored, 300, "serving the store")
        whole = server.get_json("/weblog.rpy/json?range=all", timeout=120)
        going = paths(str(whole["top"]["sites"][0][0]))
        with RssSampler(server) as sampled:
            for name in ("all", "filtered"):
                timed_gets(server, going[name], count, 120)
        peak = historian_hwm_mb(server)
    finally:
        stop_all(server)
    return {"hwm": peak, "sampled": sampled.historian_kib / 1024,
            "twistd": sampled.twistd_kib / 1024}


def run(ctx: Context) -> Section:
    """Rounds of a backfill by the server, then queries on what it stored; sizes and memory."""
    section = Section("footprint", "12. Store size and memory")
    log, story = history_log(ctx)
    count = 10 if ctx.quick else 20
    state = ctx.work / "footprint-state"
    fills: list[dict[str, Any]] = []
    asks: list[dict[str, Any]] = []
    sizes: list[int] = []
    each = 120.0
    while ctx.keep_going(len(fills), ctx.runs, each):
        began = time.monotonic()
        shutil.rmtree(state, ignore_errors=True)
        fills.append(backfill(ctx, log, state))
        sizes.append(store_bytes(state))
        asks.append(query(ctx, log, state, fills[-1]["stored"], count))
        shutil.rmtree(state, ignore_errors=True)
        each = time.monotonic() - began
    stored = Figure([f["stored"] for f in fills])
    per_million = Figure([size / f["stored"] * 1e6 for size, f in zip(sizes, fills,
                                                                      strict=True)])
    log_size = log.stat().st_size
    assert ctx.logs is not None
    lines = ctx.logs.lines_of(log)

    def over(runs: list[dict[str, Any]], key: str) -> Figure:
        """One figure over the rounds."""
        return Figure([float(r[key]) for r in runs])

    section.headers = ["what", "figure"]
    section.rows += [
        ["hits stored", stored.show(digits=0)],
        ["backfill by the server, lines/s (from the first page until the JSON says ok)",
         Figure([lines / f["seconds"] for f in fills]).show()],
        ["store on disk after the backfill, MB", Figure([float(s) for s in sizes]).show(
            scale=1e-6)],
        ["store per million hits, MB", per_million.show(scale=1e-6)],
        ["store ÷ log size", Figure([s / log_size for s in sizes]).show("x", 3)],
        ["historian peak RSS (VmHWM) during the backfill, MB", over(fills, "hwm").show()],
        ["historian largest sampled RSS during the backfill, MB", over(fills, "sampled").show()],
        ["historian peak RSS (VmHWM) during queries, MB", over(asks, "hwm").show()],
        ["twistd largest sampled RSS, backfill / queries, MB",
         f"{over(fills, 'twistd').show()} / {over(asks, 'twistd').show()}"],
    ]
    for runs, when in ((fills, "backfill"), (asks, "queries")):
        peak = over(runs, "hwm")
        section.verdicts.append(at_most("footprint", f"historian RSS < 300 MB during {when}",
                                        peak.median, 300.0, peak.show(" MB")))
    section.notes += [
        f"Log: {story}.",
        f"Each round: a fresh twistd (history on, an empty WEBLOG_STATE, the default "
        f"WEBLOG_HISTORY_MEMORY ({HISTORY_MEMORY} MiB; {BACKFILL_MEMORY} while it backfills) and "
        f"WEBLOG_HISTORY_THREADS) follows "
        f"the log; its first page starts the historian, "
        f"which backfills until the JSON's `history` says ok with every byte stored "
        f"(polled every 0.5 s). Meanwhile a thread samples VmRSS of twistd and of its child, "
        f"the historian, every 0.2 s (/proc/PID/task/*/children, /proc/PID/status); the "
        f"historian's VmHWM, its peak, is read as the backfill ends. The server is stopped, the "
        f"store's files measured (history.duckdb and its .wal), and a new server started on "
        f"them answers {count} uncached `range=all` pages and {count} with `site=` and "
        f"`status=200` (as benchmark 9 asks them); its new historian's VmHWM covers opening "
        f"the store and those queries.",
        "The log repeats one 10,000-line sample, so each value recurs and DuckDB's compression "
        "does better than on a real log: a real store is larger per million hits.",
    ]
    return section


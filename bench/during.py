"""Benchmark 8, during the backfill: the first page, the page under wrk and a static probe while
the historian backfills the big log."""

from __future__ import annotations

import shutil
import time
from typing import Any

from context import Context
from fullstore import history_log
from historyserver import history_server, percentile, status, stop_all, timed_gets, wait_for
from report import Figure, Section, at_most
from scale import first_page
from wrk import wrk

CONNECTIONS = 10
STATIC = "/index.html"
"""The static file the probe fetches (www/index.html, 2 KB)."""
PROBE_PAUSE = 0.01
"""Seconds between two of the probe's requests."""


def backfilling(found: dict[str, Any]) -> bool:
    """Whether the JSON says the historian is backfilling."""
    return bool(found["history"]["state"] == "backfilling")


def done_share(found: dict[str, Any]) -> float:
    """How much of the logs the history holds, from 0 to 1."""
    history = found["history"]
    return float(history["bytes_done"]) / max(1, int(history["bytes_total"]))


def one_round(ctx: Context, index: int, probe_seconds: float) -> dict[str, Any]:
    """A fresh server on the big log and an empty state: its start, then the probe, then wrk."""
    log, _ = history_log(ctx)
    state = ctx.work / f"during-state-{index}"
    shutil.rmtree(state, ignore_errors=True)
    server = history_server(ctx, log, "during", state)
    server.launch()
    try:
        listening, first = first_page(server)  # the first request starts Records, historian
        begun = wait_for(server, lambda f: f["history"]["state"] != "starting", 60,
                         "storing", every=0.05)
        storing = time.monotonic() - server.started
        if not backfilling(begun):
            raise RuntimeError(f"the history was {begun['history']['state']} before the "
                               f"measurements, not backfilling: {begun['history']['reason']}")
        probe = timed_gets(server, iter(lambda: STATIC, ""), 1_000_000, probe_seconds,
                           PROBE_PAUSE)
        middle = status(server)
        result = wrk(server.url("/weblog.rpy"), ctx.wrk_seconds, CONNECTIONS) \
            if ctx.tools.get("wrk") else None
        after = status(server)
    finally:
        stop_all(server)
        shutil.rmtree(state, ignore_errors=True)
    if result is not None and (result.non2xx or result.errors):
        raise RuntimeError(f"wrk saw {result.non2xx} non-2xx, {result.errors} errors")
    return {"listen": listening, "first": first, "after_listen": first - listening,
            "storing": storing, "probe_max": max(probe), "probe_p99": percentile(probe, 0.99),
            "probes": len(probe), "p50": result.p50_ms if result else None,
            "p99": result.p99_ms if result else None, "rps": result.rps if result else None,
            "share_from": done_share(begun), "share_to": done_share(after),
            "throughout": [backfilling(middle), backfilling(after)]}


def run(ctx: Context) -> Section:
    """Rounds of a fresh server on the big log: is it up at once, and unhurt by the backfill?"""
    section = Section("during", "8. During the backfill")
    log, story = history_log(ctx)
    probe_seconds = 2.0 if ctx.quick else 5.0
    rounds: list[dict[str, Any]] = []
    while ctx.keep_going(len(rounds), ctx.runs, probe_seconds + ctx.wrk_seconds + 20):
        rounds.append(one_round(ctx, len(rounds), probe_seconds))

    def fig(key: str, unit: str = "", digits: int | None = None, scale: float = 1.0) -> str:
        """One column's figure over the rounds, or why there is none."""
        values = [r[key] for r in rounds if r[key] is not None]
        return Figure(values).show(unit, digits, scale) if values else "not measured (no wrk)"

    section.headers = ["start → listening s", "start → first page s", "listening → first page s",
                       "start → backfilling s", "static probe max ms", "static probe p99 ms",
                       "page p50 ms", "page p99 ms", "page requests/s", "log stored while measured"]
    section.rows.append([
        fig("listen"), fig("first"), fig("after_listen"), fig("storing"), fig("probe_max"),
        fig("probe_p99"), fig("p50"), fig("p99"), fig("rps"),
        f"{fig('share_from', '%', 0, 100)} → {fig('share_to', '%', 0, 100)}"])
    first = Figure([r["first"] for r in rounds])
    probe = Figure([r["probe_max"] for r in rounds])
    p99 = [r["p99"] for r in rounds if r["p99"] is not None]
    section.verdicts += [
        at_most("during", "first page within 0.5 s of start (during the backfill)", first.median,
                0.5, first.show(" s")),
        at_most("during", "page p99 < 100 ms under wrk during the backfill",
                Figure(p99).median if p99 else None, 100.0,
                Figure(p99).show(" ms") if p99 else "not measured (no wrk)"),
        at_most("during", "static-file probe's longest wait < 50 ms during the backfill",
                probe.median, 50.0, probe.show(" ms")),
    ]
    short = sum(not all(r["throughout"]) for r in rounds)
    section.notes += [
        f"Log: {story}.",
        f"Each round starts a fresh `twistd web --path` with WEBLOG_LOG on that log, the history "
        f"on and an empty WEBLOG_STATE, and times from just before the process is made until it "
        f"listens and until the first complete 200 of /weblog.rpy, whose first request makes "
        f"Records and starts the historian; then, once the JSON's `history.state` says "
        f"`backfilling`, a probe GETs {STATIC} on a new connection every {PROBE_PAUSE * 1000:.0f}"
        f" ms for {probe_seconds:.0f} s (its longest wait and p99 over "
        f"{min(r['probes'] for r in rounds)}+ requests), then "
        f"`wrk -t1 -c{CONNECTIONS} -d{ctx.wrk_seconds}s --latency` loads /weblog.rpy (no "
        f"warm-up: the backfill will not wait).",
        "'Log stored while measured' is the JSON's `history.bytes_done ÷ bytes_total` as the "
        "probe began and as wrk ended; "
        + ("the history said `backfilling` then in every round, so every figure was measured "
           "during the backfill." if not short else
           f"in {short} of {len(rounds)} rounds the backfill had ended before wrk did, so part "
           f"of that load ran after it (this machine needs a longer log)."),
    ]
    return section

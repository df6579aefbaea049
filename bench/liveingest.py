"""Benchmark 11, live ingest with the store on: lines appended to a log a running server follows,
against GoAccess parsing the same lines."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from context import Context
from historyserver import history_server, stop_all, wait_for
from ingest import goaccess_once
from report import Figure, Section, Verdict, at_least

POLL = 0.05
"""Seconds between two reads of the JSON's C{log.lines} while the server reads."""


def one_round(ctx: Context, big: Path, count: int) -> dict[str, Any]:
    """A fresh server following the sample with its store; append C{big}; time the reading."""
    assert ctx.logs is not None
    live = ctx.work / "liveingest.log"
    live.write_bytes(ctx.logs.data)
    state = ctx.work / "liveingest-state"
    shutil.rmtree(state, ignore_errors=True)
    sample, sample_lines = len(ctx.logs.data), len(ctx.logs.lines)
    server = history_server(ctx, live, "liveingest", state)
    server.start()
    try:
        server.get("/weblog.rpy")  # makes Records, and starts the historian
        ready = wait_for(server, lambda f: f["log"]["lines"] >= sample_lines
                         and f["history"]["state"] == "ok"
                         and f["history"]["bytes_done"] >= sample, 120, "ready")
        lines, malformed = ready["log"]["lines"], ready["log"]["malformed"]
        start = time.perf_counter()
        with open(big, "rb") as source, open(live, "ab") as target:
            shutil.copyfileobj(source, target, 1 << 20)
        copied = time.perf_counter() - start
        read = wait_for(server, lambda f: f["log"]["lines"] >= lines + count, 600, "read",
                        every=POLL)
        seconds = time.perf_counter() - start
        total = sample + big.stat().st_size
        stored = wait_for(server, lambda f: f["history"]["state"] == "ok"
                          and f["history"]["bytes_done"] >= total, 600, "stored", every=0.2)
        stored_after = time.perf_counter() - start
    finally:
        stop_all(server)
        shutil.rmtree(state, ignore_errors=True)
        live.unlink(missing_ok=True)
    added_malformed = read["log"]["malformed"] - malformed
    return {"lines_per_s": count / seconds, "seconds": seconds, "copied": copied,
            "read": read["log"]["lines"] - lines, "stored_after": stored_after,
            "stored": stored["history"]["stored"] - ready["history"]["stored"],
            "expected": count - added_malformed, "malformed": added_malformed}


def run(ctx: Context) -> Section:
    """Rounds of appending the big log to a followed one, then GoAccess on the same lines."""
    assert ctx.logs is not None
    section = Section("liveingest", "11. Live ingest with the store on")
    count = 200_000 if ctx.quick else 1_000_000
    big = ctx.logs.by_lines(count)
    has_goaccess = bool(ctx.tools.get("goaccess"))
    out = ctx.work / "goaccess-liveingest.json"
    rounds: list[dict[str, Any]] = []
    goaccess: list[float] = []
    while ctx.keep_going(len(rounds), ctx.runs, 60):
        rounds.append(one_round(ctx, big, count))
        if has_goaccess:
            goaccess.append(count / goaccess_once(big, out)[0])
    weblog = [r["lines_per_s"] for r in rounds]
    ratio = Figure([x / y for x, y in zip(weblog, goaccess, strict=True)]) if goaccess else None
    section.headers = ["tool", "lines/s", "weblog ÷ tool"]
    section.rows.append(["weblog server, history on (log.lines)", Figure(weblog).show(), "1"])
    section.rows.append(["GoAccess", Figure(goaccess).show() if goaccess else "not measured",
                         ratio.show("x", 2) if ratio else "—"])
    section.rows.append(["weblog's historian, storing the same lines",
                         Figure([count / r["stored_after"] for r in rounds]).show(), "—"])
    section.verdicts.append(at_least(
        "liveingest", "live ingest with the store on ≥ 3x GoAccess's lines/s",
        ratio.median if ratio else None, 3.0,
        ratio.show("x", 2) if ratio else "not measured (no goaccess)"))
    missing = [(r["stored"], r["expected"]) for r in rounds if r["stored"] != r["expected"]]
    section.verdicts.append(Verdict(
        "liveingest", "the historian stored every appended hit (history.stored)",
        f"{rounds[-1]['stored']:,} of {rounds[-1]['expected']:,} in the last round"
        + (f"; short in {len(missing)} rounds: {missing}" if missing else ", every round"),
        not missing, "" if not missing else "hits missing or stored twice"))
    section.notes += [
        f"Log: {ctx.logs.stories[f'lines-{count}']}.",
        f"Each round starts a fresh twistd (history on, an empty WEBLOG_STATE) following a log "
        f"that holds the sample ({len(ctx.logs.lines):,} lines), waits until the server has "
        f"read it and the JSON's `history` says ok with it stored, then appends the {count:,} "
        f"lines in 1 MiB writes (which took {Figure([r['copied'] for r in rounds]).show(' s')})"
        f" and reads /weblog.rpy/json?limit=1 every {POLL * 1000:.0f} ms until `log.lines` has "
        f"grown by {count:,}: lines/s = {count:,} ÷ the time from the first write. The "
        f"historian, in its own process, stores the same lines meanwhile; its row is {count:,} "
        f"÷ the time until `history.bytes_done` covered the log (the server hears the historian's "
        f"status once a second, so it is a low bound), and `history.stored` must "
        f"then have grown by the lines less the malformed ones Records counted "
        f"({rounds[-1]['malformed']:,}).",
        "GoAccess: `goaccess FILE --log-format=COMBINED -o out.json` on the appended lines "
        "alone, after each round; a ratio is the median of the rounds' ratios.",
    ]
    return section

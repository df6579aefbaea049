"""Benchmark 10, restart with a full store: the first page, and nothing read again beyond the
ring."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from context import Context
from fullstore import full_store, made_note
from historyserver import KEEP, history_server, status, stop_all, wait_for
from report import Figure, Section, Verdict, at_most
from scale import first_page
from tests.server import TwistdServer

SETTLED = 1.0
"""Seconds in which C{log.lines} must not change for the start's reading to count as done."""


def files_table(state: Path) -> list[tuple[Any, ...]]:
    """The store's C{files} rows (identity, path, position, lines, hits), read-only."""
    import duckdb

    db = duckdb.connect(str(state / "history.duckdb"), read_only=True)
    try:
        return sorted(db.execute("SELECT identity, path, position, lines, hits FROM files")
                      .fetchall())
    finally:
        db.close()


def settled_lines(server: TwistdServer, most: float = 60.0) -> dict[str, Any]:
    """The JSON once C{log.lines} has stayed the same for L{SETTLED} s (at most C{most} s)."""
    end = time.monotonic() + most
    found = status(server)
    while time.monotonic() < end:
        time.sleep(SETTLED)
        again = status(server)
        if again["log"]["lines"] == found["log"]["lines"]:
            return again
        found = again
    raise RuntimeError(f"log.lines still growing after {most:.0f} s: {found['log']}")


def one_round(ctx: Context, state: Path, log: Path) -> dict[str, Any]:
    """Start a server on the full store: its first pages; what it read once settled; stop."""
    server = history_server(ctx, log, "restart", state)
    server.launch()
    try:
        listening, first = first_page(server)
        wait_for(server, lambda f: f["history"]["state"] == "ok", 120, "ok", every=0.05)
        ok = time.monotonic() - server.started
        code, body = server.get("/weblog.rpy?range=all", timeout=120)
        if code != 200:
            raise RuntimeError(f"GET /weblog.rpy?range=all: {code} {body[:200]!r}")
        history_page = time.monotonic() - server.started
        found = settled_lines(server)
    finally:
        stop_all(server)
    return {"listen": listening, "first": first, "ok": ok, "history_page": history_page,
            "lines": found["log"]["lines"], "stored": found["history"]["stored"]}


def run(ctx: Context) -> Section:
    """Rounds of start, settle and stop on the full store; compare the store before and after."""
    section = Section("restart", "10. Restart with a full store")
    store = full_store(ctx)
    before = files_table(store.state)
    rounds: list[dict[str, Any]] = []
    changed: list[int] = []
    while ctx.keep_going(len(rounds), ctx.runs, 20):
        rounds.append(one_round(ctx, store.state, store.log))
        if files_table(store.state) != before:
            changed.append(len(rounds))

    def fig(key: str) -> Figure:
        """One column's figure over the rounds."""
        return Figure([float(r[key]) for r in rounds])

    beyond = Figure([max(0, r["lines"] - KEEP) for r in rounds])
    stored = sorted({r["stored"] for r in rounds})
    section.headers = ["start → listening s", "start → first page s", "start → history ok s",
                       "start → first range=all page s", "log.lines after start",
                       "beyond the ring", "history.stored"]
    section.rows.append([fig("listen").show(), fig("first").show(), fig("ok").show(),
                         fig("history_page").show(), fig("lines").show(digits=0),
                         beyond.show(digits=0),
                         ", ".join(f"{n:,}" for n in stored)])
    first = fig("first")
    same = stored == [store.stored] and not changed
    section.verdicts += [
        at_most("restart", "first page < 1 s after a restart with a full store", first.median,
                1.0, first.show(" s")),
        at_most("restart", "lines read at start beyond the ring = 0", beyond.high, 0.0,
                f"{beyond.high:,.0f} at most (log.lines {fig('lines').high:,.0f}, "
                f"WEBLOG_KEEP {KEEP:,})"),
        Verdict("restart", "nothing read again into the store",
                f"history.stored {', '.join(f'{n:,}' for n in stored)} (built: "
                f"{store.stored:,}); the files table "
                + (f"changed after rounds {changed}" if changed else "unchanged"),
                same, "" if same else "the store changed"),
    ]
    section.notes += [
        made_note(store),
        f"Each round starts a twistd on that store and log (WEBLOG_KEEP={KEEP:,}), times from "
        f"just before the process is made until it listens, until the first complete 200 of "
        f"/weblog.rpy (whose request starts Records and the historian), until the JSON's "
        f"`history.state` is ok and until a first `range=all` page (a cold query); then waits "
        f"until `log.lines` stays the same for {SETTLED:.0f} s, reads it and `history.stored`, "
        f"and stops the server (SIGTERM) and waits for its historian to leave. After each "
        f"round the store's `files` table (each file's identity, path, position, lines and "
        f"hits), read-only, is compared with the one before the first round "
        f"({len(before)} file{'s' if len(before) != 1 else ''}).",
        "'Beyond the ring' is log.lines − WEBLOG_KEEP: what the start read that the ring does "
        "not need (a start reads back only the ring's lines, from the log's end).",
    ]
    return section

"""Benchmark 5, sustained: the log grows at 20,000 lines/s while wrk loads /weblog.rpy."""

from __future__ import annotations

import threading
import time
from typing import Any

from context import Context
from logs import append_at_rate
from report import Figure, Section, at_most
from servers import weblog_server
from wrk import wrk

RATE = 20_000
CONNECTIONS = 10
CATCH_UP_LIMIT = 120.0


def one_run(ctx: Context, seconds: int, index: int) -> dict[str, Any]:
    """One run: writer and wrk together; then the lag, the catch-up time and the page's figures."""
    assert ctx.logs is not None
    live = ctx.work / f"sustained-{index}.log"
    live.write_bytes(ctx.logs.data)
    lines = ctx.logs.lines
    position = [0]

    def batch(count: int) -> bytes:
        """The next C{count} lines of the sample, going round it."""
        start = position[0]
        position[0] = (start + count) % len(lines)
        chunk = lines[start:start + count]
        while len(chunk) < count:
            chunk += lines[:count - len(chunk)]
        return b"".join(chunk)

    written: list[tuple[int, float]] = []
    with weblog_server(ctx.work, live, "sustained") as server:
        base = server.get_json("/weblog.rpy/json?limit=1")["log"]["lines"]
        for _ in range(50):  # the read-back at start, ready before the clock starts
            if base >= len(lines):
                break
            time.sleep(0.1)
            base = server.get_json("/weblog.rpy/json?limit=1")["log"]["lines"]
        cpu = server.cpu_seconds()
        writer = threading.Thread(
            target=lambda: written.append(append_at_rate(live, RATE, seconds, batch, 0.02)),
            daemon=True)
        writer.start()
        result = wrk(server.url("/weblog.rpy"), seconds, CONNECTIONS)
        writer.join(timeout=seconds + 30)
        if not written:
            raise RuntimeError("the writer did not finish")
        count, took = written[0]
        read = server.get_json("/weblog.rpy/json?limit=1")["log"]["lines"] - base
        stopped = time.monotonic()
        cpu = (server.cpu_seconds() - cpu) / took
        caught = None
        while time.monotonic() - stopped < CATCH_UP_LIMIT:
            if server.get_json("/weblog.rpy/json?limit=1")["log"]["lines"] - base >= count:
                caught = time.monotonic() - stopped
                break
            time.sleep(0.1)
        rss = server.rss_kib() / 1024
    live.unlink(missing_ok=True)
    return {"written": count, "rate": count / took, "read": read,
            "lag": max(count - read, 0) / RATE, "behind": count - read, "caught": caught,
            "rps": result.rps, "p50": result.p50_ms, "p99": result.p99_ms, "cpu": cpu,
            "rss": rss, "non2xx": result.non2xx, "errors": result.errors}


def run(ctx: Context) -> Section:
    """Runs of writer and wrk together: Records's lag, and the page's latency under the growth."""
    assert ctx.logs is not None
    section = Section("sustained", "5. Sustained")
    seconds = 10 if ctx.quick else 60
    runs = 1 if ctx.quick else ctx.runs
    lag_target = "Records keeps up: lag < 1 s when the writer stops"
    p99_target = "page p99 < 100 ms under the growing log"
    if not ctx.tools.get("wrk"):
        section.notes.append("Not measured: wrk is not installed (`apt-get install -y wrk`).")
        section.verdicts += [at_most("sustained", lag_target, None, 1.0, "not measured (no wrk)"),
                             at_most("sustained", p99_target, None, 100.0,
                                     "not measured (no wrk)")]
        return section
    results: list[dict[str, Any]] = []
    while ctx.keep_going(len(results), runs, seconds + 20):
        results.append(one_run(ctx, seconds, len(results)))

    def fig(key: str, unit: str = "", digits: int | None = None, scale: float = 1.0) -> str:
        """One column's figure over the runs."""
        return Figure([r[key] for r in results]).show(unit, digits, scale)

    caught = [r["caught"] for r in results]
    section.headers = ["lines written", "rate achieved", "read when the writer stopped",
                       "lag s", "caught up after s", "page req/s", "page p50 ms", "page p99 ms",
                       "server CPU", "RSS MB"]
    section.rows.append([
        fig("written"), fig("rate", "/s"), fig("read"), fig("lag", digits=2),
        Figure([c for c in caught if c is not None]).show(digits=2)
        + (f"; {caught.count(None)} runs not within {CATCH_UP_LIMIT:.0f} s"
           if None in caught else ""),
        fig("rps"), fig("p50"), fig("p99"), fig("cpu", " %", 0, 100), fig("rss", digits=0)])
    non2xx, errors = sum(r["non2xx"] for r in results), sum(r["errors"] for r in results)
    if non2xx or errors:
        section.notes.append(f"wrk saw {non2xx} non-2xx answers and {errors} socket errors.")
    lag = Figure([r["lag"] for r in results])
    p99 = Figure([r["p99"] for r in results])
    section.verdicts.append(at_most(
        "sustained", lag_target, lag.median, 1.0,
        f"{lag.show(' s', 2)} (at most {max(r['behind'] for r in results):,} lines behind)"))
    section.verdicts.append(at_most("sustained", p99_target, p99.median, 100.0,
                                    p99.show(" ms", 1)))
    section.notes += [
        f"Each run: a fresh server following a log that starts as the sample "
        f"({len(ctx.logs.lines):,} lines, read back at start and not counted), then a writer "
        f"thread appends the sample's lines, going round it, at {RATE:,} lines/s in batches "
        f"every 20 ms for {seconds} s, while `wrk -t1 -c{CONNECTIONS} -d{seconds}s --latency` "
        f"loads /weblog.rpy. Lag = (lines written − lines read, from /weblog.rpy/json?limit=1 "
        f"`log.lines`) ÷ {RATE:,}, read as the writer stops; then the JSON is polled every "
        f"0.1 s until every line is read.",
        "Server CPU is the share of one core the server used while the writer ran.",
    ]
    return section

"""Benchmark 5, sustained: the log grows at 20,000 lines/s while wrk loads /weblog.rpy."""

from __future__ import annotations

import threading
import time

from common import Context, Section, Server, append_at_rate, at_most, wrk

RATE = 20_000
CONNECTIONS = 10
CATCH_UP_LIMIT = 120.0


def run(ctx: Context) -> Section:
    """One run: writer and wrk together; then the lag, the catch-up time and the page's p99."""
    assert ctx.logs is not None
    section = Section("sustained", "5. Sustained")
    seconds = 10 if ctx.quick else 60
    lag_target = "Records keeps up: lag < 1 s when the writer stops"
    p99_target = "page p99 < 100 ms under the growing log"
    if not ctx.tools.get("wrk"):
        section.notes.append("Not measured: wrk is not installed (`apt-get install -y wrk`).")
        section.verdicts += [at_most("sustained", lag_target, None, 1.0, "not measured (no wrk)"),
                             at_most("sustained", p99_target, None, 100.0,
                                     "not measured (no wrk)")]
        return section
    live = ctx.work / "sustained.log"
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
    with Server(ctx.work, live, "sustained") as server:
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
        lag = (count - read) / RATE
        caught = None
        while time.monotonic() - stopped < CATCH_UP_LIMIT:
            if server.get_json("/weblog.rpy/json?limit=1")["log"]["lines"] - base >= count:
                caught = time.monotonic() - stopped
                break
            time.sleep(0.1)
        rss = server.rss_mb()
    live.unlink(missing_ok=True)
    section.headers = ["lines written", "rate achieved", "read when the writer stopped",
                       "lag s", "caught up after s", "page req/s", "page p50 ms", "page p99 ms",
                       "server CPU", "RSS MB"]
    section.rows.append([
        f"{count:,}", f"{count / took:,.0f}/s", f"{read:,}", f"{lag:.2f}",
        f"{caught:.2f}" if caught is not None else f"not within {CATCH_UP_LIMIT:.0f} s",
        f"{result.rps:,.0f}", f"{result.p50_ms:.1f}", f"{result.p99_ms:.1f}",
        f"{100 * cpu:.0f} %", f"{rss:.0f}"])
    if result.non2xx or result.errors:
        section.notes.append(f"wrk saw {result.non2xx} non-2xx answers and {result.errors} "
                             f"socket errors.")
    section.verdicts.append(at_most("sustained", lag_target, max(lag, 0.0), 1.0,
                                    f"{lag:.2f} s ({count - read:,} lines behind)"))
    section.verdicts.append(at_most("sustained", p99_target, result.p99_ms, 100.0,
                                    f"{result.p99_ms:.1f} ms"))
    section.notes += [
        f"A single run (as the issue allows): a server following a log that starts as the "
        f"sample ({len(lines):,} lines, read back at start and not counted), then a writer thread "
        f"appends the sample's lines, going round it, at {RATE:,} lines/s in batches every 20 ms "
        f"for {seconds} s, while `wrk -t1 -c{CONNECTIONS} -d{seconds}s --latency` loads "
        f"/weblog.rpy. Lag = (lines written − lines read, from /weblog.rpy/json?limit=1 "
        f"`log.lines`) ÷ {RATE:,}, read as the writer stops; then the JSON is polled every "
        f"0.1 s until every line is read.",
        "Server CPU is the share of one core the server used while the writer ran.",
    ]
    return section

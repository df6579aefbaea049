"""Benchmark 3, scale: start time, steady latency and RSS of weblog on a 10 MB and a 1 GB log."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from context import Context
from report import Figure, Section, at_least, at_most
from servers import weblog_server
from tests.server import TwistdServer
from wrk import wrk

CONNECTIONS = 10
FREE_NEEDED = 5 * 10**9


def big_log(ctx: Context) -> tuple[Path | None, str, str]:
    """The large log (1 GB, or 100 MB when quick), its label, and a note when it was skipped."""
    assert ctx.logs is not None
    label = "100 MB" if ctx.quick else "1 GB"
    free = shutil.disk_usage(ctx.work).free
    if not ctx.quick and free < FREE_NEEDED:
        return None, label, (f"The 1 GB log was skipped: only {free / 1e9:.1f} GB free under "
                             f"{ctx.work.parent} (5 GB wanted).")
    return ctx.logs.by_size(10**8 if ctx.quick else 10**9, label.replace(" ", "")), label, ""


def first_page(server: TwistdServer, timeout: float = 120.0) -> tuple[float, float]:
    """Seconds from process start until it listens, and until the first full 200 /weblog.rpy."""
    server.wait_listening(timeout)
    listening = time.monotonic() - server.started
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        status, body = server.get("/weblog.rpy", timeout=timeout)
        if status == 200 and body.rstrip().endswith(b"</html>") and b'id="hits"' in body:
            return listening, time.monotonic() - server.started
        time.sleep(0.05)
    raise RuntimeError("no complete /weblog.rpy within the timeout")


def measure(ctx: Context, log: Path, name: str) -> dict[str, list[float]]:
    """Restart the server for each run: start time, then wrk's p50/p99, then RSS."""
    found: dict[str, list[float]] = {"listen": [], "first": [], "p50": [], "p99": [], "rss": [],
                                     "rps": []}
    each = ctx.wrk_seconds + 5
    while ctx.keep_going(len(found["first"]), 1 if ctx.quick else ctx.runs, each):
        server = weblog_server(ctx.work, log, name)
        server.launch()
        try:
            listening, first = first_page(server)
            found["listen"].append(listening)
            found["first"].append(first)
            if ctx.tools.get("wrk"):
                wrk(server.url("/weblog.rpy"), 1 if ctx.quick else 2, CONNECTIONS)  # warm-up
                result = wrk(server.url("/weblog.rpy"), ctx.wrk_seconds, CONNECTIONS)
                if result.non2xx or result.errors:
                    raise RuntimeError(f"wrk saw {result.non2xx} non-2xx, {result.errors} errors")
                found["p50"].append(result.p50_ms)
                found["p99"].append(result.p99_ms)
                found["rps"].append(result.rps)
            found["rss"].append(server.rss_kib() / 1024)
        finally:
            server.stop()
    return found


def run(ctx: Context) -> Section:
    """Measure both logs and compare the large one's figures with the small one's."""
    assert ctx.logs is not None
    section = Section("scale", "3. Scale")
    small = ctx.logs.by_size(10**7, "10MB")
    large, label, skipped = big_log(ctx)
    sizes = [("10 MB", small)] + ([(label, large)] if large is not None else [])
    results = {name: measure(ctx, log, f"scale-{name.replace(' ', '')}") for name, log in sizes}
    section.headers = ["log", "size", "start → listening s", "start → first full page s",
                       "p50 ms", "p99 ms", "requests/s", "RSS after load MB"]
    for name, log in sizes:
        found = results[name]

        def show(key: str, found: dict[str, list[float]] = found) -> str:
            """One column's figure over the runs, or why there is none."""
            return Figure(found[key]).show() if found[key] else "not measured (no wrk)"

        section.rows.append([name, f"{log.stat().st_size / 1e6:,.1f} MB", show("listen"),
                             show("first"), show("p50"), show("p99"), show("rps"), show("rss")])
    if skipped:
        section.notes.append(skipped)
    base = results["10 MB"]
    big = results.get(label)
    for key, what in (("first", "start to first full page"), ("p50", "p50 latency"),
                      ("p99", "p99 latency"), ("rss", "RSS")):
        if big is None or not big[key] or not base[key]:
            section.verdicts.append(at_most("scale", f"{label} {what} ≤ 1.2x the 10 MB one",
                                            None, 1.2, "not measured"))
            continue
        ratio = Figure(big[key]).median / Figure(base[key]).median
        section.verdicts.append(at_most("scale", f"{label} {what} ≤ 1.2x the 10 MB one", ratio,
                                        1.2, f"{ratio:.2f}x"))
    for name, _ in sizes:
        rss = Figure(results[name]["rss"]).median
        section.verdicts.append(at_most("scale", f"RSS < 100 MB ({name} log)", rss, 100.0,
                                        f"{rss:.0f} MB"))
    if large is None:
        section.verdicts.append(at_least("scale", f"RSS < 100 MB ({label} log)", None, 0,
                                         "not measured (skipped)"))
    section.notes.append(
        f"Each run starts a fresh `twistd web --path` with WEBLOG_LOG on the log and times, from "
        f"just before the process is made, until it listens and until the first complete 200 "
        f"answer of /weblog.rpy; then, after a short wrk warm-up (not counted), "
        f"`wrk -t1 -c{CONNECTIONS} -d{ctx.wrk_seconds}s --latency` on /weblog.rpy, then VmRSS "
        f"from /proc/PID/status."
        + (" Quick mode: one run, 100 MB instead of 1 GB." if ctx.quick else ""))
    return section

"""Benchmark 2, serving: wrk on weblog's pages, the article's trivial .rpy and a static file."""

from __future__ import annotations

from context import Context
from report import Figure, Section, at_least
from servers import weblog_server
from wrk import WrkResult, wrk

URLS = [
    ("/weblog.rpy", "weblog page (HTML)"),
    ("/weblog.rpy/json", "weblog JSON"),
    ("/plain.rpy", "the article's trivial .rpy"),
    ("/index.html", "static file (index.html)"),
]
CONNECTIONS = 20


def run(ctx: Context) -> Section:
    """Load each URL in turn with wrk, interleaved over the runs; compare requests per second."""
    assert ctx.logs is not None
    section = Section("serving", "2. Serving")
    if not ctx.tools.get("wrk"):
        section.notes.append("Not measured: wrk is not installed (`apt-get install -y wrk`).")
        section.verdicts.append(at_least("serving", "/weblog.rpy ≥ 0.9x the trivial .rpy's "
                                         "requests/s", None, 0.9, "not measured (no wrk)"))
        return section
    log = ctx.logs.sample()
    results: dict[str, list[WrkResult]] = {path: [] for path, _ in URLS}
    with weblog_server(ctx.work, log, "serving") as server:
        for path, _ in URLS:
            for _ in range(3):
                status, body = server.get(path)
                if status != 200:
                    raise RuntimeError(f"GET {path}: {status} {body[:200]!r}")
            wrk(server.url(path), 1, CONNECTIONS)
        each = len(URLS) * (ctx.wrk_seconds + 1)
        rounds = 0
        while ctx.keep_going(rounds, ctx.runs, each):
            for path, _ in URLS:  # interleaved, so that the machine's drift hits every URL
                results[path].append(wrk(server.url(path), ctx.wrk_seconds, CONNECTIONS))
            rounds += 1
        rss = server.rss_kib() / 1024
    plain = [r.rps for r in results["/plain.rpy"]]
    section.headers = ["URL", "what", "requests/s", "p50 ms", "p99 ms", "÷ trivial .rpy"]
    for path, what in URLS:
        runs = results[path]
        rps = Figure([r.rps for r in runs])
        bad = sum(r.non2xx + r.errors for r in runs)
        ratio = Figure([r.rps / p for r, p in zip(runs, plain, strict=True)])
        section.rows.append([
            path, what + (f" ({bad} non-2xx or socket errors)" if bad else ""), rps.show(),
            Figure([r.p50_ms for r in runs]).show(), Figure([r.p99_ms for r in runs]).show(),
            ratio.show("x", 2)])
    weblog = Figure([r.rps for r in results["/weblog.rpy"]]).median
    ratio = Figure([r.rps / p for r, p in zip(results["/weblog.rpy"], plain, strict=True)])
    section.verdicts.append(at_least(
        "serving", "/weblog.rpy ≥ 0.9x the trivial .rpy's requests/s", ratio.median, 0.9,
        f"{ratio.show('x', 2)} ({weblog:,.0f} vs {Figure(plain).median:,.0f} req/s)"))
    section.notes += [
        f"One `twistd web --path` (a copy of www/ plus the article's plain.rpy) following "
        f"`{log.name}` ({ctx.logs.lines_of(log):,} lines); each URL warmed up, then "
        f"`wrk -t1 -c{CONNECTIONS} -d{ctx.wrk_seconds}s --latency`, the URLs taking turns in "
        f"each of the runs; a ratio is the median of the runs' ratios. Server RSS afterwards: "
        f"{rss:.0f} MB.",
        "wrk and the single-threaded server share the machine's two cores.",
    ]
    return section

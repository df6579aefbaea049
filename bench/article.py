"""Benchmark 6, the article's Records (whole log read at start) beside weblog's, as logs grow."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from children import PYTHON, child_json, peak_rss_mb
from context import Context
from report import Figure, Section


class ArticleRecords:
    """
    The article's Records, ported to Python 3.

    The whole log is read at start; each request's getNew() reads what was appended with
    readlines() and keeps the last 35 lines.
    """

    def __init__(self, log_name: str) -> None:
        """Open the log and read all of it."""
        self.log = open(log_name, encoding="utf-8", errors="replace")
        self.recs = self.log.readlines()

    def getNew(self) -> list[str]:
        """Read what was appended; keep and return the last 35 lines."""
        self.recs.extend(self.log.readlines())
        self.recs = self.recs[-35:]
        return self.recs


def article_child(path: Path) -> dict[str, object]:
    """In a fresh process: the article's Records made and asked once; time and peak RSS."""
    start = time.perf_counter()
    records = ArticleRecords(str(path))
    records.getNew()
    first = time.perf_counter() - start
    again = time.perf_counter()
    records.getNew()
    request = time.perf_counter() - again
    return {"first": first, "full": first, "request": request, "kept": len(records.recs),
            "maxrss_mb": peak_rss_mb()}


def weblog_child(path: Path) -> dict[str, object]:
    """In a fresh process: weblog's Records made and asked once, then polled until idle."""
    from twisted.internet.task import Clock

    from persist import Records

    start = time.perf_counter()
    records = Records(str(path), keep=10000, clock=Clock())
    records.getNew()
    first = time.perf_counter() - start
    while records.poll():
        pass
    full = time.perf_counter() - start
    again = time.perf_counter()
    records.getNew()
    request = time.perf_counter() - again
    return {"first": first, "full": full, "request": request, "kept": records.status()["kept"],
            "lines": records.lines,
            "maxrss_mb": peak_rss_mb()}


def run(ctx: Context) -> Section:
    """Both Records on the 10 MB, 100 MB and 1 GB logs (the last skipped when quick)."""
    assert ctx.logs is not None
    section = Section("article", "6. The article's design as a baseline")
    logs = [("10 MB", ctx.logs.by_size(10**7, "10MB")),
            ("100 MB", ctx.logs.by_size(10**8, "100MB"))]
    if not ctx.quick:
        from scale import big_log

        large, label, skipped = big_log(ctx)
        if large is not None:
            logs.append((label, large))
        else:
            section.notes.append(skipped)
    section.headers = ["log", "Records", "start: made + first getNew() s", "until idle s",
                       "a later getNew() ms", "peak RSS MB"]
    growth: dict[str, list[float]] = {"article": [], "weblog": []}
    for name, log in logs:
        for kind in ("article", "weblog"):
            found: list[dict[str, float]] = []
            while ctx.keep_going(len(found), ctx.runs, 10):
                command = [PYTHON, __file__, kind, str(log)]
                found.append(child_json(command, timeout=600))

            def fig(key: str, scale: float = 1.0, found: list[dict[str, float]] = found) -> str:
                """One column's figure over the runs."""
                return Figure([run[key] * scale for run in found]).show()

            growth[kind].append(Figure([run["first"] for run in found]).median)
            section.rows.append([
                name, "article (readlines, last 35)" if kind == "article"
                else "weblog (read back 10,000)",
                fig("first"), fig("full") if kind == "weblog" else "—",
                fig("request", 1000), fig("maxrss_mb")])
    small, large_name = logs[0][0], logs[-1][0]
    ratio = {kind: values[-1] / values[0] for kind, values in growth.items()}
    section.notes += [
        f"From the {small} to the {large_name} log the article's start time grows "
        f"{ratio['article']:.0f}x and weblog's {ratio['weblog']:.1f}x.",
        "Each figure from a fresh Python process per run (peak RSS is its VmHWM, Python "
        "and imports included). The article's Records: `open(log).readlines()` at start, then "
        "`getNew()` extends with `readlines()` and keeps the last 35 lines (text, unparsed). "
        "weblog's: `Records(path, keep=10000, clock=Clock())` and `getNew()` once, which "
        "reads back only the log's last 10,000 lines; 'until idle' goes on calling `poll()` "
        "until it says no work waits. 'A later getNew()' is the per-request cost with nothing "
        "appended (the article's returns 35 lines, weblog's all its kept hits as `Hit`s).",
    ]
    return section


def main() -> None:
    """Child modes, each in a fresh process: `article LOG` or `weblog LOG`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["article", "weblog"])
    parser.add_argument("path", type=Path)
    args = parser.parse_args()
    result = article_child(args.path) if args.mode == "article" else weblog_child(args.path)
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()

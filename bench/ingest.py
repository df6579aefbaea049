"""Benchmark 1, ingest: a running Records reads a 1M-line log, against GoAccess and apachelogs."""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from children import PYTHON, child_json, peak_rss_mb
from context import Context
from report import Figure, Section, at_least

APACHELOGS_LIMIT = 200_000
"""apachelogs parses only this many lines of the big log per run: at ~20k lines/s the whole
million would take most of the run's time budget. Its lines/s is what is compared."""


def weblog_child(big: Path, live: Path) -> dict[str, object]:
    """In a fresh process: Records on an empty file, append the big log, time reading it all."""
    from twisted.internet.task import Clock

    from persist import Records

    live.write_bytes(b"")
    records = Records(str(live), keep=10000, clock=Clock())
    records.poll()
    with open(big, "rb") as source, open(live, "ab") as target:
        shutil.copyfileobj(source, target, 1 << 20)
    start = time.perf_counter()
    polls = 0
    while records.poll():
        polls += 1
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "lines": records.lines, "malformed": records.malformed,
            "hits": records.hit_count, "counted": records.aggregates.total,
            "kept": records.status()["kept"], "polls": polls,
            "maxrss_mb": peak_rss_mb()}


def apachelogs_child(path: Path, limit: int) -> dict[str, object]:
    """In a fresh process: apachelogs parses the first C{limit} lines of the log; time it."""
    import apachelogs

    parser = apachelogs.LogParser(apachelogs.COMBINED)
    parsed = 0
    start = time.perf_counter()
    with open(path, encoding="utf-8", errors="replace") as log:
        for _entry in parser.parse_lines(itertools.islice(log, limit), ignore_invalid=True):
            parsed += 1
    seconds = time.perf_counter() - start
    with open(path, "rb") as log:
        lines = sum(1 for _ in itertools.islice(log, limit))
    return {"seconds": seconds, "lines": lines, "parsed": parsed}


def goaccess_once(path: Path, out: Path) -> tuple[float, dict[str, object]]:
    """Run `goaccess FILE --log-format=COMBINED -o out.json` once; return wall time and totals."""
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    done = subprocess.run(["goaccess", str(path), "--log-format=COMBINED", "-o", str(out)],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=600)
    seconds = time.perf_counter() - start
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"goaccess failed ({done.returncode}): {done.stderr[-300:]!r}")
    general = json.loads(out.read_text())["general"]
    return seconds, general


def run(ctx: Context) -> Section:
    """Measure ingest for weblog, GoAccess and apachelogs; compare lines per second."""
    assert ctx.logs is not None
    section = Section("ingest", "1. Ingest")
    count = 200_000 if ctx.quick else 1_000_000
    limit = 50_000 if ctx.quick else APACHELOGS_LIMIT
    big = ctx.logs.by_lines(count)
    section.notes.append(f"Log: {ctx.logs.stories[f'lines-{count}']}.")
    live = ctx.work / "ingest-live.log"

    weblog: list[float] = []
    goaccess: list[float] = []
    apache: list[float] = []
    checks: list[dict[str, object]] = []
    general: dict[str, object] = {}
    parsed = 0
    has_goaccess = bool(ctx.tools.get("goaccess"))
    out = ctx.work / "goaccess-out.json"
    rounds = 0
    while ctx.keep_going(rounds, ctx.runs, 45):
        # Each round runs the three back to back, so that the machine's drift hits them alike.
        result = child_json([PYTHON, __file__, "weblog", str(big), str(live)], timeout=600)
        if result["lines"] != count:
            raise RuntimeError(f"Records read {result['lines']} lines, not {count}")
        weblog.append(count / float(result["seconds"]))
        checks.append(result)
        if has_goaccess:
            seconds, general = goaccess_once(big, out)
            goaccess.append(count / seconds)
        result = child_json([PYTHON, __file__, "apachelogs", str(big), str(limit)], timeout=600)
        apache.append(float(result["lines"]) / float(result["seconds"]))
        parsed = int(result["parsed"])
        rounds += 1
    live.unlink(missing_ok=True)
    last = checks[-1]
    section.notes.append(
        f"weblog: `Records(path, keep=10000, clock=Clock())` in a fresh process per run, "
        f"polled once on an empty file, then the log appended and `while records.poll(): pass` "
        f"timed; it read {last['lines']:,} lines ({last['malformed']:,} malformed), counted "
        f"{last['counted']:,} in the aggregates and kept {last['kept']:,} hits, in "
        f"{last['polls']:,} slices; peak RSS {float(last['maxrss_mb']):.0f} MB.")  # type: ignore[arg-type]
    if has_goaccess:
        section.notes.append(
            f"GoAccess ({ctx.tools['goaccess']}): wall time of `goaccess FILE "
            f"--log-format=COMBINED -o out.json`, which reads the file from scratch; it reported "
            f"{general.get('total_requests')} requests ({general.get('failed_requests')} "
            f"failed).")
    else:
        section.notes.append("GoAccess: not measured (goaccess is not installed).")
    section.notes.append(
        f"apachelogs 0.6.1: `LogParser(COMBINED).parse_lines(f, ignore_invalid=True)` over the "
        f"first {min(limit, count):,} lines of the same log (all of it would take "
        f"~{count / (sorted(apache)[len(apache) // 2]):.0f} s a run), in a fresh process per "
        f"run; {parsed:,} parsed. Lines per second are compared.")
    section.notes.append(
        "Each round runs weblog, GoAccess and apachelogs back to back; a ratio is the median "
        "of the rounds' ratios, with their min and max.")

    w = Figure(weblog)
    to_goaccess = Figure([x / y for x, y in zip(weblog, goaccess, strict=True)]) \
        if goaccess else None
    to_apache = Figure([x / y for x, y in zip(weblog, apache, strict=True)])
    section.headers = ["tool", "lines/s", "weblog ÷ tool"]
    section.rows.append(["weblog Records", w.show(), "1"])
    section.rows.append(["GoAccess", Figure(goaccess).show() if goaccess else "not measured",
                         to_goaccess.show("x", 2) if to_goaccess else "—"])
    section.rows.append([f"apachelogs ({min(limit, count):,} lines)", Figure(apache).show(),
                         to_apache.show("x", 2)])
    section.verdicts.append(at_least(
        "ingest", "weblog ≥ 3x GoAccess's lines/s",
        to_goaccess.median if to_goaccess else None, 3.0,
        to_goaccess.show("x", 2) if to_goaccess else "not measured (no goaccess)"))
    section.verdicts.append(at_least(
        "ingest", "weblog ≥ 8x apachelogs' lines/s", to_apache.median, 8.0,
        to_apache.show("x", 2)))
    return section


def main() -> None:
    """Child modes, run in a fresh process: `weblog BIG LIVE` or `apachelogs LOG LIMIT`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["weblog", "apachelogs"])
    parser.add_argument("path", type=Path)
    parser.add_argument("extra")
    args = parser.parse_args()
    if args.mode == "weblog":
        result = weblog_child(args.path, Path(args.extra))
    else:
        result = apachelogs_child(args.path, int(args.extra))
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Benchmark 7, backfill: the history's writer stores a 1M-line log into a new store, against
GoAccess parsing the same file."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from children import PYTHON, child_json, peak_rss_mb
from context import Context
from ingest import goaccess_once
from report import Figure, Section, at_least


def weblog_child(log: Path, store_path: Path) -> dict[str, object]:
    """In a fresh process: the history's writer stores the whole log into a new store."""
    from weblog import settings
    from weblog.store import Store
    from weblog.storing import Storing, share_python

    share_python()  # as the historian's process does
    for name in (store_path, Path(f"{store_path}.wal")):
        name.unlink(missing_ok=True)
    memory = min(settings.history_memory(), settings.BACKFILL_MEMORY)  # as the historian's
    store = Store(str(store_path), f"{memory}MiB", settings.history_threads())
    storing = Storing(store, [str(log)])
    start = time.perf_counter()
    while storing.step():
        pass
    seconds = time.perf_counter() - start
    stored = store.summary()[0]
    looked_up = store.query("SELECT count(DISTINCT browser), count(DISTINCT system),"
                            " count(DISTINCT device), count(DISTINCT country) FROM hits")[0]
    store.close()
    return {"seconds": seconds, "lines": storing.progress.lines, "stored": stored,
            "size": os.path.getsize(store_path), "maxrss_mb": peak_rss_mb(),
            "looked_up": list(looked_up)}


def _distinct(result: dict[str, object]) -> str:
    """What the stored hits' lookups found, in words: how many distinct values of each."""
    counts = result.get("looked_up")
    if not isinstance(counts, list) or len(counts) != 4:
        return "nothing (not measured)"
    return ", ".join(f"{count} {name}" for count, name in zip(
        counts, ("browsers", "systems", "devices", "countries"), strict=True))


def run(ctx: Context) -> Section:
    """Measure the backfill of the big log against GoAccess; compare lines per second."""
    assert ctx.logs is not None
    section = Section("backfill", "7. Backfill")
    count = 200_000 if ctx.quick else 1_000_000
    big = ctx.logs.by_lines(count)
    section.notes.append(f"Log: {ctx.logs.stories[f'lines-{count}']}.")
    store = ctx.work / "backfill.duckdb"
    weblog: list[float] = []
    goaccess: list[float] = []
    last: dict[str, object] = {}
    has_goaccess = bool(ctx.tools.get("goaccess"))
    out = ctx.work / "goaccess-backfill.json"
    rounds = 0
    while ctx.keep_going(rounds, ctx.runs, 60):
        last = child_json([PYTHON, __file__, str(big), str(store)], timeout=900)
        if last["lines"] != count:
            raise RuntimeError(f"the writer stored {last['lines']} lines, not {count}")
        weblog.append(count / float(str(last["seconds"])))
        if has_goaccess:
            seconds, _ = goaccess_once(big, out)
            goaccess.append(count / seconds)
        rounds += 1
    size, stored = int(str(last["size"])), int(str(last["stored"]))
    section.notes.append(
        f"weblog: `Storing(Store(path, '96MiB', 2), [log])` (the historian's while it backfills)"
        f" stepped "
        f"until all is stored, in a "
        f"fresh process (with `share_python()`, as the historian's) and a new store per run (the "
        f"historian's writer, without its process and polling); {stored:,} hits stored, "
        f"the store {size / 1e6:.0f} MB "
        f"({size / max(stored, 1):.0f} bytes a hit, {size / big.stat().st_size:.2f} of the "
        f"log's size); peak RSS {float(str(last['maxrss_mb'])):.0f} MB. The lookups at ingest "
        f"found {_distinct(last)} (each looked up once per distinct user-agent or client).")
    if not has_goaccess:
        section.notes.append("GoAccess: not measured (goaccess is not installed).")
    section.notes.append("Each round runs weblog then GoAccess; a ratio is the median of the "
                         "rounds' ratios, with their min and max.")
    ratio = Figure([x / y for x, y in zip(weblog, goaccess, strict=True)]) if goaccess else None
    section.headers = ["tool", "lines/s", "weblog ÷ tool"]
    section.rows.append(["weblog backfill (history store)", Figure(weblog).show(), "1"])
    section.rows.append(["GoAccess", Figure(goaccess).show() if goaccess else "not measured",
                         ratio.show("x", 2) if ratio else "—"])
    section.verdicts.append(at_least(
        "backfill", "backfill ≥ 2x GoAccess's lines/s", ratio.median if ratio else None, 2.0,
        ratio.show("x", 2) if ratio else "not measured (no goaccess)"))
    return section


def main() -> None:
    """Child mode, run in a fresh process: `LOG STORE`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("log", type=Path)
    parser.add_argument("store", type=Path)
    args = parser.parse_args()
    print(json.dumps(weblog_child(args.log, args.store)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()

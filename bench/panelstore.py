"""A store of many varied hits, every column filled (the panels' columns too), made in SQL,
and the history's answer timed on it in-process: C{python bench/panelstore.py STORE [HITS]}."""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Any

from weblog import settings
from weblog.queries import answer
from weblog.store import COLUMNS, DERIVED, Store

BROWSERS = ["Chrome", "Firefox", "Safari", "Mobile Safari", "Edge", "Opera", "Chrome Mobile",
            "Samsung Internet", "Other", "Googlebot", "bingbot", "GPTBot", "Applebot"]
SYSTEMS = ["Windows", "Mac OS X", "Linux", "iOS", "Android", "Ubuntu", "Chrome OS", "Other"]
DEVICES = ["desktop", "mobile", "tablet", "other"]


def _pick(values: list[str], salt: int) -> str:
    """SQL that picks one of C{values}, skewed to the first, by the row number C{i}."""
    listed = ", ".join("'" + value + "'" for value in values)
    index = f"(1 + (hash(i, {salt}) % {len(values)}) * (hash(i, {salt + 1}) % 2))::BIGINT"
    return f"[{listed}][{index}]"


def fill(path: str, hits: int) -> None:
    """Make a store of C{hits} hits over four days, in time order."""
    store = Store(path, "512MB", 2)
    try:
        names = [name for name, _, _ in COLUMNS]
        store.query(f"""WITH raw({", ".join(names)}, file) AS (SELECT
            '10.' || (hash(i, 1) % 40) || '.' || (hash(i, 2) % 250) || '.' || (hash(i, 3) % 20),
            '-', '-', TIMESTAMPTZ '2015-05-17 00:00:00+00' + to_microseconds(
                (i * 345600000000 // {hits})::BIGINT),
            'GET', '/page/' || (hash(i, 4) % 5000 * (hash(i, 5) % 3)) || '.html', 'HTTP/1.1',
            CASE WHEN hash(i, 6) % 100 < 3 THEN 404 WHEN hash(i, 6) % 100 < 4 THEN 503
                 WHEN hash(i, 6) % 100 < 10 THEN 304 ELSE 200 END,
            hash(i, 7) % 200000,
            CASE WHEN hash(i, 8) % 2 = 0 THEN NULL
                 ELSE 'http://site' || (hash(i, 9) % 300) || '.example/p' || (hash(i, 10) % 7)
                 END,
            'Mozilla/5.0 (agent ' || (hash(i, 11) % 400) || ')',
            'vhost' || (hash(i, 12) % 3) || '.example', 'access.log.' || (hash(i, 13) % 2),
            CASE WHEN hash(i, 14) % 10 = 0 THEN NULL ELSE 100 + hash(i, 15) % 400000 END,
            CASE WHEN hash(i, 8) % 2 = 0 THEN NULL ELSE 'site' || (hash(i, 9) % 300) || '.example'
                 END,
            hash(i, 16) % 7 = 0, hash(i, 17) % 50 = 0,
            {_pick(BROWSERS, 18)}, {_pick(SYSTEMS, 20)},
            CASE WHEN hash(i, 16) % 7 = 0 THEN 'crawler' ELSE {_pick(DEVICES, 22)} END,
            CASE WHEN hash(i, 24) % 20 = 0 THEN 'private' WHEN hash(i, 24) % 20 = 1 THEN 'unknown'
                 ELSE chr(65 + (hash(i, 25) % 26)::INTEGER) || chr(65 + (hash(i, 26) % 3)::INT) END,
            'file'
            FROM range({hits}) AS t(i))
            INSERT INTO hits BY NAME SELECT {", ".join(names)},
            {", ".join(f'{sql} AS "{name}"' for name, _, sql in DERIVED)}, file FROM raw""")
        store.checkpoint()
    finally:
        store.close()


def timed(path: str, view: dict[str, Any], runs: int) -> tuple[list[float], list[float]]:
    """Milliseconds each of C{runs} answers of C{view} took, on the clock and of CPU (this
    process's threads, DuckDB's among them), after one to warm the store; as the historian
    opens it once it has caught up (L{settings.HISTORY_MEMORY} MiB, 2 threads)."""
    store = Store(path, f"{settings.HISTORY_MEMORY}MiB", 2)
    try:
        with store.reading() as db:
            answer(db, view)
            took, cpu = [], []
            for _ in range(runs):
                began, began_cpu = time.perf_counter(), time.process_time()
                answer(db, view)
                took.append((time.perf_counter() - began) * 1000)
                cpu.append((time.process_time() - began_cpu) * 1000)
            return took, cpu
    finally:
        store.close()


def main() -> None:
    """Make the store when it is not there, then time range=all, and with a filter."""
    path = sys.argv[1]
    if not os.path.exists(path):
        fill(path, int(sys.argv[2]) if len(sys.argv) > 2 else 4_200_000)
    selection = {"limit": 35, "status": "200", "referrer": "required", "q": "",
                 "bots": "include", "own": "hide"}
    question = {"range": "all", "from": None, "to": None, "before": None}
    views = {"range=all": {"question": question, "selection": selection, "given": []},
             "range=all&site=&status=200": {
                 "question": {**question, "site": "site7.example"},
                 "selection": selection, "given": ["status"]}}
    for name, view in views.items():
        took, cpu = timed(path, view, int(os.environ.get("RUNS", "9")))
        print(f"{name}: median {statistics.median(took):.0f} ms, min {min(took):.0f}, "
              f"max {max(took):.0f}; CPU median {statistics.median(cpu):.0f} ms, "
              f"min {min(cpu):.0f}, max {max(cpu):.0f} ({len(took)} runs)")


if __name__ == "__main__":
    main()

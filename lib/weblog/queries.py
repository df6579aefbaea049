# -*- test-case-name: tests.test_queries -*-
"""
The history's answers, in SQL over the store: a view's window, its total, its chart, every
panel and its latest hits.

Runs in the historian, off its reactor thread, on a connection of its own
(L{weblog.historian}).  A view (C{spec}) is a L{weblog.question.Question} as JSON
and the page's selection: the window and the drill-down filters, and each
selection parameter the request gave, apply to the total, the chart and every
panel; the list of hits also follows the selection's defaults (status 200, with a
referrer), as the live page's list does, newest first (by time, then by row: the
order in which the store holds the hits of one second), at most C{limit}, from its
C{before} cursor on (L{weblog.question.cursor_of}).  Weblog's own requests are left
out unless C{own=show}.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import duckdb

from weblog.apart import Rows
from weblog.hit import Hit
from weblog.panelqueries import lists, response_times, troubles
from weblog.question import FILTERS, cursor_of, cursor_text
from weblog.store import COLUMNS
from weblog.timebox import deadline, within
from weblog.timestamps import FIRST, FIRST_TO_EPOCH_US, earlier

__all__ = ["DAYS_MOST", "LATEST_FIRST", "PANELS", "SPANS", "UNITS", "answer", "bucket_end",
           "bucket_unit"]

SPANS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7),
         "30d": timedelta(days=30)}
"""How far back each relative range reaches from the newest hit."""
UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1),
         "week": timedelta(weeks=1)}
"""The chart's buckets (a week from a Monday: the first day a hit can have was one)."""
DAYS_MOST = timedelta(days=120)
"""The longest window charted by day: beyond, by week (the default retention's 400 days would
be as many bars, a page whose chart alone held the reactor for some 60 ms to render)."""
LATEST_FIRST = timedelta(hours=1)
"""How far back from the window's end the latest hits are looked for first."""
_MICROSECOND = timedelta(microseconds=1)
_HOUR = timedelta(hours=1)
SERIES = ("visitors", "crawlers", "bytes", "p95_ms")
"""The chart's series beside its counts, one number per bucket each."""
EMPTY: dict[str, Any] = {
    "visitors": 0, "not_found": [], "server_errors": [], "browsers": [], "systems": [],
    "devices": [], "crawlers": {"hits": 0, "top": []}, "countries": [],
    "bandwidth": {"bytes": 0, "resources": []}, "response_times": None, "vhosts": [],
    "sources": []}
"""The panels of a view of an empty store."""
PANELS = tuple(EMPTY)
"""The keys of the panels past C{top}, C{buckets} and C{total}, in the JSON's order."""
VIEW_MOST = 1 << 17
"""A view of at most so many hits (a drill-down's, a short window's) has them read once into a
temporary table, which each panel's statement then reads: else each would go over every hit of
the window again to find them.  The table holds twelve columns (some 20 MB of typical hits), in
DuckDB's memory limit like any of its data (past it, in its temporary directory)."""
_VIEW = "view_hits"
_PANEL_COLUMNS = ("time, hour, status, bot, bytes, duration, duration_bin, site, referrer,"
                  " resource, kind, visitor")
"""The columns the panels past the chart read (L{weblog.panelqueries})."""
_TIME = Hit._fields.index("time")
_HIT = ", ".join(f'"{name}"' for name, _, _ in COLUMNS[:len(Hit._fields)])


def bucket_unit(start: datetime, end: datetime) -> str:
    """The chart's bucket for a window: minutes up to 3 hours, hours up to 4 days, days up to
    L{DAYS_MOST}, else weeks."""
    length = end - start
    if length <= timedelta(hours=3):
        return "minute"
    if length <= timedelta(days=4):
        return "hour"
    return "day" if length <= DAYS_MOST else "week"


def _window(execute: Callable[[str, list[Any]], list[tuple[Any, ...]]],
            question: dict[str, Any]) -> tuple[datetime, datetime] | None:
    """The window's first and last moment; None when the store holds nothing."""
    oldest, newest = execute("SELECT min(time), max(time) FROM hits", [])[0]
    if oldest is None:
        return None
    start = None if question["from"] is None else datetime.fromisoformat(question["from"])
    end = None if question["to"] is None else datetime.fromisoformat(question["to"])
    span = question["range"]
    if span in SPANS:
        return earlier(newest, SPANS[span]), newest
    return (oldest if start is None else start), (newest if end is None else end)


def bucket_end(start: datetime, unit: str) -> datetime:
    """The last moment of the bucket of C{unit} that begins at C{start} (the calendar's last
    moment for the last bucket of all)."""
    try:
        return start + (UNITS[unit] - _MICROSECOND)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


def _latest(execute: Callable[[str, list[Any]], list[tuple[Any, ...]]], start: datetime,
            end: datetime, where: list[str], values: list[Any], count: int,
            recent_most: int) -> list[tuple[Any, ...]]:
    """
    The newest C{count} hits of the window that meet C{where}, with their rows, newest first.

    They are looked for in the window's last hour first, when it may hold enough of them
    (C{recent_most}: at most so many are there): when it does, they are the newest of the
    whole window too, found without going over all of it.
    """
    sql = (f"SELECT {_HIT}, rowid FROM hits WHERE "  # noqa: S608  # names and placeholders only
           + " AND ".join(["time BETWEEN ? AND ?", *where])
           + " ORDER BY time DESC, rowid DESC LIMIT ?")
    recent = earlier(end, LATEST_FIRST)
    if recent > start and recent_most >= count:
        found = execute(sql, [recent, end, *values, count])
        if len(found) >= count:
            return found
    return execute(sql, [start, end, *values, count])


def _conditions(spec: dict[str, Any], for_list: bool) -> tuple[list[str], list[Any]]:
    """The SQL conditions (and their parameters) of a view, past its window."""
    selection, given = spec["selection"], set(spec["given"])
    where, values = [], []
    for name, column in FILTERS.items():
        if spec["question"].get(name) is not None:
            where.append(f'"{column}" = ?')
            values.append(spec["question"][name])
    if selection["own"] == "hide":
        where.append("NOT own")
    if selection["bots"] != "include":
        where.append("NOT bot" if selection["bots"] == "exclude" else "bot")
    status = selection["status"]
    if status != "all" and ("status" in given or for_list):
        if status.endswith("xx"):
            where.append("status BETWEEN ? AND ?")
            values += [int(status[0]) * 100, int(status[0]) * 100 + 99]
        else:
            where.append("status = ?")
            values.append(int(status))
    if selection["referrer"] == "required" and ("referrer" in given or for_list):
        where.append("referrer IS NOT NULL")
    if selection["q"]:
        where.append("(contains(resource, ?) OR contains(coalesce(referrer, ''), ?))")
        values += [selection["q"], selection["q"]]
    return where, values


def _with_visitors(rows: Rows, sites: list[list[Any]], total: int, visitors: int
                   ) -> list[list[Any]]:
    """
    The top referring sites (C{[site, hits]}), each with its visitors: a pass over the
    view's hits from those sites alone, so that their number (at most the list's) bounds the
    memory it takes, whatever the sites (an approximate count keeps a KiB or more for each).

    @param total: the view's hits; when one site referred them all (a drill-down to it), its
        visitors are the view's, C{visitors}, without a pass.
    """
    if not sites:
        return sites
    if len(sites) == 1 and sites[0][1] == total:
        return [[*sites[0], visitors]]
    marks = ", ".join("?" for _ in sites)
    seen: dict[str, int] = dict(rows(
        f"SELECT site, approx_count_distinct(visitor) FROM {{hits}}"  # noqa: S608
        f" WHERE {{where}} AND site IN ({marks}) GROUP BY site", *(site for site, _ in sites)))
    # an estimate can pass the hits it counts the visitors of: never more visitors than hits
    return [[site, count, min(seen.get(site, 0), count)] for site, count in sites]


def _drop(db: duckdb.DuckDBPyConnection) -> None:
    """Drop the view's table (even once the answer is late or interrupted)."""
    try:
        db.execute(f"DROP TABLE IF EXISTS {_VIEW}", [])
    except duckdb.Error:
        pass  # the connection's own tables go with it


def answer(db: duckdb.DuckDBPyConnection, spec: dict[str, Any],
           late: Callable[[], bool] = lambda: False, top: int = 10) -> dict[str, Any]:
    """
    A view's answer: C{window}, C{total}, C{top} (the four lists, each site with its visitors),
    C{buckets} (the chart and its series), each of L{PANELS} (L{weblog.panelqueries}), C{hits}
    and C{before}, the cursor of the next hits of the list (None when they are all listed).

    @param spec: C{question} (L{weblog.question.Question.to_json}), C{selection} (the
        page's parameters) and C{given} (the names of those the request gave).
    @param late: says when the answer is no longer wanted: it is asked before each
        statement (a statement under way is interrupted on the connection).  The statements
        of the panels that have a way apart (L{weblog.apart}) are given up for it past
        L{weblog.timebox.deadline} of the chart's time.
    @param top: the most entries of each list.
    @raise duckdb.InterruptException: once C{late()} says so.
    """
    def execute(sql: str, parameters: list[Any], seconds: float | None = None
                ) -> list[tuple[Any, ...]]:
        if late():
            raise duckdb.InterruptException("the answer came too late")
        if seconds is None:
            return db.execute(sql, parameters).fetchall()
        return within(db, seconds, sql, parameters)

    window = _window(execute, spec["question"])
    if window is None:
        return {"window": None, "total": 0, "hits": [], "before": None,
                "buckets": {"unit": "minute", "counts": [], **{name: [] for name in SERIES}},
                "top": {"sites": [], "referrers": [], "resources": [], "statuses": [],
                        "approximate": False}, **EMPTY}
    start, end = window
    where, values = _conditions(spec, for_list=False)
    clause = " AND ".join(["time BETWEEN ? AND ?", *where])
    values = [start, end, *values]

    over = {"hits": "hits", "where": clause}

    def rows(sql: str, *more: Any, seconds: float | None = None) -> list[tuple[Any, ...]]:
        return execute(sql.format(**over), [*(values if over["hits"] == "hits" else ()), *more],
                       seconds)

    def stored(sql: str, *more: Any) -> list[tuple[Any, ...]]:  # over the store's table
        return execute(sql.format(hits="hits", where=clause), [*values, *more])

    unit = bucket_unit(start, end)
    width = UNITS[unit]
    # a bucket's number, from FIRST: of the stored hour (BIGINT: p95_ms multiplies it)
    bucket = (f"hour::BIGINT // {width // _HOUR}" if width >= _HOUR
              else f"(epoch_us(time) + {FIRST_TO_EPOCH_US}) // {width // _MICROSECOND}")
    per_bucket: Counter[int] = Counter()
    per_status: Counter[int | None] = Counter()
    series: dict[int, tuple[int, int, int]] = {}
    whole = (0, 0, 0, 0)
    began = time.monotonic()
    for number, status, count, crawlers, sent, seen, timed, group in rows(
            # the chart, its series and the statuses in one pass over the hits (the visitors
            # an estimate, which can pass the hits it counts them in: never more than those)
            f"SELECT {bucket} AS b, status, count(*), count_if(bot), sum(bytes), "  # noqa: S608
            "approx_count_distinct(visitor), count(duration), GROUPING(b, status) "
            "FROM hits WHERE {where} GROUP BY GROUPING SETS ((b, status), (b), ())"):
        if group == 0:
            per_bucket[number] += count
            per_status[status] += count
        elif group == 1:
            series[number] = (min(seen, count), crawlers, int(sent or 0))
        else:  # over no hit, count_if() and sum() are NULL
            whole = (min(seen, count), crawlers or 0, int(sent or 0), timed)
    # the statements that have a way apart, bounded in memory, are given up for it past this
    usual = partial(rows, seconds=deadline(time.monotonic() - began))
    numbers = sorted(per_bucket)
    counts = [(FIRST + number * width, per_bucket[number]) for number in numbers]
    statuses = list(per_status.items())
    total = sum(per_status.values())
    if total <= VIEW_MOST:  # few: read once, each panel then over them
        execute(f"CREATE OR REPLACE TEMP TABLE {_VIEW} AS SELECT {_PANEL_COLUMNS}"  # noqa: S608
                f" FROM hits WHERE {clause}", values)
        over.update(hits=_VIEW, where="true")
    try:
        found = lists(usual, top, stored=stored, timed=whole[3] > 0)
        found["sites"] = _with_visitors(rows, found["sites"], total, whole[0])
        times, p95 = (response_times(rows, bucket, found.pop("timed")) if whole[3]
                      else (None, {}))
        panels = {"visitors": whole[0], **troubles(usual, top, stored=stored),
                  "crawlers": {"hits": whole[1], "top": found.pop("crawlers")},
                  "bandwidth": {"bytes": whole[2], "resources": found.pop("bandwidth")},
                  "response_times": times}
    finally:
        if over["hits"] == _VIEW:
            _drop(db)
    top_lists = {name: found.pop(name) for name in ("sites", "referrers", "resources")}
    panels.update(found)  # browsers, systems, devices, countries, vhosts, sources
    listed, listed_values = _conditions(spec, for_list=True)
    before = spec["question"].get("before")
    if before is not None:
        moment, row = cursor_of(before)
        if row is None:
            listed.append("time < ?")
            listed_values.append(moment)
        else:
            listed.append("(time < ? OR (time = ? AND rowid < ?))")
            listed_values += [moment, moment, row]
    limit = spec["selection"]["limit"]
    recent = earlier(end, LATEST_FIRST + width)  # the buckets that reach into the last hour
    recent_most = sum(count for moment, count in counts if moment >= recent)
    latest = _latest(execute, start, end, listed, listed_values, limit + 1, recent_most)
    shown = latest[:limit]
    return {
        "window": {"from": start.astimezone(UTC).isoformat(),
                   "to": end.astimezone(UTC).isoformat()},
        "total": total,
        "top": {
            **top_lists,
            "statuses": sorted(["-" if status is None else str(status), count]
                               for status, count in statuses),  # by key, as the live view
            "approximate": False,
        },
        "buckets": {"unit": unit,
                    "counts": [[moment.isoformat(), count] for moment, count in counts],
                    **{name: [series.get(number, (0, 0, 0))[index] for number in numbers]
                       for index, name in enumerate(SERIES[:3])},
                    "p95_ms": [p95.get(number) for number in numbers]},
        **panels,
        "hits": [Hit(*row[:-1]).to_json() for row in shown],
        "before": (cursor_text(shown[-1][_TIME], shown[-1][-1]) if len(latest) > limit else None),
    }

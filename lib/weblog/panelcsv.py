# -*- test-case-name: tests.test_panelcsv -*-
"""
A view's panels as CSV (C{/weblog.rpy/csv?panel=NAME}), for spreadsheets and scripts.

Every text cell is log text, and hostile: one that a spreadsheet would take for a formula
(it starts with C{=}, C{+}, C{-}, C{@}, a tab or a carriage return, after any spaces) is
written after a C{'}.  Every cell is quoted (Python's C{csv} module, C{QUOTE_ALL}), so that a
spreadsheet that splits on C{;} (as in many locales) still reads each as one cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from weblog.errors import BadQuery

__all__ = ["ALL", "HEADERS", "LIVE_HEADERS", "LIVE_PANELS", "MOST", "STEP", "csv_rows",
           "csv_steps", "csv_text", "hits_rows", "panel_of", "rows_of", "safe"]

HIT_KEYS = ("time", "client", "method", "resource", "protocol", "status", "bytes", "referrer",
            "agent", "vhost", "source", "duration_ms")
"""A hit's JSON keys, in order (L{weblog.hit.Hit.to_json})."""
HEADERS: dict[str, tuple[str, ...]] = {
    "sites": ("site", "hits", "visitors"), "referrers": ("referrer", "hits"),
    "resources": ("resource", "hits"), "statuses": ("status", "hits"),
    "chart": ("time", "hits", "visitors", "crawlers", "bytes", "p95_ms"), "hits": HIT_KEYS,
    "visitors": ("time", "hits", "visitors"),
    "not_found": ("resource", "hits", "referrer", "referrer_hits"),
    "server_errors": ("resource", "hits", "referrer", "referrer_hits"),
    "browsers": ("browser", "hits"), "systems": ("system", "hits"),
    "devices": ("device", "hits"), "crawlers": ("crawler", "hits"),
    "countries": ("country", "hits"), "bandwidth": ("resource", "bytes"),
    "response_times": ("resource", "hits", "p50_ms", "p95_ms", "p99_ms"),
    "vhosts": ("vhost", "hits"), "sources": ("source", "hits"),
}
"""Each panel's CSV header (a history view's)."""
LIVE_PANELS = ("sites", "referrers", "resources", "statuses", "chart", "hits")
"""The panels a live view has (the others need a window of the history)."""
LIVE_HEADERS = {**HEADERS, "sites": ("site", "hits"), "chart": ("time", "hits")}
"""Each live panel's CSV header: its sites without visitors, its chart of hits per minute."""
ALL = "(all)"
"""The key of the first row of a panel that has a total (the window's)."""
MOST = 1000
"""The most entries of a list the CSV holds."""
STEP = 100
"""The most rows written in one step of a CSV (each row's cells are at most a few KiB)."""
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def panel_of(values: Sequence[bytes] | None) -> str:
    """
    The panel a request's C{panel} parameter names.

    @raise BadQuery: when it is missing, repeated or names no panel.
    """
    names = ", ".join(HEADERS)
    if not values:
        raise BadQuery("panel", f"is missing: name one of {names}")
    if len(values) > 1:
        raise BadQuery("panel", "given more than once")
    panel = values[0].decode("utf-8", "replace")
    if panel not in HEADERS:
        shown = repr(panel if len(panel) <= 20 else panel[:20] + "...")
        raise BadQuery("panel", f"must be one of {names}, got {shown}")
    return panel


def safe(cell: Any) -> Any:
    """A cell as a spreadsheet should read it: text that starts like a formula after a C{'};
    None as an empty cell."""
    if cell is None:
        return ""
    if isinstance(cell, str) and cell.lstrip(" ").startswith(_FORMULA):
        return "'" + cell
    return cell


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """The CSV of C{header} and C{rows}, every cell made L{safe}, in UTF-8."""
    return csv_rows([header, *rows])


def csv_rows(rows: Iterable[Sequence[Any]]) -> bytes:
    """C{rows} as CSV lines, every cell made L{safe}, in UTF-8."""
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL).writerows([safe(cell) for cell in row]
                                                     for row in rows)
    return out.getvalue().encode("utf-8")


def csv_steps(header: Sequence[str], rows: Sequence[Sequence[Any]], into: list[bytes]
              ) -> Iterator[None]:
    """Write the CSV of C{header} and C{rows} into C{into}, L{STEP} rows a step, so that a
    long one is written a slice at a time (L{weblog.slices})."""
    into.append(csv_rows([header]))
    for start in range(0, len(rows), STEP):
        into.append(csv_rows(rows[start:start + STEP]))
        yield None


def hits_rows(hits: Iterable[dict[str, Any]]) -> list[list[Any]]:
    """The rows of the C{hits} panel: each hit's JSON values, in L{HIT_KEYS}' order."""
    return [[hit.get(key) for key in HIT_KEYS] for hit in hits]


def rows_of(panel: str, document: dict[str, Any]) -> list[list[Any]]:
    """
    The rows of C{panel} in a view's document: a history answer (L{weblog.queries.answer}),
    or the live view's (its C{top}, C{per_minute} and C{hits}).
    """
    if panel in ("sites", "referrers", "resources", "statuses"):
        return [list(entry) for entry in document["top"][panel]]
    if panel == "hits":
        return hits_rows(document["hits"])
    if panel == "chart":
        if "buckets" not in document:
            return [list(entry) for entry in document["per_minute"]]
        buckets = document["buckets"]
        series = [buckets[name] for name in HEADERS["chart"][2:]]
        return [[time, hits, *(each[index] for each in series)]
                for index, (time, hits) in enumerate(buckets["counts"])]
    if panel in ("not_found", "server_errors"):
        return [[entry["resource"], entry["hits"], referrer, count]
                for entry in document[panel]
                for referrer, count in (entry["referrers"] or [(None, None)])]
    if panel == "visitors":
        buckets = document["buckets"]
        return [[ALL, document["total"], document["visitors"]], *(
            [time, hits, visitors] for (time, hits), visitors in zip(
                buckets["counts"], buckets["visitors"], strict=True))]
    if panel == "crawlers":
        crawlers = document["crawlers"]
        return [[ALL, crawlers["hits"]], *map(list, crawlers["top"])]
    if panel == "bandwidth":
        bandwidth = document["bandwidth"]
        return [[ALL, bandwidth["bytes"]], *map(list, bandwidth["resources"])]
    if panel == "response_times":
        times = document["response_times"]
        if times is None:
            return []
        return [[entry["resource"], entry["hits"], entry["p50"], entry["p95"], entry["p99"]]
                for entry in [{**times, "resource": ALL}, *times["resources"]]]
    return [list(entry) for entry in document[panel]]

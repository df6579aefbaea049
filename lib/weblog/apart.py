# -*- test-case-name: tests.test_panelqueries -*-
"""
The panels' statements for a view that DuckDB cannot answer the usual way within its memory,
or within the usual statement's deadline (L{weblog.panelqueries}, L{weblog.timebox}): values
long and many on purpose, as a scanner's or an attacker's requests make them.  Each list is
ranked by a grouping of its own (the resources' three rankings share one) and C{ORDER BY ...
LIMIT} (or a bounded aggregate), which DuckDB can take to disk: slower than the usual way on a
usual log, but within the memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from weblog.store import KIND

__all__ = ["Rows", "few_apart", "many_apart", "troubles_apart"]

Rows = Callable[..., list[tuple[Any, ...]]]
"""Runs one statement over C{{hits}} (here the store's table; for the usual statements, maybe the
view's hits read into one of their own) whose C{{where}} is the view's conditions, with more
parameters after theirs (see L{weblog.queries.answer})."""

_FEW_LISTS = (("browsers", "browser", "NOT bot"), ("crawlers", "browser", "bot"),
              ("systems", "system", "NOT bot"), ("devices", "device", "NOT bot"),
              ("countries", "country", "true"), ("vhosts", "vhost", "true"),
              ("sources", "source", "true"))
"""Each list of few values, the column it counts, and whose hits: L{few_apart}'s."""


def many_apart(stored: Rows, top: int, spent: str) -> list[tuple[Any, ...]]:
    """The lists of many values (C{name}, C{key}, hits, bytes, timed hits, µs spent) of
    L{weblog.panelqueries.lists}: the referrers, the sites, and the resources by hits, bytes and
    time spent (C{spent}: its SQL), each ranked apart, one statement after another (groupings
    of 250,000 different 2 KB referrers and sites at once ran out of the historian's memory)."""
    found = [("referrers", key, count, None, None, None) for key, count in stored(
        "SELECT referrer, count(*) AS n FROM {hits} WHERE {where} AND referrer IS NOT NULL"
        " GROUP BY referrer ORDER BY n DESC, referrer LIMIT ?", top)]
    found += [("sites", key, count, None, None, None) for key, count in stored(
        "SELECT site, count(*) AS n FROM {hits} WHERE {where} AND referrer IS NOT NULL"
        " AND site IS NOT NULL GROUP BY site ORDER BY n DESC, site LIMIT ?", top)]
    for ranked in stored(
            # one grouping, ranked three ways by aggregates that keep their first C{top} alone
            f"SELECT min_by(f, (-n, key), {top:d}),"  # noqa: S608  # an int, and SQL's own
            f"  min_by(f, (-sent, key), {top:d}) FILTER (sent > 0),"
            f"  min_by(f, (-spent, key), {top:d}) FILTER (timed > 0)"
            f" FROM (SELECT resource AS key, count(*) AS n, sum(bytes) AS sent, {spent}"
            "  FROM {hits} WHERE {where} GROUP BY resource) AS f")[0]:
        found += [("resources", each["key"], each["n"], each["sent"], each["timed"],
                   each["spent"]) for each in ranked or ()]
    return list(dict.fromkeys(found))  # a resource ranked twice, once


def few_apart(stored: Rows, top: int) -> list[tuple[str, str, int]]:
    """The lists of few values (C{name}, C{key}, hits) of L{weblog.panelqueries.lists}, each
    ranked apart by the hits' own columns (not their kinds: past
    L{weblog.panelqueries.KINDS_SQL_BYTES} of those, summing them ran out of memory)."""
    counted = " UNION ALL ".join(
        f"(SELECT '{name}', {column}, count(*) AS n FROM h WHERE {which}"  # noqa: S608
        f" AND {column} IS NOT NULL GROUP BY {column} ORDER BY n DESC, {column} LIMIT {top:d})"
        for name, column, which in _FEW_LISTS)
    return [(name, key, int(count)) for name, key, count in stored(
        f"WITH h AS NOT MATERIALIZED (SELECT bot, {', '.join(KIND[1:])} FROM {{hits}}"  # noqa: S608
        f"  WHERE {{where}}) {counted}")]


def troubles_apart(stored: Rows, top: int, referrers: int) -> list[tuple[Any, ...]]:
    """L{weblog.panelqueries.troubles}' rows (failed, resource, hits, referrer, referrer's
    hits): the top resources of each kind of failure ranked apart, then the first referrers of
    each of those kept by a bounded aggregate (C{min_by} of C{referrers}), not a window."""
    return stored(
        "WITH e AS NOT MATERIALIZED (SELECT status BETWEEN 500 AND 599 AS failed, resource,"
        "  referrer FROM {hits} WHERE {where}"
        "  AND (status IN (404, 410) OR status BETWEEN 500 AND 599)),"
        " r AS MATERIALIZED ((SELECT false AS failed, resource, count(*) AS hits FROM e"
        "  WHERE NOT failed GROUP BY resource ORDER BY hits DESC, resource LIMIT ?)"
        "  UNION ALL (SELECT true, resource, count(*) AS hits FROM e WHERE failed"
        "  GROUP BY resource ORDER BY hits DESC, resource LIMIT ?)),"
        " l AS (SELECT failed, resource, min_by((referrer, n), (-n, referrer), ?) AS best"
        "  FROM (SELECT failed, resource, referrer, count(*) AS n FROM e SEMI JOIN r"
        "  USING (failed, resource) WHERE referrer IS NOT NULL GROUP BY ALL) GROUP BY ALL)"
        " SELECT r.failed, r.resource, r.hits, b.referrer, b.n FROM r LEFT JOIN"
        "  (SELECT failed, resource, unnest(best, recursive := true) FROM l)"
        "  AS b(failed, resource, referrer, n) ON b.failed = r.failed AND b.resource = r.resource",
        top, top, referrers)

# -*- test-case-name: tests.test_panelqueries -*-
"""
The history's panels past the chart and the four top lists, in SQL: each a key of a view's
answer (L{weblog.queries.answer}), over the window's hits that meet its conditions.

Few passes over the hits, whatever the number of panels: every top list in two statements (three
past L{KINDS_MOST} kinds or L{KINDS_BYTES}; those of many values ranked in SQL, those of few
summed from the view's kinds), the 404/410 and 5xx resources with their referrers in one, and
the response times (once some hits have a duration) in one, from a histogram of durations in
log-spaced bins 1% wide: a percentile is the bin where the count reaches it (nearest rank),
within 0.5% of the exact duration, in memory bounded by the bins (DuckDB's C{quantile_cont}
holds every duration of a group, and ran out of the historian's 96 MB on millions of hits;
C{approx_quantile} took four times as long).
"""

from __future__ import annotations

import math
from typing import Any

import duckdb

from weblog.apart import Rows, few_apart, many_apart, troubles_apart
from weblog.store import BINS_PER_E, KIND
from weblog.timebox import TooSlow

__all__ = ["BINS_PER_E", "GIVEN_UP", "KINDS_BYTES", "KINDS_MOST", "KINDS_SQL_BYTES", "LISTS",
           "UNPACKED", "lists", "response_times", "troubles"]

GIVEN_UP = (duckdb.OutOfMemoryException, TooSlow)
"""What sends a usual statement's lists apart (L{weblog.apart}): DuckDB out of its memory, or the
statement past its deadline (L{weblog.timebox})."""

LISTS = {"sites": "site", "referrers": "referrer", "resources": "resource",
         "browsers": "browser", "systems": "system", "devices": "device",
         "countries": "country", "vhosts": "vhost", "sources": "source"}
"""Each top list and the column it counts the values of."""
_FEW = ("browser", "system", "device", "country", "vhost", "source")
_FEW_LISTS = ("browsers", "systems", "devices", "countries", "vhosts", "sources")
_HUMAN = ("browsers", "systems", "devices")
"""The lists of humans' hits alone (a crawler's browser is in C{crawlers})."""
KINDS_MOST = 10_000
"""The most kinds (L{weblog.store.DERIVED}) whose counts are summed in Python into the lists of
few values, if they hold at most L{KINDS_BYTES} in all; a view of more (hostile user-agents or
hosts can make them many, and long) has them summed in SQL, which goes over its hits once more."""
KINDS_BYTES = 1 << 20
"""The most bytes (UTF-8) of kinds summed in Python: what they take in memory stays a few MB."""
KINDS_SQL_BYTES = 16 << 20
"""The most bytes of kinds summed in SQL from them; past it (hosts or user-agents long and many
on purpose: 10,000 hits with 8 KB hosts ran DuckDB out of the historian's 96 MB there), each list
is counted apart, over the hits, as DuckDB can do out of memory (L{weblog.apart.few_apart})."""
UNPACKED = ", ".join([
    "p[1] = '1' AS bot",
    *(f"CASE WHEN p[{at}] = '-' THEN NULL ELSE p[{at}][2:] END AS {name}"
      for at, name in enumerate(KIND[1:-1], start=2)),
    f"CASE WHEN p[{len(KIND)}:] = ['-'] THEN NULL"
    f" ELSE array_to_string(p[{len(KIND)}:], chr(31))[2:] END AS {KIND[-1]}"])
"""SQL of L{KIND}'s columns from C{p}, a C{kind} split at its separators (C{source}, the last,
may hold one)."""

_BINS_MOST = 8192
"""More than any bin's number (the longest duration a BIGINT holds is in bin 4,366): a bucket's
bins are counted by one number each, the bucket's times this plus the bin's."""
PERCENTILES = (0.5, 0.95, 0.99)
_NAMES = ("p50", "p95", "p99")


def _grouping(columns: tuple[str, ...], grouped: tuple[str, ...]) -> int:
    """What DuckDB's C{GROUPING(...)} over C{grouped} says of a set of C{columns}: a bit
    set for each column left out, the first column the highest."""
    return sum(1 << (len(grouped) - 1 - index) for index, name in enumerate(grouped)
               if name not in columns)


def lists(usual: Rows, top: int, *, stored: Rows, timed: bool = True) -> dict[str, Any]:
    """
    Every top list in two statements (three past L{KINDS_MOST} kinds or L{KINDS_BYTES}):
    C{[[key, hits], ...]} each, most hits first (C{browsers}, C{systems} and C{devices} over
    humans' hits, C{crawlers} the crawlers' browsers), and the resources by bytes (C{bandwidth})
    and by time spent (C{timed}: resource, timed hits, µs).

    The lists of many values are counted in one statement (C{UNION ALL}): the referrers once,
    the sites summed from them (a referrer has one site: L{weblog.columns.site}), and the
    resources (their time spent only when C{timed}: when some hit of the view has a duration);
    as grouping sets they took a third longer. The lists of few values (browsers to sources) are
    counted by the store's C{kind} (all of them in one text, L{weblog.store.DERIVED}), then
    summed by each, in Python (L{_summed}) when the kinds are few and short, as they are in any
    log that does not spread its user-agents or hosts on purpose: summed in SQL (grouping sets
    ranked by a window) took about 8 ms more on any view, for the few hundred kinds of the
    sample; grouping by the seven columns took four times as long. Past L{KINDS_SQL_BYTES} of
    kinds (or when counting or summing them runs out of memory or time), each of those lists is
    ranked apart (L{weblog.apart.few_apart}); so are those of many values when DuckDB runs out
    of memory for them, or of their deadline (L{weblog.apart.many_apart}).

    @param usual: runs a statement that has a way apart, within its deadline
        (L{weblog.timebox.within}); C{stored}, those apart.
    """
    ranked: dict[str, list[tuple[Any, ...]]] = {name: [] for name in (*LISTS, "crawlers")}
    spent = ("count(duration) AS timed, sum(duration) AS spent" if timed
             else "0 AS timed, 0 AS spent")
    try:
        many = _many(usual, top, spent)
    except GIVEN_UP:  # values long and many on purpose
        many = many_apart(stored, top, spent)
    for name, key, count, sent, timed_hits, spent_us in many:
        ranked[name].append((key, count, sent, timed_hits, spent_us))
    for name, key, count in _few(usual, top, stored=stored):
        ranked[name].append((key, count, 0, 0, 0))
    answer: dict[str, Any] = {
        name: [[key, count] for key, count, *_ in sorted(each, key=lambda e: (-e[1], e[0]))
               ][:top] for name, each in ranked.items()}
    resources_found = ranked["resources"]
    answer["bandwidth"] = [[key, int(sent)] for key, _, sent, _, _ in sorted(
        (each for each in resources_found if each[2]), key=lambda e: (-e[2], e[0]))][:top]
    answer["timed"] = [(key, timed, int(spent)) for key, _, _, timed, spent in sorted(
        (each for each in resources_found if each[3]), key=lambda e: (-e[4], e[0]))][:top]
    return answer


def _many(usual: Rows, top: int, spent: str) -> list[tuple[Any, ...]]:
    """The lists of many values (C{name}, C{key}, hits, bytes, timed hits, µs spent): the
    referrers, the sites summed from them, the resources ranked by hits, bytes and time spent
    (L{lists})."""
    return usual(
        # the referrers read once for both lists: a third faster than a pass each
        "WITH h AS NOT MATERIALIZED (SELECT site, referrer, resource, bytes, duration"  # noqa: S608
        "  FROM {hits} WHERE {where}),"
        " r AS MATERIALIZED (SELECT referrer AS key, any_value(site) AS site, count(*) AS n"
        "  FROM h WHERE referrer IS NOT NULL GROUP BY referrer),"
        " s AS (SELECT site AS key, sum(n) AS n FROM r WHERE site IS NOT NULL GROUP BY site),"
        f" f AS (SELECT resource AS key, count(*) AS n, sum(bytes) AS sent, {spent}"
        "  FROM h GROUP BY resource)"
        f" (SELECT 'referrers', key, n, NULL, NULL, NULL FROM r QUALIFY {_ranked('n')})"
        f" UNION ALL (SELECT 'sites', key, n, NULL, NULL, NULL FROM s QUALIFY {_ranked('n')})"
        " UNION ALL (SELECT 'resources', key, n, sent, timed, spent FROM f QUALIFY"
        f" {_ranked('n')} OR {_ranked('sent')} OR (timed > 0 AND {_ranked('spent')}))",
        top, top, top, top, top)


def _few(usual: Rows, top: int, *, stored: Rows) -> list[tuple[str, str, int]]:
    """The lists of few values (C{name}, C{key}, hits; L{lists}): summed from the view's kinds,
    in Python within L{KINDS_MOST} and L{KINDS_BYTES}, else in SQL within L{KINDS_SQL_BYTES},
    else (or when counting or summing the kinds runs out of memory or of its deadline, the
    kinds long and many on purpose) ranked apart."""
    try:
        kinds = usual(
            # how many and how long, beside each: past the bounds, the first alone (to say so)
            "SELECT kind, n, kinds, size FROM (SELECT kind, count(*) AS n,"
            "  count(*) OVER () AS kinds, sum(strlen(kind)) OVER () AS size,"
            "  row_number() OVER () AS i FROM {hits} WHERE {where} GROUP BY kind)"
            " WHERE i = 1 OR (kinds <= ? AND size <= ?)", KINDS_MOST, KINDS_BYTES)
    except GIVEN_UP:
        return few_apart(stored, top)
    kinds_count, kinds_size = kinds[0][2:] if kinds else (0, 0)
    if kinds_count <= KINDS_MOST and kinds_size <= KINDS_BYTES:
        return _summed([(kind, count) for kind, count, _, _ in kinds])
    if kinds_size <= KINDS_SQL_BYTES:
        try:
            return _summed_in_sql(usual, top)
        except GIVEN_UP:  # the kinds long, or many
            pass
    return few_apart(stored, top)


def _summed(kinds: list[tuple[str, int]]) -> list[tuple[str, str, int]]:
    """The lists of few values (C{name}, C{key}, hits), summed from the view's hits counted by
    C{kind}: humans' browsers, systems and devices, crawlers' browsers (as C{crawlers}), and
    everyone's countries, hosts and sources."""
    sums: dict[tuple[str, str], int] = {}
    for kind, count in kinds:
        bot, *values = kind.split("\x1f", len(KIND) - 1)  # the source, last, may hold one
        for name, value in zip(_FEW_LISTS, values, strict=True):
            if value == "-":
                continue  # NULL
            if bot == "1" and name in _HUMAN:
                if name != "browsers":
                    continue  # systems and devices are humans'; a crawler's device is "crawler"
                name = "crawlers"
            sums[name, value[1:]] = sums.get((name, value[1:]), 0) + count
    return [(name, key, count) for (name, key), count in sums.items()]


def _summed_in_sql(usual: Rows, top: int) -> list[tuple[str, str, int]]:
    """L{_summed}'s lists, each ranked to its C{top}, summed in SQL from the view's kinds: for a
    view of more than L{KINDS_MOST} of them, or longer than L{KINDS_BYTES} (up to
    L{KINDS_SQL_BYTES})."""
    few_columns = ("bot", *_FEW)
    few = {_grouping(("bot", LISTS[name]) if name in _HUMAN else (LISTS[name],), few_columns):
           name for name in _FEW_LISTS}
    sets = ", ".join(f"(bot, {LISTS[name]})" if name in _HUMAN else f"({LISTS[name]})"
                     for name in _FEW_LISTS)
    grouped = ", ".join(few_columns)
    found = []
    for group, bot, key, count in usual(
            f"WITH k AS (SELECT kind, count(*) AS n FROM {{hits}} WHERE {{where}}"  # noqa: S608
            " GROUP BY kind),"
            f" c AS (SELECT {UNPACKED}, n FROM (SELECT string_split(kind, chr(31)) AS p, n"
            "  FROM k))"
            f" SELECT GROUPING({grouped}) AS g, bot, coalesce({', '.join(_FEW)}) AS key,"
            f" sum(n) AS total FROM c GROUP BY GROUPING SETS ({sets})"
            f" QUALIFY key IS NOT NULL AND {_ranked('total', 'g', 'bot')}", top):
        name = few[group]
        if bot and name == "browsers":
            name = "crawlers"
        elif bot:
            continue  # systems and devices are humans'; a crawler's device is "crawler"
        found.append((name, key, int(count)))
    return found


def _ranked(order: str, *within: str) -> str:
    """SQL that says whether a row is among the first by C{order} descending (at most C{?})
    of those alike in C{within} (all rows when none is named), its key's NULL last."""
    partition = f"PARTITION BY {', '.join(within)} " if within else ""
    return (f"row_number() OVER ({partition}"
            f"ORDER BY key IS NULL, {order} DESC NULLS LAST, key) <= ?")


def troubles(usual: Rows, top: int, *, stored: Rows, referrers: int = 5
             ) -> dict[str, list[dict[str, Any]]]:
    """
    The resources most asked for in vain, with the referrers that link to them, in one pass:
    C{not_found} (404 and 410) and C{server_errors} (500 to 599); ranked apart
    (L{weblog.apart.troubles_apart}) when DuckDB runs out of memory or of the deadline
    (C{usual}'s, L{weblog.timebox.within}) for that pass.
    """
    try:
        found = _troubles(usual, top, referrers)
    except GIVEN_UP:  # resources and referrers long and many
        found = troubles_apart(stored, top, referrers)
    answer: dict[str, dict[str, dict[str, Any]]] = {"not_found": {}, "server_errors": {}}
    for failed, resource, hits, referrer, count in found:
        entries = answer["server_errors" if failed else "not_found"]
        entry = entries.setdefault(resource, {"resource": resource, "hits": int(hits),
                                              "referrers": []})
        if referrer is not None:
            entry["referrers"].append([referrer, count])
    return {name: [{**entry, "referrers": sorted(entry["referrers"], key=lambda e: (-e[1], e[0]))}
                   for entry in sorted(entries.values(),
                                       key=lambda e: (-e["hits"], e["resource"]))]
            for name, entries in answer.items()}


def _troubles(usual: Rows, top: int, referrers: int) -> list[tuple[Any, ...]]:
    """L{troubles}' rows (failed, resource, hits, referrer, referrer's hits), in one pass."""
    return usual(
        # MATERIALIZED: read twice, counted once (else DuckDB may go over the hits twice)
        "WITH e AS MATERIALIZED (SELECT status BETWEEN 500 AND 599 AS failed, resource,"
        "  referrer, count(*) AS n FROM {hits} WHERE {where}"
        "  AND (status IN (404, 410) OR status BETWEEN 500 AND 599) GROUP BY ALL),"
        " r AS (SELECT failed, resource, sum(n) AS hits FROM e GROUP BY failed, resource"
        "  QUALIFY row_number() OVER (PARTITION BY failed ORDER BY sum(n) DESC, resource) <= ?)"
        " SELECT r.failed, r.resource, r.hits, e.referrer, e.n FROM r LEFT JOIN e"
        "  ON e.failed = r.failed AND e.resource = r.resource AND e.referrer IS NOT NULL"
        " QUALIFY row_number() OVER (PARTITION BY r.failed, r.resource"
        "  ORDER BY e.n DESC NULLS LAST, e.referrer) <= ?", top, referrers)


def _ms(bin_number: int) -> float:
    """The duration a bin stands for, in milliseconds to 0.1."""
    return round(math.exp(bin_number / BINS_PER_E) / 1000, 1)


def response_times(rows: Rows, bucket: str, timed: list[tuple[str, int, int]]
                   ) -> tuple[dict[str, Any], dict[int, float]]:
    """
    The window's percentiles of duration, its C{timed} resources' (each C{(resource, timed
    hits, µs spent)}, most time first), and each bucket's 95th: a pass over the hits with a
    duration, and one over those of the C{timed} resources.

    @param bucket: the SQL of a hit's bucket number (L{weblog.queries}).
    @return: the C{response_times} object, and each bucket's p95 in ms by bucket number.
    """
    per_bucket: dict[int, float] = {}
    overall: dict[str, Any] = {"hits": 0, "p50": None, "p95": None, "p99": None}
    for number, total, *bins in rows(
            # the bins by one number: counted faster than by two
            f"WITH p AS (SELECT {bucket} * {_BINS_MOST} + duration_bin AS k, count(*) AS n"  # noqa: S608
            "  FROM {hits} WHERE {where} AND duration_bin IS NOT NULL GROUP BY k),"
            f" h AS MATERIALIZED (SELECT k // {_BINS_MOST} AS b, k % {_BINS_MOST} AS bin, n"
            "  FROM p),"
            " w AS (SELECT NULL AS b, bin, sum(n) AS n FROM h GROUP BY bin)"
            f" {_percentiles('b', '(SELECT * FROM h UNION ALL SELECT * FROM w)')}"):
        if number is None:
            overall = {"hits": int(total), **dict(zip(_NAMES, map(_ms, bins), strict=True))}
        else:
            per_bucket[number] = _ms(bins[1])
    per_resource = {}
    if timed:
        marks = ", ".join("?" for _ in timed)
        per_resource = {resource: dict(zip(_NAMES, map(_ms, bins), strict=True))
                        for resource, _, *bins in rows(
            f"WITH h AS (SELECT resource, duration_bin AS bin, count(*) AS n FROM {{hits}}"  # noqa: S608
            f"  WHERE {{where}} AND duration_bin IS NOT NULL AND resource IN ({marks})"
            "  GROUP BY resource, bin)"
            f" {_percentiles('resource', 'h')}", *(resource for resource, _, _ in timed))}
    overall["resources"] = [{"resource": resource, "hits": hits, **per_resource[resource]}
                            for resource, hits, _ in timed if resource in per_resource]
    return overall, per_bucket


def _percentiles(key: str, histogram: str) -> str:
    """SQL of each C{key}'s hits and L{PERCENTILES}, as bins, from a C{histogram} (C{key},
    C{bin}, C{n}): the first bin whose count, with the lower bins', reaches the share."""
    points = ", ".join(f"min(bin) FILTER (upto >= {share} * total)" for share in PERCENTILES)
    return (f"SELECT {key}, max(total), {points} FROM (SELECT {key}, bin,"  # noqa: S608
            f" sum(n) OVER (PARTITION BY {key} ORDER BY bin) AS upto,"
            f" sum(n) OVER (PARTITION BY {key}) AS total FROM {histogram}) GROUP BY {key}")

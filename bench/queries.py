"""Benchmark 9, queries on the full store: the range=all page, with every panel (issue 11),
uncached, with two drill-down filters, and cached."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from context import Context
from fullstore import full_store, made_note
from historyserver import cycling, history_server, percentile, stop_all, timed_gets, wait_for
from report import Figure, Section, at_most
from weblog.answers import KEPT_ANSWERS

FIRST_LIMIT = 35
"""The default page's limit: the uncached views list at least as many hits as it does."""
LIMITS = 2 * KEPT_ANSWERS
"""How many limits the uncached views go round: more than the server keeps answers of, so
each view has left its cache before it is asked again."""
VIEWS = [("all", "range=all, every panel, uncached"),
         ("filtered", "range=all + site= + status=200, every panel, uncached"),
         ("cached", "range=all, cached (the same URL again)")]
TARGETS = {"all": (150.0, 400.0), "filtered": (150.0, 400.0), "cached": (5.0, None)}
"""Each view's p50 and p99 targets in ms (None: the issue sets none): issue 11's, for the page
with every panel (issue 10's were 100 and 300 ms for the page of four lists)."""


def paths(site: str) -> dict[str, Iterator[str]]:
    """Each view's endless run of paths: the uncached ones with a new limit each time."""
    filtered = f"/weblog.rpy?range=all&site={quote(site, safe='')}&status=200&limit={{limit}}"
    return {"all": cycling("/weblog.rpy?range=all&limit={limit}", FIRST_LIMIT, LIMITS),
            "filtered": cycling(filtered, FIRST_LIMIT, LIMITS),
            "cached": iter(lambda: "/weblog.rpy?range=all", "")}


def run(ctx: Context) -> Section:
    """Serve the full store; time each view's requests, one after another, in rounds."""
    section = Section("queries", "9. Queries on the full store")
    store = full_store(ctx)
    uncached = 15 if ctx.quick else 50
    cached = 50 if ctx.quick else 200
    found: dict[str, list[list[float]]] = {name: [] for name, _ in VIEWS}
    server = history_server(ctx, store.log, "queries", store.state)
    server.start()
    try:
        server.get("/weblog.rpy")  # makes Records, and starts the historian
        ready = wait_for(server, lambda f: f["history"]["state"] == "ok"
                         and f["history"]["stored"] == store.stored, 300, "serving the store")
        whole = server.get_json("/weblog.rpy/json?range=all", timeout=120)  # warms the store
        site = str(whole["top"]["sites"][0][0])
        narrow = server.get_json(f"/weblog.rpy/json?range=all&site={quote(site, safe='')}"
                                 f"&status=200", timeout=120)
        going = paths(site)
        server.get("/weblog.rpy?range=all", timeout=120)  # the cached view's answer, kept
        rounds, each = 0, uncached * 2.0
        while ctx.keep_going(rounds, ctx.runs, each):
            began = time.monotonic()
            for name, _ in VIEWS:
                count = cached if name == "cached" else uncached
                found[name].append(timed_gets(server, going[name], count, 120))
            rounds, each = rounds + 1, time.monotonic() - began
    finally:
        stop_all(server)
    section.headers = ["view", "requests a round", "p50 ms", "p99 ms", "max ms"]
    for name, what in VIEWS:
        runs = found[name]
        p50, p99 = Figure([percentile(r, 0.5) for r in runs]), \
            Figure([percentile(r, 0.99) for r in runs])
        section.rows.append([what, f"{min(len(r) for r in runs):,}", p50.show(), p99.show(),
                             Figure([max(r) for r in runs]).show()])
        fifty, ninety_nine = TARGETS[name]
        section.verdicts.append(at_most("queries", f"{what}: p50 < {fifty:g} ms", p50.median,
                                        fifty, p50.show(" ms")))
        if ninety_nine is not None:
            section.verdicts.append(at_most("queries", f"{what}: p99 < {ninety_nine:g} ms",
                                            p99.median, ninety_nine, p99.show(" ms")))
    section.notes += [made_note(store), views_note(ready, whole, narrow, site, ctx.quick)]
    return section


def views_note(ready: dict[str, Any], whole: dict[str, Any], narrow: dict[str, Any], site: str,
               quick: bool) -> str:
    """How the views were asked, and what they hold."""
    return (
        f"Once the JSON said `history.state` ok with {ready['history']['stored']:,} hits stored, "
        f"each round GETs each view's page (HTML: the list, the chart and every panel) one "
        f"request after another on a new connection, and times each to its last byte; p50 and "
        f"p99 are a round's (nearest rank), and the figures their medians over the rounds. An "
        f"uncached request must miss the server's answers (kept per view and statuses, "
        f"the last {KEPT_ANSWERS}): each asks `limit=` one more than the last, going round "
        f"{FIRST_LIMIT}–{FIRST_LIMIT + LIMITS - 1} ({LIMITS} views), so no view is asked again "
        f"before it has left; none lists fewer hits than the default page's {FIRST_LIMIT}, and "
        f"the window, totals, chart and panels are the same query whatever the limit. The "
        f"filters are the store's top referring site (`site={site}`) and `status=200`: "
        f"{narrow['total']:,} of the window's {whole['total']:,} hits match. Cached: "
        f"`range=all` asked again, the page the server wrote kept until the store or the log "
        f"changes." + (" Quick mode: a 1M-line store." if quick else ""))

# -*- test-case-name: tests.test_pages -*-
"""
The weblog page of one Records, put together from fragments flattened once and kept.

Flattening a whole page of tags on every change of a busy log costs more than
serving it, so a page is a list of pieces: a hit's cells (flattened once per
hit), the form (once per query), the head (once per heading), the aggregates
(at most once a second), and the small parts that change with every line read
(L{weblog.render} makes each).  Between them stand the few tags written here as
constants; the one attribute value among them goes through C{html.escape}.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from html import escape
from typing import Any

from twisted.internet.defer import Deferred
from twisted.web.template import Flattenable

from weblog.form import FilterForm
from weblog.hit import Hit
from weblog.interfaces import IRecords
from weblog.render import (
    AggregatesAside,
    Head,
    HitCells,
    Piece,
    footer,
    header,
    history_ranges,
    history_state,
    log_state,
    rendered,
    row_template,
    table_head,
)
from weblog.selection import Selection
from weblog.viewlinks import ViewLinks

__all__ = ["AGGREGATES_SECONDS", "HITS_END", "HITS_START", "ROW_STARTS", "Fragments", "Kept"]

AGGREGATES_SECONDS = 1.0
"""How stale the page's top lists and chart may be (the event stream updates them anyway)."""
ASIDES_KEPT = 64
"""How many views' aggregates are kept (each view's panels link to views of its own)."""
ROW_STARTS = (b'<tr class="row0">', b'<tr class="row1">')
"""A row's start, by its place on the page: the rows alternate colours, a hit's cells stay."""
HITS_START = (b'<section class="hits" id="hits-section"><h2>Hits</h2>'
              b'<div class="scroll" tabindex="0" role="region" aria-label="The hits, a table">'
              b"<table><caption>Newest first, at the time the log says (your local time, with "
              b"its age, once the script runs).</caption>")
"""The hits' section, up to its table's head: the table scrolls in its own box when narrow."""
HITS_END = b"</tbody></table></div></section>"
"""The end of the hits' section, after its rows."""


class Kept:
    """A bounded memo of flattened fragments, by key (forgets the oldest first)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.kept: OrderedDict[Any, bytes] = OrderedDict()

    def get(self, key: Any, root: Callable[[], Flattenable]) -> Piece:
        """The fragment for C{key}, flattened from C{root()} when not kept."""
        fragment = self.kept.get(key)
        if fragment is not None:
            return fragment
        made = rendered(root())
        if isinstance(made, Deferred):
            return made.addCallback(self.keep, key)
        return self.keep(made, key)

    def keep(self, fragment: bytes, key: Any) -> bytes:
        """Keep C{fragment} for C{key}; return it."""
        self.kept[key] = fragment
        if len(self.kept) > self.size:
            self.kept.popitem(last=False)
        return fragment


class Fragments:
    """
    The fragments of one Records' pages, each flattened once and kept while it holds.

    @ivar cells: each hit's cells (L{HitCells}), by hit.
    @ivar forms: the form of each query (L{FilterForm}), by selection and page path.
    @ivar fixed: the parts that change with the heading at most (head, header, table head,
        row template).
    @ivar asides: for each view the aggregates link from (its URL), when they were last
        flattened, their total then, and the fragment.
    """

    def __init__(self, records: IRecords, cells: int = 4096) -> None:
        """@param cells: how many hits' cells are kept (a page shows at most 1000)."""
        self.records = records
        self.cells = Kept(cells)
        self.forms = Kept(256)
        self.fixed = Kept(64)
        self.asides: OrderedDict[str, tuple[float, int, bytes]] = OrderedDict()

    def hit(self, hit: Hit) -> Piece:
        """A hit's cells, flattened once and kept."""
        return self.cells.get(hit, lambda: HitCells(hit))

    def aside(self, links: ViewLinks | None) -> Piece:
        """
        The chart and the top lists, their keys linking to the views of C{links} (None: text):
        flattened again at most once a second while they change, for each view they link from.
        """
        total, now = self.records.aggregates.total, time.monotonic()
        view = "" if links is None else links.to()
        kept = self.asides.get(view)
        if kept is not None and (kept[1] == total or now - kept[0] < AGGREGATES_SECONDS):
            return kept[2]
        fragment = rendered(AggregatesAside(self.records, links))
        if isinstance(fragment, Deferred):
            return fragment.addCallback(self._keep_aside, view, now, total)
        return self._keep_aside(fragment, view, now, total)

    def _keep_aside(self, fragment: bytes, view: str, now: float, total: int) -> bytes:
        """Keep the aggregates' fragment for C{view}, flattened at C{now} when they counted
        C{total}; forget the view asked for least recently when too many are kept."""
        self.asides[view] = (now, total, fragment)
        self.asides.move_to_end(view)
        if len(self.asides) > ASIDES_KEPT:
            self.asides.popitem(last=False)
        return fragment

    def page(self, selection: Selection, cells: list[Piece], base: str, heading: str,
             last_id: int, status: dict[str, Any], history: dict[str, Any]) -> list[Piece]:
        """
        The whole weblog page: the log's state, the filter form, the rows, the aggregates.

        @param cells: the selected hits' cells (from L{hit}), in display order.
        @param base: the page's own URL path (C{""} at the site's root), for its links and its
            event stream.
        @param last_id: the id of the newest hit when the rows were chosen: the page's
            event stream goes on from there.
        @param status: the log's status when the rows were chosen.
        @param history: the history's status then.
        @return: the page, in pieces (a row's cells are not copied).
        """
        query = selection.query()
        suffix = f"?{query}" if query else ""
        events = escape(f"{base}/events{suffix}", quote=True).encode("utf-8")
        rows: list[Piece] = []
        for index, each in enumerate(cells):
            rows += (ROW_STARTS[index % 2], each, b"</tr>")
        fixed = self.fixed.get
        return [
            b'<!DOCTYPE html>\n<html lang="en">',
            fixed(("head", heading), lambda: Head(heading)),
            b'<body data-events="%s" data-last-id="%d">' % (events, last_id),
            fixed(("header", heading), lambda: header(heading)), b"<main>",
            rendered(log_state(status)),
            rendered(history_state(history)),
            rendered(history_ranges(base, history)),
            self.forms.get((selection, base), lambda: FilterForm(selection, base)),
            b'<div class="columns">', HITS_START, fixed("thead", table_head),
            b'<tbody id="hits" data-limit="%d">' % selection.limit, *rows, HITS_END,
            fixed("template", row_template),
            self.aside(None if history["state"] == "off" else ViewLinks(base, selection, None)),
            b"</div></main>", rendered(footer(len(cells), status["kept"], base, suffix)),
            b"</body></html>",
        ]

# -*- test-case-name: tests.test_pages -*-
"""
The weblog page's HTML, built with twisted.web.template in pieces that are kept once rendered.

Flattening a whole page of tags on every change of a busy log costs more than
serving it, so the page is put together from fragments: a row per hit
(rendered once per hit), the form (once per query), the aggregates (at most
once a second), and the small parts that change with every line read.  Every
fragment is flattened by twisted.web.template, which quotes what the log says;
the few attribute values written here by hand go through C{html.escape}.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from html import escape
from typing import Any
from weakref import WeakKeyDictionary

from twisted.web.template import Tag, flattenString, tags

from weblog.chart import per_minute_svg
from weblog.hit import Hit
from weblog.interfaces import IRecords
from weblog.links import referrer_link, shown_referrer, shown_site
from weblog.selection import Selection

__all__ = ["flat", "hit_cells", "hit_row", "log_summary", "referrer_link", "render_page"]

REFRESH_SECONDS = 5
AGGREGATES_SECONDS = 1.0
"""How stale the page's top lists and chart may be (the event stream updates them anyway)."""

_THEAD = (b"<thead><tr><th>Time</th><th>Client</th><th>Referrer</th><th>Resource</th>"
          b"<th>Status</th></tr></thead>")


def flat(tag: Tag | str) -> bytes:
    """Flatten a tag that renders synchronously (every tag built here does)."""
    rendered: list[bytes] = []
    flattenString(None, tag).addCallback(rendered.append)
    if not rendered:
        raise RuntimeError("a page fragment did not render synchronously")
    return rendered[0]


def _attribute(text: str) -> bytes:
    """Text quoted for a double-quoted attribute value."""
    return escape(text, quote=True).encode("utf-8")


class _Kept:
    """A bounded memo of rendered fragments (forgets the oldest first)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.kept: OrderedDict[Any, bytes] = OrderedDict()

    def get(self, key: Any, render: Callable[[], bytes]) -> bytes:
        """The fragment for C{key}, rendered by C{render} when not kept."""
        fragment = self.kept.get(key)
        if fragment is None:
            fragment = self.kept[key] = render()
            if len(self.kept) > self.size:
                self.kept.popitem(last=False)
        return fragment


_cells = _Kept(4096)
_forms = _Kept(256)
_heads = _Kept(16)
_aggregates: WeakKeyDictionary[IRecords, tuple[float, int, bytes]] = WeakKeyDictionary()


def _referrer_cell(referrer: str | None) -> Tag | str:
    """A referrer as text, or as a link (see L{referrer_link})."""
    if referrer is None:
        return "-"
    link = referrer_link(referrer)
    if link is None:
        return referrer
    return tags.a(link, href=link, rel="noopener noreferrer nofollow")


def hit_row(hit: Hit, odd: int) -> Tag:
    """One table row for a hit; the template quotes every string in it."""
    return tags.tr(
        tags.td(tags.time(hit.time.strftime("%Y-%m-%d %H:%M:%S %z"),
                          datetime=hit.time.isoformat()), class_="time"),
        tags.td(hit.client, class_="client"),
        tags.td(_referrer_cell(hit.referrer), class_="referrer"),
        tags.td(hit.resource, class_="resource"),
        tags.td(str(hit.status) if hit.status is not None else "-", class_="status"),
        class_=f"row{odd}",
    )


def hit_cells(hit: Hit) -> bytes:
    """One hit's cells (its row without the C{tr} element), rendered once and kept."""
    return _cells.get(hit, _Cells(hit))


_ROW_STARTS = (b'<tr class="row0">', b'<tr class="row1">')


def _rows(cells: list[bytes]) -> list[bytes]:
    """The table's rows, alternating classes, from each hit's cells: pieces, none copied."""
    pieces: list[bytes] = []
    for index, each in enumerate(cells):
        pieces += (_ROW_STARTS[index % 2], each, b"</tr>")
    return pieces


class _Cells:
    """Renders one hit's cells (its row without the C{tr} element)."""

    def __init__(self, hit: Hit) -> None:
        self.hit = hit

    def __call__(self) -> bytes:
        return flat(hit_row(self.hit, 0))[len(b'<tr class="row0">'):-len(b"</tr>")]


def log_summary(status: dict[str, Any]) -> str:
    """The log's counts in words, as the page shows them."""
    return (f"{status['lines']} lines read, {status['malformed']} malformed, "
            f"{status['rotations']} rotations")


def _log_state(status: dict[str, Any]) -> Tag:
    """The log's path, state and counts; a waiting notice when it cannot be read."""
    if status["state"] == "ok":
        return tags.p("Following ", tags.code(status["path"]), ": ",
                      tags.span(log_summary(status), id="log-counts"), ".",
                      class_="log state-ok", id="log")
    if status["state"] == "misconfigured":
        notice = f"cannot follow {status['path']}: {status['reason']}"
    else:
        notice = f"waiting for {status['path']}: {status['reason']}"
    return tags.p(
        tags.strong(notice),
        " (", tags.span(log_summary(status), id="log-counts"), ").",
        class_=f"log state-{status['state']}", id="log",
    )


def _form(selection: Selection, base: str) -> Tag:
    """The filter form; submitting it makes a bookmarkable URL."""

    def choice(name: str, label: str, values: tuple[str, ...]) -> Tag:
        current = getattr(selection, name)
        options = [tags.option(value, value=value,
                               **({"selected": "selected"} if value == current else {}))
                   for value in values]
        return tags.label(label, " ", tags.select(*options, name=name))

    return tags.form(
        tags.label("Status ", tags.input(name="status", value=selection.status, size="4")),
        choice("referrer", "Referrer", ("required", "any")),
        choice("bots", "Bots", ("include", "exclude")),
        choice("own", "weblog's own hits", ("hide", "show")),
        tags.label("Contains ", tags.input(name="q", value=selection.q, type="search")),
        tags.label("Rows ", tags.input(name="limit", value=str(selection.limit),
                                       type="number", min="1", max="1000")),
        tags.button("Show", type="submit"),
        method="get", action=base or "/",
    )


def _head(heading: str) -> Tag:
    """The document's head: styles, the script, and a refresh for browsers without scripts."""
    return tags.head(
        tags.meta(charset="utf-8"),
        tags.noscript(tags.meta(content=str(REFRESH_SECONDS), **{"http-equiv": "refresh"})),
        tags.meta(name="viewport", content="width=device-width, initial-scale=1"),
        tags.title(f"weblog: {heading}"),
        tags.link(rel="stylesheet", href="/weblog.css"),
        tags.link(rel="icon", href="/favicon.svg", type="image/svg+xml"),
        tags.script(src="/weblog.js", defer="defer"),
    )


def _top_list(title: str, name: str, items: list[tuple[str, int]],
              shown: Callable[[str], str] = str) -> Tag:
    """One top list: a heading and an ordered list of counts and keys (each as C{shown})."""
    return tags.section(
        tags.h2(title),
        tags.ol([tags.li(tags.span(str(count), class_="count"), " ",
                         tags.span(shown(key), class_="key"))
                 for key, count in items], id=f"top-{name}"),
        class_="top",
    )


def _aggregates_html(records: IRecords) -> bytes:
    """The chart and the top lists, rendered again at most once a second while they change."""
    aggregates = records.aggregates
    now = time.monotonic()
    kept = _aggregates.get(records)
    if kept is not None and (kept[1] == aggregates.total or now - kept[0] < AGGREGATES_SECONDS):
        return kept[2]
    top = aggregates.top()
    fragment = flat(tags.aside(
        tags.section(tags.h2("Hits per minute (log time)"),
                     per_minute_svg(aggregates.per_minute()), class_="chart"),
        _top_list("Top referring sites", "sites", top["sites"], shown_site),
        _top_list("Top referrers", "referrers", top["referrers"], shown_referrer),
        _top_list("Top resources", "resources", top["resources"]),
        _top_list("Status codes", "statuses", top["statuses"]),
        tags.p("Counted over every hit read since start, weblog's own pages excluded.",
               class_="footer"),
    ))
    _aggregates[records] = (now, aggregates.total, fragment)
    return fragment


def render_page(records: IRecords, selection: Selection, cells: list[bytes], base: str,
                heading: str, last_id: int, status: dict[str, Any]) -> list[bytes]:
    """
    The whole weblog page: the log's state, the filter form, the rows, the aggregates.

    @param cells: the selected hits' cells (from L{hit_cells}), in display order.
    @param base: the page's own URL path (C{""} at the site's root), for its links and its
        event stream.
    @param last_id: the id of the newest hit when the rows were chosen: the page's
        event stream goes on from there.
    @param status: the log's status when the rows were chosen.
    @return: the page, in pieces (a row's cells are not copied).
    """
    query = selection.query()
    suffix = f"?{query}" if query else ""
    footer = tags.p(
        f"{len(cells)} shown of {status['kept']} kept hits. ",
        tags.a("This view as JSON", href=f"{base}/json{suffix}"), " \u00b7 ",
        tags.a("live events", href=f"{base}/events{suffix}"), " \u00b7 ",
        tags.a("Home", href="/"),
        class_="footer",
    )
    return [
        b'<!DOCTYPE html>\n<html lang="en">',
        _heads.get(heading, lambda: flat(_head(heading))),
        b'<body data-events="%s" data-last-id="%d">' % (
            _attribute(f"{base}/events{suffix}"), last_id),
        flat(tags.header(tags.h1(heading), tags.span(
            "static", id="live", class_="live-off", title="live updates need JavaScript"))),
        flat(_log_state(status)),
        _forms.get((selection, base), lambda: flat(_form(selection, base))),
        b'<div class="columns"><main><table>', _THEAD,
        b'<tbody id="hits" data-limit="%d">' % selection.limit, *_rows(cells),
        b"</tbody></table>", flat(footer),
        b"</main>", _aggregates_html(records), b"</div></body></html>",
    ]

# -*- test-case-name: tests.test_pages -*-
"""
The weblog page's HTML, as twisted.web.template Elements: the fragments a page is made of.

Each fragment is flattened on its own and kept by L{weblog.fragments}: a hit's
cells, the head, the aggregates, and the small parts that change with
every line read.  The flattener quotes all that the log says.  The row a live
hit fills in the browser is the same L{HitCells}, rendered empty into a
C{<template>}; the top lists carry their item's shape the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeAlias

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.template import Element, Flattenable, Tag, XMLString, flatten, renderer, tags

from weblog.chart import per_minute_chart
from weblog.hit import Hit
from weblog.interfaces import IRecords
from weblog.links import DISPLAYS, referrer_link
from weblog.panels import PANELS, Panel
from weblog.question import RANGES
from weblog.viewlinks import PANEL_FILTERS, ViewLinks

__all__ = ["LINK_REL", "SUMMARY", "T", "AggregatesAside", "Head", "HitCells", "Piece", "TopList",
           "footer", "header", "history_ranges", "human_size", "history_sentence", "history_state",
           "hit_cells", "log_state", "log_summary", "rendered", "row_template", "settled",
           "table_head"]

REFRESH_SECONDS = 5
SUMMARY = "{lines} lines read, {malformed} malformed, {rotations} rotations"
"""The log's counts in words, filled from its status; the page's script fills it the same way."""
T = 'xmlns:t="http://twistedmatrix.com/ns/twisted.web.template/0.1"'
LINK_REL = "noopener noreferrer nofollow"

Piece: TypeAlias = bytes | Deferred[bytes]
"""A flattened fragment: its bytes, or a Deferred of them when a renderer answered later."""


def rendered(root: Flattenable) -> Piece:
    """
    Flatten C{root}: its bytes at once when every renderer in it answered at once (as all of
    this module's do), else a Deferred that fires with them.
    """
    pieces: list[bytes] = []
    done = flatten(None, root, pieces.append)
    if not done.called:
        return done.addCallback(lambda _: b"".join(pieces))
    failed: list[Failure] = []
    done.addErrback(failed.append)
    if failed:
        failed[0].raiseException()
    return b"".join(pieces)


def settled(pieces: Sequence[Piece]) -> list[bytes] | Deferred[list[bytes]]:
    """C{pieces} as bytes; a Deferred of them if some are still to come."""
    if not any(isinstance(piece, Deferred) for piece in pieces):
        return list(pieces)  # type: ignore[arg-type]  # all bytes
    return gatherResults([piece if isinstance(piece, Deferred) else succeed(piece)
                          for piece in pieces], consumeErrors=True)


class HitCells(Element):
    """
    A hit's cells, as its row holds them (the row itself is the page's); with no hit, the
    empty cells of the row template that the page's script fills for each live hit.
    """

    loader = XMLString(
        f'<t:transparent {T} t:render="cells">'
        '<td class="time"><time t:render="time" /></td>'
        '<td class="client"><t:slot name="client" /></td>'
        '<td class="referrer" t:render="referrer" />'
        '<td class="resource"><t:slot name="resource" /></td>'
        '<td class="status"><t:slot name="status" /></td>'
        "</t:transparent>")

    def __init__(self, hit: Hit | None) -> None:
        super().__init__()
        self.hit = hit

    @renderer
    def cells(self, request: IRequest | None, tag: Tag) -> Tag:
        """The cells that are plain text: the client, the resource, the status."""
        hit = self.hit
        if hit is None:
            return tag.fillSlots(client="", resource="", status="")
        return tag.fillSlots(client=hit.client, resource=hit.resource,
                             status="-" if hit.status is None else str(hit.status))

    @renderer
    def time(self, request: IRequest | None, tag: Tag) -> Tag:
        """The hit's time as logged, its ISO form for the script to show in local time."""
        if self.hit is None:
            return tag
        return tag(self.hit.time.strftime("%Y-%m-%d %H:%M:%S %z"),
                   datetime=self.hit.time.isoformat())

    @renderer
    def referrer(self, request: IRequest | None, tag: Tag) -> Tag:
        """The referrer as text, or as a link (see L{referrer_link}); an empty link's shape."""
        if self.hit is None:
            return tag(tags.a(rel=LINK_REL))  # the script sets its href and text, or drops it
        if self.hit.referrer is None:
            return tag("-")
        link = referrer_link(self.hit.referrer)
        if link is None:
            return tag(self.hit.referrer)
        return tag(tags.a(link, href=link, rel=LINK_REL))


def hit_cells(hit: Hit) -> Piece:
    """One hit's cells, flattened (L{weblog.fragments.Fragments.hit} keeps them)."""
    return rendered(HitCells(hit))


def row_template() -> Tag:
    """The row the page's script clones for each live hit: a row of empty L{HitCells}."""
    return Tag("template", attributes={"id": "hit-row"})(tags.tr(HitCells(None)))


def table_head() -> Tag:
    """The hits table's head."""
    return tags.thead(tags.tr(*(tags.th(name, scope="col") for name in (
        "Time", "Client", "Referrer", "Resource", "Status"))))


class Head(Element):
    """The document's head: styles, the script, a refresh for browsers without scripts."""

    loader = XMLString(
        f'<head {T} t:render="head"><meta charset="utf-8" />'
        f'<noscript><meta http-equiv="refresh" content="{REFRESH_SECONDS}" /></noscript>'
        '<meta name="viewport" content="width=device-width, initial-scale=1" />'
        '<title>weblog: <t:slot name="heading" /></title>'
        '<link rel="stylesheet" href="/weblog.css" />'
        '<link rel="icon" href="/favicon.svg" type="image/svg+xml" />'
        '<script src="/weblog.js" defer="defer"></script>'
        "</head>")

    def __init__(self, heading: str) -> None:
        super().__init__()
        self.heading = heading

    @renderer
    def head(self, request: IRequest | None, tag: Tag) -> Tag:
        """The head, titled by the page's heading."""
        return tag.fillSlots(heading=self.heading)


def header(heading: str, live: bool = True) -> Tag:
    """The page's heading and its live badge (static until the script connects); a history
    view's page (C{live} false) says it is one, with no live updates."""
    if not live:
        return tags.header(tags.h1(heading), tags.span(
            "history", id="live", class_="live-off", title="a view of the history: not live"))
    return tags.header(tags.h1(heading), tags.span(
        "static", id="live", class_="live-off", title="live updates need JavaScript"))


def log_summary(status: dict[str, Any]) -> str:
    """The log's counts in words, as the page shows them (L{SUMMARY})."""
    return SUMMARY.format_map(status)


def log_state(status: dict[str, Any]) -> Tag:
    """The log's path, state and counts; a waiting notice when it cannot be read."""
    counts = tags.span(log_summary(status), id="log-counts", **{"data-format": SUMMARY})
    syslog = _syslog_state(status["syslog"]) if "syslog" in status else ""
    if status["state"] == "ok":
        return tags.p("Following ", tags.code(status["path"]), ": ", counts, ".", syslog,
                      class_="log state-ok", id="log")
    verb = "cannot follow" if status["state"] == "misconfigured" else "waiting for"
    return tags.p(tags.strong(f"{verb} {status['path']}: {status['reason']}"), " (", counts, ").",
                  syslog, class_=f"log state-{status['state']}", id="log")


def _syslog_state(syslog: dict[str, Any]) -> Tag:
    """What the syslog receiver does: where it listens and what it received, or its trouble."""
    received = (f"{sum(syslog['messages'].values()):,} messages from {syslog['senders']:,}"
                f" senders, {sum(syslog['malformed'].values()):,} not syslog")
    if syslog["state"] != "ok":
        return tags.span(" ", tags.strong(f"Syslog: {syslog['reason']}"), f" ({received}).")
    return tags.span(" Receiving syslog on ", tags.code(", ".join(syslog["listening"])),
                     f": {received}.")


def human_size(count: int) -> str:
    """A number of bytes in a few digits: C{12.3 MB}."""
    size = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"  # not reached


def _moment(iso: str | None) -> str:
    """A stored time as the page says it: C{2015-05-17 10:05 UTC}."""
    return "?" if not iso else iso[:16].replace("T", " ") + " UTC"


def _holding(history: dict[str, Any]) -> str:
    """What the store holds: its hits, the time they cover, its size on disk and its cap."""
    span = (f", from {_moment(history['oldest'])} to {_moment(history['newest'])}"
            if history["oldest"] else "")
    cap = history.get("max_bytes")
    size = human_size(history["size_bytes"]) + (f" of at most {human_size(cap)}" if cap else "")
    return f"{history['stored']:,} hits stored{span} ({size})"


def history_sentence(history: dict[str, Any]) -> str:
    """What the page says of the history (its C{history} object), in one sentence."""
    state = history["state"]
    if state == "off":
        return "History is off (WEBLOG_HISTORY=off): the page shows what this server read."
    if state == "starting":
        return f"History: {history['reason'] or 'starting'}."
    if state == "ok":
        return f"History: {_holding(history)}."
    if state == "backfilling":
        done, total = history["bytes_done"], max(history["bytes_total"], 1)
        left = history["seconds_left"]
        return (f"History: reading the logs, {100 * done // total}% of "
                f"{human_size(history['bytes_total'])} ({history['lines_per_second']:,} lines/s"
                + ("" if left is None else f", about {left:,} s left") + f"); {_holding(history)}.")
    held = f"; {_holding(history)}" if history["stored"] else ""
    return f"History {state}: {history['reason']}; the live view goes on from memory{held}."


def history_ranges(base: str, history: dict[str, Any]) -> Tag | str:
    """On the live page, the links to the history's views (none when it is off)."""
    if history["state"] == "off":
        return ""
    links: list[Any] = ["The history over: "]
    for span in RANGES:
        links += [tags.a(span, href=f"{base or '/'}?range={span}"), " "]
    return tags.nav(*links, class_="ranges", id="ranges", **{"aria-label": "History ranges"})


def history_state(history: dict[str, Any]) -> Tag:
    """The history's state on the page: a progress bar while it reads, and its sentence."""
    bar = tags.progress(max=str(max(history["bytes_total"], 1)),
                        value=str(history["bytes_done"]), id="history-bar")
    if history["state"] != "backfilling":
        bar(hidden="")
    return tags.p(bar, " ", tags.span(history_sentence(history), id="history-text"),
                  class_=f"history state-{history['state']}", id="history")


class TopList(Element):
    """
    One panel's top list: its heading and its keys with their counts (and visitors, when an
    entry has them: a history view's referring sites), as it displays them; each key a link
    that adds its filter to the view (L{PANEL_FILTERS}), when it has one.
    """

    loader = XMLString(
        f'<section {T} class="top" t:render="section"><h2><t:slot name="title" /></h2>'
        '<ol t:render="keys"><li t:render="key"><span class="count"><t:slot name="count" />'
        '</span> <span class="key"><t:slot name="key" /></span></li></ol></section>')

    def __init__(self, panel: Panel, items: Sequence[tuple[str, int] | tuple[str, int, int]],
                 links: ViewLinks | None = None) -> None:
        """
        @param items: (key, count) or (key, count, visitors) each.
        @param links: the views one click away (None: the keys are text).
        """
        super().__init__()
        self.panel = panel
        self.items = items
        self.links = links
        self.filter = None if links is None else PANEL_FILTERS.get(panel.name)

    @renderer
    def section(self, request: IRequest | None, tag: Tag) -> Tag:
        """The section, headed by the panel's title."""
        return tag.fillSlots(title=self.panel.title)

    @renderer
    def keys(self, request: IRequest | None, tag: Tag) -> Tag:
        """The list, named for the script: its id, how it displays keys, how it links them."""
        tag(id=f"top-{self.panel.name}", **{"data-display": self.panel.display})
        if self.links is not None and self.filter is not None:
            tag(**{"data-view": self.links.to(), "data-filter": self.filter})
        return tag

    @renderer
    def key(self, request: IRequest | None, tag: Tag) -> Iterator[Tag]:
        """An empty item for the script to clone, then one per key, most common first."""
        yield Tag("template")(tag.clone().fillSlots(count="", key=""))
        shown = DISPLAYS[self.panel.display]
        for key, count, *visitors in self.items:
            text: Flattenable = shown(key)
            if self.links is not None and self.filter is not None and key != "-":
                text = tags.a(text, href=self.links.to(**{self.filter: key}))
            if visitors:
                words = f"{visitors[0]} visitor" + ("" if visitors[0] == 1 else "s")
                text = [text, " \u00b7 ", tags.span(words, class_="visitors",
                                                   title="unique visitors (approximate)")]
            yield tag.clone().fillSlots(count=str(count), key=text)


class AggregatesAside(Element):
    """The chart of hits per minute and a top list per panel (L{weblog.panels.PANELS})."""

    loader = XMLString(
        f'<div {T} class="panels" id="panels"><section class="chart panel" id="panel-chart">'
        '<h2>Hits per minute (log time)</h2><t:transparent t:render="chart" /></section>'
        '<t:transparent t:render="panels" /><p class="panels-note">Counted over every hit '
        "read since start, weblog's own pages excluded.</p></div>")

    def __init__(self, records: IRecords, links: ViewLinks | None = None) -> None:
        """@param links: the views one click away, for the panels' drill-down links."""
        super().__init__()
        self.aggregates = records.aggregates
        self.links = links

    @renderer
    def chart(self, request: IRequest | None, tag: Tag) -> Tag:
        """The last hour's hits per minute, as an SVG the script redraws."""
        return per_minute_chart(self.aggregates.per_minute())

    @renderer
    def panels(self, request: IRequest | None, tag: Tag) -> list[TopList]:
        """Each panel's top list, in the panels' order."""
        top = self.aggregates.top()
        return [TopList(panel, top.get(panel.name, []), self.links) for panel in PANELS]


def footer(shown: int, kept: int, base: str, suffix: str) -> Tag:
    """How many hits show, and the links to this view's JSON and event stream."""
    return tags.footer(tags.p(
        f"{shown} shown of {kept} kept hits. ",
        tags.a("This view as JSON", href=f"{base}/json{suffix}"), " \u00b7 ",
        tags.a("live events", href=f"{base}/events{suffix}"), " \u00b7 ",
        tags.a("Home", href="/")), class_="footer")

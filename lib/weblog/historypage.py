# -*- test-case-name: tests.test_historypage -*-
"""
The weblog page of a history view: its window, its filters and every panel, from the store.

Every link on it is a plain link to another view: a range, a filter removed
(its chip), an entry of a panel (which adds that filter: drill-down), a bar of
the chart (which narrows the window to that bar's).  It is rendered once the
historian answered (L{weblog.history.History.query}); meanwhile the reactor
serves others.  It has no live updates: the live page is the view with no
history parameter.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from twisted.web.pages import errorPage
from twisted.web.server import Request
from twisted.web.template import Tag, tags

from weblog.chart import buckets_svg
from weblog.fragments import ROW_STARTS, Fragments
from weblog.hit import Hit
from weblog.interfaces import IRecords
from weblog.links import DISPLAYS
from weblog.panels import PANELS
from weblog.question import FILTERS, RANGES, Question
from weblog.render import (
    Head,
    Piece,
    header,
    history_state,
    log_state,
    rendered,
    settled,
    table_head,
)
from weblog.selection import PARAMETERS, Selection
from weblog.views import ask_history

__all__ = ["PANEL_FILTERS", "history_page"]

PANEL_FILTERS = {"sites": "site", "referrers": "ref", "resources": "resource",
                 "statuses": "status"}
"""The parameter that an entry of each panel adds to the view (its drill-down)."""
_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


class _Links:
    """The URLs of the views one click away from this one."""

    def __init__(self, base: str, selection: Selection, question: Question) -> None:
        default = Selection()
        self.base = base or "/"
        self.pairs: dict[str, str] = {
            name: str(getattr(selection, name)) for name in PARAMETERS
            if getattr(selection, name) != getattr(default, name)}
        if question.range is not None:
            self.pairs["range"] = question.range
        for name, moment in (("from", question.start), ("to", question.end)):
            if moment is not None:
                self.pairs[name] = moment.astimezone(UTC).isoformat()
        self.pairs.update(question.filters)

    def to(self, **changes: str | None) -> str:
        """This view with C{changes} (None takes a parameter out), as a URL."""
        pairs = dict(self.pairs)
        if any(name in changes for name in ("range", "from", "to")):
            for name in ("range", "from", "to"):
                pairs.pop(name, None)
        for name, value in changes.items():
            if value is None:
                pairs.pop(name, None)
            else:
                pairs[name] = value
        return f"{self.base}?{urlencode(pairs)}" if pairs else self.base

    def json(self) -> str:
        """This view's JSON, as a URL."""
        return f"{self.base.rstrip('/')}/json?{urlencode(self.pairs)}"


def _ranges(links: _Links, question: Question) -> Tag:
    """The range links, the current one marked; and the way back to the live view."""
    items: list[Any] = ["Range: "]
    for span in RANGES:
        current = {"aria-current": "page"} if question.range == span else {}
        items += [tags.a(span, href=links.to(range=span), **current), " "]
    live = {name: None for name in (*FILTERS, "range", "from", "to")}
    items += ["\u00b7 ", tags.a("live", href=links.to(**live))]
    return tags.nav(*items, class_="ranges", id="ranges")


def _chips(links: _Links, question: Question) -> Tag | str:
    """The filters, each a chip whose link removes it."""
    if not question.filters:
        return ""
    chips = [tags.a(f"{name}: {value} \u2715", href=links.to(**{name: None}), class_="chip",
                    title=f"remove the {name} filter") for name, value in question.filters]
    return tags.p("Filters: ", *chips, class_="chips", id="chips")


def _window(answer: dict[str, Any]) -> Tag:
    """Which absolute window the view shows, and how many hits match in it."""
    window = answer["window"]
    if window is None:
        return tags.p("The history holds no hits yet.", id="window", class_="window")
    start, end = (datetime.fromisoformat(window[key]) for key in ("from", "to"))
    return tags.p(f"From {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC: "
                  f"{answer['total']:,} hits match.", id="window", class_="window")


def _panel(links: _Links, name: str, title: str, display: str, items: list[list[Any]]) -> Tag:
    """One panel's list; each entry a link that adds its filter."""
    shown, parameter = DISPLAYS[display], PANEL_FILTERS.get(name)
    entries = []
    for key, count in items:
        text: Any = shown(str(key))
        if parameter is not None and key != "-":
            text = tags.a(text, href=links.to(**{parameter: str(key)}))
        entries.append(tags.li(tags.span(f"{count:,}", class_="count"), " ",
                               tags.span(text, class_="key")))
    return tags.section(tags.h2(title), tags.ol(*entries, id=f"top-{name}"), class_="top")


def _aside(links: _Links, answer: dict[str, Any]) -> Tag:
    """The chart of the window's buckets, each a link to its own window, and every panel."""
    buckets = answer["buckets"]
    unit = buckets["unit"]
    counts = [(datetime.fromisoformat(start), count) for start, count in buckets["counts"]]

    def bucket(start: datetime) -> str:
        return links.to(**{"from": start.isoformat(),
                           "to": (start + _UNITS[unit] - timedelta(microseconds=1)).isoformat()})

    chart = tags.section(tags.h2(f"Hits per {unit}"), buckets_svg(unit, counts, bucket),
                         class_="chart")
    panels = [_panel(links, panel.name, panel.title, panel.display,
                     answer["top"].get(panel.name, [])) for panel in PANELS]
    return tags.aside(chart, *panels, tags.p(
        "Counted over the window, with every filter; weblog's own pages excluded.",
        class_="footer"))


def _hit(data: dict[str, Any]) -> Hit:
    """A hit of a history answer (its JSON, which has no ident or user), for its row."""
    return Hit(**{**data, "ident": "-", "user": "-", "time": datetime.fromisoformat(data["time"])})


def page_pieces(records: IRecords, fragments: Fragments, selection: Selection,
                question: Question, base: str, heading: str,
                answer: dict[str, Any]) -> list[Piece]:
    """The whole page of a history view, in pieces."""
    links = _Links(base, selection, question)
    rows: list[Piece] = []
    for index, data in enumerate(answer["hits"]):
        rows += (ROW_STARTS[index % 2], fragments.hit(_hit(data)), b"</tr>")
    footer = tags.p(f"{len(answer['hits'])} shown of {answer['total']:,} hits in the window. ",
                    tags.a("This view as JSON", href=links.json()), class_="footer")
    return [
        b'<!DOCTYPE html>\n<html lang="en">', rendered(Head(heading)), b"<body>",
        rendered(header(heading)), rendered(log_state(records.status())),
        rendered(history_state(records.history_status())),
        rendered(_ranges(links, question)), rendered(_window(answer)),
        rendered(_chips(links, question)),
        b'<div class="columns"><main><table>', rendered(table_head()), b'<tbody id="hits">',
        *rows, b"</tbody></table>", rendered(footer), b"</main>",
        rendered(_aside(links, answer)), b"</div></body></html>",
    ]


def history_page(request: Request, records: IRecords, fragments: Fragments,
                 selection: Selection, question: Question, base: str, heading: str) -> int:
    """
    Answer with the page of a history view, once the historian has answered (or 503).

    @raise BadQuery: when there is no history to ask (C{WEBLOG_HISTORY=off}).
    """
    def answered(answer: dict[str, Any], view: dict[str, Any]) -> Any:
        pieces = settled(page_pieces(records, fragments, selection, question, base, heading,
                                     answer))
        if isinstance(pieces, list):
            return write(pieces)
        return pieces.addCallback(write)

    def write(pieces: list[bytes]) -> None:
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.write(b"".join(pieces))
        request.finish()

    def unanswered(reason: str) -> None:
        errorPage(503, "Service Unavailable", reason).render(request)

    return ask_history(request, records, selection, question, answered, unanswered)

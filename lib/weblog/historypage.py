# -*- test-case-name: tests.test_historypage -*-
"""
The weblog page of a history view: its window, its filters and every panel, from the store.

Every link on it is a plain link to another view (L{weblog.viewlinks}): a range, a
filter removed (its chip), an entry of a panel (which adds that filter:
drill-down), a bar of the chart (which narrows the window to that bar's), the
older hits of the list (C{before}); its form keeps the window and the filters in
hidden fields.  www/weblog.js adds one thing: a drag across the chart's bars
opens the window from the first to the last.  It is rendered once the
historian answered (L{weblog.history.History.query}); meanwhile the reactor
serves others.  It has no live updates: the live page is the view with no
history parameter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from collections.abc import Collection
from typing import Any

from twisted.internet.defer import Deferred
from twisted.web.pages import errorPage
from twisted.web.server import Request
from twisted.web.template import Tag, tags

from weblog.answers import Rendered
from weblog.chart import Buckets, buckets_chart
from weblog.form import FilterForm
from weblog.fragments import HITS_END, HITS_START, ROW_STARTS, Fragments
from weblog.hit import Hit
from weblog.interfaces import IRecords
from weblog.panels import PANELS
from weblog.panelviews import panel_sections, visitors_words
from weblog.queries import bucket_end
from weblog.question import FILTERS, RANGES, Question, cursor_of
from weblog.render import (
    Head,
    Piece,
    TopList,
    header,
    history_state,
    log_state,
    rendered,
    settled,
    table_head,
)
from weblog.selection import Selection
from weblog.viewlinks import WINDOW, ViewLinks
from weblog.views import ask_history

__all__ = ["history_page", "page_pieces"]



def _ranges(links: ViewLinks, question: Question) -> Tag:
    """The range links, the current one marked; and the way back to the live view."""
    items: list[Any] = ["Range: "]
    for span in RANGES:
        current = {"aria-current": "page"} if question.range == span else {}
        items += [tags.a(span, href=links.to(range=span), **current), " "]
    live = {name: None for name in (*FILTERS, *WINDOW)}
    items += ["\u00b7 ", tags.a("live", href=links.to(**live))]
    return tags.nav(*items, class_="ranges", id="ranges", **{"aria-label": "Ranges"})


def _chips(links: ViewLinks, question: Question) -> Tag | str:
    """The filters, each a chip whose link removes it."""
    if not question.filters:
        return ""
    chips = [tags.a(f"{name}: {value} \u2715", href=links.to(**{name: None}), class_="chip",
                    title=f"remove the {name} filter") for name, value in question.filters]
    return tags.p("Filters: ", *chips, class_="chips", id="chips")


def _window(answer: dict[str, Any]) -> Tag:
    """Which absolute window the view shows, and how many hits (and visitors) match in it."""
    window = answer["window"]
    if window is None:
        return tags.p("The history holds no hits yet.", id="window", class_="window")
    start, end = (datetime.fromisoformat(window[key]) for key in ("from", "to"))
    return tags.p(f"From {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC: "
                  f"{visitors_words(answer)} match.", id="window", class_="window")


def _panels(links: ViewLinks, answer: dict[str, Any]) -> list[Piece]:
    """The chart of the window's buckets, each a link to its own window, and every panel."""
    chart = Buckets.of(answer["buckets"])

    def bucket(start: datetime) -> str:
        return links.to(**{"from": start.isoformat(),
                           "to": bucket_end(start, chart.unit).isoformat()})

    panels = [TopList(panel, [(str(key), *numbers) for key, *numbers in
                            answer["top"].get(panel.name, [])], links) for panel in PANELS]
    return [
        b'<div class="panels" id="panels"><section class="chart panel" id="panel-chart">',
        rendered(tags.h2(f"Hits per {chart.unit}")),
        buckets_chart(chart, bucket, links.csv("chart")), b"</section>",
        *map(rendered, panels), *map(rendered, panel_sections(links, answer)),
        rendered(tags.p("Counted over the window, with every filter; weblog's own pages excluded.",
                        class_="panels-note")), b"</div>"]


def _footer(links: ViewLinks, question: Question, answer: dict[str, Any]) -> Tag:
    """How many hits show; the links to older hits (and back to the newest), and to the JSON."""
    older = ""
    if question.before is not None:
        moment = cursor_of(question.before)[0].astimezone(UTC)
        older = f", older than {moment:%Y-%m-%d %H:%M:%S} UTC,"
    items: list[Any] = [f"{len(answer['hits'])} shown{older} of {answer['total']:,} hits in "
                        "the window. "]
    if question.before is not None:
        items += [tags.a("newest hits", href=links.to(), rel="first"), " \u00b7 "]
    if answer["before"] is not None:
        items += [tags.a("older hits", href=links.to(before=answer["before"]), rel="next",
                         id="older"), " \u00b7 "]
    items.append(tags.a("This view as JSON", href=links.json()))
    return tags.footer(tags.p(*items), class_="footer")


def _hit(data: dict[str, Any]) -> Hit:
    """A hit of a history answer (its JSON, which has no ident or user), for its row."""
    fields = {name: value for name, value in data.items() if name != "duration_ms"}
    duration = data.get("duration_ms")
    return Hit(**{**fields, "ident": "-", "user": "-", "time": datetime.fromisoformat(data["time"]),
                  "duration": None if duration is None else round(duration * 1000)})


def page_pieces(records: IRecords, fragments: Fragments, selection: Selection,
                question: Question, base: str, heading: str, answer: dict[str, Any],
                given: Collection[str] = ()) -> list[Piece]:
    """The whole page of a history view, in pieces (C{given}: the page's parameters the
    request gave)."""
    links = ViewLinks(base, selection, question, given)
    rows: list[Piece] = []
    for index, data in enumerate(answer["hits"]):
        rows += (ROW_STARTS[index % 2], fragments.hit(_hit(data)), b"</tr>")
    footer = _footer(links, question, answer)
    return [
        b'<!DOCTYPE html>\n<html lang="en">', rendered(Head(heading)), b"<body>",
        rendered(header(heading, live=False)), b"<main>", rendered(log_state(records.status())),
        rendered(history_state(records.history_status())),
        rendered(_ranges(links, question)), rendered(_window(answer)),
        rendered(_chips(links, question)),
        rendered(FilterForm(selection, base, links.hidden())),
        b'<div class="columns">', HITS_START, rendered(table_head()), b'<tbody id="hits">',
        *rows, HITS_END, *_panels(links, answer), b"</div></main>",
        rendered(footer), b"</body></html>",
    ]


def history_page(request: Request, records: IRecords, rendered: Rendered,
                 selection: Selection, question: Question, base: str, heading: str
                 ) -> bytes | int:
    """
    Answer with the page of a history view, once the historian has answered (or 503).

    @raise BadQuery: when there is no history to ask (C{WEBLOG_HISTORY=off}).
    """
    def answered(answer: dict[str, Any], view: dict[str, Any]
                 ) -> list[bytes] | Deferred[list[bytes]]:
        return settled(page_pieces(records, rendered.fragments, selection, question, base,
                                   heading, answer, view["given"]))

    def unanswered(reason: str) -> None:
        errorPage(503, "Service Unavailable", reason).render(request)

    return ask_history(request, records, rendered, ("html", base, heading),
                       b"text/html; charset=utf-8", selection, question, answered, unanswered)

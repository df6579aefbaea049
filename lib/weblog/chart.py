# -*- test-case-name: tests.test_chart -*-
"""
The charts: hits per minute (live) and per bucket (history), inline SVG from the server.

The SVG draws the plot only and stretches to its box (C{preserveAspectRatio="none"}, its
lines of a constant width), so that it reads at 375 px as at 1400; its axes' labels and its
legend are HTML around it, at the page's font size.  The history's chart stacks the hits of
crawlers on those of humans, draws the visitors on the same scale and the 95th percentile
of the response time on its own, and has its numbers as a table and as CSV beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from twisted.web.template import Tag, tags

__all__ = ["HEIGHT", "TABLE_MOST", "WIDTH", "Buckets", "buckets_chart", "buckets_svg",
           "per_minute_chart", "per_minute_svg"]

WIDTH = 600
HEIGHT = 120
TOP = HEIGHT - 10
"""The height of the peak bar: the room above it keeps the lines in view."""
BAR = WIDTH // 60
TABLE_MOST = 400
"""The most buckets the chart's table lists (more: the CSV has them)."""


def _svg(identifier: str, label: str, *children: Any, **attributes: str) -> Tag:
    """An SVG plot that fills its box, labelled for screen readers (its title the same)."""
    svg = Tag("svg", attributes={
        "id": identifier, "viewBox": f"0 0 {WIDTH} {HEIGHT}", "preserveAspectRatio": "none",
        "role": "img", "aria-label": label, "class": "plot"})
    return svg(Tag("title")(label), *children, **attributes)


def per_minute_svg(per_minute: list[tuple[datetime, int]]) -> Tag:
    """
    Draw hits per minute as 60 bars, each with a tooltip; the page's script moves the bars live.

    @param per_minute: (minute start, hits) oldest first, as from L{Aggregates.per_minute}.
    @return: an C{svg} element.
    """
    peak = max((count for _, count in per_minute), default=0) or 1
    bars = []
    for index in range(60):
        start, count = per_minute[index] if index < len(per_minute) else (None, 0)
        height = round(count * TOP / peak)
        label = f"{start:%Y-%m-%d %H:%M} UTC: {count} hits" if start is not None else "no data"
        bars.append(Tag("rect", attributes={
            "x": str(index * BAR), "y": str(HEIGHT - height), "width": str(BAR - 1),
            "height": str(height), "class": "bar",
        })(Tag("title")(label)))
    return _svg("per-minute", f"hits per minute, peak {peak if per_minute else 0}", *bars,
                **{"data-peak": str(peak), "data-height": str(HEIGHT)})


def per_minute_chart(per_minute: list[tuple[datetime, int]]) -> Tag:
    """The live chart: its plot (L{per_minute_svg}) and its time axis (the script updates it)."""
    first = f"{per_minute[0][0]:%H:%M}" if per_minute else ""
    last = f"{per_minute[-1][0]:%H:%M} UTC" if per_minute else ""
    return tags.div(per_minute_svg(per_minute), tags.div(
        tags.span(first, id="per-minute-first"), tags.span(last, id="per-minute-last"),
        class_="axis-x"), class_="chart-box")


@dataclass(frozen=True)
class Buckets:
    """
    A history view's chart, its series parallel (one value per bucket, oldest first).

    @ivar crawlers: the hits of crawlers of each bucket; None when the answer does not count
        them (as each of the optional series).
    @ivar p95: the 95th percentile of the response time in ms (None: no times that bucket).
    """

    unit: str
    starts: list[datetime]
    hits: list[int]
    crawlers: list[int] | None = None
    visitors: list[int] | None = None
    bytes: list[int] | None = None
    p95: list[float | None] | None = None

    @classmethod
    def of(cls, buckets: dict[str, Any]) -> Buckets:
        """The chart of an answer's C{buckets}; a series not parallel to its counts is left out."""
        counts = buckets["counts"]

        def series(name: str) -> list[Any] | None:
            values = buckets.get(name)
            return list(values) if isinstance(values, list) and len(values) == len(counts) \
                else None

        p95 = series("p95_ms")
        return cls(buckets["unit"], [datetime.fromisoformat(start) for start, _ in counts],
                   [count for _, count in counts], series("crawlers"), series("visitors"),
                   series("bytes"), p95 if p95 is not None and any(
                       value is not None for value in p95) else None)

    @property
    def shown(self) -> str:
        """How a bucket's start is written."""
        return "%Y-%m-%d" if self.unit in ("day", "week") else "%Y-%m-%d %H:%M"

    def words(self, index: int) -> str:
        """One bucket in words, as its bar's tooltip says it (a week by its Monday)."""
        words = (f"{'week of ' if self.unit == 'week' else ''}"
                 f"{self.starts[index].strftime(self.shown)} UTC: {self.hits[index]:,} hits")
        if self.crawlers is not None:
            words += f" ({self.crawlers[index]:,} by crawlers)"
        if self.visitors is not None:
            words += f", {self.visitors[index]:,} visitors"
        if self.p95 is not None and self.p95[index] is not None:
            words += f", p95 {self.p95[index]:,.1f} ms"
        return words

    def summary(self) -> str:
        """The whole chart in one sentence: its window, totals and peaks (its text alternative)."""
        if not self.starts:
            return f"hits per {self.unit}: no hits in this view"
        peak = max(range(len(self.hits)), key=self.hits.__getitem__)
        words = (f"hits per {self.unit} from {self.starts[0].strftime(self.shown)} to "
                 f"{self.starts[-1].strftime(self.shown)} UTC: {sum(self.hits):,} hits")
        if self.crawlers is not None:
            words += f", {sum(self.crawlers):,} by crawlers"
        words += f"; the most, {self.hits[peak]:,}, at {self.starts[peak].strftime(self.shown)}"
        if self.visitors is not None:
            words += f"; up to {max(self.visitors):,} visitors per {self.unit}"
        if self.p95 is not None:
            words += f"; p95 response time up to {_peak(self.p95):,.1f} ms"
        return words


def _peak(values: Sequence[float | int | None]) -> float:
    """The largest of C{values} that are numbers (1 when none is above 0)."""
    return max((value for value in values if value is not None), default=0) or 1


def _step(values: Sequence[float | int | None], width: float, scale: float) -> str:
    """An SVG path of C{values}, level across each bucket's width, broken where one is None."""
    path: list[str] = []
    drawing = False
    for index, value in enumerate(values):
        if value is None:
            drawing = False
            continue
        y = f"{HEIGHT - value * scale:.2f}"
        path.append(f"{'L' if drawing else 'M'}{index * width:.2f} {y}H{(index + 1) * width:.2f}")
        drawing = True
    return "".join(path)


def _line(kind: str, values: Sequence[float | int | None], width: float, peak: float) -> str:
    """A series drawn as a line over the bars (the pointer goes through it, to the bars)."""
    return (f'<path d="{_step(values, width, TOP / peak)}" class="line {kind}"'
            ' vector-effect="non-scaling-stroke"></path>')


def buckets_svg(chart: Buckets, links: Sequence[str]) -> bytes:
    """
    Draw a history view's buckets: a bar each (humans below, crawlers above), each a link to
    its own window, and the visitors' and the response time's lines.

    Written as text (each value escaped) rather than as tags: flattening a tag costs some
    10 µs, and a chart of 180 minutes has a thousand of them (40 ms of the reactor's time).

    @param links: the URL of the view of each bucket (clicking a bar narrows the view to it,
        with no script; the table beside it links the same).
    """
    peak = max(chart.hits, default=0) or 1
    width = WIDTH / max(len(chart.hits), 1)
    label = escape(chart.summary())
    parts = [f'<svg id="buckets" viewBox="0 0 {WIDTH} {HEIGHT}" preserveAspectRatio="none"'
             f' role="img" aria-label="{label}" class="plot"><title>{label}</title>']
    for index, count in enumerate(chart.hits):
        x, bar = f"{index * width:.2f}", f"{max(width - 1, 0.5):.2f}"
        height = round(count * TOP / peak)
        parts.append(f'<a href="{escape(links[index])}" tabindex="-1">'
                     f"<title>{escape(chart.words(index))}</title>")
        if chart.crawlers is not None:
            humans = round(max(count - chart.crawlers[index], 0) * TOP / peak)
            parts.append(f'<rect x="{x}" y="{HEIGHT - height}" width="{bar}"'
                         f' height="{height - humans}" class="bar crawlers"></rect>')
            height = humans
        parts.append(f'<rect x="{x}" y="{HEIGHT - height}" width="{bar}" height="{height}"'
                     ' class="bar humans"></rect></a>')
    if chart.visitors is not None:
        parts.append(_line("visitors", chart.visitors, width, peak))
    if chart.p95 is not None:
        parts.append(_line("latency", chart.p95, width, _peak(chart.p95)))
    parts.append("</svg>")
    return "".join(parts).encode()


def _legend(chart: Buckets) -> str:
    """What each colour of the chart is."""
    keys = [("humans", "hits" if chart.crawlers is None else "hits by humans")]
    if chart.crawlers is not None:
        keys.append(("crawlers", "hits by crawlers"))
    if chart.visitors is not None:
        keys.append(("visitors", "visitors (line)"))
    if chart.p95 is not None:
        keys.append(("latency", "p95 response time (line, right scale)"))
    return ('<ul class="legend">' + "".join(f'<li><span class="swatch {kind}"></span> {text}</li>'
                                            for kind, text in keys) + "</ul>")


def _cell(value: float | None) -> str:
    """A number of the chart's table as it shows."""
    return "-" if value is None else f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"


def _table(chart: Buckets, links: Sequence[str]) -> bytes:
    """The chart's numbers, a row per bucket, each time a link to its bucket's window (as
    text, as L{buckets_svg} is)."""
    named = [(name, series) for name, series in (
        ("Crawlers", chart.crawlers), ("Visitors", chart.visitors), ("Bytes", chart.bytes),
        ("p95 ms", chart.p95)) if series is not None]
    more = (f" (the first {TABLE_MOST} of {len(chart.starts):,}: the CSV has them all)"
            if len(chart.starts) > TABLE_MOST else "")
    unit = escape(chart.unit)
    monday = ", from each Monday" if chart.unit == "week" else ""
    parts = [f'<table class="numbers"><caption>Per {unit}{monday}, UTC{more}</caption>'
             "<thead><tr>"
             f'<th scope="col">{unit.capitalize()} (UTC)</th><th scope="col">Hits</th>',
             *(f'<th scope="col">{escape(name)}</th>' for name, _ in named),
             "</tr></thead><tbody>"]
    for index, start in enumerate(chart.starts[:TABLE_MOST]):
        parts.append(f'<tr><th scope="row"><a href="{escape(links[index])}">'
                     f"{start.strftime(chart.shown)}</a></th><td>{chart.hits[index]:,}</td>")
        parts += (f"<td>{_cell(series[index])}</td>" for _, series in named)
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts).encode()


def buckets_chart(chart: Buckets, link: Callable[[datetime], str], csv: str) -> bytes:
    """
    The history view's chart: its legend, its scales, its plot (L{buckets_svg}), its time
    axis, and its numbers (a table to unfold, and C{csv}, the URL of the chart's CSV), written
    as text as the plot is.

    @param link: the URL of the view of the bucket starting at a moment.
    """
    links = [link(start) for start in chart.starts]
    peak = max(chart.hits, default=0)
    scales = (f'<span class="scale-left">{peak:,} hits per {escape(chart.unit)}</span>'
              if chart.starts else '<span class="scale-left">no hits</span>')
    if chart.p95 is not None:
        scales += f'<span class="scale-right">p95 {_peak(chart.p95):,.1f} ms</span>'
    first = chart.starts[0].strftime(chart.shown) if chart.starts else ""
    last = f"{chart.starts[-1].strftime(chart.shown)} UTC" if chart.starts else ""
    return b"".join([
        f'<div class="chart-figure">{_legend(chart)}<div class="axis-y">{scales}</div>'
        '<div class="chart-box">'.encode(), buckets_svg(chart, links),
        f'</div><div class="axis-x"><span>{first}</span><span>{last}</span></div>'
        '<details><summary>The numbers</summary><div class="scroll">'.encode(),
        _table(chart, links),
        f'</div></details><p class="panel-foot"><a href="{escape(csv)}">The chart as CSV</a>'
        "</p></div>".encode()])

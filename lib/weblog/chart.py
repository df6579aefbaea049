# -*- test-case-name: tests.test_chart -*-
"""The charts: hits per minute (live) and per bucket (history), inline SVG from the server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from twisted.web.template import Tag

__all__ = ["HEIGHT", "WIDTH", "buckets_svg", "per_minute_svg"]

WIDTH = 600
HEIGHT = 120
BAR = WIDTH // 60


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
        height = round(count * (HEIGHT - 10) / peak)
        label = f"{start:%Y-%m-%d %H:%M} UTC: {count} hits" if start is not None else "no data"
        bars.append(Tag("rect", attributes={
            "x": str(index * BAR), "y": str(HEIGHT - height), "width": str(BAR - 1),
            "height": str(height), "class": "bar",
        })(Tag("title")(label)))
    first = f"{per_minute[0][0]:%H:%M}" if per_minute else ""
    last = f"{per_minute[-1][0]:%H:%M} UTC" if per_minute else ""
    return Tag("svg", attributes={
        "id": "per-minute", "viewBox": f"0 0 {WIDTH} {HEIGHT + 14}", "role": "img",
        "aria-label": f"hits per minute, peak {peak if per_minute else 0}",
        "data-peak": str(peak), "data-height": str(HEIGHT),
    })(
        *bars,
        Tag("text", attributes={"x": "0", "y": str(HEIGHT + 12), "class": "axis",
                                "id": "per-minute-first"})(first),
        Tag("text", attributes={"x": str(WIDTH), "y": str(HEIGHT + 12), "class": "axis",
                                "text-anchor": "end", "id": "per-minute-last"})(last),
    )


def buckets_svg(unit: str, counts: list[tuple[datetime, int]], link: Callable[[datetime], str]
                ) -> Tag:
    """
    Draw a history view's hits per bucket, one bar each, each a link to its own window.

    @param unit: the buckets' unit: C{minute}, C{hour} or C{day}.
    @param counts: (bucket start in UTC, hits), oldest first, as the history answers them.
    @param link: the URL of the view of the bucket starting at a moment (clicking a bar
        narrows the view to it, with no script).
    """
    peak = max((count for _, count in counts), default=0) or 1
    width = WIDTH / max(len(counts), 1)
    shown = "%Y-%m-%d %H:%M" if unit != "day" else "%Y-%m-%d"
    bars = []
    for index, (start, count) in enumerate(counts):
        height = round(count * (HEIGHT - 10) / peak)
        bars.append(Tag("a", attributes={"href": link(start)})(Tag("rect", attributes={
            "x": f"{index * width:.2f}", "y": str(HEIGHT - height),
            "width": f"{max(width - 1, 0.5):.2f}", "height": str(height), "class": "bar",
        })(Tag("title")(f"{start.strftime(shown)} UTC: {count} hits"))))
    first = f"{counts[0][0].strftime(shown)}" if counts else ""
    last = f"{counts[-1][0].strftime(shown)} UTC" if counts else ""
    scale = f"{peak:,} hits per {unit} at the top" if counts else ""
    return Tag("svg", attributes={
        "id": "buckets", "viewBox": f"0 0 {WIDTH} {HEIGHT + 14}", "role": "img",
        "aria-label": f"hits per {unit}, peak {peak if counts else 0}",
    })(
        *bars,
        Tag("text", attributes={"x": "2", "y": "8", "class": "axis"})(scale),
        Tag("text", attributes={"x": "0", "y": str(HEIGHT + 12), "class": "axis"})(first),
        Tag("text", attributes={"x": str(WIDTH), "y": str(HEIGHT + 12), "class": "axis",
                                "text-anchor": "end"})(last),
    )

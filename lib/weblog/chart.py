# -*- test-case-name: tests.test_chart -*-
"""The hits-per-minute chart: an inline SVG rendered by the server, no chart library."""

from __future__ import annotations

from datetime import datetime

from twisted.web.template import Tag

__all__ = ["HEIGHT", "WIDTH", "per_minute_svg"]

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

# -*- test-case-name: tests.test_chart -*-
"""Tests for L{weblog.chart}: the hits-per-minute chart as an inline SVG."""

from __future__ import annotations

from datetime import datetime, timedelta
from xml.etree import ElementTree

from twisted.trial import unittest
from twisted.web.template import flattenString
from weblog.aggregates import Aggregates
from weblog.chart import HEIGHT, buckets_svg, per_minute_svg

from tests.test_aggregates import NEWEST, at, window


class ChartTests(unittest.TestCase):
    """chart.per_minute_svg: 60 bars scaled to the peak minute, each with a tooltip."""

    def render(self, per_minute: list[tuple[datetime, int]]) -> tuple[bytes, ElementTree.Element]:
        """Flatten the chart for C{per_minute}; return its bytes and parsed element."""
        svg = self.successResultOf(flattenString(None, per_minute_svg(per_minute)))
        return svg, ElementTree.fromstring(svg)

    def bars(self, svg: ElementTree.Element) -> list[tuple[int, int, str]]:
        """Each bar's height, y and tooltip text."""
        return [
            (int(rect.get("height", "")), int(rect.get("y", "")), rect.findtext("title", ""))
            for rect in svg.iter("rect")
        ]

    def test_bars(self) -> None:
        """Sixty rects; the peak minute is HEIGHT-10 tall, others in proportion, zero is 0."""
        aggregates = Aggregates()
        aggregates.count([at(NEWEST)] * 3 + [at(NEWEST - timedelta(minutes=1))] * 6
                       + [at(NEWEST - timedelta(minutes=3))])
        raw, svg = self.render(aggregates.per_minute())
        self.assertEqual(raw.count(b"<rect"), 60)
        bars = self.bars(svg)
        self.assertEqual(len(bars), 60)
        self.assertEqual(bars[58], (HEIGHT - 10, 10, "2015-05-17 10:04 UTC: 6 hits"))
        self.assertEqual(bars[59], (55, HEIGHT - 55, "2015-05-17 10:05 UTC: 3 hits"))
        self.assertEqual(bars[56], (18, HEIGHT - 18, "2015-05-17 10:02 UTC: 1 hits"))
        self.assertEqual(bars[57], (0, HEIGHT, "2015-05-17 10:03 UTC: 0 hits"))
        self.assertEqual(bars[0], (0, HEIGHT, "2015-05-17 09:06 UTC: 0 hits"))
        self.assertEqual(max(height for height, _, _ in bars), HEIGHT - 10)

    def test_positions(self) -> None:
        """Bars are laid out left to right, oldest first, one per minute."""
        aggregates = Aggregates()
        aggregates.count([at(NEWEST)])
        _, svg = self.render(aggregates.per_minute())
        xs = [int(rect.get("x", "")) for rect in svg.iter("rect")]
        self.assertEqual(xs, [index * 10 for index in range(60)])
        self.assertEqual(svg.get("data-peak"), "1")

    def test_titles(self) -> None:
        """Every bar's tooltip names its UTC minute and its hits."""
        aggregates = Aggregates()
        aggregates.count([at(NEWEST)])
        _, svg = self.render(aggregates.per_minute())
        titles = [title for _, _, title in self.bars(svg)]
        self.assertEqual(titles, [
            f"{start:%Y-%m-%d %H:%M} UTC: {count} hits"
            for start, count in window({NEWEST: 1})
        ])

    def test_empty(self) -> None:
        """No minutes render 60 zero-height bars without crashing."""
        raw, svg = self.render([])
        self.assertEqual(raw.count(b"<rect"), 60)
        self.assertEqual(self.bars(svg), [(0, HEIGHT, "no data")] * 60)

    def test_all_zero(self) -> None:
        """Sixty minutes of no hits render 60 zero-height bars, not a division by zero."""
        _, svg = self.render(window({}))
        self.assertEqual([height for height, _, _ in self.bars(svg)], [0] * 60)


class BucketsTests(unittest.TestCase):
    """chart.buckets_svg: a history view's buckets, each bar a link, with labelled axes."""

    def test_axes(self) -> None:
        """The time axis says the first and last bucket; the other says what the top is."""
        counts = [(NEWEST, 4), (NEWEST + timedelta(hours=1), 1200)]
        chart = buckets_svg("hour", counts, lambda start: f"?from={start:%H}")
        svg = ElementTree.fromstring(self.successResultOf(flattenString(None, chart)))
        labels = [text.text for text in svg.iter("text")]
        self.assertEqual(labels, ["1,200 hits per hour at the top", "2015-05-17 10:05",
                                  "2015-05-17 11:05 UTC"])
        self.assertEqual([link.get("href") for link in svg.iter("a")], ["?from=10", "?from=11"])
        heights = [int(rect.get("height", "")) for rect in svg.iter("rect")]
        self.assertEqual(heights, [round(4 * (HEIGHT - 10) / 1200), HEIGHT - 10])

# -*- test-case-name: tests.test_chart -*-
"""Tests for L{weblog.chart}: the hits-per-minute chart as an inline SVG."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

from twisted.trial import unittest
from twisted.web.template import flattenString
from weblog.aggregates import Aggregates
from weblog.chart import (
    HEIGHT,
    TABLE_MOST,
    TOP,
    Buckets,
    buckets_chart,
    buckets_svg,
    per_minute_svg,
)

from tests.test_aggregates import NEWEST, at, window

SVG = ""
"""The namespace of the SVG elements as parsed (none: the page is HTML, the SVG inline)."""


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
        self.assertEqual(bars[58], (TOP, HEIGHT - TOP, "2015-05-17 10:04 UTC: 6 hits"))
        self.assertEqual(bars[59], (55, HEIGHT - 55, "2015-05-17 10:05 UTC: 3 hits"))
        self.assertEqual(bars[56], (18, HEIGHT - 18, "2015-05-17 10:02 UTC: 1 hits"))
        self.assertEqual(bars[57], (0, HEIGHT, "2015-05-17 10:03 UTC: 0 hits"))
        self.assertEqual(bars[0], (0, HEIGHT, "2015-05-17 09:06 UTC: 0 hits"))
        self.assertEqual(max(height for height, _, _ in bars), TOP)

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
    """chart.buckets_svg and buckets_chart: a history view's buckets, each bar a link."""

    def chart(self, **series: list[Any]) -> Buckets:
        """Two hourly buckets (4 and 1,200 hits), with the optional C{series} given."""
        return Buckets.of({"unit": "hour", "counts": [[NEWEST.isoformat(), 4], [
            (NEWEST + timedelta(hours=1)).isoformat(), 1200]], **series})

    def svg(self, chart: Buckets) -> ElementTree.Element:
        """The chart's SVG, parsed."""
        return ElementTree.fromstring(buckets_svg(chart, [f"?from={start:%H}"
                                                          for start in chart.starts]))

    def test_bars(self) -> None:
        """One link per bucket to its window; bars scaled to the peak; a text alternative."""
        svg = self.svg(self.chart())
        self.assertEqual([link.get("href") for link in svg.iter(f"{SVG}a")],
                         ["?from=10", "?from=11"])
        heights = [int(rect.get("height", "")) for rect in svg.iter(f"{SVG}rect")]
        self.assertEqual(heights, [round(4 * TOP / 1200), TOP])
        self.assertEqual(svg.get("role"), "img")
        self.assertEqual(svg.get("aria-label"), svg.findtext(f"{SVG}title"))
        self.assertEqual(svg.get("aria-label"), "hits per hour from 2015-05-17 10:05 to "
                         "2015-05-17 11:05 UTC: 1,204 hits; the most, 1,200, at 2015-05-17 11:05")
        self.assertEqual([path for path in svg.iter(f"{SVG}path")], [])

    def test_stacked(self) -> None:
        """With crawlers counted, each bar is humans below and crawlers above, adding up."""
        svg = self.svg(self.chart(crawlers=[1, 600]))
        bars = [[(rect.get("class"), int(rect.get("y", "")), int(rect.get("height", "")))
                 for rect in link.iter(f"{SVG}rect")] for link in svg.iter(f"{SVG}a")]
        self.assertEqual(bars[1], [("bar crawlers", HEIGHT - TOP, TOP // 2),
                                   ("bar humans", HEIGHT - TOP // 2, TOP // 2)])
        self.assertEqual(bars[0][1][0], "bar humans")
        self.assertEqual(sum(height for _, _, height in bars[0]), round(4 * TOP / 1200))
        titles = [link.findtext(f"{SVG}title") for link in svg.iter(f"{SVG}a")]
        self.assertEqual(titles[1], "2015-05-17 11:05 UTC: 1,200 hits (600 by crawlers)")

    def test_lines(self) -> None:
        """Visitors on the hits' scale and p95 on its own, a step per bucket, broken at null."""
        svg = self.svg(self.chart(visitors=[2, 600], p95_ms=[None, 250.0]))
        paths = {path.get("class"): path.get("d") for path in svg.iter(f"{SVG}path")}
        self.assertEqual(paths["line visitors"],
                         f"M0.00 {HEIGHT - 2 * TOP / 1200:.2f}H300.00"
                         f"L300.00 {HEIGHT - TOP / 2:.2f}H600.00")
        self.assertEqual(paths["line latency"], f"M300.00 {HEIGHT - TOP:.2f}H600.00")
        self.assertIn("; up to 600 visitors per hour; p95 response time up to 250.0 ms",
                      svg.get("aria-label", ""))

    def test_seriesNotParallelLeftOut(self) -> None:
        """A series whose length is not the counts' is not drawn (nor is p95 with no times)."""
        chart = self.chart(visitors=[1], crawlers=[0, 0, 0], p95_ms=[None, None])
        self.assertEqual((chart.visitors, chart.crawlers, chart.p95), (None, None, None))

    def test_figure(self) -> None:
        """The figure has a legend per series, both scales, the numbers as a table whose
        times link to their buckets, and the CSV link."""
        page = buckets_chart(self.chart(crawlers=[0, 3], visitors=[1, 2], bytes=[10, 20],
                                        p95_ms=[None, 12.34]),
                             lambda start: f"?from={start:%H}",
                             "/weblog.rpy/csv?panel=chart").decode()
        self.assertEqual(re.findall(r'<span class="swatch ([a-z]+)"></span> ([^<]+)</li>', page),
                         [("humans", "hits by humans"), ("crawlers", "hits by crawlers"),
                          ("visitors", "visitors (line)"),
                          ("latency", "p95 response time (line, right scale)")])
        self.assertIn('<span class="scale-left">1,200 hits per hour</span>'
                      '<span class="scale-right">p95 12.3 ms</span>', page)
        self.assertIn('<th scope="col">Hour (UTC)</th><th scope="col">Hits</th><th scope="col">'
                      'Crawlers</th><th scope="col">Visitors</th><th scope="col">Bytes</th>'
                      '<th scope="col">p95 ms</th>', page)
        self.assertIn('<tr><th scope="row"><a href="?from=11">2015-05-17 11:05</a></th><td>1,200'
                      '</td><td>3</td><td>2</td><td>20</td><td>12.3</td></tr>', page)
        self.assertIn('<td>-</td></tr>', page)  # the bucket with no times
        self.assertIn('<a href="/weblog.rpy/csv?panel=chart">The chart as CSV</a>', page)

    def test_tableBounded(self) -> None:
        """A chart of more buckets than TABLE_MOST lists the first ones and says so."""
        start = datetime(2015, 1, 1, tzinfo=UTC)
        chart = Buckets.of({"unit": "day", "counts": [
            [(start + timedelta(days=day)).isoformat(), 1] for day in range(TABLE_MOST + 5)]})
        page = buckets_chart(chart, lambda start: "?", "?csv").decode()
        self.assertEqual(page.count('<th scope="row">'), TABLE_MOST)
        self.assertIn(f"(the first {TABLE_MOST} of {TABLE_MOST + 5}: the CSV has them all)", page)

    def test_weeks(self) -> None:
        """A week is told by its Monday: "week of" in its bar's words, and the table says
        that each week starts on one."""
        monday = datetime(2015, 5, 18, tzinfo=UTC)
        chart = Buckets.of({"unit": "week", "counts": [[monday.isoformat(), 7]]})
        self.assertEqual(chart.words(0), "week of 2015-05-18 UTC: 7 hits")
        self.assertIn("<caption>Per week, from each Monday, UTC</caption>",
                      buckets_chart(chart, lambda start: "?", "?csv").decode())
        day = Buckets.of({"unit": "day", "counts": [[monday.isoformat(), 7]]})
        self.assertEqual(day.words(0), "2015-05-18 UTC: 7 hits")

    def test_escaped(self) -> None:
        """The chart, written as text, escapes what it is given: it parses as XML, and each
        link reads back as it was."""
        hostile = '?a="><script>&amp;</script>'
        page = buckets_chart(self.chart(visitors=[1, 2]), lambda start: hostile,
                             hostile).decode()
        figure = ElementTree.fromstring(page.replace(' preserveAspectRatio="none"', ""))
        links = [link.get("href") for link in figure.iter("a")]
        self.assertEqual(links, [hostile] * 5)  # two bars, two rows of the table, the CSV
        self.assertNotIn("<script>", page)

    def test_empty(self) -> None:
        """A view with no buckets draws no bar and says so."""
        chart = Buckets.of({"unit": "day", "counts": []})
        self.assertEqual(self.svg(chart).get("aria-label"), "hits per day: no hits in this view")

# -*- test-case-name: tests.test_panelviews -*-
"""Tests for L{weblog.panelviews} and L{weblog.countries}: the history page's new panels."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from twisted.trial import unittest
from twisted.web.template import flattenString, tags
from weblog.countrynames import NAMES, country_name
from weblog.panelviews import LONGEST, PANEL_TITLES, panel_sections, shortened, visitors_words
from weblog.question import Question
from weblog.selection import Selection
from weblog.viewlinks import ViewLinks

XSS = "<script>alert(1)</script>"
LONG = "/" + "x" * 200
PANELS_ANSWER: dict[str, Any] = {
    "visitors": 1234,
    "not_found": [{"resource": f"/gone{XSS}", "hits": 7, "referrers": [
        [f"http://old.example/{XSS}", 5], ["http://other.example/", 2]]},
        {"resource": "/lost", "hits": 1, "referrers": []}],
    "server_errors": [{"resource": "/cgi", "hits": 3, "referrers": [["http://a.example/", 3]]}],
    "browsers": [["Chrome", 50], [f"Evil{XSS}", 2]],
    "systems": [["Windows", 30], ["iOS", 20]],
    "devices": [["desktop", 40], ["mobile", 12]],
    "crawlers": {"hits": 77, "top": [["Googlebot", 60], ["bingbot", 17]]},
    "countries": [["DE", 20], ["private", 9], ["unknown", 4], ["ZZ", 1]],
    "bandwidth": {"bytes": 123_456_789, "resources": [[LONG, 100_000_000], ["/b", 2_048]]},
    "response_times": {"hits": 90, "p50": 12.3, "p95": 250.0, "p99": 1200.5, "resources": [
        {"resource": "/slow", "hits": 10, "p50": 800.0, "p95": 1500.0, "p99": 2000.1}]},
    "vhosts": [["a.example", 10], ["b.example", 5]],
    "sources": [["/var/log/access.log", 15]],
}
"""The answer's new keys, shaped as /work/panels-plan.md says (the queries fill them)."""


def flattened(*roots: Any) -> str:
    """The HTML of C{roots}."""
    return unittest.TestCase().successResultOf(flattenString(None, tags.div(*roots))).decode()


class PanelSectionsTests(unittest.TestCase):
    """panel_sections: a section per new key of the answer, each entry a drill-down link."""

    def render(self, answer: dict[str, Any] = PANELS_ANSWER, query: str = "range=7d") -> str:
        """The panels of C{answer}, for the view of C{query}."""
        pairs = dict(parse_qsl(query))
        links = ViewLinks("/weblog.rpy", Selection(), Question(range=pairs.get("range")),
                          ())
        return flattened(*panel_sections(links, answer))

    def links(self, page: str) -> dict[str, dict[str, str]]:
        """Every link's text (tags left out) and its query."""
        return {html.unescape(re.sub("<[^>]*>", "", text)): dict(parse_qsl(urlsplit(
            html.unescape(href)).query)) for href, text in re.findall(
                r'<a href="([^"]*)"[^>]*>(.*?)</a>', page)}

    def test_everyPanel(self) -> None:
        """Each key has its section and heading, in order; sources (one entry) has none."""
        page = self.render()
        self.assertEqual(re.findall(r'<section class="panel" id="panel-([a-z_]+)"><h2>([^<]*)',
                                    page),
                         [(name, title) for name, title in PANEL_TITLES.items()
                          if name != "sources"])

    def test_drillDown(self) -> None:
        """Each entry links to its view, as the plan says, the view's range kept."""
        links = self.links(self.render())
        expected = {
            f"/gone{XSS}": {"resource": f"/gone{XSS}", "status": "4xx"},  # 404s and 410s
            f"http://old.example/{XSS}": {"ref": f"http://old.example/{XSS}"},
            "/cgi": {"resource": "/cgi", "status": "5xx"},
            "Chrome": {"browser": "Chrome"}, "iOS": {"system": "iOS"},
            "mobile": {"device": "mobile"}, "Googlebot": {"bots": "only", "browser": "Googlebot"},
            "77 hits by crawlers": {"bots": "only"},
            "Germany (DE)": {"country": "DE"}, "private or reserved addresses":
                {"country": "private"}, "ZZ": {"country": "ZZ"},
            "/b": {"resource": "/b"}, "/slow": {"resource": "/slow"},
            "b.example": {"vhost": "b.example"},
        }
        for text, query in expected.items():
            self.assertEqual(links[text], {"range": "7d", **query}, text)

    def test_escaped(self) -> None:
        """What the log says shows as text, never as markup, in the text and the links."""
        page = self.render()
        self.assertNotIn(XSS, page)
        self.assertIn("Evil&lt;script&gt;", page)

    def test_longKeyCut(self) -> None:
        """A key longer than LONGEST is cut, whole in the link's title; its link is whole."""
        page = self.render()
        shown, title = shortened(LONG)
        self.assertEqual((len(shown), shown[-1], title), (LONGEST, "\u2026", {"title": LONG}))
        self.assertIn(f'title="{LONG}">{shown}</a>', page)
        self.assertEqual(self.links(page)[shown]["resource"], LONG)

    def test_referrersUnderTheirResource(self) -> None:
        """A broken link's referrers are listed under it; one with none says so."""
        page = self.render()
        [first] = re.findall(r'<li><span class="count">7</span>.*?</ul></li>', page)
        self.assertEqual(re.findall(r'<span class="count">(\d+)</span>', first), ["7", "5", "2"])
        self.assertIn('<a href="/weblog.rpy?range=7d&amp;resource=%2Flost&amp;status=4xx">/lost'
                      '</a></span><span class="none"> (no referrer)</span>', page)

    def test_numbers(self) -> None:
        """Bandwidth in human units (exact in a title); response times as a table of ms."""
        page = self.render()
        self.assertIn('<p class="total" title="123,456,789 bytes">123.5 MB sent</p>', page)
        self.assertIn('<span class="count">100.0 MB</span>', page)
        self.assertIn('<tr class="all"><th scope="row">(all)</th><td>90</td><td>12.3</td>'
                      "<td>250.0</td><td>1,200.5</td></tr>", page)
        self.assertIn('<th scope="col">p99 ms</th>', page)
        self.assertIn("<caption>", page)

    def test_noResponseTimes(self) -> None:
        """A view without times says that none of its hits has one, and where to give them."""
        page = self.render({"response_times": None})
        self.assertIn("No hit of this view has a response time. A log has them when its format "
                      "does: see <code>WEBLOG_FORMAT</code>", page)

    def test_missingKeysNoPanel(self) -> None:
        """An answer without the new keys (a history that does not count them) shows none;
        empty lists say so; vhosts with one entry is not shown."""
        self.assertEqual(self.render({}), "<div></div>")
        page = self.render({"browsers": [], "not_found": [], "vhosts": [["a", 1]]})
        self.assertEqual(page.count("None in this view."), 2)
        self.assertNotIn("panel-vhosts", page)

    def test_csvLinks(self) -> None:
        """Each panel links to its CSV, named for screen readers, with the view's parameters."""
        page = self.render()
        self.assertIn('<a href="/weblog.rpy/csv?panel=browsers&amp;range=7d" class="csv" '
                      'aria-label="Browsers as CSV">CSV</a>', page)


class WordsTests(unittest.TestCase):
    """visitors_words and country_name."""

    def test_visitors(self) -> None:
        """The visitors beside the hits, when the answer counts them."""
        self.assertEqual(visitors_words({"total": 4012, "visitors": 1234}),
                         "4,012 hits from 1,234 visitors (approx.)")
        self.assertEqual(visitors_words({"total": 4012}), "4,012 hits")

    def test_countries(self) -> None:
        """Every ISO code of the table has a name; the column's special values too."""
        self.assertEqual(len(NAMES), 249)
        self.assertEqual((country_name("DE"), country_name("CI"), country_name("private"),
                          country_name("XX")),
                         ("Germany", "Côte d'Ivoire", "private or reserved addresses", None))

# -*- test-case-name: tests.test_panels -*-
"""Tests for L{weblog.panels}: the top lists declared, each with its key and what it shows."""

from __future__ import annotations

from twisted.trial import unittest
from weblog.aggregates import Aggregates
from weblog.parsing import read_line, referrer_of
from weblog.panels import PANELS, Panel, counted_fields, referring_site

from tests.support import written


class PanelsTests(unittest.TestCase):
    """L{PANELS}: the page's top lists, in its order, each counting one field of a line."""

    def panel(self, name: str) -> Panel:
        """The panel named C{name}."""
        [panel] = [panel for panel in PANELS if panel.name == name]
        return panel

    def test_keys(self) -> None:
        """The panels' keys, titles, fields and displays, in the page's order."""
        self.assertEqual(
            [(panel.name, panel.title, panel.field, panel.display, panel.by_key)
             for panel in PANELS],
            [("sites", "Top referring sites", "referrer", "host", False),
             ("referrers", "Top referrers", "referrer", "url", False),
             ("resources", "Top resources", "request", "text", False),
             ("statuses", "Status codes", "status", "text", True)],
        )

    def test_countedFields(self) -> None:
        """The counted fields: the time, the request, then each panel's field once, in order."""
        self.assertEqual(counted_fields(PANELS), ("time", "request", "referrer", "status"))
        agents = Panel("agents", "Top user-agents", "agent", referrer_of)
        self.assertEqual(counted_fields((*PANELS, agents)),
                         ("time", "request", "referrer", "status", "agent"))

    def test_countedFieldUnknown(self) -> None:
        """A panel on a field that a line does not have is refused, naming it."""
        error = self.assertRaises(ValueError, counted_fields,
                                  [Panel("x", "X", "colour", referrer_of)])
        self.assertIn("'colour'", str(error))

    def test_sitesShown(self) -> None:
        """A referrer counts as its host, lower-cased; no referrer, or no host, counts as none."""
        shown = self.panel("sites").shown
        self.assertEqual(shown(b"http://User:pw@Example.COM:8080/x"), "example.com")
        self.assertEqual(shown("http://\\x41.example/"), "a.example")  # escapes undone first
        for nothing in (b"-", "-", b"not a url"):
            self.assertIsNone(shown(nothing), nothing)

    def test_referrersShown(self) -> None:
        """A referrer counts as a hit shows it: escapes undone, visible, none for C{-}."""
        shown = self.panel("referrers").shown
        self.assertEqual(shown(b"http://Example.COM/a\\x22b"), 'http://Example.COM/a"b')
        self.assertEqual(shown("http://x/\\x01"), "http://x/\\x01")
        self.assertIsNone(shown(b"-"))

    def test_resourcesShown(self) -> None:
        """A request counts as the resource it names; a request that is no method line, whole."""
        shown = self.panel("resources").shown
        self.assertEqual(shown(b"GET /a?x=1 HTTP/1.1"), "/a?x=1")
        self.assertEqual(shown("POST /caf\\xc3\\xa9 HTTP/2.0"), "/caf\u00e9")
        self.assertEqual(shown(b"-"), "-")

    def test_statusesShown(self) -> None:
        """A status counts as its text, C{-} included."""
        shown = self.panel("statuses").shown
        self.assertEqual([shown(b"200"), shown("404"), shown(b"-")], ["200", "404", "-"])

    def test_countedByPanel(self) -> None:
        """The aggregates keep one top list per panel, under the panel's key."""
        aggregates = Aggregates()
        aggregates.count([read_line(written())])
        self.assertEqual(list(aggregates.to_json()["top"]),
                         [panel.name for panel in PANELS] + ["approximate"])


class ReferringSiteTests(unittest.TestCase):
    """referring_site: the host a referrer names, whatever text it is given."""

    def test_host_lower_cased(self) -> None:
        """The host is lower-cased, without credentials or port."""
        self.assertEqual(referring_site("http://User:pw@Example.COM:8080/x"), "example.com")

    def test_plain_url(self) -> None:
        """An ordinary referrer URL gives its host."""
        self.assertEqual(referring_site("https://www.example.org/a/b?c=d#e"), "www.example.org")

    def test_scheme_relative(self) -> None:
        """A scheme-relative URL still names its host."""
        self.assertEqual(referring_site("//Example.com/x"), "example.com")

    def test_ipv6_host(self) -> None:
        """A bracketed IPv6 host is given without brackets or port."""
        self.assertEqual(referring_site("http://[2001:DB8::1]:8080/"), "2001:db8::1")

    def test_dash(self) -> None:
        """A dash, as logged for no referrer, names no site."""
        self.assertIsNone(referring_site("-"))

    def test_empty(self) -> None:
        """Empty text names no site."""
        self.assertIsNone(referring_site(""))

    def test_not_a_url(self) -> None:
        """Text that is not a URL names no site."""
        self.assertIsNone(referring_site("not a url"))
        self.assertIsNone(referring_site("example.com/x"))

    def test_app_referrer(self) -> None:
        """An android-app referrer names its package as the host, as urlsplit reads it."""
        self.assertEqual(
            referring_site("android-app://com.google.android.gm/"), "com.google.android.gm"
        )

    def test_malformed_ipv6(self) -> None:
        """A malformed IPv6 URL (urlsplit raises ValueError) names no site."""
        self.assertIsNone(referring_site("http://[::1/"))

    def test_nfkc_netloc(self) -> None:
        """A netloc urlsplit rejects under NFKC normalization names no site."""
        self.assertIsNone(referring_site("http://example.com\uff03@evil.example/"))

    def test_hostile_text(self) -> None:
        """Markup in the host does not crash; it comes back as text, lower-cased."""
        self.assertEqual(referring_site('http://"><script>/'), '"><script>')
        self.assertEqual(referring_site("http://<SCRIPT>x</script>/"), "<script>x<")

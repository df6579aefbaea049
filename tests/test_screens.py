# -*- test-case-name: tests.test_screens -*-
"""
Real-browser screenshot tests: the live page and a history view at 375 and 1400 px wide,
in the light and the dark scheme, each checked for what a reader would see go wrong.

The live page is a real twistd's (L{tests.test_browser.BrowserCase}); the history view
is rendered in-process from an answer with every panel of the plan (L{FULL_ANSWER}) and
served to the browser by a route, with the page's own CSS and script from C{www/}.  The
screenshots are written under the test's temporary directory; with C{WEBLOG_SCREENS} set
to a directory (C{docs/screens} for the README) they are copied there too.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from typing import Any

from persist import Records
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from weblog.resources import WeblogPage

from tests.support import combined
from tests.test_browser import BrowserCase
from tests.test_historypage import FULL_ANSWER
from tests.test_pages import StatedHistory, body_of, get

WWW = FilePath(__file__).parent().sibling("www")
HISTORY_HOST = "http://weblog.test"
"""Where the browser finds the history view rendered in-process (a route, not a server)."""
TYPES = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml"}
README_SHOTS = ("live-375-dark", "history-375-light", "live-1400-light", "history-1400-dark")
"""The screenshots the README shows (docs/screens)."""
WIDTHS = (375, 1400)
SCHEMES = ("light", "dark")
LONG_REFERRER = "http://a-rather-long-host-name.example/" + "path/" * 30 + "?q=" + "x" * 80
"""A referrer longer than a phone is wide, with no space to break at."""


def screen_answer() -> dict[str, Any]:
    """L{FULL_ANSWER} with two days of hourly buckets and a page of hits, for the screenshots
    (the numbers made up, in a daily rhythm)."""
    start = datetime(2015, 5, 18, tzinfo=UTC)
    hours = [start + timedelta(hours=hour) for hour in range(48)]
    hits = [40 + 30 * ((hour % 24) in range(8, 20)) + (hour * 37) % 25 for hour in range(48)]
    crawlers = [8 + (hour * 13) % 9 for hour in range(48)]
    listed = [{**FULL_ANSWER["hits"][0], "resource": resource, "referrer": referrer,
               "time": (hours[-1] - timedelta(minutes=7 * number)).isoformat(),
               "client": f"198.51.100.{10 + number}"}
              for number, (resource, referrer) in enumerate([
                  ("/", "https://www.example.org/search?q=weblog"),
                  ("/blog/twisted-templates", LONG_REFERRER),
                  ("/about", "https://news.example.com/item?id=4012"),
                  ("/feed.xml", None), ("/blog/", "https://www.example.org/")] * 3)]
    return {**FULL_ANSWER, "total": sum(hits), "hits": listed, "window": {
        "from": hours[0].isoformat(), "to": (hours[-1] + timedelta(hours=1)).isoformat()},
        "buckets": {"unit": "hour", "counts": [[hour.isoformat(), count]
                                              for hour, count in zip(hours, hits, strict=True)],
                    "crawlers": crawlers,
                    "visitors": [count // 3 for count in hits],
                    "bytes": [count * 5000 for count in hits],
                    "p95_ms": [None if hour % 11 == 5 else 80 + (hour * 53) % 120
                               for hour in range(48)]}}


def _rgb(colour: str) -> tuple[float, float, float]:
    """A computed CSS colour (C{rgb(r, g, b)}) as three numbers."""
    red, green, blue = (float(part) for part in re.findall(r"[\d.]+", colour)[:3])
    return red, green, blue


def luminance(colour: str) -> float:
    """The relative luminance of a computed CSS colour (WCAG 2)."""
    def linear(channel: float) -> float:
        channel /= 255
        return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4
    red, green, blue = (linear(channel) for channel in _rgb(colour))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    """The WCAG contrast ratio of two computed CSS colours."""
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


class ScreenTests(BrowserCase):
    """Both pages at both widths and in both schemes, in a real Chromium."""

    def setUp(self) -> None:
        super().setUp()
        now = datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
        self.append("".join([
            combined("/blog/a-post-with-a-long-name-about-twisted-web-templates", LONG_REFERRER,
                     agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120"),
            combined("/", "https://www.example.org/search?q=weblog", time=now),
        ]))
        self.shots = FilePath(self.mktemp())
        self.shots.makedirs()
        self.history = self.historyPage()

    def historyPage(self) -> bytes:
        """The page of a history view with every panel, rendered in-process."""
        log = FilePath(self.mktemp())
        log.setContent(combined("/a", "http://x.example/").encode())
        records = Records(log.path, keep=100, clock=Clock())
        self.addCleanup(records.stop)
        records.history = StatedHistory(screen_answer(), state="ok", stored=3)
        request = get(WeblogPage(records), "range=7d&status=all")
        return body_of(request)

    def route(self, route: Any) -> None:
        """Answer the browser's requests to L{HISTORY_HOST}: the page, or a file of www/."""
        path = route.request.url[len(HISTORY_HOST):].split("?")[0]
        if path == "/weblog.rpy":
            route.fulfill(status=200, body=self.history, content_type="text/html; charset=utf-8")
            return
        name = path.lstrip("/")
        child = WWW.child(name) if name and "/" not in name else None
        if child is None or not child.exists():
            route.fulfill(status=404, body=b"not found")
            return
        route.fulfill(status=200, body=child.getContent(),
                      content_type=TYPES.get(name.rsplit(".", 1)[-1], "text/plain"))

    def open(self, which: str, width: int, scheme: str) -> Any:
        """A new page at C{width} px in C{scheme}, showing the live page or the history view."""
        context = self.browser.new_context(viewport={"width": width, "height": 900},
                                           color_scheme=scheme, bypass_csp=True)
        self.addCleanup(context.close)
        page = context.new_page()
        page.on("console", self.consoleMessage)
        if which == "live":
            page.goto(self.server.url("/weblog.rpy?status=all&referrer=any"))
            page.wait_for_function("document.getElementById('live').textContent === 'live'",
                                   timeout=10000)
        else:
            page.route(f"{HISTORY_HOST}/**", self.route)
            page.goto(f"{HISTORY_HOST}/weblog.rpy?range=7d&status=all")
        return page

    def shoot(self, page: Any, name: str) -> None:
        """Save the page's screenshot (its viewport, PNG) and copy it for the README."""
        target = self.shots.child(f"{name}.png")
        page.screenshot(path=target.path)
        self.assertGreater(target.getsize(), 5000)
        wanted = os.environ.get("WEBLOG_SCREENS")
        if wanted and name in README_SHOTS:
            os.makedirs(wanted, exist_ok=True)
            shutil.copyfile(target.path, os.path.join(wanted, f"{name}.png"))

    def colours(self, page: Any) -> dict[str, str]:
        """The computed colours of the page's background, text, links and panels."""
        return dict(page.evaluate("""() => {
            const style = element => getComputedStyle(element);
            const link = document.querySelector("main a[href]");
            return {bg: style(document.body).backgroundColor, fg: style(document.body).color,
                    link: style(link).color,
                    muted: style(document.querySelector("footer.footer")).color};
        }"""))

    def checkLayout(self, page: Any, width: int) -> None:
        """No horizontal scroll of the page; every panel shown with its heading; at 1400 px
        the panels beside the hits, in a grid of two columns or more."""
        scroll = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
        self.assertLessEqual(scroll[0], scroll[1], f"the page scrolls sideways at {width} px")
        panels = page.evaluate("""() => Array.from(
            document.querySelectorAll("#panels > section"), section => {
                const box = section.getBoundingClientRect();
                const heading = section.querySelector(":scope > h2");
                return [section.id || heading.textContent, box.width, box.height,
                        heading ? heading.getBoundingClientRect().height : 0,
                        box.right <= window.innerWidth + 0.5];
            })""")
        self.assertGreaterEqual(len(panels), 5)
        for name, box_width, height, heading, inside in panels:
            self.assertTrue(box_width > 100 and height > 20 and heading > 10 and inside,
                            (name, box_width, height, heading, inside, width))
        columns = page.evaluate("""() => [
            getComputedStyle(document.getElementById("panels")).gridTemplateColumns
                .split(" ").length,
            document.getElementById("hits-section").getBoundingClientRect().right,
            document.getElementById("panels").getBoundingClientRect().left]""")
        if width >= 1400:
            self.assertGreaterEqual(columns[0], 2)
            self.assertLessEqual(columns[1], columns[2])  # side by side
        else:
            self.assertEqual(columns[0], 1)

    def checkFocus(self, page: Any) -> None:
        """Tab reaches a link, which shows an outline of at least 2 px."""
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => {
            const element = document.activeElement, style = getComputedStyle(element);
            return [element.tagName, style.outlineStyle, parseFloat(style.outlineWidth)];
        }""")
        self.assertEqual(focused[0], "A")
        self.assertNotEqual(focused[1], "none")
        self.assertGreaterEqual(focused[2], 2)

    def checkAccessibility(self, page: Any) -> None:
        """In Chromium's accessibility tree: one h1, a heading per panel, a name for every
        link and form control, the chart an image with a name, landmarks present."""
        session = page.context.new_cdp_session(page)
        nodes = session.send("Accessibility.getFullAXTree")["nodes"]
        shown = [node for node in nodes if not node.get("ignored")]

        def role(node: dict[str, Any]) -> str:
            return str(node.get("role", {}).get("value", ""))

        def name(node: dict[str, Any]) -> str:
            return str(node.get("name", {}).get("value", "")).strip()

        def level(node: dict[str, Any]) -> int:
            return next((int(prop["value"]["value"]) for prop in node.get("properties", ())
                         if prop["name"] == "level"), 0)

        nameless = [(role(node), node.get("nodeId")) for node in shown if role(node) in (
            "link", "textbox", "searchbox", "combobox", "spinbutton", "button", "image",
            "heading", "table") and not name(node)]
        self.assertEqual(nameless, [])
        headings = [(level(node), name(node)) for node in shown if role(node) == "heading"]
        self.assertEqual([text for number, text in headings if number == 1], [
            page.text_content("h1")])
        panel_headings = page.eval_on_selector_all("#panels > section > h2",
                                                   "hs => hs.map(h => h.textContent)")
        self.assertEqual([text for number, text in headings if number == 2],
                         ["Hits", *panel_headings])
        roles = {role(node) for node in shown}
        for landmark in ("banner", "main", "contentinfo", "navigation", "form"):
            self.assertIn(landmark, roles)
        charts = [name(node) for node in shown if role(node) == "image"]
        self.assertTrue(charts and charts[0].startswith("hits per"), charts)

    def test_pages(self) -> None:
        """Each page at each width, in each scheme: laid out, coloured, focusable, named."""
        backgrounds: dict[tuple[str, str], str] = {}
        for which in ("live", "history"):
            for width in WIDTHS:
                for scheme in SCHEMES:
                    page = self.open(which, width, scheme)
                    self.checkLayout(page, width)
                    colours = self.colours(page)
                    backgrounds[which, scheme] = colours["bg"]
                    for part in ("fg", "link"):
                        self.assertGreaterEqual(contrast(colours[part], colours["bg"]), 4.5,
                                                (which, scheme, part, colours))
                    self.assertGreaterEqual(contrast(colours["muted"], colours["bg"]), 4.5)
                    if width == WIDTHS[0]:
                        self.checkAccessibility(page)
                    self.shoot(page, f"{which}-{width}-{scheme}")
                    self.checkFocus(page)
        for which in ("live", "history"):
            light, dark = backgrounds[which, "light"], backgrounds[which, "dark"]
            self.assertGreater(luminance(light), 0.8)
            self.assertLess(luminance(dark), 0.05)
        self.assertEqual(self.errors, [])

    def test_ages(self) -> None:
        """A hit of today shows its age (s, min or h ago); one of 2015 shows its date."""
        page = self.open("live", 1400, "light")
        ages = page.eval_on_selector_all("#hits td.time .age", "a => a.map(x => x.textContent)")
        self.assertEqual(len(ages), 3)
        self.assertRegex(ages[0], r"^\d+ (s|min|h) ago$")
        for age in ages[1:]:
            self.assertRegex(age, r"^\d{4}-\d{2}-\d{2}$")
        title = page.get_attribute("#hits tr:first-child time", "title")
        self.assertTrue(title and re.search(r"\d", title), title)


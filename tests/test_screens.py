# -*- test-case-name: tests.test_screens -*-
"""
Real-browser screenshot tests: the live page, a history view and a drill-down view at 375 and
1400 px wide, in the light and the dark scheme, each checked for what a reader would see go
wrong.

Every page is a real twistd's, following two logs of a few days of a small site's traffic
(L{tests.sitelog}, nginx's format with C{$request_time}) whose history it has stored whole
before the browser opens it.  The screenshots are written under the test's temporary
directory; with C{WEBLOG_SCREENS} set to a directory (relative to the repository:
C{docs/screens} for the README) they are copied there too.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from twisted.python.filepath import FilePath
from twisted.trial import unittest

from tests.server import REPO, TwistdServer
from tests.sitelog import site_logs
from tests.support import combined
from tests.test_browser import CHROMIUM, CHROMIUM_FLAGS, BrowserCase, _sync_playwright

README_SHOTS = ("live-375-dark", "history-375-light", "live-1400-light", "history-1400-dark")
"""The screenshots the README shows (docs/screens)."""
WIDTHS = (375, 1400)
SCHEMES = ("light", "dark")
LONG_REFERRER = "http://a-rather-long-host-name.example/" + "path/" * 30 + "?q=" + "x" * 80
"""A referrer longer than a phone is wide, with no space to break at."""
VISITS = 500
"""People's visits in the logs: some 3,300 lines over four days."""
LOGS = "var/www.log:var/blog.log"
"""The two logs, as the server's C{WEBLOG_LOG} names them (short paths: the page shows them)."""
LIVE = "/weblog.rpy?status=all&referrer=any"
HISTORY = "/weblog.rpy?range=all"
DRILLS = {"not_found": "resource", "server_errors": "resource", "browsers": "browser",
          "systems": "system", "devices": "device", "crawlers": "browser",
          "countries": "country", "bandwidth": "resource", "response_times": "resource",
          "sources": "source"}
"""Each panel beyond the four top lists, and the filter a click on one of its entries adds."""
ENTRY_LINKS = "ol > li > .key > a, tbody tr:not(.all) th a"
"""The links of a panel's entries (the response times': its rows but the total)."""


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


class ScreenTests(unittest.TestCase):
    """The pages of a real twistd with a real history, at both widths and in both schemes,
    in a real Chromium."""

    timeout = 240

    def setUp(self) -> None:
        sync_playwright = _sync_playwright()
        self.server = TwistdServer(self, env={"WEBLOG_LOG": LOGS, "WEBLOG_FORMAT": "nginx_timed"})
        logs = site_logs(VISITS, datetime.now(UTC) - timedelta(minutes=2))
        for name, text in logs.items():
            self.server.base.descendant(["var", f"{name}.log"]).setContent(text.encode())
        self.lines = sum(text.count("\n") for text in logs.values())
        self.server.start()
        self.waitStored()
        self.playwright = sync_playwright().start()
        self.addCleanup(self.playwright.stop)
        self.browser = self.playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        self.addCleanup(self.browser.close)
        self.errors: list[str] = []
        self.shots = FilePath(self.mktemp())
        self.shots.makedirs()

    def waitStored(self, most: float = 60.0) -> None:
        """Wait (at most C{most} s) until the history is C{ok} with every line of the logs."""
        deadline = time.monotonic() + most
        while True:
            history = self.server.get_json("/weblog.rpy/json?limit=1")["history"]
            if history["state"] == "ok" and history["stored"] == self.lines:
                return
            if time.monotonic() > deadline:
                self.fail(f"the history is {history} after {most:.0f} s, "
                          f"not ok with {self.lines} lines: {self.server.tail()}")
            time.sleep(0.1)

    def consoleMessage(self, message: Any) -> None:
        """Note errors the page logs."""
        if message.type == "error":
            self.errors.append(message.text)

    def open(self, path: str, width: int, scheme: str) -> Any:
        """A new page at C{width} px in C{scheme}, showing C{path} of the server (the live
        page once its event stream is live)."""
        context = self.browser.new_context(viewport={"width": width, "height": 900},
                                           color_scheme=scheme, bypass_csp=True)
        self.addCleanup(context.close)
        page = context.new_page()
        page.on("console", self.consoleMessage)
        page.goto(self.server.url(path))
        if path == LIVE:
            page.wait_for_function("document.getElementById('live').textContent === 'live'",
                                   timeout=10000)
        return page

    def shoot(self, page: Any, name: str) -> None:
        """Save the page's screenshot (PNG) and copy it for the README: the viewport, or, for a
        history view, the whole page (its every panel) at 1400 px and its panels at 375."""
        target = self.shots.child(f"{name}.png")
        if name.startswith("live"):
            page.screenshot(path=target.path)
        elif name.endswith(("-1400-light", "-1400-dark")):
            page.screenshot(path=target.path, full_page=True)
        else:
            page.locator("#panels").screenshot(path=target.path)
        self.assertGreater(target.getsize(), 5000)
        wanted = os.environ.get("WEBLOG_SCREENS")
        if wanted and name in README_SHOTS:
            folder = os.path.join(REPO, wanted)  # trial runs in _trial_temp: from the repo
            os.makedirs(folder, exist_ok=True)
            shutil.copyfile(target.path, os.path.join(folder, f"{name}.png"))

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

    def total(self, page: Any) -> int:
        """The hits of the view, as its window sentence says them."""
        sentence = page.text_content("#window") or ""
        found = re.search(r"UTC: ([\d,]+) hits", sentence)
        self.assertIsNotNone(found, sentence)
        assert found is not None
        return int(found.group(1).replace(",", ""))

    def drill(self, page: Any, panel: str) -> tuple[str, str]:
        """Click the first entry of C{panel}; the filter and the value its link adds."""
        link = page.locator(f"#panel-{panel}").locator(ENTRY_LINKS).first
        name = DRILLS[panel]
        value = dict(parse_qsl(urlsplit(link.get_attribute("href") or "").query))[name]
        with page.expect_navigation():
            link.click()
        return name, value

    def test_pages(self) -> None:
        """Each page at each width, in each scheme: laid out, coloured, focusable, named; the
        drill-down view the one a click on the history's first country opens."""
        history = self.open(HISTORY, WIDTHS[-1], SCHEMES[0])
        self.drill(history, "countries")
        drilled = urlsplit(history.url)
        paths = {"live": LIVE, "history": HISTORY, "drill": f"{drilled.path}?{drilled.query}"}
        backgrounds: dict[tuple[str, str], str] = {}
        for which, path in paths.items():
            for width in WIDTHS:
                for scheme in SCHEMES:
                    page = self.open(path, width, scheme)
                    self.checkLayout(page, width)
                    colours = self.colours(page)
                    backgrounds[which, scheme] = colours["bg"]
                    for part in ("fg", "link"):
                        self.assertGreaterEqual(contrast(colours[part], colours["bg"]), 4.5,
                                                (which, scheme, part, colours))
                    self.assertGreaterEqual(contrast(colours["muted"], colours["bg"]), 4.5)
                    self.checkAccessibility(page)
                    self.shoot(page, f"{which}-{width}-{scheme}")
                    self.checkFocus(page)
        for which in paths:
            light, dark = backgrounds[which, "light"], backgrounds[which, "dark"]
            self.assertGreater(luminance(light), 0.8)
            self.assertLess(luminance(dark), 0.05)
        self.assertEqual(self.errors, [])

    def test_panels(self) -> None:
        """Each panel beyond the four top lists lists something of the logs; a click on its
        first entry opens the view with that filter (its chip), of fewer hits."""
        page = self.open(HISTORY, WIDTHS[-1], SCHEMES[0])
        everything = self.total(page)
        self.assertEqual(everything, self.lines)
        ages = page.eval_on_selector_all("#hits td.time .age", "a => a.map(x => x.textContent)")
        self.assertTrue(ages, "the history view's hits show no age")  # the script ran there too
        for age in ages:
            self.assertRegex(age, r"^(\d+ (s|min|h) ago|\d{4}-\d{2}-\d{2})$")
        for panel in DRILLS:
            entries = page.locator(f"#panel-{panel}").locator(ENTRY_LINKS).count()
            self.assertGreater(entries, 0, f"the panel {panel} lists nothing")
            self.assertEqual(page.locator(f"#panel-{panel} p.none").count(), 0, panel)
        self.assertGreaterEqual(page.locator("#panel-sources ol > li").count(), 2)
        for panel in DRILLS:
            name, value = self.drill(page, panel)
            chips = page.locator("#chips .chip").all_text_contents()
            self.assertIn(f"{name}: {value} \u2715", chips, (panel, chips))
            self.assertLess(0, self.total(page), (panel, name, value))
            self.assertLess(self.total(page), everything, (panel, name, value))
            page.go_back()
        self.assertEqual(self.errors, [])


class AgeTests(BrowserCase):
    """The ages of the live page's hits."""

    def setUp(self) -> None:
        super().setUp()
        now = datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
        self.append("".join([
            combined("/blog/a-post-with-a-long-name-about-twisted-web-templates", LONG_REFERRER,
                     agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120"),
            combined("/", "https://www.example.org/search?q=weblog", time=now),
        ]))

    def test_ages(self) -> None:
        """A hit of today shows its age (s, min or h ago); one of 2015 shows its date."""
        self.openLive(LIVE)
        ages = self.page.eval_on_selector_all("#hits td.time .age",
                                              "a => a.map(x => x.textContent)")
        self.assertEqual(len(ages), 3)
        self.assertRegex(ages[0], r"^\d+ (s|min|h) ago$")
        for age in ages[1:]:
            self.assertRegex(age, r"^\d{4}-\d{2}-\d{2}$")
        title = self.page.get_attribute("#hits tr:first-child time", "title")
        self.assertTrue(title and re.search(r"\d", title), title)

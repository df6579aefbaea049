# -*- test-case-name: tests.test_browser -*-
"""Real-browser tests: headless Chromium watches /weblog.rpy go live as lines are appended."""

from __future__ import annotations

import os
import shutil
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from twisted.trial import unittest
from weblog.question import RANGES

from weblog.panels import PANELS

from tests.support import TwistdServer, combined
from tests.test_pages import REFERRER_LINKS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PAYLOAD = '"><img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
CRAFTED = "/%5Cevil.example%2F..%2Fweblog.rpy"
"""A path static.File reads as weblog.rpy, whose links were once C{/\\evil.example/...}."""
EVENT_SOURCE_SPY = """
window.eventSourceURLs = [];
window.EventSource = class extends window.EventSource {
  constructor(url, options) { super(url, options); window.eventSourceURLs.push(this.url); }
};
"""
"""Run before the page's script: notes the URL of every EventSource it opens."""


def _sync_playwright() -> Any:
    """Playwright's sync API, or skip (never in CI) when it or Chromium is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None  # type: ignore[assignment]
    if CHROMIUM is None or sync_playwright is None:
        reason = "headless Chromium tests need Debian's chromium and the playwright package"
        if os.environ.get("CI"):
            raise AssertionError(f"{reason}; CI must install them (.ci/run does)")
        raise unittest.SkipTest(reason)
    return sync_playwright


class BrowserCase(unittest.TestCase):
    """A real browser on the pages of a real twistd in another process, watching its log."""

    def setUp(self) -> None:
        sync_playwright = _sync_playwright()
        self.server = TwistdServer(self, env={"WEBLOG_LOG": "var/watched.log"})
        self.log = self.server.base.descendant(["var", "watched.log"])
        self.log.setContent(combined("/before", "http://earlier.example/").encode())
        self.server.start()
        self.playwright = sync_playwright().start()
        self.addCleanup(self.playwright.stop)
        self.browser = self.playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        self.addCleanup(self.browser.close)
        # CSP off in the test browser, so that escaping alone is shown to keep payloads inert
        # (the pages also send a script-src 'self' policy: test_pages checks that header).
        self.context = self.browser.new_context(bypass_csp=True)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.page.on("dialog", self.dialogOpened)
        self.errors: list[str] = []
        self.page.on("console", self.consoleMessage)

    def dialogOpened(self, dialog: Any) -> None:
        """Note and dismiss an alert: a payload that ran would open one."""
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def consoleMessage(self, message: Any) -> None:
        """Note errors the page logs."""
        if message.type == "error":
            self.errors.append(message.text)

    def append(self, line: str) -> None:
        """Append a line to the watched log, as a web server would."""
        with open(self.log.path, "a", encoding="utf-8") as log:
            log.write(line)

    def openLive(self, path: str = "/weblog.rpy") -> None:
        """Open the page and wait until its event stream is live."""
        self.page.goto(self.server.url(path))
        self.page.wait_for_function(
            "document.getElementById('live').textContent === 'live'", timeout=10000
        )
        self.page.evaluate("window.notReloaded = true")

    def resources(self) -> list[str]:
        """The resource column, top to bottom."""
        return list(self.page.eval_on_selector_all(
            "#hits td.resource", "cells => cells.map(cell => cell.textContent)"
        ))

    def referrerCells(self) -> list[tuple[str, str | None]]:
        """The referrer column, top to bottom: (its text, the href of its link or None)."""
        cells = self.page.eval_on_selector_all("#hits td.referrer", """cells => cells.map(cell => {
            const link = cell.querySelector("a");
            return [cell.textContent, link ? link.getAttribute("href") : null];
        })""")
        return [(text, href) for text, href in cells]

    def topKeys(self) -> list[list[str]]:
        """The keys of every top list, as the page shows them (each a panel's)."""
        return [self.page.eval_on_selector_all(f"#top-{panel.name} .key",
                                               "keys => keys.map(key => key.textContent)")
                for panel in PANELS]

    def topLinks(self) -> list[Any]:
        """
        Every entry of every top list: its key's text and, when it is a link, the host and
        path it opens and its query's parameters (decoded: the script and the server may
        percent-encode a character differently).
        """
        return list(self.page.evaluate("""() => Array.from(
            document.querySelectorAll("#panels ol"), list => Array.from(
                list.querySelectorAll("li .key"), key => {
                    const link = key.querySelector("a");
                    if (!link) { return [key.textContent, null]; }
                    const url = new URL(link.href);
                    return [key.textContent, url.host + url.pathname,
                            Array.from(url.searchParams.entries())];
                }))
        """))

    def rowShapes(self) -> list[Any]:
        """
        Every row of the table as the browser holds it: its class, and each cell's class, text
        (the age the script adds left out) and elements with their attributes.
        """
        return list(self.page.evaluate("""() => Array.from(
            document.querySelectorAll("#hits tr"), row => [row.className, Array.from(
                row.cells, cell => [cell.className,
                    Array.from(cell.childNodes).filter(node => !(node.classList &&
                        node.classList.contains("age"))).map(node => node.textContent).join(""),
                    Array.from(cell.querySelectorAll("*"), element => [element.tagName,
                        Array.from(element.attributes, a => a.name + "=" + a.value).sort()])])])
        """))


class LivePageTests(BrowserCase):
    """The live page in a real browser, served by a real twistd in another process."""

    def test_appendedLineAppearsWithoutReload(self):
        """A matching line appended to the log shows at the top of the table, no reload."""
        self.openLive()
        self.assertEqual(self.resources(), ["/before"])
        appended = time.monotonic()
        self.append(combined("/fresh", "http://now.example/"))
        self.page.wait_for_function(
            "document.querySelector('#hits td.resource').textContent === '/fresh'",
            timeout=5000,
        )
        elapsed = time.monotonic() - appended
        self.assertEqual(self.resources(), ["/fresh", "/before"])
        self.assertTrue(self.page.evaluate("window.notReloaded === true"))
        classes = self.page.eval_on_selector_all("#hits tr", "rows => rows.map(r => r.className)")
        self.assertEqual(classes, ["row0", "row1"])
        link = self.page.get_attribute("#hits tr:first-child td.referrer a", "href")
        self.assertEqual(link, "http://now.example/")
        age = self.page.text_content("#hits tr:first-child td.time .age")
        self.assertRegex(age or "", r"^\d{4}-\d{2}-\d{2}$")  # logged in 2015: older than a day
        # The row the script made from the page's template is the row the server renders.
        live = self.rowShapes()
        self.page.reload()
        self.assertEqual(self.rowShapes(), live)
        self.assertEqual(self.errors, [])
        # Not a timing test: the bound is generous; bench/ measures the latency.
        self.assertLess(elapsed, 5.0)

    def test_nonMatchingLineIsNotShown(self):
        """A 404 hit does not show on the default (status 200) view, but does with status=all."""
        self.openLive("/weblog.rpy?status=all")
        self.append(combined("/missing", "http://x.example/", status=404))
        self.page.wait_for_function(
            "document.querySelector('#hits td.resource').textContent === '/missing'",
            timeout=5000,
        )
        other = self.context.new_page()
        other.goto(self.server.url("/weblog.rpy"))
        cells = other.eval_on_selector_all("#hits td.resource", "c => c.map(x => x.textContent)")
        self.assertEqual(cells, ["/before"])

    def test_hostileLineRunsNothing(self):
        """Script and attribute-breaking payloads in every field stay text and run nothing."""
        self.openLive()
        self.append(combined(f"/x{PAYLOAD}", f"http://evil.example/{PAYLOAD}",
                             agent=PAYLOAD))
        self.append(combined("/js", "javascript:window.pwned=3"))
        self.page.wait_for_function(
            "document.querySelector('#hits td.resource').textContent === '/js'", timeout=5000
        )
        self.assertEqual(self.resources(), ["/js", f"/x{PAYLOAD}", "/before"])
        self.assertIsNone(self.page.evaluate("window.pwned"))
        self.assertEqual(self.dialogs, [])
        self.assertEqual(self.page.eval_on_selector_all("#hits img, #hits script", "n => n.length"),
                         0)
        self.assertIsNone(self.page.query_selector("#hits tr:first-child td.referrer a"))
        # Reloading renders the same rows on the server: still inert.
        self.page.reload()
        self.assertEqual(self.resources(), ["/js", f"/x{PAYLOAD}", "/before"])
        self.assertIsNone(self.page.evaluate("window.pwned"))

    def test_craftedPathKeepsLinksHere(self):
        """
        At a path with a decoded backslash and slashes, every link, the form and the event
        stream resolve to this host, and the page requests nothing from any other.
        """
        self.page.add_init_script(EVENT_SOURCE_SPY)
        requested: list[str] = []
        self.page.on("request", lambda request: requested.append(request.url))
        self.page.goto(self.server.url(CRAFTED))
        here = f"127.0.0.1:{self.server.port}"
        found = self.page.evaluate("""() => ({
            host: location.host,
            links: Array.from(document.querySelectorAll("a"))
                .filter(a => !a.closest("#hits")).map(a => new URL(a.href).host),
            forms: Array.from(document.forms, form => new URL(form.action).host),
        })""")
        self.assertEqual(found["host"], here)
        # the footer's, the history's views and each panel's entry (the one hit's)
        self.assertEqual(found["links"], [here] * (3 + len(RANGES) + len(PANELS)))
        self.assertEqual(found["forms"], [here])
        self.page.wait_for_function(
            "document.getElementById('live').textContent === 'live'", timeout=10000
        )
        self.assertEqual(self.page.evaluate("window.eventSourceURLs.map(url => new URL(url).host)"),
                         [here])
        self.assertEqual({urlsplit(url).netloc for url in requested}, {here})
        self.assertEqual(self.resources(), ["/before"])

    def test_referrerHostsShownAsServerShows(self):
        """
        Rows the script adds show each referrer of REFERRER_LINKS as the server renders it (a
        link with its host in IDNA form, or text), and a reload shows the same column.
        """
        self.openLive("/weblog.rpy?limit=100")
        self.append("".join(combined(f"/r{number}", referrer)
                            for number, (referrer, _) in enumerate(REFERRER_LINKS)))
        self.page.wait_for_function(
            f"document.querySelectorAll('#hits tr').length === {len(REFERRER_LINKS) + 1}",
            timeout=5000,
        )
        expected = [(link, link) if link is not None else (referrer, None)
                    for referrer, link in reversed(REFERRER_LINKS)]
        live = self.referrerCells()
        self.assertEqual(live, [*expected, ("http://earlier.example/", "http://earlier.example/")])
        self.assertTrue(self.page.evaluate("window.notReloaded === true"))
        # The top lists the stats event fills (every 5 s) read as the server renders them.
        self.page.wait_for_function(
            "document.querySelectorAll('#top-referrers li').length > 1", timeout=8000)
        tops, links = self.topKeys(), self.topLinks()
        here = f"127.0.0.1:{self.server.port}/weblog.rpy"
        self.assertIn(["earlier.example", here, [["limit", "100"], ["site", "earlier.example"]]],
                      links[0])
        counts = self.page.text_content("#log-counts")
        self.assertEqual(counts, f"{len(REFERRER_LINKS) + 1} lines read, 0 malformed, 0 rotations")
        rows = self.rowShapes()
        self.page.reload()
        self.assertEqual(self.referrerCells(), live)
        self.assertEqual(self.topKeys(), tops)
        self.assertEqual(self.topLinks(), links)  # the script links each entry as the server
        self.assertEqual(self.page.text_content("#log-counts"), counts)
        self.assertEqual(self.rowShapes(), rows)
        self.assertEqual(self.errors, [])


class HistoryChartTests(BrowserCase):
    """The history page's chart in a real browser: its bars are links, and a drag a window."""

    TIMES = ("17/May/2015:10:05:03 +0000", "17/May/2015:12:05:03 +0000",
             "17/May/2015:14:05:03 +0000")
    """Three hits, two hours apart: a window of hours, a bar each."""

    def setUp(self) -> None:
        super().setUp()
        self.append("".join(combined(f"/h{number}", "http://x.example/", time=moment)
                            for number, moment in enumerate(self.TIMES)))
        deadline = time.monotonic() + 30
        while True:
            history = self.server.get_json("/weblog.rpy/json")["history"]
            if history["state"] == "ok" and history["stored"] >= 1 + len(self.TIMES):
                break
            if time.monotonic() > deadline:
                self.fail(f"the history did not store the hits: {history}")
            time.sleep(0.2)
        self.page.goto(self.server.url("/weblog.rpy?range=all&status=all"))
        self.bars = self.page.query_selector_all("#buckets a")

    def query(self) -> dict[str, str]:
        """The query of the page the browser shows now."""
        return dict(parse_qsl(urlsplit(self.page.url).query))

    def drag(self, start: int, end: int) -> None:
        """Press the mouse on bar C{start}, move it to bar C{end} and let go there."""
        first, last = (self.bars[index].bounding_box() for index in (start, end))
        assert first is not None and last is not None
        self.page.mouse.move(first["x"] + first["width"] / 2, first["y"] + first["height"] - 2)
        self.page.mouse.down()
        self.page.mouse.move(last["x"] + last["width"] / 2, last["y"] + last["height"] - 2,
                             steps=5)
        self.page.mouse.up()

    def test_dragSelectsTheWindow(self) -> None:
        """A drag from the last bar back to the first opens from its start to the last's end."""
        self.assertEqual(len(self.bars), len(self.TIMES))
        with self.page.expect_navigation(timeout=10000):
            self.drag(2, 0)
        self.assertEqual(self.query(), {"status": "all", "from": "2015-05-17T10:00:00+00:00",
                                        "to": "2015-05-17T14:59:59.999999+00:00"})
        self.assertRegex(self.page.text_content("#window") or "",
                         r"^From 2015-05-17 10:00 to 2015-05-17 14:59 UTC: 4 hits "
                         r"(from \d visitors \(approx\.\) )?match\.$")
        self.assertEqual(self.errors, [])

    def test_clickOpensTheBar(self) -> None:
        """A click on one bar (no drag) follows its own link: that bar's window."""
        with self.page.expect_navigation(timeout=10000):
            self.drag(1, 1)
        self.assertEqual(self.query(), {"status": "all", "from": "2015-05-17T12:00:00+00:00",
                                        "to": "2015-05-17T12:59:59.999999+00:00"})

# -*- test-case-name: tests.test_views -*-
"""Tests for L{weblog.views}: history views answered as JSON, and why when they cannot be."""

from __future__ import annotations

import json
from typing import Any

from weblog.history import OFF
from weblog.queries import EMPTY
from weblog.resources import WeblogPage

from tests.test_pages import PageCase, StatedHistory, body_of, get

ANSWER: dict[str, Any] = {
    "window": {"from": "2015-05-17T10:05:00+00:00", "to": "2015-05-20T21:05:00+00:00"},
    "total": 3,
    "hits": [{"resource": "/a"}],
    "before": None,
    "top": {"sites": [["x.example", 3, 2]], "referrers": [], "resources": [["/a", 3]],
            "statuses": [["200", 3]], "approximate": False},
    "buckets": {"unit": "day", "counts": [["2015-05-17T00:00:00+00:00", 3]], "visitors": [2],
                "crawlers": [1], "bytes": [300], "p95_ms": [None]},
    **EMPTY, "visitors": 2, "countries": [["FR", 2], ["private", 1]],
}


class HistoryJsonTests(PageCase):
    """/weblog.rpy/json with a window or a filter of it: asked of the history."""

    def json(self, query: str) -> tuple[int, Any]:
        """The answer's code and its JSON, for C{query}."""
        request = get(WeblogPage(self.records), query, b"json")
        self.assertEqual(request.responseHeaders.getRawHeaders(b"content-type"),
                         [b"application/json; charset=utf-8"])
        return request.responseCode or 200, json.loads(body_of(request))

    def test_answered(self) -> None:
        """The history's answer, with the window, the query as asked, the log and history."""
        history = self.records.history = StatedHistory(ANSWER, state="ok")
        code, document = self.json("range=7d&site=x.example&status=all")
        self.assertEqual(code, 200)
        self.assertEqual({key: document[key] for key in ANSWER}, ANSWER)
        self.assertEqual(document["history"]["state"], "ok")
        self.assertEqual(document["log"]["path"], self.log.path)
        self.assertEqual((document["query"]["range"], document["query"]["site"],
                          document["query"]["status"]), ("7d", "x.example", "all"))
        [view] = history.asked
        self.assertEqual(view["given"], ["status"])
        self.assertEqual(view["question"]["site"], "x.example")

    def test_keptUntilTheStoreChanges(self) -> None:
        """A view asked again is answered as kept, without asking the history, until the
        history's status says the store changed."""
        history = self.records.history = StatedHistory(ANSWER, state="ok", stored=3)
        page = WeblogPage(self.records)
        first = body_of(get(page, "range=7d", b"json"))
        again = get(page, "range=7d", b"json")
        self.assertEqual((body_of(again), len(history.asked)), (first, 1))
        self.assertEqual(again.responseHeaders.getRawHeaders(b"content-type"),
                         [b"application/json; charset=utf-8"])
        get(page, "range=24h", b"json")
        self.assertEqual(len(history.asked), 2)
        history.state = {**history.state, "stored": 4}
        self.assertEqual(json.loads(body_of(get(page, "range=7d", b"json")))["history"]["stored"],
                         4)
        self.assertEqual(len(history.asked), 3)

    def test_before(self) -> None:
        """before= is asked of the history as given; the answer's cursor is the JSON's before."""
        history = self.records.history = StatedHistory(
            {**ANSWER, "before": "2015-05-17T10:05:00Z~3"}, state="ok")
        code, document = self.json("range=7d&before=2015-05-20T21:00:00Z~12")
        self.assertEqual((code, document["before"], document["query"]["before"]),
                         (200, "2015-05-17T10:05:00Z~3", "2015-05-20T21:00:00Z~12"))
        self.assertEqual(history.asked[0]["question"]["before"], "2015-05-20T21:00:00Z~12")

    def test_badBefore(self) -> None:
        """A bad cursor is a 400 naming before, before the history is asked."""
        history = self.records.history = StatedHistory(ANSWER, state="ok")
        request = get(WeblogPage(self.records), "before=yesterday", b"json")
        self.assertEqual(request.responseCode, 400)
        self.assertIn(b"<p>before: must be an ISO 8601 time", body_of(request))
        self.assertEqual(history.asked, [])

    def test_cannotAnswer(self) -> None:
        """A history that cannot answer now: 503, saying why in one line."""
        self.records.history = StatedHistory(state="locked")
        code, document = self.json("range=24h")
        self.assertEqual((code, document["error"]), (503, "the history is locked: not ready"))
        self.assertEqual(document["history"]["state"], "locked")

    def test_off(self) -> None:
        """With no history a window is a 400 that says so."""
        request = get(WeblogPage(self.records), "range=7d", b"json")
        self.assertEqual(request.responseCode, 400)
        self.assertIn(b"range: needs the history, which is off (WEBLOG_HISTORY=off)",
                      body_of(request))

    def test_badRange(self) -> None:
        """A bad window is a 400 before the history is asked."""
        history = self.records.history = StatedHistory(ANSWER, state="ok")
        request = get(WeblogPage(self.records), "range=2w", b"json")
        self.assertEqual(request.responseCode, 400)
        self.assertIn(b"<p>range: must be one of 1h, 24h, 7d, 30d, all, got '2w'</p>",
                      body_of(request))
        self.assertEqual(history.asked, [])

    def test_liveWithoutWindow(self) -> None:
        """Without a history parameter the JSON is the live view, as before."""
        history = self.records.history = StatedHistory(ANSWER, state="ok")
        code, document = self.json("status=all")
        self.assertEqual((code, history.asked), (200, []))
        self.assertNotIn("window", document)
        self.assertEqual(document["history"], {**OFF, "state": "ok"})

    def test_eventsRefuseBefore(self) -> None:
        """The event stream sends new hits: it refuses before, saying so."""
        self.records.history = StatedHistory(ANSWER, state="ok")
        request = get(WeblogPage(self.records), "before=2015-05-17T10:00:00Z", b"events")
        self.assertEqual(request.responseCode, 400)
        self.assertIn(b"<p>before: the event stream sends new hits: there is no list to page "
                      b"back</p>", body_of(request))

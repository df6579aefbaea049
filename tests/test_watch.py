# -*- test-case-name: tests.test_watch -*-
"""Tests for L{weblog.watch}: event streams narrowed by a history view's window and filters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from persist import Records
from twisted.internet.task import Clock
from twisted.trial import unittest
from weblog.errors import BadQuery
from weblog.events import EventHub
from weblog.hit import Hit
from weblog.interfaces import IEventHub
from weblog.question import Question
from weblog.resources import WeblogPage
from weblog.selection import Selection
from weblog.watch import Watch, watch_of
from zope.interface import implementer

from tests.support import combined
from tests.test_events import Client
from tests.test_pages import PageCase, body_of, get

MOMENT = datetime(2015, 5, 17, 10, 5, 3, tzinfo=UTC)


def hit(**fields: Any) -> Hit:
    """A hit of status 200 at MOMENT with a referrer, its other fields as given."""
    values: dict[str, Any] = {
        "client": "203.0.113.7", "ident": "-", "user": "-", "time": MOMENT, "method": "GET",
        "resource": "/a", "protocol": "HTTP/1.1", "status": 200, "bytes": 5,
        "referrer": "http://X.example:8080/p", "agent": "Mozilla/5.0", "vhost": None,
        "source": None, **fields}
    return Hit(**values)


class WatchTests(unittest.TestCase):
    """L{Watch.matches}: the selection, then the window and every filter."""

    def test_filters(self) -> None:
        """Each filter compares with its field as the pages show it; site with the site."""
        for name, value, other in [("site", "x.example", hit(referrer="http://y.example/")),
                                   ("ref", "http://X.example:8080/p", hit(referrer=None)),
                                   ("resource", "/a", hit(resource="/b")),
                                   ("client", "203.0.113.7", hit(client="::1")),
                                   ("vhost", "v.example", hit()),
                                   ("source", "a.log", hit(source="b.log"))]:
            watch = Watch(referrer="any", filters=((name, value),))
            self.assertTrue(watch.matches(hit(vhost="v.example", source="a.log")), name)
            self.assertFalse(watch.matches(other), name)

    def test_selectionStillApplies(self) -> None:
        """The page's own parameters still apply (status 200 by default)."""
        self.assertFalse(Watch(filters=(("resource", "/a"),)).matches(hit(status=404)))

    def test_window(self) -> None:
        """A hit before the start or after the end does not match."""
        watch = Watch(start=MOMENT, end=MOMENT.replace(minute=6))
        self.assertTrue(watch.matches(hit()))
        self.assertFalse(watch.matches(hit(time=MOMENT.replace(minute=4))))
        self.assertFalse(watch.matches(hit(time=MOMENT.replace(minute=7))))

    def test_filterKey(self) -> None:
        """Streams share their events only when their filters and windows are the same."""
        keys = {Watch().filter_key(), Watch(filters=(("site", "a"),)).filter_key(),
                Watch(start=MOMENT).filter_key(), Selection().filter_key()}
        self.assertEqual(len(keys), 4)
        self.assertEqual(Watch(filters=(("site", "a"),)).filter_key(),
                         Watch(filters=(("site", "a"),)).filter_key())


class WatchOfTests(unittest.TestCase):
    """L{watch_of}: which windows a stream takes, and why not the others."""

    def test_live(self) -> None:
        """No question: the selection as it is."""
        self.assertEqual(watch_of(Selection(limit=5), None, MOMENT), Selection(limit=5))

    def test_rangeAndFrom(self) -> None:
        """A range sends every new hit; a from those since it; a to still ahead, up to it."""
        self.assertEqual(watch_of(Selection(), Question("1h", filters=(("site", "a"),)), MOMENT),
                         Watch(filters=(("site", "a"),)))
        self.assertEqual(watch_of(Selection(q="x"), Question(None, MOMENT), MOMENT),
                         Watch(q="x", start=MOMENT))
        ahead = MOMENT.replace(hour=11)
        self.assertEqual(watch_of(Selection(), Question(None, None, ahead), MOMENT),
                         Watch(end=ahead))

    def test_refused(self) -> None:
        """A to before the newest hit, or a before, is a 400 saying why."""
        past = Question(None, None, MOMENT.replace(hour=9))
        self.assertEqual(str(self.assertRaises(BadQuery, watch_of, Selection(), past, MOMENT)),
                         "to: is before the newest hit read (2015-05-17T10:05:03+00:00): a past "
                         "window has no new hits for the event stream")
        paged = Question(before="2015-05-17T10:05:03Z~4")
        self.assertEqual(str(self.assertRaises(BadQuery, watch_of, Selection(), paged, None)),
                         "before: the event stream sends new hits: there is no list to page back")

    def test_storedFilters(self) -> None:
        """A filter by what the history finds of a hit (country=...) is a 400 for a stream."""
        asked = Question("1h", filters=(("country", "FR"),))
        error = self.assertRaises(BadQuery, watch_of, Selection(), asked, MOMENT)
        self.assertTrue(str(error).startswith("country: the event stream cannot filter"), error)


@implementer(IEventHub)
class NotedHub:
    """A hub that notes what each stream would send, and opens none."""

    def __init__(self) -> None:
        self.records = None
        self.streams: list[Any] = []
        self.dropped = 0
        self.opened: list[Selection] = []

    def open(self, request: Any, selection: Selection, since: int | None = None) -> bytes:
        """Note the stream's selection; send nothing."""
        self.opened.append(selection)
        return b""


class EventsPageTests(PageCase):
    """/weblog.rpy/events with a window or filters."""

    def events(self, query: str) -> tuple[int, bytes, list[Selection]]:
        """The code, the body and what a stream was opened for, for C{query}."""
        hub = NotedHub()
        request = get(WeblogPage(self.records, hub=hub), query, b"events")
        return request.responseCode or 200, body_of(request), hub.opened

    def test_filtersAndRange(self) -> None:
        """A range, from and the filters open a stream of the new hits that match them."""
        code, _, opened = self.events("range=24h&site=x.example&status=all&from=2015-05-17")
        self.assertEqual(code, 400)  # range and from together: as for the pages
        code, _, opened = self.events("range=24h&site=x.example&status=all")
        self.assertEqual((code, opened), (200, [Watch(status="all",
                                                      filters=(("site", "x.example"),))]))

    def test_pastToRefused(self) -> None:
        """A to before the newest hit read: 400, saying why in one line."""
        self.writeLog(combined("/a"))
        self.records.poll()
        code, body, opened = self.events("to=2015-05-17T09:00:00Z")
        self.assertEqual((code, opened), (400, []))
        self.assertIn(b"<p>to: is before the newest hit read (2015-05-17T10:05:00+00:00)", body)


class StreamTests(unittest.TestCase):
    """A real hub sends a narrowed stream the new hits that match, and shares what it can."""

    def test_onlyMatchingNewHits(self) -> None:
        """Only the new hits from the referring site asked for arrive, and each once."""
        log = self.mktemp()
        clock = Clock()
        records = Records(log, keep=100, clock=clock)
        hub = EventHub(records, clock)
        narrowed = Client(hub, Watch(filters=(("site", "x.example"),)))
        everything = Client(hub, Selection())
        self.addCleanup(narrowed.leave)
        self.addCleanup(everything.leave)
        with open(log, "a") as lines:
            lines.writelines([combined("/1", "http://x.example/a"), combined("/2", "http://y/"),
                              combined("/3", "https://X.example:8443/b")])
        records.poll()
        self.assertEqual([json.loads(event["data"])["resource"] for event in narrowed.events()],
                         ["/1", "/3"])
        self.assertEqual(len(everything.events()), 3)

# -*- test-case-name: tests.test_events -*-
"""Server-Sent Events at /weblog.rpy/events: the hub, its streams, and the page over HTTP."""

from __future__ import annotations

import json
import os
from typing import Any
from unittest import mock

from persist import IRecords, Records
from twisted.internet import defer, reactor
from twisted.internet.task import Clock, deferLater
from twisted.trial import unittest
from weblog.errors import ConfigError
from weblog.events import EventHub
from weblog.interfaces import IEventHub
from weblog.resources import EventsPage, WeblogPage
from weblog.selection import Selection

from tests.support import SiteCase, combined


class FakeTransport:
    """Records whether the connection was aborted."""

    aborted = False

    def abortConnection(self) -> None:
        self.aborted = True


class FakeRequest:
    """
    The parts of a Request an event stream uses, with a transport that can stall.

    While C{stalled}, what is written stays in C{held}, and once more than C{room}
    bytes are held the producer is paused, as Twisted's transports do; L{drain}
    sends what is held and resumes the producer.
    """

    def __init__(self, headers: dict[bytes, bytes] | None = None) -> None:
        self.written: list[bytes] = []
        self.code = 200
        self.headers: dict[bytes, bytes] = {}
        self.requestHeaders = headers or {}
        self.producer: Any = None
        self.finished: defer.Deferred[None] = defer.Deferred()
        self.transport = FakeTransport()
        self.stalled = False
        self.room = 64 * 1024
        self.held = 0
        self.paused = False

    def setResponseCode(self, code: int) -> None:
        self.code = code

    def setHeader(self, name: bytes, value: bytes) -> None:
        self.headers[name] = value

    def getHeader(self, name: bytes) -> bytes | None:
        return self.requestHeaders.get(name)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.producer = producer

    def notifyFinish(self) -> defer.Deferred[None]:
        return self.finished

    def write(self, data: bytes) -> None:
        self.written.append(data)
        if self.stalled:
            self.held += len(data)
            if self.held > self.room and not self.paused:
                self.paused = True
                self.producer.pauseProducing()

    def drain(self) -> None:
        """The client read everything: the transport is empty again."""
        self.held = 0
        if self.paused:
            self.paused = False
            self.producer.resumeProducing()

    def events(self) -> list[dict[str, str]]:
        """The events written so far, each as its fields."""
        found = []
        for block in b"".join(self.written).decode().split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line
                          and not line.startswith(":"))
            if "event" in fields:
                found.append(fields)
        return found


class HubTests(unittest.TestCase):
    """EventHub: fan-out, replay, caps, heartbeats and slow clients, with a Clock."""

    def setUp(self) -> None:
        self.log = self.mktemp()
        self.clock = Clock()
        self.records = Records(self.log, keep=100, clock=self.clock)
        self.hub = EventHub(self.records, self.clock)

    def append(self, *lines: str) -> None:
        """Append lines to the log and let Records read them."""
        with open(self.log, "a") as log:
            log.writelines(lines)
        self.records.poll()

    def open(self, selection: Selection | None = None, since: int | None = None,
             headers: dict[bytes, bytes] | None = None) -> FakeRequest:
        request = FakeRequest(headers)
        self.hub.open(request, selection or Selection(), since)  # type: ignore[arg-type]
        self.addCleanup(self.finish, request)
        return request

    def finish(self, request: FakeRequest) -> None:
        """End a stream, as a client going away does, unless it ended already."""
        if not request.finished.called:
            request.finished.callback(None)

    def test_matchingHitsOnly(self):
        """A stream gets a hit event, with an id and the hit's JSON, only for matching hits."""
        request = self.open()
        self.assertEqual(request.headers[b"content-type"], b"text/event-stream; charset=utf-8")
        self.append(combined("/yes"), combined("/no", status=404), combined("/also"))
        events = request.events()
        self.assertEqual([event["id"] for event in events], ["1", "3"])
        self.assertEqual([json.loads(event["data"])["resource"] for event in events],
                         ["/yes", "/also"])
        self.assertEqual({event["event"] for event in events}, {"hit"})

    def test_burstIsOneWrite(self):
        """A burst of hits read in one poll reaches each client in one write."""
        request = self.open()
        before = len(request.written)
        self.append(*[combined(f"/burst{n}") for n in range(50)])
        self.assertEqual(len(request.written), before + 1)
        self.assertEqual(len(request.events()), 50)

    def test_replayAfterLastEventId(self):
        """A client reconnecting with Last-Event-ID gets the kept hits it missed, in order."""
        self.append(*[combined(f"/h{n}") for n in range(1, 6)])
        request = self.open(headers={b"last-event-id": b"3"})
        self.assertEqual([event["id"] for event in request.events()], ["4", "5"])
        since = self.open(since=4)
        self.assertEqual([event["id"] for event in since.events()], ["5"])
        header_wins = self.open(since=0, headers={b"last-event-id": b"4"})
        self.assertEqual([event["id"] for event in header_wins.events()], ["5"])

    def test_capRefusesWith503(self):
        """Past the most streams open at once, a new one gets 503 and a reason."""
        hub = EventHub(self.records, self.clock, max_streams=2)
        requests = [FakeRequest() for _ in range(3)]
        results = [hub.open(request, Selection()) for request in requests]  # type: ignore[arg-type]
        self.assertEqual([request.code for request in requests], [200, 200, 503])
        self.assertEqual(results[2], b"too many event streams open (at most 2)\n")
        for request in requests[:2]:
            request.finished.callback(None)
        self.assertEqual(hub.streams, [])

    def test_capFromEnvironment(self):
        """Without a cap given, $WEBLOG_MAX_STREAMS is read when the first stream opens."""
        with mock.patch.dict(os.environ, {"WEBLOG_MAX_STREAMS": "1"}):
            hub = EventHub(self.records, self.clock)
            requests = [FakeRequest() for _ in range(2)]
            for request in requests:
                hub.open(request, Selection())  # type: ignore[arg-type]
                self.addCleanup(request.finished.callback, None)
        self.assertEqual([request.code for request in requests], [200, 503])

    def test_badCapRefusesStreamsOnly(self):
        """A bad $WEBLOG_MAX_STREAMS does not stop the hub being made: its streams fail."""
        with mock.patch.dict(os.environ, {"WEBLOG_MAX_STREAMS": "0"}):
            hub = EventHub(self.records, self.clock)
            self.assertRaises(ConfigError, hub.open, FakeRequest(), Selection())
        self.assertEqual(hub.streams, [])

    def test_finishedStreamIsForgotten(self):
        """A client that goes away is removed, and the hub stops listening and beating."""
        request = self.open()
        self.assertEqual(len(self.hub.streams), 1)
        self.assertEqual(self.records.listening, 1)
        request.finished.errback(Exception("connection lost"))
        self.assertEqual(self.hub.streams, [])
        self.assertEqual(self.records.listening, 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_heartbeatAndStats(self):
        """An idle stream gets a heartbeat comment every 15 s; aggregates every 5 s if changed."""
        request = self.open()
        self.append(combined("/counted"))
        self.clock.advance(5)
        stats = [event for event in request.events() if event["event"] == "stats"]
        self.assertEqual(len(stats), 1)
        data = json.loads(stats[0]["data"])
        self.assertEqual(data["top"]["resources"], [["/counted", 1]])
        self.assertEqual(data["log"]["lines"], 1)
        self.clock.advance(5)  # nothing changed: no new stats
        self.assertEqual(len([e for e in request.events() if e["event"] == "stats"]), 1)
        self.assertNotIn(b": heartbeat\n\n", request.written)
        self.clock.advance(5)
        self.assertIn(b": heartbeat\n\n", request.written)

    def test_slowClientDropped(self):
        """A client that stops reading is dropped once what waits from before passes the bound."""
        request = self.open()
        self.hub.max_unsent = 1000
        request.stalled, request.room = True, 0
        self.append(*[combined(f"/slow{n}") for n in range(3)])  # written: the transport pauses
        self.append(*[combined(f"/slow{n}") for n in range(20)])  # waits in the stream
        self.assertFalse(request.transport.aborted)
        self.append(combined("/more"))  # what waits from before is past the bound
        self.assertTrue(request.transport.aborted)
        self.assertEqual(self.hub.streams, [])

    def test_resumeResetsUnsent(self):
        """A client that catches up is not dropped for what it already read."""
        request = self.open()
        self.hub.max_unsent = 1000
        request.stalled, request.room = True, 0
        for _ in range(5):
            self.append(*[combined(f"/ok{n}") for n in range(30)])
            request.drain()
        self.assertFalse(request.transport.aborted)
        self.assertEqual(len(self.hub.streams), 1)
        self.assertEqual(len(request.events()), 150)

    def test_mostBehindShedFirst(self):
        """Past the bound on what waits for all streams, the streams most behind are dropped."""
        requests = [self.open() for _ in range(3)]
        for waiting, request in zip((5000, 100, 3000), requests, strict=True):
            request.stalled, request.room = True, 0
            request.write(b"")
            request.producer.send(b"x" * waiting)
            request.producer.pauseProducing()
            request.producer.send(b"x" * waiting)
        self.hub.max_unsent_total = 8000
        self.append(combined("/shed"))
        self.assertEqual([request.transport.aborted for request in requests], [True, False, False])
        self.assertEqual([stream.request for stream in self.hub.streams], requests[1:])

    def test_sharedBatchCountsOnce(self):
        """A batch that many stalled streams hold is one object, counted once against the bound."""
        requests = [self.open() for _ in range(50)]
        for request in requests:
            request.stalled, request.room = True, 0
        self.append(combined("/first"))  # written; every transport pauses
        batch = [combined(f"/shared{n}") for n in range(20)]
        self.hub.max_unsent_total = 2 * len("".join(batch)) + 4000  # far less than 50 copies
        self.append(*batch)
        held = {id(piece) for stream in self.hub.streams for piece in stream.pending}
        self.assertEqual(len(held), 1)
        self.assertEqual([request.transport.aborted for request in requests], [False] * 50)
        self.assertEqual(len(self.hub.streams), 50)

    def test_heldCountedOnceAndReleased(self):
        """What waits is counted once per piece as it is queued, and nothing once written."""
        requests = [self.open() for _ in range(3)]
        for request in requests:
            request.stalled, request.room = True, 0
        self.append(combined("/first"))  # written; every transport pauses
        self.append(*[combined(f"/held{n}") for n in range(5)])
        [piece] = {id(piece): piece for stream in self.hub.streams
                   for piece in stream.pending}.values()
        self.assertEqual(self.hub.held_bytes, len(piece))
        for request in requests:
            request.drain()
        self.assertEqual((self.hub.held_bytes, self.hub.held), (0, {}))
        self.finish(requests[0])
        self.assertEqual(self.hub.held_bytes, 0)

    def test_bigBatchReachesReadingClient(self):
        """A batch far over the bound reaches a client that reads, in pieces, and drops nobody."""
        request = self.open(Selection(status="all", referrer="any", limit=1000))
        request.stalled = True  # pauses past 64 KiB held, and reads it all at each drain
        long = "/" + "\\x01" * 3000
        self.append(*[combined(long, f"http://a.example/{long}", agent=long) for _ in range(40)])
        self.records.catchUp()
        for _ in range(200):
            self.clock.advance(0)  # the hits are made in slices
            request.drain()
        self.assertFalse(request.transport.aborted)
        self.assertEqual(len(request.events()), 40)
        self.assertGreater(sum(map(len, request.written)), self.hub.max_unsent)
        self.assertLessEqual(max(map(len, request.written)), 2 * 64 * 1024)

    def test_bigReplayAfterReconnect(self):
        """A client reconnecting with since=0 gets its long missed rows, not a reset."""
        long = "/" + "\\x01" * 3000
        self.append(*[combined(long, f"http://a.example/{long}", agent=long) for _ in range(35)])
        self.records.catchUp()
        request = FakeRequest()
        request.stalled = True
        self.hub.open(request, Selection(), 0)  # type: ignore[arg-type]
        self.addCleanup(self.finish, request)
        self.clock.advance(0)
        self.assertEqual(request.written[0], b"retry: 2000\n\n")
        for _ in range(200):
            if not self.hub.streams[0].pending and not self.hub.streams[0].replaying:
                break
            request.drain()
            self.clock.advance(0)
        self.assertFalse(request.transport.aborted)
        self.assertEqual([event["id"] for event in request.events()],
                         [str(n) for n in range(1, 36)])

    def test_heartbeatSurvivesError(self):
        """A failing heartbeat is logged and the next one still runs."""
        request = self.open()
        self.append(combined("/one"))
        with mock.patch.object(self.records, "status", side_effect=RuntimeError("boom")):
            self.clock.advance(5)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.append(combined("/two"))
        self.clock.advance(5)
        stats = [event for event in request.events() if event["event"] == "stats"]
        self.assertEqual(len(stats), 1)

    def test_hubProvidesInterface(self):
        """The hub is what the registry keeps under IEventHub."""
        self.assertTrue(IEventHub.providedBy(self.hub))

    def test_pageStreamsThroughItsHub(self):
        """The weblog page's events child streams through the hub given, else one of its own."""
        events = WeblogPage(self.records, hub=self.hub).getStaticEntity(b"events")
        assert isinstance(events, EventsPage)
        self.assertIs(events.hub, self.hub)
        own = WeblogPage(self.records).getStaticEntity(b"events")
        assert isinstance(own, EventsPage)
        self.assertIsInstance(own.hub, EventHub)
        self.assertIsNot(own.hub, self.hub)


class EventsPageTests(SiteCase):
    """/weblog.rpy/events over HTTP from a real Site."""

    @defer.inlineCallbacks
    def test_appendedHitArrivesLive(self):
        """A line appended to the log reaches a connected client as a hit event."""
        self.writeLog(combined("/old"))
        self.serve()
        response, collector = yield self.openStream()
        self.assertEqual(response.code, 200)
        self.assertEqual(response.headers.getRawHeaders(b"content-type"),
                         [b"text/event-stream; charset=utf-8"])
        yield collector.waitFor(b"retry: 2000\n\n")
        self.writeLog(combined("/fresh", "http://live.example/"))
        data = yield collector.waitFor(b"/fresh")
        self.assertNotIn(b"/old", data)
        self.assertIn(b"id: 2\nevent: hit\ndata: {", data)

    @defer.inlineCallbacks
    def test_badQueryIs400(self):
        """Bad parameters, since included, get 400 with a reason, like the other pages."""
        self.serve()
        for query, reason in [("?limit=0", b"limit: "), ("?since=x", b"since: must be a hit id"),
                              ("?since=1&since=2", b"since: given more than once")]:
            code, _, body = yield self.get(f"/weblog.rpy/events{query}")
            self.assertEqual(code, 400)
            self.assertTrue(body.startswith(reason), body)

    @defer.inlineCallbacks
    def test_oneHubInRegistry(self):
        """The streams of every request share one hub, kept in the registry beside Records."""
        root = self.serve()
        for _ in range(2):
            _, collector = yield self.openStream()
            yield collector.waitFor(b"retry:")
        hub = root.registry.getComponent(IEventHub)
        self.assertIsInstance(hub, EventHub)
        self.assertIs(hub.records, root.registry.getComponent(IRecords))
        self.assertEqual(len(hub.streams), 2)

    @defer.inlineCallbacks
    def test_disconnectForgetsStream(self):
        """A client that disconnects is forgotten by the hub."""
        root = self.serve()
        _, collector = yield self.openStream()
        yield collector.waitFor(b"retry:")
        hub = root.registry.getComponent(IEventHub)
        self.assertEqual(len(hub.streams), 1)
        collector.transport.stopProducing()
        yield collector.done
        for _ in range(50):
            if not hub.streams:
                break
            yield deferLater(reactor, 0.02, lambda: None)
        self.assertEqual(hub.streams, [])


class OrderTests(unittest.TestCase):
    """Every hit reaches a stream once: live, replayed or on its page, never twice or lost."""

    def setUp(self) -> None:
        self.log = self.mktemp()
        self.clock = Clock()
        self.records = Records(self.log, keep=2000, clock=self.clock, slice_bytes=4000)
        self.addCleanup(self.records.stop)
        self.hub = EventHub(self.records, self.clock)

    def write(self, count: int, start: int = 0) -> None:
        """Append C{count} lines to the log."""
        with open(self.log, "a") as log:
            log.writelines(combined(f"/h{n}") for n in range(start, start + count))

    def open(self, since: int | None = None) -> FakeRequest:
        """Open a stream of every hit, as the page's script would, with C{since}."""
        request = FakeRequest()
        self.hub.open(request, Selection(status="all", referrer="any", limit=1000),  # type: ignore[arg-type]
                      since)
        self.addCleanup(self.finish, request)
        return request

    def finish(self, request: FakeRequest) -> None:
        """End a stream, as a client going away does, unless it ended already."""
        if not request.finished.called:
            request.finished.callback(None)

    def ids(self, request: FakeRequest) -> list[int]:
        """The ids of the hit events written to C{request}."""
        return [int(event["id"]) for event in request.events() if event["event"] == "hit"]

    def test_pageRowsNotSentAgain(self):
        """
        A page rendered while a backlog was being read says data-last-id=N; its stream
        opened with since=N gets the hits after N only (it got 1 to N again).
        """
        self.records.listen(lambda hits, last: None)  # announcements wait for the backlog
        self.write(40)
        self.records.poll()  # part of the backlog: hits are read, not yet announced
        page_last = self.records.last_id
        self.assertGreater(page_last, self.records.announced)
        request = self.open(since=page_last)
        self.records.catchUp()
        self.clock.advance(0)
        self.assertEqual(self.ids(request), list(range(page_last + 1, 41)))

    def test_replayThenLiveOnce(self):
        """A reconnecting stream gets the missed hits, then the live ones, each once."""
        self.open()
        self.write(10)
        self.records.catchUp()
        request = self.open(since=4)
        self.write(5, 10)
        self.records.catchUp()
        self.clock.advance(0)
        self.assertEqual(self.ids(request), list(range(5, 16)))

    def test_slicedBatchesInOrderOnce(self):
        """Batches announced while a fan-out runs in slices reach a stream in order, once."""
        request = self.open()
        self.open()  # a second stream, so that a fan-out takes several steps
        with mock.patch("weblog.slices.SLICE", 0):  # every job in slices of one step
            self.write(1200)
            self.records.catchUp()
            self.clock.advance(0)
        self.assertEqual(self.ids(request), list(range(1, 1201)))

    def test_announcedNeverGoesBack(self):
        """
        When the last stream leaves during an announcement in slices, the count of hits
        announced does not go back, and a reconnect is not replayed what it had.
        """
        first = self.open()
        with mock.patch("weblog.slices.SLICE", 0):  # every job in slices of one step
            self.write(1200)
            self.records.catchUp()
            first.finished.callback(None)  # the last stream leaves
            self.records.poll()
            told = self.records.announced
            self.clock.advance(0)
            self.assertEqual(self.records.announced, told)
            request = self.open(since=told)
            self.clock.advance(0)
        self.assertEqual(self.ids(request), [])

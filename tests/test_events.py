# -*- test-case-name: tests.test_events -*-
"""Server-Sent Events at /weblog.rpy/events: the hub, its streams, and the page over HTTP."""

from __future__ import annotations

import json
import os
from typing import Any
from unittest import mock

from persist import IRecords, Records
from twisted.internet import defer, reactor
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial import unittest
from twisted.web import server
from twisted.web.resource import Resource
from weblog.errors import ConfigError
from weblog.events import EventHub
from weblog.interfaces import IEventHub
from weblog.resources import EventsPage, WeblogPage
from weblog.selection import Selection
from weblog.sse import HEARTBEAT, RETRY
from weblog.streams import FRAMING, TRANSPORT_ROOM, EventStream

from tests.support import SiteCase, combined


class StallingTransport(StringTransport):
    """
    A transport whose client may stop reading.

    While C{stalled}, what is written stays unread, and once more than C{room}
    bytes are unread the transport pauses its producer, as Twisted's TCP
    transports do past 64 KiB; L{read} takes everything and resumes it.  Not
    stalled, the client reads each write at once.

    @ivar sizes: the size of each write, in order.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stalled = False
        self.room = TRANSPORT_ROOM
        self.unread = 0
        self.paused = False
        self.sizes: list[int] = []

    def write(self, data: bytes) -> None:
        super().write(data)
        self.sizes.append(len(data))
        if self.stalled:
            self.unread += len(data)
            if self.unread > self.room and not self.paused and self.producer is not None:
                self.paused = True
                self.producer.pauseProducing()

    def writeSequence(self, data: Any) -> None:
        self.write(b"".join(data))

    def read(self) -> None:
        """The client read everything: the transport is empty again."""
        self.unread = 0
        if self.paused and self.producer is not None:
            self.paused = False
            self.producer.resumeProducing()


class HubPage(Resource):
    """Opens an event stream of C{hub} for every request, as EventsPage does once it parsed."""

    isLeaf = True

    def __init__(self, hub: EventHub, selection: Selection, since: int | None) -> None:
        super().__init__()
        self.hub, self.selection, self.since = hub, selection, since
        self.request: Any = None

    def render_GET(self, request: Any) -> bytes | int:
        self.request = request
        return self.hub.open(request, self.selection, self.since)


class Client:
    """
    One client of an event stream: a GET handled by a real Site, HTTPChannel and Request,
    over a L{StallingTransport}, read back as the client would read it.
    """

    def __init__(self, hub: EventHub, selection: Selection | None = None,
                 since: int | None = None, headers: dict[bytes, bytes] | None = None) -> None:
        self.page = HubPage(hub, selection or Selection(), since)
        site = server.Site(self.page, timeout=None)
        self.channel: Any = site.buildProtocol(None)
        self.transport = StallingTransport()
        self.channel.makeConnection(self.transport)
        head = [b"GET /weblog.rpy/events HTTP/1.1", b"Host: weblog.test"]
        head += [name + b": " + value for name, value in (headers or {}).items()]
        self.channel.dataReceived(b"\r\n".join(head) + b"\r\n\r\n")
        self.left = False

    @property
    def stream(self) -> EventStream:
        """The hub's stream for this client (its request's producer)."""
        producer = self.page.request.producer
        assert isinstance(producer, EventStream)
        return producer

    @property
    def aborted(self) -> bool:
        """Whether the server aborted the connection."""
        return bool(self.transport.disconnected)

    def response(self) -> tuple[int, dict[bytes, bytes], bytes]:
        """The status code, headers and body received so far."""
        head, _, body = self.transport.value().partition(b"\r\n\r\n")
        status, *lines = head.split(b"\r\n")
        headers = {name.lower(): value for name, value in
                   (line.split(b": ", 1) for line in lines)}
        if headers.get(b"transfer-encoding") == b"chunked":
            body = dechunk(body)
        return int(status.split()[1]), headers, body

    @property
    def code(self) -> int:
        return self.response()[0]

    @property
    def headers(self) -> dict[bytes, bytes]:
        return self.response()[1]

    @property
    def body(self) -> bytes:
        return self.response()[2]

    def events(self) -> list[dict[str, str]]:
        """The events received so far, each as its fields."""
        found = []
        for block in self.body.decode().split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line
                          and not line.startswith(":"))
            if "event" in fields:
                found.append(fields)
        return found

    def ids(self) -> list[int]:
        """The ids of the hit events received so far."""
        return [int(event["id"]) for event in self.events() if event["event"] == "hit"]

    def leave(self) -> None:
        """The connection is lost, as when the client goes away (or after an abort)."""
        if not self.left:
            self.left = True
            self.channel.connectionLost(Failure(ConnectionDone("the client left")))


def dechunk(data: bytes) -> bytes:
    """The body that HTTP/1.1 chunks carry (as far as they arrived)."""
    body = []
    while data:
        size, _, rest = data.partition(b"\r\n")
        if not int(size, 16):
            break
        body.append(rest[:int(size, 16)])
        data = rest[int(size, 16) + 2:]
    return b"".join(body)


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
             headers: dict[bytes, bytes] | None = None, hub: EventHub | None = None) -> Client:
        client = Client(hub or self.hub, selection, since, headers)
        self.addCleanup(client.leave)
        return client

    def test_matchingHitsOnly(self):
        """A stream gets a hit event, with an id and the hit's JSON, only for matching hits."""
        client = self.open()
        self.assertEqual(client.headers[b"content-type"], b"text/event-stream; charset=utf-8")
        self.assertTrue(client.body.startswith(RETRY))
        self.append(combined("/yes"), combined("/no", status=404), combined("/also"))
        events = client.events()
        self.assertEqual([event["id"] for event in events], ["1", "3"])
        self.assertEqual([json.loads(event["data"])["resource"] for event in events],
                         ["/yes", "/also"])
        self.assertEqual({event["event"] for event in events}, {"hit"})

    def test_burstIsOneWrite(self):
        """A burst of hits read in one poll reaches each client in one write."""
        client = self.open()
        before = len(client.transport.sizes)
        self.append(*[combined(f"/burst{n}") for n in range(50)])
        self.assertEqual(len(client.transport.sizes), before + 1)
        self.assertEqual(len(client.events()), 50)

    def test_replayAfterLastEventId(self):
        """A client reconnecting with Last-Event-ID gets the kept hits it missed, in order."""
        self.append(*[combined(f"/h{n}") for n in range(1, 6)])
        client = self.open(headers={b"Last-Event-ID": b"3"})
        self.assertEqual(client.ids(), [4, 5])
        self.assertEqual(self.open(since=4).ids(), [5])
        self.assertEqual(self.open(since=0, headers={b"Last-Event-ID": b"4"}).ids(), [5])

    def test_capRefusesWith503(self):
        """Past the most streams open at once, a new one gets 503 and a reason."""
        hub = EventHub(self.records, self.clock, max_streams=2)
        clients = [self.open(hub=hub) for _ in range(3)]
        self.assertEqual([client.code for client in clients], [200, 200, 503])
        self.assertEqual(clients[2].body, b"too many event streams open (at most 2)\n")
        self.assertEqual(clients[2].headers[b"retry-after"], b"10")
        for client in clients[:2]:
            client.leave()
        self.assertEqual(hub.streams, [])

    def test_capFromEnvironment(self):
        """Without a cap given, $WEBLOG_MAX_STREAMS is read when the first stream opens."""
        with mock.patch.dict(os.environ, {"WEBLOG_MAX_STREAMS": "1"}):
            hub = EventHub(self.records, self.clock)
            self.assertEqual([self.open(hub=hub).code for _ in range(2)], [200, 503])

    def test_badCapRefusesStreamsOnly(self):
        """A bad $WEBLOG_MAX_STREAMS does not stop the hub being made: its streams fail."""
        with mock.patch.dict(os.environ, {"WEBLOG_MAX_STREAMS": "0"}):
            hub = EventHub(self.records, self.clock)
            self.assertEqual(self.open(hub=hub).code, 500)
        self.assertEqual(len(self.flushLoggedErrors(ConfigError)), 1)
        self.assertEqual(hub.streams, [])

    def test_finishedStreamIsForgotten(self):
        """A client that goes away is removed, and the hub stops listening and beating."""
        client = self.open()
        self.assertEqual(len(self.hub.streams), 1)
        self.assertEqual(self.records.listening, 1)
        client.leave()
        self.assertEqual(self.hub.streams, [])
        self.assertEqual(self.records.listening, 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_heartbeatAndStats(self):
        """An idle stream gets a heartbeat comment every 15 s; aggregates every 5 s if changed."""
        client = self.open()
        self.append(combined("/counted"))
        self.clock.advance(5)
        stats = [event for event in client.events() if event["event"] == "stats"]
        self.assertEqual(len(stats), 1)
        data = json.loads(stats[0]["data"])
        self.assertEqual(data["top"]["resources"], [["/counted", 1]])
        self.assertEqual(data["log"]["lines"], 1)
        self.clock.advance(5)  # nothing changed: no new stats
        self.assertEqual(len([e for e in client.events() if e["event"] == "stats"]), 1)
        self.assertNotIn(HEARTBEAT, client.body)
        self.clock.advance(5)
        self.assertIn(HEARTBEAT, client.body)

    def test_slowClientDropped(self):
        """
        A client that stops reading is kept while what waits in its stream from before is
        within the bound, whatever its transport may hold besides, and dropped by the next
        batch once it is past it.
        """
        client = self.open(Selection(status="all", referrer="any"))
        client.transport.stalled = True
        batch = [combined(f"/slow/{'x' * 1500}") for _ in range(20)]
        while not client.stream.paused:
            self.append(*batch)  # written, until the transport pauses the stream
        while client.stream.pending_bytes <= self.hub.max_unsent:
            self.assertFalse(client.aborted)
            self.append(*batch)  # waits in the stream
        self.assertFalse(client.aborted)
        self.append(combined("/more"))  # what waits from before is past the bound
        self.assertTrue(client.aborted)
        self.assertEqual(self.hub.streams, [])
        self.assertEqual(self.hub.unsent.total, 0)

    def test_resumeResetsUnsent(self):
        """A client that catches up is not dropped for what it already read."""
        client = self.open()
        self.hub.max_unsent = 1000
        client.transport.stalled, client.transport.room = True, 0
        for _ in range(5):
            self.append(*[combined(f"/ok{n}") for n in range(30)])
            self.assertTrue(client.stream.paused)
            client.transport.read()
        self.assertFalse(client.aborted)
        self.assertEqual(len(self.hub.streams), 1)
        self.assertEqual(len(client.events()), 150)

    def test_pausedTransportCounted(self):
        """
        While the transport has paused a stream, what it may hold counts, at most its room,
        the write that paused it and that write's framing; nothing is written to it then,
        and nothing of it counts once it drained.
        """
        client = self.open(Selection(status="all", referrer="any"))
        client.transport.stalled = True
        self.assertEqual(self.hub.unsent.in_transports, 0)
        while not client.stream.paused:
            self.append(*[combined(f"/p/{'x' * 1500}") for _ in range(10)])
        stream = client.stream
        paused_by = client.transport.sizes[-1]
        self.assertGreater(client.transport.unread, TRANSPORT_ROOM)
        self.assertLessEqual(client.transport.unread, stream.in_transport)
        self.assertLessEqual(stream.in_transport, TRANSPORT_ROOM + paused_by + FRAMING)
        self.assertEqual(self.hub.unsent.in_transports, stream.in_transport)
        writes = len(client.transport.sizes)
        self.append(combined("/waits"))
        self.clock.advance(15)
        self.assertEqual(len(client.transport.sizes), writes)  # it all waits in the stream
        self.assertEqual(stream.waiting(), stream.pending_bytes + stream.in_transport)
        client.transport.read()
        self.assertEqual((stream.in_transport, self.hub.unsent.in_transports), (0, 0))
        self.assertEqual(stream.pending_bytes, 0)
        self.assertIn(b"/waits", client.body)

    def test_leavingPausedStreamUncounted(self):
        """A paused stream that goes away no longer counts, in the stream or its transport."""
        client = self.open()
        client.transport.stalled, client.transport.room = True, 0
        self.append(combined("/first"))
        self.append(combined("/second"))
        self.assertGreater(self.hub.unsent.total, 0)
        client.leave()
        self.assertEqual((self.hub.unsent.total, self.hub.unsent.pieces), (0, {}))

    def test_mostBehindShedFirst(self):
        """Past the bound on what waits for all streams, the streams most behind are dropped."""
        clients = [self.open() for _ in range(3)]
        for waiting, client in zip((5000, 100, 3000), clients, strict=True):
            client.transport.stalled, client.transport.room = True, 0
            client.stream.send(b"x")  # written: the transport pauses the stream
            client.stream.send(b"x" * waiting)
        in_transports = sum(client.stream.in_transport for client in clients)
        self.assertEqual(self.hub.unsent.in_transports, in_transports)
        self.hub.max_unsent_total = in_transports + 8000
        self.append(combined("/shed"))
        self.assertEqual([client.aborted for client in clients], [True, False, False])
        self.assertEqual([stream.request for stream in self.hub.streams],
                         [client.page.request for client in clients[1:]])
        self.assertLessEqual(self.hub.unsent.total, self.hub.max_unsent_total)

    def test_sharedBatchCountsOnce(self):
        """A batch that many stalled streams hold is one object, counted once against the bound."""
        clients = [self.open() for _ in range(50)]
        for client in clients:
            client.transport.stalled, client.transport.room = True, 0
        self.append(combined("/first"))  # written; every transport pauses
        batch = [combined(f"/shared{n}") for n in range(20)]
        # what the 50 transports hold counts for each, but the batch far less than 50 times
        self.hub.max_unsent_total = self.hub.unsent.in_transports + 2 * len("".join(batch)) + 4000
        self.append(*batch)
        held = {id(piece) for stream in self.hub.streams for piece in stream.pending}
        self.assertEqual(len(held), 1)
        self.assertEqual([client.aborted for client in clients], [False] * 50)
        self.assertEqual(len(self.hub.streams), 50)

    def test_heldCountedOnceAndReleased(self):
        """What waits is counted once per piece as it is queued, and nothing once written."""
        clients = [self.open() for _ in range(3)]
        for client in clients:
            client.transport.stalled, client.transport.room = True, 0
        self.append(combined("/first"))  # written; every transport pauses
        self.append(*[combined(f"/held{n}") for n in range(5)])
        [piece] = {id(piece): piece for stream in self.hub.streams
                   for piece in stream.pending}.values()
        self.assertEqual(self.hub.unsent.pieces_bytes, len(piece))
        for client in clients:
            client.transport.read()  # the piece is written, and pauses the stream again
        self.assertEqual((self.hub.unsent.pieces_bytes, self.hub.unsent.pieces), (0, {}))
        for client in clients:
            client.transport.read()  # nothing more to write
        self.assertEqual(self.hub.unsent.total, 0)
        clients[0].leave()
        self.assertEqual(self.hub.unsent.total, 0)

    def test_stalledCrowdBounded(self):
        """
        Whatever many stalled clients hold, what waits counts it all (the transports'
        part an upper bound, never less than they hold) and stays within the bound.
        """
        clients = [self.open(Selection(status="all", referrer="any")) for _ in range(40)]
        for number, client in enumerate(clients):
            client.transport.stalled = number % 2 == 0  # half of them never read
        self.hub.max_unsent_total = 1 << 20
        long = "x" * 1500
        for round in range(30):
            self.append(*[combined(f"/crowd/{round}/{long}") for _ in range(20)])
            live = [client for client in clients if not client.aborted]
            for client in live:
                stream = client.stream
                if stream.paused:
                    self.assertLessEqual(client.transport.unread, stream.in_transport)
                else:
                    self.assertLessEqual(client.transport.unread, TRANSPORT_ROOM)
            self.assertEqual(self.hub.unsent.in_transports,
                             sum(client.stream.in_transport for client in live))
            self.assertLessEqual(self.hub.unsent.total, self.hub.max_unsent_total)
        self.assertEqual([client.aborted for client in clients[1::2]], [False] * 20)
        self.assertEqual([client.aborted for client in clients[::2]], [True] * 20)

    def test_bigBatchReachesReadingClient(self):
        """A batch far over the bound reaches a client that reads, in pieces, and drops nobody."""
        client = self.open(Selection(status="all", referrer="any", limit=1000))
        client.transport.stalled = True  # pauses past 64 KiB unread, and reads it all at once
        long = "/" + "\\x01" * 3000
        self.append(*[combined(long, f"http://a.example/{long}", agent=long) for _ in range(40)])
        self.records.catchUp()
        for _ in range(200):
            self.clock.advance(0)  # the hits are made in slices
            client.transport.read()
        self.assertFalse(client.aborted)
        self.assertEqual(len(client.events()), 40)
        self.assertGreater(len(client.body), self.hub.max_unsent)
        self.assertLessEqual(max(client.transport.sizes), 2 * 64 * 1024)

    def test_bigReplayAfterReconnect(self):
        """A client reconnecting with since=0 gets its long missed rows, not a reset."""
        long = "/" + "\\x01" * 3000
        self.append(*[combined(long, f"http://a.example/{long}", agent=long) for _ in range(35)])
        self.records.catchUp()
        client = Client(self.hub, Selection(), 0)
        client.transport.stalled = True
        self.addCleanup(client.leave)
        self.clock.advance(0)
        self.assertTrue(client.body.startswith(RETRY))
        for _ in range(200):
            if not client.stream.pending and not client.stream.replaying:
                break
            client.transport.read()
            self.clock.advance(0)
        self.assertFalse(client.aborted)
        self.assertEqual(client.ids(), list(range(1, 36)))

    def test_heartbeatSurvivesError(self):
        """A failing heartbeat is logged and the next one still runs."""
        client = self.open()
        self.append(combined("/one"))
        with mock.patch.object(self.records, "status", side_effect=RuntimeError("boom")):
            self.clock.advance(5)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.append(combined("/two"))
        self.clock.advance(5)
        stats = [event for event in client.events() if event["event"] == "stats"]
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
        yield collector.waitFor(RETRY)
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
            self.assertIn(b"<p>" + reason, body)

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

    def open(self, since: int | None = None) -> Client:
        """Open a stream of every hit, as the page's script would, with C{since}."""
        client = Client(self.hub, Selection(status="all", referrer="any", limit=1000), since)
        self.addCleanup(client.leave)
        return client

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
        client = self.open(since=page_last)
        self.records.catchUp()
        self.clock.advance(0)
        self.assertEqual(client.ids(), list(range(page_last + 1, 41)))

    def test_replayThenLiveOnce(self):
        """A reconnecting stream gets the missed hits, then the live ones, each once."""
        self.open()
        self.write(10)
        self.records.catchUp()
        client = self.open(since=4)
        self.write(5, 10)
        self.records.catchUp()
        self.clock.advance(0)
        self.assertEqual(client.ids(), list(range(5, 16)))

    def test_slicedBatchesInOrderOnce(self):
        """Batches announced while a fan-out runs in slices reach a stream in order, once."""
        client = self.open()
        self.open()  # a second stream, so that a fan-out takes several steps
        with mock.patch("weblog.slices.SLICE", 0):  # every job in slices of one step
            self.write(1200)
            self.records.catchUp()
            self.clock.advance(0)
        self.assertEqual(client.ids(), list(range(1, 1201)))

    def test_announcedNeverGoesBack(self):
        """
        When the last stream leaves during an announcement in slices, the count of hits
        announced does not go back, and a reconnect is not replayed what it had.
        """
        first = self.open()
        with mock.patch("weblog.slices.SLICE", 0):  # every job in slices of one step
            self.write(1200)
            self.records.catchUp()
            first.leave()  # the last stream leaves
            self.records.poll()
            told = self.records.announced
            self.clock.advance(0)
            self.assertEqual(self.records.announced, told)
            client = self.open(since=told)
            self.clock.advance(0)
        self.assertEqual(client.ids(), [])

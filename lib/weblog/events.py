# -*- test-case-name: tests.test_events -*-
"""
Server-Sent Events for C{/weblog.rpy/events}: one hub per Records fans new hits out.

Each stream gets the new hits of a batch in as few writes as fit Twisted's
transport buffer (a burst is coalesced, a big one split), a heartbeat comment
while idle, and on reconnection with C{Last-Event-ID} the kept hits it missed.
What the transport has no room for waits in the stream, counted
(L{weblog.streams}): a client that does not keep up (more than 256 KiB still
waiting in its stream when new events come) is dropped, and the clients most behind are
dropped while what waits for all of them passes 16 MiB, so memory stays
bounded whatever the clients do (16 MiB, and less than 64 KiB in the
transport of each stream that keeps up, as in any connection's buffers); a
client reading at full speed is never dropped for the size of a batch.

The hub outlives the requests, in the site registry beside Records, as
C{www/weblog.rpy} keeps it::

    hub = registry.getComponent(IEventHub)
    if hub is None:
        hub = EventHub(records)
        registry.setComponent(IEventHub, hub)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from twisted.internet.defer import CancelledError
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall, SchedulerStopped
from twisted.logger import Logger
from twisted.python.components import Componentized
from twisted.python.failure import Failure
from twisted.web.server import NOT_DONE_YET, Request
from zope.interface import implementer

from weblog import settings
from weblog.hit import Hit, count_of
from weblog.interfaces import IEventHub, IRecords, kept_for
from weblog.selection import Selection
from weblog.slices import OneAtATime, default_reactor
from weblog.sse import HEARTBEAT, RETRY, hit_event, stats_event
from weblog.streams import EventStream, Unsent, pieces

__all__ = ["EventHub", "hub_for"]

_log = Logger()


@implementer(IEventHub)
class EventHub:
    """Fans the new hits of one Records out to every connected event stream."""

    MERGE_MOST = 5000
    """The most hits of queued batches fanned out together."""

    def __init__(self, records: IRecords, clock: IReactorTime | None = None,
                 max_streams: int | None = None) -> None:
        """
        @param records: the hits to stream.
        @param clock: the reactor for heartbeats; default the global one.
        @param max_streams: the most streams open at once; default C{$WEBLOG_MAX_STREAMS},
            read when the first stream opens, so that a bad value refuses the streams
            (as a L{ConfigError}) and not the page that made the hub.
        """
        self.records = records
        self.clock = clock
        self.max_streams = max_streams
        self.max_unsent = 256 << 10
        """A stream is dropped when, as new events come, more than this still waits in it
        (what its transport holds besides is counted in the bound for all streams: counted
        here, as the most it may hold, it would drop clients that read at full speed)."""
        self.max_unsent_total = 16 << 20
        """The streams most behind are dropped while this many bytes wait for all."""
        self.unsent = Unsent()
        self.dropped = 0
        """How many streams were dropped for not reading."""
        """What waits for the streams: their pieces, each counted once, and what the
        transports of the paused ones hold."""
        self.max_replay = 4 << 20
        """The most bytes of missed hits replayed to a reconnecting stream (the newest)."""
        self.heartbeat_seconds = 15.0
        self.stats_seconds = 5.0
        self.streams: list[EventStream] = []
        self._unlisten: Any = None
        self._heartbeat: LoopingCall | None = None
        self._stats_said: tuple[Any, ...] = ()
        self._batches: deque[tuple[list[Hit], int]] = deque()  # batches to fan out, in order
        self._fanning = OneAtATime(records.sliced)  # fan-outs, in slices, one at a time
        self._last_stats = self._last_beat = 0.0

    def open(self, request: Request, selection: Selection, since: int | None = None) -> bytes | int:
        """
        Start an event stream for C{request}, or refuse it with 503 when too many are open.

        @param since: the id of the last hit the client has (the C{since} parameter); its
            C{Last-Event-ID} header, sent when an EventSource reconnects, wins over it.
        @return: C{NOT_DONE_YET}, or the body of the refusal.
        @raise ConfigError: if no C{max_streams} was given and C{$WEBLOG_MAX_STREAMS} is
            not a number from 1 to 100000.
        """
        if self.max_streams is None:
            self.max_streams = settings.max_streams()
        if len(self.streams) >= self.max_streams:
            request.setResponseCode(503)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            request.setHeader(b"retry-after", b"10")
            return f"too many event streams open (at most {self.max_streams})\n".encode()
        request.setHeader(b"content-type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"x-accel-buffering", b"no")
        stream = EventStream(request, selection, self.unsent, self.remove)
        self.streams.append(stream)
        request.notifyFinish().addBoth(lambda _: stream.close())
        if self._unlisten is None:
            self._unlisten = self.records.listen(self._new_hits)
            self._start_heartbeat()
        stream.write(RETRY)  # the headers go out now, whatever comes next
        self._replay(stream, self._last_id(request, since))
        return NOT_DONE_YET

    @staticmethod
    def _last_id(request: Request, since: int | None) -> int | None:
        """The id of the last hit the client has: its C{Last-Event-ID}, else C{since}."""
        header = request.getHeader(b"last-event-id")
        last = None if header is None else count_of(header.strip())
        return since if last is None else last

    def _replay(self, stream: EventStream, last: int | None) -> None:
        """
        Send C{stream} the kept hits after C{last} that it matches (its newest C{limit}).

        They are those the listeners were told of already, up to C{announced}; later
        ones come live, and none at or below the stream's floor comes twice.  They are
        found newest first in slices, since every kept hit may have to be made to find
        them, and at most C{max_replay} bytes of them are sent.
        """
        announced = self.records.announced
        stream.floor = announced if last is None else max(last, announced)
        if last is None or last >= announced:
            stream.replayed([])
            return
        found: list[bytes] = []
        size = [0]

        def event(event_id: int, hit: Hit) -> bytes:
            data = hit_event(event_id, hit)
            size[0] += len(data)
            return data

        def steps() -> Iterator[None]:
            for step in stream.selection.choose(self.records.walk(last, announced), found, event):
                if size[0] > self.max_replay:
                    break  # the newest that fit: older ones are past what a client is owed
                yield step

        def done(_: object = None) -> None:
            stream.replayed(pieces(reversed(found)))
            self._shed()

        def failed(failure: Failure) -> None:
            if not failure.check(CancelledError, SchedulerStopped):
                _log.failure("replaying missed hits failed", failure)
            stream.replayed([])

        job = self.records.sliced(steps())
        if job is None:
            done()
        else:
            job.addCallbacks(done, failed)
            stream.request.notifyFinish().addBoth(lambda _: job.cancel())

    def remove(self, stream: EventStream) -> None:
        """Forget a stream; stop listening and beating when none is left."""
        if stream in self.streams:
            self.streams.remove(stream)
        if not self.streams:
            if self._unlisten is not None:
                self._unlisten()
                self._unlisten = None
            self._batches.clear()
            self._fanning.cancel()
            if self._heartbeat is not None and self._heartbeat.running:
                self._heartbeat.stop()
            self._heartbeat = None

    def _new_hits(self, hits: list[Hit], last_id: int) -> None:
        """Fan a batch of new hits out to the streams, after the batches before it, in slices."""
        self._batches.append((hits, last_id))
        self._fanning.start(self._fan_out)  # under way already, it takes this batch too

    def _fan_out(self) -> Iterator[None]:
        """
        Queue for each stream the new hits that match its selection, in pieces, a step each.

        A stream that still has more than C{max_unsent} waiting in it from before
        is dropped: it stopped reading.  Streams with the same selection share the
        same pieces, so a burst costs memory once per selection, not per client;
        each event is encoded once, and each encoding and each stream is a step.
        """
        while self._batches:
            hits, last_id = self._batches.popleft()
            # Batches that queued meanwhile go out together: a stream costs a step per
            # fan-out, not per batch, so a fan-out that falls behind catches up.
            while (self._batches and len(hits) < self.MERGE_MOST
                   and self._batches[0][1] - len(self._batches[0][0]) == last_id):
                more, last_id = self._batches.popleft()
                hits = hits + more
            first = last_id - len(hits) + 1
            encoded: dict[int, bytes] = {}
            joined: dict[tuple[str, ...], list[bytes]] = {}
            for stream in list(self.streams):
                if stream.closed or last_id <= stream.floor:
                    continue  # gone, or has these hits already
                if stream.pending_bytes > self.max_unsent:
                    stream.drop()
                    self.dropped += 1
                    continue
                key = stream.selection.filter_key()
                start = max(first, stream.floor + 1)  # past its floor: all but the first batch
                data = joined.get(key) if start == first else None
                if data is None:
                    chunks = []
                    for offset in range(start - first, len(hits)):
                        if stream.selection.matches(hits[offset]):
                            event = encoded.get(offset)
                            if event is None:
                                event = encoded[offset] = hit_event(first + offset, hits[offset])
                            chunks.append(event)
                        yield None
                    data = pieces(chunks)
                    if start == first:
                        joined[key] = data
                stream.send(data)
                yield None
            self._shed()

    def _shed(self) -> None:
        """
        While what waits for all streams passes the bound, drop the streams most behind.

        A piece queued for many streams is one shared bytes object, so it counts
        once, and only stops counting when the last stream holding it writes it or
        is dropped; what the transport of a paused stream holds is its own copy,
        and counts for each.  Both are kept as they change (L{Unsent}), so this
        costs nothing while under the bound.
        """
        if self.unsent.total <= self.max_unsent_total:
            return
        for stream in sorted(self.streams, key=EventStream.waiting, reverse=True):
            if self.unsent.total <= self.max_unsent_total:
                break
            stream.drop()
            self.dropped += 1

    def _start_heartbeat(self) -> None:
        """Every second: aggregates when they changed (at most every 5 s), a comment when idle."""
        clock = self.clock if self.clock is not None else default_reactor()
        self._heartbeat = LoopingCall(self._beat)
        self._heartbeat.clock = clock
        self._last_stats = self._last_beat = clock.seconds()
        self._heartbeat.start(1.0, now=False)

    def _beat(self) -> None:
        """Send the aggregates if they changed, and a heartbeat comment every 15 s; never die."""
        assert self._heartbeat is not None
        try:
            self._beat_once(self._heartbeat.clock.seconds())
        except Exception:
            # A LoopingCall whose function raises stops for good: log it and beat on.
            _log.failure("the event streams' heartbeat failed; it goes on")

    def _beat_once(self, now: float) -> None:
        """One heartbeat at time C{now}."""
        if now - self._last_stats >= self.stats_seconds:
            self._last_stats = now
            # what a stats event says: the counts, and the history's progress
            said = (self.records.aggregates.total, *self.records.history_status().values())
            if said != self._stats_said:
                self._stats_said = said
                event = stats_event(self.records)
                for stream in list(self.streams):
                    stream.send(event)  # one piece for all
        if now - self._last_beat >= self.heartbeat_seconds:
            self._last_beat = now
            for stream in list(self.streams):
                stream.send(HEARTBEAT)  # one piece for all


def hub_for(registry: Componentized, records: IRecords) -> IEventHub:
    """The event hub the site registry keeps for C{records}, made at the first request."""
    hub: IEventHub = kept_for(registry, IEventHub, records, EventHub)
    return hub

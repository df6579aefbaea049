# -*- test-case-name: tests.test_events -*-
"""
Server-Sent Events for C{/weblog.rpy/events}: one shared hub per Records fans new hits out.

Each stream gets one write per batch of new hits (a burst is coalesced), a
heartbeat comment while idle, and on reconnection with C{Last-Event-ID} the
kept hits it missed.  Streams are capped in number, and a client that does
not keep up is dropped once what waits unsent for it would pass 256 KiB,
and the clients most behind are dropped while what waits for all of them
passes 16 MiB, so memory stays bounded whatever the clients do.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from twisted.internet.interfaces import IPushProducer, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.web.server import NOT_DONE_YET, Request
from zope.interface import implementer

from persist import IRecords, env_int
from selection import Selection
from webloglib import Hit, json_text

__all__ = ["EventHub", "hub_for"]

_log = Logger()
_hubs: WeakKeyDictionary[IRecords, EventHub] = WeakKeyDictionary()


def hub_for(records: IRecords, clock: IReactorTime | None = None) -> EventHub:
    """
    The one hub of C{records}, made at first use.

    @param records: the hits to stream.
    @param clock: the reactor for heartbeats; default the global one.
    """
    hub = _hubs.get(records)
    if hub is None:
        hub = _hubs[records] = EventHub(records, clock)
    return hub


def hit_event(event_id: int, hit: Hit) -> bytes:
    """One C{hit} event, its data the hit as one line of JSON."""
    return b"id: %d\nevent: hit\ndata: %s\n\n" % (event_id, json_text(hit.to_json()).encode())


@implementer(IPushProducer)
class EventStream:
    """One client's event stream, which knows how much of what it was sent still waits."""

    def __init__(self, hub: EventHub, request: Request, selection: Selection) -> None:
        self.hub = hub
        self.request = request
        self.selection = selection
        self.paused = False
        self.unsent = 0
        self.closed = False

    def buffers(self) -> tuple[bytes, int, list[bytes], int] | None:
        """
        What the TCP transport holds for this stream, or None for another kind of transport.

        @return: the buffer being sent, how much of it is sent, the pieces
            written since (often bytes objects that other streams hold too),
            and their total length.
        """
        transport: Any = self.request.transport
        own = getattr(transport, "dataBuffer", None)
        offset = getattr(transport, "offset", None)
        pieces = getattr(transport, "_tempDataBuffer", None)
        pending = getattr(transport, "_tempDataLen", None)
        if (isinstance(own, bytes) and isinstance(offset, int) and isinstance(pieces, list)
                and isinstance(pending, int)):
            return own, offset, pieces, pending
        return None

    def waiting(self) -> int:
        """
        How many bytes written to this stream are not sent yet.

        Read from the TCP transport's buffers where it has them; otherwise
        what was written since the transport last asked us to pause.
        """
        buffers = self.buffers()
        if buffers is None:
            return self.unsent
        own, offset, _, pending = buffers
        return len(own) - offset + pending

    def held(self) -> int:
        """
        How many bytes the transport holds for this stream, counting shared pieces in full.

        The buffer being sent is held whole until all of it is sent.
        """
        buffers = self.buffers()
        if buffers is None:
            return self.unsent
        own, _, _, pending = buffers
        return len(own) + pending

    def send(self, data: bytes) -> bool:
        """Write C{data}, or drop the client if it would wait past the bound; say which."""
        if self.closed:
            return False
        if self.waiting() + len(data) > self.hub.max_unsent:
            self.drop()
            return False
        if self.paused:
            self.unsent += len(data)
        self.request.write(data)
        return True

    def drop(self) -> None:
        """Close the connection of a client that does not keep up."""
        _log.info("dropping an event stream whose client does not keep up")
        self.close()
        transport: Any = self.request.transport
        if transport is not None:
            transport.abortConnection()

    def close(self) -> None:
        """Forget this stream."""
        if not self.closed:
            self.closed = True
            self.hub.remove(self)

    def pauseProducing(self) -> None:
        """The transport's buffer is full: count what is written until it drains."""
        self.paused = True

    def resumeProducing(self) -> None:
        """The transport drained."""
        self.paused = False
        self.unsent = 0

    def stopProducing(self) -> None:
        """The connection is gone."""
        self.close()


class EventHub:
    """Fans the new hits of one Records out to every connected event stream."""

    def __init__(self, records: IRecords, clock: IReactorTime | None = None) -> None:
        """
        @param records: the hits to stream.
        @param clock: the reactor for heartbeats; default the global one.
        @raise ValueError: if C{$WEBLOG_MAX_STREAMS} is not a number from 1 to 100000.
        """
        self.records = records
        self.clock = clock
        self.max_streams = env_int("WEBLOG_MAX_STREAMS", 256, 1, 100_000)
        self.max_unsent = 256 << 10
        """A stream is dropped once this many bytes would wait for it."""
        self.max_unsent_total = 16 << 20
        """The streams most behind are dropped while this many bytes wait for all."""
        self.heartbeat_seconds = 15.0
        self.stats_seconds = 5.0
        self.streams: list[EventStream] = []
        self._unlisten: Any = None
        self._heartbeat: LoopingCall | None = None
        self._stats_total = -1
        self._last_stats = self._last_beat = 0.0

    def open(self, request: Request, selection: Selection, since: int | None = None) -> bytes | int:
        """
        Start an event stream for C{request}, or refuse it with 503 when too many are open.

        @param since: the id of the last hit the client has (the C{since} parameter); its
            C{Last-Event-ID} header, sent when an EventSource reconnects, wins over it.
        @return: C{NOT_DONE_YET}, or the body of the refusal.
        """
        if len(self.streams) >= self.max_streams:
            request.setResponseCode(503)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            request.setHeader(b"retry-after", b"10")
            return f"too many event streams open (at most {self.max_streams})\n".encode()
        request.setHeader(b"content-type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"x-accel-buffering", b"no")
        stream = EventStream(self, request, selection)
        self.streams.append(stream)
        request.registerProducer(stream, True)
        request.notifyFinish().addBoth(lambda _: stream.close())
        if self._unlisten is None:
            self._unlisten = self.records.listen(self._new_hits)
            self._start_heartbeat()
        stream.send(b"retry: 2000\n\n" + self._missed(request, selection, since))
        return NOT_DONE_YET

    def _missed(self, request: Request, selection: Selection, since: int | None) -> bytes:
        """The kept hits after the client's C{Last-Event-ID} (or C{since}), oldest first."""
        header = request.getHeader(b"last-event-id")
        last = since
        if header is not None and header.strip().isdigit() and len(header) <= 18:
            last = int(header.strip())
        if last is None:
            return b""
        missed = [(event_id, hit) for event_id, hit in self.records.since(last)
                  if selection.matches(hit)]
        return b"".join(hit_event(event_id, hit) for event_id, hit in missed[-selection.limit:])

    def remove(self, stream: EventStream) -> None:
        """Forget a stream; stop listening and beating when none is left."""
        if stream in self.streams:
            self.streams.remove(stream)
        if not self.streams:
            if self._unlisten is not None:
                self._unlisten()
                self._unlisten = None
            if self._heartbeat is not None and self._heartbeat.running:
                self._heartbeat.stop()
            self._heartbeat = None

    def _new_hits(self, hits: list[Hit], last_id: int) -> None:
        """
        Send each stream, in one write, the new hits that match its selection.

        Streams with the same selection share one bytes object, so a burst
        costs memory once per selection, not once per client.
        """
        first = last_id - len(hits) + 1
        encoded: dict[int, bytes] = {}
        joined: dict[Selection, bytes] = {}
        for stream in list(self.streams):
            data = joined.get(stream.selection)
            if data is None:
                chunks = []
                for offset, hit in enumerate(hits):
                    if stream.selection.matches(hit):
                        event = encoded.get(offset)
                        if event is None:
                            event = encoded[offset] = hit_event(first + offset, hit)
                        chunks.append(event)
                data = joined[stream.selection] = b"".join(chunks)
            if data:
                stream.send(data)
        self._shed()

    def _shed(self) -> None:
        """
        While what waits for all streams passes the bound, drop the streams most behind.

        A batch written to many streams is one shared bytes object until each
        transport copies it into its own buffer, so it counts once, and only
        stops counting when the last stream holding it is dropped.
        """
        if sum(stream.held() for stream in self.streams) <= self.max_unsent_total:
            return  # even counting shared pieces once per stream, within the bound
        shared: dict[int, list[Any]] = {}  # id of a piece -> [its size, streams holding it]
        held: list[tuple[int, int, list[int], EventStream]] = []
        for stream in self.streams:
            buffers = stream.buffers()
            if buffers is None:
                held.append((stream.unsent, stream.unsent, [], stream))
                continue
            sending, _, written, pending = buffers
            for piece in written:
                shared.setdefault(id(piece), [len(piece), 0])[1] += 1
            held.append((len(sending) + pending, len(sending), [id(piece) for piece in written],
                         stream))
        total = sum(own for _, own, _, _ in held) + sum(size for size, _ in shared.values())
        if total <= self.max_unsent_total:
            return
        held.sort(key=lambda entry: entry[0], reverse=True)
        for _, own, pieces, stream in held:
            if total <= self.max_unsent_total:
                break
            stream.drop()
            total -= own
            for key in pieces:
                entry = shared[key]
                entry[1] -= 1
                if entry[1] == 0:
                    total -= entry[0]

    def _start_heartbeat(self) -> None:
        """Every second: aggregates when they changed (at most every 5 s), a comment when idle."""
        clock = self.clock
        if clock is None:
            from twisted.internet import reactor

            clock = reactor
        self._heartbeat = LoopingCall(self._beat)
        self._heartbeat.clock = clock
        self._last_stats = self._last_beat = clock.seconds()
        self._heartbeat.start(1.0, now=False)

    def _beat(self) -> None:
        """Send the aggregates if they changed, and a heartbeat comment every 15 s."""
        assert self._heartbeat is not None
        now = self._heartbeat.clock.seconds()
        if now - self._last_stats >= self.stats_seconds:
            self._last_stats = now
            total = self.records.aggregates.total
            if total != self._stats_total:
                self._stats_total = total
                stats = self.records.aggregates.to_json()
                stats["log"] = self.records.status()
                data = json_text(stats).encode()
                for stream in list(self.streams):
                    stream.send(b"event: stats\ndata: %s\n\n" % data)
        if now - self._last_beat >= self.heartbeat_seconds:
            self._last_beat = now
            for stream in list(self.streams):
                stream.send(b": heartbeat\n\n")


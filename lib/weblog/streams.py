# -*- test-case-name: tests.test_events -*-
"""
One client's event stream, and the count of what waits unsent for all of them.

A stream is the streaming producer of its request, so Twisted's flow control
tells it all it needs: a transport pauses its producer once it buffers more
than L{TRANSPORT_ROOM} bytes, and resumes it once everything is sent.  The
stream writes only while it is not paused, so

 - while it is not paused, its transport holds at most L{TRANSPORT_ROOM}
   bytes, as any connection's buffers do: a client that keeps up costs that;
 - while it is paused, its transport holds at most L{TRANSPORT_ROOM}, the
   piece whose write paused it and that write's HTTP framing
   (L{EventStream.in_transport}), and nothing more is written to it;
 - everything else waits in the stream, in L{EventStream.pending}.

L{Unsent} counts the last two for all the streams of a hub, as they change,
without asking any transport how much it holds (their interfaces do not say).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.web.server import Request
from zope.interface import implementer

from weblog.selection import Selection

__all__ = ["FRAMING", "PIECE", "TRANSPORT_ROOM", "EventStream", "Unsent", "pieces"]

_log = Logger()

PIECE = 64 << 10
"""The most bytes of events written at once (a bigger batch is split), unless one event is
longer: the size of Twisted's transport buffer, past which it pauses the stream."""

TRANSPORT_ROOM = 64 << 10
"""How many bytes a Twisted transport buffers before it pauses its producer
(C{FileDescriptor.bufferSize}); it resumes it once it has sent them all."""

FRAMING = 1 << 10
"""What HTTP adds to a write, at most: its chunk's size line, or the response's head with it."""


def pieces(events: Iterable[bytes]) -> list[bytes]:
    """Join C{events} into pieces of about L{PIECE} bytes, never splitting an event."""
    joined: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for event in events:
        if current and size + len(event) > PIECE:
            joined.append(b"".join(current))
            current, size = [], 0
        current.append(event)
        size += len(event)
    if current:
        joined.append(b"".join(current))
    return joined


class Unsent:
    """
    What waits unsent for the streams of one hub: their pending pieces, each counted once
    however many streams share it, and what the transports of paused streams hold.

    @ivar pieces: the pending pieces, by id: [its size, how many streams hold it].
    @ivar pieces_bytes: the bytes of those pieces, each counted once.
    @ivar in_transports: what the transports of the paused streams hold, at most.
    """

    def __init__(self) -> None:
        self.pieces: dict[int, list[int]] = {}
        self.pieces_bytes = 0
        self.in_transports = 0

    @property
    def total(self) -> int:
        """All the bytes that wait unsent, at most."""
        return self.pieces_bytes + self.in_transports

    def hold(self, piece: bytes) -> None:
        """A stream queued C{piece}: count it, once however many streams hold it."""
        entry = self.pieces.get(id(piece))
        if entry is None:
            self.pieces[id(piece)] = [len(piece), 1]
            self.pieces_bytes += len(piece)
        else:
            entry[1] += 1

    def release(self, piece: bytes) -> None:
        """A stream wrote or let go of C{piece}: it counts no more once no stream holds it."""
        entry = self.pieces[id(piece)]
        entry[1] -= 1
        if entry[1] == 0:
            del self.pieces[id(piece)]
            self.pieces_bytes -= entry[0]


@implementer(IPushProducer)
class EventStream:
    """
    One client's event stream: events wait here until its transport wants them.

    Pieces are shared between the streams of one selection, and counted once
    in the hub's L{Unsent}, as is what the transport of a paused stream holds.

    @ivar pending: what waits to be written, oldest first.
    @ivar pending_bytes: the bytes in L{pending}.
    @ivar paused: whether the transport paused this stream (its buffer is full).
    @ivar in_transport: while paused, the most its transport holds; else 0.
    """

    def __init__(self, request: Request, selection: Selection, unsent: Unsent,
                 gone: Callable[[EventStream], None]) -> None:
        """
        @param request: the client's request; the stream registers as its producer.
        @param selection: the hits this client asked for.
        @param unsent: the hub's count of what waits, kept as pieces come and go.
        @param gone: called once with this stream when it closes.
        """
        self.request = request
        self.selection = selection
        self.unsent = unsent
        self.gone = gone
        self.paused = False
        self.closed = False
        self.pending: deque[bytes] = deque()
        self.pending_bytes = 0
        self.in_transport = 0
        self.last_write = 0
        """The size of the latest write, the one that pauses the stream if any does."""
        self.replaying = True
        """Until the hits it missed are found, live events wait behind them."""
        self.floor = 0
        """The id up to which it has every hit (from its page or its replay): no live event
        at or below it is sent again."""
        request.registerProducer(self, True)

    def write(self, data: bytes) -> None:
        """
        Write C{data} to the request now, noting its size: if this write pauses the stream,
        it is part of what the transport holds.  Pieces come through L{send}; this is for
        the first write only (the headers go out with it) and for L{flush}.
        """
        self.last_write = len(data)
        self.request.write(data)  # may pause this stream, at once

    def send(self, data: list[bytes] | bytes) -> None:
        """Queue C{data} (one piece or several) and write what the transport has room for."""
        if self.closed:
            return
        for piece in [data] if isinstance(data, bytes) else data:
            if piece:
                self.pending.append(piece)
                self.pending_bytes += len(piece)
                self.unsent.hold(piece)
        self.flush()

    def replayed(self, data: list[bytes]) -> None:
        """The missed hits' events are ready: they go first, before any live event."""
        if self.closed:
            return
        self.replaying = False
        for piece in reversed(data):
            self.pending.appendleft(piece)
            self.pending_bytes += len(piece)
            self.unsent.hold(piece)
        self.flush()

    def waiting(self) -> int:
        """How many bytes wait for this client, at most: here, and in its transport if paused."""
        return self.pending_bytes + self.in_transport

    def flush(self) -> None:
        """Write waiting pieces until none is left or the transport pauses this stream."""
        while self.pending and not self.paused and not self.replaying and not self.closed:
            piece = self.pending.popleft()
            self.pending_bytes -= len(piece)
            self.unsent.release(piece)
            self.write(piece)

    def drop(self) -> None:
        """Close the connection of a client that does not keep up."""
        _log.info("dropping an event stream whose client does not keep up")
        self.close()
        transport: Any = self.request.transport
        if transport is not None:
            transport.abortConnection()

    def close(self) -> None:
        """Forget this stream and what waits for it."""
        if not self.closed:
            self.closed = True
            for piece in self.pending:
                self.unsent.release(piece)
            self.pending.clear()
            self.pending_bytes = 0
            self._empty_transport()
            self.gone(self)

    def _empty_transport(self) -> None:
        """Its transport holds nothing more that counts: it sent everything, or it is gone."""
        self.unsent.in_transports -= self.in_transport
        self.in_transport = 0

    def pauseProducing(self) -> None:
        """
        The transport's buffer is full: keep what comes here until it drains.

        It held at most L{TRANSPORT_ROOM} before the write that paused it, so with
        that write it holds at most the room, the write and its framing, and no
        more is written until it resumes this stream.
        """
        if not self.paused and not self.closed:
            self.paused = True
            self.in_transport = TRANSPORT_ROOM + self.last_write + FRAMING
            self.unsent.in_transports += self.in_transport

    def resumeProducing(self) -> None:
        """The transport sent all it held: write what waits."""
        self.paused = False
        self._empty_transport()
        self.flush()

    def stopProducing(self) -> None:
        """The connection is gone."""
        self.close()

# -*- test-case-name: tests.test_events -*-
"""
One client's event stream: what waits for it, written as its transport has room.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.web.server import Request
from zope.interface import implementer

from weblog.selection import Selection

if TYPE_CHECKING:
    from weblog.events import EventHub

__all__ = ["PIECE", "EventStream", "pieces"]

_log = Logger()

PIECE = 64 << 10
"""The most bytes of events written at once (a bigger batch is split); the size of Twisted's
transport buffer, past which it pauses the stream."""


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


@implementer(IPushProducer)
class EventStream:
    """
    One client's event stream: events wait here until its transport wants them.

    The stream writes while the transport has room and stops when Twisted
    pauses it (its buffer holds 64 KiB), so what waits for a client that
    stops reading stays here, in L{pending}, where it is counted, and not in
    the transport.  Pieces are shared between the streams of one selection.

    @ivar pending: what waits to be written, oldest first.
    @ivar pending_bytes: the bytes in L{pending}.
    """

    def __init__(self, hub: EventHub, request: Request, selection: Selection) -> None:
        self.hub = hub
        self.request = request
        self.selection = selection
        self.paused = False
        self.closed = False
        self.pending: deque[bytes] = deque()
        self.pending_bytes = 0
        self.replaying = True
        """Until the hits it missed are found, live events wait behind them."""
        self.floor = 0
        """The id up to which it has every hit (from its page or its replay): no live event
        at or below it is sent again."""

    def send(self, data: list[bytes] | bytes) -> None:
        """Queue C{data} (one piece or several) and write what the transport has room for."""
        if self.closed:
            return
        for piece in [data] if isinstance(data, bytes) else data:
            if piece:
                self.pending.append(piece)
                self.pending_bytes += len(piece)
                self.hub.hold(piece)
        self.flush()

    def replayed(self, data: list[bytes]) -> None:
        """The missed hits' events are ready: they go first, before any live event."""
        if self.closed:
            return
        self.replaying = False
        for piece in reversed(data):
            self.pending.appendleft(piece)
            self.pending_bytes += len(piece)
            self.hub.hold(piece)
        self.flush()

    def in_transport(self) -> int:
        """
        How many bytes the transport holds for this stream, written but not yet sent.

        Twisted's transports say nothing of this through their interfaces, and each
        keeps its own copy of what it was given (up to 64 KiB and a piece, since it
        pauses the stream past 64 KiB), so with a thousand streams it matters: this
        reads a TCP transport's buffer attributes where it has them, else says 0.
        """
        transport = self.request.transport
        data = getattr(transport, "dataBuffer", b"")
        offset = getattr(transport, "offset", 0)
        later = getattr(transport, "_tempDataLen", 0)
        if not (isinstance(data, bytes) and isinstance(offset, int) and isinstance(later, int)):
            return 0
        return len(data) - offset + later

    def waiting(self) -> int:
        """How many bytes wait for this client: here, and in its transport."""
        return self.pending_bytes + self.in_transport()

    def flush(self) -> None:
        """Write waiting pieces until none is left or the transport pauses this stream."""
        while self.pending and not self.paused and not self.replaying and not self.closed:
            piece = self.pending.popleft()
            self.pending_bytes -= len(piece)
            self.hub.release(piece)
            self.request.write(piece)  # may pause this stream, at once

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
                self.hub.release(piece)
            self.pending.clear()
            self.pending_bytes = 0
            self.hub.remove(self)

    def pauseProducing(self) -> None:
        """The transport's buffer is full: keep what comes here until it drains."""
        self.paused = True

    def resumeProducing(self) -> None:
        """The transport drained: write what waits."""
        self.paused = False
        self.flush()

    def stopProducing(self) -> None:
        """The connection is gone."""
        self.close()
